"""The Jobs tab: every background job with state, progress, ETA, a live log tail, cancel and resume."""
from __future__ import annotations

import time

import gradio as gr

from lab import jobs
from lab.jobs.store import Job
from lab.ui import strings
from lab.ui.common import on_load, progress_bar_html, require_user, shows_errors, token_from
from lab.ui_text import duration, log_tail

COLUMNS = ["id", "title", "kind", "state", "progress", "ETA", "started"]


def _row(j: Job) -> list:
    started = time.strftime("%H:%M:%S", time.localtime(j.started)) if j.started else "–"
    return [j.id, j.title, j.kind, j.state, f"{j.progress * 100:.0f}%", duration(j.eta_s()), started]


def list_rows() -> list[list]:
    jobs.pump()
    return [_row(j) for j in jobs.list_jobs(limit=100)]


def job_details(job_id: str | None) -> dict:
    """What the UI shows for one job (also the `job_show` API)."""
    if not job_id:
        return {}
    j = jobs.get_job(job_id)
    return {**j.to_dict(), "recipe": j.recipe, "log_tail": log_tail(j.log_path, 60)}


def _summary(d: dict) -> str:
    if not d:
        return strings.NO_JOBS
    lines = [f"**{d['title']}** · `{d['id']}` · **{d['state']}** · ETA {duration(d['eta_s'])}"]
    if d.get("message"):
        lines.append(d["message"])
    if d.get("error"):
        lines.append(f"**Error:** {d['error'].splitlines()[0][:500]}")
    return "\n\n".join(lines)


@shows_errors
def cancel(job_id, oauth_token: gr.OAuthToken | None = None):
    require_user(oauth_token, "Cancelling a job")  # also through the API, on a Space
    return jobs.cancel(job_id) if job_id else "Pick a job first."


@shows_errors
def resume(job_id, oauth_token: gr.OAuthToken | None = None):
    require_user(oauth_token, "Resuming a job")
    if not job_id:
        return "Pick a job first."
    job = jobs.get_job(job_id)
    token = token_from(oauth_token) if job.needs_token else None
    return f"Job {jobs.resume(job_id, token=token).id} queued to resume."


def build() -> None:
    gr.Markdown(strings.JOBS_HELP)
    table = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, label="Jobs", wrap=True)
    with gr.Row():
        pick = gr.Dropdown(label="Job", choices=[], allow_custom_value=True, scale=3)
        cancel_btn = gr.Button("Cancel", variant="stop", scale=1)
        resume_btn = gr.Button("Resume", scale=1)
    notice = gr.Markdown()
    summary = gr.Markdown(strings.NO_JOBS)
    bar = gr.HTML(progress_bar_html(0))
    log = gr.Code(label="Log (live)", language=None, lines=14, interactive=False)
    timer = gr.Timer(2.0)

    @shows_errors
    def refresh(selected):
        rows = list_rows()
        ids = [r[0] for r in rows]
        selected = selected if selected in ids else (ids[0] if ids else None)
        d = job_details(selected)
        return (rows, gr.Dropdown(choices=ids, value=selected), _summary(d),
                progress_bar_html(d.get("progress", 0), d.get("state", "")), d.get("log_tail", ""))

    outs = [table, pick, summary, bar, log]
    timer.tick(refresh, pick, outs, api_visibility="private", show_progress="hidden")
    pick.change(refresh, pick, outs, api_visibility="private", show_progress="hidden")
    on_load(refresh, pick, outs)

    def select(evt: gr.SelectData):
        return evt.row_value[0] if evt.row_value else None

    table.select(select, None, pick, api_visibility="private")

    cancel_btn.click(cancel, pick, notice, api_name="job_cancel")
    resume_btn.click(resume, pick, notice, api_name="job_resume")
    # Read-only endpoints for clients (and tests): the list and one job.
    hidden = gr.JSON(visible=False)
    gr.Button(visible=False).click(lambda: [j.to_dict() for j in jobs.list_jobs()], None, hidden,
                                   api_name="jobs_list")
    gr.Button(visible=False).click(shows_errors(job_details), pick, hidden, api_name="job_show")
