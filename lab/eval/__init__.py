"""Evaluate: lm-evaluation-harness on any model the lab can load, custom benchmarks from the user's rows, open
benchmarks by name, a leaderboard with deltas to the base, judged open answers, contamination, a publish gate.

Importing this package registers the `eval` job kind (the worker imports lab.eval.worker:run).
"""
from lab import jobs
from lab.data.judge_policy import JUDGE_KEY_ENV, acting_caller
from lab.eval import plan as eval_plan
from lab.eval.flow import new_out
from lab.eval.recipe import EvalRecipe
from lab.jobs import register_kind
from lab.jobs.manager import check_allowed

register_kind("eval", "lab.eval.worker:run", heavy=True, label="Evaluate")


def submit(recipe, token: str | None = None, out=None, title: str = "", caller=None, judge_key: str = ""):
    """Check the recipe (every task file read and checked, task names known, the judge's settings checked for
    `caller`; no model loaded), then queue the job as `caller`'s: it starts now unless another heavy job runs.
    Results land in `out` (default: LAB_HOME/evals/…).

    caller: the lab.access.Caller who asks (None: see lab.data.judge_policy.acting_caller; the app passes
    lab.ui.common.caller_of(request)). judge_key: the API key they typed for an endpoint judge; it reaches only this
    job's worker (as LAB_JUDGE_API_KEY) and is never stored. On the public demo the job is refused first."""
    check_allowed("eval")
    who = acting_caller(caller)
    recipe = EvalRecipe.parse(recipe)
    plan = eval_plan.make(recipe, token, who)
    names = ", ".join(plan.names[:3]) + ("…" if len(plan.names) > 3 else "")
    return jobs.submit("eval", recipe, title=title or f"Evaluate {len(recipe.models)} model(s) on {names}",
                       token=token, artifact_dir=out or new_out(), owner=who.key,
                       secrets={JUDGE_KEY_ENV: judge_key} if judge_key else None)
