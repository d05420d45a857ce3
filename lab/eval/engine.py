"""One model through lm-eval: simple_evaluate on task YAMLs, then its scores and samples in the lab's shape.

Scores are read straight from lm-eval's results: METRIC (and METRIC_stderr) per task, where a metric computed
after a named filter other than the lab's own `extract` is called "metric,filter" as lm-eval names it.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path

from lab.eval.re2_filter import use_re2

PROMPT_CHARS = 2000  # what the sample viewer keeps of each prompt
_QUIET_FILTERS = ("none", "extract")


@dataclass(frozen=True)
class RunSettings:
    limit: int | None
    num_fewshot: int | None
    chat: bool
    batch_size: int

    def cli_flags(self) -> str:
        """The same settings as lm_eval CLI flags."""
        out = f"--batch_size {self.batch_size}"
        out += " --apply_chat_template" if self.chat else ""
        out += f" --limit {self.limit}" if self.limit else ""
        return out + (f" --num_fewshot {self.num_fewshot}" if self.num_fewshot is not None else "")


def task_manager(include: list[Path], defaults: bool):
    from lm_eval.tasks import TaskManager  # heavy: lm_eval

    return TaskManager(include_path=[str(p) for p in include] or None, include_defaults=defaults)


def evaluate(lm, names: list[str], include: list[Path], cwd: Path | None, settings: RunSettings,
             defaults: bool = False) -> dict:
    """lm-eval's results dict for `names` (custom task YAMLs live in `cwd`, their data next to them). Regex filters
    run on RE2 (lab.eval.re2_filter)."""
    from lm_eval import simple_evaluate  # heavy: lm_eval

    use_re2()

    manager = task_manager(include, defaults)
    if not defaults and any(n not in manager.all_tasks for n in names):
        manager = task_manager(include, True)  # a name defined outside the folders: index every task
    with contextlib.chdir(cwd) if cwd else contextlib.nullcontext():
        return simple_evaluate(model=lm, tasks=names, task_manager=manager, limit=settings.limit,
                               num_fewshot=settings.num_fewshot, apply_chat_template=settings.chat,
                               fewshot_as_multiturn=settings.chat, log_samples=True)


def _finite(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def scores(entry: dict) -> dict[str, float]:
    """{"acc": 0.5, "acc_stderr": 0.2, …} from one of lm-eval's results entries ("acc,none": 0.5, …)."""
    out = {}
    for key, value in entry.items():
        if "," not in key or key.split(",")[0] in ("bypass", "bypass_stderr") or _finite(value) is None:
            continue
        name, filt = key.split(",", 1)
        stderr = name.endswith("_stderr")
        base = name.removesuffix("_stderr")
        label = base if filt in _QUIET_FILTERS else f"{base},{filt}"
        out[label + ("_stderr" if stderr else "")] = _finite(value)
    return out


def primary(results: dict, name: str, found: dict[str, float]) -> str:
    """The task's headline metric: its first higher-is-better metric that has a value."""
    for metric in results.get("higher_is_better", {}).get(name, {}):
        for key in found:
            if key.split(",")[0] == metric and not key.endswith("_stderr"):
                return key
    return next((k for k in found if not k.endswith("_stderr")), "")


def _argmax(values: list) -> int:
    lls = [v[0] if isinstance(v, (list, tuple)) else v for v in values]
    return max(range(len(lls)), key=lambda i: lls[i]) if lls else -1


def compact(sample: dict, metric: str) -> dict:
    """One item as the sample viewer shows it: prompt, target, the model's answer, right or wrong."""
    args = sample.get("arguments") or []
    prompt = str(args[0][0]) if args and args[0] else ""
    value = _finite(sample.get(metric.split(",")[0]))
    out = {"id": sample.get("doc_id"), "prompt": prompt[-PROMPT_CHARS:], "value": value,
           "correct": None if value is None else value >= 1.0, "item": _doc_text(sample.get("doc")),
           "question": _question(sample.get("doc"))}
    target = sample.get("target")
    if args and len(args[0]) > 1 and isinstance(args[0][1], str):  # multiple choice: (context, continuation)
        chosen = _argmax(sample.get("filtered_resps") or [])
        out["answer"] = str(args[chosen][1]).strip() if chosen >= 0 else ""
        out["target"] = str(args[target][1]).strip() if isinstance(target, int) and target < len(args) \
            else str(target)
        return out
    filtered = sample.get("filtered_resps") or [""]
    out["answer"] = str(filtered[0] if isinstance(filtered, list) else filtered)
    resps = sample.get("resps") or [[""]]
    out["reply"] = str(resps[0][0] if resps and resps[0] else "")
    out["target"] = str(target)
    return out


def _question(doc) -> str:
    """What the item asks, for the sample viewer: its question or prompt field, else its text."""
    if isinstance(doc, dict):
        for key in ("question", "prompt", "query", "input", "ctx", "sentence", "text"):
            if isinstance(doc.get(key), str) and doc[key].strip():
                return doc[key][:PROMPT_CHARS]
    return _doc_text(doc)


def _doc_text(doc) -> str:
    """The item's own words (its string fields), for the contamination check of open benchmarks."""
    if isinstance(doc, dict):
        return " ".join(_doc_text(v) for v in doc.values())[:PROMPT_CHARS]
    if isinstance(doc, (list, tuple)):
        return " ".join(_doc_text(v) for v in doc)
    return doc if isinstance(doc, str) else ""


def split(results: dict, names: list[str]) -> dict[str, dict]:
    """Per requested name: its scores (and its subtasks' when it is a group), headline metric and samples."""
    groups = results.get("group_subtasks", {})
    out = {}
    for name in names:
        members = [name] + _members(name, groups)
        entry = {"scores": {}, "samples": {}, "metric": ""}
        for task in members:
            found = scores(results.get("results", {}).get(task, {}))
            if found or task in results.get("samples", {}):
                entry["scores"][task] = found
        top = entry["scores"].get(name, {})
        entry["metric"] = primary(results, name, top)
        for task in members:
            metric = primary(results, task, entry["scores"].get(task, {})) or entry["metric"]
            if task in results.get("samples", {}):
                entry["samples"][task] = [compact(s, metric) for s in results["samples"][task]]
        entry["n"] = sum(len(v) for v in entry["samples"].values())
        out[name] = entry
    return out


def _members(name: str, groups: dict) -> list[str]:
    out = []
    for child in groups.get(name, []):
        out += [child] + _members(child, groups)
    return out
