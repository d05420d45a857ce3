"""ExtractRecipe: which model, against which base, how much of each layer's difference to keep, where, and the
Evaluate task that compares the adapter on its base with the full model."""
from __future__ import annotations

from pydantic import Field, model_validator

from lab.validation import Recipe

MAX_RANK = 1024


class ExtractRecipe(Recipe):
    model: str = Field(description="The full model to turn into an adapter: an artifact (a merge, a full "
                                   "fine-tune), a local folder or a Hub id.")
    base: str = Field(description="Its base model (the weights it was fine-tuned or merged from): same layer names "
                                  "and shapes.")
    rank: int | None = Field(None, ge=1, le=MAX_RANK, description=(
        "LoRA rank for every layer: the top singular directions of each layer's difference. 8-64 is usual."))
    energy: float | None = Field(None, gt=0.0, le=1.0, description=(
        "Instead of a rank: per layer, the smallest rank whose singular values keep this share of the "
        "difference's spectral energy (sum of squares), e.g. 0.9. `rank` then caps it, if given."))
    out: str = Field("", description="Output folder; default: a new artifact named after the model (never an "
                                     "existing folder).")
    name: str = Field("", description="Artifact name (default: <model>-lora-r<rank>).")
    eval_task: str = Field("", description=(
        "After extracting, score the full model and the adapter on its base on this Evaluate task (an lm-eval "
        "task name, a suite, or a task file); both scores and their difference go into the result and the "
        "adapter's card. Empty: no scoring."))
    eval_limit: int | None = Field(None, ge=1, description=(
        "Score only the first N items of the task (the same items for both models). Empty: every item."))

    @model_validator(mode="after")
    def _one_size(self) -> "ExtractRecipe":
        if self.rank is None and self.energy is None:
            raise ValueError("give a rank (e.g. 16) or an energy share to keep (e.g. 0.9)")
        return self
