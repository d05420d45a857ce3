"""What GRPO calls: each reward wrapped so that an error names its sample, and every score is recorded.

TRL calls each reward function with the prompts and completions of a generation batch. A GuardedReward turns
TRL's conversational rows into Samples, scores them (per sample, or in one batch for model-based rewards),
and on an error either stops the run with the sample and the traceback or, with reward_errors "skip", leaves
that sample unscored (NaN to TRL) and counts it. The shared SampleBook keeps the latest batch's texts and
scores for the table of sample completions.
"""
from __future__ import annotations

import traceback

from lab.errors import LabError
from lab.train.methods.rewards.text import Sample

_TRL_KWARGS = {"trainer_state", "log_extra", "log_metric", "environments", "completion_ids"}


def text_of(value) -> str:
    """A prompt or completion as text: the last message's content for conversational rows."""
    if isinstance(value, list):
        return str(value[-1].get("content", "")) if value else ""
    return str(value)


class RewardFailed(LabError):
    pass


class SampleBook:
    """The scores of the latest generation batch, reward by reward, for the completions table."""

    def __init__(self):
        self.batch_key = None
        self.samples: list[Sample] = []
        self.scores: dict[str, list] = {}

    def record(self, key, samples: list[Sample], name: str, scores: list) -> None:
        if key != self.batch_key:
            self.batch_key, self.samples, self.scores = key, samples, {}
        self.scores[name] = list(scores)

    def rows(self, weights: dict[str, float], limit: int) -> list[dict]:
        out = []
        for i, s in enumerate(self.samples[:limit]):
            scores = {name: values[i] for name, values in self.scores.items()}
            total = sum(weights.get(n, 1.0) * v for n, v in scores.items() if v is not None)
            out.append({"prompt": s.prompt, "completion": s.completion, "rewards": scores, "total": total})
        return out


class GuardedReward:
    def __init__(self, name: str, reward, on_error: str = "stop", book: SampleBook | None = None, log=print):
        self.__name__ = name  # TRL names the reward's curves after it
        self.reward, self.on_error, self.book, self.log = reward, on_error, book, log
        self.errors = 0
        self.last_error = ""

    def __call__(self, prompts, completions, completion_ids=None, **columns):
        cols = {k: v for k, v in columns.items() if k not in _TRL_KWARGS}
        samples = [Sample(text_of(p), text_of(c), len(completion_ids[i]) if completion_ids is not None else 0,
                          {k: v[i] for k, v in cols.items()}) for i, (p, c) in enumerate(zip(prompts, completions))]
        scores = self.score(samples)
        if self.book is not None:
            self.book.record(id(completions), samples, self.__name__, scores)
        return scores

    def score(self, samples: list[Sample]) -> list[float | None]:
        if hasattr(self.reward, "score_batch"):
            try:
                return list(self.reward.score_batch(samples))
            except LabError:
                raise
            except Exception:  # noqa: BLE001 - find the sample at fault, one by one
                return [self._one(s, lambda x: self.reward.score_batch([x])[0]) for s in samples]
        return [self._one(s, self.reward.score) for s in samples]

    def _one(self, sample: Sample, fn):
        try:
            return fn(sample)
        except LabError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's choice: stop with the sample, or skip and count
            return self._failed(sample, exc)

    def _failed(self, sample: Sample, exc: Exception):
        trace = traceback.format_exc(limit=8)
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.on_error == "skip":
            if self.errors in (1, 10, 100) or self.errors % 1000 == 0:
                self.log(f"warning: reward {self.__name__!r} raised on {self.errors} sample(s) so far, skipped "
                         f"(last: {self.last_error}).")
            return None
        raise RewardFailed(f"The reward {self.__name__!r} raised {self.last_error} on this sample:\n"
                           f"prompt: {sample.prompt[:500]!r}\ncompletion: {sample.completion[:500]!r}\n{trace}",
                           "Fix the reward (or its column), or set reward_errors to skip to leave such samples "
                           "unscored.", "rewards")
