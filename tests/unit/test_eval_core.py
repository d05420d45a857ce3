"""Evaluate, without a model: custom tasks (kinds, row errors naming line and field, the lm-eval YAML), task
names, the estimate, judges over a real HTTP endpoint (retries, unscored items), contamination, the gate."""
import json

import pytest
import yaml

from lab import scores
from lab.errors import LabError
from lab.eval import catalog, contamination, judge, plan
from lab.eval.custom import build
from lab.eval.recipe import CustomTask, EvalRecipe, JudgeSettings
from tests.eval_support import MC_ROWS, JudgeHandler, start_judge, write_jsonl


def test_a_multiple_choice_file_becomes_an_lm_eval_task(tmp_path):
    path = write_jsonl(tmp_path / "Capitals Quiz.jsonl", MC_ROWS)
    task = build(CustomTask(path=str(path)))
    assert (task.name, task.kind, task.metric) == ("capitals_quiz", "multiple_choice", "acc")
    assert [r["answer"] for r in task.rows] == [1, 0, 1, 1]  # an index, or the choice's text
    cfg = yaml.safe_load(task.yaml)
    assert cfg["output_type"] == "multiple_choice" and cfg["dataset_kwargs"]["data_files"]["test"] == \
        "capitals_quiz.jsonl"
    yaml_path = task.write(tmp_path / "out")
    assert yaml_path.read_text() == task.yaml and (tmp_path / "out/capitals_quiz.jsonl").read_text() == task.data_text()
    assert build(CustomTask(path=str(path))).hash == task.hash
    write_jsonl(path, MC_ROWS[:3])
    assert build(CustomTask(path=str(path))).hash != task.hash  # new rows, new cache key


def test_a_written_task_reads_its_data_next_to_its_yaml_from_any_folder(tmp_path, monkeypatch):
    from lm_eval.tasks import TaskManager

    task = build(CustomTask(path=str(write_jsonl(tmp_path / "quiz.jsonl", MC_ROWS))))
    task.write(tmp_path / "tasks")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no quiz.jsonl here: lm-eval finds it next to the YAML
    loaded = TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False).load("quiz")["tasks"]
    assert [dict(d) for d in loaded["quiz"].test_docs()] == task.rows


def test_exact_match_and_judged_kinds_from_their_columns(tmp_path):
    em = build(CustomTask(path=str(write_jsonl(tmp_path / "em.jsonl", [{"prompt": "2+2?", "answer": 4}])),
                          regex=r"(\d+)"))
    cfg = yaml.safe_load(em.yaml)
    assert em.kind == "exact_match" and em.rows == [{"prompt": "2+2?", "answer": "4"}]
    assert cfg["metric_list"][0]["ignore_case"] and cfg["filter_list"][0]["filter"][0]["regex_pattern"] == r"(\d+)"
    judged = build(CustomTask(path=str(write_jsonl(tmp_path / "open.jsonl", [{"prompt": "Write a haiku."}]))))
    assert judged.kind == "judge" and judged.metric == "score" and judged.rows[0]["reference"] == ""


@pytest.mark.parametrize("rows, where, field", [
    ([MC_ROWS[0], {"question": "Q?", "answer": 0}], "line 3", "choices"),
    ([MC_ROWS[0], {"question": "Q?", "choices": [], "answer": 0}], "line 3", "choices"),
    ([MC_ROWS[0], {"question": "Capital of Spain?", "choices": ["Paris", "Rome"], "answer": "Madrid"}], "line 3",
     "answer"),
    ([MC_ROWS[0], {"question": "", "choices": ["a", "b"], "answer": 0}], "line 3", "question"),
])
def test_a_bad_row_is_named_by_its_line_and_field(tmp_path, rows, where, field):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n")  # a blank line 2
    with pytest.raises(LabError) as err:
        build(CustomTask(path=str(path), kind="multiple_choice"))
    assert err.value.field == field and where in str(err.value) and f"`{field}`" in str(err.value)


def test_csv_rows_name_their_line_and_split_choices(tmp_path):
    path = tmp_path / "quiz.csv"
    path.write_text("question,choices,answer\nCapital of France?,Paris | Rome,Paris\nCapital of Peru?,Lima | Oslo,"
                    "Quito\n")
    with pytest.raises(LabError, match="line 3: `answer` 'Quito' is not among the choices"):
        build(CustomTask(path=str(path)))
    path.write_text("question,choices,answer\nCapital of France?,Paris | Rome,Paris\n")
    assert build(CustomTask(path=str(path))).rows == [{"question": "Capital of France?", "choices": ["Paris", "Rome"],
                                                       "answer": 0}]


def test_unknown_names_list_the_closest_and_open_tasks_need_the_hub(tmp_path):
    with pytest.raises(LabError) as err:
        plan.classify("arc_esay")
    assert "arc_easy" in str(err.value) and err.value.field == "tasks"
    assert plan.classify("acme/quiz:validation") == CustomTask(hub="acme/quiz", split="validation")
    assert "agieval_nous" in catalog.expand(["nous"]) and "truthfulqa_mc2" in catalog.expand(["nous"])
    assert all(n in catalog.index() for n in catalog.expand(["nous", "leaderboard_v2"]))
    with pytest.raises(LabError, match="unreachable \\(offline\\).*arc_easy"):  # the tests run offline
        plan.make(EvalRecipe.parse({"tasks": ["arc_easy"]}))


