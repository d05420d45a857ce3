"""The Jobs tab: the caller's background jobs (the owner sees all, a visitor their own and what the owner shared)
with state, progress, ETA, a live log tail, cancel, resume and, for the owner, sharing."""
from __future__ import annotations

import time

import gradio as gr

from lab import jobs
from lab.access import Caller, owner_label
from lab.jobs import owners
from lab.jobs.store import Job
from lab.shown import scrub, scrub_value
from lab.ui import bus, follow, strings
from lab.ui.common import caller_of, cancel_job, on_load, progress_bar_html, shows_errors
from lab.ui_text import duration, log_tail

COLUMNS = ["id", "title", "kind", "state", "progress", "ETA", "started", "owner"]


def _row(j: Job) -> list:
    started = time.strftime("%H:%M:%S", time.localtime(j.started)) if j.started else "–"
    who = owner_label(j.owner) + (" · shared" if j.shared else "")
    return [j.id, j.title, j.kind, j.state, f"{j.progress * 100:.0f}%", duration(j.eta_s()), started, who]


def list_rows(caller: Caller) -> list[list]:
    jobs.pump()
    return [_row(j) for j in owners.visible_jobs(caller, limit=100)]


def job_record(j: Job) -> dict:
    """A job as a visitor may see it: on a Space with no server path (its folder by name, its text scrubbed), and
    its owner by name ("an anonymous visitor" rather than a session key)."""
    d = {**j.to_dict(), "owner": owner_label(j.owner), "artifact_dir": j.folder.name}
    return scrub_value(d)


def job_details(caller: Caller, job_id: str | None) -> dict:
    """What the UI shows for one job (also the `job_show` API): only a job the caller may see."""
    if not job_id:
        return {}
    j = owners.job_for(caller, job_id)
    return {**job_record(j), "recipe": scrub(j.recipe), "log_tail": scrub(log_tail(j.log_path, 60))}


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
def cancel(job_id, request: gr.Request):
    """Cancel a job the caller started (the owner: any job); also through the API."""
    return cancel_job(request, job_id, "Cancelling a job", "Pick a job first.", "Cancelling")


@shows_errors
def resume(job_id, request: gr.Request):
    caller = caller_of(request)
    caller.require_signed_in("Resuming a job")
    if not job_id:
        return "Pick a job first."
    job = owners.job_to_act_on(caller, job_id, "Resuming")
    token = caller.hub_token() if job.needs_token else None
    return f"Job {jobs.resume(job.id, token=token).id} queued to resume."


@shows_errors
def share(job_id, shared, request: gr.Request):
    """The owner shares a job with every visitor of the Space (to watch), or stops sharing it."""
    if not job_id:
        return "Pick a job first."
    return owners.share_job(caller_of(request), job_id, bool(shared))


@shows_errors
def open_job(job_id, request: gr.Request):
    """Open a job in the panel of its kind (Train, Evaluate, …): its live view, curves included."""
    if not job_id:
        return gr.skip(), gr.skip(), "Pick a job first."
    return follow.open_in_panel(job_id, request)


def build() -> None:
    gr.Markdown(strings.JOBS_HELP)
    table = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, label="Jobs", wrap=True)
    with gr.Row():
        pick = gr.Dropdown(label="Job", choices=[], allow_custom_value=True, scale=3)
        cancel_btn = gr.Button("Cancel", variant="stop", scale=1)
        resume_btn = gr.Button("Resume", scale=1)
        open_btn = gr.Button("Open in its tab", scale=1)
        shared = gr.Checkbox(False, label="Shared with every visitor (owner only)", scale=1)
    notice = gr.Markdown()
    summary = gr.Markdown(strings.NO_JOBS)
    bar = gr.HTML(progress_bar_html(0))
    log = gr.Code(label="Log (live)", language=None, lines=14, interactive=False)
    timer = gr.Timer(2.0)

    @shows_errors
    def refresh(selected, request: gr.Request):
        caller = caller_of(request)
        rows = list_rows(caller)
        ids = [r[0] for r in rows]
        selected = selected if selected in ids else (ids[0] if ids else None)
        d = job_details(caller, selected)
        return (rows, gr.Dropdown(choices=ids, value=selected), _summary(d),
                progress_bar_html(d.get("progress", 0), d.get("state", "")), d.get("log_tail", ""),
                gr.Checkbox(value=bool(d.get("shared")), interactive=caller.is_owner))

    outs = [table, pick, summary, bar, log, shared]
    timer.tick(refresh, pick, outs, api_visibility="private", show_progress="hidden")
    pick.change(refresh, pick, outs, api_visibility="private", show_progress="hidden")
    on_load(refresh, pick, outs)

    def select(evt: gr.SelectData):
        return evt.row_value[0] if evt.row_value else None

    table.select(select, None, pick, api_visibility="private")

    cancel_btn.click(cancel, pick, notice, api_name="job_cancel")
    resume_btn.click(resume, pick, notice, api_name="job_resume")
    shared.input(share, [pick, shared], notice, api_name="job_share")
    if bus.BUS.follow is not None and bus.BUS.tabs is not None:  # the job's own panel: its live view and curves
        opened = open_btn.click(open_job, pick, [bus.BUS.follow, bus.BUS.tabs, notice], api_visibility="private")
        follow.mark_url(opened, pick)
    else:
        open_btn.visible = False
    # Read-only endpoints for clients (and tests): the caller's jobs, and one of them.
    hidden = gr.JSON(visible=False)

    def listed(request: gr.Request):
        return [job_record(j) for j in owners.visible_jobs(caller_of(request))]

    def shown(job_id, request: gr.Request):
        return job_details(caller_of(request), job_id)

    gr.Button(visible=False).click(listed, None, hidden, api_name="jobs_list")
    gr.Button(visible=False).click(shows_errors(shown), pick, hidden, api_name="job_show")
