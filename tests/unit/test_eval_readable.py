"""Evaluate's results read right (issue 26): "vs base" per metric, an empty filter says so, exact match finds the
answer in a worded reply (the exported lm-eval task carries the same filter, scored by lm-eval's own code), and
contamination is told at Check."""
import contextlib
import json

import pytest
import yaml

from lab.errors import LabError
from lab.eval import contamination, plan, report
from lab.eval.custom import build
from lab.eval.filters import every_extraction
from lab.eval.re2_filter import use_re2
from lab.eval.recipe import CustomTask, EvalRecipe
from tests.eval_support import write_jsonl

RESULT = {"tasks": [{"name": "arith", "metric": "acc"}, {"name": "logic", "metric": "acc"},
                    {"name": "facts", "metric": "exact_match"}],
          "models": [{"label": "base", "scores": {"arith": {"acc": 0.4}, "logic": {"acc": 0.5},
                                                  "facts": {"exact_match": 0.2}}},
                     {"label": "tuned", "scores": {"arith": {"acc": 0.6}, "logic": {"acc": 0.6},
                                                   "facts": {"exact_match": 0.1}}}]}


def test_vs_base_is_told_per_metric_never_averaged_across_metrics():
    headers, rows = report.leaderboard(RESULT)
    assert headers[-1] == "vs base (per metric)"
    assert rows[0][-1] == "base"
    assert rows[1][-1] == "acc +0.150 (mean of 2 tasks) · exact_match -0.100"


def test_an_empty_filter_says_so_in_a_sentence(tmp_path):
    for i, correct in enumerate((False, True)):  # the base got it wrong, the other right: nothing is worse
        (tmp_path / "samples" / str(i)).mkdir(parents=True)
        (tmp_path / "samples" / str(i) / "facts.json").write_text(json.dumps(
            [{"id": 0, "prompt": "p", "target": "7", "answer": "7", "correct": correct}]))
    _, rows = report.samples(tmp_path, RESULT, "facts", worse_than_base=True)
    assert rows == []
    note = report.samples_note(rows, "facts", True)
    assert note.startswith("None on **facts**") and "base got right" in note
    _, rows = report.samples(tmp_path, RESULT, "facts")
    assert len(rows) == 1 and report.samples_note(rows, "facts", False) == ""


def _lm_eval_scores(folder, name: str, reply: str) -> dict:
    """lm-eval's own task from the exported YAML, its filters and its metric on `reply` (what its run computes once
    the model has answered): {filter: (extracted, exact_match)}."""
    from lm_eval.tasks import TaskManager, get_task_dict

    use_re2()
    with contextlib.chdir(folder):
        task = get_task_dict([name], TaskManager(include_path=str(folder), include_defaults=False))[name]
        task.build_all_requests(limit=1)
        task.instances[0].resps.append(reply)
        task.apply_filters()
        doc = task.eval_docs[0]
        return {key: (resp, float(task.process_results(doc, [resp])["exact_match"]))
                for key, resp in task.instances[0].filtered_resps.items()}


@pytest.mark.parametrize("extract, reply, expected", [
    ("whole", "A week is 7 days.", 0.0), ("last_number", "A week is 7 days.", 1.0),
    ("first_line", "\nSeven\n", 1.0), ("regex", "The answer is seven days", 1.0)])
def test_find_the_answer_scores_as_lm_eval_scores_the_exported_task(tmp_path, extract, reply, expected):
    data = write_jsonl(tmp_path / "week.jsonl", [{"prompt": "How many days are in a week?",
                                                  "answer": "7" if extract != "first_line" and extract != "regex"
                                                  else "seven"}])
    spec = CustomTask(path=str(data), extract=extract, regex=r"answer is (\w+)" if extract == "regex" else "")
    task = build(spec)
    task.write(tmp_path / "tasks")
    cfg = yaml.safe_load(task.yaml)
    assert ("filter_list" in cfg) == (extract != "whole")
    assert cfg["generation_kwargs"]["until"] == (["\n\n"] if extract in ("last_number", "first_line") else ["\n"])
    (key, (found, score)), = _lm_eval_scores(tmp_path / "tasks", "week", reply).items()
    assert score == expected and key == ("none" if extract == "whole" else "extract")
    assert found == {"whole": reply, "last_number": "7", "first_line": "Seven", "regex": "seven"}[extract]


def test_the_preview_filters_score_each_extraction_as_its_own_task_would(tmp_path):
    """The preview generates once up to a blank line; its `whole` cuts at the first newline as the whole task's
    generation stops there."""
    data = write_jsonl(tmp_path / "week.jsonl", [{"prompt": "How many days are in a week?", "answer": "7"}])
    spec = CustomTask(path=str(data), regex=r"is (\d+)")
    task = build(spec)
    task.write(tmp_path / "tasks")
    cfg = yaml.safe_load(task.yaml)
    cfg["filter_list"] = every_extraction(spec.regex)
    (tmp_path / "tasks" / "week.yaml").write_text(yaml.safe_dump(cfg))
    got = _lm_eval_scores(tmp_path / "tasks", "week", "A week is 7 days.\nOr 168 hours")
    assert got == {"whole": ("A week is 7 days.", 0.0), "last_number": ("168", 0.0),
                   "first_line": ("A week is 7 days.", 0.0), "regex": ("7", 1.0)}


def test_the_extraction_needs_its_regex_and_a_regex_alone_still_extracts(tmp_path):
    data = str(write_jsonl(tmp_path / "em.jsonl", [{"prompt": "2+2?", "answer": 4}]))
    assert CustomTask(path=data, regex=r"(\d+)").extract == "regex"
    with pytest.raises(LabError) as err:
        EvalRecipe.parse({"custom": [{"path": data, "extract": "regex"}]})
    assert "regex" in str(err.value)


def test_contamination_is_told_at_check(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"instruction": "What is the secret word?", "output": "pineapple"}])
    model = tmp_path / "tuned"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (model / "model.safetensors").write_bytes(b"")
    (model / "lab.json").write_text(json.dumps({"parents": [{"ref": "train", "kind": "dataset",
                                                             "path": str(train)}]}))
    quiz = write_jsonl(tmp_path / "quiz.jsonl", [{"prompt": "What is the SECRET word?", "answer": "pineapple"},
                                                 {"prompt": "What is the capital of Peru?", "answer": "Lima"}])
    recipe = EvalRecipe.parse({"models": [str(model)], "tasks": [str(quiz)]})
    lines = contamination.at_check(plan.make(recipe))
    assert lines == ["tuned: 1 of 2 items of quiz appear in the training data (train)"]
    recipe = EvalRecipe.parse({"models": [str(model)], "tasks": [str(quiz)], "contamination": False})
    assert contamination.at_check(plan.make(recipe)) == ["The contamination check is off for this run."]
