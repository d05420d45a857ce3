"""TrainRecipe: everything a training run needs, validated, round-tripped through YAML.

The common fields live here; `method` holds the training method's own settings (a discriminated union over the
registry, lab.train.methods). A recipe in the flat form of earlier versions (`method: dpo` with `dpo_beta:`
beside it) still loads. The help text of every field lives once, in its Field description; the Train tab shows
it as info=.
"""
from __future__ import annotations

from functools import cache
from typing import Annotated, ClassVar, Literal, Union

from pydantic import ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo

from lab.errors import LabError
from lab.repo_id import is_repo_id
from lab.settings import DEFAULT_MODEL
from lab.train import methods
from lab.train.arith import FORMAT as ARITH_FORMAT
from lab.train.methods import METHODS
from lab.train.methods.flat import flat_fields, flat_loc, flatten, nest
from lab.validation import Recipe, recipe_error

AUTO_FIT = ("batch_size", "max_seq_length")
DEFAULT_METHOD = "sft"
MethodBlock = Annotated[Union[tuple(m.settings for m in METHODS.values())], Field(discriminator="name")]
METHOD_HELP = " ".join(m.summary for m in METHODS.values())


class TrainRecipe(Recipe):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    START: ClassVar[str] = "Start from a preset's YAML."
    FILE_FIX: ClassVar[str] = "Give the path of a TrainRecipe YAML."

    method: MethodBlock = Field(default_factory=lambda: METHODS[DEFAULT_METHOD].settings(),
                                description=METHOD_HELP)
    model: str = Field(DEFAULT_MODEL, description="The base model: a Hub id (org/name, or org/name@REV for a "
                       "branch, tag or commit) or a local folder (safetensors). "
                       "Smaller models train faster and fit in less memory; larger ones learn more.")
    dataset: str = Field("", description="A Data-tab artifact folder, a data file (.json/.jsonl/.parquet/.csv) "
                         "or a Hub dataset id. Rows are normalized to messages, prompt/completion or "
                         "prompt/chosen/rejected.")
    dataset_split: str = Field("train", description="Which split of a Hub dataset to use.")
    max_rows: int | None = Field(None, ge=1, description="Use only the first N rows: a quick trial run before the "
                                 "full one. Empty uses every row.")
    adapter: Literal["full", "lora", "qlora"] = Field(
        "lora", description="full: every weight trains; best results, needs the most memory (weights, gradients "
        "and optimizer state). lora: frozen weights plus small trainable adapters; a fraction of the memory. "
        "qlora: LoRA on a 4-bit (nf4, double-quant) frozen base; the least memory, gives up a little quality.")
    lora_r: int = Field(16, ge=1, le=1024, description="LoRA rank: the adapter's capacity. Higher learns more "
                        "and costs more memory; 8–64 is typical. The least important of the main knobs.")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling (alpha / r multiplies the update). Twice the "
                            "rank is a common choice; raising it acts like a higher learning rate.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA path. A little (0.05) "
                                "regularizes small datasets; 0 is fastest.")
    target_modules: str = Field("all-linear", description="Which layers get adapters: 'all-linear' (best "
                                "quality) or a comma list such as 'q_proj,v_proj' (fewer parameters).")
    learning_rate: float = Field(2e-4, gt=0, le=1, description="The most important knob: go as high as you can "
                                 "before the loss explodes. LoRA/QLoRA: 1e-4–5e-4; full fine-tune: 1e-5–5e-5; "
                                 "DPO: 5e-7–5e-6. The LR finder suggests one.")
    epochs: float = Field(1.0, gt=0, le=100, description="Passes over the data. 1–3 is typical; more overfits "
                          "small datasets (the eval loss rises while the train loss falls).")
    max_steps: int = Field(-1, ge=-1, le=10_000_000, description="Stop after this many optimizer steps (overrides "
                           "epochs). -1 trains for the full epochs.")
    max_seq_length: int = Field(1024, ge=16, le=262144, description="Longest sequence in tokens; longer rows "
                                "are cut. It trades against batch size: activation memory grows with "
                                "batch × length. Clamped to the model's maximum.")
    batch_size: int = Field(4, ge=1, le=4096, description="Rows per device per step: as large as memory allows. "
                            "Larger batches give smoother gradients and better throughput.")
    grad_accum: int = Field(1, ge=1, le=1024, description="Gradient accumulation: the effective batch is batch "
                            "× accumulation × devices, without the memory of a bigger batch (but slower).")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Fraction of steps spent ramping the learning "
                                "rate up from 0; protects the first steps from a too-high rate.")
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        "cosine", description="How the rate decays after warmup. Cosine is a safe default; constant suits "
                              "short runs and the LR finder's suggestion.")
    weight_decay: float = Field(0.0, ge=0, le=1, description="L2-style regularization of the trained weights. "
                                "0–0.1; mostly matters for full fine-tuning.")
    seed: int = Field(42, ge=0, description="Random seed: the same recipe and seed reproduce a run.")
    chat_template: Literal["model", "chatml"] = Field(
        "model", description="The model's own chat template, or ChatML. A base model without a template gets "
                             "ChatML automatically, with a warning; chat with the result using the same template.")
    eval_split: float = Field(0.0, ge=0, lt=0.5, description="Fraction of rows held out for an eval loss curve. "
                              "0.05–0.1 shows overfitting; 0 trains on everything.")
    eval_steps: int = Field(0, ge=0, description="Evaluate every N steps (0: ten times per run).")
    save_steps: int = Field(50, ge=1, description="Save a checkpoint every N steps. Resume continues from the "
                            "last one; more frequent saves lose less on a crash and cost disk and time.")
    save_total_limit: int = Field(2, ge=1, description="Keep only the newest N checkpoints on disk.")
    gradient_checkpointing: Literal["auto", "on", "off"] = Field(
        "auto", description="Recompute activations in the backward pass: about 30% less activation memory for "
                            "about 20% more time. auto: on for a GPU, off on CPU.")
    engine: Literal["auto", "trl", "unsloth"] = Field(
        "auto", description="What trains the model. auto: Unsloth for LoRA/QLoRA SFT, DPO and GRPO on a CUDA GPU "
        "where it is installed and supports the model, else TRL with the fast path (padding-free, Liger). trl: "
        "always TRL. unsloth: Unsloth, or a refusal before anything loads saying what is missing.")
    padding_free: bool = Field(True, description="SFT: each batch is its rows end to end with position ids, no "
                               "padding; every row still attends to itself only (flash-attention 2 where "
                               "installed, else SDPA). Faster and leaner on rows of mixed lengths, at the same "
                               "loss. Other methods pad their batches (TRL 1.16 has no padding-free DPO).")
    liger: Literal["auto", "on", "off"] = Field(
        "auto", description="Liger's Triton kernels (RMSNorm, RoPE, SwiGLU) through TRL: faster, leaner steps on "
        "a CUDA GPU. auto: on with a CUDA GPU when liger-kernel is installed and patches the model. on: the same, "
        "and the log says why when it cannot be. off: never.")
    merge: bool = Field(False, description="After training, also save a full model with the adapter merged in, "
                        "always from a 16-bit base (QLoRA too). Easier to serve; as big as the base.")
    push_checkpoints_to: str = Field("", description="Hub repo (user/name) that receives every checkpoint, so a "
                                     "run resumes even after the lab's disk is wiped. Needs sign-in.")
    push_to: str = Field("", description="Hub repo (user/name) that receives the finished adapter (and the "
                         "merged model as <repo>-merged). Needs sign-in; required on Hugging Face Jobs.")
    report_to: Literal["none", "tensorboard", "trackio", "wandb"] = Field(
        "none", description="Also log to an experiment tracker, when installed and configured. The lab's own "
                            "curves never depend on it. trackio logs locally (LAB_HOME/trackio; its dashboard is the "
                            "Train tab's trackio link), with the recipe, hardware, memory and scores as the run's "
                            "config.")
    trackio_space: str = Field("", description="With report_to trackio: a trackio Space (user/name) that receives "
                               "the logs, with your own Hub token. When it cannot be reached the run logs locally "
                               "and the log says so. Empty: local only.")
    use_cpu: bool = Field(False, description="Train on the CPU even when a GPU is present (slow; for tests and "
                          "multi-process CPU runs).")
    num_processes: int = Field(1, ge=1, le=64, description="Processes to train with, one per GPU (on CPU: gloo "
                               "processes, at most one per core). 1 trains in one process. The effective batch is "
                               "batch × accumulation × processes.")
    distributed: Literal["ddp", "fsdp"] = Field(
        "ddp", description="How several processes share the work. ddp: each GPU holds the whole model and trains on "
        "its share of each batch; the fastest, for models that fit on one GPU. fsdp: FULL_SHARD splits the weights, "
        "gradients and optimizer state across the GPUs (rank 0 loads the weights, the others receive their shard), "
        "for models that do not fit on one; slower per step (the shards travel). QLoRA works with both (under fsdp "
        "the 4-bit weights are stored in the compute dtype so they shard).")
    output_name: str = Field("", description="Name of the artifact folder (empty: a dated name).")
    eval_tasks: str = Field("", description="After training, evaluate the base against the fine-tune on these tasks "
                            "(task files, lm-eval task names or suites, comma separated); the scores go into the "
                            "adapter's card. Empty: no evaluation.")
    auto_fit: list[Literal["batch_size", "max_seq_length"]] = Field(
        default_factory=lambda: list(AUTO_FIT), description="Settings the lab may lower so the run fits in "
        "memory: the batch first (gradient accumulation rises to keep the effective batch), then the sequence "
        "length (not below the data's 95th percentile when avoidable). A value you set yourself is never changed.")
    run_anyway: bool = Field(False, description="Start even when the memory estimate says the run won't fit "
                             "(for experts who know better). The memory watchdog still stops a run before the "
                             "machine runs out.")


    @model_validator(mode="before")
    @classmethod
    def _before(cls, data):
        """The flat form nests; without an explicit auto_fit, the batch and length the caller gave are theirs:
        the lab keeps them."""
        if not isinstance(data, dict):
            return data
        data = nest(data, DEFAULT_METHOD)
        if "auto_fit" not in data:
            data = {**data, "auto_fit": [f for f in AUTO_FIT if f not in data]}
        return data

    @model_validator(mode="after")
    def _check(self):
        for name in ("push_checkpoints_to", "push_to", "trackio_space"):
            value = getattr(self, name)
            if value and not is_repo_id(value):
                raise ValueError(f"{name}: {value!r} is not a Hub repo id; use 'user/name' or leave it empty")
        if self.push_checkpoints_to and self.save_total_limit < 2:
            raise ValueError("save_total_limit: keep at least 2 checkpoints when pushing them (one may be uploading "
                             "while the next is saved)")
        methods.of(self).check_recipe(self)
        if not self.target_modules.strip():
            raise ValueError("target_modules: empty; use 'all-linear' or a comma list such as 'q_proj,v_proj'")
        return self

    @property
    def targets(self) -> str | list[str]:
        t = self.target_modules.strip()
        return t if t == "all-linear" else [m.strip() for m in t.split(",") if m.strip()]

    @property
    def eval_task_list(self) -> list[str]:
        return [t.strip() for t in self.eval_tasks.split(",") if t.strip()]

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accum * self.num_processes

    def flat(self, mode: str = "python") -> dict:
        """The recipe in the flat form: `method: NAME` with the method's fields beside it (the form, the flags)."""
        data = self.model_dump(mode=mode)
        return {**flatten(data.pop("method")), **data}

    def updated(self, **values) -> "TrainRecipe":
        """A validated copy with these fields changed (flat names for the method's: dpo_beta, rewards, ...)."""
        return TrainRecipe.parse({**self.flat(), **values})

    @classmethod
    def invalid(cls, exc: ValidationError, data: dict) -> LabError:
        """A recipe is validated nested or flat: the first bad field is named as it was written."""
        flat_input = not isinstance(data.get("method"), dict)
        return recipe_error(_Located(exc, flat_input), form_fields())


