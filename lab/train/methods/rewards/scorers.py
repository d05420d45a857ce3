"""Rewards that ask a model: a reward model (the Data tab's scorer) and an LLM judge (the Data tab's judge).

Both load their model on first use and score a whole batch at once. The judge's settings are the Data tab's
Judge step (backend, model, endpoint, key variable, rubric, reply length), validated by that same model.
"""
from __future__ import annotations

from pydantic import ValidationError

from lab.data.judge import judge_prompt, make_judge, parse_score
from lab.data.scoring import RewardModel, check_reward_model
from lab.data.step_specs import Judge
from lab.errors import LabError
from lab.train.methods.rewards.text import Sample


def _conversation(s: Sample) -> list[dict]:
    return [{"role": "user", "content": s.prompt}, {"role": "assistant", "content": s.completion}]


class RewardModelScore:
    def __init__(self, ref: str, token: str | None = None, log=print, max_length: int = 1024):
        self.ref, self.token, self.log, self.max_length = ref, token, log, max_length
        self._model = None

    def check(self) -> None:
        check_reward_model(self.ref, self.token)  # config.json only: a causal LM is refused before any load

    def score_batch(self, samples: list[Sample]) -> list[float]:
        if self._model is None:
            self._model = RewardModel(self.ref, self.max_length, self.token, self.log)
        scores, _ = self._model([_conversation(s) for s in samples])
        return scores


def judge_settings(rubric: str, options: dict):
    """The Data tab's Judge step from a reward's rubric and options (its validation, its defaults)."""
    data = {**options, **({"rubric": rubric} if rubric.strip() else {}), "enabled": True}
    try:
        return Judge.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise LabError(f"The judge reward's settings are invalid: {err.get('msg')} "
                       f"({'.'.join(map(str, err.get('loc', ())))}).",
                       "Use the Data tab's judge fields: backend, model, endpoint, api_key_env, rubric, "
                       "max_new_tokens.", "rewards") from None


class JudgeScore:
    """1-5 from the judge, scaled to 0-1; a reply without a score is unscored (None), not 0."""

    def __init__(self, rubric: str = "", options: dict | None = None, token: str | None = None, log=print):
        self.settings = judge_settings(rubric, options or {})
        self.token, self.log = token, log
        self._judge = None

    def score_batch(self, samples: list[Sample]) -> list[float | None]:
        if self._judge is None:
            self._judge = make_judge(self.settings, self.token, self.log)
        replies = self._judge([judge_prompt(self.settings.rubric, s.prompt, s.completion) for s in samples])
        scores = [parse_score(r) for r in replies]
        return [None if v is None else (v - 1) / 4 for v in scores]
