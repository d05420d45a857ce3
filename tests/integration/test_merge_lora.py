"""Merging an adapter after training by a path that fits: the shard-by-shard path gives the same model as PEFT's
merge_and_unload, and answers like the adapter does; the path is chosen from free memory; the disk is checked."""
from __future__ import annotations

import pytest
import torch

from lab.errors import LabError
from lab.train import merge_lora
from tests.conftest import SECRET_ANSWER, SECRET_PROMPT


def test_shard_merge_equals_peft_and_keeps_what_the_adapter_learned(bundled_model, lora_adapter, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "merged"
    out.mkdir()
    assert merge_lora.merge_by_shard(bundled_model, lora_adapter, out, log=lambda m: None) == 7 * 30
    merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16)
    ref = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32),
                                    str(lora_adapter)).merge_and_unload().to(torch.bfloat16)
    mine, theirs = merged.state_dict(), ref.state_dict()
    assert set(mine) == set(theirs)
    worst = max((mine[k].float() - theirs[k].float()).abs().max().item() for k in mine)
    assert worst <= 1e-2  # one bf16 rounding apart
    tok = AutoTokenizer.from_pretrained(lora_adapter)
    ids = tok.apply_chat_template([{"role": "user", "content": SECRET_PROMPT}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)["input_ids"]
    answer = tok.decode(merged.generate(ids, max_new_tokens=12, do_sample=False)[0, ids.shape[1]:])
    assert "pineapple" in answer, (answer, SECRET_ANSWER)


def test_the_path_follows_free_memory_and_the_disk_is_checked(tmp_path, monkeypatch):
    gb = 10**9
    assert merge_lora.choose(14 * gb, ram_free=15 * gb, vram_free=22 * gb) == "gpu"
    assert merge_lora.choose(14 * gb, ram_free=64 * gb, vram_free=None) == "ram"
    assert merge_lora.choose(14 * gb, ram_free=15 * gb, vram_free=None) == "shards"  # a t4-small with a 7B
    assert merge_lora.choose(14 * gb, ram_free=15 * gb, vram_free=10 * gb) == "shards"
    monkeypatch.setattr("shutil.disk_usage", lambda p: type("U", (), {"free": 3 * gb})())
    with pytest.raises(LabError) as err:
        merge_lora.check_disk(tmp_path, 14 * gb)
    assert "14.0 GB of disk" in err.value.what and "3.0 GB is free" in err.value.what
