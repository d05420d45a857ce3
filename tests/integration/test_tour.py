"""The first-run tour, for real: the bundled model, the demo dataset, the filter, an SFT job, a SLERP merge job and
the three models in chat. The tour runs once for the module, as the chain of jobs the app starts (about 2-4 minutes
on a 2-core CPU)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.artifacts import read_manifest
from lab.errors import LabError
from lab.settings import DEFAULT_MODEL
from lab.tour import STAGES, Tour
from lab.tour.demo_data import demo_rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tour(bundled_model, tmp_path_factory):
    """(events, summary) of one real tour in its own LAB_HOME, run as a job on the server. Whoever follows it
    stops following after the first stage, as a closed page does: the later stages must still run."""
    from lab import hardware, settings
    from lab.jobs.manager import wait
    from lab.tour import jobs as tour_jobs

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_HOME", str(tmp_path_factory.mktemp("tour") / "home"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        settings.reset_caches()
        hardware.set_hardware(None)
        job = tour_jobs.submit()
        page = tour_jobs.follow(job.id, poll_s=0.2)
        assert next(page).stage == "model"
        page.close()  # the page went away
        events = list(tour_jobs.follow(job.id))  # opened again later: every event, from the first
        # the worker writes the last event, then ends: the job is final a moment later
        assert wait(job.id, timeout=120).state == "succeeded"
        settings.reset_caches()
    summary = events[-1].data
    assert summary["ok"], summary["failed"]
    return events, summary


def test_the_filter_drops_exactly_the_planted_rows(tour):
    _, summary = tour
    rows, plan = demo_rows()
    demo = json.loads(Path(summary["stages"]["dataset"]["path"]).read_text())
    assert demo == rows and len(rows) == plan.total
    assert summary["stages"]["filter"]["dropped"] == {"exact_dedup": len(plan.exact), "fuzzy_dedup": len(plan.near),
                                                      "refusals": len(plan.refusals)}
    folder = Path(summary["artifacts"]["filter"])
    removed = [json.loads(line) for line in (folder / ".review" / "removed.jsonl").read_text().splitlines()]
    by_reason = {}
    for r in removed:
        by_reason.setdefault(r["step"].split(". ", 1)[1].split(" ")[0], {})[r["row"]] = r.get("dup_of")
    assert by_reason["Exact"] == plan.exact and by_reason["Fuzzy"] == plan.near
    assert sorted(by_reason["Refusals"]) == plan.refusals
    assert read_manifest(folder)["rows"] == plan.clean


def test_the_adapter_descends_from_the_filtered_dataset(tour):
    _, summary = tour
    adapter = Path(summary["artifacts"]["train"])
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "adapter_config.json").is_file()
    m = read_manifest(adapter)
    assert m["kind"] == "adapter" and m["metrics"]["steps"] == 20
    dataset = next(p for p in m["parents"] if p["kind"] == "dataset")
    assert dataset["path"] == str(Path(summary["artifacts"]["filter"]).resolve())
    assert [s["step"] for s in m["lineage"]] == ["data filter", "sft"]
    from safetensors.torch import load_file

    lora_b = [t for name, t in load_file(adapter / "adapter_model.safetensors").items() if "lora_B" in name]
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b)  # LoRA B starts at zero: training moved it


def test_the_merge_is_a_loadable_model_with_both_parents(tour, bundled_model):
    from safetensors import safe_open

    _, summary = tour
    merge = Path(summary["artifacts"]["merge"])
    assert (merge / "config.json").is_file() and list(merge.glob("*.safetensors"))
    m = read_manifest(merge)
    assert m["kind"] == "merge" and m["merge_method"] == "slerp"
    refs = {p["kind"]: p for p in m["parents"]}
    assert refs["model"]["ref"] == DEFAULT_MODEL
    assert refs["adapter"]["path"] == str(Path(summary["artifacts"]["train"]).resolve())
    name = "model.layers.15.self_attn.q_proj.weight"  # the LoRA moved it, so the SLERP halfway point differs
    with safe_open(next(merge.glob("*.safetensors")), "pt") as f, \
            safe_open(bundled_model / "model.safetensors", "pt") as g:
        merged, base = f.get_tensor(name).float(), g.get_tensor(name).float()
    assert merged.isfinite().all() and merged.shape == base.shape and not merged.equal(base)


def test_all_three_answered_and_stages_came_in_order(tour):
    events, summary = tour
    order = [e.stage for i, e in enumerate(events) if i == 0 or events[i - 1].stage != e.stage]
    assert order == [key for key, _, _ in STAGES] + ["tour"]
    for key, _, _ in STAGES:
        states = [e.state for e in events if e.stage == key]
        assert states[0] == "running" and states[-1] == "done" and states.count("done") == 1
    progress = [e.progress for e in events]
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    replies = summary["stages"]["chat"]["replies"]
    assert len(replies) == 2
    for row in replies:
        assert all(row[name].strip() for name in ("base", "fine-tune", "merge")), row


def test_base_fine_tune_and_merge_are_scored_on_held_out_questions(tour):
    from lab.artifacts import read_manifest as manifest
    from lab.tour.heldout import ITEMS

    _, summary = tour
    stage = summary["stages"]["eval"]
    assert set(stage["scores"]) == {"base", "fine-tune", "merge"}
    assert all(0 <= v <= 1 for v in stage["scores"].values())
    assert (stage["contamination"]["found"], stage["contamination"]["items"]) == (0, len(ITEMS))  # held out
    merge = manifest(Path(summary["artifacts"]["merge"]))["evaluations"][0]
    assert merge["value"] == stage["scores"]["merge"] and merge["base"]["value"] == stage["scores"]["base"]


def test_a_failing_stage_stops_the_tour_and_keeps_what_came_before(tour, monkeypatch, bundled_model):
    _, first = tour
    before = {k: read_manifest(Path(p)) for k, p in first["artifacts"].items()}

    def broken(self):
        raise LabError("the trainer is broken.", "Fix it.", "train")
        yield  # a stage is a generator

    monkeypatch.setattr(Tour, "_train", broken)
    events = list(Tour().run())
    assert [e.stage for e in events if e.state == "done"] == ["model", "dataset", "filter"]
    failed = [e for e in events if e.state == "failed"]
    assert [e.stage for e in failed] == ["train", "tour"] and "the trainer is broken" in failed[0].message
    assert not events[-1].data["ok"] and "stopped at SFT" in events[-1].message
    dataset = Path(events[-1].data["artifacts"]["filter"])
    assert read_manifest(dataset)["kind"] == "dataset" and str(dataset) != first["artifacts"]["filter"]
    assert {k: read_manifest(Path(p)) for k, p in first["artifacts"].items()} == before  # the first run untouched
