"""llama.cpp's own tools, when LAB_LLAMA_CPP points at a checkout (or llama-cpp-python's unpacked sources,
whose vendor/llama.cpp is one): convert_hf_to_gguf.py for f16/bf16/q8_0, and the llama-quantize binary for
q4_0 and the K-quants. Without them the lab writes with the `gguf` package and offers no K-quants.

Both run as subprocesses; their per-tensor log lines drive the progress bar.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from lab.errors import LabError
from lab.export.write import BASE_TYPES
from lab.settings import get_settings

KQUANTS = ("q4_k_m", "q5_k_m", "q6_k")
CONVERTER_TYPES = ("f16", "bf16", "q8_0")
_CONVERT_LINE = re.compile(r"^INFO:hf-to-gguf:(\S+), ")
_QUANT_LINE = re.compile(r"\[\s*(\d+)/\s*(\d+)\]")


def _root() -> Path | None:
    raw = get_settings().llama_cpp
    if not raw:
        return None
    root = Path(raw).expanduser()
    vendored = root / "vendor" / "llama.cpp"
    return vendored if vendored.is_dir() else root


def converter() -> Path | None:
    root = _root()
    script = root / "convert_hf_to_gguf.py" if root else None
    return script if script is not None and script.is_file() else None


def quantizer() -> Path | None:
    root = _root()
    for candidate in ([root / "build" / "bin" / "llama-quantize", root / "llama-quantize"] if root else []):
        if candidate.is_file():
            return candidate
    found = shutil.which("llama-quantize")
    return Path(found) if found else None


def available_types() -> list[str]:
    return list(BASE_TYPES) + (list(KQUANTS) if quantizer() else [])


def describe() -> str:
    parts = [f"converter: {'llama.cpp convert_hf_to_gguf.py' if converter() else 'the gguf package (lab writer)'}",
             f"quantizer: {'llama-quantize (K-quants offered)' if quantizer() else 'none (no K-quants)'}"]
    return "; ".join(parts)


def _run(cmd: list[str], pattern: re.Pattern, total: int, progress, cancelled, what: str) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    tail: list[str] = []
    done = 0
    try:
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-20:]
            if pattern.search(line):
                done += 1
                if progress is not None:
                    progress(min(done, total), total, line.strip()[:120])
            if cancelled is not None:
                cancelled()
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if code != 0:
        raise LabError(f"llama.cpp's {what} failed (exit {code}): " + " | ".join(tail[-5:]),
                       "Check LAB_LLAMA_CPP points at a working llama.cpp, or unset it to use the lab's writer.",
                       "LAB_LLAMA_CPP")


def convert(folder: Path, out: Path, kind: str, total: int, progress=None, cancelled=None) -> None:
    """convert_hf_to_gguf.py FOLDER --outfile OUT --outtype KIND."""
    cmd = [sys.executable, str(converter()), str(folder), "--outfile", str(out), "--outtype", kind]
    _run(cmd, _CONVERT_LINE, total, progress, cancelled, "convert_hf_to_gguf.py")


def quantize(src: Path, out: Path, kind: str, total: int, progress=None, cancelled=None) -> None:
    """llama-quantize SRC OUT TYPE (from an f16 GGUF)."""
    cmd = [str(quantizer()), str(src), str(out), kind.upper()]
    _run(cmd, _QUANT_LINE, total, progress, cancelled, "llama-quantize")
