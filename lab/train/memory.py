"""How much memory a training run takes, part by part, on the device that runs it (RAM on CPU, VRAM on a GPU).

The parts follow what TRL 1.16 allocates, with the activations counted from the model itself (memory_trace) and
the batch sized by the dataset's real token lengths (lengths):
- weights at their loaded dtype (QLoRA: 4-bit decoder linears; embeddings, LM head and norms stay 16-bit);
- trainable weights, their gradients and AdamW's two states, all in the trainable weights' real dtype;
- a second copy of the weights for full-fine-tuning DPO (its frozen reference model);
- the activations kept for backward over the longest batch (DPO: chosen and rejected, 2 × batch sequences);
  with gradient checkpointing, each layer's input plus one layer recomputed at a time. A padding-free batch
  (plan.kernels) is its rows end to end: the fullest batch's real tokens, no padding. Liger's kernels keep
  less per layer: its SwiGLU no copy of the gate's activation, its RMSNorm no fp32 copy of its input (TRL 1.16
  refuses Liger's fused cross-entropy and keeps its own chunked LM head, so the LM head part stays);
- TRL's fused LM head: logits are never whole, but its vocabulary tiles are (on CPU several tile-sized
  temporaries live at once; Triton on a GPU fuses them);
- the runtime: the process itself on CPU; the CUDA context and allocator slack on a GPU.
The constants below were fitted against measured peaks (bench/suites/memory.py) and are checked there.
"""
from __future__ import annotations

import math

from lab.jobs import allocator
from lab.train import methods
from lab.train.lengths import Lengths
from lab.train.memory_trace import Profile, kv_bytes_per_token, profile

GB = 1e9
TILE_TOKENS, TILE_VOCAB = 4096, 32768  # TRL's chunked log-prob tile
TILE_COPIES = {"cpu": 9.0, "cuda": 1.0}  # tile-sized buffers alive at the LM head's peak (Triton fuses on a GPU)
RUNTIME = {"cpu": 0.65 * GB, "cuda": 0.55 * GB}  # process base RSS / CUDA context
RAM_OF_GPU_RUN = 3.0 * GB  # a GPU run's own RAM: Python, torch with CUDA libraries, tokenizer and dataset
# RSS / live tensors. CPU: jemalloc returns freed memory (1.0); glibc's malloc keeps freed activations in its
# heaps (measured 1.23-1.25 on LoRA runs), so on CPU the slack is on the parts made and freed every step only
# (weights, gradients and optimizer state live all run: a full fine-tune measured 0.79 with it on every part).
# GPU: reserved / allocated of PyTorch's caching allocator, on every part.
ALLOCATOR_SLACK = {"jemalloc": 1.0, "glibc": 1.25, "cuda": 1.05}
TRANSIENT = ("activations", "LM head", "generation cache", "attention mask")
BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
NF4_BYTES = 0.516  # 4 bits + double-quantized absmax per 64-block


def lora_kwargs(recipe) -> dict:
    """The adapter as the trainer builds it. Where the method's TRL config turns dropout off (disable_dropout),
    the dropout's copy of each adapted layer's input goes too."""
    dropout = recipe.lora_dropout if methods.of(recipe).memory_terms(recipe).lora_dropout else 0.0
    targets = recipe.targets if isinstance(recipe.targets, str) else sorted(recipe.targets)
    return {"r": recipe.lora_r, "lora_alpha": recipe.lora_alpha, "lora_dropout": dropout, "target_modules": targets}


def profile_for(config: dict, recipe, plan) -> Profile:
    """The model's memory profile for this run, traced on the meta device (see memory_trace)."""
    dtype = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[plan.precision if plan.four_bit
                                                                       else plan.load_dtype]
    full = recipe.adapter == "full"
    return profile(config, dtype, None if full else lora_kwargs(recipe), full)


