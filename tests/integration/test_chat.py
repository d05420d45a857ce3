"""Chat on the real bundled SmolLM2 and the real LoRA adapter fixture: shared base, streaming, errors, budget."""
import json
import os

import pytest

from lab.chat import arena
from lab.chat.prompt import build_messages
from lab.chat.registry import Registry, estimate_bytes
from lab.chat.spec import build_spec
from lab.chat.stream import collect, stream_many
from lab.errors import LabError
from lab.settings import DEFAULT_MODEL
from tests.conftest import SECRET_PROMPT

GREEDY = {"temperature": 0, "max_new_tokens": 24}


@pytest.fixture(scope="module")
def registry():
    from lab.chat.registry import get_registry

    return get_registry()  # the one the CLI and the app use, so the model loads once for the whole module


def _msgs(n, prompt=SECRET_PROMPT):
    return [build_messages("", [], prompt)] * n


def test_base_and_adapter_share_one_base_stream_together_and_answer_differently(registry, bundled_model, lora_adapter):
    refs = [DEFAULT_MODEL, f"{DEFAULT_MODEL}+{lora_adapter}"]
    order, texts, stats = [], ["", ""], [None, None]
    for batch in stream_many(refs, _msgs(2), build_spec(GREEDY), registry=registry):
        for ev in batch:
            assert ev.kind != "error", ev.text
            if ev.kind == "delta":
                order.append(ev.pane)
                texts[ev.pane] += ev.text
            if ev.kind == "done":
                stats[ev.pane] = ev.stats
    assert "pineapple" in texts[1].lower() and "pineapple" not in texts[0].lower()
    # interleaved, not one after another (which would switch panes once)
    assert sum(a != b for a, b in zip(order, order[1:])) >= 3, order
    for s in stats:
        assert s["ttft_s"] > 0 and s["tokens_per_s"] > 0 and s["tokens"] > 1
    # one copy of the base weights: one entry, and the adapter's layers wrap the very same tensors
    assert [m["folder"] for m in registry.loaded()].count(str(bundled_model)) == 1
    entry = registry.entry_for(refs[0])
    assert entry is registry.entry_for(refs[1]) and entry.is_peft
    q = entry.base.model.layers[0].self_attn.q_proj
    plain = q.base_layer.weight
    wrapped = entry.model.base_model.model.model.layers[0].self_attn.q_proj.base_layer.weight
    assert wrapped.data_ptr() == plain.data_ptr()
    weights = {p.data_ptr() for n, p in entry.base.named_parameters() if "lora_" not in n}
    assert len(weights) == len([n for n, _ in entry.base.named_parameters() if "lora_" not in n])  # no duplicates
    base_bytes = sum(p.numel() * p.element_size() for n, p in entry.base.named_parameters() if "lora_" not in n)
    assert entry.bytes < base_bytes * 1.1  # base + a small adapter, not two models


def test_a_seed_reproduces_sampling_while_panes_run_together(registry, bundled_model):
    spec = build_spec({"temperature": 1.0, "top_p": 0.95, "seed": 11, "max_new_tokens": 16})
    a, b = collect([DEFAULT_MODEL, DEFAULT_MODEL], _msgs(2, "Name a colour."), spec, registry=registry)
    again = collect([DEFAULT_MODEL], _msgs(1, "Name a colour."), spec, registry=registry)[0]
    assert a.text == b.text == again.text and a.text


def test_a_prompt_longer_than_the_context_fails_before_generation(registry, bundled_model):
    events = [ev for batch in stream_many([DEFAULT_MODEL], _msgs(1, "word " * 9000), build_spec(GREEDY),
                                          registry=registry) for ev in batch]
    assert [ev.kind for ev in events] == ["error"]
    assert "prompt:" in events[0].text and "reads at most 8192" in events[0].text


