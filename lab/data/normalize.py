"""The combined table of normalized rows, the texts each step keys on, and text normalization.

Every row is in one form (messages, prompt_completion or preference). Steps look at one of three texts:
  prompt: the user side (every turn before the final answer), answer: the final assistant answer
  (the completion; `chosen` for preference rows), sample: the whole row.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from lab.data import formats
from lab.errors import LabError

FORMS = ("messages", "prompt_completion", "preference")


def _join(msgs: list[dict]) -> str:
    return "\n".join(m["content"] for m in msgs)


def split_turns(row: dict, form: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(prompt turns, answer turns, other turns) of a normalized row."""
    if form == "preference":
        return row["prompt"], row["chosen"], row["rejected"]
    if form == "prompt_completion":
        return row["prompt"], row["completion"], []
    msgs = row["messages"]
    if msgs and msgs[-1]["role"] == "assistant":
        return msgs[:-1], msgs[-1:], []
    return msgs, [], []


def row_text(row: dict, form: str, key: str) -> str:
    prompt, answer, other = split_turns(row, form)
    if key == "prompt":
        return _join(prompt)
    if key == "answer":
        return _join(answer)
    return _join(prompt + answer + other)


def row_hash(row: dict) -> str:
    """A stable content hash of a normalized row (the cache key for scores)."""
    return hashlib.sha1(json.dumps(row, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:20]


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def fold(text: str) -> str:
    """Case and whitespace folded: the key of exact dedup."""
    return " ".join(text.lower().split())


@dataclass
class Table:
    """All rows of a run, normalized to one form, with their source and cached texts."""
    form: str
    rows: list[dict] = field(repr=False)
    sources: list[str] = field(repr=False)
    _texts: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    def texts(self, key: str) -> list[str]:
        if key not in self._texts:
            self._texts[key] = [row_text(r, self.form, key) for r in self.rows]
        return self._texts[key]

    def hashes(self) -> list[str]:
        if "_hash" not in self._texts:
            self._texts["_hash"] = [row_hash(r) for r in self.rows]
        return self._texts["_hash"]

    def record(self, i: int) -> dict:
        """Row i as exported: its form's columns plus `source`."""
        return {**self.rows[i], "source": self.sources[i]}


def _target_form(forms: set[str], wanted: str) -> str:
    if "preference" in forms and len(forms) > 1:
        raise LabError("Preference sources (prompt/chosen/rejected) cannot be combined with SFT sources.",
                       "Combine preference datasets with preference datasets only.", "sources")
    if "preference" in forms:
        return "preference"
    if wanted != "auto":
        return wanted
    return forms.pop() if len(forms) == 1 else "messages"


def combine(loaded: list, wanted_form: str = "auto") -> Table:
    """One table from normalized sources (load.Loaded), converted to a single form, with a `source` column."""
    if not loaded:
        raise LabError("No data loaded.", "Upload a file or choose a Hub dataset first.", "sources")
    form = _target_form({item.form for item in loaded}, wanted_form)
    rows, sources = [], []
    for item in loaded:
        if item.form == form:
            converted = item.rows
        elif form == "messages":
            converted = [formats.to_messages(r) for r in item.rows]
        else:
            converted = [formats.to_prompt_completion(r) for r in item.rows]
        rows.extend(converted)
        sources.extend([item.label] * len(converted))
    return Table(form, rows, sources)


def shingle_words(texts: list[str]):
    """Per text, its words after lowercasing and turning punctuation into spaces (pyarrow, vectorized).

    Returns (flat word array, words per text). Same words as Python's
    `re.sub(r"(?:[^\\w\\s]|_)+", " ", text.lower()).split()` on ordinary text, except that a text without
    words gives one empty word (so it still has one shingle, "", as a shingle loop over `range(max(n, 1))` gives).
    """
    import pyarrow as pa  # heavy: pyarrow
    import pyarrow.compute as pc  # heavy: pyarrow

    arr = pc.utf8_lower(pa.array(texts, type=pa.large_string()))
    arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"[^\p{L}\p{N}\s]+", " "))
    lists = pc.utf8_split_whitespace(arr)
    return lists.flatten(), pc.list_value_length(lists).to_numpy(zero_copy_only=False)
