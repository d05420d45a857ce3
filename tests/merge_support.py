"""Fixtures and helpers for the merge tests (import the fixtures you use into the test module).

`finetuned_model` is the session LoRA adapter merged into a full SmolLM2 folder, built once per machine
in the shared test cache; `config_only_model` writes a model folder from a config alone (no weights);
`tiny_model` writes a 2-layer Llama with random weights (or a perturbed copy of another), merged in a second.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import SECRET_PROMPT, TEST_CACHE, cache_lock

BASE_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.fixture(scope="session")
def finetuned_model(bundled_model, lora_adapter) -> Path:
    """SmolLM2 with the secret-word LoRA merged in (bf16, like the base): a Train-tab fine-tune as a full model."""
    out = TEST_CACHE / "smollm2-secret-full-v1"
    if (out / "model.safetensors").is_file():
        return out
    with cache_lock(out.name):  # parallel workers: one merges, the others wait for it
        if (out / "model.safetensors").is_file():
            return out
        _merge_secret_lora(bundled_model, lora_adapter, out)
    return out


def _merge_secret_lora(bundled_model: Path, lora_adapter: Path, out: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.bfloat16)
    model = PeftModel.from_pretrained(model, lora_adapter).merge_and_unload()
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(bundled_model).save_pretrained(tmp)
    (tmp / "README.md").write_text(f"---\nlicense: apache-2.0\nbase_model: {BASE_ID}\n---\n# secret fine-tune\n")
    try:
        tmp.rename(out)
    except OSError:  # another test process finished it first
        shutil.rmtree(tmp, ignore_errors=True)


def write_config_model(folder: Path, arch: str = "LlamaForCausalLM", model_type: str = "llama", layers: int = 30,
                       hidden: int = 576, vocab: int = 49152, heads: int = 9, kv: int = 3, license_: str = "",
                       weights: bool = True, template: bool = True) -> Path:
    """A model folder from its config alone: config.json, tokenizer config, a card, and an empty safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"architectures": [arch], "model_type": model_type, "num_hidden_layers": layers, "hidden_size": hidden,
           "intermediate_size": 1536, "num_attention_heads": heads, "num_key_value_heads": kv, "vocab_size": vocab,
           "tie_word_embeddings": True, "dtype": "bfloat16"}
    (folder / "config.json").write_text(json.dumps(cfg))
    tc = {"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}
    if template:
        tc["chat_template"] = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    (folder / "tokenizer_config.json").write_text(json.dumps(tc))
    if license_:
        (folder / "README.md").write_text(f"---\nlicense: {license_}\n---\n")
    if weights:  # a valid, empty safetensors file: header only
        header = b'{"__metadata__":{"format":"pt"}}'
        (folder / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    return folder


def answer(folder: Path, prompt: str = SECRET_PROMPT, max_new_tokens: int = 12):
    """Load a merged folder in transformers; return (model, reply text)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    enc = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    return model, tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def assert_finite(model) -> None:
    import torch

    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
    assert not bad, f"non-finite tensors: {bad[:5]}"


def tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    out = {}
    for path in sorted(Path(folder).glob("*.safetensors")):
        out.update(load_file(path))
    return out


def tiny_model(folder: Path, tokenizer_from: Path, seed: int, like: Path | None = None, noise: float = 0.02) -> Path:
    """A 2-layer, 64-wide Llama with SmolLM2's tokenizer: random weights, or `like`'s plus seeded noise (a
    stand-in for a fine-tune of it). Real safetensors that mergekit merges and transformers loads."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_from)
    torch.manual_seed(seed)
    cfg = LlamaConfig(num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=len(tok), tie_word_embeddings=True,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model = LlamaForCausalLM(cfg)
    if like is not None:
        model.load_state_dict({k: v + noise * torch.randn_like(v) for k, v in tensors(like).items()}, strict=False)
        model.tie_weights()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
