"""The first-run tour: the whole loop, offline, on the bundled model, through the lab's real code paths.

bundled model → demo dataset (written here) → filter (exact + fuzzy dedup + refusals, exported as a dataset
artifact) → SFT LoRA job → SLERP merge job (base with base+adapter) → the three side by side in chat → the three
scored by an eval job on held-out questions (lab.tour.heldout).
`Tour(recipe).run()` yields a TourEvent as each stage starts, moves and ends. A failing stage ends the tour with
its LabError message; what earlier stages made stays. Every run writes new artifacts (tour-<id>-…).
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterator

from pydantic import Field, ValidationError

from lab import eval as lab_eval, jobs, train, uploads
from lab.access import job_caller
from lab.artifacts import list_artifacts
from lab.chat import stream
from lab.chat.prompt import build_messages
from lab.chat.spec import build_spec
from lab.data import export as data_export, pipeline
from lab.data.recipe import ExactDedup, FilterRecipe, FuzzyDedup, Refusals, Source
from lab.errors import LabError
from lab.eval import report as eval_report
from lab.jobs.context import JobCancelled, read_metrics
from lab.merge import editor
from lab.merge.templates import offline_yaml
from lab.models import resolve
from lab.settings import DEFAULT_MODEL, get_settings
from lab.tour import heldout
from lab.tour.demo_data import write_demo
from lab.train.recipe import TrainRecipe
from lab.validation import Recipe, value_error

# (key, label, share of the whole tour's progress bar: roughly its share of the wall time on a 2-core CPU)
STAGES = [("model", "Bundled model", 0.02), ("dataset", "Demo dataset", 0.01), ("filter", "Filter", 0.03),
          ("train", "SFT", 0.50), ("merge", "SLERP merge", 0.17), ("chat", "Side-by-side chat", 0.12),
          ("eval", "Evaluate", 0.15)]
LABELS = {key: label for key, label, _ in STAGES}
POLL_S = 1.0  # a slow poll: on 2 cores the job's worker needs the CPU


class TourRecipe(Recipe):
    """The tour's settings: small enough to finish in a few minutes on a 2-core CPU."""
    WHAT: ClassVar[str] = "tour settings"
    FIELD: ClassVar[str] = "tour"
    steps: int = Field(20, ge=1, le=1000, description="SFT optimizer steps.")
    batch_size: int = Field(2, ge=1, le=64, description="SFT rows per step (2 keeps a step short on a CPU).")
    max_seq_length: int = Field(128, ge=32, le=2048, description="SFT tokens per row (the demo rows are short).")
    lora_r: int = Field(8, ge=1, le=256, description="LoRA rank.")
    learning_rate: float = Field(1e-3, gt=0, le=1, description="High, so 20 steps visibly change the model.")
    max_new_tokens: int = Field(32, ge=1, le=512, description="Length of each chat reply.")
    prompts: list[str] = Field(default_factory=lambda: ["What is 23 plus 19?", "Name the capital of Italy."],
                               min_length=1, max_length=4, description="What the three models are asked.")

    @classmethod
    def invalid(cls, exc: ValidationError, data: dict) -> LabError:
        return value_error(exc, cls, cls.FIELD)  # the value given, and the field's help as the fix


@dataclass
class TourEvent:
    stage: str  # a STAGES key, or "tour" for the final event
    state: str  # running | done | failed
    message: str = ""
    progress: float = 0.0  # of the whole tour, 0..1
    artifact: str = ""  # the folder this stage produced, when it produced one
    data: dict = field(default_factory=dict)


def check_allowed() -> None:
    """The tour trains and merges: off on the public demo Space, like every heavy job."""
    if not get_settings().heavy_allowed:
        raise LabError("The tour trains and merges a model, which is off on this public demo Space.",
                       "Duplicate the Space (button at the top), then take the tour in your copy.", "tour")


def is_first_run() -> bool:
    """No artifact in LAB_HOME yet: a newcomer."""
    return not list_artifacts()


