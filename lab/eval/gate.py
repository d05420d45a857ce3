"""The regression gate on publish: push only if the artifact's score on a task is at least its base's.

The numbers come from the artifact's own evaluations (lab.json, written by every eval job that scored it);
the base's score is the one measured next to it in the same job. A push that fails the gate is refused with
both numbers, before anything reaches the Hub.
"""
from __future__ import annotations

from pathlib import Path

from lab.artifacts import read_manifest
from lab.errors import LabError


def _base_value(manifest: dict, ev: dict) -> tuple[str, float | None]:
    base = ev.get("base") or {}
    if base.get("value") is not None:
        return base.get("model", "the base"), float(base["value"])
    from lab.eval.record import score_map

    scores = score_map(f"{ev['task']} · {ev['metric']}")
    for parent in manifest.get("parents", []):
        if parent.get("kind") in ("model", "adapter", "merge"):
            for name in (parent.get("ref"), parent.get("path")):
                if name in scores:
                    return name, scores[name]
    return "the base", None


def check(folder, task: str) -> str:
    """'passed' message, or a LabError naming the task, the two scores and the fix."""
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
