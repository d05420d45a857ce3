"""The Publish panel other tabs reuse: artifact, repo name, private (on), overwrite (off); the push runs as a job.

Sign-in is checked on the server in the handler (also when it is called through the API): the token comes
from the visitor's OAuth login on a Space, or HF_TOKEN / the stored login locally, and is never a component value.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from lab import jobs
from lab.access import Caller
from lab.hub.jobs import push_result, submit_push
from lab.jobs import owners
from lab.scores import score_choices
from lab.ui import hub_strings
from lab.ui.common import caller_of, on_load, progress_bar_html, shows_errors


def artifact_choices(caller: Caller) -> list[tuple[str, str]]:
    """(label, folder name) of the artifacts this caller may publish: their own and the shared ones."""
    out = []
    for m in owners.visible_artifacts(caller):
        label = f"{m.get('name')} · {m.get('kind')}"
        if m.get("hub_repo"):
            label += f" · on the Hub as {m['hub_repo']}"
        out.append((label, Path(m["path"]).name))
    return out


def push(artifact: str, repo: str, private: bool, overwrite: bool, gate: str | None = None,
         request: gr.Request = None):
    """Queue the push of a lab artifact the caller may use, with the caller's own token; returns (job id,
    message). Refused unless signed in, and, with a gate task, unless the artifact scores at least its base."""
    jobs.check_allowed("hub.push")
    caller = caller_of(request)
    caller.require_signed_in("Publishing to the Hub")
    folder = owners.artifact_for(caller, artifact)
    job = submit_push(folder, repo, caller.hub_token(), private=bool(private), overwrite=bool(overwrite),
                      artifacts_only=True, gate_task=(gate or "").strip(), owner=caller.key)
    return job.id, f"Push job `{job.id}` started: {job.title}."


def push_status(caller: Caller, job_id: str) -> tuple[str, str, bool]:
    """Progress bar HTML, a status line, and whether to keep polling."""
    if not job_id:
        return progress_bar_html(0), "", False
    job = owners.job_for(caller, job_id)
    if job.state == "succeeded":
        url = push_result(job).get("url", "")
        return progress_bar_html(1.0, "done"), f"✅ Published: [{url}]({url})", False
    if job.final:
        return progress_bar_html(job.progress, job.state), f"❌ {job.state}: {job.error.splitlines()[0][:400]}" \
            if job.error else f"❌ {job.state}", False
    return progress_bar_html(job.progress, job.message), job.message, True


def build(api_name: str | None = "hub_push") -> dict:
    """Lay out and wire the panel. Tabs that embed it again may pass another api_name (or None: no API)."""
    gr.Markdown(hub_strings.PUBLISH_HELP)
    with gr.Row(equal_height=True):
        artifact = gr.Dropdown(label="Artifact", choices=[], allow_custom_value=True, scale=4)
        refresh = gr.Button("↻", scale=0, min_width=50)
    with gr.Row(equal_height=True):
        repo = gr.Textbox(label="Repo name", placeholder="my-model or my-org/my-model", scale=3,
                          info=hub_strings.REPO_INFO)
        private = gr.Checkbox(value=True, label="Private", scale=1)
        overwrite = gr.Checkbox(value=False, label="Overwrite an existing repo", scale=1)
    gate = gr.Dropdown([], value=None, allow_custom_value=True, label=hub_strings.GATE, info=hub_strings.GATE_INFO)
    go = gr.Button("Push to the Hub", variant="primary")
    job_id = gr.Textbox(label="Push job", interactive=False)
    bar = gr.HTML(progress_bar_html(0))
    status = gr.Markdown()
    timer = gr.Timer(1.0, active=False)

    def choices(request: gr.Request):
        tasks = list(dict.fromkeys(c.split(" · ")[0] for c in score_choices()))
        return gr.Dropdown(choices=artifact_choices(caller_of(request))), gr.Dropdown(choices=tasks)

    on_load(choices, None, [artifact, gate])
    refresh.click(choices, None, [artifact, gate], api_visibility="private")

    def start(a, r, p, o, g=None, request: gr.Request = None):
        jid, message = push(a, r, p, o, g, request)
        return jid, message, gr.Timer(active=True)

    visibility = {"api_name": api_name} if api_name else {"api_visibility": "private"}
    go.click(shows_errors(start), [artifact, repo, private, overwrite, gate], [job_id, status, timer], **visibility)

    def poll(jid, request: gr.Request):
        html, line, more = push_status(caller_of(request), jid)
        return html, line, gr.Timer(active=more)

    timer.tick(poll, job_id, [bar, status, timer], api_visibility="private", show_progress="hidden")
    return {"artifact": artifact, "repo": repo, "private": private, "overwrite": overwrite, "gate": gate, "push": go,
            "job_id": job_id, "status": status}