def coarse_profile(facts: dict, recipe, plan) -> Profile:
    """A profile from config numbers alone, for architectures the meta trace cannot build. Per layer and token it
    keeps about 10 hidden-size and 4 intermediate-size tensors, plus 10 hidden-size more for LoRA's dropout copies
    (what the trace measures on Llama-style layers)."""
    cfg = facts["config"]
    h, layers, vocab = cfg.get("hidden_size", 0), cfg.get("num_hidden_layers", 0), cfg.get("vocab_size", 0)
    inter = cfg.get("intermediate_size", 4 * h)
    elem = BYTES[plan.precision if plan.four_bit else plan.load_dtype]
    dropout = recipe.adapter != "full" and methods.of(recipe).memory_terms(recipe).lora_dropout and \
        recipe.lora_dropout > 0
    per_token = layers * ((10 + (10 if dropout else 0)) * h + 4 * inter) * elem
    params = int(facts.get("params") or 0)
    trainable = params if recipe.adapter == "full" else int(recipe.lora_r * layers * (6 * h + 3 * (h + inter)))
    embed = vocab * h * (1 if cfg.get("tie_word_embeddings", True) else 2)
    return Profile(params=params + (0 if recipe.adapter == "full" else trainable), trainable=trainable,
                   embed_params=embed, linear_params=max(0, params - embed), act_per_token=per_token,
                   layer_input_per_token=h * elem, layers=layers, hidden=h, vocab=vocab,
                   kv_per_token=kv_bytes_per_token(cfg, elem), intermediate=inter)


def rows_seen(recipe, n_train: int, world: int = 1) -> int:
    per_step = recipe.batch_size * recipe.grad_accum * world
    if recipe.max_steps > 0:
        return min(n_train, recipe.max_steps * per_step)
    return n_train if recipe.epochs >= 1 else max(per_step, int(n_train * recipe.epochs))


def batch_shape(recipe, lengths: Lengths | None, n_train: int, padding_free: bool = False) -> tuple[int, int]:
    """(sequences per micro-batch, their padded length) of the step that peaks; padding-free: (1, its tokens)."""
    terms = methods.of(recipe).memory_terms(recipe)
    seqs = recipe.batch_size * terms.sequences_per_row
    if padding_free and lengths is not None and not terms.packed:  # one sequence: the rows end to end
        return 1, max(1, lengths.padding_free_batch(recipe.max_seq_length, seqs, rows_seen(recipe, n_train)))
    if terms.completion_tokens:  # sampled answers: the longest prompt (kept whole) plus a full-length answer
        prompts = lengths.longest_batch(10**9, rows_seen(recipe, n_train)) if lengths else recipe.max_seq_length
        return seqs, prompts + terms.completion_tokens
    if terms.packed or lengths is None:
        return seqs, recipe.max_seq_length  # packed rows fill max_seq_length
    return seqs, max(1, lengths.longest_batch(recipe.max_seq_length, rows_seen(recipe, n_train)))


def _weights(prof: Profile, plan, adapter: str) -> float:
    base = prof.params - (0 if adapter == "full" else prof.trainable)
    if plan.four_bit:
        return prof.linear_params * NF4_BYTES + (base - prof.linear_params) * BYTES[plan.precision]
    return base * BYTES[plan.load_dtype]


def _trainable_bytes(plan, adapter: str) -> int:
    if adapter == "full":
        return BYTES[plan.load_dtype]
    # TRL casts QLoRA adapters to bf16 (the lab keeps them fp32 under fp16 AMP); PEFT keeps LoRA adapters fp32
    return 2 if plan.four_bit and plan.precision == "bf16" else 4


def _activations(prof: Profile, tokens: int, plan) -> float:
    per_layer = prof.act_per_token / max(1, prof.layers)
    if "liger" in plan.kernels:  # SwiGLU keeps no activated gate; RMSNorm no fp32 copy of its input
        per_layer = max(0.0, per_layer - BYTES[plan.precision] * (prof.intermediate + 2 * prof.hidden))
    if not plan.gradient_checkpointing:
        return per_layer * prof.layers * tokens
    return (prof.layer_input_per_token * prof.layers + per_layer) * tokens


def _lm_head(prof: Profile, tokens: int, plan) -> float:
    """The tiles of logits (in the compute dtype under autocast) and the fp32 gradient of the last hidden state."""
    tile = BYTES[plan.precision] if plan.device == "cuda" else 4
    tiles = min(tokens, TILE_TOKENS) * min(prof.vocab, TILE_VOCAB) * tile * TILE_COPIES[plan.device]
    return tiles + tokens * prof.hidden * 4


