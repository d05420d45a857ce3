"""Known, harmless library noise kept out of job logs, so a user reading a log sees what the job did.

Only whole lines that match NOISE are dropped (with the source line Python's warnings print under a warning);
everything else, tracebacks included, goes to the log unchanged.
"""
from __future__ import annotations

import io
import re

NOISE = [
    # bitsandbytes on CPUs with AVX512-BF16, when the `kernels` package can't fetch its optional kernel: harmless
    re.compile(r"Failed to load CPU gemm_4bit_forward from kernels-community"),
    # a library warning about its own deprecated API (transformers, peft, trl, accelerate, torch)
    re.compile(r"/(transformers|peft|trl|accelerate|torch)/\S*:\d+: (FutureWarning|DeprecationWarning): "),
    # transformers' logger, e.g. "`torch_dtype` is deprecated! Use `dtype` instead!"
    re.compile(r"^(\[transformers\] )?`\w+` is deprecated"),
    # trackio's hints for a notebook user (the lab logs where the records go, and links the dashboard itself)
    re.compile(r"^\* (View dashboard by running|or by running in Python: trackio\.show)|trackio show --project"),
]
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


def is_noise(line: str) -> bool:
    return any(p.search(line) for p in NOISE)


class QuietStream(io.TextIOBase):
    """A text stream that drops noise lines and passes everything else to `stream`."""

    def __init__(self, stream):
        self.stream = stream
        self.pending = ""
        self.skip_source = False  # the next line is the source line of a dropped warning

    def write(self, text: str) -> int:
        self.pending += text
        end = 0
        for match in _LINE.finditer(self.pending):
            self._emit(match.group())
            end = match.end()
        self.pending = self.pending[end:]
        return len(text)

    def _emit(self, line: str) -> None:
        skip, self.skip_source = self.skip_source and line.startswith("  "), False
        if skip:
            return
        if is_noise(line):
            self.skip_source = "Warning: " in line
            return
        self.stream.write(line)

    def flush(self) -> None:
        if self.pending and not is_noise(self.pending):  # a partial line (a prompt, a crash): keep it
            self.stream.write(self.pending)
            self.pending = ""
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self):
        return getattr(self.stream, "encoding", "utf-8")
