"""LLM-as-a-judge: a rubric in, a 1-5 score out, from a local chat model or an OpenAI-compatible endpoint.

Replies are parsed robustly ("Score: 4", "4/5", "[[4]]", {"score": 4}, a bare "4"); a reply with no score
in range is unscored (None), never a crash.
"""
from __future__ import annotations

import json
import os
import re

from lab.errors import LabError

_PATTERNS = [
    re.compile(r"\b(?:score|rating|grade)\b\W{0,3}(?:is|of|=)?\W{0,3}([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE),
    re.compile(r"\[\[\s*([0-9]+(?:\.[0-9]+)?)\s*\]\]"),
    re.compile(r"\b([0-9]+(?:\.[0-9]+)?)\s*(?:/|out of)\s*5\b", re.IGNORECASE),
]
_BARE = re.compile(r"^\W*([0-9]+(?:\.[0-9]+)?)\W*$")


def _in_range(text: str) -> float | None:
    value = float(text)
    return value if 1 <= value <= 5 else None


def parse_score(reply) -> float | None:
    """The 1-5 score in a judge's reply, or None when there is none (or it is out of range)."""
    if not isinstance(reply, str) or not reply.strip():
        return None
    text = reply.strip()
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("score"), (int, float, str)):
            return _in_range(str(data["score"]))
    except (json.JSONDecodeError, ValueError):
        pass
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if match:
            return _in_range(match.group(1))
    match = _BARE.match(text)
    return _in_range(match.group(1)) if match else None


def judge_prompt(rubric: str, prompt: str, answer: str) -> str:
    # replace(), not format(): the row's own text may hold braces
    return rubric.replace("{prompt}", prompt).replace("{answer}", answer)


class LocalJudge:
    """A local chat model (the bundled one by default), greedy decoding, batched with left padding."""

    def __init__(self, ref: str, max_new_tokens: int, token: str | None = None, log=print):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from lab.models import resolve

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
        import torch

        texts = [self.tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                              add_generation_prompt=True) for p in prompts]
        batch = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        with torch.no_grad():
            out = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=self.tok.pad_token_id)
        return self.tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)


class EndpointJudge:
    """An OpenAI-compatible chat completions endpoint (HF Inference Providers, vLLM, TGI, OpenAI...)."""

    def __init__(self, endpoint: str, model: str, max_new_tokens: int, api_key_env: str = "",
                 token: str | None = None):
        key = os.environ.get(api_key_env, "") if api_key_env else (token or "")
        if api_key_env and not key:
            raise LabError(f"The environment variable {api_key_env} is not set.",
                           "Set it to the endpoint's API key, or leave the field empty to use your HF sign-in.",
                           "judge.api_key_env")
        self.url = endpoint.rstrip("/") + "/chat/completions"
        self.model, self.max_new_tokens = model, max_new_tokens
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}

    def _one(self, client, prompt: str) -> str:
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                "max_tokens": self.max_new_tokens, "temperature": 0}
        resp = client.post(self.url, json=body, headers=self._headers)
        if resp.status_code in (401, 403):
            raise LabError(f"The judge endpoint refused the key (HTTP {resp.status_code}).",
                           "Sign in, or set a valid key in the environment variable you named.", "judge.api_key_env")
        if resp.status_code >= 400:
            return ""  # a failed call counts as unscored; the run goes on
        try:
            return str(resp.json()["choices"][0]["message"]["content"] or "")
        except (ValueError, KeyError, IndexError, TypeError):
            return ""

    def __call__(self, prompts: list[str]) -> list[str]:
        import httpx

        try:
            with httpx.Client(timeout=120) as client:
                return [self._one(client, p) for p in prompts]
        except httpx.HTTPError as exc:
            raise LabError(f"The judge endpoint {self.url} did not answer ({type(exc).__name__}).",
                           "Check the endpoint URL and your connection.", "judge.endpoint") from None


def make_judge(step, token: str | None = None, log=print):
    if step.backend == "openai":
        return EndpointJudge(step.endpoint, step.model, step.max_new_tokens, step.api_key_env, token)
    return LocalJudge(step.model, step.max_new_tokens, token, log)
