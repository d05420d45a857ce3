"""What a caller may have the Data tab do, and how much of it: decided before any work.

- A source file is an upload the caller made, or an artifact they may use (lab.jobs.owners.check_paths); an upload is
  named `upload:HASH/NAME`, never by its place on the server.
- Every model field of a step (semantic dedup, clusters, the length step's tokenizer, the reward model, a local judge)
  goes through lab.models.usable.model_for: on the public demo an anonymous visitor uses the bundled model and embedder
  only. The judge's endpoint and key go through lab.data.judge_policy.
- On the public demo a data run reads at most DEMO_MAX_ROWS rows (a Hub dataset needs Max rows set that low).
- A visitor has one CPU-heavy Data request (load, run, explore) at a time: a second one is told to wait.
"""
from __future__ import annotations

import contextlib
import threading

from lab.access import Caller
from lab.data.embed import EMBED_HUB_ID
from lab.data.judge_policy import check_judge
from lab.data.load import data_path
from lab.data.recipe import EMBED_MODEL, FilterRecipe, Source
from lab.errors import LabError
from lab.jobs.owners import check_paths
from lab.models.usable import model_for
from lab.settings import get_settings

DEMO_MAX_ROWS = 2000  # rows one data run reads on the public demo
_BUSY: dict[str, str] = {}  # visitor key -> what they are running now
_LOCK = threading.Lock()


def demo_rows_note() -> str:
    return (f"On this public demo a data run reads at most {DEMO_MAX_ROWS:,} rows and runs in this page only "
            "(no background jobs); models other than the bundled ones need you signed in.")


def _too_many(rows: int | None, field: str) -> LabError:
    got = f"{rows:,} rows" if rows is not None else "every row"
    return LabError(f"This public demo reads at most {DEMO_MAX_ROWS:,} rows in a data run, not {got}.",
                    f"Load a smaller file, or set Max rows to {DEMO_MAX_ROWS:,} or less (or duplicate the Space to "
                    "run it on your own hardware).", field)


def check_rows(rows: int, field: str = "sources") -> None:
    """On the demo, refuse a table above the row cap."""
    if get_settings().demo and rows > DEMO_MAX_ROWS:
        raise _too_many(rows, field)


def check_sources(sources: list[Source], caller: Caller) -> None:
    """Each source is the caller's to read; on the demo a Hub dataset says how few rows it reads."""
    demo = get_settings().demo
    for i, source in enumerate(sources):
        field = f"sources.{i}"
        if source.path:
            check_paths(caller, [data_path(source.path, f"{field}.path")], f"{field}.path")
        elif demo and (source.limit is None or source.limit > DEMO_MAX_ROWS):
            raise _too_many(source.limit, f"{field}.limit")


def check_embedder(caller: Caller, name: str, field: str) -> None:
    """A sentence-transformers model field: the bundled embedder, or a model reference this caller may use."""
    if (name or "").strip() in (EMBED_MODEL, EMBED_HUB_ID):
        return
    model_for(caller, name, field)


def check_steps(steps: list, caller: Caller) -> None:
    for step in steps:
        if not step.enabled:
            continue
        if step.type in ("semantic_dedup", "clusters"):
            check_embedder(caller, step.model, f"{step.type}.model")
        elif step.type == "length":
            model_for(caller, step.tokenizer, "length.tokenizer")
        elif step.type == "reward":
            model_for(caller, step.model, "reward.model")
        elif step.type == "judge":
            check_judge(step, caller)


def check_recipe(recipe: FilterRecipe, caller: Caller) -> None:
    """Everything in a recipe that this caller may not have the lab do, refused before any work."""
    check_sources(recipe.sources, caller)
    check_steps(recipe.steps, caller)


@contextlib.contextmanager
def busy(caller: Caller, what: str):
    """One CPU-heavy Data request per visitor at a time (the owner is not limited): a second one is refused with
    what is still running, so one visitor cannot fill the app's workers while others wait."""
    if caller.is_owner:
        yield
        return
    with _LOCK:
        running = _BUSY.get(caller.key)
        if running:
            raise LabError(f"Wait for your running {running} to finish.",
                           "It is still working; try again when it is done.", "busy")
        _BUSY[caller.key] = what
    try:
        yield
    finally:
        with _LOCK:
            _BUSY.pop(caller.key, None)
