"""Save a run: a dataset artifact in LAB_HOME (data.parquet + recipe.yaml + lab.json + card with the funnel and
the sources), review files (removed rows with reasons, duplicate groups), and a JSON Lines download.

Review files live in `.review/`, which publishing skips; only data.parquet is the dataset.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from lab.artifacts import MANIFEST, finalize, new_folder, parent_entry
from lab.data.load import DATA_FILE
from lab.data.pipeline import RunResult
from lab.data.recipe import FilterRecipe, Source
from lab.errors import LabError

REVIEW_DIR = ".review"
SAMPLES_PER_REASON = 20


def review(result: RunResult, samples: int = SAMPLES_PER_REASON, groups: int = 50) -> dict:
    """What the Review panel shows: the report, removed samples per reason, duplicate groups."""
    report = result.report()
    return {"report": report,
            "samples": {reason: result.removed_samples(reason, samples) for reason in report["removed"]},
            "groups": result.duplicate_groups(groups)}


def load_review(folder) -> dict:
    path = Path(folder) / REVIEW_DIR / "review.json"
    if not path.is_file():
        raise LabError(f"{folder} has no review of its run.", "Pick a dataset the Data tab or a data job made.",
                       "artifact")
    return json.loads(path.read_text())


def write_parquet(result: RunResult, path: Path) -> Path:
    import pyarrow as pa  # heavy: pyarrow
    import pyarrow.parquet as pq  # heavy: pyarrow

    pq.write_table(pa.Table.from_pylist(result.records()), path)
    return path


def write_jsonl(records: list[dict], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def _write_review(result: RunResult, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "review.json").write_text(json.dumps(review(result), ensure_ascii=False, default=str))
    write_jsonl([{**r, "record": result.table.record(r["row"])} for r in result.removed], folder / "removed.jsonl")


def _parent(source: Source) -> dict:
    if source.hub:
        return parent_entry(source.hub, "dataset")
    folder = Path(source.path).expanduser().parent
    if (folder / MANIFEST).is_file():  # a file of an earlier lab artifact: extend its lineage
        return parent_entry(str(folder), "dataset")
    return {"ref": source.label, "kind": "dataset", "license": "", "lineage": []}


def card_summary(result: RunResult) -> str:
    rep = result.report()
    lines = [f"Filtered with the lab's data pipeline: **{rep['rows_in']} rows in, {rep['rows_out']} out**, "
             f"in the `{rep['form']}` form (TRL's standard format).", "", "## Sources", "",
             "| source | format | rows |", "|---|---|---|"]
    lines += [f"| {s['source']} | {s['format']} | {s['rows']} |" for s in rep["sources"]]
    lines += ["", "## Funnel", "", "| step | rows in | rows out | removed | note |", "|---|---|---|---|---|"]
    lines += [f"| {s['step']}{'' if s['enabled'] else ' (off)'} | {s['rows_in']} | {s['rows_out']} | {s['removed']} "
              f"| {s['note']} |" for s in rep["funnel"]]
    lines += [f"\n> ⚠️ {s['step']}: {s['warning']}" for s in rep["funnel"] if s["warning"]]
    if rep["removed"]:
        lines += ["", "Removed, by reason: " + ", ".join(f"{k}: {v}" for k, v in rep["removed"].items()) + "."]
    return "\n".join(lines)


def save(result: RunResult, recipe: FilterRecipe, folder: Path, owner: str | None = None) -> Path:
    """Write the dataset, its review and its manifest/card into folder (which may be a job's folder). `owner`: the
    lab.access key of who made it (default: the job's owner, LAB_OWNER)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_parquet(result, folder / DATA_FILE)
    _write_review(result, folder / REVIEW_DIR)
    rep = result.report()
    metrics = {"rows_in": rep["rows_in"], "rows_out": rep["rows_out"],
               **{s["step"]: f"{s['rows_in']} → {s['rows_out']}" for s in rep["funnel"] if s["enabled"]}}
    finalize(folder, "dataset", [_parent(s) for s in recipe.sources], recipe=recipe, metrics=metrics,
             step="data filter", tags=[rep["form"], "lab-data"],
             extra={"summary": card_summary(result), "form": rep["form"], "rows": rep["rows_out"]}, owner=owner)
    return folder


def export(result: RunResult, recipe: FilterRecipe, name: str = "", owner: str | None = None) -> Path:
    """A new dataset artifact in LAB_HOME (an existing one is never reused), marked as `owner`'s."""
    return save(result, recipe, new_folder("dataset", name or recipe.name), owner)


def check_output(out, force: bool = False) -> Path:
    """The CLI's --out, refused when it exists, unless --force and it is an earlier output of the lab."""
    out = Path(out).expanduser()
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        if not force:
            raise LabError(f"{out} already exists; the lab never overwrites output silently.",
                           "Choose another --out, or pass --force to replace it.", "out")
        if out.is_dir() and not (out / MANIFEST).is_file():  # --force replaces only an earlier output
            raise LabError(f"{out} is a folder the lab did not write.", "Choose another --out.", "out")
    return out


def write_output(result: RunResult, recipe: FilterRecipe, out, force: bool = False) -> Path:
    """The CLI's --out: a .jsonl or .parquet file, or a folder laid out like an artifact."""
    out = check_output(out, force)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".jsonl":
        return write_jsonl(result.records(), out)
    if out.suffix == ".parquet":
        return write_parquet(result, out)
    return save(result, recipe, out)


def jsonl_download(folder, dest_dir) -> Path:
    """The artifact's rows as JSON Lines in dest_dir (for a browser download)."""
    import pyarrow.parquet as pq  # heavy: pyarrow

    folder = Path(folder)
    if not (folder / DATA_FILE).is_file():
        raise LabError(f"{folder} holds no {DATA_FILE}.", "Export the dataset first.", "artifact")
    rows = pq.read_table(folder / DATA_FILE).to_pylist()
    return write_jsonl(rows, Path(dest_dir) / f"{folder.name}.jsonl")
