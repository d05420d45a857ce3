"""From a recipe to a plan, checked before anything loads: custom tasks built (every row checked), lm-eval task
names known, the Hub reachable when open benchmarks need it, and a size and time estimate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import LabError
from lab.eval import catalog, judge
from lab.eval.custom import BuiltTask, build
from lab.eval.models import precision
from lab.eval.recipe import CustomTask, EvalRecipe
from lab.models.info import count_params, estimate_params, read_config
from lab.models.ref import parse
from lab.models.resolve import config_folder
from lab.repo_id import is_repo_id
from lab.settings import is_offline

MC_TOKENS, FLOPS_CPU, FLOPS_GPU = 80, 5e10, 5e13  # a rough cost model, for the estimate only
TOKEN_S_CPU = 0.03  # the least a generated token costs on a CPU (per model call overhead)


@dataclass
class Plan:
    recipe: EvalRecipe
    custom: list[BuiltTask] = field(default_factory=list)
    open: list[str] = field(default_factory=list)  # lm-eval task or group names, suites expanded

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.custom] + self.open

    def custom_task(self, name: str) -> BuiltTask | None:
        return next((t for t in self.custom if t.name == name), None)

    @property
    def judged(self) -> list[BuiltTask]:
        return [t for t in self.custom if t.judged]


def classify(entry: str) -> CustomTask | str:
    """A data file or Hub dataset becomes a CustomTask; an lm-eval name or suite stays a name."""
    text = entry.strip()
    path = Path(text).expanduser()
    if path.is_file():
        return CustomTask(path=str(path))
    if catalog.is_open_task(text):
        return text
    hub, _, split = text.partition(":")
    if is_repo_id(hub) and not path.suffix:
        return CustomTask(hub=hub, split=split or "test")
    if path.suffix.lower() in (".jsonl", ".json", ".csv", ".parquet"):
        raise LabError(f"No file at {text}.", "Check the path of the task file.", "tasks")
    raise catalog.unknown_error(text)


def make(recipe: EvalRecipe, token: str | None = None, caller=None) -> Plan:
    """Build and check everything a run needs, loading no model. `caller` (a lab.access.Caller) is who asks: the
    judge's settings are checked for them (None: see lab.eval.judge.check)."""
    plan = Plan(recipe)
    specs = list(recipe.custom)
    for entry in recipe.tasks:
        kind = classify(entry)
        if isinstance(kind, str):
            plan.open.append(kind)
        else:
            specs.append(kind)
    plan.open = catalog.expand(plan.open)
    if plan.open and is_offline():
        raise LabError(f"{catalog.OFFLINE_REASON} Needed by: {', '.join(plan.open)}.",
                       "Connect to the Hub, or evaluate on a custom task file.", "tasks")
    plan.custom = [build(s, token) for s in specs]
    names = plan.names
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise LabError(f"Two tasks are named {', '.join(twice)}.", "Give each custom task its own name.", "name")
    if plan.judged:
        judge.check(recipe.judge, caller)
    return plan


def estimate(plan: Plan, params: list[int], gpu: bool = False) -> dict:
    """Items, model calls and a rough time for the whole job (models × tasks)."""
    limit = plan.recipe.limit
    items, requests, unknown, seconds = 0, 0, [], 0.0
    rate = FLOPS_GPU if gpu else FLOPS_CPU
    for t in plan.custom:
        n = min(len(t.rows), limit or len(t.rows))
        items += n
        calls = sum(len(r["choices"]) for r in t.rows[:n]) if t.kind == "multiple_choice" else n
        requests += calls
        for p in params:
            per = 2 * p * MC_TOKENS / rate
            gen = 32 if t.kind == "exact_match" else 256
            seconds += calls * per if t.kind == "multiple_choice" else n * gen * max(per / 4, 0 if gpu else TOKEN_S_CPU)
    for name in plan.open:
        size = catalog.POPULAR.get(name)
        if size is None and not limit:
            unknown.append(name)
            continue
        n = min(size or limit, limit or size)
        items, requests = items + n, requests + 4 * n
        seconds += sum(4 * n * 2 * p * MC_TOKENS / rate for p in params)
    seconds += sum(p * 4 / 4e8 for p in params)  # loading each model
    calls = requests * len(params)
    text = (f"{len(params)} model(s) × {len(plan.names)} task(s): about {items:,} items and {calls:,} "
            f"model calls, roughly {_human(seconds)} on this {'GPU' if gpu else 'CPU'}")
    if unknown:
        text += f" plus {', '.join(unknown)} (size unknown here; set a limit to bound it)"
    return {"items": items, "requests": calls, "seconds": round(seconds), "unknown": unknown,
            "text": text + "."}


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def model_params(ref: str, token: str | None = None) -> int:
    """Parameters of a model from its config files and safetensors headers (no weights downloaded)."""
    folder = config_folder(parse(ref).base, token)
    params = count_params(folder)[0] if any(folder.glob("*.safetensors")) else 0
    cfg = read_config(folder)
    return params or estimate_params(cfg.get("text_config", cfg))


def estimate_recipe(recipe: EvalRecipe, token: str | None = None, caller=None) -> dict:
    """The size and time estimate shown before launch (the recipe checked for `caller`, as make() does)."""
    plan = make(recipe, token, caller)
    params = [model_params(m, token) for m in recipe.models]
    return estimate(plan, params, gpu=precision() != "fp32")
