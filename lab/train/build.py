"""Recipe -> TRL / PEFT / bitsandbytes objects. Precision comes from the hardware probe, never by accident.

TRL 1.16's configs default to gradient_checkpointing=True and bf16=True even on CPU, so both are always set
here explicitly. On CPU, bitsandbytes repacks 4-bit weights for good on the first no-grad forward when the CPU
has AVX512-BF16, after which LoRA gradients through them are wrong: fix_cpu_4bit() turns that path off.
"""
from __future__ import annotations

import importlib.util
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab.hardware import Gpu, Hardware, get_hardware
from lab.models import resolve
from lab.train import base_model, distributed, engine, methods, tracking, varlen
from lab.train.masking import apply_template
from lab.train.recipe import TrainRecipe

_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


@dataclass(frozen=True)
class Plan:
    """How a recipe runs on this hardware: decided once, shown in the UI and the log."""
    device: str  # "cuda" | "cpu"
    precision: str  # "bf16" | "fp16" | "fp32" (mixed precision of the run)
    load_dtype: str  # dtype of the frozen weights as loaded
    four_bit: bool
    gradient_checkpointing: bool
    fsdp: bool = False  # sharded with FSDP (accelerate launch with an FSDP config)
    engine: str = "trl"  # what trains: "trl" | "unsloth" (lab.train.engine)
    kernels: tuple[str, ...] = ()  # the fast path that is on: padding_free, packing, liger, vllm
    reasons: tuple[str, ...] = ()  # why each switch is on or off, for the Train tab and the log

    def summary(self) -> str:
        base = "4-bit nf4" if self.four_bit else self.load_dtype
        gc = ", gradient checkpointing" if self.gradient_checkpointing else ""
        kernels = f" · {', '.join(self.kernels)}" if self.kernels else ""
        return f"{self.device.upper()} · {self.precision} compute · base weights {base}{gc} · {self.engine}{kernels}"


def plan(recipe: TrainRecipe, hw: Hardware | None = None, model_type: str = "", on_adapter: bool = False) -> Plan:
    """How the recipe runs on this hardware; `model_type` (the base's config) decides what Unsloth and Liger
    support."""
    hw = hw or get_hardware()
    cuda = hw.cuda and not recipe.use_cpu
    prec = hw.precision if cuda else "fp32"
    if recipe.adapter == "full" and prec == "fp16":
        load = "fp32"  # fp16 AMP needs fp32 master weights ("Attempting to unscale FP16 gradients")
    else:
        load = prec
    gc = {"on": True, "off": False}.get(recipe.gradient_checkpointing, cuda)
    fsdp = os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")
    d = engine.decide(recipe, engine.facts(cuda, model_type, on_adapter))
    return Plan("cuda" if cuda else "cpu", prec, load, recipe.adapter == "qlora", gc, fsdp, d.engine, d.kernels,
                d.reasons)


def torch_dtype(name: str):
    import torch  # heavy: torch, only where weights load

    return getattr(torch, _DTYPES[name])


def bnb_config(p: Plan):
    from transformers import BitsAndBytesConfig  # heavy: transformers

    compute = torch_dtype(p.precision)
    extra = {"bnb_4bit_quant_storage": compute} if p.fsdp else {}  # FSDP shards one dtype: store 4-bit in it
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute, **extra)


def lora_config(recipe: TrainRecipe):
    from peft import LoraConfig  # heavy: peft imports torch and transformers

    return LoraConfig(r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
                      target_modules=recipe.targets, bias="none", **methods.of(recipe).lora_task())


def fix_cpu_4bit(model) -> int:
    """Turn off bitsandbytes' AVX512-BF16 repack on every Linear4bit (DESIGN.md §5). Returns how many."""
    try:
        import bitsandbytes as bnb  # heavy: bitsandbytes (and optional)
    except ImportError:
        return 0
    n = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            n += 1
    return n


def fp32_trainable(model) -> int:
    """Under fp16 AMP (a T4) every trained weight must be fp32: the GradScaler cannot unscale bf16 gradients
    ("_amp_foreach_non_finite_check_and_unscale_cuda not implemented for 'BFloat16'"), and TRL casts QLoRA
    adapters to bf16. Returns how many tensors were cast."""
    import torch  # heavy: torch (loaded by then)

    n = 0
    for param in model.parameters():
        if param.requires_grad and param.dtype in (torch.bfloat16, torch.float16):
            param.data = param.data.float()
            n += 1
    return n


