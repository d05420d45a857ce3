"""Load a training dataset through the Data tab's code and shape it for the trainers.

Sources: a Data-tab artifact folder (data.parquet + lab.json), a data file, or a Hub dataset; lab.data.load detects
the format and normalizes rows to TRL's standard forms (load_rows). The trainers then get:
  sft:        {"messages": [...], "n_context": k}  (assistant turns at index >= k are trained)
  text:       {"text": str}                         (plain language modelling, for files with only `text`)
  preference: {"prompt": [...], "chosen": [...], "rejected": [...]}
"""
from __future__ import annotations

from lab.artifacts import parent_entry
from lab.data import formats
from lab.data import load as data_load
from lab.errors import LabError

KIND_OF_FORM = {"messages": "sft", "prompt_completion": "sft", "preference": "preference", "text": "text"}


def raw_rows(ref: str, split: str = "train", max_rows: int | None = None, token: str | None = None) -> list[dict]:
    """The dataset's rows as stored (for methods that shape them themselves: GRPO's prompts, KTO's labels)."""
    rows = data_load.raw_rows(data_load.source_for(ref, split, max_rows), token)
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

    rows, form = data_load.load_rows(ref, split, max_rows, token)
    return datasets.Dataset.from_list(rows), KIND_OF_FORM[form]


def dataset_lineage(ref: str) -> dict:
    """The dataset as a parent entry (with its own lineage when it is a lab artifact)."""
    return parent_entry(ref, "dataset")
