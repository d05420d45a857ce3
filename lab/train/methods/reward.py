"""Reward model: a sequence classifier trained on preference rows (TRL's RewardTrainer), for GRPO's reward_model
reward or the Data tab's scoring.

Its score head is new, so it trains in full beside the adapter; the result is saved whole (the adapter and the
head merged into the base), so it loads as a sequence classifier anywhere.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from lab.errors import LabError
from lab.train.methods.base import (DESCRIBE_KIND, TRL_LOG_KEYS, MemoryTerms, Method, MethodSettings, TrainerParts,
                                    register)


class RewardSettings(MethodSettings):
    name: Literal["reward"] = "reward"


class Reward(Method):
    name = "reward"
    label = "reward model"
    summary = ("reward trains a reward model (a sequence classifier) on preference rows, for GRPO or the Data "
               "tab's scoring.")
    settings = RewardSettings
    card_tags = ("reward-model",)
    saved_whole = True

    def check_kind(self, recipe, kind: str) -> list[str]:
        if kind != "preference":
            raise LabError(f"A reward model trains on preference rows (prompt, chosen, rejected), but this dataset "
                           f"has {DESCRIBE_KIND.get(kind, kind)}.", "Pick a preference dataset (the arena's DPO "
                           "export is one), or switch the method.", "dataset")
        return []

    def checks(self, recipe, dataset, kind: str, facts: dict, lens, token: str | None = None) -> list[str]:
        if facts.get("adapter"):
            raise LabError("A reward model starts from a full model, not from an adapter artifact.",
                           "Merge that adapter into a full model first (its merge option), then train the reward "
                           "model on the merged folder.", "model")
        return _pair_lengths(recipe, lens)

    def memory_terms(self, recipe) -> MemoryTerms:
        # chosen and rejected in one batch, a score head instead of the LM head, dropout off (disable_dropout)
        return MemoryTerms(sequences_per_row=2, lora_dropout=False, lm_head=False)

    def model_class(self):
        # transformers takes seconds to import: only a run that loads weights pays
        from transformers import AutoModelForSequenceClassification  # heavy: transformers

        return AutoModelForSequenceClassification, {"num_labels": 1}

    def lora_task(self) -> dict:
        """The score head is new: it trains in full alongside the adapter (and is saved with it)."""
        return {"task_type": "SEQ_CLS", "modules_to_save": ["score"]}

    def config(self, recipe, common: dict):
        from trl import RewardConfig  # heavy: trl

        return RewardConfig(**common)

    def trainer(self, recipe, parts: TrainerParts):
        from trl import RewardTrainer  # heavy: trl

        trainer = RewardTrainer(**parts.common())
        if len(trainer.train_dataset) < recipe.batch_size:
            raise LabError(f"Only {len(trainer.train_dataset)} preference rows fit in max_seq_length "
                           f"{recipe.max_seq_length} (the reward trainer drops longer pairs), fewer than one batch.",
                           "Raise max_seq_length, or use shorter rows.", "max_seq_length")
        return trainer

    def metric_keys(self, recipe) -> dict[str, str]:
        return dict(TRL_LOG_KEYS)

    def save(self, trainer, folder: Path) -> None:
        """Saved whole: the adapter and the score head merged into the base, so it loads as a sequence classifier
        anywhere (the Data tab's reward step, GRPO's reward_model reward, the Hub)."""
        model = trainer.model
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
        model.save_pretrained(str(folder), safe_serialization=True)


def _pair_lengths(recipe, lens) -> list[str]:
    """The reward trainer drops pairs longer than max_seq_length (it does not cut them)."""
    if lens is None:
        return []
    share = lens.truncated_share(recipe.max_seq_length)
    if share >= 1.0:
        raise LabError(f"Every preference pair is longer than max_seq_length {recipe.max_seq_length}, and the "
                       "reward trainer drops such pairs.", f"Raise max_seq_length (the data's 95th percentile is "
                       f"{lens.p95} tokens).", "max_seq_length")
    if share > 0:
        return [f"{share:.0%} of the preference pairs are longer than max_seq_length {recipe.max_seq_length}; the "
                "reward trainer drops them (it does not cut them)."]
    return []


METHOD = register(Reward())