def load_tokenizer(folder: Path, recipe: TrainRecipe):
    """The tokenizer with the run's chat template and a pad token; returns (tokenizer, warnings)."""
    from transformers import AutoTokenizer  # heavy: transformers

    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    warnings = [w for w in [apply_template(tok, recipe.chat_template)] if w]
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, warnings


def load_model(folder: Path, recipe: TrainRecipe, p: Plan):
    """The base model at the planned dtype (4-bit for QLoRA), with the CPU 4-bit fix applied before any use."""
    impl = attention(p)
    if impl == varlen.NAME:
        varlen.register()
    kwargs = dict(dtype=torch_dtype(p.load_dtype), trust_remote_code=False, use_safetensors=True,
                  attn_implementation=impl)
    if p.four_bit:
        kwargs["quantization_config"] = bnb_config(p)
    if (p.four_bit or p.device == "cuda") and not p.fsdp:  # straight to the device, never staged whole in RAM
        kwargs["device_map"] = {"": _local_device(p)}
    auto, extra = methods.of(recipe).model_class()  # a reward model is a sequence classifier
    model = auto.from_pretrained(folder, **kwargs, **extra)
    if p.four_bit and p.device == "cpu":
        fix_cpu_4bit(model)
    model.config.use_cache = False  # the cache is useless in training and warns with checkpointing
    return model


def local_index() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def attention(p: Plan) -> str:
    """flash-attention 2 on a GPU with 16-bit compute when the package is installed, else PyTorch's SDPA (on a GPU
    it keeps packed rows apart with a block-diagonal mask read from the position ids). On a CPU, padding-free
    batches (padding_free, packing) attend row by row (lab.train.varlen: SDPA's flash kernel on each row alone, no
    mask, no work across rows); reading the rows' bounds is free there, where on a GPU it would sync the device."""
    if p.device == "cuda" and p.precision in ("bf16", "fp16") and importlib.util.find_spec("flash_attn"):
        return "flash_attention_2"
    if p.device == "cpu" and {"padding_free", "packing"} & set(p.kernels):
        return varlen.NAME
    return "sdpa"


def _local_device(p: Plan):
    return "cpu" if p.device == "cpu" else local_index()


