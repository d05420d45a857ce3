"""A reward as a recipe names it: NAME[:PARAM][@WEIGHT], plus options for the judge.

This module stays light (no torch, no models): TrainRecipe validates its rewards with it, the form and the
CLI write them as lines (`format:<answer>.*</answer>@0.5`), YAML as objects. What each name computes lives
in the sibling modules; build() in the package turns specs into the functions GRPO calls.
"""
from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lab import safe_regex

# name -> (what it scores, what PARAM is). The form's help and the errors read this.
NAMES: dict[str, tuple[str, str]] = {
    "format": ("1 when the completion matches a regular expression, else 0",
               "the regex (required; RE2 syntax: no backreferences or lookarounds)"),
    "tags": ("the share of required tag pairs present, e.g. <think>…</think><answer>…</answer>",
             "tag names, comma separated (default: answer)"),
    "exact": ("1 when the answer (inside <answer>…</answer> when present) equals the reference after "
              "normalisation (case, spaces, end punctuation)", "the reference column (default: answer)"),
    "math": ("1 when math-verify finds the answer equivalent to the reference (numbers, fractions, LaTeX)",
             "the reference column (default: answer)"),
    "length": ("1 at the target length in tokens, falling linearly to 0 at 0 and twice the target",
               "the target in tokens (required)"),
    "too_long": ("0 up to the limit, then a penalty growing to -1 at twice the limit",
                 "the limit in tokens (required)"),
    "reward_model": ("the score of a sequence-classification reward model (Hub id or lab artifact)",
                     "the model (required)"),
    "judge": ("an LLM judge's 1-5 score scaled to 0-1, with the Data tab's judge settings (options)",
              "the rubric; {prompt} and {answer} are filled in (default: the Data tab's rubric)"),
    "python": ("your function reward(prompt, completion, **columns) -> float from a .py file. It runs your "
               "code: only where the lab runs for its owner, never on the public demo", "FILE.py[:FUNCTION]"),
}
REWARD_HELP = "Names: " + "; ".join(f"{n}: {what} (PARAM: {param})" for n, (what, param) in NAMES.items()) + "."
NEEDS_PARAM = {"format", "length", "too_long", "reward_model", "python"}
_WEIGHT = re.compile(r"@([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$")


class RewardSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="What the reward scores: " + ", ".join(NAMES) + ".")
    param: str = Field("", description="The reward's parameter (regex, column, target, model, rubric or file).")
    weight: float = Field(1.0, description="Its weight in the total; negative weights penalise.")
    options: dict = Field(default_factory=dict, description="judge only: the Data tab's judge settings "
                          "(backend, model, endpoint, api_key_env, max_new_tokens).")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in NAMES:
            raise ValueError(f"unknown reward {name!r}; use one of: {', '.join(NAMES)}")
        return name

    @model_validator(mode="after")
    def _param(self):
        if self.name in NEEDS_PARAM and not self.param.strip():
            raise ValueError(f"the {self.name} reward needs a parameter: {NAMES[self.name][1]} "
                             f"(write {self.name}:PARAM)")
        if self.name == "format":  # RE2 (linear time): a LabError naming the field and the fix when it cannot run
            safe_regex.check(self.param, "rewards.format")
        if self.name in ("length", "too_long") and not (self.param.isdigit() and int(self.param) > 0):
            raise ValueError(f"{self.name}:{self.param!r}: give a positive number of tokens")
        if self.options and self.name != "judge":
            raise ValueError(f"only the judge reward takes options, not {self.name}")
        if self.weight != self.weight or abs(self.weight) == float("inf"):
            raise ValueError(f"{self.name}: the weight must be a finite number")
        return self

    @property
    def line(self) -> str:
        """The one-line form: NAME[:PARAM][@WEIGHT] [{options as JSON}]."""
        text = self.name + (f":{self.param}" if self.param else "")
        text += f"@{self.weight:g}" if self.weight != 1.0 else ""
        return text + (" " + json.dumps(self.options, sort_keys=True) if self.options else "")

    @classmethod
    def from_line(cls, line: str) -> "RewardSpec":
        text, options = _split_options(line.strip())
        weight = 1.0
        m = _WEIGHT.search(text)
        if m:
            weight, text = float(m.group(1)), text[:m.start()]
        name, _, param = text.partition(":")
        return cls(name=name.strip(), param=param, weight=weight, options=options)


def _split_options(text: str) -> tuple[str, dict]:
    """A trailing JSON object (after a space) is the options; a regex's own braces stay in the param."""
    if not text.endswith("}"):
        return text, {}
    for m in re.finditer(r" \{", text):
        try:
            options = json.loads(text[m.start() + 1:])
        except json.JSONDecodeError:
            continue
        if isinstance(options, dict):
            return text[:m.start()].rstrip(), options
    return text, {}


def parse_rewards(value) -> list:
    """Lines of text (the form), a list of lines (the CLI's repeated --reward) or of objects (YAML)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.splitlines()
    return [RewardSpec.from_line(v) if isinstance(v, str) else v for v in value if not isinstance(v, str)
            or v.strip()]


def rewards_text(specs: list) -> str:
    return "\n".join(RewardSpec.model_validate(s).line for s in specs)


def unique_names(specs: list) -> list[str]:
    """Names as the curves show them: format, exact, … with _2, _3 for repeats."""
    seen: dict[str, int] = {}
    out = []
    for s in specs:
        seen[s.name] = seen.get(s.name, 0) + 1
        out.append(s.name if seen[s.name] == 1 else f"{s.name}_{seen[s.name]}")
    return out
