"""Lab side: N concurrent gradio_client sessions chat with `python app.py` at once.

Starts app.py (free PORT, fresh LAB_HOME, offline), sends one untimed chat so the model is loaded, then N
clients (each its own session) submit /chat at the same moment with two panes: the bundled model twice, so
2N replies share one base and take turns on it token by token.
BENCH_RESULT: sessions, completed, failed, p50_s / p95_s / max_s (submit to final frame per session),
first_text_p50_s (submit to the first frame with text), warmup_s (first chat, model load included).

With --train-data FILE (and --train-model FOLDER), a LoRA training job is submitted into the app's LAB_HOME
the way the Train tab does, and the chats start once it has taken a step (issue 10: chat while training).
The job is cancelled after the chats; train_steps_during counts its optimizer steps while they ran.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_start import ROOT, answers, free_port, stop  # noqa: E402

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def chat(url: str, prompt: str, max_new: int, out: dict) -> None:
    from gradio_client import Client

    start = time.perf_counter()
    try:
        job = Client(url, verbose=False).submit(prompt, MODEL, MODEL, None, None, "", 0, 0.9, max_new, 1.1, None,
                                                False, api_name="/chat")
        for frame in job:
            if "first" not in out and any(len(p) > 1 and p[-1]["content"] for p in frame[:2]):
                out["first"] = time.perf_counter() - start
        final = job.outputs()[-1]
        replies = [p[-1]["content"][0]["text"] for p in final[:2] if p]
        out["ok"] = len(replies) == 2 and all(replies) and "error" not in "".join(final[4:6])
    except Exception as exc:  # a failed session is counted, not fatal
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["latency"] = time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def start_app(scratch: Path, log) -> tuple[subprocess.Popen, str | None]:
    """`python app.py` on a free port with a fresh LAB_HOME, offline; (process, url or None if it died)."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "LAB_HOME": str(scratch / "home"), "HF_HUB_OFFLINE": "1"}
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "SPACE_ID", "SYSTEM", "LAB_DEMO"):
        env.pop(var, None)  # a plain local start, not signed in
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    while not answers(url):
        if proc.poll() is not None:
            return proc, None
        time.sleep(0.1)
    return proc, url


def start_training(home: Path, model: str, data: str):
    """A LoRA SFT job (lab.train.submit: preflight, record, worker) in the app's LAB_HOME; returns once it trains."""
    os.environ["LAB_HOME"] = str(home)
    from lab.jobs.context import read_metrics
    from lab.train import submit
    from lab.train.recipe import TrainRecipe

    recipe = TrainRecipe(model=model, dataset=data, max_steps=10_000, batch_size=2, max_seq_length=128, lora_r=8,
                         save_steps=100_000)
    job = submit(recipe, title="bench: training under chat load")
    deadline = time.time() + 600
    while not read_metrics(job.metrics_path):
        if time.time() > deadline:
            raise RuntimeError(f"training job {job.id} took no step in 600 s")
        time.sleep(0.5)
    return job


def trained_steps(job) -> int:
    from lab.jobs.context import read_metrics

    return max((r.get("step", 0) for r in read_metrics(job.metrics_path)), default=0)


def stop_training(job) -> None:
    from lab import jobs
    from lab.jobs.manager import wait

    jobs.cancel(job.id)
    wait(job.id, timeout=300, poll=0.5)


def chat_at_once(url: str, sessions: int, max_new: int) -> list[dict]:
    results = [{} for _ in range(sessions)]
    threads = [threading.Thread(target=chat, args=(url, f"Tell me one fact about the number {i}.", max_new,
                                                   results[i])) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--train-data", default="", help="Chat while a LoRA training job on this data file runs.")
    ap.add_argument("--train-model", default=MODEL, help="The training job's base model (a folder or Hub id).")
    args = ap.parse_args()
    training, extra = None, {}
    scratch = Path(tempfile.mkdtemp(prefix="chat-load-", dir=os.environ.get("BENCH_TMP")))
    with open(scratch / "app.log", "wb") as log:
        proc, url = start_app(scratch, log)
        try:
            if url is None:
                print((scratch / "app.log").read_text(errors="replace")[-3000:], file=sys.stderr)
                return 1
            warm: dict = {}
            chat(url, "Hello!", 4, warm)
            if args.train_data:
                training = start_training(scratch / "home", args.train_model, args.train_data)
                before = trained_steps(training)
            results = chat_at_once(url, args.sessions, args.max_new_tokens)
            if training is not None:
                extra["train_steps_during"] = trained_steps(training) - before
        finally:
            if training is not None:
                stop_training(training)
            stop(proc)
    out = {**summary(results, warm), **extra}
    print("BENCH_RESULT " + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))
    return 0 if out["failed"] == 0 else 1


def summary(results: list[dict], warm: dict) -> dict:
    lat = [r["latency"] for r in results if r.get("ok")]
    firsts = [r["first"] for r in results if r.get("first")]
    for r in results:
        if r.get("error"):
            print(r["error"], file=sys.stderr)
    out = {"sessions": len(results), "completed": len(lat), "failed": len(results) - len(lat),
           "warmup_s": warm.get("latency", 0)}
    if lat:
        out.update(p50_s=statistics.median(lat), p95_s=percentile(lat, 0.95), max_s=max(lat))
    if firsts:
        out["first_text_p50_s"] = statistics.median(firsts)
    return out


if __name__ == "__main__":
    sys.exit(main())
