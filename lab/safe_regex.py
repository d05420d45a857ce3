"""Every regex a user writes runs here, on RE2: linear time in the text, whatever the pattern.

Python's `re` backtracks: `(a+)+$` on thirty characters takes minutes and holds the GIL, so one visitor's regex
would freeze the app for everyone. RE2 covers the usual syntax; it has no backreferences and no lookarounds, and
a pattern that uses them is refused with a message that says so.
"""
from __future__ import annotations

import functools

import re2

from lab.errors import LabError

MAX_PATTERN = 2000
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is the user's mistake, told to them: not a line on the server's stderr


def _why(pattern: str, error: str) -> str:
    if "(?=" in pattern or "(?!" in pattern or "(?<" in pattern and "(?<P" not in pattern:
        return "it uses a lookaround ((?=…), (?!…), (?<=…)), which the lab's linear-time regex engine does not run"
    if "invalid escape sequence: \\" in error and any(f"\\{d}" in pattern for d in "123456789"):
        return "it uses a backreference (\\1…), which the lab's linear-time regex engine does not run"
    return f"it is not a valid regex ({error})"


@functools.lru_cache(maxsize=256)
def _compile(pattern: str, ignore_case: bool, dotall: bool):
    prefix = ("i" if ignore_case else "") + ("s" if dotall else "")
    return re2.compile(f"(?{prefix}){pattern}" if prefix else pattern, _OPTIONS)


def compile(pattern: str, field: str, ignore_case: bool = False, dotall: bool = False):
    """A compiled RE2 pattern (search/match/fullmatch/finditer/sub like `re`), or a LabError naming `field`."""
    if not isinstance(pattern, str):
        raise LabError("The regex is not text.", "Write the pattern as text.", field)
    if len(pattern) > MAX_PATTERN:
        raise LabError(f"The regex is {len(pattern)} characters long; the lab takes at most {MAX_PATTERN}.",
                       "Shorten it.", field)
    try:
        return _compile(pattern, ignore_case, dotall)
    except re2.error as exc:
        message = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        why = _why(pattern, message)
        fix = ("Rewrite it without backreferences or lookarounds (e.g. match the text and filter after)."
               if "does not run" in why else "Fix the pattern (RE2 syntax, like Python's re).")
        raise LabError(f"The regex {pattern[:80]!r} cannot run: {why}.", fix, field) from None


def check(pattern: str, field: str) -> str:
    """The pattern, unchanged, once RE2 accepts it (for validators)."""
    compile(pattern, field)
    return pattern
