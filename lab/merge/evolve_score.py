"""Scoring evolve candidates: merge with the lab's merge, score with the Evaluate engine, cache by content.

Three caches, each counted: the same candidate parameters (rounded as the config rounds them) are not merged again,
the same merged weights (their content hash) are not scored again within the search, and the Evaluate engine's own
result cache, keyed by model content, answers for weights scored before (a parent alone, scored up front).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

from lab.eval.flow import new_out
from lab.eval.recipe import EvalRecipe
from lab.eval.run import evaluate
from lab.merge.evolve_recipe import EvolveRecipe
from lab.merge.worker import MergeOptions, merge


def weights_hash(folder: Path) -> str:
    """sha256 of the model's safetensors, in name order: two merges with the same tensors hash the same."""
    h = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.safetensors")):
        h.update(path.name.encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def headline(result: dict, index: int = 0) -> tuple[float, dict]:
    """(mean of the tasks' headline metrics, {task: value}) for one model of an Evaluate result."""
    metrics = {t["name"]: t["metric"] for t in result.get("tasks", [])}
    model = result["models"][index]
    if model.get("error"):
        raise RuntimeError(f"scoring {model['label']} failed: {model['error'].splitlines()[0]}")
    per = {}
    for task, values in model["scores"].items():
        metric = metrics.get(task) or next(iter(values), "")
        if metric in values and task in metrics:
            per[task] = float(values[metric])
    if not per:  # suites: their sub-tasks carry the scores
        per = {task: float(v[next(iter(v))]) for task, v in model["scores"].items() if v}
    return (sum(per.values()) / len(per) if per else 0.0), per


class Scorer:
    """Scores candidates of one search; keeps only the best merge's folder on disk."""

    def __init__(self, recipe: EvolveRecipe, folder: Path, token: str | None = None, log=print, caller=None):
        self.recipe, self.folder, self.token, self.log, self.caller = recipe, Path(folder), token, log, caller
        self.by_params: dict[str, dict] = {}
        self.by_weights: dict[str, dict] = {}
        self.hits = {"params": 0, "weights": 0, "eval": 0}
        self.candidates: list[dict] = []
        self.best: dict | None = None
        (self.folder / "candidates").mkdir(parents=True, exist_ok=True)

    def evaluate(self, models: list[str], tasks: list[str], stem: str, contamination: bool = False) -> dict:
        recipe = EvalRecipe.parse({"models": models, "tasks": tasks, "limit": self.recipe.limit,
                                   "contamination": contamination})
        result = evaluate(recipe, new_out(stem), self.token, log=lambda m: None)
        return result

    def score(self, x: list[float], generation: int) -> dict:
        """One candidate: its config, fitness and where the score came from (merged | params | weights)."""
        config = self.recipe.to_config(x)
        key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:20]
        n = len(self.candidates)
        started = time.time()
        if key in self.by_params:
            self.hits["params"] += 1
            row = {**self.by_params[key], "source": "params"}
        else:
            row = self._merge_and_score(config, n)
            self.by_params[key] = row
        row = {**row, "index": n, "generation": generation, "x": [round(float(v), 4) for v in x],
               "seconds": round(time.time() - started, 2)}
        self.candidates.append(row)
        with open(self.folder / "candidates.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        return row

    def _merge_and_score(self, config: dict, n: int) -> dict:
        out = self.folder / "candidates" / f"c{n:04d}"
        merge(config, out, MergeOptions(random_seed=self.recipe.seed), token=self.token, log=lambda m: None,
              caller=self.caller)
        digest = weights_hash(out)
        if digest in self.by_weights:
            self.hits["weights"] += 1
            shutil.rmtree(out, ignore_errors=True)
            return {**self.by_weights[digest], "config": config, "source": "weights"}
        result = self.evaluate([str(out)], self.recipe.fitness, f"evolve-c{n:04d}")
        cached = bool(result["models"][0].get("cached"))  # the same weights as a model scored before (a parent)
        self.hits["eval"] += cached
        fitness, per_task = headline(result)
        row = {"config": config, "fitness": fitness, "per_task": per_task, "weights": digest[:16],
               "folder": str(out), "source": "eval cache" if cached else "merged"}
        self.by_weights[digest] = row
        self.log(f"Candidate {n}: fitness {fitness:.4f}")
        self._keep_best(row)
        return row

    def _keep_best(self, row: dict) -> None:
        """Only the best merge so far stays on disk (a search may propose hundreds)."""
        if self.best is None or row["fitness"] > self.best["fitness"]:
            if self.best is not None:
                shutil.rmtree(self.best["folder"], ignore_errors=True)
            self.best = row
        else:
            shutil.rmtree(row["folder"], ignore_errors=True)

    def saved(self) -> int:
        """Candidates that cost no lm-eval run."""
        return self.hits["params"] + self.hits["weights"] + self.hits["eval"]
