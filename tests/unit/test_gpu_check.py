"""The GPU check's CPU side: the wheels it carries cover what the GPU machine lacks, within the carry budget,
and the script itself runs (smoke mode: a tiny model on CPU)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GPU = ROOT / "bench" / "gpu"
BUDGET = 60_000_000  # bytes of wheels one device call may carry beside the working tree
ROOTS = ["trl", "bitsandbytes", "datasets", "pydantic", "peft"]  # what the training path imports


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheels() -> dict[str, tuple[str, int]]:
    out = {}
    for line in (GPU / "wheels.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            spec, size = line.split()
            name, version = spec.split("==")
            out[_norm(name)] = (version, int(size))
    return out


def _machine() -> set[str]:
    text = " ".join(x for x in (GPU / "machine_packages.txt").read_text().splitlines() if not x.startswith("#"))
    return {_norm(x) for x in text.split()}


def _needs(dist: str, seen: set[str], machine: set[str]) -> None:
    """The distribution and what it requires (no extras; markers for the machine's Python 3.12 on Linux), as
    installed here. What the machine has is not followed: its own versions bring their own requirements."""
    from packaging.requirements import Requirement

    name = _norm(dist)
    if name in seen:
        return
    seen.add(name)
    if name in machine:
        return
    try:
        reqs = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return
    env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython", "extra": ""}
    for text in reqs:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(env):
            _needs(req.name, seen, machine)


def test_wheels_cover_what_the_gpu_machine_lacks():
    needed: set[str] = set()
    for root in ROOTS:
        _needs(root, needed, _machine() - set(_wheels()))
    missing = sorted(needed - _machine() - set(_wheels()))
    assert not missing, f"add these to bench/gpu/wheels.txt: {missing}"


def test_wheels_fit_the_carry_budget_and_match_what_is_tested_here():
    wheels = _wheels()
    assert sum(size for _, size in wheels.values()) <= BUDGET
    for name in ("trl", "bitsandbytes", "datasets", "pydantic", "peft"):
        assert wheels[name][0] == metadata.version(name), f"{name}: the GPU check must run the version CI tests"
    assert "/.whl/" in (GPU / "prepare.sh").read_text()  # carried, never committed


def test_the_check_runs_in_smoke_mode(bundled_model, tmp_path):
    """Build a tiny Llama with the bundled tokenizer and chat with it through the lab's chat core."""
    assets = tmp_path / "assets"
    (assets / "tokenizer").mkdir(parents=True)
    for f in bundled_model.iterdir():
        if f.is_file() and f.suffix != ".safetensors" and f.name != "config.json":
            shutil.copy(f, assets / "tokenizer" / f.name)
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(GPU / "check.py"), "--assets", str(assets), "--out", str(report),
                           "--work", str(tmp_path / "work"), "--smoke", "--only", "chat_4bit"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(report.read_text())
    chat = data["items"]["chat_4bit"]
    assert not chat.get("error"), chat
    assert chat["stats"]["tokens"] > 0 and data["environment"]["trl"] == metadata.version("trl")
