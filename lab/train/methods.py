"""GRPO, KTO and reward-model training on TRL 1.16's GRPOTrainer, KTOTrainer and RewardTrainer.

The worker, preflight and finish steps are the same as for SFT and DPO; this module only holds what differs:
the method's TRL config, its trainer (GRPO's rewards among its arguments), the reward model's class and head,
and how a reward model is saved (merged into a full sequence classifier, which the Data tab scores with).
"""
from __future__ import annotations

from pathlib import Path

from lab.errors import LabError

METHODS = ("grpo", "kto", "reward")
KINDS = {"grpo": "prompts", "kto": "unpaired", "reward": "preference"}
# TRL log keys -> the lab's metric names (per-reward means are added from the recipe's rewards)
METRIC_KEYS = {"reward": "reward", "reward_std": "reward_std", "kl": "kl", "entropy": "entropy",
               "completions/mean_length": "completion_length", "completions/clipped_ratio": "clipped_ratio",
               "clip_ratio/region_mean": "ratio_clipped", "frac_reward_zero_std": "flat_groups",
               "accuracy": "reward_accuracy", "margin": "reward_margin", "mean_reward": "mean_reward",
               "logps/chosen": "logps_chosen", "logps/rejected": "logps_rejected"}


def metric_keys(recipe) -> dict[str, str]:
    if recipe.method != "grpo":
        return dict(METRIC_KEYS)
    from lab.train.rewards import unique_names

    names = unique_names(recipe.rewards)
    return {**METRIC_KEYS, **{f"rewards/{n}/mean": f"reward_{n}" for n in names},
            **{f"rewards/{n}/std": f"reward_{n}_std" for n in names}}


def model_class(recipe):
    """(AutoModel class, extra from_pretrained kwargs): a reward model is a one-label sequence classifier."""
    if recipe.method == "reward":
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification, {"num_labels": 1}
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM, {}


def lora_task(recipe) -> dict:
    """The reward model's score head is new: it trains in full alongside the adapter (and is saved with it)."""
    if recipe.method == "reward":
        return {"task_type": "SEQ_CLS", "modules_to_save": ["score"]}
    return {"task_type": "CAUSAL_LM"}


def training_args(recipe, common: dict):
    """The method's TRL config from the arguments every method shares."""
    kw = dict(common)
    if recipe.method == "grpo":
        from trl import GRPOConfig

        kw.pop("max_length")  # GRPO bounds the completion instead; prompts are kept whole
        kw.update(num_generations=recipe.num_generations, temperature=recipe.temperature,
                  max_completion_length=recipe.max_completion_length, beta=recipe.grpo_beta,
                  reward_weights=[s.weight for s in recipe.rewards], remove_unused_columns=False,
                  log_completions=False, per_device_eval_batch_size=recipe.num_generations)
        return GRPOConfig(**kw)
    if recipe.method == "kto":
        from trl import KTOConfig

        return KTOConfig(**kw, beta=recipe.dpo_beta, desirable_weight=recipe.desirable_weight,
                         undesirable_weight=recipe.undesirable_weight)
    from trl import RewardConfig

    return RewardConfig(**kw)


def make_trainer(recipe, args, model, tok, train_ds, eval_ds, peft, callbacks: list, rewards=None):
    """The TRL trainer for GRPO (with its reward functions), KTO or a reward model."""
    common = dict(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, processing_class=tok,
                  peft_config=peft, callbacks=callbacks)
    if recipe.method == "grpo":
        from trl import GRPOTrainer

        args.include_num_input_tokens_seen = "no"  # GRPO's batches hold prompt and answer ids; it counts its own
        return GRPOTrainer(reward_funcs=rewards, **common)
    if recipe.method == "kto":
        from trl import KTOTrainer

        return KTOTrainer(**common)
    from trl import RewardTrainer

    trainer = RewardTrainer(**common)
    if len(trainer.train_dataset) < recipe.batch_size:
        raise LabError(f"Only {len(trainer.train_dataset)} preference rows fit in max_seq_length "
                       f"{recipe.max_seq_length} (the reward trainer drops longer pairs), fewer than one batch.",
                       "Raise max_seq_length, or use shorter rows.", "max_seq_length")
    return trainer


def save_reward_model(trainer, folder: Path) -> None:
    """A reward model is saved whole: the adapter and the score head merged into the base, so it loads as a
    sequence classifier anywhere (the Data tab's reward step, GRPO's reward_model reward, the Hub)."""
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(str(folder), safe_serialization=True)


def trl_args(recipe, args: list[str]) -> tuple[list[str], str]:
    """(the `trl grpo|kto|reward` arguments, a trailing shell comment). The lab's reward library has no trl CLI
    form (only a reward model does), so a GRPO command names its rewards in the comment."""
    if recipe.method == "kto":
        return args + ["--beta", f"{recipe.dpo_beta:g}", "--desirable_weight", f"{recipe.desirable_weight:g}",
                       "--undesirable_weight", f"{recipe.undesirable_weight:g}"], ""
    if recipe.method != "grpo":
        return args, ""
    i = args.index("--max_length")
    args = args[:i] + args[i + 2:]
    args += ["--num_generations", str(recipe.num_generations), "--max_completion_length",
             str(recipe.max_completion_length), "--temperature", f"{recipe.temperature:g}", "--beta",
             f"{recipe.grpo_beta:g}"]
    models = [s.param for s in recipe.rewards if s.name == "reward_model"]
    if models:
        args += ["--reward_model_name_or_path", models[0]]
    others = [s.line for s in recipe.rewards if s.name != "reward_model"]
    note = f"  # the lab's rewards {', '.join(others)}: pass yours as --reward_funcs module.function" if others else ""
    return args, note