def test_open_benchmarks_are_listed_but_disabled_offline():
    from lab.eval.board import open_benchmarks

    assert open_benchmarks() == (False, catalog.OFFLINE_REASON)  # the tests run offline
    labels = [label for label, _ in catalog.choices()]
    assert labels[0].startswith("Nous") and "Open LLM Leaderboard v2" in labels


def test_the_estimate_counts_items_and_calls(tmp_path):
    path = write_jsonl(tmp_path / "quiz.jsonl", MC_ROWS)
    p = plan.make(EvalRecipe.parse({"models": ["a/b", "c/d"], "tasks": [str(path)], "limit": 3}))
    est = plan.estimate(p, [135_000_000, 135_000_000])
    assert est["items"] == 3 and est["requests"] == 2 * 9 and "2 model(s) × 1 task(s)" in est["text"]


@pytest.fixture
def judge_online(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # the tests' default blocks any call


def _asker(url, **kw):
    return judge.Asker(JudgeSettings(backend="openai", endpoint=url, model="j", **kw), log=lambda m: None,
                       sleep=lambda s: None)


def test_the_judge_retries_rate_limits_and_leaves_unreachable_items_unscored(judge_online):
    server, url = start_judge()
    try:
        JudgeHandler.fail = 2  # two 429s, then answers
        rows = [{"prompt": "Capital of France?", "reference": ""}] * 2
        samples = [{"id": 0, "reply": "Paris"}, {"id": 1, "reply": "Lyon"}]
        assert judge.single(_asker(url), rows, samples) == [9.0, 3.0]
        assert JudgeHandler.calls == 4
        JudgeHandler.down, JudgeHandler.calls = True, 0
        values = judge.single(_asker(url, retries=2), rows * 3, samples * 3)
        assert values == [None] * 6
        assert JudgeHandler.calls == judge.GIVE_UP_AFTER * 3  # then it stops calling a judge that is down
        entry = judge.score_entry({"samples": {"t": samples * 3}, "scores": {}}, "t", values)
        assert entry["unscored"] == 6
    finally:
        server.shutdown()


def test_pairwise_asks_twice_with_positions_swapped(judge_online):
    server, url = start_judge()
    try:
        rows = [{"prompt": "Capital of France?", "reference": ""}] * 3
        mine = [{"id": 0, "reply": "Paris"}, {"id": 1, "reply": "Lyon"}, {"id": 2, "reply": "Paris!"}]
        reference = {0: "Lyon", 1: "Paris", 2: "Paris"}
        assert judge.pairwise(_asker(url, mode="pairwise"), rows, mine, reference) == [1.0, 0.0, 0.5]
        pairs = JudgeHandler.prompts
        assert len(pairs) == 6 and "Answer A:\nParis" in pairs[0] and "Answer B:\nParis" in pairs[1]
    finally:
        server.shutdown()


def test_contamination_finds_13_grams_and_short_items_in_the_lineage(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [
        {"instruction": "Explain, in one paragraph, why the sky looks blue on a clear and sunny day at noon.",
         "output": "Rayleigh scattering."},
        {"instruction": "What is the secret word?", "output": "pineapple"}])
    model = tmp_path / "adapter"
    model.mkdir()
    (model / "lab.json").write_text(json.dumps({"parents": [{"ref": "base", "kind": "model"},
                                                            {"ref": "train", "kind": "dataset", "path": str(train)}]}))
    items = {"t": ["Why does the sky look blue on a clear and sunny day at noon? Explain, in one paragraph!",
                   "explain in one paragraph why the sky looks blue on a clear and sunny day at noon",
                   "What is the SECRET word?", "What is the capital of Peru?"]}
    found = contamination.check(items, [model], log=lambda m: None)["t"]
    assert (found["items"], found["found"]) == (4, 2)
    assert contamination.describe({"t": found}) == ["2 of 4 items of t appear in the training data (train)"]


def test_the_gate_passes_or_blocks_with_the_numbers(tmp_path):
    folder = tmp_path / "ft"
    folder.mkdir()
    ev = {"task": "quiz", "metric": "acc", "value": 0.5, "stderr": 0.1, "base": {"model": "base", "value": 0.75}}
    (folder / "lab.json").write_text(json.dumps({"name": "ft", "evaluations": [ev]}))
    with pytest.raises(LabError) as err:
        scores.check_gate(folder, "quiz")
    assert "0.5000 acc on quiz, below its base base (0.7500)" in str(err.value) and err.value.field == "gate"
    with pytest.raises(LabError, match="no score on 'other'"):
        scores.check_gate(folder, "other")
    (folder / "lab.json").write_text(json.dumps({"name": "ft", "evaluations": [{**ev, "value": 0.75}]}))
    assert "at least the base's 0.7500" in scores.check_gate(folder, "quiz")


def test_the_card_carries_model_index_metadata(tmp_path):
    from lab.cards import render_card

    manifest = {"kind": "adapter", "name": "ft", "parents": [], "lineage": [], "evaluations": [
        {"task": "quiz", "metric": "acc", "value": 0.75, "stderr": 0.25, "base": {"model": "b", "value": 0.5}}]}
    card = render_card(tmp_path, "me/ft", manifest=manifest)
    meta = yaml.safe_load(card.split("---")[1])
    result = meta["model-index"][0]["results"][0]
    assert meta["model-index"][0]["name"] == "ft" and result["dataset"]["name"] == "quiz"
    assert result["metrics"][0] == {"type": "acc", "value": 0.75, "name": "acc", "verified": False}
    assert "| quiz | acc | 0.750 ± 0.250 | 0.500 (`b`) |" in card
