"""Baseline: a bare `gguf`-package script writing the same GGUF a user would write by hand, without the lab.

Same tensors, same types (norms in f32), the same Q/K row interleave for llama, gguf's own vocab helpers
(BpeVocab + SpecialVocab), GGUFWriter's plain add_tensor / write_tensors_to_file. No checks, no card.
BENCH_RESULT: write_s (reading the weights to closing the file), s_per_bparam, bytes.
Usage: gguf_write.py MODEL_FOLDER TYPE OUT_DIR
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import gguf
import numpy as np
from safetensors import safe_open

TYPES = {"f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
         "q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0)}


def permute(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main(folder: Path, kind: str, out_dir: Path) -> int:
    cfg = json.loads((folder / "config.json").read_text())
    qtype, ftype = TYPES[kind]
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"model-{kind}.gguf"
    w = gguf.GGUFWriter(str(out), "llama")
    w.add_name(folder.name)
    w.add_file_type(ftype)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(cfg.get("rope_parameters", {}).get("rope_theta", 10000.0))
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_vocab_size(cfg["vocab_size"])
    w.add_rope_dimension_count(cfg["hidden_size"] // cfg["num_attention_heads"])
    vocab = gguf.vocab.BpeVocab(folder)
    tokens, types = zip(*[(t, ty) for t, _, ty in vocab.all_tokens()])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(list(tokens))
    w.add_token_types(list(types))
    gguf.SpecialVocab(folder, load_merges=True, n_vocab=len(tokens)).add_to_gguf(w, quiet=True)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, cfg["num_hidden_layers"])
    t0 = time.perf_counter()
    params = 0
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        for key in f.keys():
            data = f.get_tensor(key).float().numpy()
            params += data.size
            if key.endswith("q_proj.weight"):
                data = permute(data, cfg["num_attention_heads"])
            elif key.endswith("k_proj.weight"):
                data = permute(data, cfg["num_key_value_heads"])
            name = names.get_name(key, try_suffixes=(".weight", ".bias"))
            if data.ndim == 1:
                w.add_tensor(name, data.astype(np.float32))
            elif qtype == gguf.GGMLQuantizationType.F16:
                w.add_tensor(name, data.astype(np.float16))
            else:
                w.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    write_s = time.perf_counter() - t0
    size = out.stat().st_size
    shutil.rmtree(out_dir, ignore_errors=True)
    print("BENCH_RESULT " + json.dumps({"write_s": round(write_s, 3), "s_per_bparam": round(write_s / params * 1e9, 3),
                                        "bytes": size}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])))
