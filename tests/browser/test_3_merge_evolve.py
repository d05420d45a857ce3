"""The Merge tab's Evolve accordion in a real browser: a CMA-ES search over a linear merge of two tiny fine-tunes
(2-layer Llamas with SmolLM2's tokenizer), scored on a quiz the test writes, on a budget of 4 candidates. The live
plot and the best recipe show while it runs, a reload comes back to the job (accordion open, config as the job had
it), the Jobs tab opens it here too, and the best merge ends as an artifact. Bad input is refused by Check before any
candidate: models of another vocabulary (the merge preflight), a fitness task too large for the time budget (the
estimate)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lab import jobs
from tests.browser.conftest import legend_of, open_tab, reload_mid_job
from tests.eval_support import MC_ROWS, write_jsonl
from tests.integration.test_merge_evolve import HELD_OUT
from tests.merge_support import tiny_model, write_config_model

EVOLVE = "Evolve (search the merge's parameters)"


@pytest.fixture(scope="module")
def parents(tmp_path_factory, bundled_model) -> dict:
    root = tmp_path_factory.mktemp("evolve-walk")
    base = tiny_model(root / "base", bundled_model, seed=0)
    return {"ft1": tiny_model(root / "ft1", bundled_model, 1, like=base, noise=0.2),
            "ft2": tiny_model(root / "ft2", bundled_model, 2, like=base, noise=0.2),
            "quiz": write_jsonl(root / "evolve-quiz.jsonl", MC_ROWS),
            "held": write_jsonl(root / "evolve-held.jsonl", HELD_OUT), "root": root}


def _open_evolve(page):
    open_tab(page, "Merge")
    page.get_by_text("Template loaded").wait_for()  # the tab's own first load is done
    page.get_by_text(EVOLVE).click()
    return page.locator("#evolve-accordion")


def _config(page, data: dict) -> None:
    page.locator("#evolve-config .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(yaml.safe_dump(data, sort_keys=False))


# Gradio's client closes its stream on the page's unload and logs the tick it cut short as two console errors:
# the reload's own doing, not the app's
UNLOAD = ("AbortError: signal is aborted without reason", "Unexpected error Connection errored out")


def _reload(page) -> str:
    """reload_mid_job, less the console lines of the old page's unload."""
    seen = len(page.lab_problems)
    job = reload_mid_job(page, "Merge", "evolve-job")
    page.lab_problems[seen:] = [p for p in page.lab_problems[seen:] if not any(u in p for u in UNLOAD)]
    return job


_GENERATION_TICKS = """() => [...document.querySelectorAll('#evolve-plot .role-axis')]
  .filter(a => a.querySelector('.role-axis-title')?.textContent === 'generation')
  .flatMap(a => [...a.querySelectorAll('.role-axis-label text')].map(t => t.textContent.trim()))"""


def _job_box(page) -> str:
    return page.evaluate("() => document.querySelector('#evolve-job textarea, #evolve-job input').value")


