"""The one Hub repo-id pattern, used wherever the lab accepts or checks a Hub id.

A part (owner or name) is 1–96 of letters, digits, '.', '_' and '-', neither starting nor ending with '.'
or '-', without '--' or '..' (the Hub's own rules). A Hub id is OWNER/NAME; a repo name to publish under
may also be a bare NAME (it goes under the signed-in user).

A Hub model may be pinned to a revision, OWNER/NAME@REV: REV is a branch, tag or commit sha, 1–100 of letters,
digits, '.', '_', '-' and '/' (inside a branch name such as refs/pr/1), starting with a letter or digit, without
'..', '//', a '/.' or a trailing '/' or '.'. Nothing else carries a revision.
"""
from __future__ import annotations

import re
from pathlib import Path

from lab.errors import LabError

PART = r"(?![.-])(?![^/]*(?:--|\.\.))[A-Za-z0-9._-]{1,96}(?<![.-])"
REPO_ID = re.compile(rf"{PART}/{PART}")
REPO_NAME = re.compile(rf"(?:{PART}/)?{PART}")
REVISION = re.compile(r"(?!.*\.\.)(?!.*//)(?!.*/\.)[A-Za-z0-9][A-Za-z0-9._/-]{0,99}(?<![/.])")
REVISION_FIX = ("Give a branch, tag or commit sha after the '@' (letters, digits, '.', '_', '-', and '/' inside a "
                "branch name; at most 100 characters, no '..'), or drop the @… for the main branch.")


def is_repo_id(text) -> bool:
    """OWNER/NAME exactly (no path, URL, '~', '..' or whitespace)."""
    return isinstance(text, str) and REPO_ID.fullmatch(text) is not None


def is_revision(text) -> bool:
    """A branch, tag or commit sha the lab passes to the Hub (see the module's docstring)."""
    return isinstance(text, str) and REVISION.fullmatch(text) is not None


def check_revision(rev, field: str) -> str:
    """The revision; a LabError naming `field` when it is not one."""
    if not is_revision(rev):
        shown = rev if not isinstance(rev, str) or len(rev) <= 80 else rev[:80] + "…"
        raise LabError(f"{shown!r} is not a revision the lab fetches (a branch, tag or commit sha).", REVISION_FIX,
                       field)
    return rev


def split_revision(ref: str, field: str = "model") -> tuple[str, str | None]:
    """'org/name@REV' -> ('org/name', 'REV'), the revision checked (a LabError naming `field` when it is not one);
    any other text -> (text, None), unchanged (a local path may hold an '@': it is no Hub id)."""
    head, at, rev = str(ref).partition("@")
    if not at or not is_repo_id(head):
        return ref, None
    return head, check_revision(rev, field)


def is_pinned_id(text) -> bool:
    """OWNER/NAME@REV, with a valid id and revision."""
    head, at, rev = text.partition("@") if isinstance(text, str) else ("", "", "")
    return bool(at) and is_repo_id(head) and is_revision(rev)


def is_model_id(text) -> bool:
    """A Hub model id, pinned to a revision or not."""
    return is_repo_id(text) or is_pinned_id(text)


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
