"""The bench contract (Pair) and one measured run of one side.

Peak memory: a side is often a tree (the lab's CLI starts a job worker, app.py serves from its own process),
so a sampler thread sums the RSS of the side's whole process tree with psutil every 50 ms and keeps the peak.
os.wait4 on the side's pid adds ru_maxrss, the peak of the single largest process among the side and the
children it waited for; it catches short spikes between two samples but never sees processes running together.
A run's rss_mb is the larger of the two. RSS counts shared pages once per process, so a forked tree reads high.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]  # the repository root; sides run here
BENCH = ROOT / "bench"
SIDES = BENCH / "sides"
BASELINES = BENCH / "baselines"
PYTHON = sys.executable
# Measured for every run of every side; lower is better for all three.
BUILTIN = {"wall_s": "lower", "rss_mb": "lower", "cpu_s": "lower"}
ALIASES = {"wall_ratio": "wall_s_ratio", "rss_ratio": "rss_mb_ratio", "cpu_ratio": "cpu_s_ratio"}
RESULT_PREFIX = "BENCH_RESULT "
SAMPLE_S = 0.05


def side(script: str | Path, *args: str) -> list[str]:
    """argv that runs a side script (a path relative to bench/, or absolute) with this Python."""
    path = Path(script)
    return [PYTHON, str(path if path.is_absolute() else BENCH / path), *map(str, args)]


@dataclass
class Pair:
    """One benchmark: the lab's way against a user's way (or against absolute targets when baseline is None).

    targets: "<measure>" is an absolute limit on the lab side's median (≤ for "lower", ≥ for "higher");
    "<measure>_ratio" limits the ratio of medians lab/baseline the same way. wall_ratio, rss_ratio and
    cpu_ratio are short for wall_s_ratio, rss_mb_ratio and cpu_s_ratio.
    In argv, env values and setup, "{tmp}" becomes the pair's scratch folder (also in $BENCH_TMP).
    """
    name: str
    lab: list[str]
    baseline: list[str] | None = None
    reps: int = 5
    quick_reps: int = 3
    compare: dict[str, str] = field(default_factory=dict)  # BENCH_RESULT key -> "lower" | "higher"
    targets: dict[str, float] = field(default_factory=dict)
    gpu: bool = False  # runs only when CUDA is present
    env: dict[str, str] = field(default_factory=dict)  # added to both sides' environment
    setup: list[str] | None = None  # run once before the reps, untimed (e.g. a one-off conversion)
    warmup: int = 0  # untimed runs of each side before the timed ones
    timeout_s: float = 900  # per run
    note: str = ""  # one line for RESULTS.md: what is measured

    def __post_init__(self):
        self.lab = [str(a) for a in self.lab]
        self.baseline = None if self.baseline is None else [str(a) for a in self.baseline]
        for key, way in self.compare.items():
            if way not in ("lower", "higher"):
                raise ValueError(f"{self.name}: compare[{key!r}] is {way!r}; use 'lower' or 'higher'.")
        for key in self.targets:
            measure, kind = self.target_measure(key)
            if kind == "ratio" and self.baseline is None:
                raise ValueError(f"{self.name}: target {key!r} is a ratio but the pair has no baseline.")

    @property
    def directions(self) -> dict[str, str]:
        return {**BUILTIN, **self.compare}

    def target_measure(self, key: str) -> tuple[str, str]:
        """("measure", "absolute" | "ratio") for a target key; unknown measures raise."""
        key = ALIASES.get(key, key)
        if key in self.directions:
            return key, "absolute"
        if key.endswith("_ratio") and key[: -len("_ratio")] in self.directions:
            return key[: -len("_ratio")], "ratio"
        raise ValueError(f"{self.name}: target {key!r} names no measure; known: {sorted(self.directions)} "
                         "(add the BENCH_RESULT key to compare).")


@dataclass
class Run:
    side: str  # "lab" | "baseline" | "setup"
    rc: int
    wall_s: float
    rss_mb: float
    cpu_s: float
    result: dict  # the last BENCH_RESULT line's JSON
    error: str = ""  # why the run failed, with the output's tail

    @property
    def ok(self) -> bool:
        return not self.error

    def measures(self) -> dict[str, float]:
        extra = {k: float(v) for k, v in self.result.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return {**extra, "wall_s": self.wall_s, "rss_mb": self.rss_mb, "cpu_s": self.cpu_s}

    def to_dict(self) -> dict:
        return {"side": self.side, "rc": self.rc, "wall_s": round(self.wall_s, 4), "rss_mb": round(self.rss_mb, 1),
                "cpu_s": round(self.cpu_s, 3), "result": self.result, "error": self.error}


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants; remembers every process seen."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.peak = 0
        self.seen: dict[int, psutil.Process] = {}
        self._stop_event = threading.Event()
        try:
            self.root = psutil.Process(pid)
        except psutil.Error:
            self.root = None

    def sample(self) -> None:
        if self.root is None:
            return
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
                self.seen.setdefault(proc.pid, proc)
            except psutil.Error:
                pass
        self.peak = max(self.peak, total)

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(SAMPLE_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2)


def kill_tree(pgid: int, procs) -> None:
    """Kill the side's process group and any descendant that left it (a job worker has its own session)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
    for proc in procs:
        try:
            if proc.is_running():  # is_running() also guards against a reused pid
                proc.kill()
        except psutil.Error:
            pass


def parse_result(stdout: str) -> dict:
    """The JSON of the last `BENCH_RESULT {json}` line, or {} when there is none."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    return {}


def _tail(text: str, n: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def _wait(proc: subprocess.Popen, sampler: TreeSampler, timeout_s: float) -> tuple[int, object, bool]:
    """wait4 the side (killing its tree at the timeout); returns exit code, rusage, timed out."""
    timed_out = threading.Event()

    def on_timeout():
        timed_out.set()
        kill_tree(proc.pid, list(sampler.seen.values()))

    timer = threading.Timer(timeout_s, on_timeout)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:  # Ctrl-C: leave nothing running behind
        kill_tree(proc.pid, list(sampler.seen.values()))
        raise
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
    return proc.returncode, usage, timed_out.is_set()


def measure(argv: list[str], env: dict, side_name: str, timeout_s: float, cwd: Path = ROOT) -> Run:
    """Run argv once as its own session: wall time, tree-peak RSS, CPU time and its BENCH_RESULT.

    cpu_s is user+system time of the side and of the children it waited for (wait4's rusage).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=str(cwd), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc, usage, timed_out = _wait(proc, sampler, timeout_s)
        wall = time.perf_counter() - start
        sampler.stop()
        kill_tree(proc.pid, list(sampler.seen.values()))  # leftovers a crashed side did not stop
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    rss_mb = max(sampler.peak, usage.ru_maxrss * 1024) / 2**20
    run = Run(side_name, rc, wall, rss_mb, usage.ru_utime + usage.ru_stime, {})
    try:
        run.result = parse_result(stdout)
    except ValueError as exc:
        run.error = f"bad BENCH_RESULT line: {exc}"
    if timed_out:
        run.error = f"timed out after {timeout_s:.0f} s"
    elif rc != 0:
        run.error = f"exit code {rc}"
    if run.error:
        run.error += "\n" + _tail(stderr + "\n" + stdout)
    return run
