"""Attention for padding-free batches without flash-attention: PyTorch's SDPA once per row, causal, no mask.

A padding-free batch is its rows end to end in one sequence. Given only position ids, transformers' SDPA path
builds a block-diagonal mask over the whole sequence, and with a mask PyTorch's CPU SDPA runs its math kernel:
it computes and keeps every row's scores against every other row's (total tokens² per head and layer), most of
them masked away. The collator already says where each row starts (`cu_seq_lens_q`), so this attention runs SDPA
on each row alone with `is_causal=True`: the flash kernel (CPU and CUDA), each row's own tokens² of work, and no
scores kept. It is what flash-attention's variable-length kernel does, one row at a time.

Registered as the attention implementation "lab_varlen" (build.attention picks it for padding-free runs on a CPU,
where reading the bounds costs nothing; on a GPU it would sync the device at every layer). No attention mask is
built for it: every batch it sees is padding-free (the lab's SFT collator); rows are told apart by the collator's
bounds or by position ids restarting at 0, and a batch with neither is one causal sequence per batch row.
"""
from __future__ import annotations

NAME = "lab_varlen"


def attention(module, query, key, value, attention_mask, scaling=None, dropout: float = 0.0,
              cu_seq_lens_q=None, position_ids=None, **kwargs):
    """(output as (batch, tokens, heads, head_dim), None), like transformers' attention functions."""
    import torch  # heavy: torch (loaded by then: a model is running)
    from torch.nn.functional import scaled_dot_product_attention as sdpa  # heavy: torch

    groups = query.shape[1] // key.shape[1]
    if groups > 1:  # grouped-query attention: each query head's own copy of its key/value head
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    drop = dropout if module.training else 0.0
    bounds = _bounds(cu_seq_lens_q, position_ids, query)
    if bounds is None:  # one causal sequence per batch row; a decoding step (one new token) sees every key
        out = sdpa(query, key, value, is_causal=query.shape[2] == key.shape[2], scale=scaling, dropout_p=drop)
    else:
        out = torch.cat([sdpa(query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], is_causal=True, scale=scaling,
                              dropout_p=drop) for a, b in zip(bounds, bounds[1:]) if b > a], dim=2)
    return out.transpose(1, 2).contiguous(), None


def _bounds(cu_seq_lens, position_ids, query) -> list[int] | None:
    """Where each row of a packed batch starts (and the end): from the collator's cu_seq_lens, else from the position
    ids restarting at 0; None for a batch that is not one packed sequence."""
    if query.shape[0] != 1 or query.shape[2] == 1:
        return None
    if cu_seq_lens is not None:
        return cu_seq_lens.tolist()
    if position_ids is None:
        return None
    starts = (position_ids[0] == 0).nonzero().flatten().tolist()
    if starts[:1] != [0] or len(starts) == 1:
        return None
    return [*starts, query.shape[2]]


def register() -> str:
    """Make "lab_varlen" an attention implementation transformers can load a model with; returns its name."""
    from transformers import AttentionInterface  # heavy: transformers

    AttentionInterface.register(NAME, attention)
    return NAME
