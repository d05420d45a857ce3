"""The Evaluate tab's events: estimate, start/poll/cancel the job, and show a run's leaderboard, chart and samples.

Every handler asks who calls (caller_of): models (and a local judge) are checked for that caller before anything is
read or fetched, the Hub is called with their own token, a job is refused on the demo first and is theirs, and a
past run opens only when it is theirs or shared (by its name on a Space, never a server path)."""
from __future__ import annotations

import gradio as gr

from lab.errors import LabError
from lab.eval import board, contamination, extract, plan as eval_plan, report
from lab.eval.access import check_for, past_runs, run_folder
from lab.eval.flow import summary
from lab.eval.plan import estimate_recipe
from lab.jobs.manager import check_allowed
from lab.models.usable import model_choices
from lab.shown import scrub, scrub_value
from lab.ui import eval_strings as S, follow, recipe_loader
from lab.ui.common import caller_of, cancel_job, notes_errors, on_load, on_show, progress_bar_html, shows_errors

PRIVATE = {"api_visibility": "private"}


def _form(c: dict) -> list:
    return [c["models"], c["files"], c["hub"], c["kind"], c["regex"], c["extract"], c["open"], c["names"],
            c["limit"], c["fewshot"], c["chat"], c["batch"], *[c["judge"][k] for k in sorted(c["judge"])]]


def _recipe(c: dict, values: tuple, caller):
    judge_keys = sorted(c["judge"])
    fixed, judge = values[:12], dict(zip(judge_keys, values[12:]))
    return board.recipe_from_form(*fixed, judge=judge, owner=caller.key)


def _form_of(job, judge_keys: list[str]) -> list:
    """The form as an evaluation job's recipe set it (a page that comes back to the job shows it), then a note of
    what the form cannot hold: a task file is uploaded again, as the form never names a file of the server."""
    values = recipe_loader.eval_values(job.recipe)
    note = f"The form shows the recipe of job `{job.id}`." + (
        f" Not in the form: {'; '.join(values['left_out'])}." if values["left_out"] else "")
    return [*(values[k] for k in recipe_loader.EVAL_KEYS), *(values["judge"][k] for k in judge_keys), note]


def _describe_tasks(plan) -> str:
    lines = [f"- **{t.name}** from `{t.source}`: {t.kind.replace('_', ' ')}, {len(t.rows)} items, metric `{t.metric}`"
             for t in plan.custom]
    lines += [f"- **{n}** (lm-eval)" for n in plan.open]
    return "\n".join(lines)


def _samples(out, result: dict, task: str | None, worse: bool) -> list:
    """The sample table, hidden with a sentence in its place when it has no rows (an empty filter says so)."""
    headers, rows = report.samples(out, result, task, worse) if task else ([], [])
    note = report.samples_note(rows, task, worse)
    return [gr.Dataframe(value=rows, headers=headers, visible=not note), note]


def render(out, task: str | None = None, worse: bool = False) -> list:
    """Leaderboard, chart, notes, sample-task picker, samples (and their note), downloads and commands for a results
    folder (one the caller may open: see lab.eval.access.run_folder)."""
    result = report.load(out) if out else {}
    if not result:
        return [gr.update()] * 9 + [S.NO_RESULTS]
    headers, rows = report.leaderboard(result)
    names = report.sample_tasks(out)
    task = task if task in names else (names[0] if names else None)
    zipped, results = board.downloads(out)
    commands = "\n".join(m["lm_eval_command"] for m in result["models"] if m.get("lm_eval_command"))
    notes = "\n".join(f"- {line}" for line in summary(result)["lines"])
    return [gr.Dataframe(value=scrub_value(rows), headers=headers), report.chart(result), scrub(notes),
            gr.Dropdown(choices=names, value=task), *_samples(out, result, task, worse), zipped,
            results, scrub(commands), scrub(summary(result)["message"])]


def _opened(caller, name):
    """The folder of a past run the caller may open, or None (the same for another's run and no run)."""
    try:
        return run_folder(caller, name) if name else None
    except LabError:
        return None


