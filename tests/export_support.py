"""Tiny real models for the export tests: a byte-level BPE tokenizer trained here in well under a second, and
random-weight Llama / Mistral / Qwen2 / Qwen3 models (2 layers, hidden 64) saved in bf16 like a real checkpoint.

Their GGUFs write, reload and compare in a second or two, so every architecture and every bad input is
covered without the 135M model; the bundled model covers the real thing once.
"""
from __future__ import annotations

import json
from pathlib import Path

CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
TEXT = ["The quick brown fox jumps over the lazy dog.", "What is the capital of France? Paris.",
        "def fibonacci(n): return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
        "Write a haiku about the sea, the waves and the wind.", "List three fruits that are red: apple, cherry."] * 20
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tiny_tokenizer(folder: Path, chat_template: str | None = CHATML):
    """A real byte-level BPE (GPT-2 style pre-tokenizer), eos = pad = <|im_end|>, saved into `folder`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|im_end|>", unk_token="<|endoftext|>")
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(folder)
    return fast


CONFIGS = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", {}),
    "mistral": ("MistralConfig", "MistralForCausalLM", {"sliding_window": None}),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", {}),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", {"head_dim": 32}),  # head_dim != hidden / heads, as in Qwen3
}


def tiny_model(folder: Path, arch: str = "llama", seed: int = 0, chat_template: str | None = CHATML,
               tokenizer_from: Path | None = None) -> Path:
    """A 2-layer random model of `arch` with the tiny tokenizer; vocab rows padded past the tokenizer (as Qwen's)."""
    import torch
    import transformers
    from transformers import AutoTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(tokenizer_from) if tokenizer_from else tiny_tokenizer(folder, chat_template)
    if tokenizer_from:
        tok.save_pretrained(folder)
    config_name, _, extra = CONFIGS[arch]
    cfg = getattr(transformers, config_name)(
        vocab_size=len(tok) + 24, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=arch == "llama",
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **extra)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    with torch.no_grad():  # random init is tiny (std 0.02); wider weights make the quants' errors visible
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0, 0.2)
            elif name.endswith("bias"):
                p.normal_(0, 0.1)
    model.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    (folder / "README.md").write_text(f"---\nlicense: apache-2.0\n---\n# tiny {arch}\n")
    return folder


def config_only(folder: Path, architecture: str) -> Path:
    """A folder with config.json naming an architecture, a tokenizer config and no weights."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"architectures": [architecture], "model_type": "gpt2",
                                                    "vocab_size": 400, "n_layer": 2}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|im_end|>"}))
    return folder


def gguf_files(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob("*.gguf"))
