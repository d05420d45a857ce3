"""Turn mergekit's tqdm bars into progress(fraction, message) calls for the Jobs view.

mergekit reports progress only through tqdm. While a merge runs, the `tqdm` name inside the mergekit
modules that draw bars points at a shim whose bars call back instead of printing.
"""
from __future__ import annotations

import importlib
import io
import time
from contextlib import contextmanager
from types import SimpleNamespace

import tqdm as _tqdm

_MODULES = ("mergekit.merge", "mergekit.graph", "mergekit.moe.common", "mergekit.moe.mixtral", "mergekit.moe.router",
            "mergekit.moe.qwen", "mergekit.moe.qwen3", "mergekit.moe.deepseek")


# Where each of mergekit's bars sits in the whole run (fraction start, end); other bars only update the message.
PHASES = {"Warmup loader cache": (0.0, 0.05), "Executing graph": (0.05, 1.0),
          "expert prompts": (0.0, 0.3), "Weights": (0.3, 0.45), "Expert weights": (0.45, 0.95),
          "Router weights": (0.95, 1.0)}


def _bar_class(callback, every_s: float):
    state = {"best": 0.0, "sent": 0.0}

    class Bar(_tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["file"] = io.StringIO()  # no bar drawn into the job log
            kwargs["disable"] = False
            kwargs.setdefault("mininterval", 0.25)
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            out = super().update(n)
            start, end = PHASES.get(self.desc or "", (state["best"], state["best"]))
            now = time.monotonic()
            if self.total and (now - state["sent"] >= every_s or self.n >= self.total):
                state["sent"] = now  # a job records progress in SQLite: a write per second is plenty
                state["best"] = max(state["best"], start + (end - start) * min(1.0, self.n / self.total))
                callback(state["best"], f"{self.desc or 'Merging'} {self.n}/{self.total}")
            return out

    return Bar


@contextmanager
def report_progress(callback, every_s: float = 1.0):
    """Within the block, mergekit's bars call callback(fraction, message) at most every `every_s` seconds;
    the modules are restored after."""
    bar = _bar_class(callback, every_s)
    shim = SimpleNamespace(tqdm=bar, trange=lambda *a, **kw: bar(range(*a), **kw))
    saved = []
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "tqdm", None) is not None:
            saved.append((module, module.tqdm))
            module.tqdm = shim
    try:
        yield
    finally:
        for module, original in saved:
            module.tqdm = original
