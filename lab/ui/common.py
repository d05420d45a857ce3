"""Helpers every tab uses: sign-in tokens, error conversion, small formatting."""
from __future__ import annotations

import functools
import sys
import traceback

import gradio as gr
from gradio.helpers import _session_from_request
from gradio.oauth import _get_valid_oauth_info_from_session

from lab import access, jobs
from lab.auth import Token, local_token
from lab.errors import LabError
from lab.hub.client import api
from lab.jobs.owners import job_to_act_on
from lab.settings import get_settings
from lab.shown import for_visitor
from lab.ui import charts


def token_from(oauth_token: gr.OAuthToken | None) -> Token | None:
    """On a Space: the visitor's OAuth token. Locally: HF_TOKEN or the stored login."""
    if oauth_token is not None and getattr(oauth_token, "token", None):
        return Token(oauth_token.token)
    return None if get_settings().on_space else local_token()


def require_user(oauth_token: gr.OAuthToken | None, action: str) -> None:
    """Privileged actions (push, delete, job submit) on a Space need a signed-in visitor, also via the API."""
    if get_settings().on_space and not token_from(oauth_token):
        raise LabError(f"{action} needs you signed in.", "Sign in with Hugging Face (button at the top).", "sign-in")


def user_token(oauth_token: gr.OAuthToken | None, action: str) -> Token | None:
    """For a privileged action: refuse an anonymous visitor on a Space, then the token to act with."""
    require_user(oauth_token, action)
    return token_from(oauth_token)


def _oauth_info(request) -> dict | None:
    """The signed-in visitor's OAuth record from the request's session (what Gradio injects as gr.OAuthToken and
    gr.OAuthProfile), read the same way Gradio reads it, or None."""
    try:
        return _get_valid_oauth_info_from_session(_session_from_request(request))
    except Exception:  # no session middleware (off a Space), or a session we cannot read: not signed in
        return None


@functools.lru_cache(maxsize=256)
def _orgs_of(token: str) -> tuple[str, ...]:
    """The orgs a token's user belongs to (asked of the Hub once per token), for a Space that an org owns."""
    try:
        return tuple(o.get("name", "") for o in api(token).whoami().get("orgs", []))
    except Exception:
        return ()


def caller_of(request: gr.Request | None) -> access.Caller:
    """Who sent this request: the local user off a Space; else the signed-in visitor (owner or not) or an anonymous
    browser session. Decided on the server from the session cookie, whatever the client sent as inputs."""
    info = _oauth_info(request) if get_settings().on_space else None
    session = getattr(request, "session_hash", None) or ""
    if not info:
        return access.caller_for(None, None, [], session)
    user = info.get("userinfo") or {}
    name, token = user.get("preferred_username") or "", info.get("access_token")
    orgs = [o.get("preferred_username") or o.get("name") or "" for o in user.get("orgs") or []]
    if name and token and not orgs and name.lower() not in access.owners():
        orgs = list(_orgs_of(token))
    return access.caller_for(name, token, orgs, session)


def on_load(fn, inputs, outputs, **kwargs):
    """Run fn when the page loads (an internal event: not in the public API)."""
    root = gr.context.Context.root_block
    return root.load(fn, inputs, outputs, api_visibility="private", **kwargs)


_ON_SHOW: list = []


def on_show(fn, outputs) -> None:
    """Run fn each time the user opens the tab being built: pickers then list what other tabs made since the
    page loaded. app.py wires these to the tab's select event."""
    _ON_SHOW.append((fn, outputs))


def take_on_show() -> list:
    taken = list(_ON_SHOW)
    _ON_SHOW.clear()
    return taken


def cancel_job(request: gr.Request, job_id: str, acting: str, nothing: str, action: str = "") -> str:
    """Cancel a job the caller may act on (the owner: any job). `acting` names the act for the sign-in check,
    `action` (default: acting) for the refusal; `nothing` answers when no job is chosen."""
    caller = caller_of(request)
    caller.require_signed_in(acting)
    if not job_id:
        return nothing
    return jobs.cancel(job_to_act_on(caller, job_id, action or acting).id)


def lab_error(exc: LabError) -> gr.Error:
    # a user's mistake, shown in the browser until closed (duration=None: it never fades), logged as one line
    log_user_error(exc)
    return gr.Error(for_visitor(str(exc)), title="Something needs fixing", duration=None, print_exception=False)


def log_user_error(exc: LabError) -> None:
    """One line in the server log for a user's mistake: tracebacks are kept for the lab's own faults."""
    print(f"user error: {exc}", file=sys.stderr, flush=True)


def error_note(exc: LabError) -> str:
    """A user's mistake as the note beside the control that caused it: what went wrong, then the fix."""
    log_user_error(exc)
    head = f"`{exc.field}`: {exc.what}" if exc.field else exc.what
    return for_visitor(f"⚠️ **{head}**" + (f"\n\n**Fix:** {exc.fix}" if exc.fix else ""))


def notes_errors(outputs: int, at: int = 0):
    """Like shows_errors, but a user's mistake is written into output `at` of the handler's `outputs` (the panel's
    note beside the control): it stays there until the next action replaces it, and the other outputs keep their
    values. Other faults still raise (shows_errors)."""

    def wrap(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except LabError as exc:
                note = error_note(exc)
            except gr.Error:
                raise
            except Exception as exc:
                raise fault(exc) from None
            if outputs == 1:
                return note
            return tuple(note if i == at else gr.update() for i in range(outputs))

        return wrapper

    return wrap


def shows_errors(fn):
    """Turn LabError into a visible gr.Error; other exceptions become a short, stack-free message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LabError as exc:
            raise lab_error(exc) from None
        except gr.Error:
            raise
        except Exception as exc:
            raise fault(exc) from None

    return wrapper


def fault(exc: Exception) -> gr.Error:
    """The lab's own fault: its traceback in the server log, a short stack-free message in the browser."""
    traceback.print_exception(exc)
    return gr.Error(for_visitor(f"{type(exc).__name__}: {exc}"), title="Unexpected error", duration=None,
                    print_exception=False)


def progress_bar_html(fraction: float, label: str = "") -> str:
    pct = max(0.0, min(1.0, fraction or 0.0)) * 100
    return (f'<div class="lab-progress"><div class="lab-progress-fill" style="width:{pct:.1f}%"></div>'
            f'<span>{pct:.0f}% {_escape(label)}</span></div>')


def _escape(text: str) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


CSS = """
.lab-progress{position:relative;height:22px;border-radius:6px;background:var(--block-background-fill);
  border:1px solid var(--border-color-primary);overflow:hidden}
.lab-progress-fill{position:absolute;top:0;left:0;bottom:0;background:var(--color-accent);opacity:.55}
.lab-progress span{position:relative;padding-left:8px;font-size:.85em;line-height:22px}
""" + charts.CSS
