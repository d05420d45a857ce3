"""Lab side: `python app.py` until the first HTTP 200 on http://127.0.0.1:PORT/, then stop it.

Runs app.py (or the app script given as the argument: the baseline passes a bare Gradio app) from the
repository root with a free PORT and a fresh LAB_HOME (under $BENCH_TMP), offline and not signed in.
BENCH_RESULT: first_200_s (from just before the process starts to the first 200).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except OSError:
        pass


def main(app: str) -> int:
    scratch = Path(tempfile.mkdtemp(prefix="app-", dir=os.environ.get("BENCH_TMP")))
    port = free_port()
    env = {**os.environ, "PORT": str(port), "LAB_HOME": str(scratch / "home"), "HF_HUB_OFFLINE": "1"}
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "SPACE_ID", "SYSTEM", "LAB_DEMO"):
        env.pop(var, None)  # a plain local start, not signed in
    url = f"http://127.0.0.1:{port}/"
    log_path = scratch / "app.log"
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, app], cwd=ROOT, env=env, stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            while not answers(url):
                if proc.poll() is not None or time.perf_counter() - start > TIMEOUT_S:
                    why = f"exited with {proc.returncode}" if proc.returncode is not None else "no answer"
                    print(f"{app} {why} before serving {url}:\n{log_path.read_text(errors='replace')[-3000:]}",
                          file=sys.stderr)
                    return 1
                time.sleep(0.05)
            first_200 = time.perf_counter() - start
        finally:
            stop(proc)
    print("BENCH_RESULT " + json.dumps({"first_200_s": round(first_200, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "app.py"))
