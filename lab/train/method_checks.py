"""Pre-launch checks of GRPO, KTO and reward-model runs: what they need of the data, read before any weights."""
from __future__ import annotations

from lab.errors import LabError

_DESCRIBE = {"text": "plain text", "sft": "SFT conversations", "prompts": "prompts", "unpaired": "unpaired rows"}


def check_kind(recipe, kind: str) -> None:
    if recipe.method == "reward" and kind != "preference":
        raise LabError(f"A reward model trains on preference rows (prompt, chosen, rejected), but this dataset has "
                       f"{_DESCRIBE.get(kind, kind)}.", "Pick a preference dataset (the arena's DPO export is one), "
                       "or switch the method.", "dataset")


def rows_per_batch(recipe) -> int:
    """Dataset rows one batch takes: GRPO's batch counts sampled answers, num_generations per prompt."""
    if recipe.method == "grpo":
        return max(1, recipe.batch_size // recipe.num_generations)
    return recipe.batch_size


def check(recipe, dataset, kind: str, facts: dict, lens, token: str | None = None) -> list[str]:
    """Errors for what cannot work, warnings for what works poorly."""
    if recipe.method not in ("grpo", "kto", "reward"):
        return []
    if recipe.method == "reward" and facts.get("adapter"):
        raise LabError("A reward model starts from a full model, not from an adapter artifact.",
                       "Merge that adapter into a full model first (its merge option), then train the reward "
                       "model on the merged folder.", "model")
    if recipe.method == "grpo":
        from lab.train import rewards

        rewards.check(recipe.rewards, list(dataset.column_names), token)
        return []
    if recipe.method == "kto":
        return _balance(dataset["label"])
    return _pair_lengths(recipe, lens)


def _balance(labels: list[bool]) -> list[str]:
    up = sum(bool(x) for x in labels)
    down = len(labels) - up
    if not up or not down:
        return [f"Every KTO row is {'desirable' if up else 'undesirable'}: KTO learns most from both kinds."]
    if max(up, down) > 1.33 * min(up, down):
        ratio = down / up
        return [f"{up} thumbs-up and {down} thumbs-down rows: KTO's authors suggest desirable_weight × {up} ≈ "
                f"undesirable_weight × {down} (within 1–1.33×), e.g. desirable_weight {ratio:.2f}."]
    return []


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
