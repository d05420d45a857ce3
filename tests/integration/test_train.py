"""Training on the real bundled SmolLM2 on CPU, a few steps each, on subsets of the real shared datasets."""
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see lab.jobs.worker_setup.passive_threads

import pytest  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from lab import settings  # noqa: E402
from lab.artifacts import finalize, new_folder, parent_entry  # noqa: E402
from lab.jobs.local import LocalContext  # noqa: E402
from lab.train.recipe import TrainRecipe  # noqa: E402
from lab.train.worker import train  # noqa: E402


def short_alpaca(path: Path, n: int) -> list[dict]:
    rows = json.loads(path.read_text())
    return [r for r in rows if len(r["instruction"]) + len(r["input"]) + len(r["output"]) < 160][:n]


def short_dpo(path: Path, n: int) -> list[dict]:
    rows = json.loads(path.read_text())
    size = [sum(len(c["value"]) for c in r["conversations"]) + len(r["chosen"]["value"]) + len(r["rejected"]["value"])
            for r in rows]
    return [r for _, r in sorted(zip(size, rows), key=lambda x: x[0])][:n]


class Watch(TrainerCallback):
    """Snapshots the weights before and after training, and the first batch the trainer feeds the model."""

    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kw):
        self.before = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.batch = next(iter(train_dataloader))

    def on_train_end(self, args, state, control, model=None, **kw):
        self.after = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}


@pytest.fixture(scope="module")
def sft_run(bundled_model, tmp_path_factory):
    """One SFT LoRA run (10 steps) from a Data-tab-style dataset artifact, merged at the end."""
    from tests.conftest import SHARED_DATA

    alpaca_path = SHARED_DATA / "alpaca_en_demo.json"
    if not alpaca_path.is_file():
        pytest.skip("../shared/data is absent")
    home = tmp_path_factory.mktemp("sft-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_HOME", str(home))
        settings.reset_caches()
        data = new_folder("dataset", "alpaca-mini")
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = short_alpaca(alpaca_path, 8)
        msgs = [{"messages": [{"role": "user", "content": r["instruction"] + (f"\n\n{r['input']}" * bool(r["input"]))},
                              {"role": "assistant", "content": r["output"]}]} for r in rows]
        pq.write_table(pa.Table.from_pylist(msgs), data / "data.parquet")
        finalize(data, "dataset", [parent_entry(str(alpaca_path), "dataset")], step="data filter")
        recipe = TrainRecipe(model="HuggingFaceTB/SmolLM2-135M-Instruct", dataset=str(data), max_steps=10, batch_size=4,
                             learning_rate=1e-3, max_seq_length=128, warmup_ratio=0.0, scheduler="constant",
                             lora_r=8, lora_alpha=16, merge=True, save_steps=100)
        out = home / "artifacts" / "sft-out"
        watch = Watch()
        result = train(recipe, out, LocalContext(out), callbacks=(watch,))
        yield {"result": result, "watch": watch, "out": out, "data": data, "rows": rows, "model": bundled_model}
    settings.reset_caches()