def test_a_model_that_fails_to_load_shows_its_error_and_the_others_answer(registry, bundled_model, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((bundled_model / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    refs = [str(broken), DEFAULT_MODEL, "nobody/absent-model"]
    r_broken, r_ok, r_absent = collect(refs, _msgs(3, "Say hi."), build_spec(GREEDY), registry=registry)
    assert r_broken.error.startswith("model:") and not r_broken.text
    assert "not available offline" in r_absent.error
    assert r_ok.text and not r_ok.error


def test_memory_budget_message_and_least_recently_used_unloading(bundled_model, tmp_path):
    need = estimate_bytes(bundled_model, four_bit=False)
    with pytest.raises(LabError) as err:
        Registry(budget_bytes=need // 2).acquire(DEFAULT_MODEL)
    assert err.value.field == "model" and "needs about" in err.value.what and "budget" in err.value.what
    twin = tmp_path / "twin"  # a second model folder without copying the weights
    twin.mkdir()
    for f in bundled_model.iterdir():
        os.symlink(f, twin / f.name)
    reg = Registry(budget_bytes=int(need * 1.5))
    reg.acquire(DEFAULT_MODEL).release()
    held = reg.acquire(str(twin))
    assert [m["folder"] for m in reg.loaded()] == [str(twin)]  # the idle one went
    with pytest.raises(LabError) as err:
        reg.acquire(DEFAULT_MODEL)  # the twin is in use, so nothing can be unloaded
    assert "in use" in err.value.what
    held.release()


def test_the_cli_prints_one_reply_per_model_with_timings(bundled_model, lora_adapter, capsys):
    from lab.__main__ import main

    rc = main(["chat", "--model", DEFAULT_MODEL, "--model", str(lora_adapter), "--prompt", SECRET_PROMPT,
               "--max-new-tokens", "5000", "--seed", "1", "--temperature", "0"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and [r["model"] for r in out["replies"]] == [DEFAULT_MODEL, str(lora_adapter)]
    assert "clamped to 1024" in out["notices"][0] and out["settings"]["max_new_tokens"] == 1024
    assert "pineapple" in out["replies"][1]["text"].lower()
    for r in out["replies"]:
        assert r["ttft_s"] > 0 and r["tokens_per_s"] > 0 and r["error"] == ""


def test_stored_votes_export_to_data_the_dpo_preflight_accepts(bundled_model, lora_adapter):
    from lab.artifacts import read_manifest
    from lab.data.load import load_source
    from lab.data.recipe import Source
    check = pytest.importorskip("lab.train.preflight", reason="the Train stage is not in this checkout").check
    from lab.train.recipe import TrainRecipe

    b = arena.Battle(DEFAULT_MODEL, f"{DEFAULT_MODEL}+{lora_adapter}")
    prompt = build_messages("Be brief.", [], SECRET_PROMPT)
    arena.record_vote(b, prompt, "I do not know.", "The secret word of the lab is pineapple.", "b")
    arena.record_vote(b, prompt, "Pineapple.", "No idea.", "a")
    arena.record_vote(b, prompt, "x", "y", "both_bad")
    folder = arena.export_preferences("arena-votes")
    manifest = read_manifest(folder)
    assert manifest["kind"] == "votes" and manifest["metrics"]["rows"] == 2
    assert {p["kind"] for p in manifest["parents"]} == {"model", "adapter"}
    rows = [json.loads(line) for line in (folder / "data.jsonl").read_text().splitlines()]
    assert rows[0]["chosen"][0]["content"].endswith("pineapple.") and rows[0]["prompt"][0]["role"] == "system"
    pre = check(TrainRecipe(method="dpo", model=str(bundled_model), dataset=str(folder), batch_size=2))
    assert pre.kind == "preference" and pre.rows == 2
    loaded = load_source(Source(path=str(folder / "data.jsonl")))  # the Data tab reads it as preference rows
    assert loaded.form == "preference" and loaded.rows == rows
    with pytest.raises(LabError):
        arena.export_preferences("arena-votes")  # never overwrite an artifact


def test_4bit_without_a_gpu_is_refused_before_anything_loads(bundled_model):
    from lab.chat.registry import default_budget_bytes
    from lab.hardware import Gpu, Hardware, set_hardware

    set_hardware(Hardware(ram_gb=24.0))
    reg = Registry()
    assert reg.budget == int(24.0 * 0.5 * 2**30)  # CPU: half the RAM
    with pytest.raises(LabError) as err:
        reg.acquire(DEFAULT_MODEL, four_bit=True)
    assert err.value.field == "load_in_4bit" and reg.loaded() == []
    set_hardware(Hardware(gpus=(Gpu("T4", 15.0, (7, 5)),), bnb_ok=True, ram_gb=24.0))
    assert default_budget_bytes() == int(15.0 * 0.9 * 2**30)  # GPU: most of the VRAM


@pytest.mark.gpu
def test_4bit_on_a_gpu_loads_nf4_weights_and_serves_base_and_adapter(bundled_model, lora_adapter):
    import bitsandbytes as bnb

    reg = Registry()
    refs = [f"{DEFAULT_MODEL}+{lora_adapter}", DEFAULT_MODEL]
    replies = collect(refs, _msgs(2), build_spec({**GREEDY, "load_in_4bit": True}), registry=reg)
    assert all(r.text and not r.error for r in replies), replies
    entry = reg.entry_for(DEFAULT_MODEL, four_bit=True)
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in entry.base.modules())
    assert entry.bytes < estimate_bytes(bundled_model, four_bit=False) / 2
