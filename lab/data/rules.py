"""Rule filters: refusal/boilerplate phrases, token length, regex include/exclude, empty answers.

Each returns a boolean mask (True = remove) over the texts it is given, plus what it measured where useful.
"""
from __future__ import annotations

import re

import numpy as np

from lab import safe_regex
from lab.errors import LabError
from lab.models.resolve import config_folder


def phrase_pattern(phrases: list[str]) -> re.Pattern | None:
    phrases = [p.strip() for p in phrases if p and p.strip()]
    if not phrases:
        return None
    return re.compile("|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)), re.IGNORECASE)


def refusals(texts: list[str], phrases: list[str]) -> tuple[np.ndarray, list[str]]:
    """(remove mask, the phrase found in each removed text)."""
    pattern = phrase_pattern(phrases)
    if pattern is None:
        raise LabError("The refusal phrase list is empty.", "Add at least one phrase, or switch the step off.",
                       "refusals.phrases")
    found = [m.group(0) if (m := pattern.search(t)) else "" for t in texts]
    return np.array([bool(f) for f in found], dtype=bool), found


def regex(texts: list[str], include: str, exclude: str, ignore_case: bool) -> tuple[np.ndarray, np.ndarray]:
    """(fails include, matches exclude) masks. The patterns run on RE2 (lab.safe_regex): linear in the text,
    whatever the pattern, so no row can stall the app."""
    inc = safe_regex.compile(include, "regex.include", ignore_case) if include else None
    exc = safe_regex.compile(exclude, "regex.exclude", ignore_case) if exclude else None
    missing = np.array([inc is not None and not inc.search(t) for t in texts], dtype=bool)
    excluded = np.array([exc is not None and bool(exc.search(t)) for t in texts], dtype=bool)
    return missing, excluded & ~missing


def empty(answer_lists: list[list[str]], min_chars: int) -> np.ndarray:
    """Rows where any of the given answers (e.g. chosen and rejected) has fewer than min_chars non-space chars."""
    return np.array([any(len("".join(a.split())) < min_chars for a in answers) or not answers
                     for answers in answer_lists], dtype=bool)


_TOKENIZERS: dict[str, object] = {}  # folder -> tokenizer, per process


def load_tokenizer(ref: str, token: str | None = None):
    """The tokenizer of a model id or folder (config and tokenizer files only, never the weights)."""
    from transformers import AutoTokenizer  # heavy: transformers

    folder = str(config_folder(ref, token))
    if folder not in _TOKENIZERS:  # the datatrove engine asks once per batch
        try:
            _TOKENIZERS[folder] = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise LabError(f"No usable tokenizer for {ref} ({str(exc)[:200]}).",
                           "Pick a model that ships tokenizer files.", "length.tokenizer") from None
    return _TOKENIZERS[folder]


def token_counts(texts: list[str], tokenizer, batch: int = 2048) -> np.ndarray:
    out = np.empty(len(texts), dtype=np.int64)
    for s in range(0, len(texts), batch):
        ids = tokenizer(texts[s:s + batch], add_special_tokens=False)["input_ids"]
        out[s:s + batch] = [len(x) for x in ids]
    return out


def length(counts: np.ndarray, min_tokens: int | None, max_tokens: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(too short, too long) masks."""
    short = counts < min_tokens if min_tokens is not None else np.zeros(len(counts), dtype=bool)
    long = counts > max_tokens if max_tokens is not None else np.zeros(len(counts), dtype=bool)
    return short, long
