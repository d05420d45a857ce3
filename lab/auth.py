"""Who is signed in. The token is passed in by the caller and never stored, logged or rendered."""
from __future__ import annotations

import os

from lab.errors import LabError
from lab.settings import get_settings, is_offline


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
            from huggingface_hub import get_token

            raw = get_token()
        except Exception:
            raw = None
    return Token(raw) if raw else None


def whoami(token: str | None) -> str | None:
    """The user name for a token, or None (offline or invalid)."""
    if not token or is_offline():
        return None
    try:
        from huggingface_hub import HfApi

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
