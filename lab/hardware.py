"""Hardware probe: run once at start; decides precision and whether 4-bit can run.

Tests fake the hardware by passing a `Hardware` value, or by monkeypatching `probe`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import psutil

from lab.settings import get_settings

Precision = Literal["bf16", "fp16", "fp32"]


@dataclass(frozen=True)
class Gpu:
    name: str
    vram_gb: float
    capability: tuple[int, int]

    @property
    def bf16(self) -> bool:
        return self.capability >= (8, 0)  # Ampere and newer


@dataclass(frozen=True)
class Hardware:
    gpus: tuple[Gpu, ...] = ()
    bnb_ok: bool = False
    bnb_error: str = ""
    ram_gb: float = 0.0
    disk_free_gb: float = 0.0
    cpu_count: int = 1
    torch_version: str = ""
    extras: dict = field(default_factory=dict)

    @property
    def cuda(self) -> bool:
        return bool(self.gpus)

    @property
    def precision(self) -> Precision:
        """bf16 where every GPU supports it, fp16 on older GPUs, fp32 on CPU."""
        if not self.gpus:
            return "fp32"
        return "bf16" if all(g.bf16 for g in self.gpus) else "fp16"

    @property
    def memory_gb(self) -> float:
        """The memory that bounds a model: VRAM of the first GPU, else RAM."""
        return self.gpus[0].vram_gb if self.gpus else self.ram_gb

    def summary(self) -> str:
        if self.gpus:
            g = self.gpus[0]
            dev = f"{len(self.gpus)}× {g.name} ({g.vram_gb:.0f} GB, {self.precision})"
        else:
            dev = f"CPU only ({self.cpu_count} cores, fp32)"
        bnb = "4-bit ready" if self.bnb_ok else "no 4-bit"
        return f"{dev} · {bnb} · RAM {self.ram_gb:.0f} GB · disk free {self.disk_free_gb:.0f} GB"

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(cuda=self.cuda, precision=self.precision, summary=self.summary())
        return out


def _gpus() -> tuple[Gpu, ...]:
    import torch  # heavy: torch

    if not torch.cuda.is_available():
        return ()
    out = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        out.append(Gpu(p.name, p.total_memory / 2**30, (p.major, p.minor)))
    return tuple(out)


_BNB_SNIPPET = """
import sys, torch
import bitsandbytes.functional as F
dev = "cuda" if sys.argv[1] == "1" else "cpu"
x = torch.randn(64, 64, device=dev)
q, state = F.quantize_4bit(x, quant_type="nf4")
assert torch.isfinite(F.dequantize_4bit(q, state)).all()
"""


def _bnb_check(cuda: bool) -> tuple[bool, str]:
    """Quantize a tiny tensor to nf4 and back on the device training would use. It runs in a child
    process: importing bitsandbytes changes OpenMP's thread waiting, which slowed decode in the app 4x."""
    try:
        out = subprocess.run([sys.executable, "-c", _BNB_SNIPPET, "1" if cuda else "0"], capture_output=True,
                             text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{type(exc).__name__}: {exc}"[:300]
    if out.returncode != 0:
        return False, (out.stderr.strip().splitlines() or ["bitsandbytes failed"])[-1][:300]
    return True, ""


_CGROUP_V2, _CGROUP_V1 = Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/memory")


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup() -> tuple[int, int] | None:
    """(limit, usage without reclaimable file cache) in bytes of this container's memory cgroup, if it has a
    limit. On a Space the container's limit, not the host's RAM, is what the kernel enforces."""
    for limit_file, usage_file, stat_file in ((_CGROUP_V2 / "memory.max", _CGROUP_V2 / "memory.current",
                                               _CGROUP_V2 / "memory.stat"),
                                              (_CGROUP_V1 / "memory.limit_in_bytes", _CGROUP_V1 / "memory.usage_in_bytes",
                                               _CGROUP_V1 / "memory.stat")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is None or usage is None or limit >= psutil.virtual_memory().total:
            continue
        inactive = 0
        try:
            for line in stat_file.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key in ("inactive_file", "total_inactive_file"):
                    inactive = int(value)
        except (OSError, ValueError):
            pass
        return limit, max(0, usage - inactive)
    return None


def ram_total_bytes() -> int:
    cg = _cgroup()
    return cg[0] if cg else psutil.virtual_memory().total


def ram_free_bytes() -> int:
    """RAM a new process can still take: the host's available memory, or the container's headroom if less."""
    free = psutil.virtual_memory().available
    cg = _cgroup()
    return min(free, cg[0] - cg[1]) if cg else free


def vram_free_bytes(index: int = 0) -> tuple[int, int]:
    """(free, total) bytes of one GPU as the driver sees them: memory held by other processes (the app's chat
    models, another job) is not free."""
    import torch  # heavy: torch

    return torch.cuda.mem_get_info(index)


def probe(home: str | None = None) -> Hardware:
    import torch  # heavy: torch

    gpus = _gpus()
    ok, err = _bnb_check(bool(gpus))
    disk = shutil.disk_usage(home or os.getcwd()).free / 2**30
    return Hardware(
        gpus=gpus,
        bnb_ok=ok,
        bnb_error=err,
        ram_gb=ram_total_bytes() / 2**30,
        disk_free_gb=disk,
        cpu_count=os.cpu_count() or 1,
        torch_version=torch.__version__,
    )


_lock = threading.Lock()
_cached: Hardware | None = None


def get_hardware() -> Hardware:
    """The probe's result, computed once per process."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = probe(str(get_settings().home))
        return _cached


def set_hardware(hw: Hardware | None) -> None:
    """Replace the cached probe (tests fake a GPU this way)."""
    global _cached
    with _lock:
        _cached = hw
