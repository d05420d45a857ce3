"""ORPO: learn to answer and which answer is better in one pass, without a reference model (TRL's ORPOTrainer,
from trl.experimental.orpo).

Its loss is the SFT loss on the chosen answer plus λ (beta) times an odds-ratio term that pushes the rejected
answer's odds below the chosen one's; so it trains on preference rows and may start from a base model instead
of following an SFT run.
"""
from __future__ import annotations

import os
from typing import Literal

from pydantic import Field

from lab.train.methods.base import (TRL_LOG_KEYS, MemoryTerms, Method, MethodSettings, TrainerParts, refuse_kind,
                                    register)


class OrpoSettings(MethodSettings):
    name: Literal["orpo"] = "orpo"
    beta: float = Field(0.1, gt=0, le=10, description="ORPO: λ, the weight of the odds-ratio term beside the SFT "
                        "loss on the chosen answer. Higher pushes the chosen and rejected answers further apart; "
                        "0.1 is the paper's default.")


class Orpo(Method):
    name = "orpo"
    label = "ORPO"
    summary = ("ORPO learns to answer and which answer is better in one pass, with no reference model "
               "(preference rows; it may start from a base model).")
    settings = OrpoSettings
    flat = {"orpo_beta": "beta"}

    def check_kind(self, recipe, kind: str) -> list[str]:
        if kind != "preference":
            raise refuse_kind("ORPO", "preference rows (prompt, chosen, rejected)", kind,
                              "Pick a preference dataset (the arena's DPO export is one), or switch the method "
                              "to SFT.")
        return []

    def memory_terms(self, recipe) -> MemoryTerms:
        # chosen and rejected go through the model in one batch; ORPOConfig turns dropout off; no reference
        return MemoryTerms(sequences_per_row=2, lora_dropout=False)

    def config(self, recipe, common: dict):
        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # chosen knowingly: no warning in every job log
        # trl imports torch and transformers: seconds, paid only by a run
        from trl.experimental.orpo import ORPOConfig  # heavy: trl

        # its collator reads the prompt/chosen/rejected columns the Trainer would otherwise drop
        return ORPOConfig(**{**common, "remove_unused_columns": False}, beta=recipe.method.beta)

    def trainer(self, recipe, parts: TrainerParts):
        from trl.experimental.orpo import ORPOTrainer  # heavy: trl

        parts.args.include_num_input_tokens_seen = "no"  # its batches hold chosen_/rejected_ ids, no input_ids
        return ORPOTrainer(**parts.common())

    def metric_keys(self, recipe) -> dict[str, str]:
        return {**TRL_LOG_KEYS, "nll_loss": "nll_loss", "log_odds_ratio": "log_odds_ratio",
                "log_odds_chosen": "log_odds_chosen"}

    def trl_args(self, recipe, args: list[str]) -> None:
        return None  # TRL 1.16's CLI has no `trl orpo` (its trainer is experimental)


METHOD = register(Orpo())
