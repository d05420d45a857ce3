"""An evaluation, as a straight line: plan -> models resolved and hashed -> cache looked up -> each model's
missing tasks through lm-eval (adapters of one base back to back) -> judges -> contamination -> results.

`evaluate(recipe, out)` is what the `eval` job, the CLI, a train job's last step and the tour all call.
A model that fails to load (or to run) fails its own row; the others finish.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from lab.bars import reporting
from lab.errors import LabError
from lab.eval import cache, catalog, contamination, engine, judge
from lab.eval.judge import Asker, score_entry
from lab.eval.models import FileHashes, ModelSpec, base_order, loaded, precision, spec
from lab.eval.plan import Plan, make
from lab.eval.recipe import EvalRecipe
from lab.eval.report import build_result
from lab.jobs.worker_setup import quiet_libraries


@dataclass
class Row:
    """One model of the job: its spec (None when it failed to resolve), per-task entries, and its error."""
    ref: str
    spec: ModelSpec | None = None
    entries: dict[str, dict] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    error: str = ""
    chat: bool = False


def _chat_template(s: ModelSpec) -> bool:
    for folder in filter(None, (s.adapter, s.base_folder)):
        if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
            return True
        tc = folder / "tokenizer_config.json"
        if tc.is_file() and json.loads(tc.read_text()).get("chat_template"):
            return True
    return False


class Evaluation:
    def __init__(self, recipe: EvalRecipe, out: Path, token: str | None = None, log=print, progress=None,
                 plan: Plan | None = None):
        self.recipe, self.out, self.token, self.log = recipe, Path(out), token, log
        self.progress = progress or (lambda fraction, message="": None)
        self.plan = plan or make(recipe, token)
        self.rows = [Row(ref) for ref in recipe.models]
        self.precision = precision()
        self.contamination: dict = {}  # model ref -> task -> {items, found, examples, datasets}
        self.span = (0.05, 0.9)  # the share of the job's bar the model being evaluated moves through
        self.shown = 0.0

    # ---- keys
    def settings(self, row: Row, task: str) -> engine.RunSettings:
        r = self.recipe
        return engine.RunSettings(r.limit, r.num_fewshot, row.chat, r.batch_size)

    def key(self, row: Row, task: str) -> str:
        s = self.settings(row, task)
        extra = {}
        built = self.plan.custom_task(task)
        if built is not None and built.judged:
            extra = {"judge": self.recipe.judge.key(), "reference": self._reference_hash()}
        task_hash = built.hash if built else catalog.task_hash(task)
        return cache.key(row.spec.hash, task_hash, {"limit": s.limit, "fewshot": s.num_fewshot, "chat": s.chat,
                                                     "precision": self.precision, "lm_eval": version("lm-eval"),
                                                     **extra})

    def _reference_hash(self) -> str:
        ref = self.recipe.judge.reference_model or self.recipe.models[0]
        row = next((r for r in self.rows if r.ref == ref), None)
        return row.spec.hash if row and row.spec else ref

    # ---- the run
    def run(self) -> dict:
        started = time.time()
        self._write_tasks()
        self._resolve()
        self._lookup()
        self._check_contamination()
        self._compute()
        self._judge()
        self._check_contamination(open_tasks=True)
        result = self._result(time.time() - started)
        (self.out / "results.json").write_text(json.dumps(result, indent=2, default=_json_safe))
        self.progress(1.0, "Done")
        return result

    def _write_tasks(self) -> None:
        self.tasks_dir = self.out / "tasks"
        for t in self.plan.custom:
            t.write(self.tasks_dir)

    def _resolve(self) -> None:
        hashes = FileHashes()
        for row in self.rows:
            try:
                row.spec = spec(row.ref, self.token, self.log, hashes)
                row.chat = {"on": True, "off": False}.get(self.recipe.chat_template, _chat_template(row.spec))
            except LabError as exc:
                row.error = str(exc)
                self.log(f"{row.ref}: {exc}")
        hashes.save()

    def _check_contamination(self, open_tasks: bool = False) -> None:
        """Custom tasks before the run; open benchmarks (whose items come with their samples) after it."""
        if not self.recipe.contamination:
            return
        n = self.recipe.limit
        for row in (r for r in self.rows if r.spec):
            if open_tasks:
                items = {t: [s.get("item", "") for s in row.entries[t]["samples"].get(t, [])]
                         for t in self.plan.open if t in row.entries}
            else:
                items = {t.name: t.texts()[:n] for t in self.plan.custom}
            found = contamination.check(items, [row.spec.adapter, row.spec.base_folder], self.token, self.log) if items else {}
            self.contamination.setdefault(row.ref, {}).update(found)
            for line in contamination.describe(found):
                self.log(f"contamination, {row.spec.label}: {line}")

    def _lookup(self) -> None:
        if not self.recipe.use_cache:
            return
        for row in (r for r in self.rows if r.spec):
            for task in self.plan.names:
                hit = cache.get(self.key(row, task))
                if hit is not None:
                    row.entries[task], row.cached = hit, row.cached + [task]
        done = sum(len(r.cached) for r in self.rows)
        if done:
            self.log(f"{done} model × task result(s) come from the cache.")

    def _compute(self) -> None:
        todo = [r for r in self.rows if r.spec and any(t not in r.entries for t in self.plan.names)]
        order = base_order([r.ref for r in todo])
        for i, ref in enumerate(order):
            row = next(r for r in todo if r.ref == ref)
            names = [t for t in self.plan.names if t not in row.entries]
            self.span = (0.05 + 0.85 * i / len(order), 0.05 + 0.85 * (i + 1) / len(order))
            self.progress(self.span[0], f"Evaluating {row.spec.label} on {', '.join(names)}…")
            try:
                row.entries.update(self._run_model(row, names))
            except LabError as exc:
                row.error = str(exc)
            except Exception as exc:  # a model that crashes lm-eval fails its own row only
                row.error = f"{type(exc).__name__}: {str(exc)[:400]}"
            if row.error:
                self.log(f"{row.ref} failed: {row.error}")

    def _run_model(self, row: Row, names: list[str]) -> dict:
        quiet_libraries(errors_only=True, loggers=("lm_eval",))  # lm-eval and datasets draw progress bars
        include = [self.tasks_dir] + catalog.folders([n for n in names if not self.plan.custom_task(n)])
        from lm_eval.models import huggingface  # heavy: lm_eval (its bars count the requests)

        def by_request(done: int, total: int, desc: str) -> None:
            start, end = self.span  # a second kind of request (generation after loglikelihood) starts its own count
            self.shown = max(self.shown, start + (end - start) * done / max(total, 1))
            what = desc.removeprefix("Running ").strip() or "requests"
            self.progress(min(self.shown, end), f"{row.spec.label}: {what} {done}/{total}")

        with loaded(row.ref, self.recipe.batch_size, self.token, self.log) as (lm, _), \
                reporting(huggingface, by_request):
            results = engine.evaluate(lm, names, include, self.tasks_dir, self.settings(row, names[0]))
        entries = engine.split(results, names)
        for name, entry in entries.items():
            entry["computed"] = time.time()
            if not self.plan.custom_task(name) or not self.plan.custom_task(name).judged:
                cache.put(self.key(row, name), entry)
        return entries

    def _judge(self) -> None:
        pending = [(row, t) for t in self.plan.judged for row in self.rows
                   if t.name in row.entries and t.name not in row.cached]
        if not pending:
            return
        settings = self.recipe.judge
        ask = Asker(settings, self.token, self.log)
        reference = self._reference_replies() if settings.mode == "pairwise" else {}
        for row, task in pending:
            samples = row.entries[task.name]["samples"][task.name]
            self.progress(0.92, f"Judging {row.spec.label} on {task.name}…")
            if settings.mode == "single":
                values = judge.single(ask, task.rows, samples)
            elif reference.get(task.name) is None:  # the reference model failed: nothing to compare with
                self.log(f"{task.name}: the reference model has no answers, so no pairwise verdicts.")
                values = [None] * len(samples)
            else:
                same = row.ref == (settings.reference_model or self.recipe.models[0])
                values = [0.5] * len(samples) if same else judge.pairwise(ask, task.rows, samples, reference[task.name])
            entry = score_entry(row.entries[task.name], task.name, values)
            if entry["unscored"]:
                self.log(f"{row.spec.label} on {task.name}: {entry['unscored']} of {len(values)} items went "
                         "unscored (the judge gave no verdict); they are not cached.")
            cache.put(self.key(row, task.name), entry)

    def _reference_replies(self) -> dict[str, dict[int, str] | None]:
        ref = self.recipe.judge.reference_model or self.recipe.models[0]
        row = next((r for r in self.rows if r.ref == ref), None)
        if row is None:  # a reference outside the job: generate its answers too (they never show as a row)
            row = Row(ref)
            try:
                row.spec = spec(ref, self.token, self.log)
                row.chat = {"on": True, "off": False}.get(self.recipe.chat_template, _chat_template(row.spec))
                row.entries = self._run_model(row, [t.name for t in self.plan.judged])
            except LabError as exc:
                self.log(f"The pairwise reference {ref} failed: {exc}")
        return {t.name: {s["id"]: s.get("reply", "") for s in row.entries[t.name]["samples"][t.name]}
                if t.name in row.entries else None for t in self.plan.judged}

    def _result(self, seconds: float) -> dict:
        return build_result(self, seconds)


def _json_safe(obj):
    return None if isinstance(obj, float) and math.isnan(obj) else str(obj)


def evaluate(recipe: EvalRecipe, out: Path, token: str | None = None, log=print, progress=None) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return Evaluation(recipe, out, token, log, progress).run()
