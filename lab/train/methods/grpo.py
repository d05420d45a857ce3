"""GRPO: sample several answers per prompt and learn from the rewards (TRL's GRPOTrainer).

The rewards come from the lab's reward library (lab.train.methods.rewards), each guarded so an error shows its
sample; a watcher (grpo_watch) keeps sample completions and warns when there is no signal. Rows are prompts, with
the other columns kept for the rewards (e.g. the reference answer).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from lab.data import formats
from lab.errors import LabError
from lab.models.usable import model_for
from lab.train import engine
from lab.train.data import columns_of, normalized_rows, raw_rows
from lab.train.methods import grpo_report, rewards
from lab.train.methods.base import TRL_LOG_KEYS, MemoryTerms, Method, MethodSettings, TrainerParts, register
from lab.train.methods.rewards.spec import REWARD_HELP, RewardSpec
from lab.train.methods.rewards.user_code import check_allowed

# the columns that make a row's conversation; the others are kept for the rewards (e.g. the reference answer)
CONVERSATION_FIELDS = {"prompt", "messages", "conversations", "instruction", "input", "output", "system",
                       "history", "chosen", "rejected", "completion"}
# TRL's GRPO log keys -> the lab's metric names (each reward's mean and spread are added from the recipe)
GRPO_KEYS = {"completions/mean_length": "completion_length", "completions/clipped_ratio": "clipped_ratio",
             "clip_ratio/region_mean": "ratio_clipped", "frac_reward_zero_std": "flat_groups"}


class GrpoSettings(MethodSettings):
    on_unsloth: ClassVar[bool] = True
    samples_answers: ClassVar[bool] = True
    name: Literal["grpo"] = "grpo"
    rewards: list[RewardSpec] = Field(default_factory=list, description="GRPO: the rewards, one per line as "
                                      "NAME[:PARAM][@WEIGHT]; the total is their weighted sum. " + REWARD_HELP)
    reward_errors: Literal["stop", "skip"] = Field(
        "stop", description="GRPO: when a reward raises on a sample, stop the run showing the sample and the "
                            "traceback, or skip that sample's score and count a warning.")
    num_generations: int = Field(4, ge=2, le=256, description="GRPO: answers sampled per prompt; each is scored "
                                 "against the others of its group. batch_size × grad_accum counts answers and must "
                                 "be a multiple of it. More is a better baseline and costs generation time.")
    max_completion_length: int = Field(256, ge=1, le=32768, description="GRPO: longest sampled answer in tokens. "
                                       "Answers cut here count as clipped; generation time grows with it.")
    temperature: float = Field(1.0, gt=0, le=2, description="GRPO: sampling temperature. Too low and a group's "
                               "answers are alike (no signal); 0.7–1.0 is typical.")
    beta: float = Field(0.0, ge=0, le=10, description="GRPO: KL penalty towards the reference. 0 (TRL's "
                        "default) needs no reference pass; 0.01–0.1 keeps the model close to where it began.")
    no_signal_steps: int = Field(5, ge=1, le=10_000, description="GRPO: warn \"no signal: check the reward\" when "
                                 "every reward is 0 for this many first steps.")

    @field_validator("rewards", mode="before")
    @classmethod
    def _reward_lines(cls, value):
        return rewards.parse_rewards(value)


def _scalar(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _extras(rows: list[dict], raw: list[dict]) -> list[dict]:
    """Columns other than the conversation's, kept for the rewards; a column of mixed types becomes text."""
    for key in [k for k in columns_of(raw) if k not in CONVERSATION_FIELDS]:
        values = [_scalar(r.get(key)) for r in raw]
        if len({type(v) for v in values if v is not None}) > 1:
            values = [None if v is None else str(v) for v in values]
        for row, value in zip(rows, values):
            row[key] = value
    return rows


def _prompt_of(converted: dict, form: str) -> list[dict]:
    if form in ("preference", "prompt_completion"):
        return converted["prompt"]
    msgs = converted["messages"]
    return msgs[:len(msgs) - 1 if msgs and msgs[-1]["role"] == "assistant" else len(msgs)]


