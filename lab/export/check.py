"""Verify a written GGUF: re-open it with gguf's reader, then load it back through transformers and compare its
next-token distributions with the source model's on fixed prompts (top-1 agreement and mean KL divergence,
the figures llama.cpp's perplexity tool reports for a quant).

The source runs once per export (its log-probabilities are kept, the model is freed), so only one model is in
memory at a time.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

import psutil

from lab.bars import reporting
from lab.errors import LabError
from lab.export.arch import rope_params, text_config

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain in one sentence why the sky is blue.",
    "def fibonacci(n):",
    "List three fruits that are red.",
    "Translate 'good morning' into Spanish.",
    "How many legs does a spider have?",
    "Give me a tip for sleeping better.",
]
SPECIAL_KEYS = {"bos": "bos_token_id", "eos": "eos_token_id", "pad": "padding_token_id"}
EXACT = {"f16": (1e-3, 0.99), "bf16": (1e-3, 0.99)}  # type -> (max mean KL, min top-1 agreement)


@dataclass
class Reference:
    ids: list  # token id tensors, one per prompt
    logprobs: list  # float32 log-softmax per prompt, [positions, vocab]
    encodings: list[list[int]]


def prompt_texts(tok) -> list[str]:
    """The fixed prompts, through the chat template when the model has one (as a chat app sends them)."""
    if getattr(tok, "chat_template", None):
        return [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
                for p in PROMPTS]
    return PROMPTS


def reference(folder: Path) -> Reference:
    import torch  # heavy: torch
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy: transformers

    tok = AutoTokenizer.from_pretrained(folder)
    texts = prompt_texts(tok)
    encodings = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    ids = [torch.tensor([e]) for e in encodings]
    with torch.no_grad():
        logprobs = [torch.log_softmax(model(i).logits[0].float(), -1) for i in ids]
    del model
    gc.collect()
    return Reference(ids, logprobs, encodings)


def _field(reader, key: str):
    from gguf import GGUFValueType  # heavy: gguf

    f = reader.fields.get(key)
    if f is None:
        return None
    if f.types[0] == GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    if f.types[0] == GGUFValueType.ARRAY:
        return len(f.data)
    return f.parts[f.data[0]].tolist()[0]


def settings(cfg: dict) -> dict:
    """The model settings the file must state, under llama.cpp's keys (without the architecture prefix)."""
    t = text_config(cfg)
    out = {"block_count": t["num_hidden_layers"], "embedding_length": t["hidden_size"],
           "feed_forward_length": t["intermediate_size"], "attention.head_count": t["num_attention_heads"],
           "attention.head_count_kv": t.get("num_key_value_heads") or t["num_attention_heads"],
           "context_length": t.get("max_position_embeddings", 2048), "vocab_size": t["vocab_size"],
           "rope.freq_base": float(rope_params(t)["rope_theta"]),
           "attention.layer_norm_rms_epsilon": float(t.get("rms_norm_eps", 1e-6))}
    if t.get("head_dim"):
        out["attention.key_length"] = t["head_dim"]
    return out


def read_back(path: Path, arch_name: str, planned: int, vocab, cfg: dict) -> dict:
    """What gguf's reader finds in the file, checked against what was meant to be written."""
    from gguf import GGUFReader  # heavy: gguf

    reader = GGUFReader(path)
    t = text_config(cfg)
    found = {"architecture": _field(reader, "general.architecture"), "tensors": len(reader.tensors),
             "chat_template": bool(_field(reader, "tokenizer.chat_template")),
             "special_ids": {k: _field(reader, f"tokenizer.ggml.{key}") for k, key in SPECIAL_KEYS.items()},
             "tokens": _field(reader, "tokenizer.ggml.tokens")}
    expected = {"architecture": arch_name, "tensors": planned, "chat_template": bool(vocab.chat_template),
                "special_ids": {k: vocab.special_ids.get(k) for k in SPECIAL_KEYS},
                "tokens": len(vocab.tokens)}
    problems = [f"{k}: wrote {expected[k]!r}, read {found[k]!r}" for k in expected if found[k] != expected[k]]
    for key, want in settings(cfg).items():
        got = _field(reader, f"{arch_name}.{key}")
        if got is None or (abs(got - want) > 1e-6 * max(1.0, abs(want)) if isinstance(want, float) else got != want):
            problems.append(f"{key}: config {want}, file {got}")
    if vocab.chat_template:
        text = _field(reader, "tokenizer.chat_template")
        if isinstance(vocab.chat_template, str) and text != vocab.chat_template:
            problems.append("chat_template: the file's template differs from the tokenizer's")
    if problems:
        raise LabError(f"{path.name} does not read back as written: " + "; ".join(problems) + ".",
                       "This is a bug in the export; please report it with the source model's config.json.",
                       "gguf")
    return found


