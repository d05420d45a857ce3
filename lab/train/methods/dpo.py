"""DPO: learn which of two answers is better from preference rows (TRL's DPOTrainer).

With LoRA the reference is the adapter-disabled base, so no second model loads; a full fine-tune keeps a frozen
copy of the weights as its reference.
"""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from lab.train.methods.base import MemoryTerms, Method, MethodSettings, TrainerParts, refuse_kind, register


class DpoSettings(MethodSettings):
    on_unsloth: ClassVar[bool] = True
    name: Literal["dpo"] = "dpo"
    beta: float = Field(0.1, gt=0, le=10, description="DPO: how far the model may drift from the reference. "
                        "Lower (0.05) lets it move more; higher (0.5) keeps it close.")
    loss: Literal["sigmoid", "ipo", "hinge", "robust"] = Field(
        "sigmoid", description="DPO only: the preference loss. sigmoid is standard DPO; ipo resists overfitting "
                               "to noisy preferences; hinge is SLiC; robust tolerates label noise.")


class Dpo(Method):
    name = "dpo"
    label = "DPO"
    summary = ("DPO teaches it which of two answers is better; it needs preference rows (prompt, chosen, "
               "rejected) and usually follows SFT.")
    settings = DpoSettings
    flat = {"dpo_beta": "beta", "dpo_loss": "loss"}

    def check_kind(self, recipe, kind: str) -> list[str]:
        if kind != "preference":
            raise refuse_kind("DPO", "preference rows (prompt, chosen, rejected)", kind,
                              "Pick a preference dataset, or switch the method to SFT.")
        return []

    def memory_terms(self, recipe) -> MemoryTerms:
        # chosen and rejected share the batch; DPOConfig turns dropout off (disable_dropout)
        return MemoryTerms(sequences_per_row=2, lora_dropout=False, reference_copy=True)

    def config(self, recipe, common: dict):
        # trl imports torch and transformers: seconds, paid only by a run
        from trl import DPOConfig  # heavy: trl

        return DPOConfig(**common, beta=recipe.method.beta, loss_type=[recipe.method.loss])

    def trainer(self, recipe, parts: TrainerParts):
        from trl import DPOTrainer  # heavy: trl

        return DPOTrainer(**parts.common())

    def trl_args(self, recipe, args: list[str]) -> tuple[list[str], str]:
        return args + ["--beta", f"{recipe.method.beta:g}", "--loss_type", recipe.method.loss], ""


METHOD = register(Dpo())