class _Located:
    """A validation error whose first location reads as the recipe was written (lab.train.methods.flat)."""

    def __init__(self, exc: ValidationError, flat_input: bool):
        first = exc.errors()[0]
        self._errors = [{**first, "loc": flat_loc(tuple(first.get("loc", ())), flat_input)}]

    def errors(self) -> list[dict]:
        return self._errors


@cache
def form_fields() -> dict[str, FieldInfo]:
    """Every field in the flat form, name -> its type, default and help: `method` (one of the registry's), the
    common fields, then each method's own. The Train tab's form and the CLI's flags are built from it."""
    common = {k: v for k, v in TrainRecipe.model_fields.items() if k != "method"}
    method = FieldInfo(annotation=Literal[tuple(METHODS)], default=DEFAULT_METHOD, description=METHOD_HELP)
    return {"method": method, **common, **flat_fields()}


_SHADOWED = sorted(set(flat_fields()) & set(TrainRecipe.model_fields))
if _SHADOWED:  # a method's flat name must not hide a common field
    raise TypeError(f"flat method fields shadow common ones: {_SHADOWED}")


def describe(field: str) -> str:
    """The help text of one field of the flat form (the UI's info=)."""
    return form_fields()[field].description or ""


# Presets: starting points for the form; each only sets the fields that define it.
PRESETS: dict[str, dict] = {
    "QLoRA on a T4/A10G": dict(method="sft", adapter="qlora", lora_r=16, lora_alpha=32, learning_rate=2e-4,
                               batch_size=4, grad_accum=4, max_seq_length=1024, gradient_checkpointing="on",
                               scheduler="cosine", epochs=1.0),
    "LoRA 16-bit": dict(method="sft", adapter="lora", lora_r=16, lora_alpha=32, learning_rate=2e-4,
                        batch_size=8, grad_accum=2, max_seq_length=1024, gradient_checkpointing="auto",
                        scheduler="cosine", epochs=1.0),
    "Full fine-tune": dict(method="sft", adapter="full", learning_rate=2e-5, batch_size=8, grad_accum=2,
                           max_seq_length=1024, gradient_checkpointing="on", weight_decay=0.01,
                           scheduler="cosine", epochs=2.0),
    "DPO with LoRA": dict(method="dpo", adapter="lora", lora_r=16, lora_alpha=32, learning_rate=5e-6,
                          batch_size=4, grad_accum=4, max_seq_length=1024, dpo_beta=0.1, dpo_loss="sigmoid",
                          gradient_checkpointing="auto", scheduler="cosine", epochs=1.0, packing=False),
    # the lab writes this preset's data (lab.train.arith); bench/suites/train_methods.py measures its rise
    "GRPO: teach an answer format": dict(method="grpo", adapter="lora", lora_r=16, lora_alpha=32,
                                         learning_rate=2e-4, batch_size=8, grad_accum=1, num_generations=4,
                                         max_completion_length=16, temperature=1.0, grpo_beta=0.0,
                                         rewards=[f"format:{ARITH_FORMAT}", "exact"], max_steps=60,
                                         max_seq_length=256, scheduler="constant", warmup_ratio=0.0, packing=False),
    "KTO from arena votes": dict(method="kto", adapter="lora", lora_r=16, lora_alpha=32, learning_rate=5e-6,
                                 batch_size=4, grad_accum=4, max_seq_length=1024, dpo_beta=0.1,
                                 gradient_checkpointing="auto", scheduler="cosine", epochs=1.0, packing=False),
    "Reward model from preference pairs": dict(method="reward", adapter="lora", lora_r=16, lora_alpha=32,
                                               learning_rate=1e-4, batch_size=4, grad_accum=2, max_seq_length=1024,
                                               scheduler="cosine", epochs=1.0, packing=False),
}
# Presets whose dataset the lab provides: preset -> lab.train.preset_data source
PRESET_DATA = {"GRPO: teach an answer format": "arithmetic", "KTO from arena votes": "arena-kto"}


def preset(name: str, **overrides) -> TrainRecipe:
    if name not in PRESETS:
        raise LabError(f"Unknown preset {name!r}.", f"Pick one of: {', '.join(PRESETS)}.", "preset")
    auto = [f for f in AUTO_FIT if f not in overrides]  # a preset's batch and length are starting points
    return TrainRecipe.parse({"auto_fit": auto, **PRESETS[name], **overrides})
