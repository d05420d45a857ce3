"""Checks before launch, the loss mask, and Hugging Face Jobs submission (real tokenizer and data, no weights)."""
import json

import pytest

from lab.errors import LabError
from lab.hardware import Gpu, Hardware
from lab.train import masking, preflight
from lab.train.data import load_dataset
from lab.train.recipe import TrainRecipe

CPU = Hardware(ram_gb=24, bnb_ok=True, cpu_count=2)


@pytest.fixture(scope="module")
def tok(bundled_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bundled_model)


def _recipe(model, data, **kw):
    return TrainRecipe(model=str(model), dataset=str(data), **kw)


def test_dpo_on_sft_data_fails_before_anything_loads(bundled_model, alpaca_path):
    with pytest.raises(LabError) as err:
        preflight.check(_recipe(bundled_model, alpaca_path, method="dpo", max_rows=20), CPU)
    assert err.value.field == "dataset" and "preference" in str(err.value)


def test_too_small_for_one_batch(bundled_model, alpaca_path):
    with pytest.raises(LabError) as err:
        preflight.check(_recipe(bundled_model, alpaca_path, max_rows=3, batch_size=4), CPU)
    assert "fewer than one batch" in str(err.value) and err.value.field == "dataset"
    with pytest.raises(LabError):  # the held-out rows do not count
        preflight.check(_recipe(bundled_model, alpaca_path, max_rows=4, batch_size=4, eval_split=0.2), CPU)


def test_sequence_length_is_clamped_with_a_warning(bundled_model, alpaca_path):
    pre = preflight.check(_recipe(bundled_model, alpaca_path, max_rows=8, max_seq_length=100_000), CPU)
    assert pre.recipe.max_seq_length == 8192
    assert any("clamped to 8192" in w for w in pre.warnings)
    assert pre.kind == "sft" and pre.train_rows == 8


def test_missing_chat_template_falls_back_to_chatml(bundled_model, alpaca_path, tmp_path, tok):
    base = tmp_path / "base-model"
    base.mkdir()
    for f in bundled_model.iterdir():
        if f.name != "chat_template.jinja":
            (base / f.name).symlink_to(f)
    pre = preflight.check(_recipe(base, alpaca_path, max_rows=8), CPU)
    assert pre.recipe.chat_template == "chatml" and any("ChatML" in w for w in pre.warnings)
    from transformers import AutoTokenizer

    plain = AutoTokenizer.from_pretrained(base)
    assert not plain.chat_template
    warning = masking.apply_template(plain, "model")
    assert "ChatML" in warning and "<|im_start|>" in plain.chat_template
    text = plain.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_qlora_where_bitsandbytes_cannot_run(bundled_model, alpaca_path):
    broken = Hardware(ram_gb=24, bnb_ok=False, bnb_error="RuntimeError: no CPU backend")
    with pytest.raises(LabError) as err:
        preflight.check(_recipe(bundled_model, alpaca_path, adapter="qlora", max_rows=8), broken)
    assert err.value.field == "adapter" and "no CPU backend" in str(err.value) and "lora" in err.value.fix


def test_tracker_must_be_installed(bundled_model, alpaca_path):
    import importlib.util

    if importlib.util.find_spec("wandb"):
        pytest.skip("wandb is installed here")
    with pytest.raises(LabError) as err:
        preflight.check(_recipe(bundled_model, alpaca_path, report_to="wandb", max_rows=8), CPU)
    assert err.value.field == "report_to" and "wandb is not installed" in str(err.value)
    assert "pip install wandb" in err.value.fix


SEVEN_B = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
           "num_hidden_layers": 32, "vocab_size": 32000, "num_attention_heads": 32, "num_key_value_heads": 8,
           "intermediate_size": 14336, "max_position_embeddings": 4096, "tie_word_embeddings": False}


def _seven_b_estimate(recipe, hw):
    from lab.train import memory

    p = preflight.plan(recipe, hw)
    prof = memory.profile_for(SEVEN_B, recipe, p)
    return memory.estimate(prof, recipe, p, None, 1000), prof


