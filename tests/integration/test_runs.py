"""Two real tiny runs on the bundled SmolLM2: one reports to trackio (read back through trackio's own API), the other
belongs to a visitor. `runs list` / `runs compare` print both with the settings that differ; the Experiments tab
overlays them with one named line per run; visitors see only their own runs."""
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see lab.jobs.worker_setup.passive_threads

import pytest  # noqa: E402

from lab import settings  # noqa: E402
from lab.access import ANONYMOUS, VISITOR, Caller, local  # noqa: E402
from lab.errors import LabError  # noqa: E402
from lab.jobs.local import LocalContext  # noqa: E402
from lab.runs import compare as runs  # noqa: E402
from lab.runs.records import run_for, visible_runs  # noqa: E402
from lab.train.recipe import TrainRecipe  # noqa: E402
from lab.train.worker import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VISITOR_NAME = "visitor-b"


@pytest.fixture(scope="module")
def two_runs(bundled_model, tmp_path_factory):
    """Run A (the owner's, trackio, lr 1e-3, rank 8) and run B (a visitor's, lr 5e-4, rank 4): 4 steps each."""
    from tests.conftest import SHARED_DATA

    alpaca = SHARED_DATA / "alpaca_en_demo.json"
    if not alpaca.is_file():
        pytest.skip("../shared/data is absent")
    home = tmp_path_factory.mktemp("runs-home")
    common = dict(model="HuggingFaceTB/SmolLM2-135M-Instruct", dataset=str(alpaca), max_rows=24, max_steps=4,
                  batch_size=2, max_seq_length=96, warmup_ratio=0.0, scheduler="constant", eval_split=0.25,
                  eval_steps=2, save_steps=100)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_HOME", str(home))
        mp.delenv("TRACKIO_DIR", raising=False)
        settings.reset_caches()
        logs: dict[str, list[str]] = {}
        out = {}
        for name, owner, extra in (("run-a", "", dict(learning_rate=1e-3, lora_r=8, lora_alpha=16,
                                                      report_to="trackio")),
                                   ("run-b", VISITOR_NAME, dict(learning_rate=5e-4, lora_r=4, lora_alpha=8))):
            mp.setenv("LAB_OWNER", owner)
            folder = home / "artifacts" / name
            ctx = LocalContext(folder)
            logs[name] = []
            ctx.log = logs[name].append
            out[name] = train(TrainRecipe(**common, **extra), folder, ctx)
        mp.delenv("LAB_OWNER")
        yield {"home": home, "result": out, "logs": logs}
    settings.reset_caches()


def test_trackio_records_read_back_with_the_run_config(two_runs):
    import trackio

    assert Path(os.environ["TRACKIO_DIR"]) == two_runs["home"] / "trackio"  # the lab's folder, not the home folder
    found = {r.name: r for r in trackio.Api().runs("lab")}
    assert set(found) == {"run-a"}  # run B did not report to trackio
    config = found["run-a"].config
    assert config["lab/recipe"]["learning_rate"] == 1e-3 and config["lab/recipe"]["report_to"] == "trackio"
    assert config["lab/hardware"]["cpu_count"] >= 1
    assert config["lab/memory"]["estimate_gb"] > 0 and config["lab/memory"]["peak_gb"] > 0
    assert config["lab/card"] == "run-a/README.md"
    from trackio.sqlite_storage import SQLiteStorage

    logged = SQLiteStorage.get_logs("lab", "run-a")
    losses = [row["train/loss"] for row in logged if "train/loss" in row]
    assert len(losses) == 4
    assert losses == pytest.approx([m["loss"] for m in _metrics(two_runs, "run-a") if "loss" in m], rel=1e-5)
    assert any("eval/loss" in row for row in logged)
    assert any("logging locally" in line for line in two_runs["logs"]["run-a"])


