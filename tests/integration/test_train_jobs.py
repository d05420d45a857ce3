"""Training as the lab runs it for real: a job killed with SIGKILL and resumed, and DDP over gloo on CPU (a
2-process job cancelled and resumed from the Train tab: tests/browser/test_2_train_ddp.py)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab import jobs
from lab.jobs import manager
from lab.jobs.manager import wait
from lab.train import submit
from lab.train.recipe import TrainRecipe
from tests.integration.test_train import short_alpaca

ROOT = Path(__file__).resolve().parents[2]


def _metrics(folder: Path) -> list[dict]:
    path = folder / "metrics.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


def _wait_for(cond, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.3)
    raise TimeoutError(what)


def _last_complete(folder: Path) -> int:
    return max(int(p.name.split("-")[1]) for p in (folder / "checkpoints").glob("checkpoint-*")
               if (p / "trainer_state.json").is_file())


def test_cancel_resume_kill_resume(alpaca_path, tmp_path):
    """Cancel saves a checkpoint; resume continues; SIGKILL mid-run, resume continues from the last checkpoint."""
    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 8)))
    recipe = TrainRecipe(dataset=str(data), max_steps=8, batch_size=2, max_seq_length=64, lora_r=8, save_steps=3)
    job = submit(recipe)
    folder = job.folder
    second = submit(recipe.model_copy(update={"max_steps": 1}))
    assert second.state == "queued"  # one heavy job at a time: the second training waits
    jobs.cancel(second.id)
    steps = lambda: [m["step"] for m in _metrics(folder)]  # noqa: E731
    _wait_for(lambda: len(steps()) >= 2, 900, "no step 2")
    running = jobs.get_job(job.id)
    jobs.cancel(job.id)  # cooperative: the running step finishes, a checkpoint is saved, then it stops
    assert wait(job.id, timeout=300).state == "cancelled"
    # The manager's cancel thread marks the job cancelled once the old worker is gone; resuming before that
    # would let it mark the *resumed* run cancelled (a race reported to the jobs owner), so wait it out.
    _wait_for(lambda: not manager.alive(running), 120, "the cancelled worker is still alive")
    time.sleep(1.0)
    cancelled_at = steps()[-1]
    assert _last_complete(folder) == cancelled_at
    assert f"Cancelled at step {cancelled_at}; checkpoint saved." in jobs.get_job(job.id).log_path.read_text()

    jobs.resume(job.id)
    _wait_for(lambda: _last_complete(folder) == 6 and steps()[-1] >= 7, 900, "no checkpoint 6 and step 7")
    os.killpg(jobs.get_job(job.id).pid, signal.SIGKILL)  # no goodbye: a crash, or the machine pulled away
    _wait_for(lambda: jobs.recover() or jobs.get_job(job.id).state == "interrupted", 60, "not interrupted")
    before = steps()
    jobs.resume(job.id)
    done = wait(job.id, timeout=900)
    assert done.state == "succeeded", done.error
    assert steps() == list(range(1, 9)) and steps()[:len(before)] == before  # no duplicate metric steps
    log = done.log_path.read_text()
    assert f"Resumed at step {cancelled_at} of 8." in log and "Resumed at step 6 of 8." in log
    assert json.loads((folder / "result.json").read_text())["steps"] == 8
    assert (folder / "adapter_model.safetensors").is_file()


def test_ddp_on_cpu_over_gloo(alpaca_path, tmp_path, lab_home):
    """`python -m lab train RECIPE --num-processes 2 --distributed ddp`: the command launches two real ranks over
    gloo (accelerate launch, generated config); identical LoRA weights; the loss matches one process at the same
    effective batch (2 ranks × 1 row = 1 process × 2 rows)."""
    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 8)))
    recipe = TrainRecipe(dataset=str(data), max_steps=4, batch_size=1, max_seq_length=128, lora_r=8, use_cpu=True)
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe.to_yaml())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run = lambda *flags: subprocess.run([sys.executable, "-m", "lab", "train", str(path), *flags], cwd=ROOT,  # noqa
                                        env=env, capture_output=True, text=True, timeout=900)
    out = tmp_path / "ddp-out"
    proc = run("--num-processes", "2", "--distributed", "ddp", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((out / ".ranks" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["world_size"] == 2 and r["steps"] == 4 for r in ranks)
    assert ranks[0]["lora_checksum"] == ranks[1]["lora_checksum"]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])  # the same JSON as a one-process run, once
    assert proc.stdout.count('"steps"') == 1 and result["steps"] == 4 and result["artifact"] == str(out)
    assert [m["step"] for m in _metrics(out)] == [1, 2, 3, 4]  # rank 0 alone writes the metrics
    assert "MULTI_GPU" in (out / ".launch" / "accelerate.yaml").read_text()
    single = run("--batch-size", "2", "--out", str(tmp_path / "one-out"))
    assert single.returncode == 0, single.stderr[-3000:]
    one = json.loads(single.stdout[single.stdout.index("{"):])
    assert one["steps"] == 4 and abs(result["last_loss"] - one["last_loss"]) <= 0.02 * one["last_loss"]
