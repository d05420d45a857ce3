"""Exact match's "find the answer": what of a reply is compared with the target, as lm-eval filter chains.

Each extraction is an lm-eval `regex` filter chain written into the task's YAML (a filter named `extract`), so the
lab (which runs that YAML) and `lm_eval` on the exported task score alike. Patterns run on RE2 in the lab's worker
(lab.eval.re2_filter); these are RE2- and Python-compatible.
"""
from __future__ import annotations

LAST_NUMBER = r"-?\d+(?:,\d{3})*(?:\.\d+)?"
FIRST_LINE = r"[^\n]*\S[^\n]*"
ONE_LINE = r"^[^\n]*"  # a reply stopped at its first newline: what `whole` compares
LABELS = {"whole": "whole reply", "last_number": "last number", "first_line": "first line", "regex": "regex"}


def until(extract: str) -> list[str]:
    """Where generation stops: at the first newline, or at a blank line when the extraction reads further."""
    return ["\n\n"] if extract in ("last_number", "first_line") else ["\n"]


def _regex(pattern: str, group: int = 0) -> dict:
    return {"function": "regex", "regex_pattern": pattern, "group_select": group}


def steps(extract: str, regex: str = "") -> list[dict] | None:
    """The lm-eval filter steps of an extraction (None: the whole reply, no filter)."""
    chain = {"whole": None, "regex": [_regex(regex)], "last_number": [_regex(LAST_NUMBER, -1)],
             "first_line": [_regex(FIRST_LINE)]}[extract]
    return None if chain is None else chain + [{"function": "take_first"}]


def filter_list(extract: str, regex: str = "") -> list[dict] | None:
    chain = steps(extract, regex)
    return None if chain is None else [{"name": "extract", "filter": chain}]


def every_extraction(regex: str = "") -> list[dict]:
    """Every extraction as its own named filter over one reply generated up to a blank line (the preview); `whole`
    and `regex` first cut the reply at its first newline, as their own tasks stop there."""
    first = [_regex(ONE_LINE)]
    out = [{"name": "whole", "filter": first + [{"function": "take_first"}]},
           {"name": "last_number", "filter": steps("last_number")},
           {"name": "first_line", "filter": steps("first_line")}]
    if regex:
        out.append({"name": "regex", "filter": first + steps("regex", regex)})
    return out
