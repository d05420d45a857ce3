"""Who is calling, what they may see and touch, and which Hub token acts for them.

Every handler serves three kinds of caller, decided here on the server and nowhere else:

- the **owner**: off a Space, the local user (the machine is theirs); on a Space, its author
  (`SPACE_AUTHOR_NAME`) signed in, a member of the org that owns it, or a name in `LAB_OWNERS`;
- a signed-in **visitor** of someone else's Space;
- an **anonymous** visitor (told apart by their browser session).

What a visitor makes (jobs, artifacts, uploads, votes) carries their key; they see and act on their own things
and on what the owner marked shared. The owner sees everything. A visitor's Hub calls carry the visitor's own
token or none: never the Space's.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from lab.auth import Token, local_token, space_token
from lab.errors import LabError
from lab.settings import get_settings

LOCAL, OWNER, VISITOR, ANONYMOUS = "local", "owner", "visitor", "anonymous"
ANON_PREFIX = "session:"
NOT_ALLOWED = "That is not a model you can use here."  # the same whether it is elsewhere, another's, or nowhere
NOT_ALLOWED_FIX = "Give a Hub id (org/name), or pick a model or adapter of this lab from the list."


@dataclass(frozen=True)
class Caller:
    role: str
    name: str = ""  # the Hub user name (owner, visitor); "" locally and for anonymous visitors
    session: str = ""  # the browser session: all that tells anonymous visitors apart
    token: Token | None = field(default=None, repr=False, compare=False)  # the caller's own Hub token

    @property
    def key(self) -> str:
        """What this caller's jobs and artifacts are marked with ("" = the lab's owner)."""
        if self.role in (LOCAL, OWNER):
            return ""
        return self.name if self.role == VISITOR else ANON_PREFIX + self.session

    @property
    def is_owner(self) -> bool:
        return self.role in (LOCAL, OWNER)

    @property
    def signed_in(self) -> bool:
        return self.role != ANONYMOUS

    @property
    def on_space(self) -> bool:
        return self.role != LOCAL

    def may_see(self, owner_key: str | None, shared: bool = False) -> bool:
        """Whether a job, artifact or upload marked `owner_key` is this caller's to see and use."""
        return self.is_owner or bool(shared) or (owner_key or "") == self.key

    def hub_token(self) -> Token | None:
        """The token for this caller's Hub calls: their own, never the Space's for a visitor. None means an
        anonymous call (pass token=False to huggingface_hub so it does not pick one up itself)."""
        if self.role == LOCAL:
            return local_token()
        if self.role == OWNER:
            return self.token or space_token()
        return self.token

    def require_signed_in(self, action: str) -> None:
        if not self.signed_in:
            raise LabError(f"{action} needs you signed in.", "Sign in with Hugging Face (button at the top).",
                           "sign-in")

    def require_owner(self, action: str, fix: str = "Ask the Space's owner, or duplicate the Space to run "
                                                  "your own.") -> None:
        if not self.is_owner:
            raise LabError(f"{action} is for the owner of this Space only.", fix, "owner")


def local() -> Caller:
    """The CLI, tests and the app off a Space."""
    return Caller(LOCAL)


def job_caller() -> Caller:
    """Inside a job's worker: whose job this is (LAB_OWNER, set by the job manager), with the job's token."""
    key = os.environ.get("LAB_OWNER", "")
    if not get_settings().on_space:
        return local()
    token = os.environ.get("HF_TOKEN") or None
    if not key:
        return Caller(OWNER, token=Token(token) if token else None)
    if key.startswith(ANON_PREFIX):
        return Caller(ANONYMOUS, session=key[len(ANON_PREFIX):])
    return Caller(VISITOR, key, token=Token(token) if token else None)


def owners() -> set[str]:
    """Names that own this Space: its author (a user or an org) and LAB_OWNERS (comma separated)."""
    names = {os.environ.get("SPACE_AUTHOR_NAME", "").strip()}
    names |= {n.strip() for n in os.environ.get("LAB_OWNERS", "").split(",")}
    return {n.lower() for n in names if n}


def signed_in_caller(username: str, token: str | None, orgs: list[str], session: str = "") -> Caller:
    """A signed-in visitor: the owner when their name, or an org they belong to, owns the Space."""
    mine = owners()
    is_owner = username.lower() in mine or any(o.lower() in mine for o in orgs)
    return Caller(OWNER if is_owner else VISITOR, username, session, Token(token) if token else None)


def caller_for(username: str | None, token: str | None, orgs: list[str], session: str) -> Caller:
    """The caller of one request: local off a Space, else the signed-in user or an anonymous session."""
    if not get_settings().on_space:
        return local()
    if username:
        return signed_in_caller(username, token, orgs, session)
    return Caller(ANONYMOUS, session=session or "unknown")


def owner_label(key: str | None) -> str:
    """How an owner key is shown: the user's name, 'an anonymous visitor', or 'the owner'."""
    if not key:
        return "the owner"
    return "an anonymous visitor" if key.startswith(ANON_PREFIX) else key
