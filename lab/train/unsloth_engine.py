"""The Unsloth engine (GPU only): the base and its LoRA adapter through Unsloth's FastLanguageModel, then the same
TRL trainer, callbacks, checkpoints and card as the TRL engine.

Unsloth patches transformers, TRL and PEFT when it is imported, so a run that will use it imports it before they
load (`preload`). lab.train.engine decides when it runs; preflight refuses `engine: unsloth` where it cannot.
Nothing here runs on a machine without Unsloth and a CUDA GPU.
"""
from __future__ import annotations

import importlib.util

from lab.errors import LabError
from lab.hardware import get_hardware
from lab.models import resolve
from lab.train import build, engine
from lab.train.base_model import model_facts

# Unsloth wants explicit module names where the lab says "all-linear" (a Llama-style decoder's linears)
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def preload(recipe, token: str | None = None) -> bool:
    """Import Unsloth now, before transformers, when this run will train with it. Returns whether it did."""
    if recipe.engine == "trl" or importlib.util.find_spec("unsloth") is None:
        return False
    hw = get_hardware()
    cuda = hw.cuda and not recipe.use_cpu
    if not cuda:
        return False
    facts = model_facts(recipe.model, token)
    f = engine.facts(cuda, facts["config"].get("model_type", ""), bool(facts["adapter"]))
    if engine.decide(recipe, f).engine != "unsloth":
        return False
    try:
        import unsloth  # noqa: F401  # heavy: unsloth (patches transformers, TRL and PEFT on import)
    except Exception as exc:  # noqa: BLE001 - installed but broken (its pins exclude the lab's trl 1.16)
        raise LabError(f"The run would train with Unsloth (engine {recipe.engine}), but it does not import here: "
                       f"{type(exc).__name__}: {str(exc)[:300]}", "Set engine to trl, or install an Unsloth that "
                       "supports this trl and transformers.", "engine") from None
    return True


def load(recipe, p, token: str | None, log):
    """(model with its LoRA adapter, tokenizer): Unsloth's fast model at the planned precision (4-bit for QLoRA),
    with Unsloth's gradient checkpointing where the plan checkpoints; the tokenizer is the lab's (its chat
    template and pad token)."""
    from unsloth import FastLanguageModel  # heavy: unsloth

    folder = resolve(recipe.model, token=token, log=log)
    tok, _ = build.load_tokenizer(folder, recipe)
    checkpointing = "unsloth" if p.gradient_checkpointing else False
    model, _ = FastLanguageModel.from_pretrained(
        model_name=str(folder), max_seq_length=recipe.max_seq_length, dtype=build.torch_dtype(p.precision),
        load_in_4bit=p.four_bit, device_map={"": build.local_index()}, token=token, trust_remote_code=False,
        use_gradient_checkpointing=checkpointing)
    targets = ALL_LINEAR if recipe.targets == "all-linear" else recipe.targets
    model = FastLanguageModel.get_peft_model(
        model, r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
        target_modules=targets, bias="none", use_gradient_checkpointing=checkpointing, random_state=recipe.seed)
    if recipe.lora_dropout:
        log("Unsloth: lora_dropout above 0 trains, but off its fastest path (set lora_dropout to 0 for it).")
    model.config.use_cache = False
    return model, tok
