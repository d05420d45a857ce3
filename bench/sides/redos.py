"""A catastrophic regex on one row (issue 21, finding 2).

`python bench/sides/redos.py lab N`: the lab's data pipeline (lab.data.pipeline.run) with the step
`regex include: (a+)+$` on a row of N `a`s and a `!`, on RE2; `python bench/sides/redos.py re N`: the same pattern
and row with Python's own `re`, as a user's script would run it.
BENCH_RESULT: match_s (the pattern over the row; for the lab, the whole pipeline run over it). What the app does
meanwhile for other visitors is tested in tests/security/test_regex.py.
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

EVIL = r"(a+)+$"


def _lab(row: str) -> None:
    from lab.data.pipeline import run
    from lab.data.recipe import FilterRecipe

    path = Path(tempfile.mkdtemp()) / "rows.jsonl"
    rows = [{"instruction": "Say a lot of a", "input": "", "output": out} for out in (row, "aaa")]  # one kept
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": [
        {"type": "regex", "key": "answer", "include": EVIL, "ignore_case": False}]})
    result = run(recipe, log=lambda m: None)
    assert result.removed_counts() == {"regex: no include match": 1}


def main() -> int:
    engine, n = sys.argv[1], int(sys.argv[2])
    row = "a" * n + "!"
    if engine == "lab":
        _lab("a" * 3 + "!")  # imports and first compile, untimed
    start = time.perf_counter()
    if engine == "lab":
        _lab(row)
    else:
        assert re.search(EVIL, row) is None
    took = time.perf_counter() - start
    print("BENCH_RESULT " + json.dumps({"match_s": round(took, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
