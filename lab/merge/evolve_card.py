"""The evolved merge's card: the search (fitness task, budget, each generation's best), the held-out scores beside
the parents', and the contamination check against the fitness task. Appended to the merge's own README."""
from __future__ import annotations

from pathlib import Path

from lab.eval.contamination import describe
from lab.merge.evolve_recipe import EvolveRecipe


def _num(v) -> str:
    return "–" if v is None else f"{v:.4f}"


def section(recipe: EvolveRecipe, result: dict) -> str:
    budget = f"{recipe.candidates} candidates" + (f" or {recipe.time_s:.0f} s" if recipe.time_s else "")
    scope = "global" if recipe.groups == 1 else f"{recipe.groups} layer groups"
    lines = ["", "## Evolutionary search", "",
             f"CMA-ES searched {', '.join(recipe.search)} ({scope}) of a **{recipe.method}** merge, population "
             f"{recipe.population}, budget {budget}.",
             f"Fitness: {', '.join(recipe.fitness)}" + (f" (first {recipe.limit} items)" if recipe.limit else "")
             + f". Held out: {', '.join(recipe.held_out) or 'none'}.",
             f"{result['candidates']} candidates, {result['scored']} scored by lm-eval; the cache saved "
             f"{result['cache_saved']} (same parameters {result['cache_hits']['params']}, same weights "
             f"{result['cache_hits']['weights']}, weights scored before {result['cache_hits']['eval']}).", "",
             "| Generation | Best | Mean | Best so far |", "|---|---|---|---|"]
    lines += [f"| {g['generation']} | {_num(g['best'])} | {_num(g['mean'])} | {_num(g['best_so_far'])} |"
              for g in result["generations"]]
    lines += ["", "| Model | Fitness | Held out |", "|---|---|---|",
              f"| **this merge** | {_num(result['best']['fitness'])} | {_num(result['held_out_mean'])} |"]
    for ref, s in result["parents"].items():
        lines.append(f"| {Path(ref).name if ref.startswith('/') else ref} | {_num(s['fitness'])} | "
                     f"{_num(s['held_out_mean'])} |")
    lines += ["", "### Contamination against the fitness task", ""]
    found = [f"- {Path(ref).name}: {line}" for ref, per in result.get("contamination", {}).items()
             for line in describe({t: r for t, r in per.items() if t in result.get("fitness_names", [])})]
    lines += found or ["No training data in the lineage of this merge or its parents to check against."]
    return "\n".join(lines) + "\n"


def write_card(out: Path, recipe: EvolveRecipe, result: dict) -> None:
    card = Path(out) / "README.md"
    text = card.read_text() if card.is_file() else f"# {Path(out).name}\n"
    card.write_text(text.rstrip("\n") + "\n" + section(recipe, result))