def _common_args(recipe: TrainRecipe, out: Path, p: Plan, has_eval: bool, total_steps: int) -> dict:
    eval_steps = recipe.eval_steps or max(1, total_steps // 10)
    return dict(
        output_dir=str(out), learning_rate=recipe.learning_rate, num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps, per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=recipe.batch_size, gradient_accumulation_steps=recipe.grad_accum,
        warmup_steps=recipe.warmup_ratio, lr_scheduler_type=recipe.scheduler, weight_decay=recipe.weight_decay,
        seed=recipe.seed, max_length=recipe.max_seq_length,
        bf16=p.precision == "bf16", fp16=p.precision == "fp16", use_cpu=p.device == "cpu",
        **_checkpointing_args(p),
        ddp_find_unused_parameters=False, logging_steps=1, logging_first_step=True,
        use_liger_kernel="liger" in p.kernels,
        save_strategy="steps", save_steps=recipe.save_steps, save_total_limit=recipe.save_total_limit,
        eval_strategy="steps" if has_eval else "no", eval_steps=eval_steps if has_eval else None,
        report_to=[] if recipe.report_to == "none" else [recipe.report_to], disable_tqdm=True,
        dataloader_num_workers=0, remove_unused_columns=True, push_to_hub=False,
        **tracking.training_args(recipe, out),
    )


def _checkpointing_args(p: Plan) -> dict:
    """Gradient checkpointing, non-reentrant, under the name the installed transformers uses (5.23 renamed it
    activation_checkpointing; the old name stays as a deprecated alias). Unsloth's model checkpoints itself."""
    from transformers import TrainingArguments  # heavy: transformers

    name = "activation_checkpointing" if "activation_checkpointing" in TrainingArguments.__dataclass_fields__ \
        else "gradient_checkpointing"
    on = p.gradient_checkpointing and p.engine != "unsloth"  # Unsloth checkpoints with its own (unsloth_engine)
    return {name: on, f"{name}_kwargs": {"use_reentrant": False} if on else None}


def training_args(recipe: TrainRecipe, out: Path, p: Plan, has_eval: bool = False, total_steps: int = 100):
    """The method's TRL config, built on the arguments every method shares."""
    return methods.of(recipe).config(recipe, _common_args(recipe, out, p, has_eval, total_steps))


def load_weights(recipe: TrainRecipe, p: Plan, token: str | None, log):
    """(model, tokenizer) at the planned precision; an adapter artifact as the base is merged in first."""
    from peft import PeftModel  # heavy: peft imports torch and transformers

    base_cfg, prior = base_model.model_folders(recipe.model, token)
    folder = resolve(str(base_cfg) if prior else recipe.model, token=token, log=log)
    tok, _ = load_tokenizer(prior or folder, recipe)
    model = load_model(folder, recipe, p)
    if prior:
        model = PeftModel.from_pretrained(model, str(prior)).merge_and_unload()
    return model, tok


# The machine a `trl` command runs on is not this one: its flags come from the recipe (use_cpu), and a GPU target
# is taken to be Ampere or newer (bf16), with a hint for older GPUs.
_GPU_TARGET = Hardware(gpus=(Gpu("a GPU with bf16", 24.0, (8, 0)),), bnb_ok=True)
_CPU_TARGET = Hardware(bnb_ok=True)
_OLDER_GPUS = "# On a GPU without bf16 (T4, V100): --bf16 False --fp16 True. On a CPU: set use_cpu in the recipe."


def trl_command(recipe: TrainRecipe, output_dir: str = "out") -> str:
    """The equivalent `trl sft` / `trl dpo` / ... command line, for users who leave the lab. A lab dataset artifact
    loads as it is (its card names its data file), so the command runs as shown."""
    p = plan(recipe, _CPU_TARGET if recipe.use_cpu else _GPU_TARGET)
    method = methods.of(recipe)
    args = ["trl", method.name, "--model_name_or_path", recipe.model, "--dataset_name", recipe.dataset,
            "--dataset_train_split", recipe.dataset_split, "--output_dir", output_dir,
            "--learning_rate", f"{recipe.learning_rate:g}", "--per_device_train_batch_size", str(recipe.batch_size),
            "--gradient_accumulation_steps", str(recipe.grad_accum), "--max_length", str(recipe.max_seq_length),
            "--lr_scheduler_type", recipe.scheduler, "--warmup_steps", f"{recipe.warmup_ratio:g}",
            "--weight_decay", f"{recipe.weight_decay:g}", "--seed", str(recipe.seed),
            "--gradient_checkpointing", str(p.gradient_checkpointing), "--bf16", str(p.precision == "bf16"),
            "--fp16", str(p.precision == "fp16"), "--logging_steps", "1", "--save_steps", str(recipe.save_steps)]
    args += ["--max_steps", str(recipe.max_steps)] if recipe.max_steps > 0 else ["--num_train_epochs",
                                                                                 f"{recipe.epochs:g}"]
    if recipe.adapter != "full":
        targets = recipe.targets if isinstance(recipe.targets, list) else [recipe.targets]
        args += ["--use_peft", "--lora_r", str(recipe.lora_r), "--lora_alpha", str(recipe.lora_alpha),
                 "--lora_dropout", f"{recipe.lora_dropout:g}", "--lora_target_modules", *targets]
    if recipe.adapter == "qlora":
        args += ["--load_in_4bit", "--bnb_4bit_quant_type", "nf4", "--use_bnb_nested_quant"]
    if p.device == "cpu":
        args += ["--use_cpu"]
    made = method.trl_args(recipe, args)
    if made is None:
        return (f"# TRL's CLI has no `trl {method.name}` command: run the recipe with `python -m lab train "
                "recipe.yaml`, or TRL's trainer from Python.")
    args, note = made
    line = _launched(recipe, args, p) if recipe.num_processes > 1 else shlex.join(args)
    return line + note + ("" if p.device == "cpu" else "\n" + _OLDER_GPUS)


def _launched(recipe: TrainRecipe, args: list[str], p: Plan) -> str:
    """Several processes: TRL's script for the method under `accelerate launch`, with the config the lab generates
    for the run written next to it (`trl METHOD --accelerate_config accelerate.yaml` launches the same way)."""
    target = _CPU_TARGET if p.device == "cpu" else _GPU_TARGET
    config = yaml.safe_dump(distributed.accelerate_config(recipe, target), sort_keys=False)
    launch = ["accelerate", "launch", "--config_file", "accelerate.yaml", "-m", f"trl.scripts.{args[1]}"]
    cpu = "CUDA_VISIBLE_DEVICES= " if p.device == "cpu" else ""  # no GPU: the ranks talk over gloo, as in the lab
    return (f"# {recipe.num_processes} processes ({recipe.distributed}): the generated accelerate config\n"
            f"cat > accelerate.yaml <<'EOF'\n{config}EOF\n{cpu}{shlex.join(launch + args[2:])}")