def estimate(prof: Profile, recipe, plan, lengths: Lengths | None, n_train: int, alloc: str | None = None) -> dict:
    """GB by part and in total for the device that runs the recipe, plus the RAM of a GPU run. `alloc`: the CPU
    run's malloc (default: this process's)."""
    device = plan.device
    terms = methods.of(recipe).memory_terms(recipe)
    seqs, length = batch_shape(recipe, lengths, n_train, "padding_free" in plan.kernels)
    tokens = seqs * length
    t_bytes = _trainable_bytes(plan, recipe.adapter)
    weights = _weights(prof, plan, recipe.adapter)
    parts = {
        "weights": weights,
        "trainable weights": 0 if recipe.adapter == "full" else prof.trainable * t_bytes,
        "gradients": prof.trainable * t_bytes,
        "optimizer": 2 * prof.trainable * t_bytes,
        "reference model": weights if terms.reference_copy and recipe.adapter == "full" else 0,
        "activations": _activations(prof, tokens, plan),
        "LM head": _lm_head(prof, tokens, plan) if terms.lm_head else 0,  # a reward model has a score head
        # counted as if it lived alongside the step's activations (it does not quite)
        "generation cache": terms.cached_sequences * length * prof.kv_per_token,
        # padded: a seq × seq mask per sequence; padding-free: one block-diagonal mask on a GPU, none on a CPU
        # (its rows attend row by row: lab.train.varlen)
        "attention mask": 0 if "padding_free" in plan.kernels and plan.device == "cpu" else seqs * length * length,
        "runtime": RUNTIME[device],
    }
    ranks = max(1, int(getattr(recipe, "num_processes", 1)))
    if ranks > 1 and recipe.distributed == "fsdp":  # FULL_SHARD: each rank holds 1/N of these, plus a layer gathered
        gathered = 2 * (weights + parts["gradients"]) / max(1, prof.layers)  # the layer in use and the prefetched one
        parts.update({k: parts[k] / ranks for k in SHARDED}, **{"FSDP gathered layers": gathered})
    torch_parts = sum(v for k, v in parts.items() if k != "runtime")
    alloc = "glibc" if device == "cuda" else alloc or allocator.current()
    slack = ALLOCATOR_SLACK["cuda" if device == "cuda" else alloc]
    slacked = torch_parts if device == "cuda" else sum(parts[k] for k in TRANSIENT)
    total = torch_parts + slacked * (slack - 1) + parts["runtime"]
    per_rank = total
    if device == "cpu":  # the CPU ranks share the machine's RAM: each holds its whole replica
        total *= ranks
    ram = total if device == "cpu" else RAM_OF_GPU_RUN * ranks
    return {
        "device": device, "allocator": alloc, "total_gb": round(total / GB, 2), "ram_gb": round(ram / GB, 2),
        "vram_gb": round(total / GB, 2) if device == "cuda" else None,
        "parts_gb": {k: round(v / GB, 3) for k, v in parts.items() if v},
        "batch": {"sequences": seqs, "length": length, "tokens": tokens},
        "weights_gb": round((weights + parts["reference model"]) / GB, 2),
        "processes": ranks, "strategy": recipe.distributed if ranks > 1 else "", "per_process_gb": round(per_rank / GB, 2),
    }


SHARDED = ("weights", "trainable weights", "gradients", "optimizer", "reference model")


def verdict(total_gb: float, available_gb: float, share: float = 0.75) -> str:
    if total_gb <= share * available_gb:
        return "fits"
    return "tight" if total_gb <= available_gb else "won't fit"


def text(mem: dict) -> str:
    parts = ", ".join(f"{k} {v:g}" for k, v in mem["parts_gb"].items() if v >= 0.01)
    where = "VRAM" if mem["device"] == "cuda" else "RAM"
    b = mem["batch"]
    head = (f"Estimated {mem['total_gb']:g} GB of {where} (longest batch {b['sequences']} × {b['length']} tokens) "
            f"of {mem.get('available_gb', 0):g} GB free: **{mem.get('verdict', '?')}**. ({parts}).")
    if mem.get("processes", 1) > 1:
        each = "per GPU" if mem["device"] == "cuda" else f"{mem['per_process_gb']:g} GB per process"
        head += f" {mem['processes']} processes ({mem['strategy']}); the estimate is {each}."
    if mem.get("placement"):
        head += f" {mem['placement']}"
    if mem["device"] == "cuda":
        head += f" RAM: about {mem['ram_gb']:g} GB of {mem.get('ram_available_gb', 0):g} GB free."
    return head


def round_up(n: int, to: int = 8) -> int:
    return int(math.ceil(n / to) * to)
