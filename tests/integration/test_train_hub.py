"""Checkpoints pushed to the (fake) Hub let a run resume after LAB_HOME was wiped; the result is published."""
import json
import os
import shutil

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see lab.jobs.worker_setup.passive_threads

import pytest  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from lab.errors import LabError  # noqa: E402
from lab.jobs.local import LocalContext  # noqa: E402
from lab.train.hub_sync import CheckpointPusher, pull_checkpoint  # noqa: E402
from lab.train.recipe import TrainRecipe  # noqa: E402
from lab.train.worker import train  # noqa: E402
from tests.integration.test_train import short_alpaca  # noqa: E402


class Crash(TrainerCallback):
    """The machine goes away after step 3 (after checkpoint 2 was saved and pushed)."""

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == 3:
            raise RuntimeError("the Space restarted")


def test_resume_from_hub_checkpoint_after_wipe(fake_hub, bundled_model, alpaca_path, lab_home, tmp_path):
    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 8)))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(data), max_steps=4, batch_size=2, max_seq_length=64,
                         lora_r=8, save_steps=2, push_checkpoints_to="tester/smol-ckpts", push_to="tester/smol-sft")
    out = lab_home / "artifacts" / "run"
    with pytest.raises(RuntimeError, match="restarted"):
        train(recipe, out, LocalContext(out), token=fake_hub.token, callbacks=(Crash(),))
    remote = fake_hub.files("tester/smol-ckpts") / "last-checkpoint"
    assert json.loads((remote / "trainer_state.json").read_text())["global_step"] == 2
    assert fake_hub.meta("tester/smol-ckpts")["private"]
    shutil.rmtree(lab_home)  # LAB_HOME wiped: a restarted Space without storage
    out.mkdir(parents=True)
    logs = []
    ctx = LocalContext(out)
    ctx.log = logs.append
    result = train(recipe, out, ctx, token=fake_hub.token)
    assert "Pulled the last checkpoint from tester/smol-ckpts." in logs
    assert "Resumed at step 2 of 4." in logs
    assert result["steps"] == 4
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [3, 4]
    assert "error" not in result["pushed"]
    assert (fake_hub.files("tester/smol-sft") / "adapter_model.safetensors").is_file()
    card = (fake_hub.files("tester/smol-sft") / "README.md").read_text()
    assert "base_model:" in card and "checkpoints" not in os.listdir(fake_hub.files("tester/smol-sft"))
    assert fake_hub.token not in (out / "recipe.yaml").read_text() + json.dumps(result)


def _remote_checkpoint(hub, repo: str, step: int) -> None:
    hub.seed(repo, private=True, files={"last-checkpoint/trainer_state.json": json.dumps({"global_step": step}).encode(),
                                        "last-checkpoint/adapter_model.safetensors": b"weights at %d" % step})


def _remote_step(hub, repo: str) -> int:
    return json.loads((hub.files(repo) / "last-checkpoint" / "trainer_state.json").read_text())["global_step"]


def test_pulling_a_checkpoint_tells_none_from_a_failure(fake_hub, tmp_path):
    token = fake_hub.token
    assert pull_checkpoint("tester/never-made", tmp_path / "a", token) is None  # a first run: nothing to resume
    fake_hub.seed("tester/no-ckpt", private=True, files={"README.md": b"hello"})
    assert pull_checkpoint("tester/no-ckpt", tmp_path / "b", token) is None
    _remote_checkpoint(fake_hub, "tester/ckpt", 6)
    for point in ("tree", "resolve"):  # the listing fails, then the download does
        fake_hub.fail(point, times=20)
        with pytest.raises(LabError) as err:
            pull_checkpoint("tester/ckpt", tmp_path / "c", token)
        assert err.value.field == "push_checkpoints_to" and "tester/ckpt" in str(err.value)
        assert "from step 0" in err.value.fix
        assert not list((tmp_path / "c").glob("checkpoint-*"))
        fake_hub.failures.clear()
    assert pull_checkpoint("tester/ckpt", tmp_path / "c", token) == tmp_path / "c" / "checkpoint-6"
    assert _remote_step(fake_hub, "tester/ckpt") == 6


def test_a_push_never_replaces_a_later_checkpoint_on_the_hub(fake_hub, tmp_path):
    _remote_checkpoint(fake_hub, "tester/ckpt", 6)
    logs = []
    pusher = CheckpointPusher("tester/ckpt", fake_hub.token, log=logs.append)
    for step in (2, 8):
        local = tmp_path / f"checkpoint-{step}"
        local.mkdir()
        (local / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        pusher.push(local, step)
        pusher.wait()
        if step == 2:  # a run that restarted from scratch must not replace the later checkpoint it could not pull
            assert _remote_step(fake_hub, "tester/ckpt") == 6 and pusher.pushed == []
            assert any("step 6" in line and "kept" in line for line in logs), logs
    assert _remote_step(fake_hub, "tester/ckpt") == 8 and pusher.pushed == [8]
