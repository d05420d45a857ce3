"""The open benchmarks: lm-eval's task names (read from its task folder without importing it), named suites,
closest-name suggestions, and where each task's YAML lives.

lm-eval's own TaskManager parses ~14,000 YAML files on start (about 30 s on a busy 2-core CPU); a run here loads
only the folders of the tasks it names, which builds the very same task configs.
"""
from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import re
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

from lab.errors import LabError
from lab.settings import get_settings

_NAME = re.compile(r"""^["']?(task|group)["']?\s*:\s*["']?([\w\-.]+)""", re.M)

# LLM AutoEval's "nous" benchmark (AGIEval, GPT4All, TruthfulQA, BigBench), by its lm-eval 0.4 task names:
# AGIEval's English subsets are lm-eval's agieval_nous group, truthfulqa_mc's mc2 score is truthfulqa_mc2, and
# the BigBench-Hard multiple-choice subsets it ran are the leaderboard_bbh_* tasks.
_BBH = ["causal_judgement", "date_understanding", "disambiguation_qa", "geometric_shapes",
        "logical_deduction_five_objects", "logical_deduction_seven_objects", "logical_deduction_three_objects",
        "movie_recommendation", "navigate", "reasoning_about_colored_objects", "ruin_names",
        "salient_translation_error_detection", "snarks", "sports_understanding", "temporal_sequences",
        "tracking_shuffled_objects_five_objects", "tracking_shuffled_objects_seven_objects",
        "tracking_shuffled_objects_three_objects"]
SUITES = {
    "nous": ["agieval_nous", "hellaswag", "openbookqa", "winogrande", "arc_easy", "arc_challenge", "boolq", "piqa",
             "truthfulqa_mc2", *[f"leaderboard_bbh_{t}" for t in _BBH]],
    "leaderboard_v2": ["leaderboard"],  # the Open LLM Leaderboard v2: BBH, GPQA, IFEval, MATH-hard, MMLU-Pro, MuSR
}
SUITE_LABELS = {"nous": "Nous (AGIEval, GPT4All, TruthfulQA, BigBench)", "leaderboard_v2": "Open LLM Leaderboard v2"}
# Popular tasks the tab lists first, with their test-set sizes (for the estimate before launch).
POPULAR = {"arc_easy": 2376, "arc_challenge": 1172, "hellaswag": 10042, "mmlu": 14042, "gsm8k": 1319,
           "ifeval": 541, "truthfulqa_mc2": 817, "winogrande": 1267, "boolq": 3270, "piqa": 1838, "openbookqa": 500,
           "agieval_nous": 2546, "leaderboard": 20000}
OFFLINE_REASON = "Open benchmarks download their data from the Hub, which is unreachable (offline)."


def tasks_root() -> Path:
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        raise LabError("lm-evaluation-harness is not installed.", "pip install lm-eval==0.4.13", "tasks")
    return Path(list(spec.submodule_search_locations)[0]) / "tasks"


@lru_cache(maxsize=1)
def index() -> dict[str, str]:
    """Task and group name -> its YAML, relative to lm-eval's task folder: a regex scan (~2 s), kept on disk
    per lm-eval version."""
    saved = get_settings().home / "cache" / "eval" / f"lm_eval_tasks-{version('lm-eval')}.json"
    if saved.is_file():
        return json.loads(saved.read_text())
    root = tasks_root()
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*.yaml")):
        for _, name in _NAME.findall(path.read_text(errors="replace")):
            out.setdefault(name, path.relative_to(root).as_posix())
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(out))
    return out


def is_open_task(name: str) -> bool:
    return name in SUITES or name in index()


def expand(names: list[str]) -> list[str]:
    """Suites become their tasks; order kept, duplicates dropped."""
    out = []
    for n in names:
        out += SUITES.get(n, [n])
    return list(dict.fromkeys(out))


def closest(name: str, n: int = 5) -> list[str]:
    pool = list(SUITES) + list(index())
    near = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    return near or [p for p in pool if name.lower() in p.lower()][:n]


def unknown_error(name: str) -> LabError:
    near = closest(name)
    hint = f" Closest known names: {', '.join(near)}." if near else ""
    return LabError(f"{name!r} is not an lm-eval task, a suite or a data file.{hint}",
                    "Check the spelling (`lm_eval ls tasks` lists every task), or give an existing data file.", "tasks")


def folders(names: list[str]) -> list[Path]:
    """The top-level task folders that define these tasks (what TaskManager needs to index)."""
    root, ix = tasks_root(), index()
    return sorted({root / ix[n].split("/")[0] for n in names if n in ix})


def task_hash(name: str) -> str:
    """lm-eval's version plus every YAML and Python file of the task's folder: a change to the task is a new hash."""
    h = hashlib.sha256(f"lm-eval {version('lm-eval')} {name}".encode())
    rel = index().get(name)
    folder = (tasks_root() / rel).parent if rel else None
    for path in sorted(p for ext in ("*.yaml", "*.py", "*_yaml") for p in folder.glob(ext)) if folder else []:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def choices() -> list[tuple[str, str]]:
    """(label, name) for the tab: the suites, then the popular tasks."""
    return [(SUITE_LABELS[s], s) for s in SUITES] + [(f"{t} ({n:,} items)", t) for t, n in POPULAR.items()]
