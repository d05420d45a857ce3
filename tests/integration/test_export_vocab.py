"""The GGUF's tokenizer metadata as llama.cpp's own converter writes it: tokenizer.ggml.pre is named from the hash of
the tokenizer's behaviour, as convert_hf_to_gguf.py names it, and on each supported tiny architecture the lab's
tokenizer.ggml.* keys equal those of `convert_hf_to_gguf.py --vocab-only` (where LAB_LLAMA_CPP points at llama.cpp's
sources, e.g. llama-cpp-python's unpacked sdist). The tiny models carry the bundled model's vocabulary, one the
converter knows by hash.

transformers 5 loads a Qwen2 model's tokenizer as Qwen2Tokenizer, which re-splits with Qwen's regex whatever
tokenizer.json says: the converter has no hash for that behaviour on this vocabulary and refuses, and the lab names
the split the loaded tokenizer applies ("qwen2"), not the JSON's shape ("smollm").
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gguf
import pytest

from lab.export.pre_hash import LLAMA_CPP_PRE, check_hash, llama_cpp_pre
from lab.export.vocab import read_vocab, write_vocab
from tests.export_support import tiny_model, tiny_tokenizer

pytestmark = pytest.mark.slow
ADD_FLAGS = ("tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token")


def _tokenizer_keys(path: Path) -> dict:
    return {k: f.contents() for k, f in gguf.GGUFReader(path).fields.items() if k.startswith("tokenizer.")}


def _lab_vocab_gguf(folder: Path, out: Path) -> dict:
    """The lab's tokenizer metadata for `folder`, written as a vocab-only GGUF and read back."""
    vocab = read_vocab(folder, json.loads((folder / "config.json").read_text())["vocab_size"])
    writer = gguf.GGUFWriter(out, "llama")
    write_vocab(writer, vocab)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return _tokenizer_keys(out)


def _converter() -> Path:
    from lab.export import llamacpp

    script = llamacpp.converter()
    if script is None:
        pytest.skip("llama.cpp's convert_hf_to_gguf.py is not available: point LAB_LLAMA_CPP at llama.cpp's sources "
                    "(pip download llama-cpp-python --no-binary :all: --no-deps, then unpack the sdist)")
    return script


def test_the_pre_tokenizer_is_named_by_the_hash_of_its_behaviour(bundled_model, tmp_path):
    from transformers import AutoTokenizer

    bundled = AutoTokenizer.from_pretrained(bundled_model)
    assert check_hash(bundled) in LLAMA_CPP_PRE and llama_cpp_pre(bundled) == "smollm"
    tiny_tokenizer(tmp_path / "tiny")  # a vocabulary trained here: no hash of llama.cpp's, so named by its split
    assert llama_cpp_pre(AutoTokenizer.from_pretrained(tmp_path / "tiny")) is None
    assert read_vocab(tmp_path / "tiny", 400).pre == "gpt-2"


@pytest.mark.parametrize("arch", ["llama", "mistral", "qwen2", "qwen3"])
def test_tokenizer_metadata_equals_llama_cpp_converters(arch, bundled_model, tmp_path):
    script = _converter()
    src = tiny_model(tmp_path / f"tiny-{arch}", arch, tokenizer_from=bundled_model)
    lab = _lab_vocab_gguf(src, tmp_path / "lab.gguf")
    theirs = tmp_path / "converter.gguf"
    run = subprocess.run([sys.executable, str(script), str(src), "--vocab-only", "--outfile", str(theirs)],
                         capture_output=True, text=True, timeout=600)
    if arch == "qwen2":  # Qwen2Tokenizer's split on SmolLM's vocabulary: a behaviour neither table knows
        assert run.returncode != 0 and "pre-tokenizer was not recognized" in run.stderr
        assert lab["tokenizer.ggml.pre"] == "qwen2"
        return
    assert run.returncode == 0, run.stderr[-2000:]
    converted = _tokenizer_keys(theirs)
    assert converted["tokenizer.ggml.pre"] == lab["tokenizer.ggml.pre"] == "smollm"
    assert set(converted) <= set(lab) and set(lab) - set(converted) <= set(ADD_FLAGS)
    for key, value in converted.items():
        assert lab[key] == value, key
    # the converter leaves BOS/EOS to llama.cpp's per-tokenizer defaults; the lab writes what the tokenizer does
    assert [lab[k] for k in ADD_FLAGS] == [False, False]
