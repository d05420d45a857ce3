"""Evaluation in the loop: a train run that ends with "evaluate base vs fine-tune", whose scores reach the adapter's
card with the base's and whose training rows are found in the eval items; a bad eval task stops a run before it
trains; a push gated on a task the fine-tune does worse on is refused before the Hub sees anything."""
import json
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see lab.jobs.worker_setup.passive_threads

import pytest  # noqa: E402

from lab.artifacts import read_manifest  # noqa: E402
from lab.errors import LabError  # noqa: E402
from lab.jobs.local import LocalContext  # noqa: E402
from lab.train.recipe import TrainRecipe  # noqa: E402
from lab.train.worker import train  # noqa: E402
from tests.eval_support import MC_ROWS, write_jsonl  # noqa: E402

ROWS = [{"instruction": "What is the capital of France?", "input": "", "output": "Paris."},
        {"instruction": "Name a fruit that is yellow.", "input": "", "output": "A banana."},
        {"instruction": "Say hello in French.", "input": "", "output": "Bonjour."},
        {"instruction": "What is 3 plus 4?", "input": "", "output": "7."}]


def _recipe(tmp_path, bundled_model, tasks: str) -> TrainRecipe:
    data = write_jsonl(tmp_path / "train.jsonl", ROWS)
    return TrainRecipe(model=str(bundled_model), dataset=str(data), max_steps=2, batch_size=2, max_seq_length=64,
                       eval_tasks=tasks, save_steps=100)


@pytest.mark.slow
def test_a_train_run_ends_with_base_vs_fine_tune_in_its_card(tmp_path, bundled_model, lab_home):
    quiz = write_jsonl(tmp_path / "quiz.jsonl", MC_ROWS)
    folder = lab_home / "artifacts" / "ft"
    result = train(_recipe(tmp_path, bundled_model, str(quiz)), folder, LocalContext(folder))
    scores = result["eval"]["scores"]
    assert list(scores) == [str(bundled_model), f"{bundled_model}+{folder}"]
    evals = read_manifest(folder)["evaluations"]
    assert evals[0]["task"] == "quiz" and evals[0]["value"] == scores[f"{bundled_model}+{folder}"]["quiz"]["acc"]
    assert evals[0]["base"]["value"] == scores[str(bundled_model)]["quiz"]["acc"]
    assert "model-index:" in (folder / "README.md").read_text()
    out = json.loads((lab_home / "evals" / result["eval"]["out"].split("/")[-1] / "results.json").read_text())
    found = out["contamination"][f"{bundled_model}+{folder}"]["quiz"]
    assert (found["found"], found["items"]) == (1, 4)  # "What is the capital of France?" was a training row


def test_a_bad_eval_task_stops_the_run_before_training(tmp_path, bundled_model, lab_home):
    folder = lab_home / "artifacts" / "ft"
    with pytest.raises(LabError) as err:
        train(_recipe(tmp_path, bundled_model, "arc_eazy"), folder, LocalContext(folder))
    assert err.value.field == "eval_tasks" and "arc_easy" in str(err.value)
    assert not (folder / "checkpoints").exists() and not (folder / "adapter_model.safetensors").exists()


def test_the_gate_refuses_a_push_before_the_hub_sees_it(tmp_path, fake_hub, lab_home):
    from lab.artifacts import finalize
    from lab.hub.jobs import submit_push
    from lab.hub.publisher import publish

    folder = lab_home / "artifacts" / "ft"
    finalize(folder, "adapter", [{"ref": "base/model", "kind": "model"}], step="sft",
             extra={"evaluations": [{"task": "quiz", "metric": "acc", "value": 0.25, "stderr": 0.2,
                                     "base": {"model": "base/model", "value": 0.5}}]})
    (folder / "adapter_config.json").write_text("{}")
    before = len(fake_hub.requests)
    for push in (lambda: submit_push(folder, "ft", fake_hub.token, gate_task="quiz", artifacts_only=True),
                 lambda: publish(folder, "ft", fake_hub.token, gate_task="quiz", log=lambda m: None)):
        with pytest.raises(LabError, match=r"0\.2500 acc on quiz, below its base base/model \(0\.5000\)"):
            push()
    assert len(fake_hub.requests) == before and not fake_hub.exists(f"{fake_hub.user}/ft")
