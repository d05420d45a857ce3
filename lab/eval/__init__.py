"""Evaluate: lm-evaluation-harness on any model the lab can load, custom benchmarks from the user's rows, open
benchmarks by name, a leaderboard with deltas to the base, judged open answers, contamination, a publish gate.

Importing this package registers the `eval` job kind (the worker imports lab.eval.worker:run).
"""
from lab.jobs import register_kind

register_kind("eval", "lab.eval.worker:run", heavy=True, label="Evaluate")


def submit(recipe, token: str | None = None, out=None, title: str = ""):
    """Check the recipe (every task file read and checked, task names known; no model loaded), then queue the
    job: it starts now unless another heavy job runs. Results land in `out` (default: LAB_HOME/evals/…)."""
    from lab import jobs
    from lab.eval.flow import new_out
    from lab.eval.plan import make
    from lab.eval.recipe import EvalRecipe

    recipe = EvalRecipe.parse(recipe)
    plan = make(recipe, token)
    names = ", ".join(plan.names[:3]) + ("…" if len(plan.names) > 3 else "")
    return jobs.submit("eval", recipe, title=title or f"Evaluate {len(recipe.models)} model(s) on {names}",
                       token=token, artifact_dir=out or new_out())
