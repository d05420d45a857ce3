"""LLM-as-a-judge: a rubric in, a 1-5 score out, from a local chat model or an OpenAI-compatible endpoint.

Replies are parsed robustly ("Score: 4", "4/5", "[[4]]", {"score": 4}, a bare "4"); a reply with no score
in range is unscored (None), never a crash. A call that fails is not a reply: it is retried, then stops the run.
Who may use which judge, with which key, is lab.data.judge_policy's to say.
"""
from __future__ import annotations

import json
import re
import time

import httpx

from lab import outbound
from lab.access import Caller, local
from lab.data.judge_policy import (  # noqa: F401 (hub_endpoint: re-exported)
    acting_caller, check_judge, completions_url, endpoint_key, hub_endpoint, typed_key)
from lab.errors import LabError
from lab.models import resolve

_PATTERNS = [
    re.compile(r"\b(?:score|rating|grade)\b\W{0,3}(?:is|of|=)?\W{0,3}([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE),
    re.compile(r"\[\[\s*([0-9]+(?:\.[0-9]+)?)\s*\]\]"),
]
_OUT_OF = r"\b([0-9]+(?:\.[0-9]+)?)\s*(?:/|out of)\s*{top}\b"
_BARE = re.compile(r"^\W*([0-9]+(?:\.[0-9]+)?)\W*$")


def _in_range(text: str, top: int) -> float | None:
    value = float(text)
    return value if 1 <= value <= top else None


def parse_score(reply, top: int = 5) -> float | None:
    """The 1-`top` score in a judge's reply, or None when there is none (or it is out of range)."""
    if not isinstance(reply, str) or not reply.strip():
        return None
    text = reply.strip()
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("score"), (int, float, str)):
            return _in_range(str(data["score"]), top)
    except (json.JSONDecodeError, ValueError):
        pass
    for pattern in [*_PATTERNS, re.compile(_OUT_OF.format(top=top), re.IGNORECASE)]:
        match = pattern.search(text)
        if match:
            return _in_range(match.group(1), top)
    match = _BARE.match(text)
    return _in_range(match.group(1), top) if match else None


def judge_prompt(rubric: str, prompt: str, answer: str) -> str:
    # replace(), not format(): the row's own text may hold braces
    return rubric.replace("{prompt}", prompt).replace("{answer}", answer)


class LocalJudge:
    """A local chat model (the bundled one by default), greedy decoding, batched with left padding."""

    def __init__(self, ref: str, max_new_tokens: int, token: str | None = None, log=print):
        import torch  # heavy: torch
        from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy: transformers

        folder = resolve(ref, token=token, log=log)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False, padding_side="left")
        if not getattr(self.tok, "chat_template", None):
            raise LabError(f"{ref} has no chat template, so it cannot act as a judge.",
                           "Pick an instruct (chat) model as the judge.", "judge.model")
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, trust_remote_code=False,
                                                          use_safetensors=True).to(self.device).eval()
        self.max_new_tokens = max_new_tokens

    def __call__(self, prompts: list[str]) -> list[str]:
        import torch  # heavy: torch

        texts = [self.tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                              add_generation_prompt=True) for p in prompts]
        batch = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        with torch.no_grad():
            out = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=self.tok.pad_token_id)
        return self.tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)


RETRY_WAITS_S = (1.0, 2.0, 4.0, 8.0)  # between tries of one call; a Retry-After header (up to 60 s) wins
TIMEOUT_S = 120.0


