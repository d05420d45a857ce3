"""What a caller may load: the one rule for model fields (lab.models.ref.parse_for), then, for a visitor of a
Space, the Hub's word on a Hub model with the visitor's own token.

The Hugging Face cache and the lab's registry hold what the owner downloaded, private models included. A visitor
who names such a model by its id would read it from the cache without the Hub ever being asked; so a visitor's Hub
model is used only once the Hub has shown it to the visitor (their token, or none). A private, gated or missing
repo gets the same refusal. The owner, and everyone off a Space, is never asked.

Also here: the models a caller may pick, named without a server path (artifacts by folder name on a Space).
"""
from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

from lab.access import ANONYMOUS, NOT_ALLOWED, NOT_ALLOWED_FIX, Caller, local
from lab.errors import LabError
from lab.hub.client import api, is_unreachable
from lab.jobs.owners import artifact_owner, visible_artifacts
from lab.models.ref import ModelRef, parse_for
from lab.models.resolve import available_offline
from lab.repo_id import is_model_id, is_repo_id, split_revision
from lab.settings import get_settings, is_bundled, is_offline

SEEN_S = 600  # how long the Hub's "yes, this visitor may read it" is trusted
_seen: dict[tuple[str, str], float] = {}
_seen_lock = threading.Lock()
MODEL_KINDS = ("adapter", "model", "merge")


def _key(caller: Caller, repo_id: str) -> tuple[str, str]:
    token = caller.hub_token() or ""
    return hashlib.sha256(token.encode()).hexdigest()[:16], repo_id.lower()


def check_hub_model(caller: Caller, model_id: str, field: str = "model") -> None:
    """Refuse a Hub model this visitor cannot read on the Hub themselves (private, gated, missing; pinned to a
    revision, that revision too). Once the Hub has shown a revision, the repo counts as seen (shown_to)."""
    if caller.is_owner or not get_settings().on_space or is_bundled(model_id):
        return
    repo_id, revision = split_revision(model_id, field)
    key = _key(caller, model_id)
    with _seen_lock:
        if _seen.get(key, 0) > time.monotonic():
            return
    refused = LabError(f"{model_id} is not on the Hub, or it is not yours to read.",
                       "Check the id; for a private or gated model, sign in with an account that may read it.", field)
    if is_offline():
        raise LabError(f"The Hub is not reachable, so {model_id} cannot be checked.",
                       "Pick the bundled model or a model of this lab.", field)
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError  # heavy: huggingface_hub

    try:
        info = api(caller.hub_token()).model_info(repo_id, revision=revision)
    except (GatedRepoError, RepositoryNotFoundError):
        raise refused from None
    except HfHubHTTPError as exc:
        if is_unreachable(exc):
            raise LabError(f"The Hub did not answer for {model_id}.", "Retry in a moment.", field) from None
        raise refused from None
    except Exception as exc:
        if is_unreachable(exc):
            raise LabError(f"The Hub did not answer for {model_id}.", "Retry in a moment.", field) from None
        raise refused from None
    if getattr(info, "gated", False):  # the card is public; the files need the visitor's accepted terms
        try:
            api(caller.hub_token()).auth_check(repo_id)
        except Exception:
            raise refused from None
    with _seen_lock:
        _seen[key] = _seen[_key(caller, repo_id)] = time.monotonic() + SEEN_S


def _bare(part: str) -> bool:
    """A name with no path in it: on a Space, only an artifact's folder name (a Hub id has a '/')."""
    return bool(part) and not any(c in part for c in "/\\~") and part not in (".", "..")


def _artifact_top(part: str) -> Path | None:
    """The artifact folder a part names (by folder name, or a path inside LAB_HOME/artifacts), without reading it."""
    arts = get_settings().artifacts
    if _bare(part):
        return arts / part
    try:
        real = Path(part.removeprefix("file://")).expanduser().resolve()
        root = arts.resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return root / real.relative_to(root).parts[0] if root in real.parents else None


