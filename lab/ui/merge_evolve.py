"""The Merge tab's "Evolve" accordion: an evolve config (YAML), Check, Start, and the job's live plot (best and mean
fitness per generation) beside the current best recipe. A reload or a ?job= link to an evolve job opens it here again,
the config and output name as the job had them (lab.ui.follow). The logic lives in lab.merge.evolve_job."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from lab.errors import LabError
from lab.jobs.manager import check_allowed
from lab.merge import evolve_job
from lab.merge.evolve_recipe import EvolveRecipe
from lab.shown import scrub
from lab.ui import charts, follow
from lab.ui.common import cancel_job, caller_of, notes_errors, progress_bar_html, shows_errors

PRIVATE = {"api_visibility": "private"}
HELP = ("Search a merge's weights (and densities) with CMA-ES against an Evaluate task: each candidate is merged, "
        "scored and cached by content. Generation 0 holds each parent alone, so the best is at least as fit as the "
        "better parent; the held-out tasks show overfitting. Fields: " + ", ".join(EvolveRecipe.model_fields) + ".")


def build() -> None:
    with gr.Accordion("Evolve (search the merge's parameters)", open=False, elem_id="evolve-accordion") as accordion:
        gr.Markdown(HELP)
        c = {"config": gr.Code(evolve_job.EXAMPLE, language="yaml", label="Evolve config", lines=14,
                               interactive=True, elem_id="evolve-config")}
        with gr.Row():
            c["name"] = gr.Textbox(label="Output name", info="A new folder under the lab's artifacts.")
            c["check"] = gr.Button("Check")
            c["start"] = gr.Button("Evolve", variant="primary")
            c["cancel"] = gr.Button("Cancel", variant="stop")
        c["note"] = gr.Markdown(elem_id="evolve-note")
        c["progress"] = gr.HTML()
        c["job_id"] = gr.Textbox(label="Evolve job", elem_id="evolve-job")
        with gr.Row():
            c["plot"] = gr.LinePlot(None, x="generation", y="fitness", color="series", label="Fitness per generation",
                                    elem_id="evolve-plot")
            c["best"] = gr.Code(language="yaml", label="Current best recipe", lines=12, interactive=False)
        c["timer"] = gr.Timer(2.0, active=False)
    _wire(c)
    follow.attach("evolve", c["job_id"], c["timer"], reveal=accordion,
                  form=([c["config"], c["name"]], evolve_job.form_of))


def _frame(rows: list[dict]) -> pd.DataFrame:
    data = [{"generation": r["step"], "fitness": r[k], "series": k} for r in rows for k in ("best", "mean")]
    return charts.whole_steps(pd.DataFrame(data, columns=["generation", "fitness", "series"]), "generation")


def _wire(c: dict) -> None:
    @notes_errors(1)  # a refusal (preflight, budget) stays in the note beside the button until the next action
    def check_config(text, request: gr.Request):
        caller = caller_of(request)
        recipe, plan = evolve_job.check_for(text, caller, caller.hub_token())
        return (f"✅ Ready: {recipe.dimension} parameter(s), about {plan['seconds_per_candidate']} s per candidate, "
                f"about {plan['estimate_s']} s for {recipe.candidates} candidates.")

    c["check"].click(check_config, c["config"], c["note"], **PRIVATE)

    @shows_errors
    def start(text, name, request: gr.Request):
        check_allowed("merge.evolve")  # off on the demo: before any other work
        caller = caller_of(request)
        caller.require_signed_in("Starting an evolve job")
        job, plan = evolve_job.start(text, name, token=caller.hub_token(), caller=caller)
        return job.id, f"Job `{job.id}` started (about {plan['estimate_s']} s).", gr.Timer(active=True)

    follow.mark_url(c["start"].click(start, [c["config"], c["name"]], [c["job_id"], c["note"], c["timer"]], **PRIVATE),
                    c["job_id"])

    def tick(job_id, request: gr.Request):
        try:
            s = evolve_job.status(job_id, caller_of(request)) if job_id else None
        except LabError:  # not a job of this caller's: the same answer as no job
            s = None
        if s is None:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.Timer(active=False)
        text = f"**{s['state']}** · {s['message']}" + (f"\n\n**Error:** {s['error'][:800]}" if s["error"] else "")
        if s["out"]:
            text += f"\n\nThe best merge is the artifact `{s['out']}`. {s['summary']}"
        # an empty frame is never sent: Gradio 6 would not draw a color-split plot's lines started from one
        plot = _frame(s["generations"]) if s["generations"] else gr.update()
        return (progress_bar_html(s["progress"], s["message"]), scrub(text), plot,
                s["best_recipe"] or gr.update(), gr.Timer(active=not s["final"]))

    c["timer"].tick(tick, c["job_id"], [c["progress"], c["note"], c["plot"], c["best"], c["timer"]], **PRIVATE)

    @shows_errors
    def cancel(job_id, request: gr.Request):
        return cancel_job(request, job_id, "Cancelling an evolve job", "No evolve job is running.")

    c["cancel"].click(cancel, c["job_id"], c["note"], **PRIVATE)
