"""Datasets for GRPO (prompts, plus the columns rewards read) and KTO (prompt, completion, boolean label).

Both read the raw rows through the Data tab's loader, so artifacts, files and Hub datasets all work. A dataset
that lacks what the method needs is refused here, naming the column, before any model loads:
  prompts:   {"prompt": [messages], <other columns kept for the rewards, e.g. answer>}
  unpaired:  {"prompt": [messages], "completion": [assistant message], "label": bool}
Preference rows (prompt, chosen, rejected) also train KTO: chosen is a thumbs-up, rejected a thumbs-down.
"""
from __future__ import annotations

import json

from lab.data import formats
from lab.errors import LabError

CONVERSATION_FIELDS = {"prompt", "messages", "conversations", "instruction", "input", "output", "system",
                       "history", "chosen", "rejected", "completion"}


def _columns(raw: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for r in raw[:100] for k in r))


def _raw(ref: str, split: str, max_rows: int | None, token: str | None) -> list[dict]:
    from lab.data import load as data_load
    from lab.train.data import source_for

    rows = data_load.raw_rows(source_for(ref, split, max_rows), token)
    if not rows:
        raise LabError(f"The dataset {ref} has no rows.", "Pick a dataset with rows.", "dataset")
    return rows


def _normalized(raw: list[dict]):
    """(form, converted rows) through the Data tab's formats, or (None, None) when none fits."""
    try:
        name = formats.detect(_columns(raw), raw[:5])
    except LabError:
        return None, None
    fmt = formats.get_format(name)
    return fmt.form, formats.convert_rows(raw, fmt, {}, "dataset")


def _scalar(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _extras(rows: list[dict], raw: list[dict]) -> list[dict]:
    """Columns other than the conversation's, kept for the rewards; a column of mixed types becomes text."""
    keys = [k for k in _columns(raw) if k not in CONVERSATION_FIELDS]
    for key in keys:
        values = [_scalar(r.get(key)) for r in raw]
        types = {type(v) for v in values if v is not None}
        if len(types) > 1:
            values = [None if v is None else str(v) for v in values]
        for row, value in zip(rows, values):
            row[key] = value
    return rows


def _prompt_of(converted: dict, form: str) -> list[dict]:
    if form in ("preference", "prompt_completion"):
        return converted["prompt"]
    msgs = converted["messages"]
    last = len(msgs) - 1 if msgs and msgs[-1]["role"] == "assistant" else len(msgs)
    return msgs[:last]


def prompt_rows(raw: list[dict]) -> list[dict]:
    """GRPO rows: the prompt as messages (a `prompt` column, or the user turns of a known format)."""
    columns = _columns(raw)
    if "prompt" in columns:
        rows = [{"prompt": formats.messages(r.get("prompt"), "user")} for r in raw]
    else:
        form, converted = _normalized(raw)
        if form is None:
            raise LabError(f"GRPO needs prompts, but this dataset has no 'prompt' column (its columns: "
                           f"{', '.join(columns)}).", "Add a 'prompt' column (the question the model answers), "
                           "or use a conversation format (messages, Alpaca, ShareGPT).", "prompt")
        rows = [{"prompt": _prompt_of(c, form)} for c in converted]
    empty = next((i for i, r in enumerate(rows) if not any(m["content"].strip() for m in r["prompt"])), None)
    if empty is not None:
        raise LabError(f"Row {empty + 1} has an empty 'prompt'.", "Give every row a prompt, or remove that row.",
                       "prompt")
    return _extras(rows, raw)


def _label(value, i: int) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise LabError(f"KTO needs a boolean 'label' (true: a good answer, false: a bad one); row {i + 1} has "
                   f"{value!r}.", "Make the 'label' column true/false (1/0 also works).", "label")


def unpaired_rows(raw: list[dict]) -> list[dict]:
    """KTO rows from prompt/completion/label columns, or from preference pairs (chosen up, rejected down)."""
    columns = _columns(raw)
    form, converted = _normalized(raw) if "label" not in columns else (None, None)
    if form == "preference":
        return [{"prompt": r["prompt"], "completion": r[side], "label": side == "chosen"}
                for r in converted for side in ("chosen", "rejected")]
    for column in ("prompt", "completion", "label"):
        if column not in columns:
            raise LabError(f"KTO needs prompt, completion and a boolean label, but this dataset has no "
                           f"{column!r} column (its columns: {', '.join(columns)}).",
                           "Export thumbs up/down as prompt/completion/label rows (the arena's KTO export does), "
                           "or use preference rows (prompt, chosen, rejected).", column)
    return [{"prompt": formats.messages(r["prompt"], "user"),
             "completion": formats.messages(r["completion"], "assistant"), "label": _label(r.get("label"), i)}
            for i, r in enumerate(raw)]


def load(method: str, ref: str, split: str = "train", max_rows: int | None = None, token: str | None = None):
    """(datasets.Dataset, kind): kind "prompts" for GRPO, "unpaired" for KTO."""
    import datasets

    raw = _raw(ref, split, max_rows, token)
    if method == "grpo":
        return datasets.Dataset.from_list(prompt_rows(raw)), "prompts"
    return datasets.Dataset.from_list(unpaired_rows(raw)), "unpaired"
