"""Who may have a judge call what, with which key: one rule for the Data tab's judge, Evaluate's and GRPO's.

- An endpoint judge calls its URL through the outbound policy (lab.outbound): for a visitor on a Space, https to a
  public address only, checked before any work.
- Its key is, in this order: the environment variable the recipe names (`api_key_env`, the owner's or a local user's
  only: a visitor naming one is refused before any variable is looked up, so no name is an oracle), the key the
  caller typed into the page (held for that request, or for that job's worker as LAB_JUDGE_API_KEY, never stored),
  the caller's own Hugging Face token for a Hugging Face endpoint, or none: no Authorization header at all.
- A local judge model is a model reference like any other (lab.models.usable.model_for).
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit

from lab import outbound
from lab.access import ANONYMOUS, Caller, job_caller
from lab.errors import LabError
from lab.models.usable import model_for
from lab.settings import get_settings, hub_endpoint as lab_hub

JUDGE_KEY_ENV = "LAB_JUDGE_API_KEY"  # how a typed key reaches a job's worker (lab.jobs.submit(secrets=...))
HUB_HOSTS = ("huggingface.co", "hf.space", "huggingface.cloud")
OWNER_ONLY = "Naming an environment variable for the judge's key is for the owner of this Space only."
OWNER_ONLY_FIX = ("Type your API key into the judge's API key field instead (it is used for this run only and never "
                  "saved), or leave both empty for a Hugging Face endpoint (your sign-in is used).")


def _in_worker() -> bool:
    """A job's worker (the job manager sets LAB_OWNER), or the CLI and tests off a Space."""
    return "LAB_OWNER" in os.environ or not get_settings().on_space


def acting_caller(caller: Caller | None) -> Caller:
    """The caller a core function acts for when it was given none: inside a job's worker (LAB_OWNER is set there),
    the CLI or a test off a Space, whose job it is (lab.access.job_caller); in the app on a Space, a call that did not
    say who asks gets what an anonymous visitor gets (it fails closed, never as the owner)."""
    if caller is not None:
        return caller
    if _in_worker():
        return job_caller()
    return Caller(ANONYMOUS, session="unknown")


def typed_key(caller: Caller | None, key: str | None) -> str:
    """The key typed into the page; inside a job's worker (no caller given), the one its submitter typed."""
    if key:
        return key
    return os.environ.get(JUDGE_KEY_ENV, "") if caller is None and _in_worker() else ""


def hub_endpoint(url: str) -> bool:
    """An endpoint of Hugging Face (Inference Providers, Inference Endpoints, a Space, this lab's HF_ENDPOINT)."""
    parts = urlsplit(url or "")
    host, own = (parts.hostname or "").lower(), urlsplit(lab_hub())
    if own.hostname and parts.scheme == own.scheme and parts.netloc.lower() == own.netloc.lower():
        return True
    return parts.scheme == "https" and any(host == h or host.endswith("." + h) for h in HUB_HOSTS)


def completions_url(endpoint: str) -> str:
    return endpoint.rstrip("/") + "/chat/completions"


def check_key_env(settings, caller: Caller) -> None:
    """api_key_env: the owner's (or a local user's) only; refused for anyone else before any lookup."""
    name = getattr(settings, "api_key_env", "") or ""
    if not name or settings.backend != "openai":
        return
    if not caller.is_owner:
        raise LabError(OWNER_ONLY, OWNER_ONLY_FIX, "judge.api_key_env")
    if not os.environ.get(name):
        raise LabError(f"The environment variable {name} is not set.",
                       "Set it to the endpoint's API key, type the key into the API key field, or leave both empty "
                       "to use your HF sign-in.", "judge.api_key_env")


def check_judge(settings, caller: Caller) -> None:
    """Everything about a judge that this caller may not do, refused before any work: a key variable that is not
    theirs to name, an endpoint the lab does not call for them, a judge model they may not use."""
    if settings.backend == "openai":
        check_key_env(settings, caller)
        outbound.checked_address(completions_url(settings.endpoint), caller, "judge.endpoint")
    else:
        model_for(caller, settings.model, "judge.model")


def endpoint_key(settings, caller: Caller, key: str = "", token: str | None = None) -> str:
    """The key an endpoint judge sends (empty: no Authorization header)."""
    check_key_env(settings, caller)
    if getattr(settings, "api_key_env", ""):
        return os.environ[settings.api_key_env]
    if key:
        return key
    if hub_endpoint(settings.endpoint):
        return token or caller.hub_token() or ""
    return ""
