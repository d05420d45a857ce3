"""What the Data tab does, without a browser: the Session and the review tables."""
import json

import pytest

from lab.data import session as core
from lab.data.recipe import FilterRecipe, Source
from lab.errors import LabError
from tests.unit.data_fixtures import write_alpaca


def _defaults() -> list:
    return [core.widget(k, n)[1] for k in core.step_order() for n in core.step_fields(k)]


def test_widget_defaults_make_the_default_pipeline():
    steps = core.steps_from_widgets(_defaults())
    assert [s.type for s in steps if s.enabled] == ["exact_dedup", "fuzzy_dedup", "refusals", "empty"]
    assert [s.type for s in steps][-1] == "clusters"  # explore acts on what reaches it
    assert core.field_value("clusters", "drop", "3, 1 4") == [3, 1, 4]
    with pytest.raises(LabError, match="whole numbers"):
        core.field_value("clusters", "drop", "three")


def test_ambiguous_upload_goes_through_the_mapping_step(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "Why?", "answer": "Because.", "id": 1}\n')
    sess = core.Session()
    out = sess.load_or_ask(sess.upload_sources([str(path)]))
    assert out["mapping"]["columns"] == ["question", "answer", "id"]
    loaded = sess.apply_mapping("alpaca", {"instruction": "question", "output": "answer", "input": ""})
    assert loaded["loaded"]["rows"] == 1
    assert loaded["loaded"]["preview"][0]["messages"][1]["content"] == "Because."
    assert sess.sources[0].columns == {"instruction": "question", "output": "answer"}


def test_load_run_review_export_download(tmp_path):
    path, expected = write_alpaca(tmp_path / "mini.jsonl")
    sess = core.Session()
    info = sess.load_or_ask([Source(path=str(path))])["loaded"]
    assert info["rows"] == expected["rows"] and len(info["preview"]) == 5 and info["warning"] == ""
    recipe = FilterRecipe(sources=sess.sources, steps=core.steps_from_widgets(_defaults()))
    review = sess.run(recipe)
    assert review["report"]["rows_out"] == expected["rows"] - expected["duplicates"] - 1  # one default phrase
    funnel = core.funnel_rows(review)
    assert funnel[0][:4] == ["1. Exact dedup", expected["rows"], expected["rows"] - 4, 4]
    assert funnel[2][0] == "3. Semantic dedup (off)"
    assert funnel[1][0] == "2. Fuzzy dedup (MinHash)" and funnel[1][5].endswith("rejected: true Jaccard under 0.6")
    assert core.warnings(review) == []
    groups = core.group_rows(review)
    assert [g[2] for g in groups] == [2, 1, 1]
    assert core.sample_rows(review, "refusal/boilerplate")[0][1] == "as an AI language model"
    assert len(core.funnel_figure(review).data) == 1
    folder = sess.export("mini")
    assert sess.export("ignored") == folder  # exporting twice returns the same artifact
    rows = [json.loads(x) for x in sess.download().read_text().splitlines()]
    assert len(rows) == review["report"]["rows_out"]
    lengths, scores = sess.histograms()
    assert len(lengths.data) == 2 and scores is None


def test_model_steps_and_large_sets_run_as_jobs(tmp_path):
    path, _ = write_alpaca(tmp_path / "mini.jsonl")
    sess = core.Session()
    sess.load([Source(path=str(path))])
    judge = FilterRecipe.parse({"sources": [s.model_dump() for s in sess.sources],
                                "steps": [{"type": "judge"}]})
    assert sess.needs_job(judge)
    assert not sess.needs_job(FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": []}))
    semantic = FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": [{"type": "semantic_dedup"}]})
    assert not sess.needs_job(semantic)  # 23 rows embed in a moment


def test_nothing_to_export_or_explore_yet():
    sess = core.Session()
    with pytest.raises(LabError, match="Run the filters first"):
        sess.export()
    with pytest.raises(LabError, match="Run the filters first"):
        sess.rows_for_clusters()
    with pytest.raises(LabError, match="Nothing to load"):
        sess.load([])


def test_hub_source_offline_says_so():
    with pytest.raises(LabError, match="unreachable"):
        core.Session().load([Source(hub="someone/some-data")])


def test_a_browser_session_reads_only_files_it_loaded(tmp_path):
    path, _ = write_alpaca(tmp_path / "mini.jsonl")
    other, _ = write_alpaca(tmp_path / "secret.jsonl")
    sess = core.Session()
    sess.load([Source(path=str(path))])
    recipe = FilterRecipe.parse({"sources": [{"path": str(other)}], "steps": []})
    with pytest.raises(LabError, match="did not load") as err:
        sess.run(recipe)
    assert err.value.field == "sources.0.path"


def test_short_rows_are_warned_about_at_load_and_after_the_run(tmp_path):
    """Templated sums a few words long: near-duplicate verdicts on them mean little, and the tab says so."""
    path = tmp_path / "sums.jsonl"
    path.write_text("".join(json.dumps({"instruction": f"{a} + {b}", "input": "", "output": str(a + b)}) + "\n"
                            for a in range(12) for b in range(12)))
    sess = core.Session()
    info = sess.load_or_ask([Source(path=str(path))])["loaded"]
    assert info["warning"].startswith("100% of the rows have fewer than 5 words")
    review = sess.run(FilterRecipe(sources=sess.sources, steps=core.steps_from_widgets(_defaults())))
    [warning] = core.warnings(review)
    assert warning.startswith("⚠️ **2. Fuzzy dedup (MinHash)**: 100% of the rows") and "unreliable" in warning
