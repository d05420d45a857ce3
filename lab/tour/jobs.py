"""The tour as a job on the server: a driver job runs the stages in order (lab.tour.core), and the SFT and merge
stages run as their own jobs, which the driver starts and waits for. The page and the CLI only follow the driver,
so closing the page does not stop the later stages.

The driver appends every TourEvent to events.jsonl in its folder; follow() reads them back. A new stage is one
more entry in core.STAGES and its method on Tour: the chain here does not change.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict
from typing import Iterator

from lab.errors import LabError
from lab.jobs import Job, get_job, list_jobs, register_kind, submit as submit_job
from lab.settings import get_settings
from lab.tour.core import Tour, TourEvent, TourRecipe, check_allowed

KIND = "tour"
EVENTS = "events.jsonl"
# light: it only drives; its SFT and merge stages are heavy jobs of their own, which a heavy driver would block
register_kind(KIND, "lab.tour.jobs:run", heavy=False, label="The tour")


def running(owner: str = "") -> Job | None:
    """`owner`'s tour job that is queued or running, if any (a page opened again follows it instead of a new one)."""
    return next((j for j in list_jobs(50, ("queued", "running")) if j.kind == KIND and j.owner == owner), None)


def submit(recipe: TourRecipe | None = None, owner: str | None = None) -> Job:
    check_allowed()
    recipe = recipe or TourRecipe()
    tour_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]
    folder = get_settings().home / "tour" / tour_id
    return submit_job(KIND, {"id": tour_id, "tour": recipe.model_dump()}, title="The tour", artifact_dir=folder,
                      owner=owner)


def run(ctx) -> None:
    """The driver job's runner: every stage in order, each event recorded; a failed stage fails the job."""
    tour = Tour(TourRecipe.parse(ctx.recipe.get("tour") or {}), tour_id=ctx.recipe.get("id"))
    last = None
    with open(ctx.folder / EVENTS, "a") as out:
        for ev in tour.run():
            out.write(json.dumps(asdict(ev), default=str) + "\n")
            out.flush()
            ctx.progress(ev.progress, f"{ev.stage}: {ev.message}"[:500], force=ev.state != "running")
            last = ev
    if last is None or not last.data.get("ok"):
        raise LabError(last.message if last else "The tour did not start.", "See the tour's stages above.", "tour")


def follow(job_id: str, poll_s: float = 1.0) -> Iterator[TourEvent]:
    """The tour's events as they come, from the first one, until its last; stopping early stops nothing."""
    seen = 0
    while True:
        job = get_job(job_id)
        events = _read(job)
        for ev in events[seen:]:
            yield ev
            if ev.stage == "tour":
                return
        seen = len(events)
        if job.final:
            reason = job.error.splitlines()[0] if job.error else job.state
            yield TourEvent("tour", "failed", f"The tour's job {job.state}: {reason}", data={"ok": False})
            return
        time.sleep(poll_s)


def _read(job: Job) -> list[TourEvent]:
    path = job.folder / EVENTS
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(TourEvent(**json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            break  # a line still being written
    return out
