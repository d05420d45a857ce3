"""bench/gpu/fast.py's CPU side: its arguments, the maths of its columns (tokens/s, the final loss of logged
intervals), the goals marked PASS or FAIL, and the Markdown RESULTS.md gets, on made-up numbers."""
import json

import pytest

from bench.gpu import fast, fast_table, summary


def test_configs_and_arguments():
    assert len(fast.configs("")) == 8 and fast.configs("")[0] == ("1b", "qlora", "sft")
    assert fast.configs("3b-LoRA-dpo, 1b-qlora-sft") == [("3b", "lora", "dpo"), ("1b", "qlora", "sft")]
    with pytest.raises(SystemExit, match="SIZE-ADAPTER-METHOD"):
        fast.configs("7b-qlora-sft")
    args = fast.parse(["--assets", "a", "--out", "o.json", "--configs", "1b-lora-sft", "--steps", "12"])
    assert args.config_list == [("1b", "lora", "sft")] and args.steps == 12 and args.budget_s == 450
    assert fast.parse(["--assets", "a", "--out", "o", "--smoke"]).config_list == [("tiny", "lora", "sft")]
    with pytest.raises(SystemExit):
        fast.parse(["--assets", "a", "--out", "o", "--steps", "1"])


def test_speed_skips_the_warm_up_step_and_weights_intervals():
    lab_rows = [{"step": 1, "loss": 3.0, "step_time": 5.0, "tokens": 100},  # warm-up, alone
                {"step": 5, "loss": 2.0, "step_time": 0.5, "tokens": 2000},  # steps 2-5, 0.5 s each
                {"step": 10, "loss": 1.0, "step_time": 0.4, "tokens": 2500}]  # steps 6-10
    iv = fast_table.intervals(lab_rows)
    assert [(i["end"], i["steps"], i["seconds"]) for i in iv] == [(1, 1, 5.0), (5, 4, 2.0), (10, 5, 2.0)]
    assert fast_table.speed(iv) == round(4500 / 4.0, 1)
    per_step = [{"end": s, "steps": 1, "seconds": 1.0, "tokens": 10} for s in range(1, 4)]
    assert fast_table.speed(per_step) == 10.0
    assert fast_table.speed([{"end": 1, "steps": 1, "seconds": 1.0, "tokens": 7}]) == 7.0  # only step 1: use it


def test_final_loss_is_the_mean_of_the_last_ten_steps():
    trl = [{"end": 10, "steps": 10, "loss": 2.0}, {"end": 20, "steps": 10, "loss": 1.0}]  # raw TRL: every 10
    assert fast_table.final_loss(trl, 20) == 1.0
    lab = [{"end": 1, "steps": 1, "loss": 3.0}, {"end": 14, "steps": 13, "loss": 2.0},  # 4 of its steps count
           {"end": 20, "steps": 6, "loss": 1.0}]
    assert fast_table.final_loss(lab, 20) == round((2.0 * 4 + 1.0 * 6) / 10, 5)
    assert fast_table.final_loss([], 20) is None


def _report():
    ok = {"tokens_per_s": 3000.0, "peak_vram_gb": 6.0, "final_loss": 1.005}
    row = {"size": "1b", "adapter": "qlora", "method": "sft",
           "trl": {"tokens_per_s": 1500.0, "peak_vram_gb": 10.0, "final_loss": 1.0}, "lab": ok,
           "lab_unsloth": {"skipped": "not installed"}, "unsloth": {"skipped": "not installed"}}
    slow = {**row, "method": "dpo", "lab": {**ok, "tokens_per_s": 1600.0},
            "lab_unsloth": {"error": "Traceback ...\nRuntimeError: boom | x"}}
    return {"kind": "fast", "steps": 20, "batch": 4, "seq": 1024, "rows": [row, slow],
            "environment": {"gpu": "H100", "torch": "2.11", "transformers": "5.17", "trl": "1.16.0"}}


def test_goals_pass_or_fail_and_missing_columns_say_why():
    r = _report()
    good, slow = (fast_table.compare(x) for x in r["rows"])
    assert (good["speed_ratio"], good["vram_ratio"], good["lab_speed"], good["lab_vram"], good["lab_loss"]) == \
        (2.0, 0.6, True, True, True)
    assert good["unsloth_parity"] is None and slow["lab_speed"] is False
    text = "\n".join(fast_table.markdown(r))
    assert "| 1b qlora sft | 1500 tok/s · 10.00 GB · loss 1.0000 | 3000 tok/s · 6.00 GB · loss 1.0050 |" in text
    assert "not installed" in text and "error: RuntimeError: boom / x" in text  # a pipe would break the table
    assert "lab tokens/s ≥ 1.5× raw TRL: FAIL" in text and "lab peak VRAM ≤ 0.7× raw TRL: PASS" in text
    assert "raw Unsloth tokens/s: not measured" in text


def test_results_md_renders_a_fast_report(tmp_path, monkeypatch):
    (tmp_path / "2026-12-08-h100-fast.json").write_text(json.dumps(_report()))
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    text = "\n".join(summary.markdown())
    assert "### GPU fast path: 2026-12-08-h100-fast (H100" in text and "bash bench/gpu/run.sh fast" in text
    assert "| config | raw TRL (defaults) | lab (defaults) | lab, engine unsloth | raw Unsloth |" in text


def test_the_fast_check_runs_in_smoke_mode(bundled_model, alpaca_path, tmp_path):
    """A tiny Llama on CPU through the lab's column: the report has its numbers, the other columns say why not."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    assets = tmp_path / "assets"
    (assets / "tokenizer").mkdir(parents=True)
    for f in bundled_model.iterdir():
        if f.is_file() and f.suffix != ".safetensors" and f.name != "config.json":
            shutil.copy(f, assets / "tokenizer" / f.name)
    shutil.copy(alpaca_path, assets / "alpaca_en_demo.json")
    root = Path(fast.__file__).resolve().parents[2]
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(root / "bench" / "gpu" / "fast.py"), "--assets", str(assets), "--out",
                           str(out), "--work", str(tmp_path / "work"), "--smoke"], capture_output=True, text=True,
                          timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(out.read_text())["rows"][0]
    assert row["lab"]["tokens_per_s"] > 0 and row["lab"]["kernels"] == ["padding_free"]
    assert row["trl"] == {"skipped": "not run (smoke)"} and "not run (smoke)" in proc.stdout
