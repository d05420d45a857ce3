"""Judged open answers: lm-eval generated the answers; a judge (the Data tab's: a local chat model or an
OpenAI-compatible endpoint) scores them.

single:   each answer rated 1–10 against the rubric; the score is the mean rating.
pairwise: each answer against the reference model's, asked twice with the positions swapped (position bias
          cancels); a win is 1, a tie or a split verdict 0.5; the score is the mean.
A call that fails or is rate-limited is retried with exponential backoff; an item still without a verdict is
unscored (None): it never becomes a score, and the entry holding it is never cached.
"""
from __future__ import annotations

import math
import re
import time

from lab.access import Caller
from lab.data.judge import make_judge, parse_score
from lab.data.judge_policy import acting_caller, check_judge
from lab.eval.recipe import JudgeSettings

_VERDICT = re.compile(r"\[\[\s*([ABC])\s*\]\]")
GIVE_UP_AFTER = 3  # consecutive items that failed every retry: the judge is down, stop calling it


def fill(template: str, **values: str) -> str:
    for k, v in values.items():  # replace(), not format(): answers may hold braces
        template = template.replace("{" + k + "}", v)
    return template


def verdict(reply: str | None) -> str | None:
    if not reply:
        return None
    match = _VERDICT.search(reply)
    if match:
        return match.group(1)
    bare = reply.strip().strip(".*[]").upper()
    return {"A": "A", "B": "B", "C": "C", "TIE": "C"}.get(bare)


class Asker:
    """Sends judge prompts; a reply of None means no verdict after every retry. `caller` is who the judge acts for
    (None: inside the eval job's worker, whose job it is) and `key` the API key they typed (None in a worker: the
    one its submitter typed, LAB_JUDGE_API_KEY); lab.data.judge_policy says what they may use."""

    def __init__(self, settings: JudgeSettings, token: str | None = None, log=print, sleep=time.sleep,
                 caller: Caller | None = None, key: str | None = None):
        self.settings, self.log, self.sleep = settings, log, sleep
        self.judge = make_judge(settings, token, log, caller, key)
        self.failed_in_a_row = 0

    def __call__(self, prompts: list[str]) -> list[str | None]:
        if self.settings.backend == "local":
            out = []
            for i in range(0, len(prompts), 8):
                out += self.judge(prompts[i:i + 8])
            return out
        return [self._endpoint(p) for p in prompts]

    def _endpoint(self, prompt: str) -> str | None:
        if self.failed_in_a_row >= GIVE_UP_AFTER:
            return None
        wait = self.settings.backoff_s
        for attempt in range(self.settings.retries + 1):
            reply, why, after = self.judge.attempt(prompt)  # a refused key raises: no retry helps
            if reply is not None:
                self.failed_in_a_row = 0
                return reply
            if attempt < self.settings.retries:
                pause = min(60.0, after if after is not None else wait)
                self.log(f"judge: {why}; retrying in {pause:.1f} s")
                self.sleep(pause)
                wait *= 2
        self.failed_in_a_row += 1
        return None


def single(ask: Asker, rows: list[dict], samples: list[dict]) -> list[float | None]:
    prompts = [fill(ask.settings.text, prompt=rows[s["id"]]["prompt"], reference=rows[s["id"]]["reference"],
                    answer=s.get("reply", "")) for s in samples]
    return [parse_score(r, top=10) for r in ask(prompts)]


def pairwise(ask: Asker, rows: list[dict], samples: list[dict], reference: dict[int, str]) -> list[float | None]:
    prompts = []
    for s in samples:
        p, mine, theirs = rows[s["id"]]["prompt"], s.get("reply", ""), reference.get(s["id"], "")
        prompts += [fill(ask.settings.text, prompt=p, answer_a=mine, answer_b=theirs),
                    fill(ask.settings.text, prompt=p, answer_a=theirs, answer_b=mine)]
    replies = ask(prompts)
    out = []
    for first, second in zip(replies[::2], replies[1::2]):
        a, b = verdict(first), verdict(second)
        if a is None or b is None:
            out.append(None)
            continue
        points = {"A": 1.0, "B": 0.0, "C": 0.5}
        out.append((points[a] + (1.0 - points[b])) / 2)  # in the second order the candidate is B
    return out


def score_entry(entry: dict, task: str, values: list[float | None]) -> dict:
    """Put the verdicts into a task's cache entry: per-item values, the mean score and its stderr."""
    samples = entry["samples"][task]
    for s, v in zip(samples, values):
        s["value"], s["correct"] = v, None
    got = [v for v in values if v is not None]
    mean = sum(got) / len(got) if got else math.nan
    var = sum((v - mean) ** 2 for v in got) / (len(got) - 1) if len(got) > 1 else 0.0
    entry["scores"][task] = {"score": mean, "score_stderr": math.sqrt(var / len(got)) if got else math.nan}
    entry["metric"], entry["unscored"] = "score", len(values) - len(got)
    return entry


def check(settings: JudgeSettings, caller: Caller | None = None) -> None:
    """Before anything loads: what `caller` may not have the judge do is refused (an api_key_env is the owner's
    only, and must be set; an endpoint goes through the outbound policy; a local judge model through
    lab.models.ref.parse_for). No caller: inside the eval job's worker, whose job it is; in the app on a Space, a
    call that does not say who asks is checked as an anonymous visitor's."""
    check_judge(settings, acting_caller(caller))
