"""Launch the real app in-process on a free port, for gradio_client and browser tests."""
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(max_size: int = 64, concurrency: int = 4):
    """Build and launch the app the way `python app.py` does, with its queue sized as asked; returns (blocks, url).

    Gradio's launch gives up when its own first request to the new server takes over 3 s ("localhost is not
    accessible"), which a busy machine can make it do: that launch is tried again, twice at most."""
    from lab.ui.app import build_app, launch_kwargs, startup

    startup()
    for attempt in range(3):
        demo = build_app().queue(default_concurrency_limit=concurrency, max_size=max_size)
        kwargs = {**launch_kwargs(), "server_name": "127.0.0.1", "server_port": free_port(),
                  "prevent_thread_lock": True, "quiet": True}
        try:
            demo.launch(**kwargs)
        except ValueError as exc:
            demo.close()
            if "localhost is not accessible" not in str(exc) or attempt == 2:
                raise
            continue
        return demo, demo.local_url.rstrip("/") + "/"


@pytest.fixture
def app_url(lab_home):
    demo, url = launch_app()
    yield url
    demo.close()


@contextlib.contextmanager
def serve_app_process(extra_env: dict, timeout: float = 120.0, python: str = sys.executable):
    """`python app.py` in a subprocess with extra environment; yields its URL once it answers 200.
    Its output goes to app-PORT.log beside LAB_HOME."""
    port = free_port()
    env = {**os.environ, **extra_env, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    log = open(Path(env["LAB_HOME"]).parent / f"app-{port}.log", "w")
    proc = subprocess.Popen([python, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"app exited early: {Path(log.name).read_text()[-2000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise AssertionError("app did not answer in time")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
