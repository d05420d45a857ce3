"""The Merge tab's "Extract a LoRA" accordion: a full model and its base, a rank or a share of spectral energy, an
optional Evaluate task; Check (the refusals and the layers compared) and Extract (the `extract.lora` job, its bar
moving per tensor, then the relative error and the scores of the adapter on its base against the full model).
The logic lives in lab.extract.job."""
from __future__ import annotations

import gradio as gr

from lab.errors import LabError
from lab.extract import job as extract_job
from lab.extract.recipe import ExtractRecipe
from lab.jobs.manager import check_allowed
from lab.merge import editor
from lab.shown import scrub, scrub_value
from lab.ui import bus, follow
from lab.ui.common import cancel_job, caller_of, on_load, on_show, progress_bar_html, shows_errors

PRIVATE = {"api_visibility": "private"}
HELP = ("Turn a full fine-tune or a merge into a LoRA adapter against its base: the SVD of each linear layer's "
        "weight difference, kept at a rank or at a share of its spectral energy. The adapter is a new artifact "
        "with both parents in its lineage. Give a task to score the adapter on its base against the full model.")


def _info(name: str) -> str:
    return ExtractRecipe.model_fields[name].description or ""


def build() -> None:
    with gr.Accordion("Extract a LoRA", open=False) as accordion:
        gr.Markdown(HELP)
        c = {"accordion": accordion}
        with gr.Row():
            c["model"] = gr.Dropdown([], label="Full model", allow_custom_value=True, info=_info("model"),
                                     elem_id="extract-model")
            c["base"] = gr.Dropdown([], label="Its base", allow_custom_value=True, info=_info("base"),
                                    elem_id="extract-base")
        with gr.Row():
            c["by"] = gr.Radio(["rank", "energy"], value="rank", label="Keep", info="A fixed rank for every layer, "
                               "or per layer the share of the difference's spectral energy.")
            c["rank"] = gr.Number(16, precision=0, minimum=1, label="Rank", info=_info("rank"))
            c["energy"] = gr.Number(0.9, minimum=0.01, maximum=1.0, label="Energy", info=_info("energy"))
        with gr.Row():
            c["task"] = gr.Textbox(label="Evaluate task (optional)", info=_info("eval_task"))
            c["limit"] = gr.Number(None, precision=0, label="Items", info=_info("eval_limit"))
            c["name"] = gr.Textbox(label="Adapter name", info=_info("name"))
        with gr.Row():
            c["check"] = gr.Button("Check")
            c["start"] = gr.Button("Extract", variant="primary")
            c["cancel"] = gr.Button("Cancel", variant="stop")
            c["chat"] = gr.Button("Try it in Chat", interactive=False)
        c["note"] = gr.Markdown(elem_id="extract-note")
        c["progress"] = gr.HTML()
        c["job_id"] = gr.Textbox(label="Extract job", elem_id="extract-job")
        c["result"] = gr.Markdown(elem_id="extract-result")
        c["out"] = gr.State("")
        c["timer"] = gr.Timer(2.0, active=False)
    _wire(c)


def _values(model, base, by, rank, energy, task, limit, name) -> dict:
    """The form as a recipe: a fixed rank, or a share of each layer's spectral energy."""
    return {"model": (model or "").strip(), "base": (base or "").strip(),
            "rank": int(rank) if by == "rank" and rank else None,
            "energy": float(energy) if by == "energy" and energy else None,
            "eval_task": (task or "").strip(), "eval_limit": int(limit) if limit else None,
            "name": (name or "").strip()}


def _choices(request: gr.Request):
    """Full models this caller may use (their own and shared artifacts, Hub models on this machine)."""
    full = [(label, ref) for label, ref in editor.local_choices(caller_of(request)) if "+" not in ref]
    return gr.update(choices=full), gr.update(choices=full)


def _wire(c: dict) -> None:
    form = [c[k] for k in ("model", "base", "by", "rank", "energy", "task", "limit", "name")]

    @shows_errors
    def check(request: gr.Request, *args):  # gr.Request first: Gradio injects it by position
        check_allowed(extract_job.KIND)  # off on the demo: before any other work
        caller = caller_of(request)
        caller.require_signed_in("Extracting a LoRA")
        p = extract_job.check_for(_values(*args), caller)
        task = f" Then scored on {p['task']}" + (f" (first {p['limit']} items)" if p["limit"] else "") + "." \
            if p["task"] else ""
        return scrub(f"✅ Ready: {p['layers']} linear layers to decompose at {p['size']} ({p['other']} other "
                     f"tensors compared), into the new adapter `{p['name']}`.{task}")

    c["check"].click(check, form, c["note"], **PRIVATE)

    @shows_errors
    def start(request: gr.Request, *args):
        check_allowed(extract_job.KIND)  # off on the demo: before any other work
        caller = caller_of(request)
        caller.require_signed_in("Extracting a LoRA")
        job = extract_job.start(_values(*args), caller)
        return job.id, f"Job `{job.id}` started (also in the Jobs tab).", gr.Timer(active=True), "", \
            gr.update(interactive=False)

    follow.mark_url(c["start"].click(start, form, [c["job_id"], c["note"], c["timer"], c["result"], c["chat"]],
                                     **PRIVATE), c["job_id"])
    follow.attach("extract", c["job_id"], c["timer"], reveal=c["accordion"])

    @shows_errors
    def tick(job_id, request: gr.Request):
        caller = caller_of(request)
        try:
            s = extract_job.status(job_id, caller) if job_id else None
        except LabError:  # not a job of this caller's: the same answer as no job
            s = None
        if s is None:
            return gr.update(), gr.update(), gr.update(), gr.Timer(active=False), gr.update(), gr.update()
        note = f"**{s['state']}** · {s['message']}" + (f"\n\n**Error:** {s['error'][:800]}" if s["error"] else "")
        result = extract_job.describe(s["result"])
        if s["out"]:
            result += f"\n\nThe adapter is the artifact **`{s['out']}`** (Artifacts tab; Chat, Merge and Publish " \
                      "list it)."
        return (progress_bar_html(s["progress"], s["message"]), scrub(note), scrub(result),
                gr.Timer(active=not s["final"]), scrub_value(s["out"]), gr.update(interactive=bool(s["out"])))

    c["timer"].tick(tick, c["job_id"], [c["progress"], c["note"], c["result"], c["timer"], c["out"], c["chat"]],
                    **PRIVATE)

    @shows_errors
    def cancel(job_id, request: gr.Request):
        return cancel_job(request, job_id, "Cancelling an extract job", "No extract job is running.")

    c["cancel"].click(cancel, c["job_id"], c["note"], **PRIVATE)
    _wire_chat(c)
    on_load(_choices, None, [c["model"], c["base"]])
    on_show(_choices, [c["model"], c["base"]])


def _wire_chat(c: dict) -> None:
    """Try it in Chat: the adapter (on its base) goes to the Chat tab through the app's request bus."""
    targets = [t for t in (bus.BUS.chat, bus.BUS.tabs) if t is not None]

    @shows_errors
    def try_chat(out):
        if not out:
            return [gr.skip()] * len(targets) + [gr.skip()]
        updates = [bus.stamp(out)] if bus.BUS.chat is not None else []
        if bus.BUS.tabs is not None:
            updates.append(bus.goto("chat"))
        return [*updates, "" if bus.BUS.chat is not None else f"Open the Chat tab and pick `{out}`."]

    c["chat"].click(try_chat, c["out"], [*targets, c["note"]], **PRIVATE)
