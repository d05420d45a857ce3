"""Evolve a merge: CMA-ES (the `cma` package) proposes merge parameters, the lab merges and scores each candidate.

Before any candidate: the merge preflight (architectures, vocabularies) and the time estimate against the budget.
Generation 0 holds each parent alone (weight 1 for it), so the best is at least as fit as the better parent.
The end: the best merge as an artifact, its card telling the search, and a final Evaluate run of the parents and
the best on the fitness and held-out tasks, with the contamination check against the fitness task.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path


from lab.access import job_caller
from lab.errors import LabError
from lab.eval.models import precision
from lab.eval.plan import estimate, make
from lab.eval.recipe import EvalRecipe
from lab.merge.evolve_card import write_card
from lab.merge.evolve_recipe import EvolveRecipe
from lab.merge.evolve_score import Scorer, headline
from lab.merge.preflight import preflight
from lab.merge.recipe import dump_yaml, from_dict
from lab.merge.worker import _move_into, check_out

MERGE_BYTES_S = 2e8  # mergekit on CPU: bytes of input tensors read and combined per second (rough)


def check(recipe: EvolveRecipe, out: Path, token: str | None = None) -> dict:
    """Refuse before any candidate: mismatched models (the preflight), or a budget one generation exceeds."""
    report = preflight(from_dict(recipe.to_config(recipe.parents()[0])), token=token, out=Path(out).parent)
    report.raise_for_errors()
    plan = make(EvalRecipe.parse({"tasks": recipe.fitness, "limit": recipe.limit}), token)
    gpu = precision() != "fp32"
    eval_s = estimate(plan, [report.out_params], gpu=gpu)["seconds"]
    merge_s = 2 + report.out_params * 4 * len(recipe.models) / MERGE_BYTES_S
    per = eval_s + merge_s
    first = max(recipe.population, len(recipe.parents()))
    if recipe.time_s and first * per > recipe.time_s:
        raise LabError(f"The fitness task takes about {per:.0f} s per candidate ({plan.names and ', '.join(plan.names)}"
                       f"), so the first generation of {first} needs about {first * per:.0f} s: more than the "
                       f"budget of {recipe.time_s:.0f} s.", "Raise time_s, set a smaller limit on the fitness "
                       "task's items, or use a smaller task.", "fitness")
    return {"seconds_per_candidate": round(per, 1), "estimate_s": round(per * recipe.candidates),
            "params": report.out_params}


def search(recipe: EvolveRecipe, scorer: Scorer, on_generation=lambda row, best: None,
           check_cancelled=lambda: None) -> list[dict]:
    """Run CMA-ES until the candidate or time budget is spent; returns each generation's {best, mean}."""
    dim, parents = recipe.dimension, recipe.parents()
    pad = dim < 2  # cma needs two dimensions: a 1-D search carries one unused coordinate
    x0 = [sum(p[i] for p in parents) / len(parents) for i in range(dim)] + [0.5] * pad
    import cma  # heavy: cma imports matplotlib.pyplot, loaded only when a search runs

    es = cma.CMAEvolutionStrategy(x0, recipe.sigma, {"bounds": [0, 1], "popsize": recipe.population,
                                                     "seed": recipe.seed + 1, "verbose": -9})
    started, generations = time.time(), []
    while len(scorer.candidates) < recipe.candidates:
        if recipe.time_s and time.time() - started > recipe.time_s:
            break
        gen = len(generations)
        xs = [list(x) for x in es.ask()]
        extra = []
        if gen == 0:
            for i, p in enumerate(parents):
                (xs.__setitem__(i, p + [0.5] * pad) if i < len(xs) else extra.append(p + [0.5] * pad))
        left = recipe.candidates - len(scorer.candidates)
        rows = []
        for x in (extra + xs)[:max(left, len(extra))]:
            check_cancelled()
            rows.append(scorer.score(x[:dim], gen))
        told = rows[len(extra):]
        if len(told) == len(xs):
            es.tell(xs, [-r["fitness"] for r in told])
        fits = [r["fitness"] for r in rows]
        row = {"generation": gen, "best": max(fits), "mean": sum(fits) / len(fits), "candidates": len(rows),
               "best_so_far": scorer.best["fitness"] if scorer.best else max(fits)}
        generations.append(row)
        on_generation(row, scorer.best)
        if len(told) < len(xs):
            break
    return generations


