"""GRPO, KTO and reward-model training on the real bundled SmolLM2 on CPU, a step or two each.

Each run checks what training must do to the weights: the LoRA weights (and a reward model's new score head)
moved, every frozen weight stayed bit-identical.
"""
import json
import os
import subprocess
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see lab.jobs.worker_setup.passive_threads

import pytest  # noqa: E402
import torch  # noqa: E402

from lab import settings  # noqa: E402
from lab.artifacts import read_manifest  # noqa: E402
from lab.errors import LabError  # noqa: E402
from lab.jobs.local import LocalContext  # noqa: E402
from lab.train.recipe import TrainRecipe  # noqa: E402
from lab.train.worker import train  # noqa: E402
from tests.integration.test_train import Watch  # noqa: E402

pytestmark = pytest.mark.slow
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"  # resolves to the bundled model offline
FORMAT = r"^\s*<answer>\s*-?\d+\s*</answer>\s*$"


def assert_only_trainable_moved(watch: Watch, trainable_part: str = "lora_") -> None:
    moved = {n for n in watch.trainable if not torch.equal(watch.before[n], watch.after[n])}
    assert any(trainable_part in n for n in moved), "no trainable weight moved"
    frozen = [n for n in watch.before if n not in watch.trainable]
    assert frozen and all(torch.equal(watch.before[n], watch.after[n]) for n in frozen)


def rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_HOME", str(tmp_path_factory.mktemp("methods-home")))
        settings.reset_caches()
        yield
    settings.reset_caches()


@pytest.fixture(scope="module")
def grpo_run(bundled_model, home):
    """Two GRPO steps on the lab's arithmetic set: format + exact + a length reward (which always varies, so the
    advantages are never all zero), with a KL term so KL is on the curves."""
    from lab.train import arith
    from lab.train.recipe import preset

    recipe = preset("GRPO: teach an answer format", model=MODEL, dataset=str(arith.ensure()), max_steps=2,
                    batch_size=4, num_generations=2, max_completion_length=8, grpo_beta=0.04, learning_rate=1e-3,
                    rewards=[f"format:{FORMAT}", "exact", "length:6@0.5"], save_steps=100)
    out = settings.get_settings().artifacts / "grpo-out"
    watch = Watch()
    result = train(recipe, out, LocalContext(out), callbacks=(watch,))
    return {"result": result, "watch": watch, "out": out, "recipe": recipe}


def test_grpo_lora_moves_and_frozen_weights_stay(grpo_run):
    assert_only_trainable_moved(grpo_run["watch"])


def test_grpo_records_each_reward_kl_length_and_samples(grpo_run):
    out, result = grpo_run["out"], grpo_run["result"]
    metrics = [m for m in rows(out / "metrics.jsonl") if "reward" in m]
    assert [m["step"] for m in metrics] == [1, 2]
    for key in ("reward_format", "reward_exact", "reward_length", "kl", "completion_length", "clipped_ratio"):
        assert all(key in m for m in metrics), key
    assert 0 < metrics[0]["completion_length"] <= 8
    assert set(result) >= {"steps", "first_reward", "last_reward", "artifact"} and result["steps"] == 2
    assert result["first_reward"] == metrics[0]["reward"]
    samples = rows(out / "samples.jsonl")
    assert {s["step"] for s in samples} == {1, 2} and set(samples[0]["rewards"]) == {"format", "exact", "length"}
    first = samples[0]
    assert first["total"] == pytest.approx(first["rewards"]["format"] + first["rewards"]["exact"]
                                           + 0.5 * first["rewards"]["length"])
    card = (out / "README.md").read_text()
    assert "## Rewards (GRPO)" in card and (out / "rewards.png").is_file() and "reward curves" in card
    assert read_manifest(out)["rewards"][0].startswith("format:")


def test_grpo_panel_shows_curves_and_the_samples_table(grpo_run):
    from lab.jobs.context import read_metrics
    from lab.train.methods import grpo_report

    curves = grpo_report.grpo_curves(read_metrics(grpo_run["out"] / "metrics.jsonl"))
    assert {r["series"] for r in curves["rewards"]} == {"total", "format", "exact", "length"}
    assert {r["series"] for r in curves["kl"]} >= {"KL", "clipped answers"}
    headers, table = grpo_report.samples_table(grpo_run["out"])
    assert headers[:4] == ["step", "prompt", "completion", "total"] and table and table[0][0] == 2


