"""One way to talk to the Hub: an HfApi bound to lab.settings.hub_endpoint(), repo-name checks, and
huggingface_hub errors turned into LabErrors that say what to do. The token is passed in, never kept.
"""
from __future__ import annotations

import re
from contextlib import contextmanager

from lab.errors import LabError
from lab.repo_id import REPO_NAME
from lab.settings import hub_endpoint

MAX_NAME = 96
_ALLOWED = re.compile(r"[A-Za-z0-9._-]")


def api(token: str | None = None):
    """An HfApi for the configured endpoint (HF_ENDPOINT read now, not at import, so tests can point it)."""
    from huggingface_hub import HfApi  # heavy: huggingface_hub

    return HfApi(endpoint=hub_endpoint(), token=token or False, library_name="lab")


def _check_part(part: str, what: str) -> None:
    if not part:
        raise LabError(f"The {what} is empty.", "Write it as NAME or OWNER/NAME, e.g. my-model.", "repo")
    if len(part) > MAX_NAME:
        raise LabError(f"The {what} {part[:20]!r}… is {len(part)} characters long; "
                       f"the Hub allows at most {MAX_NAME}.", "Shorten it.", "repo")
    bad = "".join(sorted(set(_ALLOWED.sub("", part))))
    if bad:
        raise LabError(f"The {what} {part!r} contains {bad!r}: only letters, digits, '.', '_' and '-' are allowed.",
                       "Remove or replace those characters (e.g. spaces with '-').", "repo")
    if part[0] in ".-" or part[-1] in ".-":
        raise LabError(f"The {what} {part!r} starts or ends with '.' or '-', which the Hub refuses.",
                       "Start and end it with a letter or a digit.", "repo")
    if "--" in part or ".." in part:
        raise LabError(f"The {what} {part!r} contains '--' or '..', which the Hub refuses.", "Use single separators.",
                       "repo")


def validate_repo_name(name: str) -> str:
    """NAME or OWNER/NAME, each part letters, digits and `._-`, at most 96 characters. Returns it stripped."""
    name = (name or "").strip()
    if not name:
        raise LabError("No repo name given.", "Enter a name such as my-model (letters, digits, '.', '_', '-').", "repo")
    if REPO_NAME.fullmatch(name):
        return name
    parts = name.split("/")  # not a valid name: say which part breaks which rule
    if len(parts) > 2:
        raise LabError(f"{name!r} has more than one '/'.", "Write NAME or OWNER/NAME.", "repo")
    if len(parts) == 2:
        _check_part(parts[0], "owner")
    _check_part(parts[-1], "repo name")
    raise LabError(f"{name!r} is not a valid repo name.", "Write NAME or OWNER/NAME, e.g. my-model.", "repo")


def repo_url(repo_id: str, repo_type: str = "model") -> str:
    prefix = {"dataset": "datasets/", "space": "spaces/"}.get(repo_type, "")
    return f"{hub_endpoint()}/{prefix}{repo_id}"


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_unreachable(exc: BaseException) -> bool:
    """A connection that failed or timed out (anywhere in the cause chain), or offline mode."""
    from huggingface_hub.errors import OfflineModeIsEnabled  # heavy: huggingface_hub

    import httpx2  # heavy: huggingface_hub's HTTP client (huggingface_hub 2 needs it)

    return any(isinstance(e, (ConnectionError, TimeoutError, OfflineModeIsEnabled, httpx2.TransportError))
               for e in _chain(exc))


def _http_status(exc: BaseException) -> tuple[int | None, BaseException | None]:
    from huggingface_hub.errors import HfHubHTTPError  # heavy: huggingface_hub

    for e in _chain(exc):
        if isinstance(e, HfHubHTTPError) and getattr(e, "response", None) is not None:
            return e.response.status_code, e
    return None, None


def _server_message(err: BaseException) -> str:
    try:
        return str(err.response.json().get("error", ""))[:200].rstrip(".")
    except Exception:
        return ""


def translate(exc: BaseException, action: str, repo: str = "", field: str = "repo") -> LabError:
    """A LabError for a huggingface_hub / network failure while doing `action` on `repo`."""
    from huggingface_hub.errors import (  # heavy: huggingface_hub
        GatedRepoError, OfflineModeIsEnabled, RemoteEntryNotFoundError, RepositoryNotFoundError)

    if isinstance(exc, LabError):
        return exc
    if any(isinstance(e, OfflineModeIsEnabled) for e in _chain(exc)):
        return LabError(f"{action}: offline mode is on (HF_HUB_OFFLINE=1), so the Hub is not asked.",
                        "Unset HF_HUB_OFFLINE (and connect to the internet), then retry.", "hub")
    if is_unreachable(exc):
        return LabError(f"{action}: the Hub ({hub_endpoint()}) is unreachable.",
                        "Check your internet connection (or HF_ENDPOINT), then retry.", "hub")
    for e in _chain(exc):
        if isinstance(e, GatedRepoError):
            return LabError(f"{repo} is gated.", "Accept its terms on the Hub, then sign in.", field)
        if isinstance(e, RemoteEntryNotFoundError):
            return LabError(f"{action}: a file is missing from {repo}.", "Check the repo's files on the Hub.", field)
        if isinstance(e, RepositoryNotFoundError):
            return LabError(f"{repo} is not on the Hub (or it is private and you are not signed in).",
                            "Check the id, or sign in if it is private.", field)
    status, err = _http_status(exc)
    if status == 401:
        return LabError(f"{action}: the Hub rejected your Hugging Face token (expired or invalid).",
                        "Sign in again (or set a valid HF_TOKEN with write access).", "sign-in")
    if status == 403:
        return LabError(f"{action}: you have no write access to {repo or 'this namespace'}.",
                        "Use your own namespace, or an organization you can write to, and a token with write access.",
                        field)
    if status == 409:
        return LabError(f"The repo {repo} already exists on the Hub.",
                        "Pick another name, or tick 'overwrite' to replace its files.", field)
    if status is not None:
        detail = _server_message(err)
        return LabError(f"{action} failed: the Hub answered HTTP {status}{': ' + detail if detail else ''}.",
                        "Retry; if it keeps failing, check the Hub status page.", "hub")
    return LabError(f"{action} failed: {type(exc).__name__}: {str(exc)[:300]}", "Retry, or check the log.", "hub")


@contextmanager
def hub_errors(action: str, repo: str = "", field: str = "repo"):
    """Run a Hub call; any failure comes out as a LabError that names the field and the fix."""
    try:
        yield
    except LabError:
        raise
    except Exception as exc:
        raise translate(exc, action, repo, field) from None


def whoami(token: str, action: str = "Checking your sign-in") -> str:
    """The user name behind a token (the Hub is asked); clear errors when it is rejected or unreachable."""
    with hub_errors(action, field="sign-in"):
        return api(token).whoami()["name"]


def full_repo_id(name: str, token: str) -> str:
    """OWNER/NAME: a bare NAME goes under the signed-in user. Asks the Hub, so a rejected token fails here."""
    name = validate_repo_name(name)
    user = whoami(token)
    return name if "/" in name else f"{user}/{name}"
