"""The one Hub repo-id pattern, used wherever the lab accepts or checks a Hub id.

A part (owner or name) is 1–96 of letters, digits, '.', '_' and '-', neither starting nor ending with '.'
or '-', without '--' or '..' (the Hub's own rules). A Hub id is OWNER/NAME; a repo name to publish under
may also be a bare NAME (it goes under the signed-in user).
"""
from __future__ import annotations

import re
from pathlib import Path

from lab.errors import LabError

PART = r"(?![.-])(?![^/]*(?:--|\.\.))[A-Za-z0-9._-]{1,96}(?<![.-])"
REPO_ID = re.compile(rf"{PART}/{PART}")
REPO_NAME = re.compile(rf"(?:{PART}/)?{PART}")


def is_repo_id(text) -> bool:
    """OWNER/NAME exactly (no path, URL, '~', '..' or whitespace)."""
    return isinstance(text, str) and REPO_ID.fullmatch(text) is not None


def is_hub_id(ref: str) -> bool:
    """A Hub repo id, and not a folder or file on this machine: datasets and transformers would read such a name
    from the disk instead."""
    ref = str(ref)
    if not is_repo_id(ref):
        return False
    try:
        return not Path(ref).expanduser().exists()
    except (OSError, ValueError):
        return False


def check_repo_id(text, field: str, fix: str = "Give the repo id shown on the Hub, such as org/name.") -> str:
    """The id, stripped; a LabError naming `field` when it is not OWNER/NAME."""
    text = (text or "").strip() if isinstance(text, str) else text
    if not is_repo_id(text):
        shown = text if not isinstance(text, str) or len(text) <= 80 else text[:80] + "…"
        raise LabError(f"{shown!r} is not a Hub id like 'org/name'.", fix, field)
    return text
