"""The tokenizer as GGUF metadata: tokens and their types, merges or scores, the pre-tokenizer, special ids,
and the chat template (read with gguf's SpecialVocab, the reader llama.cpp's converter uses too).

Two tokenizer kinds are written: byte-level BPE (SmolLM, Qwen, Llama 3) and SentencePiece (Llama 2,
Mistral, from tokenizer.model). A byte-level BPE's pre-tokenizer is named as llama.cpp's converter names it, from
the hash of its behaviour (lab.export.pre_hash); a vocabulary its table lacks is named by the split the tokenizer,
as transformers loads it, applies, when llama.cpp knows that split by name; an unknown split would load but tokenize
differently, so it is refused.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import LabError
from lab.export.arch import ALTERNATIVE
from lab.export.pre_hash import llama_cpp_pre

GPT2_NAME = "gpt-2"


@dataclass
class Vocab:
    model: str  # tokenizer.ggml.model: "gpt2" or "llama"
    pre: str  # tokenizer.ggml.pre
    tokens: list[str]
    types: list[int]
    scores: list[float] | None = None
    merges: list[str] = field(default_factory=list)
    special_ids: dict[str, int] = field(default_factory=dict)  # bos, eos, unk, pad, …
    add_special: dict[str, bool] = field(default_factory=dict)
    chat_template: str | list | None = None


def _split_names() -> dict[str, str]:
    """Regex -> the first llama.cpp pre-tokenizer name transformers maps to it (its reader's own table)."""
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS  # heavy: transformers

    out: dict[str, str] = {}
    for name, regex in GGUF_PRE_TOKENIZER_SPLITS.items():
        out.setdefault(regex, name)
    return out


def pre_tokenizer_name(pre: dict | None) -> str | None:
    """llama.cpp's name for a tokenizer.json pre_tokenizer, or None when it is not one llama.cpp knows."""
    if not pre:
        return None
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return GPT2_NAME
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and steps[1].get("use_regex", True):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and not steps[1].get("use_regex", True):
        regex = (steps[0].get("pattern") or {}).get("Regex")
        return _split_names().get(regex)
    return None


def bpe_pre_name(tokenizer, tok: dict) -> str | None:
    """llama.cpp's converter's name for this tokenizer (by the hash of its behaviour); else llama.cpp's name for the
    split the loaded tokenizer applies (transformers may rebuild it by model type, whatever tokenizer.json says)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    loaded = json.loads(backend.to_str()).get("pre_tokenizer") if backend is not None else None
    return llama_cpp_pre(tokenizer) or pre_tokenizer_name(loaded or tok.get("pre_tokenizer"))


def _token_type(token: dict | None) -> int:
    import gguf  # heavy: gguf

    if token is None:
        return gguf.TokenType.NORMAL
    return gguf.TokenType.CONTROL if token.get("special") else gguf.TokenType.USER_DEFINED


def _pad(tokens: list[str], types: list[int], scores: list[float] | None, size: int) -> None:
    """Configs often reserve more embedding rows than the tokenizer has tokens (Qwen: 151,936 rows)."""
    import gguf  # heavy: gguf

    for i in range(len(tokens), size):
        tokens.append(f"[PAD{i}]")
        types.append(gguf.TokenType.UNUSED)
        if scores is not None:
            scores.append(-1000.0)


def _bpe(tok: dict, n_vocab: int, tokenizer) -> Vocab:
    pre = bpe_pre_name(tokenizer, tok)
    if pre is None:
        raise LabError("The tokenizer's pre-tokenizer is not one llama.cpp knows: neither the hash of its behaviour "
                       "nor its split has a llama.cpp name "
                       f"({json.dumps(tok.get('pre_tokenizer'))[:200]}), so a GGUF of it would tokenize "
                       "differently.", ALTERNATIVE, "source")
    added = {t["id"]: t for t in tok.get("added_tokens", [])}
    by_id = {i: t for t, i in tok["model"]["vocab"].items()}
    by_id.update({i: t["content"] for i, t in added.items()})
    size = max(max(by_id) + 1, n_vocab)
    tokens = [by_id.get(i, f"[PAD{i}]") for i in range(max(by_id) + 1)]
    types = [_token_type(added.get(i)) for i in range(len(tokens))]
    _pad(tokens, types, None, size)
    return Vocab("gpt2", pre, tokens, types)


def _sentencepiece(folder: Path, tok: dict, n_vocab: int) -> Vocab:
    import gguf  # heavy: gguf
    from gguf.vocab import SentencePieceVocab  # heavy: gguf

    spm = SentencePieceVocab(folder)
    tokens, scores, types = [], [], []
    for text, score, kind in spm.sentencepiece_tokens():
        tokens.append(text.decode("utf-8", errors="replace"))
        scores.append(score)
        types.append(int(kind))
    for t in sorted(tok.get("added_tokens", []), key=lambda t: t["id"]):
        if t["id"] < len(tokens):
            types[t["id"]] = _token_type(t) if t.get("special") else types[t["id"]]
            continue
        _pad(tokens, types, scores, t["id"])
        tokens.append(t["content"])
        scores.append(-1000.0)
        types.append(_token_type(t))
    _pad(tokens, types, scores, n_vocab)
    return Vocab("llama", "default", tokens, types, scores)


def read_vocab(folder: Path, n_vocab: int) -> Vocab:
    """The tokenizer of a model folder as GGUF metadata; LabError for a kind the writer does not handle."""
    import gguf  # heavy: gguf
    from transformers import AutoTokenizer  # heavy: transformers

    folder = Path(folder)
    path = folder / "tokenizer.json"
    tok = json.loads(path.read_text()) if path.is_file() else {}
    model = tok.get("model", {})
    spm = (folder / "tokenizer.model").is_file()
    if not spm and not (model.get("type") == "BPE" and not model.get("byte_fallback") and
                        (tok.get("decoder") or {}).get("type") == "ByteLevel"):
        raise LabError(f"The tokenizer in {folder.name} is neither a byte-level BPE (tokenizer.json) nor a "
                       "SentencePiece model (tokenizer.model).", ALTERNATIVE, "source")
    tokenizer = AutoTokenizer.from_pretrained(folder)  # as llama.cpp's converter loads it
    vocab = _sentencepiece(folder, tok, n_vocab) if spm else _bpe(tok, n_vocab, tokenizer)
    special = gguf.SpecialVocab(folder, load_merges=vocab.model == "gpt2", n_vocab=len(vocab.tokens))
    vocab.merges = special.merges
    vocab.special_ids = dict(special.special_token_ids)
    vocab.add_special = dict(special.add_special_token)
    vocab.chat_template = special.chat_template
    vocab.add_special.update(_adds_special(tokenizer))
    if vocab.model == "gpt2" and not vocab.merges:
        raise LabError(f"The tokenizer in {folder.name} has no BPE merges.", ALTERNATIVE, "source")
    return vocab


def _adds_special(tok) -> dict[str, bool]:
    """Whether the tokenizer puts BOS/EOS around plain text, as it actually does (llama.cpp reads these flags;
    its defaults differ per tokenizer kind, so they are always written)."""
    ids = tok("a")["input_ids"]
    return {"bos": tok.bos_token_id is not None and ids[:1] == [tok.bos_token_id],
            "eos": tok.eos_token_id is not None and ids[-1:] == [tok.eos_token_id]}


def write_vocab(writer, vocab: Vocab) -> None:
    writer.add_tokenizer_model(vocab.model)
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    if vocab.scores is not None:
        writer.add_token_scores(vocab.scores)
    if vocab.merges:
        writer.add_token_merges(vocab.merges)
    for kind, token_id in vocab.special_ids.items():
        adder = getattr(writer, f"add_{kind}_token_id", None)
        if adder is not None:
            adder(token_id)
    for kind, value in vocab.add_special.items():
        adder = getattr(writer, f"add_add_{kind}_token", None)
        if adder is not None:
            adder(value)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)
