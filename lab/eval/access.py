"""What a caller may evaluate and look at: the models of a run (and its local judge) checked for them, the key
variable of an endpoint judge named by the owner only, and the past runs they may open (by name on a Space).

An evaluation's results folder (LAB_HOME/evals/NAME) belongs to the job that wrote it (lab.jobs.owners).
"""
from __future__ import annotations

import json
from pathlib import Path

from lab.access import Caller
from lab.errors import LabError
from lab.eval.recipe import EvalRecipe
from lab.jobs.owners import artifact_owner, check_paths
from lab.models.usable import artifact_value, model_for
from lab.settings import check_space_path, get_settings

KEY_ENV_REFUSED = "only the Space's owner may name an environment variable; type your key in the API key field"


def check_models(caller: Caller, recipe: EvalRecipe) -> None:
    """Every model the run loads, checked for the caller before anything is read or fetched: the models, a local
    judge and the pairwise reference model."""
    for ref in recipe.models:
        model_for(caller, ref, "models")
    judge = recipe.judge
    if judge.backend == "local" and judge.model:
        model_for(caller, judge.model, "judge.model")
    if judge.reference_model:
        model_for(caller, judge.reference_model, "judge.reference_model")


def check_judge_key(caller: Caller, recipe: EvalRecipe) -> None:
    """An environment variable of the server is the owner's to name; a visitor types their key instead."""
    if recipe.judge.api_key_env and not caller.is_owner:
        raise LabError(KEY_ENV_REFUSED[0].upper() + KEY_ENV_REFUSED[1:] + ".",
                       "Leave api_key_env empty and type the key in the API key field (kept for this session only).",
                       "judge.api_key_env")


def _path_like(text: str) -> bool:
    try:
        exists = Path(text).expanduser().exists()
    except (OSError, ValueError):
        exists = False
    return exists or text.startswith(("/", "~", ".", "file:")) or "\\" in text or \
        Path(text).suffix.lower() in (".jsonl", ".json", ".csv", ".parquet", ".tsv")


def check_task_files(caller: Caller, recipe: EvalRecipe) -> None:
    """On a Space, a task file a visitor names is one of their own uploads (the form stores each one as theirs);
    a file of the server, another's upload and a missing file get one refusal, before anything is read."""
    if caller.is_owner or not get_settings().on_space:
        return
    named = [(t.strip(), "tasks") for t in recipe.tasks if _path_like(t.strip())]
    named += [(c.path, "files") for c in recipe.custom if c.path]
    for text, field in named:
        try:
            real = check_space_path(text, field, uploads_only=True)
            check_paths(caller, [real], field)
        except LabError:
            raise LabError("That is not a task file you uploaded.", "Upload the file with the task files box.",
                           field) from None


def check_for(caller: Caller, recipe: EvalRecipe) -> None:
    """Everything about a run that is not this caller's to ask, refused before any work."""
    check_judge_key(caller, recipe)
    check_task_files(caller, recipe)
    check_models(caller, recipe)


def _root() -> Path:
    return get_settings().home / "evals"


def may_open(caller: Caller, folder: Path) -> bool:
    """Whether the run in `folder` is the caller's (their job's) or shared; the owner opens every run."""
    return caller.may_see(*artifact_owner(Path(folder)))


def run_folder(caller: Caller, name) -> Path:
    """A finished run's folder by the name the tab gave it (its folder name on a Space, its path off one), when the
    caller may open it; the same error for a run that is not theirs and one that does not exist."""
    text = str(name or "").strip()
    root = _root().resolve()
    path = Path(text).expanduser()
    folder = path if path.is_absolute() and not get_settings().on_space else root / path.name
    try:
        folder = folder.resolve()
    except (OSError, RuntimeError, ValueError):
        folder = None
    if (not text or folder is None or folder.parent != root or not (folder / "results.json").is_file()
            or not may_open(caller, folder)):
        raise LabError("No such evaluation.", "Pick a past run from the list.", "run")
    return folder


def past_runs(caller: Caller, limit: int = 50) -> list[tuple[str, str]]:
    """(label, name) of the finished evaluations this caller may open, newest first."""
    root = _root()
    runs = sorted(root.glob("*/results.json"), key=lambda p: p.stat().st_mtime, reverse=True) if root.is_dir() else []
    out = []
    for path in runs:
        if len(out) >= limit:
            break
        if not may_open(caller, path.parent):
            continue
        try:
            r = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        label = f"{path.parent.name}: {len(r.get('models', []))} model(s) on " + \
            ", ".join(t["name"] for t in r.get("tasks", []))[:80]
        out.append((label, artifact_value(caller, path.parent)))
    return out