def wire(c: dict) -> None:
    shown = [c["board"], c["chart"], c["notes"], c["sample_task"], c["samples"], c["samples_note"], c["bundle"],
             c["results_file"], c["commands"], c["status"]]

    def refresh(request: gr.Request):
        caller = caller_of(request)
        usable, why = board.open_benchmarks()
        note = "" if usable else f"⚠️ {why} They are listed but cannot run here."
        return (gr.Dropdown(choices=model_choices(caller)), gr.Dropdown(interactive=usable),
                gr.Textbox(interactive=usable), note, gr.Dropdown(choices=past_runs(caller)))

    targets = [c["models"], c["open"], c["names"], c["open_note"], c["past"]]
    on_load(refresh, None, targets)
    on_show(refresh, targets)

    @notes_errors(1)  # a mistake stays in the Check's report, beside the button, until the next action
    def estimate(request: gr.Request, *values):  # gr.Request first: Gradio injects it by position

        caller = caller_of(request)
        recipe = _recipe(c, values, caller)
        check_for(caller, recipe)  # every model for this caller, before any config is read or fetched
        token = caller.hub_token()
        made = eval_plan.make(recipe, token, caller)
        text = _describe_tasks(made) + "\n\n**Estimate:** " + estimate_recipe(recipe, token, caller)["text"]
        found = contamination.at_check(made, token, caller)
        text += "\n\n**Contamination:**\n" + "\n".join(f"- {line}" for line in found) if found else ""
        return scrub(text)

    c["estimate"].click(estimate, _form(c), c["report"], **PRIVATE)

    @notes_errors(3, at=1)
    def run(request: gr.Request, *values):
        check_allowed("eval")  # off on the demo: before any other work
        caller = caller_of(request)
        caller.require_signed_in("Starting an evaluation")
        *form, key = values
        job = board.start(caller, _recipe(c, tuple(form), caller), judge_key=key or "")
        return job.id, f"Job `{job.id}` started (also in the Jobs tab).", gr.Timer(active=True)

    follow.mark_url(c["run"].click(run, [*_form(c), c["judge_key"]], [c["job_id"], c["status"], c["timer"]],
                                   **PRIVATE), c["job_id"])
    refilled = [*(c[k] for k in recipe_loader.EVAL_KEYS), *(c["judge"][k] for k in sorted(c["judge"])), c["report"]]
    follow.attach("eval", c["job_id"], c["timer"], form=(refilled, lambda job: _form_of(job, sorted(c["judge"]))))

    def tick(job_id, request: gr.Request):
        caller = caller_of(request)
        try:
            s = board.status(job_id, caller) if job_id else None
        except LabError:  # not this caller's job: the same as no job
            s = None
        if s is None:
            return [gr.update(), gr.update(), gr.Timer(active=False), ""] + [gr.update()] * len(shown)
        line = f"**{s['state']}** · {s['message']}" + (f"\n\n**Error:** {s['error'][:800]}" if s["error"] else "")
        folder = _opened(caller, s["out"])
        rendered = render(folder) if folder else [gr.update()] * len(shown)
        if folder:
            rendered[-1] = line
        return [progress_bar_html(s["progress"], s["message"]), line, gr.Timer(active=not s["final"]), s["out"],
                *rendered]

    c["timer"].tick(tick, c["job_id"], [c["progress"], c["status"], c["timer"], c["out"], *shown], **PRIVATE,
                    show_progress="hidden")

    @shows_errors
    def cancel(job_id, request: gr.Request):
        return cancel_job(request, job_id, "Cancelling an evaluation", "No evaluation is running.")

    c["cancel"].click(cancel, c["job_id"], c["status"], **PRIVATE)

    def show(name, request: gr.Request):
        folder = _opened(caller_of(request), name)
        return [name if folder else "", *render(folder)]

    c["show"].click(show, c["past"], [c["out"], *shown], **PRIVATE)

    def samples(name, task, worse, request: gr.Request):
        out = _opened(caller_of(request), name)
        result = report.load(out) if out else {}
        if not result or not task:
            return gr.update(), gr.update()
        return _samples(out, result, task, worse)

    for event in (c["sample_task"].input, c["worse"].input):
        event(samples, [c["out"], c["sample_task"], c["worse"]], [c["samples"], c["samples_note"]], **PRIVATE)

    @notes_errors(2, at=0)
    def preview_extractions(request: gr.Request, *values):
        caller = caller_of(request)
        recipe = _recipe(c, values, caller)
        check_for(caller, recipe)  # the base model for this caller, before anything loads
        out = extract.preview(recipe, eval_plan.make(recipe, caller.hub_token(), caller), caller.hub_token())
        return scrub(extract.describe(out)), gr.Dataframe(value=scrub_value(out["rows"]), headers=out["headers"],
                                                          visible=True)

    c["extract_go"].click(preview_extractions, _form(c), [c["extract_note"], c["extract_table"]], **PRIVATE)
