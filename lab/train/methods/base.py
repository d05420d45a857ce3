"""What a training method is: its settings (the recipe's `method:` block) and everything the lab does differently
for it, from the rows it reads to the card it writes.

A method file (sft.py, dpo.py, ...) subclasses `MethodSettings` and `Method`, then registers an instance with
`register(...)`; lab/train/methods/__init__.py imports the files. Every hook has a default here that suits a
method training a causal LM with LoRA on the Data tab's normalized rows, so a file overrides only what differs.
The worker, preflight, memory estimate, card, form, CLI and `trl` command printer call the hooks and never ask
which method runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo

from lab.errors import LabError
from lab.train import lengths
from lab.train.data import load_dataset
from lab.train.masking import mask_preview

# TRL log keys (beyond lab.train.callbacks.KEYS) that the GRPO, KTO, reward and ORPO trainers write -> the lab's names
TRL_LOG_KEYS = {"reward": "reward", "reward_std": "reward_std", "kl": "kl", "entropy": "entropy",
                "accuracy": "reward_accuracy", "margin": "reward_margin", "mean_reward": "mean_reward",
                "logps/chosen": "logps_chosen", "logps/rejected": "logps_rejected"}
DESCRIBE_KIND = {"text": "plain text", "sft": "SFT conversations", "prompts": "prompts",
                 "unpaired": "unpaired rows", "preference": "preference rows"}


class MethodSettings(BaseModel):
    """A method's own settings. Each subclass has `name: Literal["<method>"]`: the union's tag in YAML."""
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    # what the fast path (lab.train.engine) may do for the method, as TRL 1.16 and Unsloth support it
    batches_padding_free: ClassVar[bool] = False  # its batches may be the rows end to end with position ids
    on_unsloth: ClassVar[bool] = False  # Unsloth can train it
    samples_answers: ClassVar[bool] = False  # it generates answers while it trains (vLLM can)


@dataclass(frozen=True)
class MemoryTerms:
    """What a method adds to (or takes from) the memory estimate of a step (lab.train.memory)."""
    sequences_per_row: int = 1  # sequences one row puts in the batch (chosen and rejected: 2)
    lora_dropout: bool = True  # False where TRL's config turns dropout off (disable_dropout)
    packed: bool = False  # rows packed into max_seq_length-long sequences (SFT's packing)
    lm_head: bool = True  # False for a score head (a reward model): no logits over the vocabulary
    reference_copy: bool = False  # full fine-tuning keeps a frozen copy of the weights as the reference
    completion_tokens: int = 0  # sampled answers this long follow the longest prompt (GRPO)
    cached_sequences: int = 0  # sequences generated at once with a KV cache (GRPO)


@dataclass
class TrainerParts:
    """What the worker hands a method to build its TRL trainer from."""
    args: object  # the method's TRL config (from Method.config)
    model: object
    tokenizer: object
    train_ds: object
    eval_ds: object | None
    peft: object | None  # a LoraConfig, or None for full fine-tuning
    callbacks: list
    kind: str = "sft"  # the dataset's kind, as Method.rows gave it
    ctx: object = None  # the job context (GRPO's reward watcher writes beside the run)
    main: bool = True  # rank 0 of a multi-process run
    token: str | None = None

    def common(self) -> dict:
        """The arguments every TRL trainer takes."""
        return dict(model=self.model, args=self.args, train_dataset=self.train_ds, eval_dataset=self.eval_ds,
                    processing_class=self.tokenizer, peft_config=self.peft, callbacks=self.callbacks)


class Method:
    """One training method. Class attributes describe it; methods are the hooks the lab calls."""
    name: ClassVar[str]
    label: ClassVar[str]  # as a job's title and an error name it: "DPO", "reward model"
    summary: ClassVar[str]  # one or two sentences for the recipe's `method` help text
    settings: ClassVar[type[MethodSettings]]
    # flat name (the form's widget, the CLI flag, a flat recipe file's key) -> the settings field
    flat: ClassVar[dict[str, str]] = {}
    # older flat names still read when the own one is absent (a flat KTO recipe's dpo_beta)
    older_flat: ClassVar[dict[str, str]] = {}
    # flat names of this method that other methods refuse when set (packing: only SFT packs rows)
    refused_elsewhere: ClassVar[dict[str, str]] = {}
    form_group: ClassVar[str] = "Data and loss"  # the Train tab's accordion that holds this method's fields
    card_tags: ClassVar[tuple[str, ...]] = ()
    saved_whole: ClassVar[bool] = False  # the result is a full model even when trained with an adapter

    # --- the recipe ---------------------------------------------------------------------------------------
    def form_fields(self) -> dict[str, FieldInfo]:
        """flat name -> the settings field behind it (type, default, help): the form's widgets, the CLI's flags."""
        return {flat: self.settings.model_fields[field] for flat, field in self.flat.items()}

    def check_recipe(self, recipe) -> None:
        """Rules across the method's settings and the common fields. A ValueError's message starts with the field
        it names ("num_generations: ...")."""

    # --- the data -----------------------------------------------------------------------------------------
    def rows(self, recipe, token: str | None = None):
        """(datasets.Dataset, kind): the dataset in the shape the method reads (lab.train.data's forms)."""
        return load_dataset(recipe.dataset, recipe.dataset_split, recipe.max_rows, token)

    def check_kind(self, recipe, kind: str) -> list[str]:
        """Refuse data the method cannot train on (a LabError on `dataset`); warnings for data it half uses."""
        return []

    def rows_per_batch(self, recipe) -> int:
        return recipe.batch_size

    def length_texts(self, row: dict, kind: str) -> list:
        """The texts (or conversations) a row becomes in a batch, for the token lengths that size it."""
        return lengths.row_texts(row, kind)

    def checks(self, recipe, dataset, kind: str, facts: dict, lens, token: str | None = None) -> list[str]:
        """Pre-launch checks of the data and the model (before any weights): errors raise, warnings return."""
        return []

    def memory_terms(self, recipe) -> MemoryTerms:
        return MemoryTerms()

    # --- the run ------------------------------------------------------------------------------------------
    def model_class(self):
        """(AutoModel class, extra from_pretrained kwargs) of the model the method trains."""
        # transformers takes seconds to import: only a run that loads weights pays
        from transformers import AutoModelForCausalLM  # heavy: transformers

        return AutoModelForCausalLM, {}

    def lora_task(self) -> dict:
        """LoraConfig arguments that depend on the model's task."""
        return {"task_type": "CAUSAL_LM"}

    def config(self, recipe, common: dict):
        """The method's TRL config from the arguments every method shares."""
        raise NotImplementedError

    def trainer(self, recipe, parts: TrainerParts):
        """The TRL trainer."""
        raise NotImplementedError

    def metric_keys(self, recipe) -> dict[str, str]:
        """TRL log keys -> the lab's metric names, beyond the ones every run records (lab.train.callbacks)."""
        return {}

    def save(self, trainer, folder: Path) -> None:
        """Write the trained weights (an adapter, or the full model) into the artifact folder."""
        trainer.save_model(str(folder))

    # --- what the lab shows -------------------------------------------------------------------------------
    def preview(self, row: dict, tok, recipe, kind: str) -> dict:
        """One row as the method trains on it: {"pieces": [(text, "trained"|None)], "trained_tokens",
        "total_tokens"} (or "chosen"/"rejected" pieces), for the Train tab's check."""
        return mask_preview(row, tok, kind, True, False)

    def card_extra(self, recipe, folder: Path, metrics: list[dict]) -> dict:
        """What the method adds to the artifact's manifest (and so its card)."""
        return {}

    def live_view(self, folder: Path, metrics: list[dict]) -> dict:
        """What the Train tab's live view adds while the run goes (GRPO: reward curves and samples)."""
        return {}

    def trl_args(self, recipe, args: list[str]) -> tuple[list[str], str] | None:
        """(the `trl <method>` arguments, a trailing shell comment); None when TRL's CLI has no such command."""
        return args, ""

    # --- who may run it -----------------------------------------------------------------------------------
    def check_access(self, recipe, caller) -> None:
        """What else this caller may make the run read (models named in the settings), before anything is read."""

    def check_start(self, recipe, caller) -> None:
        """Whether this caller may start the run as a job (beyond reading what it names)."""

    def check_lr_sweep(self, recipe) -> None:
        """Refuse the LR finder where its supervised-loss sweep says nothing about the method."""


def refuse_kind(method: str, needs: str, kind: str, fix: str) -> LabError:
    """The error for data of the wrong kind: what the method needs, what the dataset has."""
    return LabError(f"{method} needs {needs}, but this dataset has {DESCRIBE_KIND.get(kind, kind)}.", fix, "dataset")


REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (in the order the form offers them), checking its flat names."""
    fields = set(method.settings.model_fields) - {"name"}
    if set(method.flat.values()) != fields:
        raise TypeError(f"{method.name}: flat names must cover exactly the settings fields {sorted(fields)}")
    taken = {flat for other in REGISTRY.values() for flat in other.flat}
    if taken & set(method.flat):
        raise TypeError(f"{method.name}: flat names {sorted(taken & set(method.flat))} are another method's")
    REGISTRY[method.name] = method
    return method