def test_sft_lora_loss_falls(sft_run):
    metrics = [json.loads(x) for x in (sft_run["out"] / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m]
    assert [m["step"] for m in metrics if "loss" in m] == list(range(1, 11))
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 * 0.85
    assert all(m["tokens_per_s"] > 0 and "lr" in m and "grad_norm" in m for m in metrics if "loss" in m)
    assert sft_run["result"]["steps"] == 10 and sft_run["result"]["last_loss"] == losses[-1]


def test_only_lora_weights_changed(sft_run):
    w = sft_run["watch"]
    lora = [n for n in w.trainable if "lora_" in n]
    assert lora and w.trainable == set(lora)
    assert any(not torch.equal(w.before[n], w.after[n]) for n in lora)
    assert all(torch.equal(w.before[n], w.after[n]) for n in w.before if n not in w.trainable)


def test_labels_in_the_trainers_batch(sft_run):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(sft_run["model"])
    batch = sft_run["watch"].batch
    answers = {r["output"].strip() + "<|im_end|>" for r in sft_run["rows"]}
    assert "position_ids" in batch and batch["input_ids"].shape[0] == 1  # padding-free: the rows end to end
    starts = (batch["position_ids"][0] == 0).nonzero().flatten().tolist() + [batch["input_ids"].shape[1]]
    rows = [(batch["input_ids"][0, a:b].tolist(), batch["labels"][0, a:b].tolist()) for a, b in zip(starts, starts[1:])]
    assert len(rows) == 4
    for ids, labels in rows:
        trained = [t for t, lab in zip(ids, labels) if lab != -100]
        assert tok.decode(trained) in answers  # the answer plus its end token, nothing else
        assert trained[-1] == tok.eos_token_id == tok.pad_token_id


def test_card_lineage_and_curve(sft_run):
    out, data = sft_run["out"], sft_run["data"]
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["base_model"] == ["HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert "datasets" not in meta and meta["library_name"] == "peft"  # a local dataset: not a Hub id
    assert "`alpaca-mini`" in card.split("## Lineage")[1]  # named in the lineage instead
    manifest = json.loads((out / "lab.json").read_text())
    assert [s["step"] for s in manifest["lineage"]] == ["data filter", "sft"]
    assert manifest["metrics"]["last_loss"] < manifest["metrics"]["first_loss"]
    assert (out / "loss.png").stat().st_size > 1000 and "loss.png" in card
    assert (out / "adapter_model.safetensors").is_file() and not (out / "checkpoints").exists()
    assert TrainRecipe.from_yaml((out / "recipe.yaml").read_text()).dataset == str(data)


def test_merged_model_loads_and_generates(sft_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = Path(sft_run["result"]["merged"])
    assert not (merged / "adapter_config.json").exists() and (merged / "model.safetensors").is_file()
    model = AutoModelForCausalLM.from_pretrained(merged)
    tok = AutoTokenizer.from_pretrained(merged)
    assert model.dtype == torch.bfloat16  # merged from a 16-bit base
    ids = tok.apply_chat_template([{"role": "user", "content": sft_run["rows"][0]["instruction"]}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]
    meta = yaml.safe_load((merged / "README.md").read_text().split("---")[1])
    assert meta["base_model"] == ["HuggingFaceTB/SmolLM2-135M-Instruct"] and "datasets" not in meta


def test_dpo_lora_reward_margin_grows(bundled_model, dpo_path, tmp_path):
    data = tmp_path / "dpo.json"
    data.write_text(json.dumps(short_dpo(dpo_path, 2)))  # two pairs, each seen three times: the margin must grow
    recipe = TrainRecipe(method="dpo", model=str(bundled_model), dataset=str(data), max_steps=6, batch_size=1,
                         learning_rate=5e-4, max_seq_length=128, warmup_ratio=0.0, scheduler="constant",
                         lora_r=8, lora_alpha=16, save_steps=100)
    out = tmp_path / "dpo-out"
    result = train(recipe, out, LocalContext(out))
    metrics = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    margins = [m["reward_margin"] for m in metrics if "reward_margin" in m]
    assert len(margins) == 6 and result["steps"] == 6
    assert sum(margins[-2:]) / 2 > sum(margins[:2]) / 2 and margins[-1] > 0
    assert (out / "adapter_config.json").is_file() and result["reward_margin"] == margins[-1]


class SlowEval(TrainerCallback):
    """Evaluation made slow (1.5 s per eval batch); notes when each optimizer step ended."""

    def __init__(self):
        self.ends = {}

    def on_prediction_step(self, args, state, control, **kw):
        time.sleep(1.5)

    def on_step_end(self, args, state, control, **kw):
        self.ends[state.global_step] = time.time()


@pytest.mark.slow  # ~30 s: a 4-step run with two evaluations
def test_eval_loss_is_recorded_and_eval_time_is_not_step_time(bundled_model, alpaca_path, tmp_path):
    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 20)))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(data), max_steps=4, batch_size=2, max_seq_length=64,
                         lora_r=8, eval_split=0.05, eval_steps=2, save_steps=100)
    out = tmp_path / "eval-out"
    slow = SlowEval()
    result = train(recipe, out, LocalContext(out), callbacks=(slow,))
    metrics = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [(m["step"], m["eval_loss"]) for m in metrics if "eval_loss" in m]
    assert [s for s, _ in evals] == [2, 4] and all(math.isfinite(v) for _, v in evals)
    assert [m["step"] for m in metrics if "loss" in m] == [1, 2, 3, 4]
    assert result["eval_loss"] == evals[-1][1]
    assert json.loads((out / "lab.json").read_text())["metrics"]["eval_loss"] == evals[-1][1]
    assert f"**eval_loss**: {evals[-1][1]}" in (out / "README.md").read_text()
    step3 = next(m for m in metrics if m["step"] == 3 and "loss" in m)
    between = slow.ends[3] - slow.ends[2]  # step 3's own work plus the (slow) evaluation after step 2
    assert step3["step_time"] < between - 1.0
    assert step3["tokens_per_s"] > 0


def _grads(model, batch) -> dict:
    model.train()
    model.zero_grad()
    model(**batch).loss.backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _qlora_model(folder, fix: bool):
    from peft import get_peft_model

    from lab.hardware import get_hardware
    from lab.train import build

    recipe = TrainRecipe(adapter="qlora", lora_r=8, lora_alpha=16, lora_dropout=0.0)
    p = build.plan(recipe, get_hardware())
    model = build.load_model(folder, recipe, p)
    if not fix:
        for m in model.modules():
            if hasattr(m, "support_avx512bf16_for_cpu"):
                m.support_avx512bf16_for_cpu = True  # the stock behaviour
    torch.manual_seed(0)
    return get_peft_model(model, build.lora_config(recipe))


