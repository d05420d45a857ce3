"""Lab side: N concurrent gradio_client sessions chat with `python app.py` at once.

Starts app.py (free PORT, fresh LAB_HOME, offline), sends one untimed chat so the model is loaded, then N
clients (each its own session) submit /chat at the same moment with two panes: the bundled model twice, so
2N replies share one base and take turns on it token by token.
BENCH_RESULT: sessions, completed, failed, p50_s / p95_s / max_s (submit to final frame per session),
first_text_p50_s (submit to the first frame with text), warmup_s (first chat, model load included).
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="chat-load-", dir=os.environ.get("BENCH_TMP")))
    with open(scratch / "app.log", "wb") as log:
        proc, url = start_app(scratch, log)
        try:
            if url is None:
                print((scratch / "app.log").read_text(errors="replace")[-3000:], file=sys.stderr)
                return 1
            warm: dict = {}
            chat(url, "Hello!", 4, warm)
            results = [{} for _ in range(args.sessions)]
            threads = [threading.Thread(target=chat, args=(url, f"Tell me one fact about the number {i}.",
                                                           args.max_new_tokens, results[i]))
                       for i in range(args.sessions)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            stop(proc)
    out = summary(results, warm)
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
