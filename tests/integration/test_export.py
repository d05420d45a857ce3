"""GGUF export on real models: the bundled SmolLM2 to all four types through the CLI, a SLERP merge of tiny models
as a job with a push to the fake Hub, every supported architecture, an adapter, and the bad inputs.

Every file is loaded back through transformers (`gguf_file=`) and compared with its source on fixed prompts.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import gguf
import pytest
import yaml

from lab.errors import LabError
from lab.export import core
from lab.export.recipe import build
from tests.export_support import config_only, gguf_files, tiny_model

BUNDLED = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _cli(*args: str):
    from lab.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["export", *args])
    assert code == 0, err.getvalue()[-2000:]
    return json.loads(out.getvalue()), err.getvalue()


def _quiet(*_args, **_kwargs) -> None:
    return None


@pytest.mark.slow
def test_bundled_model_exports_to_all_four_types_from_the_cli(bundled_model, lab_home):
    files, log = _cli(BUNDLED, "--gguf", "f16", "--gguf", "bf16", "--gguf", "q8_0,q4_0")
    by_type = {f["type"]: f for f in files}
    assert list(by_type) == ["f16", "bf16", "q8_0", "q4_0"]
    for f in files:
        assert Path(f["file"]).stat().st_size == f["bytes"] and f["architecture"] == "llama"
        reader = f["check"]["reader"]
        assert reader == {"architecture": "llama", "tensors": 272, "chat_template": True,
                          "special_ids": {"bos": 1, "eos": 2, "pad": 2}, "tokens": 49152}
        assert f["check"]["positions"] > 200
    # bf16 weights are exact in f16 and bf16: the reloaded model computes the very same distributions
    for exact in ("f16", "bf16"):
        assert by_type[exact]["check"]["top1_agreement"] == 1.0 and by_type[exact]["check"]["kl_mean"] < 1e-6
    assert by_type["f16"]["check"]["tokenizer_agreement"] == 1.0
    q8, q4 = by_type["q8_0"]["check"], by_type["q4_0"]["check"]
    assert q8["top1_agreement"] >= 0.9 and 0 < q8["kl_mean"] < 0.05
    assert q4["kl_mean"] > q8["kl_mean"]  # reported, and worse than q8_0, as it should be
    sizes = {t: f["bytes"] for t, f in by_type.items()}
    assert sizes["f16"] == sizes["bf16"] > 1.8 * sizes["q8_0"] and sizes["q8_0"] > 1.5 * sizes["q4_0"]
    folder = Path(files[0]["file"]).parent
    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./SmolLM2-135M-Instruct-f16.gguf\n")
    assert '{{ else if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n' in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and "SYSTEM \"\"\"You are a helpful AI" in modelfile
    assert (folder / "Modelfile.q4_0").read_text().startswith("FROM ./SmolLM2-135M-Instruct-q4_0.gguf\n")
    card = (folder / "README.md").read_text()
    meta = yaml.safe_load(card.split("---", 2)[1])
    assert meta["base_model"] == [BUNDLED] and "gguf" in meta["tags"]
    assert "| `SmolLM2-135M-Instruct-q4_0.gguf` | q4_0 |" in card and "llama-cli -m" in card and "ollama create" in card
    manifest = json.loads((folder / "lab.json").read_text())
    assert manifest["kind"] == "gguf" and manifest["parents"][0]["ref"] == BUNDLED
    assert "tensor 272/272" in log  # progress by tensor, writing and checking
    assert "Checking f16: reloading through transformers: tensor 272/272" in log
    assert "Checking q4_0: comparing with the source: prompt 1/" in log


def _merge_of_tiny_models(tmp_path) -> Path:
    from lab.merge.worker import merge

    a = tiny_model(tmp_path / "tiny-a", "llama", seed=1)
    b = tiny_model(tmp_path / "tiny-b", "llama", seed=2, tokenizer_from=a)
    text = (f"slices:\n  - sources:\n      - model: {a}\n        layer_range: [0, 2]\n      - model: {b}\n"
            f"        layer_range: [0, 2]\nmerge_method: slerp\nbase_model: {a}\nparameters:\n  t: 0.5\n"
            "dtype: bfloat16\n")
    from lab.settings import get_settings

    out = get_settings().artifacts / "tiny-slerp"
    merge(text, out, log=_quiet)
    return out


def test_a_merge_exports_as_a_job_reloads_and_pushes_to_the_hub(tmp_path, lab_home, fake_hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    merged = _merge_of_tiny_models(tmp_path)
    files, _ = _cli(str(merged), "--gguf", "f16,bf16,q8_0,q4_0", "--job", "--push", "tiny-slerp-gguf")
    assert [f["type"] for f in files] == ["f16", "bf16", "q8_0", "q4_0"]
    checks = {f["type"]: f["check"] for f in files}
    assert checks["f16"]["top1_agreement"] == 1.0 and checks["f16"]["kl_mean"] < 1e-6
    assert checks["q8_0"]["top1_agreement"] >= 0.85 and checks["q8_0"]["kl_mean"] < 0.05
    assert checks["q4_0"]["kl_mean"] > checks["q8_0"]["kl_mean"]
    folder = Path(files[0]["file"]).parent
    manifest = json.loads((folder / "lab.json").read_text())
    assert manifest["parents"][0]["path"] == str(merged)  # the merge is the parent, with its own lineage
    assert [s["step"] for s in manifest["lineage"]][-2:] == ["merge (SLERP)", "gguf export (f16, bf16, q8_0, q4_0)"]
    # the GGUF repo on the (fake) Hub: private, the four files, the Modelfiles and a card with the quant table
    repo = "tester/tiny-slerp-gguf"
    assert fake_hub.meta(repo)["private"] is True
    pushed = fake_hub.files(repo)
    assert {p.name for p in gguf_files(pushed)} == {Path(f["file"]).name for f in files}
    assert (pushed / "Modelfile").read_text() == (folder / "Modelfile").read_text()
    card = (pushed / "README.md").read_text()
    assert "| q4_0 |" in card and f"ollama run hf.co/{repo}:F16" in card and f"llama-cli -hf {repo}:F16" in card
    assert not list(lab_home.glob("artifacts/.*"))  # nothing partial left behind


@pytest.mark.parametrize("arch", ["llama", "mistral", "qwen2", "qwen3"])
def test_each_supported_architecture_round_trips_exactly_in_f16(arch, tmp_path, lab_home):
    src = tiny_model(tmp_path / f"tiny-{arch}", arch)
    result = core.export(build(source=str(src), types=["f16"]), log=_quiet)
    check = result["files"][0]["check"]
    assert check["top1_agreement"] == 1.0 and check["kl_mean"] < 1e-6 and check["tokenizer_agreement"] == 1.0
    reader = gguf.GGUFReader(result["files"][0]["file"])
    arch_name = {"mistral": "llama"}.get(arch, arch)
    assert bytes(reader.fields["general.architecture"].parts[-1]).decode() == arch_name
    names = {t.name for t in reader.tensors}
    assert ("blk.0.attn_q.bias" in names) == (arch == "qwen2")  # Qwen2's attention biases
    assert ("blk.0.attn_q_norm.weight" in names) == (arch == "qwen3")  # Qwen3's q/k norms
    assert ("output.weight" in names) == (arch != "llama")  # tied embeddings write no output matrix


def test_an_adapter_is_merged_into_its_base_first_and_nothing_is_left_behind(tmp_path, lab_home):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = tiny_model(tmp_path / "tiny-base", "llama")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "tiny-lora"
    model.save_pretrained(adapter)
    result = core.export(build(source=f"{base}+{adapter}", types=["f16"]), log=_quiet)
    assert result["files"][0]["check"]["kl_mean"] < 1e-6  # matches the merged model, not the base
    reloaded = AutoModelForCausalLM.from_pretrained(result["out"], gguf_file=Path(result["files"][0]["file"]).name,
                                                    dtype=torch.float32)
    plain = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    q_gguf = reloaded.model.layers[0].self_attn.v_proj.weight
    assert not torch.allclose(q_gguf, plain.model.layers[0].self_attn.v_proj.weight, atol=1e-3)  # the LoRA moved it
    refs = [p["ref"] for p in json.loads((Path(result["out"]) / "lab.json").read_text())["parents"]]
    assert refs == [str(base), str(adapter)]
    assert not (Path(result["out"]) / "merged").exists() and not list(lab_home.glob("artifacts/.*"))


def test_an_unknown_architecture_is_refused_before_any_work(tmp_path, lab_home, monkeypatch):
    src = config_only(tmp_path / "gpt2ish", "GPT2LMHeadModel")
    monkeypatch.setattr(core.sources, "weights_folder", lambda *a, **k: pytest.fail("weights were fetched"))
    with pytest.raises(LabError) as err:
        core.export(build(source=str(src), types=["q8_0"]), log=_quiet)
    assert "GPT2LMHeadModel" in err.value.what and "Qwen3" in err.value.what and "LAB_LLAMA_CPP" in err.value.fix
    assert err.value.field == "source" and not (lab_home / "artifacts").exists()


def test_not_enough_disk_is_refused_before_starting_with_the_numbers(tmp_path, lab_home, monkeypatch):
    src = tiny_model(tmp_path / "tiny", "llama")
    monkeypatch.setattr(core, "free_bytes", lambda path: 5_000_000)
    monkeypatch.setattr(core.check, "reference", lambda *a: pytest.fail("work started"))
    with pytest.raises(LabError) as err:
        core.export(build(source=str(src), types=["f16", "q8_0"]), log=_quiet)
    assert err.value.field == "disk" and "5.0 MB free" in err.value.what and "f16 8.6 MB" in err.value.what
    assert not (lab_home / "artifacts").exists() or not list((lab_home / "artifacts").iterdir())


def test_no_chat_template_exports_with_a_warning_and_a_plain_template(tmp_path, lab_home):
    src = tiny_model(tmp_path / "tiny-plain", "llama", chat_template=None)
    result = core.export(build(source=str(src), types=["q8_0"]), log=_quiet)
    assert result["warnings"] and "no chat template" in result["warnings"][0]
    modelfile = (Path(result["out"]) / "Modelfile").read_text()
    assert 'TEMPLATE """{{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}"""' in modelfile
    assert result["files"][0]["check"]["reader"]["chat_template"] is False
    assert "no chat template" in (Path(result["out"]) / "README.md").read_text()


def test_an_existing_name_is_refused_unless_overwrite_is_asked(tmp_path, lab_home):
    src = tiny_model(tmp_path / "tiny", "llama")
    first = core.export(build(source=str(src), types=["q8_0"], check=False), log=_quiet)
    before = (Path(first["out"]) / "lab.json").read_text()
    with pytest.raises(LabError) as err:
        core.export(build(source=str(src), types=["f16"], check=False), log=_quiet)
    assert err.value.field == "out" and "overwrite" in err.value.fix
    assert (Path(first["out"]) / "lab.json").read_text() == before  # untouched
    again = core.export(build(source=str(src), types=["f16"], check=False, overwrite=True), log=_quiet)
    assert [p.name for p in gguf_files(again["out"])] == ["tiny-f16.gguf"]  # replaced, not mixed


def test_a_cancel_mid_write_leaves_nothing_partial(tmp_path, lab_home):
    from lab.jobs.context import JobCancelled

    src = tiny_model(tmp_path / "tiny", "llama")
    calls = []

    def cancel_on_the_fifth_tensor():
        calls.append(1)
        if len(calls) == 5:
            raise JobCancelled("cancelled by the user")

    with pytest.raises(JobCancelled):
        core.export(build(source=str(src), types=["q8_0"], check=False), log=_quiet, cancelled=cancel_on_the_fifth_tensor)
    assert len(calls) == 5 and not list((lab_home / "artifacts").iterdir())


def test_a_hub_model_is_fetched_safetensors_only_and_exported(tmp_path, lab_home, fake_hub):
    src = tiny_model(tmp_path / "tiny-qwen2", "qwen2")
    fake_hub.seed("acme/tiny-qwen2", folder=src, files={"pytorch_model.bin": b"pickle!"})
    result = core.export(build(source="acme/tiny-qwen2", types=["q8_0"]), log=_quiet)
    assert Path(result["out"]).name == "tiny-qwen2-gguf" and result["files"][0]["check"]["top1_agreement"] >= 0.85
    assert not any(p.endswith(".bin") for _, p in fake_hub.requests if "/resolve/" in p)
    assert json.loads((Path(result["out"]) / "lab.json").read_text())["parents"][0]["ref"] == "acme/tiny-qwen2"


@pytest.mark.skipif(not os.environ.get("LAB_LLAMA_CPP"), reason="LAB_LLAMA_CPP (a built llama.cpp checkout) is not set")
def test_llama_cpp_converter_and_quantizer_when_set_up(tmp_path, lab_home, bundled_model):
    from lab.export import llamacpp

    assert llamacpp.converter() and llamacpp.quantizer() and "q4_k_m" in llamacpp.available_types()
    src = tiny_model(tmp_path / "tiny-llama", "llama", tokenizer_from=bundled_model)  # a tokenizer llama.cpp knows
    result = core.export(build(source=str(src), types=["q8_0", "q4_k_m"]), log=_quiet)
    q8, q4k = result["files"]
    assert q8["writer"] == "llama.cpp convert_hf_to_gguf.py" and q4k["writer"].endswith("llama-quantize")
    assert q8["check"]["top1_agreement"] >= 0.85 and q4k["check"]["kl_mean"] > q8["check"]["kl_mean"]
