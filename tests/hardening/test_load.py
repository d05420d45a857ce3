"""Load: 8 chat sessions at once while a training job runs all complete, each stream in order; past the queue's
maximum size a client is told "queue full" at once instead of hanging. Latencies (p50/p95) are measured in
bench/ (bench/suites/chat.py, pair chat_load_8_training), never asserted here."""
from __future__ import annotations

import threading
import time

import pytest
from gradio_client import Client
from gradio_client.utils import QueueError

from lab import jobs
from lab.jobs.context import read_metrics
from lab.jobs import manager
from lab.jobs.manager import wait
from lab.settings import DEFAULT_MODEL
from lab.train import submit
from lab.train.recipe import TrainRecipe
from tests.hardening.conftest import running_app, wait_for

SESSIONS = 8


def _text(pane: list) -> str:
    msgs = [m for m in pane if m["role"] == "assistant"]
    return "".join(p.get("text", "") for p in msgs[-1]["content"]) if msgs else ""


def _chat(url: str, i: int, out: dict) -> None:
    """One session: submit, then keep every streamed frame's reply text."""
    try:
        job = Client(url, verbose=False).submit(f"Name a fruit, number {i}.", DEFAULT_MODEL, None, None, None, "", 0,
                                                0.9, 8, 1.1, None, False, api_name="/chat")
        out["texts"] = [_text(frame[0]) for frame in job]
        out["final"] = job.outputs()[-1]
        out["success"] = job.status().success
    except Exception as exc:  # noqa: BLE001 - reported by the assertions
        out["error"] = f"{type(exc).__name__}: {exc}"


def test_eight_chats_complete_in_order_while_a_training_job_runs(bundled_model, mini_data, lab_home):
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(mini_data), max_steps=500, batch_size=2,
                         max_seq_length=64, lora_r=4, save_steps=10_000)
    training = submit(recipe)
    try:
        wait_for(lambda: read_metrics(training.metrics_path), 600, "training never took a step", poll=0.5)
        with running_app() as (demo, url):
            results = [{} for _ in range(SESSIONS)]
            threads = [threading.Thread(target=_chat, args=(url, i, results[i])) for i in range(SESSIONS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(600)
            assert jobs.get_job(training.id).state == "running"  # it trained all along
    finally:
        running = jobs.get_job(training.id)
        jobs.cancel(training.id)
        wait(training.id, 300)
        wait_for(lambda: not manager.alive(running), 60, "the training worker is still alive")
        time.sleep(0.5)  # the manager's cancel thread records the end once the worker is gone
    for r in results:
        assert "error" not in r and r["success"], r
        texts = [t for t in r["texts"] if t]
        assert texts and texts[-1] == _text(r["final"][0]) and "tok/s" in r["final"][4]
        assert all(b.startswith(a) for a, b in zip(texts, texts[1:])), texts  # tokens arrive in order


def test_past_the_queue_size_a_client_hears_queue_full(lab_home, monkeypatch):
    """Every chat worker (CHAT_CONCURRENCY) is busy and the queue (max_size) is full: the next call is refused."""
    from lab.ui import chat_tab

    gate, busy = threading.Event(), []

    def held_turn(histories, *args, **kwargs):  # a reply that holds its worker until the test lets go
        busy.append(1)
        gate.wait(120)
        yield (histories, [], [], [], [], "", "", "", "", "")

    monkeypatch.setattr(chat_tab, "run_turn", held_turn)
    with running_app(max_size=2) as (demo, url):
        client = Client(url, verbose=False)
        args = ("Hi", DEFAULT_MODEL, None, None, None, "", 0, 0.9, 8, 1.1, None, False)
        held = []
        for i in range(chat_tab.CHAT_CONCURRENCY + 2):  # one at a time, so none races past the queue's check
            held.append(client.submit(*args, api_name="/chat"))
            wait_for(lambda n=i + 1: len(busy) + len(demo._queue) == n, 60, f"call {i + 1} was not taken")
        assert len(busy) == chat_tab.CHAT_CONCURRENCY and len(demo._queue) == 2
        with pytest.raises(QueueError, match="Queue is full"):
            client.submit(*args, api_name="/chat").result(timeout=30)
        gate.set()
        for job in held:
            job.result(timeout=60)
        assert all(job.status().success for job in held)
