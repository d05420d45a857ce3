"""The pipeline, its recipe round trip, the CLI and the exported artifact."""
import json

import pyarrow.parquet as pq
import pytest
import yaml

from lab.__main__ import main
from lab.data import export
from lab.data.pipeline import run
from lab.data.recipe import FilterRecipe, make_step
from lab.errors import LabError
from tests.unit.data_fixtures import write_alpaca


def _recipe(path, *steps, **extra) -> FilterRecipe:
    return FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": list(steps), **extra})


def _cli(capsys, *argv) -> dict:
    assert main(["data", *map(str, argv)]) == 0
    return json.loads(capsys.readouterr().out)


def test_recipe_round_trip_keeps_identical_rows(tmp_path):
    path, expected = write_alpaca(tmp_path / "a.jsonl")
    recipe = _recipe(path, {"type": "exact_dedup"}, {"type": "fuzzy_dedup", "threshold": 0.7},
                     {"type": "refusals", "phrases": ["as an AI"]}, {"type": "regex", "exclude": "chess"},
                     {"type": "length", "enabled": False}, {"type": "judge", "enabled": False}, {"type": "empty"})
    again = FilterRecipe.from_yaml(recipe.to_yaml())
    assert again == recipe
    first, second = run(recipe, log=lambda m: None), run(again, log=lambda m: None)
    assert first.records() == second.records()
    assert len(first.kept) == expected["kept"] - 1  # the chess row is excluded too
    assert first.removed_counts() == {"exact duplicate": 4, "refusal/boilerplate": 3, "regex: exclude match": 1}
    assert [s.enabled for s in first.funnel] == [True, True, True, True, False, False, True]


def test_duplicates_name_the_kept_row(tmp_path):
    path, _ = write_alpaca(tmp_path / "a.jsonl")
    result = run(_recipe(path, {"type": "exact_dedup"}), log=lambda m: None)
    groups = {g["kept_row"]: [r["row"] for r in g["removed"]] for g in result.duplicate_groups()}
    assert groups == {0: [16, 17], 5: [18], 9: [19]}


def test_cli_filter_then_run_keeps_exactly_the_same_rows(tmp_path, capsys, alpaca_path):
    out, again, recipe = tmp_path / "out.jsonl", tmp_path / "again", tmp_path / "recipe.yaml"
    report = _cli(capsys, "filter", alpaca_path, "--out", out, "--exact", "--fuzzy", "0.6", "--refusals",
                  "--recipe-out", recipe)
    assert (report["rows_in"], report["format"]) == (999, "alpaca")
    assert report["removed"]["exact duplicate"] == 14
    assert report["rows_out"] == 999 - sum(report["removed"].values())
    rerun = _cli(capsys, "run", recipe, "--out", again)
    assert rerun["removed"] == report["removed"]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert pq.read_table(again / "data.parquet").to_pylist() == rows
    assert (again / "recipe.yaml").read_text() == recipe.read_text()


def test_cli_refusal_filter_reports_reason_counts(tmp_path, capsys):
    path, expected = write_alpaca(tmp_path / "a.jsonl")
    report = _cli(capsys, "filter", path, "--out", tmp_path / "o.parquet", "--exact", "--refusals")
    # of the three "as an AI" rows, only one holds a default phrase ("as an AI language model")
    assert report["removed"] == {"exact duplicate": expected["duplicates"], "refusal/boilerplate": 1}
    assert main(["data", "filter", str(path), "--out", str(tmp_path / "o.parquet"), "--exact"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_step_that_removes_everything_stops_the_run(tmp_path, capsys):
    path, _ = write_alpaca(tmp_path / "a.jsonl")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(_recipe(path, {"type": "exact_dedup"}, {"type": "regex", "include": "no such text"}).to_yaml())
    out = tmp_path / "never"
    assert main(["data", "run", str(recipe), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "2. Regex removed every remaining row (19 → 0)" in err and "steps.1" in err
    assert not out.exists()


def test_bad_settings_name_the_field(tmp_path):
    with pytest.raises(LabError) as err:
        _recipe(tmp_path / "x.jsonl", {"type": "fuzzy_dedup", "threshold": 1.5})
    assert err.value.field == "steps.0.fuzzy_dedup.threshold"
    with pytest.raises(LabError, match="not a valid regex") as err:
        make_step("regex", include="(")
    assert err.value.field == "regex.include"
    with pytest.raises(LabError, match="either a file path or a Hub dataset id"):
        FilterRecipe.parse({"sources": [{}]})


def test_export_writes_an_artifact_with_funnel_and_sources(tmp_path):
    path, expected = write_alpaca(tmp_path / "mini.jsonl")
    recipe = _recipe(path, {"type": "exact_dedup"}, {"type": "refusals", "phrases": ["as an AI"]}, name="mini")
    result = run(recipe, log=lambda m: None)
    folder = export.export(result, recipe)
    rows = pq.read_table(folder / "data.parquet").to_pylist()
    assert rows == result.records() and len(rows) == expected["kept"]
    card = (folder / "README.md").read_text()
    assert "| mini.jsonl | alpaca | 23 |" in card and "| 1. Exact dedup | 23 | 19 | 4 |" in card
    assert yaml.safe_load((folder / "recipe.yaml").read_text()) == recipe.model_dump(mode="json")
    manifest = json.loads((folder / "lab.json").read_text())
    assert manifest["kind"] == "dataset" and manifest["metrics"]["rows_out"] == expected["kept"]
    review = export.load_review(folder)
    assert review["report"]["removed"] == {"exact duplicate": 4, "refusal/boilerplate": 3}
    assert len(review["samples"]["refusal/boilerplate"]) == 3
    with pytest.raises(LabError, match="already exists"):
        export.export(result, recipe)  # never overwrites
    download = export.jsonl_download(folder, tmp_path)
    assert [json.loads(x) for x in download.read_text().splitlines()] == rows


def test_the_step_registry_is_the_one_list_everything_reads(tmp_path):
    """Each registered step has settings, a label, a cost and its logic; the Data tab, the defaults and the
    job rule read the registry, not lists of their own."""
    from lab.data import session
    from lab.data.step_specs import STEP_CLASSES, STEP_TYPES
    from lab.data.steps import STEPS

    assert set(STEPS) == set(STEP_TYPES) and all(cls.label for cls in STEP_CLASSES)
    assert session.step_order() == list(STEP_TYPES)
    assert [s.type for s in FilterRecipe(sources=[{"path": "x.jsonl"}]).steps] == \
        [k for k, cls in STEP_TYPES.items() if session.widget(k, "enabled")[1]]
    sess = session.Session()
    sess.table = [None] * 10  # a small table: only a step that loads a model makes the run a job
    for kind, cls in STEP_TYPES.items():
        recipe = FilterRecipe(sources=[{"path": "x.jsonl"}], steps=[])
        recipe.steps = [cls.model_construct(type=kind, enabled=True)]
        assert sess.needs_job(recipe) == (cls.cost == "model")
