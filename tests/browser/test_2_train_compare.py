"""Experiments tab in a real browser, after the Train walk: its run is cloned into the Train tab, trained again at
another learning rate, and the two runs are overlaid (one named line each) with the setting that differs."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.browser.conftest import open_tab, pick
from tests.browser.test_2_train import SHORT_RUN, _set


def _short_run(page, dataset_name: str) -> None:
    """The Train walk's run, when this file runs alone."""
    open_tab(page, "Train")
    pick(page, "Dataset artifacts", dataset_name)
    for name, value in SHORT_RUN.items():
        _set(page, name, value)
    page.get_by_text("max_seq_length: 64").wait_for()
    page.get_by_role("button", name="Start training").click()
    page.locator("#train-status").get_by_text("succeeded").wait_for(timeout=300_000)


def _choose(page, picker: str, run_id: str) -> None:
    """Type a run's id into a picker and take it (its options are named `name · method · id`; what follows checks
    that it was taken)."""
    box = page.get_by_role("combobox", name=picker)
    box.fill(run_id)
    box.press("Enter")


def _fresh_page(page, lab):
    """Another page on the app in the same browser context, watched for page errors like the fixture's."""
    fresh = page.context.new_page()
    fresh.set_default_timeout(30_000)
    fresh.lab_problems = []
    fresh.on("pageerror", lambda exc: fresh.lab_problems.append(f"page error: {exc}"))
    fresh.goto(lab.url)
    fresh.get_by_text("Hardware:").wait_for(timeout=60_000)
    return fresh


def _runs(lab) -> dict[str, str]:
    """Finished training jobs of the app: job id -> the run's folder name (its name in the legend)."""
    with sqlite3.connect(lab.home / "jobs.db") as con:
        rows = con.execute("SELECT id, artifact_dir FROM jobs WHERE kind LIKE 'train.%' AND kind != 'train.lr_find' "
                           "AND state = 'succeeded' ORDER BY created").fetchall()
    return {job_id: Path(folder).name for job_id, folder in rows}


def test_clone_a_run_and_overlay_the_two(page, lab, dataset_artifact):
    if not _runs(lab):  # run alone: the walk's run first, on its own page (it never leaves the Train tab)
        alone = _fresh_page(page, lab)
        _short_run(alone, dataset_artifact.name)
        alone.close()
    first = next(iter(_runs(lab)))
    open_tab(page, "Experiments")
    page.get_by_text(first).filter(visible=True).first.wait_for()  # the run is listed with its results
    _choose(page, "Run to clone", first)
    page.get_by_role("button", name="Clone into the Train tab").click()
    page.get_by_role("tab", name="Train", exact=True, selected=True).wait_for()
    page.get_by_text(f"Cloned from run {first}").wait_for()  # the form holds that run's recipe
    _set(page, "learning_rate", "0.0005")
    page.get_by_text("learning_rate: 0.0005").wait_for()
    page.get_by_role("button", name="Start training").click()
    status = page.locator("#train-status")
    status.get_by_text("running").wait_for(timeout=120_000)  # the new job (the page may still show the last one)
    status.get_by_text("succeeded").wait_for(timeout=300_000)
    second = next(r for r in _runs(lab) if r != first)

    # a fresh page for the comparison: switching tabs away from the Train tab's live charts of a run that just
    # finished makes Gradio's plots read the size of an unmounted element (the Train tab's, not this view's)
    page = _fresh_page(page, lab)
    open_tab(page, "Experiments")
    page.get_by_role("button", name="Refresh").click()
    for run in (first, second):
        _choose(page, "Runs to compare (2–6)", run)
    page.get_by_role("button", name="Compare").click()
    loss = page.locator("#experiments-loss")
    loss.locator("g.mark-line path").nth(1).wait_for()  # two lines
    legend = [t.rstrip("…") for t in loss.locator("g.role-legend-label text").all_text_contents()]
    assert len(legend) == 2  # one entry per run, named after it (a long name is cut short with an ellipsis)
    for name in (_runs(lab)[first], _runs(lab)[second]):
        assert sum(name.startswith(t) for t in legend) == 1, (name, legend)
    differ = page.locator("#experiments-differ")
    differ.get_by_text("learning_rate").filter(visible=True).first.wait_for()
    lab.shoot(page, "experiments", focus=page.get_by_role("button", name="Compare"))
    assert not page.lab_problems, page.lab_problems
