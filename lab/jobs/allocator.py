"""Which malloc a worker runs on: glibc's (the fastest here) unless memory is tight, then jemalloc (the leanest).

Measured on this project's 2-core CPU machine with SmolLM2-135M (LoRA, batch 4, sequence 256):
- glibc keeps freed activations in its heaps: peak RSS about 1.25× the live tensors (a KTO run: 4.8 GB);
- jemalloc with a 1 s decay returns them to the system: RSS follows the live tensors (3.7 GB), but every
  step faults the returned pages back in: KTO steps took 1.06× as long in a plain TRL script and 1.3× in the
  lab's worker (SFT and DPO were within 2 %).
So a training run starts on glibc, and preflight picks jemalloc only when it lets the run fit with less lowered
than glibc would (a bigger batch or length, or the settings as asked). The worker then re-executes itself on jemalloc
before any weights load: the same pid, so the watchdog and the job record still point to it. A user's own
LD_PRELOAD is left alone. GPU runs stay on glibc (their tensors live in VRAM). Other jobs run on jemalloc.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

JEMALLOC_PATHS = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
                  "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2")
# Freed memory goes back to the OS within a second, in the background: RSS follows the live tensors.
JEMALLOC_CONF = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
MARK = "LAB_ALLOCATOR"  # set by the lab on a worker's environment: the allocator it chose
SWITCHED = "LAB_ALLOCATOR_SWITCHED"  # a worker re-executes itself at most once


def jemalloc() -> str | None:
    """jemalloc's library when installed (Debian's libjemalloc2: setup.sh and the Space's packages.txt add it)."""
    return next((p for p in JEMALLOC_PATHS if Path(p).is_file()), None)


def user_preload(env=None) -> bool:
    """The user preloaded a library of their own: the lab then never changes the allocator."""
    env = os.environ if env is None else env
    return bool(env.get("LD_PRELOAD", "").strip()) and not env.get(MARK)


def current(env=None) -> str:
    """The allocator this process (or a process started with `env`) runs on."""
    env = os.environ if env is None else env
    if env.get(MARK) in ("glibc", "jemalloc"):
        return env[MARK]
    return "jemalloc" if "jemalloc" in env.get("LD_PRELOAD", "") else "glibc"


def choices() -> tuple[str, ...]:
    """The allocators a CPU training run may use here, fastest first."""
    if user_preload():
        return (current(),)
    return ("glibc", "jemalloc") if jemalloc() else ("glibc",)


def allocator_env(env: dict, name: str = "jemalloc") -> dict:
    """A worker's environment on `name` (jemalloc only when installed; a user's own LD_PRELOAD wins)."""
    env = dict(env)
    if user_preload(env):
        return env
    if env.pop(MARK, None):  # the lab's own earlier choice (a worker started from a worker): replace it
        env.pop("LD_PRELOAD", None)
        env.pop("MALLOC_CONF", None)
    lib = jemalloc() if name == "jemalloc" else None
    if lib:
        env.update({"LD_PRELOAD": lib, "MALLOC_CONF": env.get("MALLOC_CONF") or JEMALLOC_CONF, MARK: "jemalloc"})
    else:
        env[MARK] = "glibc"
    return env


def switch_to(name: str, log=print) -> None:
    """Re-execute this process on `name` when it runs on another allocator (before anything heavy loads)."""
    if not os.environ.get(MARK) or os.environ.get(SWITCHED):
        return  # not a worker the lab started (a test, a notebook), or one that switched already
    if name == current() or user_preload() or (name == "jemalloc" and not jemalloc()):
        return
    log(f"memory: the worker restarts itself on {name} (see the memory estimate) before loading the model.")
    env = {**allocator_env(os.environ, name), SWITCHED: "1"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, env)
