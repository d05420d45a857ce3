"""The reward library for GRPO: named rewards with parameters, composed with weights.

    specs = [RewardSpec.from_line("format:<answer>.*</answer>"), RewardSpec.from_line("exact@2")]
    rewards = build(specs, on_error="stop")     # GuardedReward objects, as GRPOTrainer's reward_funcs
"""
from __future__ import annotations

from lab.errors import LabError
from lab.train.methods.rewards import scorers, text, user_code
from lab.train.methods.rewards.guard import GuardedReward, SampleBook, text_of
from lab.train.methods.rewards.spec import NAMES, RewardSpec, parse_rewards, rewards_text, unique_names

__all__ = ["NAMES", "RewardSpec", "GuardedReward", "SampleBook", "build", "make", "parse_rewards",
           "rewards_text", "unique_names", "text_of", "columns_needed", "check"]


def make(spec: RewardSpec, token: str | None = None, log=print):
    """The object that scores one reward (loads nothing yet)."""
    simple = {"format": text.Format, "tags": text.Tags, "exact": text.Exact, "math": text.Math,
              "length": text.Length, "too_long": text.TooLong}
    if spec.name in simple:
        return simple[spec.name](spec.param)
    if spec.name == "reward_model":
        return scorers.RewardModelScore(spec.param, token, log)
    if spec.name == "judge":
        return scorers.JudgeScore(spec.param, spec.options, token, log)
    return user_code.PythonReward(spec.param)


def columns_needed(specs: list[RewardSpec]) -> dict[str, str]:
    """reference column -> the reward that reads it (exact and math compare against a column)."""
    return {(s.param or "answer"): s.name for s in specs if s.name in ("exact", "math")}


def check(specs: list[RewardSpec], columns: list[str], token: str | None = None) -> None:
    """Before anything loads: the columns the rewards read exist; reward models are reward models; python
    rewards are allowed here and their files exist."""
    for column, name in columns_needed(specs).items():
        if column not in columns:
            raise LabError(f"The {name} reward compares against the {column!r} column, which this dataset lacks "
                           f"(its columns: {', '.join(columns) or 'none'}).",
                           f"Add a {column!r} column with the reference answers, or name another column as "
                           f"{name}:COLUMN.", "rewards")
    for spec in specs:
        obj = make(spec, token)
        if hasattr(obj, "check"):
            obj.check()


def build(specs: list[RewardSpec], on_error: str = "stop", book: SampleBook | None = None,
          token: str | None = None, log=print) -> list[GuardedReward]:
    return [GuardedReward(name, make(spec, token, log), on_error, book, log)
            for name, spec in zip(unique_names(specs), specs)]