def test_evolve_shows_its_search_live_follows_a_reload_and_ends_as_an_artifact(page, lab, app_home, parents):
    panel = _open_evolve(page)
    _config(page, {"models": [str(parents["ft1"]), str(parents["ft2"])], "method": "linear",
                   "fitness": [str(parents["quiz"])], "held_out": [str(parents["held"])], "population": 2,
                   "candidates": 4, "dtype": "float32"})
    panel.get_by_role("button", name="Check", exact=True).click()
    note = page.locator("#evolve-note")
    note.get_by_text("Ready: 2 parameter(s)").wait_for()  # the estimate, before anything runs
    panel.get_by_role("textbox", name="Output name").fill("walk-evolve")
    panel.get_by_role("button", name="Evolve", exact=True).click()
    note.get_by_text("started").wait_for()

    # live: generation 0 (each parent alone) draws the plot's two lines and the best recipe so far
    page.wait_for_function("() => document.querySelectorAll('#evolve-plot .role-legend text').length >= 2",
                           timeout=120_000)
    assert {"best", "mean"} <= {text for text, _ in legend_of(page, "evolve-plot")}
    page.locator("#evolve-accordion").get_by_text("merge_method: linear").first.wait_for()

    job = _reload(page)  # back on the Merge tab, in the Evolve accordion
    assert jobs.get_job(job).kind == "merge.evolve"
    page.locator("#evolve-config").get_by_text(parents["quiz"].name).first.wait_for()  # the job's config, no example
    assert "/path/to/a/fine-tune" not in page.locator("#evolve-config").inner_text()
    name = page.locator("#evolve-accordion").get_by_role("textbox", name="Output name")  # and its output name
    page.wait_for_function("e => e.value === 'walk-evolve'", arg=name.element_handle())
    page.wait_for_function("() => document.querySelectorAll('#evolve-plot .role-legend text').length >= 2")
    note.get_by_text("succeeded").wait_for(timeout=300_000)
    note.get_by_text("The best merge is the artifact").wait_for()
    assert "better parent" in note.inner_text()
    assert "merge_method: linear" in page.locator("#evolve-accordion").inner_text()  # the best recipe
    page.wait_for_function("() => [...document.querySelectorAll('#evolve-plot .mark-line path')]"  # a line drawn
                           ".filter(p => (p.getAttribute('d') || '').includes('L')).length >= 2")  # across gens
    ticks = page.evaluate(_GENERATION_TICKS)
    assert len(ticks) >= 2 and ticks == [str(g) for g in range(len(ticks))]  # whole generations, in order
    lab.shoot(page, "merge-evolve", focus=note)  # the result, the plot and the best recipe

    out = Path(jobs.get_job(job).artifact_dir)
    assert out.name.startswith("walk-evolve") and (out / "model.safetensors").is_file()
    result = json.loads((out / "evolve_result.json").read_text())
    assert result["candidates"] == 4 and len(result["generations"]) >= 2
    assert result["best"]["fitness"] >= max(s["fitness"] for s in result["parents"].values())
    assert "## Evolutionary search" in (out / "README.md").read_text()

    page.locator("#evolve-job").get_by_role("textbox").fill("")  # the Jobs tab opens the job here again
    open_tab(page, "Jobs")
    page.get_by_text(job, exact=True).filter(visible=True).first.click()
    page.wait_for_function("j => [...document.querySelectorAll('input')].some(e => e.value === j)", arg=job)
    page.get_by_role("button", name="Open in its tab").click()
    page.get_by_role("tab", name="Merge", exact=True, selected=True).wait_for()
    page.wait_for_function("j => document.querySelector('#evolve-job textarea, #evolve-job input').value === j",
                           arg=job)


def test_evolve_bad_input_is_refused_by_check_before_any_candidate(page, lab, app_home, parents):
    other = write_config_model(parents["root"] / "other-vocab", layers=2, hidden=64, vocab=32000, heads=4, kv=2)
    big = write_jsonl(parents["root"] / "evolve-big.jsonl",
                      [{"question": f"Question {i}?", "choices": ["a", "b", "c"], "answer": 0} for i in range(400)])
    before = len(jobs.list_jobs())
    panel = _open_evolve(page)
    note = page.locator("#evolve-note")
    if any(j.kind == "merge.evolve" for j in jobs.list_jobs()):  # the walk's job, followed on load, writes first
        note.get_by_text("succeeded").wait_for()
    _config(page, {"models": [str(parents["ft1"]), str(other)], "fitness": [str(parents["quiz"])]})
    panel.get_by_role("button", name="Check", exact=True).click()
    note.get_by_text("vocab").first.wait_for()  # the merge preflight, beside the button
    assert "Fix:" in note.inner_text()

    _config(page, {"models": [str(parents["ft1"]), str(parents["ft2"])], "fitness": [str(big)], "time_s": 5})
    panel.get_by_role("button", name="Check", exact=True).click()
    note.get_by_text("budget of 5 s").wait_for()  # the estimate, before launch
    assert "fitness: The fitness task takes about" in note.inner_text()  # the field, then what and why
    shown = _job_box(page)  # the walk's last evolve job, followed on load, or nothing
    panel.get_by_role("button", name="Evolve", exact=True).click()  # Start checks the same, and starts nothing
    toast = page.get_by_test_id("toast-body").filter(visible=True).last
    toast.get_by_text("budget of 5 s").wait_for()
    assert len(jobs.list_jobs()) == before and _job_box(page) == shown
