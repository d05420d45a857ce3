"""Memory inside a training worker: the GPU cap, out-of-memory as a clean failure with its numbers, and the
measured peak written next to the estimate (preflight.json's memory.peak_gb)."""
from __future__ import annotations

import gc
import json
import resource
import sys
from contextlib import contextmanager
from pathlib import Path

import psutil

from lab.errors import LabError
from lab.settings import get_settings

GB = 1e9


def cap_gpu(device: str, index: int = 0, share: float | None = None) -> None:
    """Make PyTorch's allocator refuse memory past `share` of the GPU (LAB_GPU_MEMORY_SHARE, default 90 %): the
    job fails cleanly instead of starving the app's chat models or the driver."""
    if device != "cuda":
        return
    import torch  # heavy: torch, on a GPU run only

    share = share or get_settings().gpu_memory_share
    torch.cuda.set_per_process_memory_fraction(share, index)
    torch.cuda.reset_peak_memory_stats(index)


def current_gb(device: str) -> float:
    if device == "cuda":
        import torch  # heavy: torch (loaded by then)

        return torch.cuda.memory_reserved() / GB
    return psutil.Process().memory_info().rss / GB


def peak_gb(device: str) -> dict:
    """The measured peak: on a GPU what PyTorch reserved (and allocated); on CPU this process's peak RSS."""
    if device == "cuda":
        import torch  # heavy: torch (loaded by then)

        return {"peak_gb": round(torch.cuda.max_memory_reserved() / GB, 3),
                "peak_allocated_gb": round(torch.cuda.max_memory_allocated() / GB, 3)}
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_gb": round(kb * (1 if sys.platform == "darwin" else 1024) / GB, 3)}


def record_peak(folder: Path, device: str) -> dict:
    """Write the measured peak into preflight.json next to the estimate; returns the memory record."""
    path = Path(folder) / "preflight.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    data.setdefault("memory", {}).update(peak_gb(device))
    path.write_text(json.dumps(data, indent=2))
    return data["memory"]


def stopped_text(peak: float, step: int | None, estimate: float | None) -> str:
    at = f" at step {step}" if step is not None else ""
    est = f" (estimate {estimate:.1f} GB)" if estimate else ""
    return f"stopped at {peak:.1f} GB{at}{est}: lower the batch size or the sequence length"


@contextmanager
def oom_guard(device: str, step, estimate: float | None):
    """Out of memory ends the run as a LabError with the numbers, and frees the GPU for the app. `step()` gives
    the current step."""
    import torch  # heavy: torch (loaded by then)

    try:
        yield
    except torch.OutOfMemoryError:
        raise _stopped(device, step(), estimate, "GPU") from None
    except RuntimeError as exc:
        text = str(exc).lower()
        if "out of memory" in text or "can't allocate memory" in text:
            raise _stopped(device, step(), estimate, "GPU" if "cuda" in text else "CPU") from None
        raise


def _stopped(device: str, step: int | None, estimate: float | None, where: str) -> LabError:
    peak = peak_gb(device)["peak_gb"]
    gc.collect()
    if device == "cuda":
        import torch  # heavy: torch (loaded by then)

        torch.cuda.empty_cache()
    return LabError(f"{where} out of memory: {stopped_text(peak, step, estimate)}.",
                    "Leave batch_size and max_seq_length to the lab (auto_fit), raise grad_accum to keep the "
                    "effective batch, turn on gradient checkpointing, or use QLoRA.", "batch_size")
