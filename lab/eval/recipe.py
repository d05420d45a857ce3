"""EvalRecipe: which models, on which tasks, with which settings; validated, round-tripped through YAML.

A task is a custom benchmark (a data file or a Hub dataset, turned into an lm-eval task YAML), an lm-eval task
name (arc_easy, gsm8k, …) or a named suite ("nous", "leaderboard_v2"). The help text of every field lives here.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lab.data.step_specs import Judge as DataJudge
from lab.settings import DEFAULT_MODEL
from lab.validation import Recipe

MAX_MODELS = 6
SINGLE_RUBRIC = (
    "You are grading an assistant's answer to a user's request. Rate it from 1 to 10: 10 is correct, complete, "
    "helpful and well written; 5 is partly correct; 1 is wrong, harmful, off-topic or a refusal.\n\n"
    "Request:\n{prompt}\n\nReference answer (may be empty):\n{reference}\n\nAnswer to grade:\n{answer}\n\n"
    "Reply with the rating only, as 'Rating: N'.")
PAIR_RUBRIC = (
    "Two assistants answered the same user request. Which answer is better: more correct, complete and helpful?"
    "\n\nRequest:\n{prompt}\n\nAnswer A:\n{answer_a}\n\nAnswer B:\n{answer_b}\n\n"
    "Reply with exactly one of: [[A]], [[B]] or [[C]] for a tie.")


def _desc(name: str) -> str:
    return DataJudge.model_fields[name].description or ""


class JudgeSettings(BaseModel):
    """The judge of open answers: the Data tab's judge settings, plus the grading mode."""
    model_config = ConfigDict(extra="forbid")
    backend: Literal["local", "openai"] = Field("local", description=_desc("backend"))
    model: str = Field(DEFAULT_MODEL, description=_desc("model"))
    endpoint: str = Field("", description=_desc("endpoint"))
    api_key_env: str = Field("", description=_desc("api_key_env"))
    mode: Literal["single", "pairwise"] = Field(
        "single", description="single: each answer is rated 1–10 against the rubric (MT-Bench style); the score "
        "is the mean rating. pairwise: each answer is compared with the reference model's answer twice, positions "
        "swapped to cancel position bias; the score is the win rate (a tie counts half).")
    rubric: str = Field("", description="The judge's instructions. single: {prompt}, {answer} and {reference} are "
                        "filled in, and the reply must hold a rating from 1 to 10. pairwise: {prompt}, {answer_a} "
                        "and {answer_b}; the reply names [[A]], [[B]] or [[C]] (tie). Empty: the built-in rubric.")
    reference_model: str = Field("", description="pairwise: the model every answer is compared with (a Hub id, "
                                 "folder or BASE+ADAPTER). Empty: the first model of the job.")
    max_new_tokens: int = Field(32, ge=1, le=1024, description="Length of the judge's reply.")
    retries: int = Field(4, ge=0, le=10, description="How often a failed or rate-limited judge call is retried, "
                         "with exponential backoff, before the item counts as unscored.")
    backoff_s: float = Field(1.0, ge=0, le=60, description="The first retry's wait in seconds; each retry doubles it.")

    @model_validator(mode="after")
    def _check(self):
        if self.backend == "openai" and not self.endpoint.startswith(("http://", "https://")):
            raise ValueError("endpoint: give the API's base URL, e.g. https://router.huggingface.co/v1")
        need = ("{answer}",) if self.mode == "single" else ("{answer_a}", "{answer_b}")
        if self.rubric and not all(k in self.rubric for k in need):
            raise ValueError(f"rubric: a {self.mode} rubric must contain {' and '.join(need)}")
        return self

    @property
    def text(self) -> str:
        return self.rubric or (SINGLE_RUBRIC if self.mode == "single" else PAIR_RUBRIC)

    def key(self) -> dict:
        """What decides a verdict (the cache key): not the retry policy."""
        return self.model_dump(exclude={"retries", "backoff_s", "api_key_env"}) | {"rubric": self.text}


