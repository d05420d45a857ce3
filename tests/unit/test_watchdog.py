"""The watchdog on a real process that eats memory, and cancel's grace period from the run's own timings."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from lab.jobs import manager, watchdog
from lab.jobs.context import note_run

HOG = """
import signal, sys, time
from pathlib import Path
folder = Path(sys.argv[1])
def on_term(signum, frame):
    note = (folder / ".memory-stop.json")
    (folder / "saw.txt").write_text(note.read_text() if note.exists() else "no note")
    sys.exit(3)
signal.signal(signal.SIGTERM, on_term)
blocks = []
for _ in range(400):
    blocks.append(bytearray(20 * 2**20))  # 20 MB more every 20 ms, touched
    time.sleep(0.02)
"""


def test_a_process_over_the_limit_is_stopped_with_a_note_it_can_read(tmp_path):
    note_run(tmp_path, step=7)
    (tmp_path / "preflight.json").write_text(json.dumps({"memory": {"total_gb": 0.2}}))
    proc = subprocess.Popen([sys.executable, "-c", HOG, str(tmp_path)], start_new_session=True)
    stopped = []
    dog = watchdog.Watchdog(proc.pid, tmp_path, limit=300 * 2**20, grace_s=5, interval_s=0.05,
                            on_stop=stopped.append)
    dog.start()
    assert proc.wait(timeout=60) == 3  # it got SIGTERM, read the note and ended itself
    dog.join(timeout=10)
    assert stopped and stopped[0] == dog.message
    assert dog.message.startswith("stopped at 0.3 GB at step 7 (estimate 0.2 GB, limit 0.3 GB)")
    assert "stopped at" in json.loads((tmp_path / "saw.txt").read_text())["message"]
    assert not (tmp_path / ".memory-stop.json").exists()  # nothing left behind


def test_a_process_under_the_limit_is_left_alone(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"], start_new_session=True)
    dog = watchdog.Watchdog(proc.pid, tmp_path, limit=2 * 2**30, interval_s=0.05)
    dog.start()
    proc.wait(timeout=30)
    dog.close()
    dog.join(timeout=5)
    assert dog.message is None and 0 < dog.peak < 2**30


def test_cancel_grace_comes_from_the_runs_step_and_save_times(tmp_path, lab_home):
    assert manager.grace_s(tmp_path) == 10  # nothing measured yet: the floor (LAB_JOB_GRACE_S)
    with open(tmp_path / "metrics.jsonl", "w") as f:
        for step in range(1, 6):
            f.write(json.dumps({"step": step, "loss": 1.0, "step_time": 30.0 + step}) + "\n")
    note_run(tmp_path, save_s=20.0)
    assert manager.grace_s(tmp_path) == 1.5 * (33.0 + 20.0) + 5  # a 7B step plus its checkpoint save


def test_tree_rss_is_quick():
    start = time.time()
    assert watchdog.tree_rss(__import__("os").getpid()) > 10 * 2**20 and time.time() - start < 2


class _Entry:
    def __init__(self, label: str, users: int = 0):
        self.key, self.label, self.users, self.bytes, self.last_used = label, label, users, 2 * 2**30, 0.0


def test_a_gpu_job_takes_the_gpu_from_idle_chat_models(lab_home, monkeypatch):
    import os

    from lab.chat import gpu_share
    from lab.chat.registry import Registry
    from lab.errors import LabError
    from lab.hardware import Gpu, Hardware, set_hardware
    from lab.jobs import store

    set_hardware(Hardware(gpus=(Gpu("NVIDIA A10G", 22.0, (8, 6)),), bnb_ok=True, ram_gb=15))
    reg = Registry(budget_bytes=20 * 2**30)
    reg._entries = {e.key: e for e in (_Entry("SmolLM2-135M"), _Entry("merged-1", users=1))}
    assert gpu_share.yield_to_jobs(reg) is None and len(reg._entries) == 2  # no job: nothing moves
    job = store.create("train.sft", "lab.train.worker:run", 1, "{}", "SFT lora · SmolLM2")
    with store.connect(immediate=True) as con:
        store.set_state(con, job.id, "running", pid=os.getpid())
    notice = gpu_share.yield_to_jobs(reg)
    assert list(reg._entries) == ["merged-1"]  # the idle model is unloaded, the one generating stays
    assert "Unloaded SmolLM2-135M from the GPU" in notice and job.id in notice and reg.notice == notice
    monkeypatch.setattr("lab.hardware.vram_free_bytes", lambda index=0: (3 * 10**9, 24 * 10**9))
    try:
        gpu_share.check_fits(5 * 10**9, "Llama-3B")
        raise AssertionError("a model bigger than the free VRAM was let in")
    except LabError as err:
        assert "needs about 5.0 GB" in err.what and "3.0 GB of 24 GB is free" in err.what and job.id in err.what
    gpu_share.check_fits(2 * 10**9, "SmolLM2")  # fits beside the job
    set_hardware(None)
