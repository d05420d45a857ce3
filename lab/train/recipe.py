"""TrainRecipe: everything a training run needs, validated, round-tripped through YAML.

The help text of every field lives here once (Field description); the Train tab shows it as info=.
"""
from __future__ import annotations

from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lab import yamlio
from lab.errors import LabError
from lab.repo_id import is_repo_id
from lab.settings import DEFAULT_MODEL
from lab.train.arith import FORMAT as ARITH_FORMAT
from lab.train.rewards.spec import REWARD_HELP, RewardSpec, parse_rewards
from lab.validation import recipe_error

AUTO_FIT = ("batch_size", "max_seq_length")


class TrainRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    method: Literal["sft", "dpo", "grpo", "kto", "reward"] = Field(
        "sft", description="SFT teaches the model to answer (loss on the answer only). DPO teaches it which of two "
        "answers is better; it needs preference rows (prompt, chosen, rejected) and usually follows SFT. GRPO "
        "samples several answers per prompt and learns from your rewards (needs prompts). KTO learns from "
        "thumbs up/down on single answers (prompt, completion, label). reward trains a reward model (a "
        "sequence classifier) on preference rows, for GRPO or the Data tab's scoring.")
    model: str = Field(DEFAULT_MODEL, description="The base model: a Hub id or a local folder (safetensors). "
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
    packing: bool = Field(False, description="SFT only: pack several short rows into one padding-free sequence "
                          "(TRL's best-fit packing). Faster on datasets of short rows; position ids keep each row "
                          "from attending to the others (SDPA and flash-attention alike).")
    completion_only_loss: bool = Field(True, description="Train on the answers only (the prompt is context). "
                                       "Off trains on every token, which also teaches the model the prompts.")
    chat_template: Literal["model", "chatml"] = Field(
        "model", description="The model's own chat template, or ChatML. A base model without a template gets "
                             "ChatML automatically, with a warning; chat with the result using the same template.")
    dpo_beta: float = Field(0.1, gt=0, le=10, description="DPO and KTO: how far the model may drift from the "
                            "reference. Lower (0.05) lets it move more; higher (0.5) keeps it close.")
    dpo_loss: Literal["sigmoid", "ipo", "hinge", "robust"] = Field(
        "sigmoid", description="DPO only: the preference loss. sigmoid is standard DPO; ipo resists overfitting "
                               "to noisy preferences; hinge is SLiC; robust tolerates label noise.")
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
    grpo_beta: float = Field(0.0, ge=0, le=10, description="GRPO: KL penalty towards the reference. 0 (TRL's "
                             "default) needs no reference pass; 0.01–0.1 keeps the model close to where it began.")
    no_signal_steps: int = Field(5, ge=1, le=10_000, description="GRPO: warn \"no signal: check the reward\" when "
                                 "every reward is 0 for this many first steps.")
    desirable_weight: float = Field(1.0, gt=0, le=100, description="KTO: weight of thumbs-up rows. With fewer "
                                    "thumbs-up than thumbs-down, raise it so the two sides weigh about the same.")
    undesirable_weight: float = Field(1.0, gt=0, le=100, description="KTO: weight of thumbs-down rows.")
    eval_split: float = Field(0.0, ge=0, lt=0.5, description="Fraction of rows held out for an eval loss curve. "
                              "0.05–0.1 shows overfitting; 0 trains on everything.")
    eval_steps: int = Field(0, ge=0, description="Evaluate every N steps (0: ten times per run).")
    save_steps: int = Field(50, ge=1, description="Save a checkpoint every N steps. Resume continues from the "
                            "last one; more frequent saves lose less on a crash and cost disk and time.")
    save_total_limit: int = Field(2, ge=1, description="Keep only the newest N checkpoints on disk.")
    gradient_checkpointing: Literal["auto", "on", "off"] = Field(
        "auto", description="Recompute activations in the backward pass: about 30% less activation memory for "
                            "about 20% more time. auto: on for a GPU, off on CPU.")
    merge: bool = Field(False, description="After training, also save a full model with the adapter merged in, "
                        "always from a 16-bit base (QLoRA too). Easier to serve; as big as the base.")
    push_checkpoints_to: str = Field("", description="Hub repo (user/name) that receives every checkpoint, so a "
                                     "run resumes even after the lab's disk is wiped. Needs sign-in.")
    push_to: str = Field("", description="Hub repo (user/name) that receives the finished adapter (and the "
                         "merged model as <repo>-merged). Needs sign-in; required on Hugging Face Jobs.")
    report_to: Literal["none", "tensorboard", "trackio", "wandb"] = Field(
        "none", description="Also log to an experiment tracker, when installed and configured. The lab's own "
                            "curves never depend on it.")
    use_cpu: bool = Field(False, description="Train on the CPU even when a GPU is present (slow; for tests and "
                          "multi-process CPU runs).")
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
    def _explicit_values(cls, data):
        """Without an explicit auto_fit, the batch and length the caller gave are theirs: the lab keeps them."""
        if isinstance(data, dict) and "auto_fit" not in data:
            data = {**data, "auto_fit": [f for f in AUTO_FIT if f not in data]}
        return data

    @field_validator("rewards", mode="before")
    @classmethod
    def _reward_lines(cls, value):
        return parse_rewards(value)

    @model_validator(mode="after")
    def _check(self):
        for name in ("push_checkpoints_to", "push_to"):
            value = getattr(self, name)
            if value and not is_repo_id(value):
                raise ValueError(f"{name}: {value!r} is not a Hub repo id; use 'user/name' or leave it empty")
        if self.push_checkpoints_to and self.save_total_limit < 2:
            raise ValueError("save_total_limit: keep at least 2 checkpoints when pushing them (one may be uploading "
                             "while the next is saved)")
        if self.packing and self.method != "sft":
            raise ValueError(f"packing: only SFT packs rows; turn packing off for {self.method.upper()}")
        _check_method(self)
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
        return self.batch_size * self.grad_accum

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> "TrainRecipe":
        return cls.parse(yamlio.load(text or "") or {})  # safe: no aliases (YAML bombs), size and depth capped

    @classmethod
    def parse(cls, data: dict) -> "TrainRecipe":
        """Validate a dict; errors become a LabError naming the first bad field."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise LabError("The recipe must be a mapping of fields.", "Start from a preset's YAML.", "recipe")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise recipe_error(exc, cls.model_fields) from None


def _check_method(r: TrainRecipe) -> None:
    """Cross-field rules of GRPO and KTO, checked before anything loads."""
    if r.method == "grpo":
        if not r.rewards:
            raise ValueError("rewards: GRPO needs at least one reward, e.g. format:<answer>.*</answer> and exact")
        if r.effective_batch % r.num_generations:
            raise ValueError(f"num_generations: batch_size × grad_accum ({r.effective_batch}) counts sampled "
                             f"answers and must be a multiple of num_generations ({r.num_generations})")
    if r.method == "kto" and r.batch_size < 2:
        raise ValueError("batch_size: KTO needs at least 2 rows per batch (its KL term pairs each answer with "
                         "another row's)")


def describe(field: str) -> str:
    """The help text of one field (the UI's info=)."""
    return TrainRecipe.model_fields[field].description or ""


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
