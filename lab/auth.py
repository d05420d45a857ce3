"""Who is signed in. The token is passed in by the caller and never stored, logged or rendered."""
from __future__ import annotations

import os

from lab.errors import LabError
from lab.settings import get_settings, is_offline


_SPACE_TOKEN_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")
_space_token: list[str] = []  # the Space's own HF_TOKEN secret, taken out of the environment at start


class Token(str):
    """A str whose repr never shows the secret."""

    def __repr__(self) -> str:
        return "Token(***)"


def local_token() -> Token | None:
    """Off a Space: HF_TOKEN or the stored huggingface_hub login. On a Space: never the Space's own."""
    if get_settings().on_space:
        return None
    raw = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if not raw:
        try:
            from huggingface_hub import get_token  # heavy: huggingface_hub

            raw = get_token()
        except Exception:
            raw = None
    return Token(raw) if raw else None


def sequester_space_token() -> None:
    """On a Space, take the Space's own token out of the process environment, so that no library call made for a
    visitor can pick it up (huggingface_hub reads HF_TOKEN whenever it is passed no token). It stays here for the
    owner's own actions (space_token()). Idempotent; off a Space it does nothing."""
    if not get_settings().on_space:
        return
    found = [v for v in (os.environ.pop(name, "") for name in _SPACE_TOKEN_VARS) if v]
    if found:  # a restart of the app in this process (tests) brings the environment's token anew
        _space_token[:] = found[:1]
    try:  # read at import: set the module constant too, so huggingface_hub never sends a stored login either
        import huggingface_hub.constants as hub_constants  # heavy: huggingface_hub

        hub_constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True
    except ImportError:
        pass
    os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"


def space_token() -> Token | None:
    """The Space's own HF_TOKEN secret, for the owner's actions only (see lab.access)."""
    return Token(_space_token[0]) if _space_token else None


def whoami(token: str | None) -> str | None:
    """The user name for a token, or None (offline or invalid)."""
    if not token or is_offline():
        return None
    try:
        from huggingface_hub import HfApi  # heavy: huggingface_hub

        return HfApi(token=token).whoami().get("name")
    except Exception:
        return None


def status_text(token: str | None, username: str | None = None) -> str:
    if not token:
        return "Not signed in"
    name = username or whoami(token)
    if name:
        return f"Signed in as {name}"
    return "Token found (offline: not verified)" if is_offline() else "Token found, but the Hub rejected it"


def require_token(token: str | None, action: str = "This action") -> Token:
    """Server-side sign-in check for anything that pushes or deletes on the Hub."""
    if not token:
        raise LabError(f"{action} needs you signed in to Hugging Face.",
                       "Sign in with the button at the top (or set HF_TOKEN when running locally).", "sign-in")
    return Token(token)
