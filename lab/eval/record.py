"""Scores leave the job: into each evaluated artifact's manifest (its lineage record) and card (`model-index`
metadata the Hub renders), and into the scores index in LAB_HOME (lab.scores) that the family tree colours nodes by
and the publish gate reads.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from lab.artifacts import MANIFEST, read_manifest
from lab.cards import write_card
from lab.eval.report import headline
from lab.models.ref import parse
from lab.scores import load_index, save_index


def artifact_folder(ref: str) -> Path | None:
    """The lab artifact a model reference is: the folder itself, or the adapter of BASE+ADAPTER."""
    try:
        mref = parse(ref)
    except Exception:
        return None
    folder = mref.adapter or Path(mref.base).expanduser()
    return folder.resolve() if (folder / MANIFEST).is_file() else None


def aliases(ref: str) -> list[str]:
    """The names a model goes by in family trees: its reference, folder, manifest name and Hub repo."""
    out = [ref]
    folder = artifact_folder(ref)
    if folder is not None:
        m = read_manifest(folder)
        out += [str(folder), m.get("name", ""), m.get("hub_repo", "")]
    return [a for a in dict.fromkeys(out) if a]


def entries(result: dict) -> list[tuple[dict, list[dict]]]:
    """(model row, its evaluation records) with the headline metric, stderr and the base's value."""
    models = [m for m in result.get("models", []) if not m.get("error")]
    base = result["models"][0] if result.get("models") else None
    out = []
    for m in models:
        recs = []
        for t in result.get("tasks", []):
            value, stderr = headline(result, m, t)
            if value is None:
                continue
            rec = {"task": t["name"], "metric": t["metric"], "value": value, "stderr": stderr,
                   "kind": t["kind"], "limit": result["settings"]["limit"], "date": time.strftime("%Y-%m-%d %H:%M"),
                   "results": result["out"]}
            if base is not None and base is not m and not base.get("error"):
                rec["base"] = {"model": base["model"], "value": headline(result, base, t)[0]}
            recs.append(rec)
        out.append((m, recs))
    return out


def _merge(old: list[dict], new: list[dict]) -> list[dict]:
    keep = {(r["task"], r["metric"]): r for r in old}
    keep.update({(r["task"], r["metric"]): r for r in new})
    return list(keep.values())


def record(result: dict) -> list[str]:
    """Write the scores into the evaluated artifacts and the index; returns the artifacts updated."""
    updated = []
    index = load_index()
    for model, recs in entries(result):
        for rec in recs:
            index.append({"aliases": aliases(model["model"]), "hash": model["hash"], **rec})
        folder = artifact_folder(model["model"])
        if folder is None or not recs:
            continue
        manifest = read_manifest(folder)
        manifest["evaluations"] = _merge(manifest.get("evaluations", []), recs)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        write_card(folder, manifest.get("hub_repo", ""))
        updated.append(str(folder))
    save_index(index)
    return updated
