"""The Data tab over HTTP with gradio_client: load a file, run the filters, export, download the rows."""
import json

import yaml
from gradio_client import Client, handle_file

from tests.unit.data_fixtures import write_alpaca


def test_load_filter_export_over_the_api(app_url, tmp_path):
    path, expected = write_alpaca(tmp_path / "mini.jsonl")
    client = Client(app_url, verbose=False)
    status, preview, recipe, *_ = client.predict(files=[handle_file(str(path))], api_name="/data_load")
    assert f"Loaded **{expected['rows']}** rows" in status
    assert preview[0]["messages"][-1]["role"] == "assistant"
    data = yaml.safe_load(recipe)
    assert data["sources"][0]["path"].endswith("mini.jsonl")
    # keep exact dedup and a refusal filter on "as an AI" only
    data["steps"] = [{"type": "exact_dedup"}, {"type": "refusals", "phrases": ["as an AI"]}]
    out = client.predict(yaml.safe_dump(data), api_name="/data_run")
    run_status, _, _, _, funnel = out[:5]
    assert f"**{expected['kept']}** of {expected['rows']} rows kept" in run_status
    assert [row[3] for row in funnel["data"]] == [expected["duplicates"], expected["refusals"]]
    # explore what was kept, with the Drop clusters step's settings (k=3)
    data["steps"].append({"type": "clusters", "enabled": False, "k": 3})
    topic_map, sizes, lengths, scores = client.predict(yaml.safe_dump(data), api_name="/data_explore")
    assert sum(row[2] for row in sizes["data"]) == expected["kept"] and len(sizes["data"]) == 3
    export_status, download = client.predict(name="mini-clean", api_name="/data_export")
    assert "mini-clean" in export_status
    rows = [json.loads(line) for line in open(download, encoding="utf-8")]
    assert len(rows) == expected["kept"]
    assert all(r["source"] == "mini.jsonl" for r in rows)


def test_short_rows_warn_and_the_funnel_notes_rejected_pairs(app_url, tmp_path):
    """Sums a few words long: the tab warns at load and after the run; the funnel's note column says how many
    candidate pairs fuzzy dedup's true-Jaccard check turned down."""
    path = tmp_path / "sums.jsonl"
    path.write_text("".join(json.dumps({"instruction": f"{a} + {b}", "input": "", "output": str(a + b)}) + "\n"
                            for a in range(12) for b in range(12)))
    client = Client(app_url, verbose=False)
    status, _, recipe, *_ = client.predict(files=[handle_file(str(path))], api_name="/data_load")
    assert "⚠️ **Fuzzy dedup**: 100% of the rows have fewer than 5 words" in status
    data = yaml.safe_load(recipe)
    data["steps"] = [{"type": "fuzzy_dedup"}]
    run_status, _, _, _, funnel = client.predict(yaml.safe_dump(data), api_name="/data_run")[:5]
    assert "⚠️ **1. Fuzzy dedup (MinHash)**: 100% of the rows" in run_status
    assert funnel["headers"][-1] == "note" and "rejected: true Jaccard under 0.6" in funnel["data"][0][-1]


def test_corrupt_upload_names_the_line(app_url, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n')
    client = Client(app_url, verbose=False)
    try:
        client.predict(files=[handle_file(str(bad))], api_name="/data_load")
    except Exception as exc:  # gradio_client raises AppError with the gr.Error message
        assert "line 2" in str(exc)
    else:
        raise AssertionError("a corrupt file was accepted")
