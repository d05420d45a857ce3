"""Rewards computed from the text alone: format, tags, exact match, math-verify, length.

Each is a small object with a `score(sample)` method; a Sample carries the prompt, the completion, its token count
and the row's other columns (the reference answer among them).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from lab import safe_regex

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_END_PUNCT = " \t\n.!?;:,'\"`$*"


@dataclass
class Sample:
    prompt: str
    completion: str
    tokens: int = 0
    columns: dict = field(default_factory=dict)


def answer_part(text: str) -> str:
    """The content of the last <answer>…</answer>, or the whole text when there is none."""
    found = _ANSWER.findall(text)
    return found[-1] if found else text


def normalize(text) -> str:
    """Case, inner whitespace and end punctuation do not count; "1,000" is "1000"."""
    text = re.sub(r"\s+", " ", str(text)).strip(_END_PUNCT).casefold()
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)


def reference(sample: Sample, column: str):
    if column not in sample.columns:
        raise KeyError(f"the row has no {column!r} column (its columns: {', '.join(sample.columns) or 'none'})")
    return sample.columns[column]


class Format:
    def __init__(self, pattern: str):
        self.pattern = safe_regex.compile(pattern, "rewards.format", dotall=True)  # RE2: linear in the completion

    def score(self, s: Sample) -> float:
        return 1.0 if self.pattern.search(s.completion) else 0.0


class Tags:
    def __init__(self, names: str = ""):
        tags = [t.strip().strip("<>/") for t in (names or "answer").split(",") if t.strip()]
        self.patterns = [safe_regex.compile(rf"<{re.escape(t)}>.+?</{re.escape(t)}>", "rewards.tags", dotall=True)
                         for t in tags]

    def score(self, s: Sample) -> float:
        return sum(bool(p.search(s.completion)) for p in self.patterns) / len(self.patterns)


class Exact:
    def __init__(self, column: str = ""):
        self.column = column or "answer"

    def score(self, s: Sample) -> float:
        return 1.0 if normalize(answer_part(s.completion)) == normalize(reference(s, self.column)) else 0.0


class Math:
    """math-verify: the reference and the answer parsed (numbers, fractions, LaTeX), then compared."""

    def __init__(self, column: str = ""):
        self.column = column or "answer"

    def score(self, s: Sample) -> float:
        from math_verify import parse, verify  # heavy: math-verify imports sympy

        # its timeout uses signal.alarm, which only the main thread may set (the app previews in a worker thread)
        limit = 5 if threading.current_thread() is threading.main_thread() else None
        gold = parse(str(reference(s, self.column)), parsing_timeout=limit)
        guess = parse(answer_part(s.completion), parsing_timeout=limit)
        return 1.0 if gold and guess and verify(gold, guess, timeout_seconds=limit) else 0.0


class Length:
    def __init__(self, target: str):
        self.target = int(target)

    def score(self, s: Sample) -> float:
        return max(0.0, 1.0 - abs(s.tokens - self.target) / self.target)


class TooLong:
    def __init__(self, limit: str):
        self.limit = int(limit)

    def score(self, s: Sample) -> float:
        return -min(1.0, max(0, s.tokens - self.limit) / self.limit)