def prompt_rows(raw: list[dict]) -> list[dict]:
    """GRPO rows: the prompt as messages (a `prompt` column, or the user turns of a known format)."""
    columns = columns_of(raw)
    if "prompt" in columns:
        rows = [{"prompt": formats.messages(r.get("prompt"), "user")} for r in raw]
    else:
        form, converted = normalized_rows(raw)
        if form is None:
            raise LabError(f"GRPO needs prompts, but this dataset has no 'prompt' column (its columns: "
                           f"{', '.join(columns)}).", "Add a 'prompt' column (the question the model answers), "
                           "or use a conversation format (messages, Alpaca, ShareGPT).", "prompt")
        rows = [{"prompt": _prompt_of(c, form)} for c in converted]
    empty = next((i for i, r in enumerate(rows) if not any(m["content"].strip() for m in r["prompt"])), None)
    if empty is not None:
        raise LabError(f"Row {empty + 1} has an empty 'prompt'.", "Give every row a prompt, or remove that row.",
                       "prompt")
    return _extras(rows, raw)


class Grpo(Method):
    name = "grpo"
    label = "GRPO"
    summary = "GRPO samples several answers per prompt and learns from your rewards (needs prompts)."
    settings = GrpoSettings
    flat = {"rewards": "rewards", "reward_errors": "reward_errors", "num_generations": "num_generations",
            "max_completion_length": "max_completion_length", "temperature": "temperature", "grpo_beta": "beta",
            "no_signal_steps": "no_signal_steps"}
    form_group = "GRPO, KTO and rewards"

    def check_recipe(self, recipe) -> None:
        s = recipe.method
        if not s.rewards:
            raise ValueError("rewards: GRPO needs at least one reward, e.g. format:<answer>.*</answer> and exact")
        if recipe.effective_batch % s.num_generations:
            raise ValueError(f"num_generations: batch_size × grad_accum ({recipe.effective_batch}) counts sampled "
                             f"answers and must be a multiple of num_generations ({s.num_generations})")

    def rows(self, recipe, token: str | None = None):
        # datasets imports pyarrow and pandas: seconds, paid only where rows are read
        import datasets  # heavy: datasets

        raw = raw_rows(recipe.dataset, recipe.dataset_split, recipe.max_rows, token)
        return datasets.Dataset.from_list(prompt_rows(raw)), "prompts"

    def rows_per_batch(self, recipe) -> int:
        """GRPO's batch counts sampled answers, num_generations per prompt."""
        return max(1, recipe.batch_size // recipe.method.num_generations)

    def checks(self, recipe, dataset, kind: str, facts: dict, lens, token: str | None = None) -> list[str]:
        rewards.check(recipe.method.rewards, list(dataset.column_names), token)
        return []

    def memory_terms(self, recipe) -> MemoryTerms:
        # the longest prompt plus a full-length sampled answer; a whole generation batch (batch × grad_accum
        # answers) is sampled at once with a KV cache; the reference pass runs without gradients
        s = recipe.method
        return MemoryTerms(reference_copy=s.beta > 0, completion_tokens=s.max_completion_length,
                           cached_sequences=recipe.batch_size * recipe.grad_accum)

    def config(self, recipe, common: dict):
        # trl imports torch and transformers: seconds, paid only by a run
        from trl import GRPOConfig  # heavy: trl

        s, kw = recipe.method, dict(common)
        kw.pop("max_length")  # GRPO bounds the completion instead; prompts are kept whole
        kw.update(num_generations=s.num_generations, temperature=s.temperature,
                  max_completion_length=s.max_completion_length, beta=s.beta,
                  reward_weights=[r.weight for r in s.rewards], remove_unused_columns=False,
                  log_completions=False, per_device_eval_batch_size=s.num_generations)
        kw.update(engine.vllm_args(cuda=not common["use_cpu"]))  # vLLM colocated where the GPU has it
        return GRPOConfig(**kw)

    def trainer(self, recipe, parts: TrainerParts):
        """GRPOTrainer with the rewards (guarded, recording their scores) and the callback that watches them."""
        # trl and transformers (the watcher is a TrainerCallback): seconds, paid only by a run
        from trl import GRPOTrainer  # heavy: trl

        from lab.train.methods.grpo_watch import GrpoWatch  # heavy: transformers (through lab.train.methods.grpo_watch)

        s, ctx = recipe.method, parts.ctx
        book = rewards.SampleBook()
        funcs = rewards.build(s.rewards, s.reward_errors, book, parts.token,
                              ctx.log if parts.main else lambda m: None)
        parts.callbacks.append(GrpoWatch(ctx, recipe, funcs, book, main=parts.main))
        parts.args.include_num_input_tokens_seen = "no"  # GRPO's batches hold prompt and answer ids
        return GRPOTrainer(reward_funcs=funcs, **parts.common())

    def metric_keys(self, recipe) -> dict[str, str]:
        names = rewards.unique_names(recipe.method.rewards)
        return {**TRL_LOG_KEYS, **GRPO_KEYS, **{f"rewards/{n}/mean": f"reward_{n}" for n in names},
                **{f"rewards/{n}/std": f"reward_{n}_std" for n in names}}

    def preview(self, row: dict, tok, recipe, kind: str) -> dict:
        """The rendered prompt: its answers are sampled."""
        s = recipe.method
        text = tok.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        return {"pieces": [(text, None), ("⟨sampled answers, scored by the rewards⟩", "label")],
                "trained_tokens": 0, "total_tokens": len(tok(text)["input_ids"]),
                "note": f"GRPO samples {s.num_generations} answers of up to {s.max_completion_length} tokens per "
                        "prompt."}

    def card_extra(self, recipe, folder: Path, metrics: list[dict]) -> dict:
        return grpo_report.card_extra(recipe, folder, metrics)

    def live_view(self, folder: Path, metrics: list[dict]) -> dict:
        return grpo_report.live_view(folder, metrics)

    def trl_args(self, recipe, args: list[str]) -> tuple[list[str], str]:
        """The lab's reward library has no trl CLI form (only a reward model does), so the command names the
        other rewards in a comment."""
        s = recipe.method
        i = args.index("--max_length")
        args = args[:i] + args[i + 2:]
        args += ["--num_generations", str(s.num_generations), "--max_completion_length",
                 str(s.max_completion_length), "--temperature", f"{s.temperature:g}", "--beta", f"{s.beta:g}"]
        models = [r.param for r in s.rewards if r.name == "reward_model"]
        if models:
            args += ["--reward_model_name_or_path", models[0]]
        others = [r.line for r in s.rewards if r.name != "reward_model"]
        note = f"  # the lab's rewards {', '.join(others)}: pass yours as --reward_funcs module.function" \
            if others else ""
        return args, note

    def check_access(self, recipe, caller) -> None:
        """Reward models the caller may read; no environment variable of the server as a judge's key (only the
        owner may name one)."""
        for spec in recipe.method.rewards:
            if spec.name == "reward_model" and spec.param:
                model_for(caller, spec.param, "rewards")
            if spec.name == "judge" and (spec.options or {}).get("api_key_env") and not caller.is_owner:
                raise LabError("Only the owner of this Space may name an environment variable as the judge's key.",
                               "Use a Hugging Face endpoint with your sign-in, or a local judge model.", "rewards")

    def check_start(self, recipe, caller) -> None:
        if any(s.name == "python" for s in recipe.method.rewards):
            check_allowed(caller, where="app")  # the job runs the user's code: only for the lab's owner

    def check_lr_sweep(self, recipe) -> None:
        """The sweep reads a loss that falls as the model learns; GRPO's loss is a policy-gradient term."""
        raise LabError("The LR finder sweeps a supervised loss; GRPO's loss does not fall as the model learns, so "
                       "the sweep would suggest nothing useful.", "Start from the GRPO preset's rate (2e-4 for "
                       "LoRA on a small model; 1e-6–1e-5 for a full fine-tune) and watch the reward curves.",
                       "learning_rate")


METHOD = register(Grpo())
