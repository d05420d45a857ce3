"""report_to trackio: the recipe field, the CLI flag, the trainer's arguments, and a named trackio Space (used when it
answers on the Hub, else the run logs locally and says so). The real run is in tests/integration/test_runs.py."""
import os
from pathlib import Path

import pytest

from lab.__main__ import build_parser
from lab.errors import LabError
from lab.train import build, tracking
from lab.train.cli import recipe_from_args
from lab.train.recipe import TrainRecipe


def test_the_cli_flags_set_the_tracker():
    args = build_parser("train").parse_args(["train", "--model", "m", "--dataset", "d", "--report-to", "trackio",
                                             "--trackio-space", "me/tracks"])
    recipe = recipe_from_args(args)
    assert recipe.report_to == "trackio" and recipe.trackio_space == "me/tracks"


def test_a_trackio_space_must_be_a_hub_id():
    with pytest.raises(LabError) as err:
        TrainRecipe.parse({"model": "m", "dataset": "d", "report_to": "trackio", "trackio_space": "not a space"})
    assert err.value.field == "trackio_space"


def test_trackio_runs_are_named_after_their_folder_and_never_synced_unasked(bundled_model):
    recipe = TrainRecipe(model=str(bundled_model), dataset="d", report_to="trackio")
    out = Path("/tmp/lab-art/sft-run-7/checkpoints")
    args = build.training_args(recipe, out, build.plan(recipe, build.get_hardware()), False, 10)
    assert args.report_to == ["trackio"] and args.project == "lab" and args.run_name == "sft-run-7"
    assert args.trackio_static_space_id is False
    plain = build.training_args(recipe.updated(report_to="none"), out, build.plan(recipe, build.get_hardware()))
    assert plain.report_to == [] and plain.run_name != "sft-run-7"


def test_trackio_writes_under_lab_home(lab_home, monkeypatch):
    monkeypatch.delenv("TRACKIO_DIR", raising=False)
    logs = []
    assert tracking.prepare(TrainRecipe(model="m", dataset="d", report_to="trackio"), None, logs.append) is None
    assert Path(os.environ["TRACKIO_DIR"]) == lab_home / "trackio" and (lab_home / "trackio").is_dir()
    assert "logging locally" in logs[-1]


def test_a_named_space_is_used_when_it_answers_else_the_run_logs_locally(fake_hub, monkeypatch):
    monkeypatch.delenv("TRACKIO_DIR", raising=False)
    monkeypatch.setenv("TRACKIO_SPACE_ID", "someone/else")  # only the recipe names the Space
    fake_hub.seed("me/tracks", files={"README.md": b"---\nsdk: gradio\n---\n"}, repo_type="space")
    logs = []
    recipe = TrainRecipe(model="m", dataset="d", report_to="trackio", trackio_space="me/tracks")
    assert tracking.prepare(recipe, None, logs.append) == "me/tracks"
    assert os.environ["TRACKIO_SPACE_ID"] == "me/tracks" and "me/tracks" in logs[-1]
    logs.clear()
    assert tracking.prepare(recipe.updated(trackio_space="me/gone"), None, logs.append) is None
    assert "TRACKIO_SPACE_ID" not in os.environ
    assert "me/gone cannot be reached" in logs[0] and "logging locally" in logs[0] + logs[1]


def test_trackios_notebook_hints_stay_out_of_job_logs():
    from lab.jobs.noise import is_noise

    assert is_noise("* View dashboard by running in your terminal:\n")
    assert is_noise('\x1b[1m\x1b[38;5;208mtrackio show --project "lab"\x1b[0m\n')
    assert is_noise('* or by running in Python: trackio.show(project="lab")\n')
    assert not is_noise("trackio: logging locally in /data/lab/trackio (project lab, …)\n")
    assert not is_noise("* Created new run: sft-run-7\n")
