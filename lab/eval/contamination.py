"""Contamination: how many eval items appear in the training data of a model's lineage.

An item counts when one of its 13-word sequences occurs in a training row (as in the GPT-3 paper's check);
an item shorter than 13 words counts when it occurs whole. Text is lowercased and punctuation dropped first.
Training datasets come from the manifests: every dataset parent of the model, its adapter, and their parents.
"""
from __future__ import annotations

import re
from pathlib import Path

from lab.artifacts import read_manifest
from lab.data.load import load_rows
from lab.errors import LabError
from lab.models.ref import parse, parse_for

N = 13
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(str(text).lower())


def _walk(manifest: dict, seen: set, out: list[dict], depth: int = 8) -> None:
    for parent in manifest.get("parents", []):
        path = parent.get("path") or ""
        if parent.get("kind") in ("dataset", "votes"):
            out.append({"ref": parent.get("ref", ""), "path": path})
        elif path and path not in seen and depth > 0:
            seen.add(path)
            _walk(read_manifest(Path(path)), seen, out, depth - 1)


def training_datasets(folders: list[Path]) -> list[dict]:
    """Dataset parents ({ref, path}) anywhere in the lineage of these model or adapter folders."""
    out: list[dict] = []
    seen: set = set()
    for folder in folders:
        if folder and (Path(folder) / "lab.json").is_file():
            _walk(read_manifest(Path(folder)), seen, out)
    unique = {(d["path"] or d["ref"]): d for d in out}
    return list(unique.values())


def _row_text(row) -> str:
    if isinstance(row, dict):
        return " ".join(_row_text(v) for v in row.values())
    if isinstance(row, (list, tuple)):
        return " ".join(_row_text(v) for v in row)
    return str(row) if row is not None else ""


class Corpus:
    """The 13-grams of a set of training rows, and the rows' text for short items."""

    def __init__(self, texts: list[str]):
        self.grams: set[int] = set()
        joined = []
        for text in texts:
            w = words(text)
            joined.append(" ".join(w))
            self.grams.update(hash(tuple(w[i:i + N])) for i in range(len(w) - N + 1))
        self.text = "\n" + "\n".join(f" {t} " for t in joined) + "\n"

    def contains(self, item: str) -> bool:
        w = words(item)
        if not w:
            return False
        if len(w) < N:
            return f" {' '.join(w)} " in self.text
        return any(hash(tuple(w[i:i + N])) in self.grams for i in range(len(w) - N + 1))


def load_texts(dataset: dict, token: str | None = None, log=print) -> list[str]:
    """Every row of a training dataset as one text (a local artifact or file; a Hub dataset when online)."""
    ref = dataset["path"] or dataset["ref"]
    try:
        rows, _ = load_rows(ref, token=token)
    except LabError as exc:
        log(f"contamination: {dataset['ref']} could not be read ({exc.what}); it is not checked.")
        return []
    return [_row_text(r) for r in rows]


def check(items: dict[str, list[str]], folders: list[Path], token: str | None = None, log=print,
          local_only: bool = False) -> dict:
    """{task: {"items", "found", "examples", "datasets"}} for these models' training data (local_only: only the
    datasets on this disk, none fetched)."""
    datasets = [d for d in training_datasets(folders) if not local_only or (d["path"] and Path(d["path"]).exists())]
    if not datasets:
        return {}
    texts = []
    for d in datasets:
        texts += load_texts(d, token, log)
    corpus = Corpus(texts)
    out = {}
    for task, task_items in items.items():
        hits = [t for t in task_items if corpus.contains(t)]
        out[task] = {"items": len(task_items), "found": len(hits), "examples": hits[:5],
                     "datasets": [d["ref"] for d in datasets]}
    return out


def describe(result: dict) -> list[str]:
    """'3 of 200 items of T appear in the training data' lines."""
    return [f"{r['found']} of {r['items']} items of {task} appear in the training data "
            f"({', '.join(Path(d).name for d in r['datasets'])})" for task, r in result.items()]


def at_check(plan, token: str | None = None, caller=None, log=lambda m: None) -> list[str]:
    """What the run's contamination check will report, said at Check: each model's custom-task items found in the
    training data of its lineage (read from the local manifests; nothing is downloaded)."""
    recipe = plan.recipe
    if not recipe.contamination:
        return ["The contamination check is off for this run."]
    items = {t.name: t.texts()[:recipe.limit] for t in plan.custom}
    lines = []
    for ref in recipe.models if items else []:
        mref = parse_for(caller, ref) if caller is not None else parse(ref)
        found = check(items, mref.folders, token, log, local_only=True)
        lines += [f"{mref.label}: {line}" for line in describe(found)] or \
            [f"{mref.label}: no training data in its lineage to check against."]
    if plan.open:
        lines.append(f"{', '.join(plan.open)}: checked after the run, once their items are read.")
    return lines
