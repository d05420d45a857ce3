"""Exact match's "find the answer" on the real bundled model through real lm-eval (issue 26): the preview's score
for each extraction is the score the run with that extraction gets, and worded answers ("A week has 7 days")
score with the last number where the whole reply scores 0."""
import json

import pytest

from lab.eval import extract, plan
from lab.eval.flow import evaluate_and_record
from lab.eval.recipe import EvalRecipe

pytestmark = pytest.mark.slow

COUNTS = [{"prompt": "How many days are in a week?", "answer": "7"},
          {"prompt": "How many legs does a spider have?", "answer": "8"},
          {"prompt": "How many months are in a year?", "answer": "12"}]


def test_the_preview_scores_each_extraction_as_the_run_does(tmp_path, bundled_model):
    data = tmp_path / "count.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in COUNTS))
    recipe = EvalRecipe.parse({"models": [str(bundled_model)], "custom": [{"path": str(data)}]})
    shown = extract.preview(recipe, plan.make(recipe))
    assert shown["headers"][:3] == ["#", "target", "reply"] and len(shown["rows"]) == len(COUNTS)
    assert all(row[4].startswith(("✓", "✗")) for row in shown["rows"])  # the last number each reply holds
    assert shown["scores"]["last_number"] > shown["scores"]["whole"]  # SmolLM2 answers in sentences
    assert "pick **last number**" in extract.describe(shown)

    recipe = EvalRecipe.parse({"models": [str(bundled_model)], "use_cache": False,
                               "custom": [{"path": str(data), "extract": "last_number"}]})
    ran = evaluate_and_record(recipe, tmp_path / "out", log=lambda m: None)
    assert ran["models"][0]["scores"]["count"]["exact_match"] == pytest.approx(shown["scores"]["last_number"])
