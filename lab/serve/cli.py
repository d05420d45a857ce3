"""`python -m lab serve [--model REF ...] [--host 127.0.0.1] [--port 8000] [--api-key KEY]`: an OpenAI-compatible
server over the lab's models. Prints one JSON line {"url", "models"} when it is ready (never the key), then serves
until stopped (Ctrl-C)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import httpx

from lab import outbound
from lab.access import local
from lab.errors import LabError
from lab.models import resolve
from lab.serve import vllm
from lab.serve.models import default_refs, plan
from lab.serve.server import Server, check_start

KEY_ENV = "LAB_SERVE_API_KEY"


def add_parsers(sub) -> None:
    p = sub.add_parser("serve", help="Serve models over an OpenAI-compatible API (/v1/chat/completions, "
                                     "/v1/completions, /v1/models).")
    p.add_argument("--model", action="append", default=[], metavar="REF",
                   help="A model to serve (repeat for more): a Hub id, an artifact, a folder, an adapter or "
                        "BASE+ADAPTER; each under its own name. Adapters of one base share it in memory. "
                        "Default: the bundled model and your model, merge and adapter artifacts.")
    p.add_argument("--host", default="127.0.0.1", help="Address to listen on; anything but localhost needs a key.")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", default=None,
                   help=f"Clients must send 'Authorization: Bearer KEY' (or set {KEY_ENV}). Needed off localhost.")
    p.add_argument("--engine", choices=["auto", "lab", "vllm"], default="auto",
                   help="auto: vLLM's server when vLLM is installed on a CUDA GPU and every model is one base or "
                        "its adapters, else the lab's.")
    p.set_defaults(func=_serve)


def _serve(args) -> int:
    key = args.api_key or os.environ.get(KEY_ENV) or None
    check_start(args.host, key)
    caller = local()
    models = plan(caller, args.model or default_refs(caller))
    if args.engine == "vllm" or (args.engine == "auto" and vllm.usable(models)):
        if len({m.base for m in models}) != 1:
            raise LabError("vLLM serves one base model per server.", "Serve one base and its adapters, or use "
                           "--engine lab.", "model")
        return _serve_vllm(models, args.host, args.port, key)
    server = Server(models, args.host, args.port, key).start()
    print(json.dumps(server.ready_line()), flush=True)
    _wait_for_signal()
    server.stop()
    return 0


def _wait_for_signal() -> None:
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(1.0):
        pass


def _serve_vllm(models, host: str, port: int, key: str | None) -> int:
    folder = resolve(models[0].base, log=lambda m: None)
    proc = subprocess.Popen(vllm.command(models, folder, host, port), env=vllm.environment(key))
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/v1"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    while proc.poll() is None:  # ready once /v1/models answers
        try:
            if outbound.request("GET", url + "/models", local(), "engine", headers=headers,
                                timeout_s=2).status_code == 200:
                break
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(1.0)
    if proc.poll() is not None:
        raise LabError(f"vLLM's server stopped (exit code {proc.returncode}).", "Read its log above, or use "
                       "--engine lab.", "engine")
    names = [vllm.base_name(models)] + [m.name for m in models if m.adapter is not None]
    print(json.dumps({"url": url, "models": list(dict.fromkeys(names)), "engine": "vllm"}), flush=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