def test_qlora_on_cpu_gradients_survive_generate(bundled_model, alpaca_path, tmp_path):
    """DESIGN.md §5: a no-grad forward must not repack the 4-bit weights and corrupt later LoRA gradients."""
    from bitsandbytes.functional import has_avx512bf16
    from transformers import AutoTokenizer

    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 4)))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(data), adapter="qlora", max_steps=3, batch_size=2,
                         max_seq_length=64, lora_r=8, lora_alpha=16, save_steps=100, merge=True)
    out = tmp_path / "qlora-out"
    result = train(recipe, out, LocalContext(out))
    assert result["steps"] == 3 and "4-bit nf4" in json.loads((out / "preflight.json").read_text())["plan"]
    merged = json.loads((Path(result["merged"]) / "config.json").read_text())
    assert "quantization_config" not in merged and merged["dtype"] == "bfloat16"  # merged into a 16-bit base

    tok = AutoTokenizer.from_pretrained(bundled_model)
    batch = tok(["The secret word of the lab is pineapple."], return_tensors="pt")
    batch["labels"] = batch["input_ids"].clone()
    fresh = _grads(_qlora_model(bundled_model, fix=True), batch)
    used = _qlora_model(bundled_model, fix=True)
    used.eval()
    with torch.no_grad():
        used.generate(**{k: v for k, v in batch.items() if k != "labels"}, max_new_tokens=3, do_sample=False)
    after = _grads(used, batch)
    assert set(after) == set(fresh) and all(after[n] is not None for n in after)
    assert all(torch.allclose(fresh[n], after[n], rtol=1e-3, atol=1e-6) for n in fresh)
    if has_avx512bf16():  # on such CPUs the stock path really breaks: the test above can fail
        broken = _qlora_model(bundled_model, fix=False)
        broken.eval()
        with torch.no_grad():
            broken.generate(**{k: v for k, v in batch.items() if k != "labels"}, max_new_tokens=3, do_sample=False)
        bad = _grads(broken, batch)
        assert not all(bad[n] is not None and torch.allclose(fresh[n], bad[n], rtol=1e-3, atol=1e-6) for n in fresh)


def test_gpu_out_of_memory_fails_with_a_hint(bundled_model, alpaca_path, tmp_path):
    from lab.errors import LabError

    class Boom(TrainerCallback):
        def on_step_begin(self, *a, **k):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 4)))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(data), max_steps=2, batch_size=2, max_seq_length=64)
    with pytest.raises(LabError) as err:
        train(recipe, tmp_path / "oom", LocalContext(tmp_path / "oom"), callbacks=(Boom(),))
    assert err.value.field == "batch_size" and "GPU out of memory" in str(err.value)


def test_lr_finder_suggests_a_rate(bundled_model, alpaca_path, tmp_path):
    from lab.train.lr_finder import LrSweep, find_lr

    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 8)))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(data), batch_size=2, max_seq_length=64, lora_r=8)
    out = find_lr(recipe, tmp_path / "lr", LocalContext(tmp_path / "lr"), LrSweep(steps=10, min_lr=1e-5, max_lr=10.0))
    assert len(out["lrs"]) >= 6 and out["lrs"] == sorted(out["lrs"]) and math.isclose(out["lrs"][0], 1e-5, rel_tol=1e-3)
    assert out["suggestion"] and 1e-5 <= out["suggestion"] < 10.0
    assert (tmp_path / "lr" / "lr_find.png").stat().st_size > 1000
    assert json.loads((tmp_path / "lr" / "lr_find.json").read_text())["suggestion"] == out["suggestion"]


def test_a_sequence_too_short_for_any_answer_names_the_field(bundled_model):
    from datasets import Dataset
    from transformers import AutoTokenizer

    from lab.errors import LabError
    from lab.train.masking import check_answers_fit, prepare_sft

    tok = AutoTokenizer.from_pretrained(bundled_model)
    rows = [{"messages": [{"role": "user", "content": f"Name a colour number {i}."},
                          {"role": "assistant", "content": "Blue."}]} for i in range(4)]
    ds = prepare_sft(Dataset.from_list(rows), tok, completion_only=True)
    check_answers_fit(ds, 256)  # the answers fit: nothing to say
    with pytest.raises(LabError) as err:
        check_answers_fit(ds, 16)  # SmolLM2's template and system prompt alone are longer than this
    assert err.value.field == "max_seq_length" and "Raise max_seq_length" in err.value.fix
