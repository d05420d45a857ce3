"""The memory watchdog on a real run: LAB_MEMORY_LIMIT_GB below an SFT run's real peak. The lab stops the job
before the kernel would, the job fails with the peak and the step in its message, and the app keeps serving."""
from __future__ import annotations

import json
import time

import httpx
from gradio_client import Client

from lab import settings
from lab.train.recipe import TrainRecipe

LIMIT_GB = 2.5  # the bundled model's run takes ~1.2 GB before its first step and ~6 GB at this batch


def _long_rows(n: int) -> list[dict]:
    words = "the lab measures memory before it trains and stops a run that grows past its limit".split()
    return [{"instruction": f"Write paragraph {i} about memory.", "input": "",
             "output": " ".join(words[(i + k) % len(words)] for k in range(400))} for i in range(n)]


def test_a_run_over_the_limit_is_stopped_by_the_lab_with_its_numbers(app_url, bundled_model, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_MEMORY_LIMIT_GB", str(LIMIT_GB))  # the app's watchdog reads it when the job starts
    settings.reset_caches()
    data = tmp_path / "long.json"
    data.write_text(json.dumps(_long_rows(16)))
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(data), batch_size=8, max_seq_length=256, max_steps=3,
                         run_anyway=True)  # the estimate says it won't fit: an expert runs it anyway
    client = Client(app_url, verbose=False)
    started = client.predict(recipe.to_yaml(), api_name="/train_start")
    deadline = time.time() + 600
    while True:
        status = client.predict(started["job_id"], api_name="/train_status")
        if status["final"] or time.time() > deadline:
            break
        time.sleep(1.0)
    assert status["state"] == "failed", status
    error = status["error"]
    assert error.startswith("memory: stopped at ") and " at step 1 " in error, error
    peak = float(error.split("stopped at ")[1].split(" GB")[0])
    assert peak >= LIMIT_GB and f"limit {LIMIT_GB:.1f} GB" in error and "estimate " in error
    assert "lower the batch size or the sequence length" in error
    log = status["log"]
    assert "=== job" in log and "Traceback" not in log  # the worker ended itself on the lab's signal, cleanly
    assert httpx.get(app_url, timeout=10).status_code == 200  # the app is still serving
    again = client.predict(started["job_id"], api_name="/train_status")
    assert again["state"] == "failed"
