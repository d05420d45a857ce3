"""The preview of exact match's "find the answer" (lab.eval.filters): the base model answers the first few items of
an exact-match task through lm-eval once, with every extraction as its own filter, and each one's find and score
are shown, before the run."""
from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from lab.errors import LabError
from lab.eval import engine
from lab.eval.custom import BuiltTask, task_yaml
from lab.eval.filters import LABELS, every_extraction
from lab.eval.models import loaded, spec as model_spec
from lab.eval.recipe import CustomTask, EvalRecipe
from lab.eval.run import _chat_template as has_chat_template

PREVIEW_ITEMS = 5


def preview_yaml(built: BuiltTask, spec: CustomTask) -> str:
    """The task's YAML with every extraction as a filter (the generation reads up to a blank line)."""
    cfg = yaml.safe_load(task_yaml(built.name, "exact_match", spec.model_copy(update={"extract": "last_number"}),
                                   built.source))
    cfg["filter_list"] = every_extraction(spec.regex)
    return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)


def exact_task(plan) -> tuple[BuiltTask, CustomTask]:
    """The first custom exact-match task of a plan, and its settings."""
    for built in plan.custom:
        if built.kind == "exact_match" and built.spec is not None:
            return built, built.spec
    raise LabError("No exact-match task to preview.", "Add a task file with prompt and answer columns (or pick the "
                   "kind exact_match).", "kind")


def preview(recipe: EvalRecipe, plan, token: str | None = None, log=lambda m: None) -> dict:
    """The base model's replies to the first few items, what each extraction finds in them and its score.
    {"headers", "rows", "scores": {extraction: mean}, "task"}."""
    built, task = exact_task(plan)
    ref = recipe.models[0]
    chat = {"on": True, "off": False}.get(recipe.chat_template)
    chat = has_chat_template(model_spec(ref, token, log)) if chat is None else chat
    with tempfile.TemporaryDirectory(prefix="lab-extract-") as tmp:
        folder = Path(tmp)
        built.write(folder)
        (folder / f"{built.name}.yaml").write_text(preview_yaml(built, task), encoding="utf-8")
        settings = engine.RunSettings(PREVIEW_ITEMS, 0, chat, recipe.batch_size)
        with loaded(ref, recipe.batch_size, token, log) as (lm, _):
            results = engine.evaluate(lm, [built.name], [folder], folder, settings)
    return table(results, built.name, bool(task.regex))


def table(results: dict, name: str, with_regex: bool) -> dict:
    """The preview's rows from lm-eval's results: item, target, reply, then each extraction's find (✓ or ✗)."""
    modes = ["whole", "last_number", "first_line"] + (["regex"] if with_regex else [])
    found: dict[int, dict] = {}
    for s in results.get("samples", {}).get(name, []):
        row = found.setdefault(s["doc_id"], {"target": str(s.get("target", "")), "reply": _reply(s)})
        value = s.get("exact_match")
        row[s["filter"]] = f"{'✓' if value and value >= 1 else '✗'} {s['filtered_resps'][0]}"
    entry = results.get("results", {}).get(name, {})
    scores = {m: entry.get(f"exact_match,{m}") for m in modes}
    headers = ["#", "target", "reply"] + [LABELS[m] for m in modes]
    rows = [[k, r["target"], r["reply"]] + [r.get(m, "") for m in modes] for k, r in sorted(found.items())]
    return {"headers": headers, "rows": rows, "scores": scores, "task": name}


def _reply(sample: dict) -> str:
    resps = sample.get("resps") or [[""]]
    return str(resps[0][0] if resps and resps[0] else "")


def describe(out: dict) -> str:
    """'On 5 items of facts the base scores: whole reply 0.00 · last number 0.80 · …' and a suggestion."""
    scores = {m: v for m, v in out["scores"].items() if v is not None}
    text = f"On the first {len(out['rows'])} items of **{out['task']}** the base model scores: " + \
        " · ".join(f"{LABELS[m]} {v:.2f}" for m, v in scores.items()) + "."
    best = max(scores, key=lambda m: scores[m], default=None)
    if best and best != "whole" and scores[best] > scores.get("whole", 0):
        text += f" Its answers are right but worded: pick **{LABELS[best]}** under *Find the answer*."
    return text
