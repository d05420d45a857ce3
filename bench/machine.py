"""What machine the numbers came from: CPU, cores, RAM, torch threads, GPU, library versions."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata

import psutil

PACKAGES = ("torch", "transformers", "trl", "peft", "mergekit", "gradio", "huggingface_hub", "datasets",
            "accelerate", "bitsandbytes", "datasketch", "sentence-transformers")

# torch is probed in a child process so the harness itself stays light (its RSS is not measured anyway).
_TORCH_PROBE = """
import json, torch
gpus = []
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        gpus.append({"name": p.name, "memory_gb": round(p.total_memory / 2**30, 1),
                     "capability": f"{p.major}.{p.minor}"})
print(json.dumps({"threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(), "gpus": gpus,
                  "cuda_version": torch.version.cuda}))
"""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str | None]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def torch_facts() -> dict:
    try:
        proc = subprocess.run([sys.executable, "-c", _TORCH_PROBE], capture_output=True, text=True, timeout=120)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return {"threads": None, "cuda": False, "gpus": [], "cuda_version": None}


def machine() -> dict:
    torch = torch_facts()
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "torch_threads": torch["threads"],
        "cuda": torch["cuda"],
        "cuda_version": torch["cuda_version"],
        "gpus": torch["gpus"],
        "os": platform.platform(terse=True),
        "load_avg": [round(x, 2) for x in os.getloadavg()],  # other work on the box inflates timings
        "python": platform.python_version(),
        "versions": versions(),
    }


def machine_line(m: dict) -> str:
    gpu = ", ".join(f"{g['name']} ({g['memory_gb']} GB)" for g in m["gpus"]) or "no GPU"
    return (f"{m['cpu']}, {m['cores_logical']} logical cores ({m['cores_physical']} physical), {m['ram_gb']} GiB RAM, "
            f"torch threads {m['torch_threads']}, {gpu}, {m['os']}")


def versions_line(m: dict) -> str:
    parts = [f"python {m['python']}"] + [f"{k} {v}" for k, v in m["versions"].items() if v]
    return ", ".join(parts)


def machine_id(m: dict) -> str:
    """Short identity used to flag suites measured on another machine."""
    return f"{m['cpu']} x{m['cores_logical']} " + ("+".join(g["name"] for g in m["gpus"]) or "cpu")