def _precheck(caller: Caller, text: str, field: str, ask_hub: bool = True) -> None:
    """For a visitor of a Space, before lab.models.ref reads anything: every part of the reference is a Hub model
    the Hub shows them, or an artifact that is theirs or shared. Another's artifact, one that does not exist and a
    folder of the app get one refusal, so no answer tells what is on the server's disk."""
    parts = [p.strip() for p in (text.rpartition("+")[::2] if "+" in text else ("", text)) if p.strip()]
    for part in parts:
        if is_model_id(part):
            if get_settings().demo and not caller.signed_in and not is_bundled(part):
                raise LabError(f"Loading {part} from the Hub on this demo needs you signed in.",
                               "Sign in with Hugging Face (button at the top), or use the bundled model.", field)
            if ask_hub:  # a Hub id is the Hub's, even where a local folder has that name
                check_hub_model(caller, part, field)
            continue
        top = _artifact_top(part)
        if _bare(part) and (top is None or not top.is_dir()):
            raise LabError(NOT_ALLOWED, NOT_ALLOWED_FIX, field)
        if top is not None and not caller.may_see(*artifact_owner(top)):
            raise LabError(NOT_ALLOWED, NOT_ALLOWED_FIX, field)


def model_for(caller: Caller, text, field: str = "model", expand_adapter: bool = True,
              ask_hub: bool = True) -> ModelRef:
    """A model reference this caller may use: for a visitor of a Space every part checked first (_precheck), then
    parse_for (the grammar, the folder rule, whose artifacts, the demo's download rule), then the Hub's word on a
    Hub base (an adapter's own base too). Before anything is read or fetched. ask_hub=False leaves the Hub out (a
    label: nothing is loaded)."""
    if not caller.is_owner and get_settings().on_space and isinstance(text, str) and len(text) <= 1000:
        _precheck(caller, text.strip(), field, ask_hub)
    ref = parse_for(caller, text, field, expand_adapter)
    if ref.base_is_hub and ask_hub:
        check_hub_model(caller, ref.base, field)  # org/name@REV: the Hub is asked for that revision
    return ref


def nobody() -> Caller:
    """Who a page is built for before anyone asks: off a Space the local user; on a Space a visitor with nothing
    of their own (the owner's shared artifacts only)."""
    return local() if not get_settings().on_space else Caller(ANONYMOUS, session="")


def artifact_value(caller: Caller, folder) -> str:
    """How a picker names an artifact: its folder name on a Space (never a server path), its path off one."""
    folder = Path(folder)
    return folder.name if get_settings().on_space else str(folder)


def shown_to(caller: Caller, repo_id: str) -> bool:
    """Whether a Hub model on this machine may be named to the caller without asking the Hub: always for the owner
    (and off a Space) and for the bundled model; for a visitor, once the Hub has shown it to them (check_hub_model).
    The cache holds what the owner downloaded, private models too: their names are not listed to visitors."""
    if caller.is_owner or not get_settings().on_space or is_bundled(repo_id):
        return True
    with _seen_lock:
        return _seen.get(_key(caller, repo_id), 0) > time.monotonic()


def hub_models_offline(caller: Caller | None = None) -> list[str]:
    """Hub ids usable without downloading: the bundled default and the Hugging Face cache (those `caller` may be
    shown: see shown_to)."""
    caller = caller or local()
    return [m for m in available_offline() if is_repo_id(m) and not Path(m).is_absolute() and shown_to(caller, m)]


def model_artifacts(caller: Caller, kinds=MODEL_KINDS) -> list[dict]:
    """The caller's own and shared model, adapter and merge artifacts (their manifests)."""
    return [m for m in visible_artifacts(caller) if m.get("kind") in kinds]


def offline_names(caller: Caller) -> list[str]:
    """Models usable offline as this caller may name them: Hub ids, then their artifacts."""
    arts = [artifact_value(caller, m["path"]) for m in model_artifacts(caller)
            if (Path(m["path"]) / "config.json").is_file()]
    return list(dict.fromkeys(hub_models_offline(caller) + arts))


def model_choices(caller=None) -> list[tuple[str, str]]:
    """(label, ref) for the pickers: Hub models available offline (bundled, cached), then the caller's own and
    shared adapters, models and merges; on a Space named by folder name, a value the visitor can send back."""
    caller = caller or nobody()
    out = [(ref, ref) for ref in hub_models_offline(caller)]
    for art in model_artifacts(caller):
        value = artifact_value(caller, art["path"])
        if value not in {r for _, r in out}:
            out.append((f"{art.get('name') or Path(art['path']).name} ({art['kind']})", value))
    return out
