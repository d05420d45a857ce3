"""Models downloaded from the fake Hub: resolved, loaded and generating; pickle-only repos refused."""
import pytest

from lab.errors import LabError
from lab.hub import download_model
from lab.models import resolve


def test_download_resolve_and_generate(fake_hub, bundled_model):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    fake_hub.seed("acme/smol", folder=bundled_model, files={"pytorch_model.bin": b"pickle!"})
    folder = resolve("acme/smol", log=lambda m: None)  # lab.models goes to the Hub (the fake one)
    assert folder != bundled_model and (folder / "model.safetensors").is_file()
    assert not (folder / "pytorch_model.bin").exists()  # safetensors, config and tokenizer only
    assert download_model("acme/smol", log=lambda m: None) == folder  # lab.hub finds the same snapshot
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    reply = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in reply


def test_pickle_only_and_missing_repos_are_refused(fake_hub):
    fake_hub.seed("acme/pickled", files={"config.json": b'{"model_type": "llama"}', "pytorch_model.bin": b"x"})
    for fetch in (download_model, resolve):
        with pytest.raises(LabError, match="pickle") as e:
            fetch("acme/pickled", log=lambda m: None)
        assert e.value.field == "model"
    assert not any(p.endswith(".bin") for m, p in fake_hub.requests if "/resolve/" in p)
    with pytest.raises(LabError, match="not on the Hub"):
        download_model("acme/nothing-here", log=lambda m: None)
