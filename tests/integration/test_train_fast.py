"""Padding-free SFT on the real bundled SmolLM2 on CPU: a packed batch scores each row exactly as the padded batch
does (no row sees another), and `python -m lab train` trains with it and reports the engine, kernels and real
tokens per second."""
import json
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see lab.jobs.worker_setup.passive_threads

import pytest  # noqa: E402
import torch  # noqa: E402

from lab.train.masking import end_markers, sft_collator, tokenize_sft  # noqa: E402


def _rows(alpaca_path, lengths=(40, 150, 400, 1500)) -> list[dict]:
    """Alpaca conversations of clearly different sizes (characters), the answers trained."""
    rows, data = [], json.loads(alpaca_path.read_text())
    for target in lengths:
        r = min(data, key=lambda r: abs(len(r["instruction"]) + len(r["output"]) - target))
        rows.append({"messages": [{"role": "user", "content": r["instruction"]},
                                  {"role": "assistant", "content": r["output"]}]})
    return rows


@pytest.fixture(scope="module")
def smol(bundled_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bundled_model)
    model = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32, attn_implementation="sdpa")
    return model.eval(), tok


def _token_logprobs(model, batch) -> torch.Tensor:
    """Log-probability of each trained label (labels != -100), in order. No KV cache, as in training (the lab loads
    models with use_cache off): transformers reads packed rows from the position ids only without one."""
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=False).logits.float()
    labels = batch["labels"][:, 1:]
    logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return logp[labels != -100]


def test_a_packed_batch_scores_each_row_as_the_padded_batch_does(smol, alpaca_path):
    model, tok = smol
    examples = [tokenize_sft(r, tok, True, end_markers(tok)) for r in _rows(alpaca_path)]
    lengths = [len(e["input_ids"]) for e in examples]
    assert max(lengths) > 3 * min(lengths)  # mixed lengths: the padded batch is mostly padding for short rows
    padded, packed = sft_collator(tok)(examples), sft_collator(tok, padding_free=True)(examples)
    assert packed["input_ids"].shape == (1, sum(lengths)) and "attention_mask" not in packed
    assert padded["input_ids"].numel() == len(lengths) * max(lengths)
    a, b = _token_logprobs(model, padded), _token_logprobs(model, packed)
    assert a.shape == b.shape and a.numel() > 50
    assert torch.allclose(a, b, atol=2e-4), (a - b).abs().max()  # the same scores, token by token
    with torch.no_grad():
        loss_padded = model(**padded, use_cache=False).loss.item()
        loss_packed = model(**packed, use_cache=False).loss.item()
    assert abs(loss_padded - loss_packed) < 1e-4 * abs(loss_padded)
    # the test can fail: without position ids the packed rows attend to the rows before them
    leaky = {k: packed[k] for k in ("input_ids", "labels")}
    c = _token_logprobs(model, leaky)
    assert (a - c).abs().max() > 1e-2


def test_on_cpu_packed_rows_attend_row_by_row(bundled_model, smol, alpaca_path):
    """The CPU's attention for padding-free batches (lab.train.varlen, what build.attention picks there) scores
    every row as the padded batch does, from the collator's bounds or from the position ids alone."""
    from transformers import AutoModelForCausalLM

    from lab.train import varlen

    padded_model, tok = smol
    model = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32,
                                                 attn_implementation=varlen.register()).eval()
    examples = [tokenize_sft(r, tok, True, end_markers(tok)) for r in _rows(alpaca_path)]
    padded, packed = sft_collator(tok)(examples), sft_collator(tok, padding_free=True)(examples)
    a = _token_logprobs(padded_model, padded)
    assert torch.allclose(a, _token_logprobs(model, packed), atol=2e-4)
    by_positions = {k: packed[k] for k in ("input_ids", "labels", "position_ids")}
    assert torch.allclose(a, _token_logprobs(model, by_positions), atol=2e-4)
    leaky = {k: packed[k] for k in ("input_ids", "labels")}
    assert (a - _token_logprobs(model, leaky)).abs().max() > 1e-2  # the test can fail


def test_cli_trains_padding_free_and_reports_engine_kernels_tokens(bundled_model, alpaca_path, tmp_path, capsys,
                                                                   monkeypatch):
    from safetensors.torch import load_file

    from lab.__main__ import main

    data = tmp_path / "rows.jsonl"
    rows = _rows(alpaca_path, (40, 100, 200, 500)) * 2
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv("LAB_TRAIN_CHILD", "1")  # train in this process (the CLI otherwise re-runs itself watched)
    out = tmp_path / "out"
    code = main(["train", "--model", str(bundled_model), "--dataset", str(data), "--max-steps", "2",
                 "--batch-size", "4", "--max-seq-length", "128", "--lora-r", "4", "--learning-rate", "1e-3",
                 "--save-steps", "100", "--out", str(out)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["engine"] == "trl" and result["kernels"] == ["padding_free"]
    assert result["steps"] == 2 and result["tokens_per_s"] > 0
    assert all(map(lambda x: x == x and abs(x) < 100, (result["first_loss"], result["last_loss"])))  # finite
    # every real token of the two batches (8 rows, cut at 128), counted on the CPU: no padding to count
    examples = [tokenize_sft(r, _tok(bundled_model), True, []) for r in rows]
    assert max(len(e["input_ids"]) for e in examples) > 128  # one row is cut
    logged = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert sum(r["tokens"] for r in logged) == sum(min(128, len(e["input_ids"])) for e in examples)
    weights = load_file(out / "adapter_model.safetensors")
    assert any(v.abs().sum() > 0 for k, v in weights.items() if "lora_B" in k)  # B starts at zero: it moved
    pre = json.loads((out / "preflight.json").read_text())
    assert pre["engine"]["kernels"] == ["padding_free"] and pre["memory"]["batch"]["sequences"] == 1
    assert "Trained with **trl** (kernels: padding_free)" in (out / "README.md").read_text()


def _tok(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)