class EndpointJudge:
    """An OpenAI-compatible chat completions endpoint (HF Inference Providers, vLLM, TGI, OpenAI...), called through
    the outbound policy (lab.outbound) for `caller`. A failed call (HTTP 429, 5xx, a dropped connection) is tried
    again after a wait; one that still fails stops the run, and is never saved as a score: a re-run asks again.
    `key` is the one lab.data.judge_policy.endpoint_key chose (empty: no Authorization header at all). What an
    endpoint answered (its status, its body) is told to the owner and to signed-in visitors, never to an anonymous
    one: to them a failure is only a failure."""

    def __init__(self, endpoint: str, model: str, max_new_tokens: int, key: str = "", caller: Caller | None = None,
                 budget_s: float | None = None):
        self.caller = caller or local()
        self.url = endpoint.rstrip("/")
        self.model, self.max_new_tokens = model, max_new_tokens
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.deadline = time.monotonic() + budget_s if budget_s else None  # a visitor's in-page work is bounded

    def _timeout_s(self) -> float:
        if self.deadline is None:
            return TIMEOUT_S
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise LabError("The judge endpoint took too long for this page, so it stopped. No failed call was saved "
                           "as a score.", "Use a faster endpoint, fewer clusters, or switch the judge off here.",
                           "judge.endpoint")
        return min(TIMEOUT_S, left)

    def _tell(self, detail: str) -> str:
        return detail if self.caller.signed_in else ""

    def _post(self, prompt: str) -> httpx.Response:
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                "max_tokens": self.max_new_tokens, "temperature": 0}
        return outbound.request("POST", completions_url(self.url), self.caller, "judge.endpoint", json=body,
                                headers=self.headers, timeout_s=self._timeout_s())

    def attempt(self, prompt: str) -> tuple[str | None, str, float | None]:
        """One call: (reply, "", None), or (None, why it failed, the Retry-After it asked for). A refused key, or an
        address the lab does not call for this caller, raises: retrying cannot help. (lab.eval retries with its own
        policy.)"""
        try:
            response = self._post(prompt)
        except (httpx.TimeoutException, httpx.TransportError, OSError) as exc:
            return None, self._tell(type(exc).__name__), None
        status = response.status_code
        if status in (401, 403):
            raise LabError("The judge endpoint refused the key" + self._tell(f" (HTTP {status})") + ".",
                           "Type a valid API key into the judge's API key field, or sign in (for a Hugging Face "
                           "endpoint).", "judge.api_key_env")
        if status != 200:
            return None, self._tell(f"HTTP {status}"), _retry_after(response)
        try:
            return str(response.json()["choices"][0]["message"]["content"] or ""), "", None
        except (ValueError, KeyError, IndexError, TypeError):
            return "", "", None  # an answer without a reply: unscored, like a reply without a score

    def _one(self, prompt: str) -> str:
        why = ""
        for wait in (*RETRY_WAITS_S, None):
            reply, why, retry_after = self.attempt(prompt)
            if reply is not None:
                return reply
            if wait is not None:
                pause = retry_after if retry_after is not None else wait
                if self.deadline is not None:
                    pause = min(pause, max(0.0, self.deadline - time.monotonic()))
                time.sleep(pause)
        raise LabError(f"The judge endpoint {self.url} failed{f' ({why})' if why else ''} {len(RETRY_WAITS_S) + 1} "
                       "tries in a row, so the run stopped. No failed call was saved as a score.",
                       "Run it again later: the rows judged so far are cached and not asked again (or lower the "
                       "request rate your endpoint sees).", "judge.endpoint")

    def __call__(self, prompts: list[str]) -> list[str]:
        return [self._one(p) for p in prompts]


def _retry_after(response) -> float | None:
    try:
        return min(60.0, max(0.0, float(response.headers.get("retry-after", ""))))
    except (AttributeError, TypeError, ValueError):
        return None


def make_judge(step, token: str | None = None, log=print, caller: Caller | None = None, key: str | None = None,
               budget_s: float | None = None):
    """The judge a step (or Evaluate's / GRPO's judge settings) asks for, as `caller` may use it. No caller: inside a
    job's worker, whose job it is, with the key its submitter typed (LAB_JUDGE_API_KEY). Refused before anything
    is loaded or called. budget_s: how long an endpoint judge may take in all (work in the app's own process)."""
    who = acting_caller(caller)
    check_judge(step, who)
    if step.backend == "openai":
        secret = endpoint_key(step, who, typed_key(caller, key), token)
        return EndpointJudge(step.endpoint, step.model, step.max_new_tokens, secret, who, budget_s)
    return LocalJudge(step.model, step.max_new_tokens, token if token is not None else who.hub_token(), log)
