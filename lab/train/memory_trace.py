"""What a training step keeps alive, counted on the meta device: no weights load and no memory is used.

The model is built from its config on `meta`, the run's LoRA is applied, and one forward runs under
`saved_tensors_hooks`: every tensor autograd keeps for the backward pass is counted once (by storage), weights
excluded. Doing it twice (two lengths) separates the per-token bytes from the fixed ones. This follows the
architecture, the adapter's targets and dropout, and the dtype exactly, where a hand-written formula drifts.

Attention runs through a stand-in that saves what fused kernels (SDPA flash / memory-efficient, flash-attention)
save: the output and a log-sum-exp per head, never the seq × seq scores.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

_ATTN = "lab_trace"
_LENGTHS = (32, 64)


@dataclass(frozen=True)
class Profile:
    params: int  # every parameter of the model (with the adapter)
    trainable: int  # parameters that train (LoRA: the adapter; full: all)
    embed_params: int  # input embedding + untied LM head: stay 16-bit under QLoRA
    linear_params: int  # parameters of nn.Linear layers inside the decoder (what 4-bit quantizes)
    act_per_token: float  # bytes kept for backward per token, whole model, no checkpointing
    layer_input_per_token: float  # bytes of one decoder layer's input per token (what checkpointing keeps)
    layers: int
    hidden: int
    vocab: int
    kv_per_token: float = 0.0  # bytes of one token's keys and values over all layers (GRPO's generation cache)
    intermediate: int = 0  # the MLP's width (what Liger's SwiGLU saves a copy of)

    def to_dict(self) -> dict:
        return asdict(self)


def _fused_function():
    import torch  # heavy: torch (on the meta device: no weights)

    class FusedAttention(torch.autograd.Function):
        """Saves (q, k, v, out, logsumexp), as SDPA's flash / memory-efficient kernels do."""

        @staticmethod
        def forward(ctx, q, k, v):
            out = torch.empty_like(q)
            lse = q.new_empty(q.shape[:-1], dtype=torch.float32)
            ctx.save_for_backward(q, k, v, out, lse)
            return out

        @staticmethod
        def backward(ctx, grad):
            q, k, v, _, _ = ctx.saved_tensors
            return torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)

    return FusedAttention


def _attention(module, query, key, value, attention_mask, **kwargs):
    """Training batches carry a padding mask, so transformers' SDPA path repeats k/v for grouped-query attention
    before the kernel; the stand-in does the same."""
    groups = query.shape[1] // key.shape[1]
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    out = _fused_function().apply(query, key, value)
    return out.transpose(1, 2).contiguous(), None


def _register() -> None:
    from transformers import AttentionInterface  # heavy: transformers

    AttentionInterface.register(_ATTN, _attention)


class _Counter:
    """Counts bytes of saved tensors once per storage, skipping the parameters' storages."""

    def __init__(self, model):
        self.skip = {p.untyped_storage()._cdata for p in model.parameters()}
        self.skip |= {b.untyped_storage()._cdata for b in model.buffers()}
        self.seen: dict[int, int] = {}

    def pack(self, t):
        s = t.untyped_storage()
        if s._cdata not in self.skip:
            self.seen[s._cdata] = max(self.seen.get(s._cdata, 0), s.nbytes())
        return t

    @property
    def total(self) -> int:
        return sum(self.seen.values())


def _saved_bytes(model, length: int) -> int:
    import torch  # heavy: torch (on the meta device: no weights)

    counter = _Counter(model)
    ids = torch.zeros(1, length, dtype=torch.long, device="meta")
    with torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda t: t):
        out = model(input_ids=ids, use_cache=False, logits_to_keep=1)
    del out
    return counter.total


def _build(config: dict, dtype: str, lora: dict | None):
    import torch  # heavy: torch (on the meta device: no weights)
    from transformers import AutoConfig, AutoModelForCausalLM  # heavy: transformers

    _register()
    cfg = AutoConfig.for_model(**config)
    cfg._attn_implementation = _ATTN
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, dtype), attn_implementation=_ATTN,
                                                 trust_remote_code=False)
    if lora:
        from peft import LoraConfig, get_peft_model  # heavy: peft

        # adapters in the run's dtype: under autocast their inputs are saved at that dtype, not fp32
        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", bias="none", **lora),
                               autocast_adapter_dtype=False)
    model.train()
    return model


def _counts(model) -> tuple[int, int, int, int]:
    import torch  # heavy: torch (on the meta device: no weights)

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    emb = base.get_input_embeddings().weight
    head = base.get_output_embeddings()
    embed = emb.numel() + (head.weight.numel() if head is not None and head.weight is not emb else 0)
    decoder = getattr(base, base.base_model_prefix, base)
    linear = sum(m.weight.numel() for n, m in decoder.named_modules()
                 if isinstance(m, torch.nn.Linear) and "lora_" not in n)
    return params, trainable, embed, linear


@lru_cache(maxsize=32)
def _profile_cached(config_json: str, dtype: str, lora_json: str, full: bool) -> Profile:
    config = json.loads(config_json)
    lora = json.loads(lora_json) or None
    model = _build(config, dtype, lora)
    if full:
        for p in model.parameters():
            p.requires_grad_(True)
    params, trainable, embed, linear = _counts(model)
    short, long = (_saved_bytes(model, n) for n in _LENGTHS)
    per_token = (long - short) / (_LENGTHS[1] - _LENGTHS[0])
    text = config.get("text_config", config)
    hidden = int(text.get("hidden_size", 0))
    elem = 4 if dtype == "float32" else 2
    return Profile(params=params, trainable=trainable, embed_params=embed, linear_params=linear,
                   act_per_token=per_token, layer_input_per_token=hidden * elem,
                   layers=int(text.get("num_hidden_layers", 0)), hidden=hidden, vocab=int(text.get("vocab_size", 0)),
                   kv_per_token=kv_bytes_per_token(text, elem), intermediate=int(text.get("intermediate_size", 0)))


def kv_bytes_per_token(config: dict, elem: int) -> float:
    """Keys and values of one token in every layer (grouped-query attention stores fewer heads)."""
    hidden = int(config.get("hidden_size", 0))
    heads = int(config.get("num_attention_heads") or 1)
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or hidden // heads)
    return 2.0 * int(config.get("num_hidden_layers", 0)) * kv_heads * head_dim * elem


def profile(config: dict, dtype: str, lora: dict | None, full: bool = False) -> Profile:
    """The run's memory profile. `config`: the model's config.json; `dtype`: torch name of the weights' dtype;
    `lora`: LoraConfig kwargs (r, lora_alpha, lora_dropout, target_modules) or None for full fine-tuning."""
    config = {k: v for k, v in config.items() if k not in ("quantization_config", "auto_map")}
    return _profile_cached(json.dumps(config, sort_keys=True, default=str), dtype,
                           json.dumps(lora or {}, sort_keys=True), full)


def read_config(folder: Path) -> dict:
    return json.loads((Path(folder) / "config.json").read_text())
