"""Run a FilterRecipe: load and combine the sources, then the enabled steps in order.

Each step reports rows in and out; removed rows are kept with their reason (and, for duplicates, the kept row
they match). If a step removes every remaining row the run stops and names that step: nothing is written.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from lab.data import load, normalize
from lab.data.recipe import FilterRecipe
from lab.data.steps import STEPS, Context
from lab.errors import LabError


@dataclass
class StepReport:
    index: int
    type: str
    label: str
    enabled: bool
    rows_in: int
    rows_out: int
    seconds: float = 0.0
    note: str = ""
    warning: str = ""

    @property
    def removed(self) -> int:
        return self.rows_in - self.rows_out


@dataclass
class RunResult:
    table: normalize.Table = field(repr=False)
    kept: np.ndarray = field(repr=False)  # global indices of the kept rows, in order
    removed: list[dict] = field(repr=False)  # {"row", "step", "reason", "dup_of", "value"}
    funnel: list[StepReport]
    sources: list[dict]  # {"source", "format", "rows"}
    scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def format(self) -> str:
        return ", ".join(dict.fromkeys(s["format"] for s in self.sources))

    @property
    def form(self) -> str:
        return self.table.form

    def records(self) -> list[dict]:
        """The kept rows as exported: the form's columns, `source`, and any scores."""
        out = []
        for i in self.kept.tolist():
            rec = self.table.record(i)
            for name, values in self.scores.items():
                rec[name] = None if np.isnan(values[i]) else float(values[i])
            out.append(rec)
        return out

    def removed_counts(self) -> dict[str, int]:
        return dict(Counter(r["reason"] for r in self.removed))

    def report(self) -> dict:
        return {"rows_in": len(self.table), "rows_out": int(len(self.kept)), "format": self.format,
                "form": self.form, "removed": self.removed_counts(),
                "funnel": [{"step": s.label, "type": s.type, "enabled": s.enabled, "rows_in": s.rows_in,
                            "rows_out": s.rows_out, "removed": s.removed, "seconds": round(s.seconds, 3),
                            "note": s.note, "warning": s.warning} for s in self.funnel],
                "sources": self.sources}

    def removed_samples(self, reason: str, n: int = 5) -> list[dict]:
        picked = [r for r in self.removed if r["reason"] == reason][:n]
        return [{"reason": reason, "detail": r.get("detail", ""), **self.table.record(r["row"])} for r in picked]

    def duplicate_groups(self, limit: int = 20) -> list[dict]:
        """Each kept row with the rows removed as its duplicates, largest groups first."""
        groups: dict[int, list[dict]] = {}
        for r in self.removed:
            if r.get("dup_of", -1) >= 0:
                groups.setdefault(r["dup_of"], []).append(r)
        order = sorted(groups, key=lambda k: (-len(groups[k]), k))[:limit]
        return [{"kept_row": k, "kept": self.table.texts("sample")[k],
                 "removed": [{"row": r["row"], "step": r["step"], "similarity": r.get("value"),
                              "text": self.table.texts("sample")[r["row"]]} for r in groups[k]]}
                for k in order]


def load_table(recipe: FilterRecipe, token: str | None = None, log=print) -> tuple[normalize.Table, list[dict]]:
    loaded = []
    for source in recipe.sources:
        log(f"Loading {source.label}…")
        loaded.append(load.load_source(source, token))
    table = normalize.combine(loaded, recipe.form)
    return table, [{"source": item.label, "format": item.format, "rows": len(item.rows)} for item in loaded]


def _apply(result: RunResult, pos: int, step, outcome, seconds: float) -> np.ndarray:
    idx = result.kept
    gone = np.flatnonzero(outcome.remove)
    label = f"{pos}. {step.label}"
    for j in gone.tolist():
        entry = {"row": int(idx[j]), "step": label, "reason": str(outcome.reasons[j])}
        if outcome.dup_of is not None:
            entry["dup_of"] = int(outcome.dup_of[j])
        if outcome.value is not None and not np.isnan(outcome.value[j]):
            entry["value"] = round(float(outcome.value[j]), 4)
        if outcome.detail is not None and outcome.detail[j]:
            entry["detail"] = outcome.detail[j]
        result.removed.append(entry)
    kept = idx[~outcome.remove]
    result.funnel.append(StepReport(pos, step.type, label, True, len(idx), len(kept), seconds, outcome.note,
                                     outcome.warning))
    if len(kept) == 0:
        raise LabError(f"Step {label} removed every remaining row ({len(idx)} → 0), so the run stopped and "
                       "nothing was saved.", "Loosen that step's settings or switch it off, then run again.",
                       f"steps.{pos - 1}")
    return kept


def run(recipe: FilterRecipe, token: str | None = None, progress=None, log=print,
        table: normalize.Table | None = None, sources: list[dict] | None = None, caller=None,
        judge_key: str | None = None) -> RunResult:
    """Run the recipe. Pass an already loaded table (and its sources) to skip loading. `caller` (a
    lab.access.Caller) is who the steps act for and `judge_key` the API key they typed for an endpoint judge; None
    for both inside a job's worker (whose job it is, and the key its submitter typed)."""
    recipe = FilterRecipe.parse(recipe)
    report = progress or (lambda fraction, message="": None)
    if table is None:
        table, sources = load_table(recipe, token, log)
    result = RunResult(table, np.arange(len(table)), [], [], sources or [])
    steps = list(enumerate(recipe.steps, 1))
    for n, (pos, step) in enumerate(steps):
        label = f"{pos}. {step.label}"
        if not step.enabled:
            result.funnel.append(StepReport(pos, step.type, label, False, len(result.kept), len(result.kept)))
            continue
        share = lambda f, m="", n=n: report((n + max(0.0, min(1.0, f))) / len(steps), f"{label}: {m}".strip(": "))
        share(0.0)
        log(f"{label}: {len(result.kept)} rows in")
        ctx = Context(table, result.kept, token, log, share, result.scores, caller, judge_key)
        start = time.perf_counter()
        outcome = STEPS[step.type](step, ctx)
        result.kept = _apply(result, pos, step, outcome, time.perf_counter() - start)
        log(f"{label}: {len(result.kept)} rows out ({result.funnel[-1].seconds:.1f} s)")
    report(1.0, "done")
    return result