def test_memory_estimate_of_a_7b_from_its_config_alone():
    """The meta-device trace counts a 7B's parameters without any weights, and the parts follow the method."""
    t4 = Hardware(gpus=(Gpu("Tesla T4", 15.0, (7, 5)),), bnb_ok=True)
    full, prof = _seven_b_estimate(TrainRecipe(adapter="full", batch_size=4, max_seq_length=1024), t4)
    assert 7.2e9 < prof.params < 7.3e9  # the Mistral-7B shape: 7.24 B parameters
    assert full["total_gb"] > 15 and full["parts_gb"]["optimizer"] > 25  # fp32 master weights on a T4
    q, prof_q = _seven_b_estimate(TrainRecipe(adapter="qlora", batch_size=1, max_seq_length=1024,
                                              gradient_checkpointing="on"), t4)
    assert q["parts_gb"]["weights"] < 4.5 and q["total_gb"] < 10 and prof_q.trainable < 0.1 * prof_q.params
    dpo, _ = _seven_b_estimate(TrainRecipe(method="dpo", adapter="full", batch_size=1, max_seq_length=512), t4)
    assert dpo["parts_gb"]["reference model"] == dpo["parts_gb"]["weights"]
    assert dpo["batch"]["sequences"] == 2  # chosen and rejected
    assert "GB" in preflight.memory_text({**q, "available_gb": 15, "verdict": "fits"})


def test_labels_are_the_answer_and_its_end_token(tok, alpaca_path):
    """pad == eos: the collator pads labels with -100, so the final <|im_end|> keeps its label."""
    ds, kind = load_dataset(str(alpaca_path), max_rows=6)
    assert tok.pad_token_id == tok.eos_token_id  # the case that used to teach models never to stop
    rows = [ds[i] for i in range(6)]
    examples = [masking.tokenize_sft(r, tok, True, masking.end_markers(tok)) for r in rows]
    batch = masking.sft_collator(tok)(examples)
    for i, row in enumerate(rows):
        labels, ids = batch["labels"][i].tolist(), batch["input_ids"][i].tolist()
        trained = [t for t, lab in zip(ids, labels) if lab != -100]
        answer = row["messages"][-1]["content"]
        assert tok.decode(trained) == answer.strip() + "<|im_end|>"
        assert trained[-1] == tok.eos_token_id
        n = len(examples[i]["input_ids"])
        assert all(lab == -100 for lab in labels[n:])  # padding (also eos ids) is never trained
    everything = masking.tokenize_sft(rows[0], tok, False, masking.end_markers(tok))
    assert everything["labels"] == everything["input_ids"]


def test_mask_preview_and_multi_turn(tok, dpo_path):
    row = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                        {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Goodbye."}],
           "n_context": 0}
    prev = masking.mask_preview(row, tok, "sft")
    trained = "".join(t for t, k in prev["pieces"] if k)
    assert trained == "Hello!<|im_end|>Goodbye.<|im_end|>"
    ctx_only = masking.mask_preview({**row, "n_context": 2}, tok, "sft")
    assert "".join(t for t, k in ctx_only["pieces"] if k) == "Goodbye.<|im_end|>"
    ds, kind = load_dataset(str(dpo_path), max_rows=2)
    assert kind == "preference"
    pv = masking.mask_preview(ds[0], tok, kind)
    chosen = "".join(t for t, k in pv["chosen"] if k)
    assert chosen.startswith(ds[0]["chosen"][0]["content"][:20]) and pv["trained_tokens"] > 0
    assert "".join(t for t, k in pv["chosen"] if not k).endswith("<|im_start|>assistant\n")


