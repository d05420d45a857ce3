"""Which engine trains a recipe (TRL or Unsloth) and which fast kernels it runs with, decided once and said why.

`decide(recipe, facts)` is pure: it reads the recipe and `Facts` (a CUDA GPU, which optional packages are
installed, the model's type) and returns the engine, the kernels that are on and one reason per switch. The Train
tab and the log show the reasons; the card records the engine and kernels. `refusal(recipe, facts)` is the
LabError of `engine: unsloth` where Unsloth cannot run, raised by preflight before anything loads.

- padding_free: SFT batches are the rows end to end with position ids, no padding. TRL 1.16 disables DPO's
  padding-free (it warns and pads), so only SFT uses it; packing is padding-free already.
- liger: Liger's Triton kernels (RMSNorm, RoPE, SwiGLU) through TRL's `use_liger_kernel`. TRL 1.16's trainers
  keep their own chunked LM head and refuse Liger's fused cross-entropy, so Liger brings the layer kernels.
- vllm: GRPO samples its answers with vLLM, colocated on the training GPU.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

from lab.errors import LabError

# model types Unsloth's FastLanguageModel trains (its supported architectures)
UNSLOTH_MODELS = frozenset({"llama", "mistral", "qwen2", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3",
                            "gemma3_text", "phi3", "cohere", "granite"})
# model types liger-kernel patches (its MODEL_TYPE_TO_APPLY_LIGER_FN, text models)
LIGER_MODELS = frozenset({"llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "gemma", "gemma2",
                          "gemma3", "gemma3_text", "phi3", "granite", "olmo2", "glm4", "smollm3"})
LABELS = {"reward": "a reward model"}  # how a message names a method (else its name in capitals)


@dataclass(frozen=True)
class Facts:
    """What the decision depends on beyond the recipe."""
    cuda: bool = False  # the run trains on a CUDA GPU (not use_cpu)
    unsloth: bool = False  # importable
    liger: bool = False
    vllm: bool = False
    model_type: str = ""  # the base model's config model_type ("" when unknown)
    on_adapter: bool = False  # the base is an adapter artifact (merged in before training)
    world: int = 1  # processes of the run


def facts(cuda: bool, model_type: str = "", on_adapter: bool = False) -> Facts:
    """The facts of this machine: which optional packages are importable (found, not imported)."""
    found = lambda name: importlib.util.find_spec(name) is not None  # noqa: E731
    return Facts(cuda=cuda, unsloth=found("unsloth"), liger=found("liger_kernel"), vllm=found("vllm"),
                 model_type=model_type, on_adapter=on_adapter, world=int(os.environ.get("WORLD_SIZE", "1")))


@dataclass(frozen=True)
class Decision:
    engine: str  # "trl" | "unsloth"
    kernels: tuple[str, ...] = ()  # what is on: padding_free, packing, liger, vllm
    reasons: tuple[str, ...] = ()  # one sentence per switch: why it is on or off
    warnings: tuple[str, ...] = field(default=(), compare=False)  # what the recipe asked for and does not get

    def summary(self) -> str:
        kernels = ", ".join(self.kernels) if self.kernels else "none"
        return f"engine {self.engine} · kernels: {kernels}"

    def to_dict(self) -> dict:
        return {"engine": self.engine, "kernels": list(self.kernels), "reasons": list(self.reasons)}


def unsloth_missing(recipe, f: Facts) -> list[str]:
    """What keeps Unsloth from training this recipe here; empty when it can."""
    out = []
    if not f.unsloth:
        out.append("Unsloth is not installed (pip install unsloth, on a machine with an NVIDIA GPU)")
    if not f.cuda:
        out.append("no CUDA GPU (use_cpu is set)" if recipe.use_cpu else "no CUDA GPU: Unsloth trains on NVIDIA "
                   "GPUs only")
    if not recipe.method.on_unsloth:
        out.append(f"the lab runs {_label(recipe)} on TRL only (Unsloth: SFT, DPO and GRPO)")
    if recipe.adapter == "full":
        out.append("the lab runs Unsloth for LoRA and QLoRA only, not a full fine-tune")
    if f.model_type not in UNSLOTH_MODELS:
        kind = f"{f.model_type} models" if f.model_type else "a model of unknown type"
        out.append(f"Unsloth does not support {kind} (it trains {', '.join(sorted(UNSLOTH_MODELS))})")
    if f.on_adapter:
        out.append("the base is an adapter artifact (merge it into a full model first)")
    if f.world > 1:
        out.append("this is a multi-process run; Unsloth trains on one GPU")
    return out


def padding_free(recipe) -> bool:
    """SFT batches without padding: the recipe asks for it, the method supports it, and packing is off (packed
    rows are padding-free already)."""
    return (recipe.padding_free and recipe.method.batches_padding_free
            and not getattr(recipe.method, "packing", False))


def _engine(recipe, f: Facts) -> tuple[str, str]:
    missing = unsloth_missing(recipe, f)
    if recipe.engine == "trl":
        return "trl", "Engine TRL: set in the recipe."
    if recipe.engine == "unsloth":
        return "unsloth", "Engine Unsloth: set in the recipe."
    if not missing:
        return "unsloth", f"Engine Unsloth (auto): installed, on a CUDA GPU, and it supports {f.model_type or 'the'} " \
                          f"models for {_label(recipe)} with {recipe.adapter.upper()}."
    return "trl", f"Engine TRL (auto): Unsloth is not used because {missing[0]}."


def _label(recipe) -> str:
    return LABELS.get(recipe.method.name, recipe.method.name.upper())


def _batching(recipe) -> tuple[list[str], str]:
    label = _label(recipe)
    if getattr(recipe.method, "packing", False):
        return ["packing"], "Packing: rows are packed best-fit into max_seq_length, padding-free."
    if padding_free(recipe):
        return ["padding_free"], ("Padding-free: each batch is its rows end to end with position ids, so no step "
                                  "computes padding and no row attends to another.")
    if recipe.padding_free:
        return [], f"Padding-free: SFT only; {label} pads each batch to its longest row (TRL 1.16 has no " \
                   "padding-free path for it)."
    return [], "Padding-free: off in the recipe; each batch is padded to its longest row."


def _liger(recipe, f: Facts, engine: str) -> tuple[bool, str, str]:
    """(on, reason, warning)."""
    asked = recipe.liger == "on"
    if recipe.liger == "off":
        return False, "Liger kernels: off in the recipe.", ""
    if engine == "unsloth":
        why = "Liger kernels: off under Unsloth, which patches the model with its own Triton kernels."
        return False, why, why if asked else ""
    if not f.cuda:
        why = "Liger kernels: off, they need a CUDA GPU (Triton)."
        return False, why, why if asked else ""
    if not f.liger:
        why = "Liger kernels: off, liger-kernel is not installed (pip install liger-kernel)."
        return False, why, why if asked else ""
    if f.model_type not in LIGER_MODELS:
        why = (f"Liger kernels: off, Liger does not patch {f.model_type or 'this'} models; the run goes on "
               "without them.")
        return False, why, why  # installed and on a GPU, yet not used: the log says so
    return True, f"Liger kernels: on (RMSNorm, RoPE, SwiGLU on {f.model_type})" + \
        (", asked for in the recipe." if asked else ", auto: a CUDA GPU with liger-kernel installed."), ""


def decide(recipe, f: Facts) -> Decision:
    """The engine, the kernels that are on and why, for this recipe on a machine with these facts."""
    engine, why = _engine(recipe, f)
    kernels, batching = _batching(recipe)
    reasons, warnings = [why, batching], []
    liger, liger_why, liger_warn = _liger(recipe, f, engine)
    reasons.append(liger_why)
    kernels += ["liger"] if liger else []
    warnings += [liger_warn] if liger_warn else []
    if recipe.method.samples_answers:
        use = f.cuda and f.vllm
        kernels += ["vllm"] if use else []
        reasons.append("GRPO generation: vLLM, colocated on the training GPU." if use else
                       "GRPO generation: transformers (" + ("vllm is not installed)." if f.cuda else "no CUDA GPU)."))
    return Decision(engine, tuple(kernels), tuple(reasons), tuple(warnings))


def refusal(recipe, f: Facts) -> LabError | None:
    """The error for `engine: unsloth` where Unsloth cannot run: what is missing, and what auto would pick."""
    missing = unsloth_missing(recipe, f)
    if recipe.engine != "unsloth" or not missing:
        return None
    auto = decide(recipe.model_copy(update={"engine": "auto"}), f)
    return LabError(f"engine is unsloth, but Unsloth cannot train this run: {'; '.join(missing)}.",
                    f"Set engine to auto (here it would pick {auto.engine.upper()}"
                    f"{' with ' + ', '.join(auto.kernels) if auto.kernels else ''}) or trl.", "engine")


def vllm_args(cuda: bool) -> dict:
    """GRPOConfig arguments for generation with vLLM colocated on the training GPU (TRL 1.16's names), where the
    run trains on CUDA and vllm is installed; else none (transformers generates)."""
    if cuda and importlib.util.find_spec("vllm") is not None:
        return {"use_vllm": True, "vllm_mode": "colocate"}
    return {}
