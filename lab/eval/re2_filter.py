"""lm-eval's `regex` filter on RE2, in the lab's eval worker.

A custom exact-match task extracts the answer with the user's regex (CustomTask.regex), which lm-eval runs through
its RegexFilter with Python's backtracking `re`. In the lab's worker the filter compiles its pattern with RE2
(lab.safe_regex) instead: linear in the model's reply, whatever the pattern. A user's pattern that RE2 cannot run
never gets here (lab.eval.custom refuses it before the job); a pattern of lm-eval's own tasks that RE2 cannot run
(they are the harness's, not a user's) keeps Python's engine. The exported task YAML is unchanged, so it still runs
with the plain lm_eval CLI.
"""
from __future__ import annotations

from lab import safe_regex
from lab.errors import LabError

_PATCHED: list[bool] = []


def use_re2() -> None:
    """Make lm-eval's RegexFilter compile on RE2 in this process (idempotent)."""
    if _PATCHED:
        return
    from lm_eval.filters.extraction import RegexFilter  # heavy: lm_eval

    original = RegexFilter.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        try:
            self.regex = safe_regex.compile(self.regex_pattern, "regex")
        except LabError:
            pass  # one of lm-eval's own patterns (lookarounds): the harness's, left on its engine

    RegexFilter.__init__ = __init__
    _PATCHED.append(True)