def compare(path: Path, ref: Reference, source: Path, cfg: dict, arch_name: str, tokenizer: bool = True,
            progress=None) -> dict:
    """Load the GGUF through transformers (`gguf_file=`) and compare with the reference. `progress(fraction,
    message)` moves by tensor as the file loads, then by prompt, then the tokenizer's reload."""
    import torch  # heavy: torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # heavy: transformers
    from transformers import modeling_gguf_pytorch_utils as gguf_load  # heavy: transformers

    progress = progress or (lambda fraction, message="": None)

    def by_tensor(done: int, total: int, _desc: str) -> None:
        progress(0.05 + 0.6 * done / max(total, 1), f"reloading through transformers: tensor {done}/{total}")

    # The weights come from the GGUF; the settings are the source's, which read_back() has matched field by field
    # with the file's. (transformers rebuilding them from the file reparses all metadata and doubles the load
    # time, and its reader skips attention.key_length and rope scaling for these architectures.) A Mistral is a
    # `llama` GGUF, which transformers maps only from its own reading of the file.
    same = text_config(cfg).get("model_type") == arch_name
    extra = {"config": AutoConfig.from_pretrained(source)} if same else {}
    with reporting(gguf_load, by_tensor):
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32, **extra)
    kl_sum, agree, positions, max_diff = 0.0, 0, 0, 0.0
    with torch.no_grad():
        for k, (ids, lp) in enumerate(zip(ref.ids, ref.logprobs)):
            progress(0.65 + 0.25 * k / len(ref.ids), f"comparing with the source: prompt {k + 1}/{len(ref.ids)}")
            lq = torch.log_softmax(model(ids).logits[0].float(), -1)
            kl = (lp.exp() * (lp - lq)).sum(-1).clamp_min(0)
            kl_sum += float(kl.sum())
            agree += int((lp.argmax(-1) == lq.argmax(-1)).sum())
            positions += kl.numel()
            max_diff = max(max_diff, float((lp - lq).abs().max()))
    del model
    gc.collect()
    out = {"prompts": len(ref.ids), "positions": positions, "top1_agreement": round(agree / positions, 4),
           "kl_mean": float(f"{kl_sum / positions:.3g}"), "max_logprob_diff": float(f"{max_diff:.3g}")}
    if tokenizer:
        progress(0.9, "reloading the tokenizer from the file")
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        texts = prompt_texts(AutoTokenizer.from_pretrained(source))
        same = sum(tok(t, add_special_tokens=False)["input_ids"] == e for t, e in zip(texts, ref.encodings))
        out["tokenizer_agreement"] = round(same / len(texts), 4)
    return out


def judge(kind: str, figures: dict) -> list[str]:
    """Problems that make a lossless type's file wrong (a quant's figures are reported, not judged)."""
    if kind not in EXACT or "kl_mean" not in figures:
        return []
    max_kl, min_agree = EXACT[kind]
    out = []
    if figures["kl_mean"] > max_kl:
        out.append(f"mean KL {figures['kl_mean']} > {max_kl}")
    if figures["top1_agreement"] < min_agree:
        out.append(f"top-1 agreement {figures['top1_agreement']} < {min_agree}")
    return out


def fits_in_memory(params: int) -> bool:
    """The reload runs in float32: one copy of the weights plus headroom must fit in half the RAM (read directly:
    the full hardware probe also tests the GPU stack, which takes seconds)."""
    return params * 4 * 1.3 < psutil.virtual_memory().total * 0.5

