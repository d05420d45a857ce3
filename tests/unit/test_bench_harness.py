"""The bench harness runs: a tiny pair of trivial commands, quick mode, writes both reports. No timings checked."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TINY_SUITE = textwrap.dedent('''
    import sys
    from bench.core import Pair

    def side(rows):
        code = "import json; print('noise'); print('BENCH_RESULT ' + json.dumps({'rows_per_s': %d, 'device': 'cpu'}))"
        return [sys.executable, "-c", code % rows]

    def pairs(quick):
        return [
            Pair("echo", side(200), side(100), reps=4, quick_reps=2, compare={"rows_per_s": "higher"},
                 targets={"rows_per_s_ratio": 1.5, "wall_ratio": 1000, "rows_per_s": 10}, note="two trivial commands"),
            Pair("big", side(1), None, gpu=True, targets={"wall_s": 60}),
        ]
''')


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("bench")
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "tiny.py").write_text(TINY_SUITE)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--suites-dir", str(suites), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    return proc, out


def test_quick_run_writes_results_json(tiny_run):
    proc, out = tiny_run
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    machine = results["machine"]
    for key in ("date", "cpu", "cores_logical", "torch_threads", "gpus", "cuda", "versions"):
        assert key in machine
    assert {"torch", "transformers", "trl", "peft", "mergekit", "gradio"} <= set(machine["versions"])
    assert results["quick"] is True
    echo, big = results["suites"]["tiny"]["pairs"]
    assert echo["status"] == "PASS" and echo["reps_done"] == 2
    assert [[r["side"] for r in rep] for rep in echo["runs"]] == [["lab", "baseline"]] * 2  # interleaved
    for side in ("lab", "baseline"):
        for key in ("wall_s", "rss_mb", "cpu_s", "rows_per_s"):
            assert set(echo[side][key]) == {"median", "min", "max", "n"}
        assert echo[side]["rss_mb"]["max"] > 0
    assert echo["lab"]["rows_per_s"]["median"] == 200 and echo["baseline"]["rows_per_s"]["median"] == 100
    assert echo["ratios"]["rows_per_s"] == {"ratio": 2.0, "min": 2.0, "max": 2.0}
    assert {c["target"]: c["pass"] for c in echo["targets"]} == {"rows_per_s_ratio": True, "wall_ratio": True,
                                                                 "rows_per_s": True}
    assert echo["runs"][0][0]["result"]["device"] == "cpu"
    if not machine["cuda"]:
        assert big["status"] == "SKIPPED" and "CUDA" in big["error"]


def test_quick_run_writes_markdown(tiny_run):
    proc, out = tiny_run
    assert proc.returncode == 0, proc.stderr
    md = (out / "RESULTS.md").read_text()
    for text in ("# Benchmark results", "machine:", "torch threads", "## Summary", "### tiny/echo — PASS",
                 "| rows_per_s ↑ | 200 | 100 | 2.00× | ratio ≥ 1.50; ≥ 10 | PASS |", "## GPU"):
        assert text in md, text
    perf = (out / "PERFORMANCE.md").read_text()
    assert perf.startswith("## Performance") and "tiny/echo" in perf


def test_a_failing_side_is_reported_not_raised(tmp_path):
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "broken.py").write_text(textwrap.dedent('''
        import sys
        from bench.core import Pair

        def pairs(quick):
            return [Pair("dies", [sys.executable, "-c", "import sys; print('the disk is on fire', file=sys.stderr); "
                                  "sys.exit(3)"], None, targets={"wall_s": 60})]
    '''))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--suites-dir", str(suites), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    (pair,) = json.loads((out / "results.json").read_text())["suites"]["broken"]["pairs"]
    assert pair["status"] == "ERROR" and "exit code 3" in pair["error"] and "the disk is on fire" in pair["error"]


def test_bad_target_is_refused_at_definition():
    from bench.core import Pair

    with pytest.raises(ValueError, match="names no measure"):
        Pair("x", ["true"], None, targets={"tokens_per_s": 5})
    with pytest.raises(ValueError, match="no baseline"):
        Pair("x", ["true"], None, targets={"wall_ratio": 1.05})