def test_a_reward_error_stops_grpo_with_the_sample(bundled_model, home, tmp_path):
    from lab.train import arith

    code = tmp_path / "boom.py"
    code.write_text("def reward(prompt, completion, **columns):\n    raise RuntimeError('no score for ' + prompt)\n")
    recipe = TrainRecipe(method="grpo", model=MODEL, dataset=str(arith.ensure()), max_steps=1, batch_size=2,
                         num_generations=2, max_completion_length=4, rewards=[f"python:{code}"])
    with pytest.raises(LabError) as err:
        train(recipe, tmp_path / "out", LocalContext(tmp_path / "out"))
    text = str(err.value)
    assert "RuntimeError: no score for What is" in text and "completion:" in text and "Traceback" in text
    assert err.value.field == "rewards"


def test_cli_grpo_skips_failing_samples_and_warns_of_no_signal(bundled_model, home, tmp_path):
    """The CLI contract: JSON with steps, first_reward, last_reward and artifact. A reward that raises on some
    samples is skipped and counted; rewards that are all zero warn "no signal"."""
    from lab.train import arith

    code = tmp_path / "picky.py"
    code.write_text("def reward(prompt, completion, **columns):\n"
                    "    if len(completion) % 2:\n        raise ValueError('odd')\n    return 0.0\n")
    out = tmp_path / "cli-out"
    env = {**os.environ, "LAB_HOME": os.environ["LAB_HOME"], "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "lab", "train", "--method", "grpo", "--model", MODEL, "--dataset",
           str(arith.ensure()), "--reward", f"python:{code}", "--reward", "format:NEVER MATCHES", "--max-steps", "1",
           "--batch-size", "4", "--num-generations", "4", "--max-completion-length", "5", "--reward-errors", "skip",
           "--no-signal-steps", "1", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert set(result) >= {"steps", "first_reward", "last_reward", "artifact"} and result["last_reward"] == 0
    watch = json.loads((out / "watch.json").read_text())
    assert "no signal: check the reward" in watch["no_signal"] and "no signal" in proc.stderr
    assert watch["skipped"]["python"] >= 1 and "skipped" in proc.stderr


def test_kto_from_the_arena_export(bundled_model, home):
    """Arena votes exported as KTO rows train directly; KTO's result has the same keys as SFT's."""
    from lab.chat import arena

    battle = arena.Battle(MODEL, "other")
    questions = ["What is the capital of France?", "Name a primary colour.", "What is 2 + 2?"]
    for q, good, bad in zip(questions, ["Paris.", "Red.", "4."], ["Berlin, I think.", "Purple.", "5."]):
        arena.record_vote(battle, [{"role": "user", "content": q}], good, bad, "a")
        arena.record_vote(battle, [{"role": "user", "content": q + " Be brief."}], bad, good, "b")
    data = arena.export_preferences("arena-kto", form="kto")
    recipe = TrainRecipe(method="kto", model=MODEL, dataset=str(data), adapter="lora", max_steps=2, batch_size=2,
                         learning_rate=1e-3, max_seq_length=128, save_steps=100)
    out = settings.get_settings().artifacts / "kto-out"
    watch = Watch()
    result = train(recipe, out, LocalContext(out), callbacks=(watch,))
    assert_only_trainable_moved(watch)
    assert set(result) >= {"steps", "first_loss", "last_loss", "artifact"} and result["steps"] == 2
    manifest = read_manifest(out)
    assert manifest["method"] == "kto" and data.name in [p["ref"] for p in manifest["parents"]]


def test_reward_model_trains_and_the_data_tab_scores_with_it(bundled_model, home, dpo_path):
    from lab.data.scoring import RewardModel
    from tests.integration.test_train import short_dpo

    data = settings.get_settings().artifacts.parent / "pairs.json"
    data.write_text(json.dumps(short_dpo(dpo_path, 4)))  # the four shortest real preference pairs
    recipe = TrainRecipe(method="reward", model=MODEL, dataset=str(data), max_steps=2, batch_size=2,
                         learning_rate=1e-3, max_seq_length=256, save_steps=100)
    out = settings.get_settings().artifacts / "rm-out"
    watch = Watch()
    result = train(recipe, out, LocalContext(out), callbacks=(watch,))
    assert_only_trainable_moved(watch)
    assert any("score" in n and not torch.equal(watch.before[n], watch.after[n]) for n in watch.trainable)
    assert result["steps"] == 2 and "reward_accuracy" in result
    assert read_manifest(out)["kind"] == "model" and "reward-model" in read_manifest(out)["tags"]
    scorer = RewardModel(str(out), 256, log=lambda m: None)  # the Data tab's reward step loads it as is
    scores, _ = scorer([[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]])
    assert len(scores) == 1 and scores[0] == scores[0]