def test_data_artifact_folder_and_errors(tmp_path, alpaca_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "ds"
    folder.mkdir()
    rows = json.loads(alpaca_path.read_text())[:5]
    msgs = [{"messages": [{"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["output"]}]}
            for r in rows]
    pq.write_table(pa.Table.from_pylist(msgs), folder / "data.parquet")
    (folder / "lab.json").write_text(json.dumps({"kind": "dataset", "name": "ds"}))
    ds, kind = load_dataset(str(folder))
    assert kind == "sft" and len(ds) == 5 and ds[0]["messages"][1]["content"] == rows[0]["output"]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps({"text": f"row {i}"}) for i in range(4)))
    ds, kind = load_dataset(str(tmp_path / "t.jsonl"))
    assert kind == "text" and ds[2]["text"] == "row 2"
    with pytest.raises(LabError):
        load_dataset(str(tmp_path / "missing.json"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LabError, match="data.parquet"):
        load_dataset(str(empty))


def test_hugging_face_jobs_submission(fake_hub, monkeypatch):
    from lab.train.hf_jobs import HfJobSpec, submit_hf_job

    r = TrainRecipe(dataset="tester/alpaca-mini", adapter="qlora", push_to="tester/smol-sft", max_steps=50)
    out = submit_hf_job(r, "a10g-small", fake_hub.token, HfJobSpec(code_space="tester/lab"))
    spec = fake_hub.jobs[out["job_id"]]["spec"]
    assert spec["flavor"] == "a10g-small" and spec["dockerImage"] == "python:3.11"
    assert spec["command"][:2] == ["bash", "-c"] and "python -m lab train --recipe-env LAB_RECIPE" in spec["command"][2]
    assert "hf download tester/lab --repo-type space" in spec["command"][2]
    assert TrainRecipe.from_yaml(spec["environment"]["LAB_RECIPE"]) == r
    assert spec["secrets"] == {"HF_TOKEN": fake_hub.token}
    visible = json.dumps([spec["command"], spec["environment"], out])
    assert fake_hub.token not in visible  # the token travels only as a secret
    with pytest.raises(LabError) as err:
        submit_hf_job(r.model_copy(update={"push_to": ""}), "a10g-small", fake_hub.token,
                      HfJobSpec(code_space="tester/lab"))
    assert err.value.field == "push_to"
    with pytest.raises(LabError) as err:
        submit_hf_job(r.model_copy(update={"dataset": "/tmp"}), "t4-small", fake_hub.token,
                      HfJobSpec(code_space="tester/lab"))
    assert err.value.field == "dataset"
    with pytest.raises(LabError, match="signed in"):
        submit_hf_job(r, "a10g-small", None, HfJobSpec(code_space="tester/lab"))
    with pytest.raises(LabError) as err:
        submit_hf_job(r, "a10g-small", fake_hub.token)  # no Space known off a Space
    assert err.value.field == "code_space"
    monkeypatch.setenv("SPACE_ID", "tester/lab")
    assert submit_hf_job(r, "t4-small", fake_hub.token)["flavor"] == "t4-small"


def test_panel_form_preset_and_check(bundled_model, alpaca_path):
    from lab.train import panel
    from lab.ui.train_tab import GROUPS

    assert sorted(n for _, names in GROUPS for n in names) == sorted(panel.FIELDS)  # every field has a widget
    assert panel.field_kind("adapter") == ("radio", ["full", "lora", "qlora"])
    assert panel.field_kind("max_rows")[0] == "int" and panel.field_kind("merge")[0] == "check"
    form = {**TrainRecipe().model_dump(), "dataset": str(alpaca_path), "max_rows": 0, "batch_size": 2.0,
            "model": str(bundled_model)}
    r = panel.recipe_from_form(form)
    assert r.max_rows is None and r.batch_size == 2
    dpo = panel.apply_preset("DPO with LoRA", form)
    assert dpo.method.name == "dpo" and dpo.dataset == str(alpaca_path) and dpo.model == str(bundled_model)
    out = panel.check(r.model_copy(update={"max_rows": 8}))
    assert "**Memory:**" in out["markdown"] and out["trl_command"].startswith("trl sft")
    assert any(k == "trained" for _, k in out["preview"]) and out["recipe"].max_rows == 8