def evolve(recipe: EvolveRecipe, out: Path, token: str | None = None, log=print, on_generation=None,
           progress=lambda f, m="": None, job_folder: bool = False, caller=None, check_cancelled=lambda: None) -> dict:
    """The whole run: checks, search, the best merge into `out` with its card, final scores. Returns the JSON."""
    started = time.time()
    out = Path(out).expanduser().resolve()
    check_out(out, job_folder)
    plan = check(recipe, out, token)
    log(f"Searching {recipe.dimension} parameter(s) of a {recipe.method} merge: about "
        f"{plan['seconds_per_candidate']} s per candidate, budget {recipe.candidates} candidates.")
    work = out / "search" if job_folder else out.parent / f".{out.name}.search"
    shutil.rmtree(work, ignore_errors=True)
    scorer = Scorer(recipe, work, token, log, caller)

    def each(row, best):
        progress(min(0.85, 0.85 * len(scorer.candidates) / recipe.candidates),
                 f"Generation {row['generation']}: best {row['best']:.4f}, mean {row['mean']:.4f}")
        if best is not None:
            (work / "best.yaml").write_text(dump_yaml(best["config"]))
        if on_generation:
            on_generation(row, best)

    try:
        progress(0.02, "Scoring the parents alone on the fitness and held-out tasks…")
        parents = score_parents(recipe, scorer)
        generations = search(recipe, scorer, each, check_cancelled)
        best = scorer.best
        _move_into(Path(best["folder"]), out)
        shutil.copy(work / "candidates.jsonl", out / "evolve_candidates.jsonl")
    finally:
        shutil.rmtree(work if not job_folder else work / "candidates", ignore_errors=True)
    progress(0.9, "Scoring the best merge on the fitness and held-out tasks, checking contamination…")
    final = score_best(recipe, scorer, out)
    result = {"out": str(out), "best": {"recipe": best["config"], "fitness": best["fitness"],
                                        "per_task": best["per_task"], "x": _x_of(scorer, best)},
              **final, "parents": parents, "generations": generations, "candidates": len(scorer.candidates),
              "scored": len(scorer.candidates) - scorer.saved(), "cache_hits": dict(scorer.hits),
              "cache_saved": scorer.saved(),
              "fitness_tasks": recipe.fitness, "budget": {"candidates": recipe.candidates, "time_s": recipe.time_s,
                                                          "population": recipe.population},
              "seconds": round(time.time() - started, 2)}
    result["seconds_per_candidate"] = round(result["seconds"] / max(1, len(scorer.candidates)), 2)
    write_card(out, recipe, result)
    (out / "evolve_result.json").write_text(json.dumps(result, indent=2))
    return result


def _tasks(recipe: EvolveRecipe, token) -> tuple[list[str], set[str]]:
    tasks = list(dict.fromkeys(recipe.fitness + recipe.held_out))
    return tasks, set(make(EvalRecipe.parse({"tasks": recipe.fitness}), token).names)


def _split(result: dict, index: int, fit_names: set[str]) -> dict:
    _, per = headline(result, index)
    fitness = [v for t, v in per.items() if t in fit_names]
    held = {t: v for t, v in per.items() if t not in fit_names}
    return {"fitness": sum(fitness) / len(fitness) if fitness else None, "held_out": held,
            "held_out_mean": sum(held.values()) / len(held) if held else None}


def score_parents(recipe: EvolveRecipe, scorer: Scorer) -> dict:
    """Each parent alone on the fitness and held-out tasks: the bar the search must reach, and the Evaluate
    cache's entry for generation 0's one-parent candidates (the same weights)."""
    parents = recipe.searched_models if recipe.method != "slerp" else recipe.models
    tasks, fit_names = _tasks(recipe, scorer.token)
    models = list(dict.fromkeys(parents))[:6]
    result = scorer.evaluate(models, tasks, "evolve-parents")
    return {ref: _split(result, i, fit_names) for i, ref in enumerate(models)}


def score_best(recipe: EvolveRecipe, scorer: Scorer, out: Path) -> dict:
    """The best merge, now in `out`, on fitness + held-out tasks, with the contamination check of its lineage."""
    tasks, fit_names = _tasks(recipe, scorer.token)
    result = scorer.evaluate([str(out)], tasks, "evolve-best", contamination=True)
    scores = _split(result, 0, fit_names)
    return {"held_out": scores["held_out"], "held_out_mean": scores["held_out_mean"],
            "fitness_names": sorted(fit_names), "contamination": result.get("contamination", {}),
            "eval_out": result.get("out", "")}


def _x_of(scorer: Scorer, best: dict) -> list[float]:
    return next((c["x"] for c in scorer.candidates if c.get("folder") == best["folder"]), [])


def run(ctx) -> None:
    """The `merge.evolve` job: ctx.recipe is the evolve config; metrics rows are the live plot."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    recipe = EvolveRecipe.parse(ctx.recipe or {})
    result = evolve(recipe, ctx.folder, token=os.environ.get("HF_TOKEN"), log=ctx.log,
                    on_generation=lambda row, best: ctx.metric(step=row["generation"], best=row["best"],
                                                               mean=row["mean"], best_so_far=row["best_so_far"]),
                    progress=lambda f, m="": ctx.progress(f, m), job_folder=True, caller=job_caller(),
                    check_cancelled=ctx.check_cancelled)
    ctx.progress(1.0, f"Done: best fitness {result['best']['fitness']:.4f} after {result['candidates']} candidates",
                 force=True)
