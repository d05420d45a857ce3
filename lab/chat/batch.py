"""Batch compare: a list of prompts runs through every selected model into a side-by-side table (and a CSV)."""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Callable

from lab.chat.prompt import build_messages
from lab.chat.registry import Registry
from lab.chat.spec import ChatSpec
from lab.chat.stream import collect
from lab.errors import LabError
from lab.models.ref import parse
from lab.settings import check_space_path, get_settings

MAX_PROMPTS = 200


def _from_file(path: Path) -> list[str]:
    """A .txt (one prompt a line), .csv (a "prompt" column, else the first), .jsonl / .json (a "prompt" field)."""
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8", errors="replace")
    if suffix == ".csv":
        rows = list(csv.reader(text.splitlines()))
        if not rows:
            return []
        col = rows[0].index("prompt") if "prompt" in rows[0] else 0
        body = rows[1:] if "prompt" in rows[0] else rows
        return [r[col] for r in body if len(r) > col]
    if suffix in (".jsonl", ".json"):
        try:
            lines = [ln for ln in text.splitlines() if ln.strip()]
            items = json.loads(text) if suffix == ".json" else [json.loads(ln) for ln in lines]
        except json.JSONDecodeError as exc:
            raise LabError(f"{path.name} is not valid JSON ({exc.msg}, line {exc.lineno}).",
                           "Fix the file, or upload one prompt per line as .txt.", "prompts") from None
        return [i if isinstance(i, str) else str(i.get("prompt") or i.get("instruction") or "") for i in items]
    if suffix in (".txt", ".md", ""):
        return text.splitlines()
    raise LabError(f"{path.name}: prompts come as .txt, .csv, .json or .jsonl.", "Upload one of those.", "prompts")


def parse_prompts(text: str = "", file: str | Path | None = None) -> list[str]:
    """Prompts typed (one per line) and/or uploaded; blank lines dropped, order kept."""
    prompts = [ln.strip() for ln in (text or "").splitlines()]
    if file:
        prompts += [p.strip() for p in _from_file(check_space_path(Path(file), "prompts", uploads_only=True))]
    prompts = [p for p in prompts if p]
    if not prompts:
        raise LabError("No prompts given.", "Type prompts, one per line, or upload a file.", "prompts")
    if len(prompts) > MAX_PROMPTS:
        raise LabError(f"{len(prompts)} prompts is more than {MAX_PROMPTS}.", "Split the list into smaller batches.",
                       "prompts")
    return prompts


def column_names(models: list[str]) -> list[str]:
    """Distinct, readable column titles for the models (two picks of one model get #2, #3)."""
    names, out = {}, []
    for ref in models:
        try:
            label = parse(ref).label
        except LabError:
            label = ref
        names[label] = names.get(label, 0) + 1
        out.append(label if names[label] == 1 else f"{label} #{names[label]}")
    return out


def run_batch(spec: ChatSpec, prompts: list[str], registry: Registry | None = None, token=None,
              progress: Callable[[int, int], None] | None = None) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): one row per prompt, one reply column per model; all models answer each prompt together."""
    if not spec.models:
        raise LabError("No models picked.", "Pick at least one model.", "models")
    headers = ["prompt"] + column_names(spec.models)
    rows = []
    for i, prompt in enumerate(prompts):
        msgs = [build_messages(spec.system_prompt, [], prompt)] * len(spec.models)
        replies = collect(spec.models, msgs, spec, registry=registry, token=token)
        rows.append([prompt] + [r.text if not r.error else f"[error] {r.error}" for r in replies])
        if progress:
            progress(i + 1, len(prompts))
    return headers, rows


def write_csv(headers: list[str], rows: list[list[str]], path: Path | None = None) -> Path:
    """The table as CSV (UTF-8 with BOM so spreadsheets read accents), under LAB_HOME/chat by default."""
    if path is None:
        folder = get_settings().home / "chat"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"batch-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**6:06d}.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path
