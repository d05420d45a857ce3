"""Download buttons: an artifact the caller may use, taken away as files (lab.takeaway): a GGUF export's .gguf
files, an adapter (or any other artifact) as a zip. The Artifacts tab, the Train tab's result and the Export panel
each place one; the caller is checked on the server (lab.jobs.owners), so another visitor's artifact gets the same
answer as one that does not exist."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from lab.access import Caller
from lab.errors import LabError
from lab.export.worker import result_of
from lab.jobs import owners
from lab.settings import get_settings
from lab.takeaway import take_away
from lab.ui.common import caller_of, shows_errors

NOTHING = LabError("There is nothing to download yet.", "Pick an artifact (or wait for the run to finish), then "
                   "press Download.", "artifact")


def artifact_files(caller: Caller, ref: str) -> list[str]:
    """The files to download for the artifact `ref` (its folder name), when the caller may use it."""
    if not (ref or "").strip():
        raise NOTHING
    folder = owners.artifact_for(caller, ref.strip())
    return [str(p) for p in take_away(folder, get_settings().on_space)]


def export_files(caller: Caller, job_id: str) -> list[str]:
    """The GGUF files an export job (one the caller may see) made."""
    if not (job_id or "").strip():
        raise NOTHING
    job = owners.job_for(caller, job_id.strip())
    out = result_of(job).get("out", "") if job.state == "succeeded" else ""
    if not out:
        raise NOTHING
    return artifact_files(caller, Path(out).name)


def place(label: str, elem_id: str) -> tuple[gr.Button, gr.File]:
    """A Download button and the file box its files show in (hidden until there is something to take)."""
    button = gr.Button(label, elem_id=elem_id, size="sm")
    files = gr.File(label="Files to download", file_count="multiple", interactive=False, visible=False,
                    elem_id=f"{elem_id}-files")
    return button, files


def wire(button: gr.Button, source, files: gr.File, from_job: bool = False, api_name: str | None = None) -> None:
    """Pressing `button` fills `files` from `source`: an artifact's folder name (or, from_job, an export job id)."""
    find = export_files if from_job else artifact_files

    @shows_errors
    def download(ref, request: gr.Request):
        return find(caller_of(request), ref)

    visibility = {"api_name": api_name} if api_name else {"api_visibility": "private"}
    button.click(download, source, files, **visibility).success(
        lambda: gr.File(visible=True), None, files, api_visibility="private", queue=False)
