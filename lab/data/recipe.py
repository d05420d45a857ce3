"""FilterRecipe: the sources and the ordered, switchable filter steps of a data run, round-tripped through YAML.

The steps' settings and their registry live in lab.data.step_specs. The help text of every field lives once,
in its Field description; the Data tab shows it as info=.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lab.data.step_specs import (  # noqa: F401 (re-exported: recipes name their steps through this module)
    DEFAULT_REFUSALS, EMBED_MODEL, STEP_CLASSES, STEP_TYPES, ExactDedup, FuzzyDedup, Refusals, Step, describe,
    make_step)
from lab.repo_id import is_hub_id
from lab.validation import Recipe



class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field("", description="A local data file: .jsonl, .json, .csv or .parquet.")
    hub: str = Field("", description="A Hub dataset id such as 'user/name' (instead of a file).")
    config: str = Field("", description="The Hub dataset's configuration (subset); empty for the default one.")
    split: str = Field("train", description="Which split of the Hub dataset to read.")
    revision: str = Field("", description="A Hub branch, tag or commit; empty for the latest.")
    format: str = Field("auto", description="auto detects the layout; or name it: alpaca, sharegpt, openai, "
                        "sharegpt_preference, preference, prompt_completion.")
    columns: dict[str, str] = Field(default_factory=dict, description="Column mapping: the format's field -> "
                                    "this dataset's column, for datasets whose column names differ.")
    limit: int | None = Field(None, ge=1, description="Read only the first N rows (empty or 0: all of them).")
    name: str = Field("", description="The value of the `source` column (empty: the file name or Hub id).")

    @model_validator(mode="after")
    def _one_place(self):
        if bool(self.path) == bool(self.hub):
            raise ValueError("give either a file path or a Hub dataset id, not both or neither")
        if self.hub and not is_hub_id(self.hub):  # datasets would read a local folder (or file) of that name
            raise ValueError("hub: not a Hub dataset id; give one such as 'user/name' (files go in the file field)")
        for name in ("config", "split", "revision"):
            value = getattr(self, name)
            if len(value) > 200 or any(ord(c) < 32 for c in value):
                raise ValueError(f"{name}: at most 200 characters, and no control characters")
        return self

    @property
    def label(self) -> str:
        return self.name or self.hub or Path(self.path).name


def default_steps() -> list:
    return [cls() for cls in STEP_CLASSES if cls.on_by_default]


class FilterRecipe(Recipe):
    START: ClassVar[str] = "Start from a recipe the Data tab exported."
    FILE_FIX: ClassVar[str] = "Give the path of a recipe.yaml the Data tab exported."

    sources: list[Source] = Field(min_length=1, description="Datasets to combine; each row keeps its `source`.")
    steps: list[Step] = Field(default_factory=default_steps, description="Filter steps, run in this order.")
    form: Literal["auto", "messages", "prompt_completion"] = Field(
        "auto", description="SFT output form: messages (a conversation) or prompt/completion (TRL then trains on "
                            "the completion only). auto keeps the sources' form. Preference rows stay "
                            "prompt/chosen/rejected.")
    name: str = Field("", description="Name of the exported dataset artifact (empty: a dated name).")