class Tour:
    def __init__(self, recipe: TourRecipe | None = None, tour_id: str | None = None):
        check_allowed()
        self.recipe = recipe or TourRecipe()
        self.id = tour_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]
        self.folder = get_settings().home / "tour" / self.id
        self.results: dict[str, dict] = {}
        self.failed: dict | None = None

    def name(self, what: str) -> str:
        return f"tour-{self.id}-{what}"

    def run(self) -> Iterator[TourEvent]:
        """Every stage in order; a failure ends the tour with a 'failed' event, then the summary event."""
        done = 0.0
        start = time.perf_counter()
        for key, label, share in STAGES:
            yield TourEvent(key, "running", f"{label}…", done)
            t0 = time.perf_counter()
            try:
                stage = getattr(self, "_" + key)()
                result = yield from _drive(key, stage, done, share)
            except LabError as exc:
                yield self._fail(key, str(exc), done)
                break
            except JobCancelled:  # the tour's own job was cancelled: that is not a failing stage
                raise
            except Exception as exc:  # a bug must still end the tour with a message, not a stack trace
                yield self._fail(key, f"{type(exc).__name__}: {exc}", done)
                break
            done += share
            result["seconds"] = round(time.perf_counter() - t0, 1)
            self.results[key] = result
            yield TourEvent(key, "done", result["message"], done, result.get("artifact", ""), result)
        summary = self.summary(time.perf_counter() - start)
        yield TourEvent("tour", "failed" if self.failed else "done", summary["message"],
                        done if self.failed else 1.0, data=summary)

    def _fail(self, key: str, message: str, done: float) -> TourEvent:
        self.failed = {"stage": key, "error": message}
        return TourEvent(key, "failed", message, done)

    def summary(self, seconds: float) -> dict:
        arts = {k: r["artifact"] for k, r in self.results.items() if r.get("artifact")}
        msg = (f"The tour stopped at {LABELS[self.failed['stage']]}: {self.failed['error']}" if self.failed
               else f"The whole loop ran in {seconds:.0f} s.")
        out = {"id": self.id, "ok": not self.failed, "message": msg, "wall_s": round(seconds, 1),
               "failed": self.failed, "artifacts": arts, "stages": self.results,
               "recipe": self.recipe.model_dump()}
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "tour.json").write_text(json.dumps(out, indent=2, default=str))
        return out

    # Each stage is a generator: it yields (fraction of the stage, message) and returns its result dict.

    def _model(self):
        yield 0.1, f"Loading {DEFAULT_MODEL} (converted once from the bundled file)…"
        folder = resolve(DEFAULT_MODEL, log=lambda m: None)
        return {"message": f"{DEFAULT_MODEL} is ready, offline.", "path": str(folder)}

    def _dataset(self):
        path, plan = write_demo(self.folder)
        yield 1.0, "Written."
        return {"message": f"{plan.total} Alpaca rows written: {plan.clean} good ones, {len(plan.exact)} exact "
                           f"duplicates, {len(plan.near)} near-duplicates and {len(plan.refusals)} refusals planted.",
                "path": str(path), "plan": plan.to_dict()}

    def _filter(self):
        path = Path(self.results["dataset"]["path"])
        recipe = FilterRecipe(sources=[Source(path=str(path), name="tour demo")], name=self.name("data"),
                              steps=[ExactDedup(), FuzzyDedup(), Refusals()])
        yield 0.1, "Exact dedup, fuzzy dedup (MinHash), refusal rule…"
        result = pipeline.run(recipe, log=lambda m: None)
        folder = data_export.export(result, recipe)
        report = result.report()
        dropped = {s["type"]: s["removed"] for s in report["funnel"]}
        steps = ", ".join(f"{s['step'].split('. ', 1)[1]} −{s['removed']}" for s in report["funnel"])
        return {"message": f"{report['rows_in']} → {report['rows_out']} rows ({steps}).", "artifact": str(folder),
                "rows_in": report["rows_in"], "rows_out": report["rows_out"], "dropped": dropped}

    def _train(self):
        r = self.recipe
        recipe = TrainRecipe(model=DEFAULT_MODEL, dataset=self.results["filter"]["artifact"], adapter="lora",
                             lora_r=r.lora_r, lora_alpha=2 * r.lora_r, lora_dropout=0.0, max_steps=r.steps,
                             batch_size=r.batch_size, max_seq_length=r.max_seq_length, learning_rate=r.learning_rate,
                             scheduler="constant", warmup_ratio=0.0, save_steps=10_000, output_name=self.name("sft"))
        job = yield from _wait(train.submit(recipe, title=f"Tour: SFT {r.steps} steps"), "SFT")
        losses = [m["loss"] for m in read_metrics(job.folder / "metrics.jsonl") if "loss" in m]
        n = max(1, min(5, len(losses) // 2))  # one step's loss depends on its rows: compare means
        first, last = sum(losses[:n]) / n, sum(losses[-n:]) / n
        return {"message": f"{len(losses)} LoRA steps; mean loss of the first and last {n} steps: {first:.2f} → "
                           f"{last:.2f}.", "artifact": str(job.folder), "job": job.id, "steps": len(losses),
                "first_loss": round(first, 4), "last_loss": round(last, 4)}

    def _merge(self):
        adapter = self.results["train"]["artifact"]
        job = yield from _wait(editor.start(offline_yaml(f"{DEFAULT_MODEL}+{adapter}"), name=self.name("merge")), "merge")
        res = json.loads((job.folder / "merge_result.json").read_text())
        return {"message": f"SLERP of the base and the fine-tune: {res['params']:,} parameters, {res['layers']} "
                           "layers.", "artifact": str(job.folder), "job": job.id}

    def _chat(self):
        models = {"base": DEFAULT_MODEL, "fine-tune": self.results["train"]["artifact"],
                  "merge": self.results["merge"]["artifact"]}
        spec = build_spec({"models": list(models.values()), "temperature": 0.0,
                           "max_new_tokens": self.recipe.max_new_tokens, "seed": 0})
        rows = []
        for i, prompt in enumerate(self.recipe.prompts):
            yield i / len(self.recipe.prompts), f"Asking the three models: {prompt}"
            replies = stream.collect(spec.models, [build_messages("", [], prompt)] * len(models), spec)
            failed = [f"{name}: {r.error}" for name, r in zip(models, replies) if r.error]
            if failed:
                raise LabError("A model could not answer: " + "; ".join(failed), "See the Chat tab for details.",
                               "chat")
            rows.append({"prompt": prompt, **{name: r.text.strip() for name, r in zip(models, replies)}})
        return {"message": f"{len(models)} models answered {len(rows)} prompt(s) side by side.", "replies": rows,
                "models": models}

    def _eval(self):
        rows = json.loads(Path(self.results["dataset"]["path"]).read_text())
        # kept as the tour's owner's upload: on a Space, an eval job reads a visitor's task files only from there
        path = uploads.store(heldout.write(self.folder, rows), job_caller().key)
        models = [DEFAULT_MODEL, f"{DEFAULT_MODEL}+{self.results['train']['artifact']}",
                  self.results["merge"]["artifact"]]
        job = yield from _wait(lab_eval.submit(heldout.recipe(path, models), title="Tour: evaluate"), "evaluation")
        result = eval_report.load(job.folder)
        scores = dict(zip(("base", "fine-tune", "merge"), heldout.scores(result)))
        base = scores["base"]
        shown = ", ".join(f"{k} {v:.2f}" + (f" ({v - base:+.2f})" if k != "base" and base is not None else "")
                          if v is not None else f"{k} failed" for k, v in scores.items())
        found = result.get("contamination", {}).get(models[1], {}).get("tour_heldout", {})
        held = f" {found['found']} of {found['items']} of them appear in the fine-tune's training data." \
            if found else ""
        return {"message": f"Exact match on {len(heldout.ITEMS)} held-out questions: {shown}.{held}", "job": job.id,
                "results": str(job.folder), "scores": scores, "contamination": found}


def _drive(key: str, stage, done: float, share: float):
    """Run a stage generator, turning its (fraction, message) into running events; returns its result."""
    try:
        while True:
            fraction, message = next(stage)
            yield TourEvent(key, "running", message, done + share * max(0.0, min(1.0, fraction)))
    except StopIteration as stop:
        return stop.value


def _wait(job, what: str):
    """Follow a job until it ends, yielding its progress when it changes; returns the finished job."""
    last = None
    try:
        while True:
            jobs.pump()  # reaps a finished worker (and starts the job if it queued behind another)
            job = jobs.get_job(job.id)
            if job.final:
                break
            now = (round(job.progress, 3), job.message)
            if now != last:
                last = now
                yield job.progress, job.message or f"{what} job {job.state}…"
            time.sleep(POLL_S)
    except BaseException:  # the tour was cancelled (or broke) while this stage's job ran: cancel it too
        if not jobs.get_job(job.id).final:
            jobs.cancel(job.id)
        raise
    if job.state != "succeeded":
        raise LabError(f"The {what} job {job.id} {job.state}: {(job.error or 'no error recorded')[:600]}",
                       f"Its log is {job.log_path}. What earlier stages made is kept; take the tour again.", what)
    return job
