"""Checks before launch: fail before anything heavy loads, clamp what can be clamped, estimate memory.

Everything here reads config files and the dataset only, never the weights.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

from lab import hardware
from lab.errors import LabError
from lab.hardware import Hardware, get_hardware
from lab.jobs import allocator
from lab.settings import get_settings
from lab.train import distributed, engine, lengths, memory, methods
from lab.train.base_model import model_facts
from lab.train.build import Plan, plan
from lab.train.fit import SHARE, fit, refusal
from lab.train.recipe import TrainRecipe

TRACKERS = {"tensorboard": "tensorboard", "trackio": "trackio", "wandb": "wandb"}


@dataclass
class Preflight:
    recipe: TrainRecipe  # the effective recipe (clamped, template decided)
    plan: Plan
    kind: str  # sft | text | preference
    rows: int
    train_rows: int
    eval_rows: int
    memory: dict
    warnings: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"recipe": self.recipe.model_dump(mode="json"), "plan": self.plan.summary(), "kind": self.kind,
                "rows": self.rows, "train_rows": self.train_rows, "eval_rows": self.eval_rows,
                "memory": self.memory, "warnings": self.warnings, "engine": engine_of(self.plan)}


def engine_of(p: Plan) -> dict:
    """The engine, kernels and reasons of a plan, as preflight.json, the Train tab and the card record them."""
    return {"engine": p.engine, "kernels": list(p.kernels), "reasons": list(p.reasons)}


def planner(hw: Hardware, facts: dict):
    """plan(recipe) on this hardware for this base model (its type decides what Unsloth and Liger support)."""
    model_type = (facts.get("config") or {}).get("model_type", "")
    return lambda r: plan(r, hw, model_type, bool(facts.get("adapter")))


def free_gb(device: str, hw: Hardware) -> float:
    """Memory free for a new run now: RAM (the container's limit where it is lower), or the GPU's free VRAM
    (what the app's chat models or another job hold is not free). A faked GPU (tests) counts as empty."""
    if device == "cuda":
        try:
            import torch  # heavy: torch, only on a machine with a GPU

            if torch.cuda.is_available():
                return hardware.vram_free_bytes(_local_index())[0] / memory.GB
        except Exception:  # noqa: BLE001 - no driver: fall back to the probe's total
            pass
        return hw.gpus[0].vram_gb * 2**30 / memory.GB
    return hardware.ram_free_bytes() / memory.GB


def _local_index() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def _profile(facts: dict, recipe: TrainRecipe, p: Plan):
    """The traced profile, or a coarse one from the config when the architecture cannot be built on meta."""
    try:
        return memory.profile_for(facts["config_json"], recipe, p), ""
    except Exception as exc:  # noqa: BLE001 - an unusual architecture: estimate from the config alone
        return memory.coarse_profile(facts, recipe, p), f"memory estimated from the config only ({type(exc).__name__})"


def fit_memory(recipe: TrainRecipe, facts: dict, hw: Hardware, lens, n_train: int, warnings: list[str],
               free: float | None = None):
    """(recipe that fits, its estimate dict): lowers what the lab may lower, refuses what the user pinned."""
    plan_of = planner(hw, facts)
    p = plan_of(recipe)
    prof, note = _profile(facts, recipe, p)
    if note:
        warnings.append(note)
    free = free_gb(p.device, hw) if free is None else free
    limit = get_settings().memory_limit_gb if p.device == "cpu" else None
    room = min(free, limit) if limit else free

    def total_on(alloc: str):
        return lambda r: memory.estimate(prof, r, plan_of(r), lens, n_train, alloc)["total_gb"]

    first = memory.estimate(prof, recipe, p, lens, n_train)
    if limit and first["weights_gb"] + memory.RUNTIME["cpu"] / memory.GB > limit:
        raise LabError(f"LAB_MEMORY_LIMIT_GB={limit:g} is below what the model itself takes "
                       f"({first['weights_gb']:.1f} GB of weights plus the process): every step would be stopped.",
                       "Raise LAB_MEMORY_LIMIT_GB, or pick a smaller model or QLoRA.", "LAB_MEMORY_LIMIT_GB")
    p95 = lens.p95 if lens else recipe.max_seq_length
    alloc, result = _fit_allocator(recipe, total_on, SHARE * room, p95, p.device)
    total = total_on(alloc)
    if not result.fits:
        if not recipe.run_anyway:
            raise refusal(recipe, result, room, total, p95)
        warnings.append(f"Run anyway: the estimate ({result.estimate_gb:.1f} GB) is over the budget "
                        f"({result.budget_gb:.1f} GB); the memory watchdog stops the run if memory runs out.")
    eff = result.recipe
    mem = memory.estimate(prof, eff, plan_of(eff), lens, n_train, alloc)
    mem.update(available_gb=round(room, 1), budget_gb=round(SHARE * room, 1),
               verdict=memory.verdict(mem["total_gb"], room, SHARE), changes=result.changes,
               lengths=lens.summary(eff.max_seq_length) if lens else None, limit_gb=limit)
    if p.device == "cuda" and eff.num_processes > 1:
        mem["placement"] = placement(eff, mem, memory.estimate(prof, one_gpu(eff), plan_of(eff), lens, n_train),
                                     hw, room)
    if p.device == "cuda":
        mem["ram_available_gb"] = round(hardware.ram_free_bytes() / memory.GB, 1)
    return eff, mem


def one_gpu(recipe: TrainRecipe) -> TrainRecipe:
    return recipe.model_copy(update={"num_processes": 1, "distributed": "ddp"})


def placement(recipe: TrainRecipe, mem: dict, single: dict, hw: Hardware, room: float) -> str:
    """Where the run fits, e.g. "Fits on 4 × NVIDIA A10G with FSDP, not on 1." (GPUs of this machine)."""
    gpus = f"{recipe.num_processes} × {hw.gpus[0].name}"
    how = recipe.distributed.upper()
    if mem["verdict"] == "won't fit":
        return f"Does not fit on {gpus} with {how}."
    if memory.verdict(single["total_gb"], room, SHARE) == "won't fit":
        return f"Fits on {gpus} with {how}, not on 1."
    return f"Fits on {gpus} with {how}, and on 1 too{' (ddp is faster then)' if how == 'FSDP' else ''}."


def _fit_allocator(recipe: TrainRecipe, total_on, budget: float, p95: int, device: str):
    """(allocator, Fit): the fastest allocator that fits the run with no more changes than the leanest one needs
    (lab/jobs/allocator.py has the measurements); the leanest when the run does not fit at all."""
    options = allocator.choices() if device == "cpu" else ("glibc",)
    fits = [(alloc, fit(recipe, total_on(alloc), budget, p95)) for alloc in options]
    lean = fits[-1][1]
    alloc, result = next((a, r) for a, r in fits if (r.fits and r.recipe == lean.recipe) or r is lean)
    if alloc != options[0]:
        fast = total_on(options[0])(recipe)
        result.changes.insert(0, f"The worker runs on jemalloc, which hands freed memory back to the system: "
                                 f"{total_on(alloc)(recipe):.1f} GB instead of {fast:.1f} GB with glibc's malloc, "
                                 "for CPU steps up to about 30 % slower.")
    return alloc, result


def memory_text(mem: dict) -> str:
    return memory.text(mem) + ("\n\n" + " ".join(mem["changes"]) if mem.get("changes") else "")


def _check_static(recipe: TrainRecipe, hw: Hardware) -> None:
    if recipe.adapter == "qlora" and not hw.bnb_ok:
        raise LabError(f"QLoRA needs bitsandbytes 4-bit, which cannot run here ({hw.bnb_error or 'unavailable'}).",
                       "Choose adapter 'lora' (16-bit), or install a working bitsandbytes.", "adapter")
    module = TRACKERS.get(recipe.report_to)
    if module and importlib.util.find_spec(module) is None:
        raise LabError(f"report_to is {recipe.report_to}, but {module} is not installed.",
                       f"pip install {module}, or set report_to to none.", "report_to")


def _check_engine(recipe: TrainRecipe, hw: Hardware, facts: dict) -> None:
    """`engine: unsloth` where Unsloth cannot train the run: refused before anything loads."""
    cuda = hw.cuda and not recipe.use_cpu
    refused = engine.refusal(recipe, engine.facts(cuda, facts["config"].get("model_type", ""),
                                                  bool(facts["adapter"])))
    if refused:
        raise refused


def check_rows(recipe: TrainRecipe, kind: str, rows: int) -> tuple[int, int, list[str]]:
    """(train rows, eval rows, warnings); errors when the data does not fit the method or one batch."""
    method = methods.of(recipe)
    warnings = method.check_kind(recipe, kind)
    n_eval = max(1, int(rows * recipe.eval_split)) if recipe.eval_split else 0
    n_train = rows - n_eval
    world = max(int(os.environ.get("WORLD_SIZE", "1")), recipe.num_processes)  # checked before the launch too
    per_batch = method.rows_per_batch(recipe)
    if n_train < per_batch * world:
        raise LabError(f"The dataset has {n_train} training rows, fewer than one batch ({per_batch} rows"
                       f"{f' × {world} processes' if world > 1 else ''}).",
                       "Add rows (or raise max_rows), or lower batch_size.", "dataset")
    return n_train, n_eval, warnings


def check(recipe: TrainRecipe, hw: Hardware | None = None, token: str | None = None, ds=None,
          free: float | None = None) -> Preflight:
    """Every check that can run without the weights. `ds` is the loaded (normalized, kind) pair when known."""
    hw = hw or get_hardware()
    method = methods.of(recipe)
    _check_static(recipe, hw)
    distributed.check(recipe, hw)
    facts = model_facts(recipe.model, token)
    _check_engine(recipe, hw, facts)
    if facts["adapter"] and recipe.adapter == "qlora":
        raise LabError("QLoRA cannot train on top of an existing adapter (it would merge into 4-bit weights).",
                       "Merge that adapter into a full model first (merge: true), or use adapter 'lora'.", "adapter")
    dataset, kind = ds or method.rows(recipe, token)
    n_train, n_eval, warnings = check_rows(recipe, kind, len(dataset))
    updates = {}
    limit = facts.get("max_positions")
    if limit and recipe.max_seq_length > limit:
        updates["max_seq_length"] = int(limit)
        warnings.append(f"max_seq_length {recipe.max_seq_length} is beyond the model's maximum ({limit}); "
                        f"clamped to {limit}.")
    if recipe.chat_template == "model" and not facts.get("chat_template"):
        updates["chat_template"] = "chatml"
        warnings.append("The model has no chat template; the run uses ChatML (saved with the result, so chat "
                        "with the same template).")
    eff = recipe.model_copy(update=updates) if updates else recipe
    tok = lengths.tokenizer_for(facts["folder"], eff.chat_template)
    lens = lengths.measure(dataset, kind, tok, seed=eff.seed, texts=method.length_texts)
    warnings += method.checks(eff, dataset, kind, facts, lens, token)
    eff, mem = fit_memory(eff, facts, hw, lens, n_train, warnings, free)
    p = planner(hw, facts)(eff)
    cuda = p.device == "cuda"
    warnings += list(engine.decide(eff, engine.facts(cuda, facts["config"].get("model_type", ""),
                                                     bool(facts["adapter"]))).warnings)
    if p.four_bit and p.device == "cpu":
        warnings.append("4-bit on CPU works but is slow; the lab turns off bitsandbytes' AVX512-BF16 repack, "
                        "which would otherwise corrupt LoRA gradients after the first eval or generate().")
    if mem["verdict"] != "fits":
        warnings.append(memory_text(mem))
    return Preflight(eff, p, kind, len(dataset), n_train, n_eval, mem, warnings, facts)
