"""What each caller may see and touch of the jobs and artifacts: their own, plus what the owner shared.

Every list, show, cancel, resume, delete, chat-load and publish goes through here. A job or artifact that is not the
caller's gets the same answer as one that does not exist, so a visitor cannot even learn that it is there.
"""
from __future__ import annotations

from pathlib import Path

from lab import uploads
from lab.access import NOT_ALLOWED, NOT_ALLOWED_FIX, Caller
from lab.artifacts import artifact_folder, list_artifacts, owner_of, set_shared
from lab.errors import LabError
from lab.jobs import store
from lab.settings import get_settings, upload_cache


def _no_job(job_id: str) -> LabError:
    return LabError(f"No job {str(job_id)[:80]!r}.", "Pick a job from the list.", "job")


def visible_jobs(caller: Caller, limit: int = 200) -> list[store.Job]:
    jobs = store.list_jobs(limit=limit if caller.is_owner else 5000)
    return [j for j in jobs if caller.may_see(j.owner, bool(j.shared))][:limit]


def job_for(caller: Caller, job_id: str) -> store.Job:
    """The job, when the caller may see it; the unknown-job error otherwise."""
    try:
        job = store.get_job(str(job_id or ""))
    except LabError:
        raise _no_job(job_id) from None
    if not caller.may_see(job.owner, bool(job.shared)):
        raise _no_job(job_id)
    return job


def job_to_act_on(caller: Caller, job_id: str, action: str) -> store.Job:
    """A job the caller may cancel or resume: their own (a shared job is for watching), any for the owner."""
    job = job_for(caller, job_id)
    if not caller.is_owner and job.owner != caller.key:
        raise LabError(f"{action} is for the job's owner: this job was shared with you to watch.",
                       "Start your own run (the recipe is in the job's record).", "job")
    return job


def job_to_follow(caller: Caller, kinds: tuple[str, ...], wanted: str = "") -> store.Job | None:
    """The job a panel for these kinds shows when a page loads: `wanted` (the page's ?job= link) when the caller
    may see it and it is of these kinds; else the caller's own queued or running job of these kinds, else their
    last one (the owner's: anyone's). A job the caller may not see is passed over exactly like a missing one."""
    if wanted:
        try:
            job = job_for(caller, wanted)
        except LabError:
            job = None
        if job is not None and job.kind in kinds:
            return job
    mine = store.latest_of(tuple(kinds), owner=None if caller.is_owner else caller.key)
    return next((j for j in mine if not j.final), mine[0] if mine else None)


def artifact_owner(folder: Path) -> tuple[str, bool]:
    """(owner key, shared) of an artifact folder; a folder still being made belongs to its job's owner."""
    owner, shared = owner_of(folder)
    if owner or shared or (Path(folder) / "lab.json").is_file():
        return owner, shared
    with store.connect() as con:
        row = con.execute("SELECT owner, shared FROM jobs WHERE artifact_dir=? ORDER BY created DESC LIMIT 1",
                          (str(folder),)).fetchone()
    return (row[0], bool(row[1])) if row else ("", False)


def visible_artifacts(caller: Caller) -> list[dict]:
    return [m for m in list_artifacts() if caller.may_see(str(m.get("owner") or ""), bool(m.get("shared")))]


def artifact_for(caller: Caller, ref, manifest: bool = True) -> Path:
    """An artifact the caller may use, by folder name (or path); the not-an-artifact error otherwise."""
    folder = artifact_folder(ref, manifest=manifest)
    if not caller.may_see(*artifact_owner(folder)):
        raise LabError("That is not an artifact of this lab.", "Pick an artifact from the list.", "artifact")
    return folder


def artifact_to_change(caller: Caller, ref, action: str) -> Path:
    """An artifact the caller may delete or publish: their own; any for the owner."""
    folder = artifact_for(caller, ref, manifest=False)
    owner, _ = artifact_owner(folder)
    if not caller.is_owner and owner != caller.key:
        raise LabError(f"{action} is for the artifact's owner: it was shared with you to use.",
                       "Make your own copy (train or merge from it), then act on that.", "artifact")
    return folder


def check_paths(caller: Caller, paths: list[Path], field: str = "model") -> None:
    """Local files and folders a visitor's reference reads, on a Space: their own or shared artifacts, the models
    folder (downloads, the bundled model), their own uploads and Gradio's upload cache (this request's files).
    Anything else gets the same refusal as something that does not exist."""
    if caller.is_owner:
        return
    s = get_settings()
    arts, models = s.artifacts.resolve(), s.models_root.resolve()
    for path in paths:
        real = Path(path).resolve()
        if arts in real.parents:
            if caller.may_see(*artifact_owner(arts / real.relative_to(arts).parts[0])):
                continue
        elif models in real.parents or upload_cache() in real.parents:
            continue
        elif uploads.is_upload(real) and caller.key in uploads.owners(real):
            continue
        raise LabError(NOT_ALLOWED, NOT_ALLOWED_FIX, field)


def share_job(caller: Caller, job_id: str, shared: bool) -> str:
    caller.require_owner("Sharing a job")
    job = job_for(caller, job_id)
    store.patch(job.id, shared=int(bool(shared)))
    return f"Job {job.id} is {'shared with every visitor' if shared else 'no longer shared'}."


def share_artifact(caller: Caller, ref, shared: bool) -> str:
    caller.require_owner("Sharing an artifact")
    folder = artifact_for(caller, ref)
    set_shared(folder, shared)
    return f"{folder.name} is {'shared with every visitor' if shared else 'no longer shared'}."