class CustomTask(BaseModel):
    """A benchmark from the user's own rows."""
    model_config = ConfigDict(extra="forbid")
    path: str = Field("", description="A .jsonl, .json, .csv or .parquet file of eval items.")
    hub: str = Field("", description="A Hub dataset id (instead of a file).")
    config: str = Field("", description="The Hub dataset's configuration (subset); empty for the default.")
    split: str = Field("test", description="The Hub dataset's split to evaluate on.")
    name: str = Field("", description="The task's name in lm-eval and on the leaderboard (default: the file's "
                      "name). Letters, digits and underscores.")
    kind: Literal["auto", "multiple_choice", "exact_match", "judge"] = Field(
        "auto", description="auto reads the columns: question + choices + answer is multiple choice (scored by "
        "log-likelihood, metric acc); prompt + answer is exact match (the model generates, metric exact_match); "
        "prompt alone (or with reference) is judged by an LLM (metric score).")
    ignore_case: bool = Field(True, description="Exact match: 'Rome' equals 'rome'.")
    ignore_punctuation: bool = Field(True, description="Exact match: punctuation is dropped before comparing "
                                     "('Rome.' equals 'Rome').")
    regex: str = Field("", description="Exact match: a regular expression that extracts the answer from the "
                       "reply (its first group if it has one, else the whole match), e.g. 'answer is (\\w+)'. "
                       "RE2 syntax (no backreferences or lookarounds): it runs in linear time. Empty compares the "
                       "whole reply.")
    extract: Literal["whole", "last_number", "first_line", "regex"] = Field(
        "whole", description="Exact match: what of the reply is compared with the answer. whole: the reply's first "
        "line as it is; last_number: the last number in the reply ('A week is 7 days.' gives 7); first_line: the "
        "first non-empty line of a reply that may run over a few lines; regex: what the regex below extracts. "
        "The exported lm-eval task carries the same filter, so lm_eval scores it the same.")
    max_gen_toks: int = Field(0, ge=0, le=4096, description="Longest generated answer in tokens (0: 32 for exact "
                              "match, 256 for judged answers).")

    @model_validator(mode="after")
    def _one_place(self):
        if bool(self.path) == bool(self.hub):
            raise ValueError("give either a file path or a Hub dataset id, not both or neither")
        if self.regex and self.extract == "whole":  # a regex alone (recipes before `extract`) extracts with it
            object.__setattr__(self, "extract", "regex")
        if self.extract == "regex" and not self.regex:
            raise ValueError("regex: extract 'regex' needs a regex (or pick whole, last_number or first_line)")
        return self

    @property
    def label(self) -> str:
        return self.hub or Path(self.path).name


class EvalRecipe(Recipe):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    START: ClassVar[str] = "Start from `python -m lab eval --help`."
    FILE_FIX: ClassVar[str] = "Give the path of an eval recipe YAML."
    models: list[str] = Field(default_factory=lambda: [DEFAULT_MODEL], min_length=1, max_length=MAX_MODELS,
                              description="1 to 6 models, run on the same tasks: a Hub id, the bundled model, a "
                              "local folder (a merge), or BASE+ADAPTER. The first is the base every delta is "
                              "measured against; adapters of one base share it in memory.")
    tasks: list[str] = Field(default_factory=list, description="lm-eval task names (arc_easy, gsm8k, "
                             "mmlu_anatomy, …), suites (nous, leaderboard_v2), or data files / Hub datasets "
                             "that become custom tasks.")
    custom: list[CustomTask] = Field(default_factory=list, description="Custom benchmarks with their settings.")
    limit: int | None = Field(None, ge=1, description="Evaluate only the first N items of each task (a quick "
                              "look; scores on few items have wide error bars). Empty: every item.")
    num_fewshot: int | None = Field(None, ge=0, le=25, description="Solved examples put before each question. "
                                    "Empty: each task's own default (0 for custom tasks).")
    chat_template: Literal["auto", "on", "off"] = Field(
        "auto", description="Wrap prompts in the model's chat template, as lm-eval's --apply_chat_template does. "
        "auto: on for models that have one (instruct models).")
    batch_size: int = Field(8, ge=1, le=512, description="Requests per forward pass. Larger is faster until "
                            "memory runs out; scores do not depend on it beyond float rounding.")
    judge: JudgeSettings = Field(default_factory=JudgeSettings, description="How judged open answers are scored.")
    contamination: bool = Field(True, description="Before evaluating, count the items whose 13-word sequences "
                                "appear in the training data of each model's lineage.")
    use_cache: bool = Field(True, description="Reuse results of the same model content, task and settings.")

    @model_validator(mode="after")
    def _check(self):
        if not self.tasks and not self.custom:
            raise ValueError("tasks: name at least one task (an lm-eval task, a suite, or a data file)")
        if len(set(self.models)) != len(self.models):
            raise ValueError("models: a model is listed twice")
        return self



def describe(field: str, model: type[BaseModel] = EvalRecipe) -> str:
    """The help text of one field (the UI's info=)."""
    return model.model_fields[field].description or ""