def _metrics(two_runs, name):
    path = two_runs["home"] / "artifacts" / name / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _cli(two_runs, *args) -> object:
    env = {**os.environ, "LAB_HOME": str(two_runs["home"])}
    done = subprocess.run([sys.executable, "-m", "lab", "runs", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_runs_list_and_compare_from_the_cli(two_runs):
    listed = {r["id"]: r for r in _cli(two_runs, "list")}
    assert set(listed) == {"run-a", "run-b"}
    a = listed["run-a"]
    assert a["method"] == "sft" and a["learning_rate"] == 1e-3 and a["lora_r"] == 8 and a["steps"] == 4
    assert a["train_loss"] == two_runs["result"]["run-a"]["last_loss"] and a["eval_loss"] > 0
    assert a["peak_memory_gb"] > 0 and a["memory_estimate_gb"] > 0 and a["tokens_per_s"] > 0 and a["wall_s"] > 0
    view = _cli(two_runs, "compare", "run-a", "run-b")
    assert [r["id"] for r in view["runs"]] == ["run-a", "run-b"]
    assert view["differ"]["learning_rate"] == {"run-a": 1e-3, "run-b": 5e-4}
    assert view["differ"]["lora_r"] == {"run-a": 8, "run-b": 4}
    assert view["differ"]["report_to"] == {"run-a": "trackio", "run-b": "none"}
    assert "model" not in view["differ"] and "max_steps" not in view["differ"]
    assert set(view["curves"]) >= {"loss", "eval_loss", "lr"} and "reward" not in view["curves"]
    assert [p[0] for p in view["curves"]["loss"]["run-b"]] == [1, 2, 3, 4]


def test_compare_takes_two_to_six_runs(two_runs, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(two_runs["home"]))
    settings.reset_caches()
    with pytest.raises(LabError) as err:
        runs.compare(local(), ["run-a"])
    assert err.value.field == "runs" and "2 to 6" in str(err.value)


def test_the_overlay_draws_one_named_line_per_run(two_runs, monkeypatch):
    from lab.ui.experiments_tab import overlay

    monkeypatch.setenv("LAB_HOME", str(two_runs["home"]))
    settings.reset_caches()
    out = overlay(["run-a", "run-b"], None)
    loss = out["frames"]["loss"]
    assert sorted(loss["run"].unique()) == ["run-a", "run-b"]
    assert len(loss[loss["run"] == "run-a"]) == 4 and loss["value"].notna().all()
    assert sorted(out["frames"]["eval_loss"]["run"].unique()) == ["run-a", "run-b"]
    assert out["frames"]["reward"].empty
    assert out["headers"] == ["setting", "run-a", "run-b"]
    assert ["learning_rate", "0.001", "0.0005"] in out["differ"]


def test_clone_fills_the_train_form_with_a_fresh_name(two_runs, monkeypatch):
    from lab.ui.runs_clone import cloned_values

    monkeypatch.setenv("LAB_HOME", str(two_runs["home"]))
    settings.reset_caches()
    values, recipe = cloned_values("run-b", None)
    assert values["learning_rate"] == 5e-4 and values["lora_r"] == 4 and values["method"] == "sft"
    assert recipe.output_name == "" and recipe.max_steps == 4


def test_visitors_see_only_their_own_runs(two_runs, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(two_runs["home"]))
    settings.reset_caches()
    visitor = Caller(VISITOR, VISITOR_NAME, "s1")
    other = Caller(VISITOR, "someone-else", "s2")
    anonymous = Caller(ANONYMOUS, session="s3")
    assert [r.id for r in visible_runs(visitor)] == ["run-b"]
    assert visible_runs(other) == [] and visible_runs(anonymous) == []
    assert {r.id for r in visible_runs(local())} == {"run-a", "run-b"}
    with pytest.raises(LabError) as hidden:
        run_for(visitor, "run-a")
    with pytest.raises(LabError) as missing:
        run_for(visitor, "no-such-run")
    assert str(hidden.value).replace("run-a", "X") == str(missing.value).replace("no-such-run", "X")
    with pytest.raises(LabError):
        runs.compare(other, ["run-a", "run-b"])
