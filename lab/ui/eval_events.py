"""The Evaluate tab's events: estimate, start/poll/cancel the job, and show a run's leaderboard, chart and samples."""
from __future__ import annotations

import gradio as gr

from lab.eval import board, report
from lab.eval.flow import summary
from lab.ui import eval_strings as S
from lab.ui.common import on_load, on_show, progress_bar_html, require_user, shows_errors, token_from, user_token

PRIVATE = {"api_visibility": "private"}


def _form(c: dict) -> list:
    return [c["models"], c["files"], c["hub"], c["kind"], c["regex"], c["open"], c["names"], c["limit"],
            c["fewshot"], c["chat"], c["batch"], *[c["judge"][k] for k in sorted(c["judge"])]]


def _recipe(c: dict, values: tuple):
    judge_keys = sorted(c["judge"])
    fixed, judge = values[:11], dict(zip(judge_keys, values[11:]))
    return board.recipe_from_form(*fixed, judge=judge)


def _describe_tasks(plan) -> str:
    lines = [f"- **{t.name}** from `{t.source}`: {t.kind.replace('_', ' ')}, {len(t.rows)} items, metric `{t.metric}`"
             for t in plan.custom]
    lines += [f"- **{n}** (lm-eval)" for n in plan.open]
    return "\n".join(lines)


def render(out: str, task: str | None = None, worse: bool = False) -> list:
    """Leaderboard, chart, notes, sample-task picker, samples, downloads and commands for a results folder."""
    result = report.load(out) if out else {}
    if not result:
        return [gr.update()] * 8 + [S.NO_RESULTS]
    headers, rows = report.leaderboard(result)
    names = report.sample_tasks(out)
    task = task if task in names else (names[0] if names else None)
    s_headers, s_rows = report.samples(out, result, task, worse) if task else ([], [])
    zipped, results = board.downloads(out)
    commands = "\n".join(m["lm_eval_command"] for m in result["models"] if m.get("lm_eval_command"))
    notes = "\n".join(f"- {line}" for line in summary(result)["lines"])
    return [gr.Dataframe(value=rows, headers=headers), report.chart(result), notes,
            gr.Dropdown(choices=names, value=task), gr.Dataframe(value=s_rows, headers=s_headers), zipped,
            results, commands, summary(result)["message"]]


def wire(c: dict) -> None:
    from lab.chat.entry import model_choices

    shown = [c["board"], c["chart"], c["notes"], c["sample_task"], c["samples"], c["bundle"], c["results_file"],
             c["commands"], c["status"]]

    def refresh():
        usable, why = board.open_benchmarks()
        note = "" if usable else f"⚠️ {why} They are listed but cannot run here."
        return (gr.Dropdown(choices=model_choices()), gr.Dropdown(interactive=usable), gr.Textbox(interactive=usable),
                note, gr.Dropdown(choices=board.past_runs()))

    targets = [c["models"], c["open"], c["names"], c["open_note"], c["past"]]
    on_load(refresh, None, targets)
    on_show(refresh, targets)

    @shows_errors
    def estimate(*values, oauth_token: gr.OAuthToken | None = None):
        from lab.eval.plan import estimate_recipe, make

        recipe = _recipe(c, values)
        token = token_from(oauth_token)
        return _describe_tasks(make(recipe, token)) + "\n\n**Estimate:** " + estimate_recipe(recipe, token)["text"]

    c["estimate"].click(estimate, _form(c), c["report"], **PRIVATE)

    @shows_errors
    def run(*values, oauth_token: gr.OAuthToken | None = None):
        from lab import eval as lab_eval

        token = user_token(oauth_token, "Starting an evaluation")
        job = lab_eval.submit(_recipe(c, values), token=token)
        return job.id, f"Job `{job.id}` started (also in the Jobs tab).", gr.Timer(active=True)

    c["run"].click(run, _form(c), [c["job_id"], c["status"], c["timer"]], **PRIVATE)

    def tick(job_id):
        if not job_id:
            return [gr.update(), gr.update(), gr.Timer(active=False), ""] + [gr.update()] * len(shown)
        s = board.status(job_id)
        line = f"**{s['state']}** · {s['message']}" + (f"\n\n**Error:** {s['error'][:800]}" if s["error"] else "")
        rendered = render(s["out"]) if s["out"] else [gr.update()] * len(shown)
        if s["out"]:
            rendered[-1] = line
        return [progress_bar_html(s["progress"], s["message"]), line, gr.Timer(active=not s["final"]), s["out"],
                *rendered]

    c["timer"].tick(tick, c["job_id"], [c["progress"], c["status"], c["timer"], c["out"], *shown], **PRIVATE,
                    show_progress="hidden")

    @shows_errors
    def cancel(job_id, oauth_token: gr.OAuthToken | None = None):
        from lab import jobs

        require_user(oauth_token, "Cancelling an evaluation")
        return jobs.cancel(job_id) if job_id else "No evaluation is running."

    c["cancel"].click(cancel, c["job_id"], c["status"], **PRIVATE)
    c["show"].click(lambda out: [out, *render(out)], c["past"], [c["out"], *shown], **PRIVATE)

    def samples(out, task, worse):
        result = report.load(out) if out else {}
        if not result or not task:
            return gr.update()
        headers, rows = report.samples(out, result, task, worse)
        return gr.Dataframe(value=rows, headers=headers)

    for event in (c["sample_task"].input, c["worse"].input):
        event(samples, [c["out"], c["sample_task"], c["worse"]], c["samples"], **PRIVATE)
