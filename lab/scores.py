"""The scores the lab has measured, and the publish gate that reads them.

Every evaluation appends its scores to an index in LAB_HOME (eval/scores.json, written by lab.eval.record), under
every name the model goes by; the family tree colours its nodes by them. The gate on publish pushes an artifact
only if its score on a task is at least its base's: the artifact's own evaluations (lab.json) give its score and
the base's measured next to it in the same job, or else the index gives the base's. A push that fails the gate is
refused with both numbers, before anything reaches the Hub.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from lab.artifacts import read_manifest
from lab.errors import LabError
from lab.lineage import family_edges, family_tree_svg
from lab.settings import get_settings


def _index_path() -> Path:
    return get_settings().home / "eval" / "scores.json"


def load_index() -> list[dict]:
    path = _index_path()
    try:
        return json.loads(path.read_text()) if path.is_file() else []
    except json.JSONDecodeError:
        return []


def save_index(index: list[dict]) -> None:
    """Write the index (its last 5,000 records), atomically."""
    path = _index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(index[-5000:], indent=1, default=str))
    os.replace(tmp, path)


def score_choices() -> list[str]:
    """'task · metric' pairs any model has a score on (the family tree's colour-by choices)."""
    return sorted({f"{r['task']} · {r['metric']}" for r in load_index()})


def score_map(choice: str) -> dict[str, float]:
    """Latest value of 'task · metric' for every alias of every model scored on it."""
    task, _, metric = choice.partition(" · ")
    out: dict[str, float] = {}
    for r in load_index():
        if r["task"] == task and r["metric"] == metric:
            for a in r["aliases"]:
                out[a] = r["value"]
    return out


def scored_tree(manifest: dict, name: str, choice: str = "") -> str:
    """The family tree SVG, its nodes coloured by the chosen 'task · metric' score (none: plain)."""
    edges = family_edges(manifest, name)
    return family_tree_svg(edges, score_map(choice) if choice else None, choice)


def _base_value(manifest: dict, ev: dict) -> tuple[str, float | None]:
    base = ev.get("base") or {}
    if base.get("value") is not None:
        return base.get("model", "the base"), float(base["value"])
    scores = score_map(f"{ev['task']} · {ev['metric']}")
    for parent in manifest.get("parents", []):
        if parent.get("kind") in ("model", "adapter", "merge"):
            for name in (parent.get("ref"), parent.get("path")):
                if name in scores:
                    return name, scores[name]
    return "the base", None


def check_gate(folder, task: str) -> str:
    """The publish gate: a 'passed' message, or a LabError naming the task, the two scores and the fix."""
    task = (task or "").strip()
    manifest = read_manifest(Path(folder))
    name = manifest.get("name") or Path(folder).name
    found = [e for e in manifest.get("evaluations", []) if e.get("task") == task]
    if not found:
        raise LabError(f"The gate blocked the push: {name} has no score on {task!r}.",
                       f"Evaluate it against its base on {task} first (Evaluate tab, or `python -m lab eval "
                       f"--model BASE --model {folder} --task {task}`), or turn the gate off.", "gate")
    ev = found[-1]
    base, base_value = _base_value(manifest, ev)
    if base_value is None:
        raise LabError(f"The gate blocked the push: {name} scores {ev['value']:.4f} {ev['metric']} on {task}, but "
                       "there is no score of its base to compare with.",
                       f"Evaluate the base and {name} together on {task} (the base first).", "gate")
    if ev["value"] < base_value:
        raise LabError(f"The gate blocked the push: {name} scores {ev['value']:.4f} {ev['metric']} on {task}, "
                       f"below its base {base} ({base_value:.4f}).",
                       "Improve the model (or pick another task), or turn the gate off to push anyway.", "gate")
    return f"Gate passed: {ev['metric']} on {task} is {ev['value']:.4f}, at least the base's {base_value:.4f}."
