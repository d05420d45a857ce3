"""Load a training dataset through the Data tab's code and shape it for the trainers.

Sources: a Data-tab artifact folder (data.parquet + lab.json), a data file, or a Hub dataset; lab.data detects
the format and normalizes rows to TRL's standard forms. The trainers then get:
  sft:        {"messages": [...], "n_context": k}  (assistant turns at index >= k are trained)
  text:       {"text": str}                         (plain language modelling, for files with only `text`)
  preference: {"prompt": [...], "chosen": [...], "rejected": [...]}
"""
from __future__ import annotations

from pathlib import Path

from lab.artifacts import parent_entry
from lab.data import formats
from lab.data import load as data_load
from lab.data.export import DATA_FILE
from lab.data.formats import NeedsMapping
from lab.data.recipe import Source
from lab.errors import LabError
from lab.repo_id import is_repo_id

KIND_OF_FORM = {"messages": "sft", "prompt_completion": "sft", "preference": "preference", "text": "text"}


def dataset_path(ref: str, field: str = "dataset") -> Path | None:
    """The local file or folder a dataset reference names (an artifact by name, `upload:HASH/NAME`, a path; on a
    Space only inside the lab's folders), or None for a Hub id."""
    ref = (ref or "").strip()
    if not ref:
        raise LabError("No dataset chosen.", "Pick a Data-tab artifact, upload a file or give a Hub id.", field)
    if is_repo_id(ref) and not _exists(ref):
        return None
    return data_load.data_path(ref, field)


def _exists(ref: str) -> bool:
    try:
        return Path(ref).expanduser().exists()
    except (OSError, ValueError):
        return False


def source_for(ref: str, split: str = "train", max_rows: int | None = None):
    """A lab.data Source for a dataset reference (artifact, upload, file or Hub id)."""
    path = dataset_path(ref)
    if path is None:
        return Source(hub=ref.strip(), split=split, limit=max_rows)
    if path.is_dir():
        data = path / DATA_FILE
        if not data.is_file():
            found = sorted(p for s in ("*.parquet", "*.jsonl", "*.json") for p in path.glob(s) if p.name != "lab.json")
            if not found:
                raise LabError(f"The folder {path.name} holds no {DATA_FILE} (nor another data file).",
                               "Pick a dataset artifact made by the Data tab, or a data file.", "dataset")
            data = found[0]
        return Source(path=str(data), limit=max_rows)
    if path.is_file():
        return Source(path=str(path), limit=max_rows)
    raise LabError(f"No dataset at {ref.strip()[:200]!r}.", "Give a Data-tab artifact, a data file or a Hub id.",
                   "dataset")


def _shape(row: dict, form: str) -> dict:
    if form == "preference":
        return {"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"]}
    if form == "prompt_completion":
        return {"messages": row["prompt"] + row["completion"], "n_context": len(row["prompt"])}
    if form == "text":
        return {"text": str(row["text"])}
    return {"messages": row["messages"], "n_context": 0}


def load_rows(ref: str, split: str = "train", max_rows: int | None = None,
              token: str | None = None) -> tuple[list[dict], str]:
    """(rows in one of the shapes above, form) where form is messages | prompt_completion | preference | text."""
    source = source_for(ref, split, max_rows)
    raw = data_load.raw_rows(source, token)
    try:
        loaded = data_load.normalize_source(source, raw)
        rows, form = loaded.rows, loaded.form
    except NeedsMapping:
        if not raw or "text" not in raw[0]:
            raise
        rows, form = raw, "text"  # plain text: language modelling on every token
    if not rows:
        raise LabError(f"The dataset {ref} has no rows.", "Pick a dataset with rows.", "dataset")
    return [_shape(r, form) for r in rows], form


def raw_rows(ref: str, split: str = "train", max_rows: int | None = None, token: str | None = None) -> list[dict]:
    """The dataset's rows as stored (for methods that shape them themselves: GRPO's prompts, KTO's labels)."""
    rows = data_load.raw_rows(source_for(ref, split, max_rows), token)
    if not rows:
        raise LabError(f"The dataset {ref} has no rows.", "Pick a dataset with rows.", "dataset")
    return rows


def columns_of(raw: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for r in raw[:100] for k in r))


def normalized_rows(raw: list[dict]):
    """(form, converted rows) through the Data tab's formats, or (None, None) when none fits."""
    try:
        name = formats.detect(columns_of(raw), raw[:5])
    except LabError:
        return None, None
    fmt = formats.get_format(name)
    return fmt.form, formats.convert_rows(raw, fmt, {}, "dataset")


def load_dataset(ref: str, split: str = "train", max_rows: int | None = None, token: str | None = None):
    """(datasets.Dataset, kind) where kind is 'sft' | 'text' | 'preference'."""
    import datasets  # heavy: datasets imports pyarrow and pandas

    rows, form = load_rows(ref, split, max_rows, token)
    return datasets.Dataset.from_list(rows), KIND_OF_FORM[form]


def dataset_lineage(ref: str) -> dict:
    """The dataset as a parent entry (with its own lineage when it is a lab artifact)."""
    return parent_entry(ref, "dataset")
