"""The bundled model resolves offline, loads and answers; bad references get clear errors."""
import json
import subprocess
import sys

import pytest
import torch

from lab.errors import LabError
from lab.models import info, resolve
from lab.settings import DEFAULT_MODEL


def test_bundled_model_resolves_offline_and_answers_paris(bundled_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = resolve(DEFAULT_MODEL)
    assert folder == bundled_model and (folder / "model.safetensors").is_file()
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == tok.eos_token and tok.chat_template
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    enc = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**enc, max_new_tokens=20, do_sample=False)
    assert "Paris" in tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def test_info_reads_config_only(bundled_model):
    facts = info(DEFAULT_MODEL)
    assert facts["architecture"] == "LlamaForCausalLM"
    assert facts["layers"] == 30 and facts["vocab_size"] == 49152 and facts["hidden_size"] == 576
    assert 130e6 < facts["params"] < 140e6 and facts["params_exact"]
    assert facts["chat_template"] is True


def test_cli_resolve_prints_folder_and_info(bundled_model, lab_home):
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "lab", "models", "resolve", DEFAULT_MODEL],
                         capture_output=True, text=True, env=env, check=True)
    data = json.loads(out.stdout)
    assert data["folder"] == str(bundled_model) and data["info"]["layers"] == 30


def test_unknown_model_offline_lists_what_is_available(bundled_model):
    with pytest.raises(LabError) as err:
        resolve("nobody/no-such-model")
    assert "nobody/no-such-model" in str(err.value) and DEFAULT_MODEL in str(err.value)


def test_folder_without_config_is_refused(tmp_path):
    (tmp_path / "weights").mkdir()
    with pytest.raises(LabError, match="config.json"):
        resolve(str(tmp_path / "weights"))


def test_not_a_repo_id():
    with pytest.raises(LabError, match="neither a local folder"):
        resolve("not a model id!")


def test_bin_only_repo_is_refused():
    from lab.models.resolve import check_safetensors

    with pytest.raises(LabError, match="pickle"):
        check_safetensors("someone/old-model", ["config.json", "pytorch_model.bin"])
    check_safetensors("someone/new-model", ["config.json", "model.safetensors", "pytorch_model.bin"])
