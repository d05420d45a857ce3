"""Evaluate tab in a real browser: the base and the walk's adapter on two uploaded custom tasks (multiple choice and
exact match), run as a job; the leaderboard with "vs base", the chart and the sample viewer appear."""
from __future__ import annotations

import json
import re

from tests.browser.conftest import open_tab, pick, reload_mid_job
from tests.eval_support import MC_ROWS, SECRET_REGEX, SECRET_ROWS, write_jsonl


def test_custom_tasks_leaderboard_and_samples(page, lab, sft_adapter, tmp_path):
    quiz = write_jsonl(tmp_path / "quiz.jsonl", MC_ROWS)
    secret = write_jsonl(tmp_path / "secret.jsonl", SECRET_ROWS)
    open_tab(page, "Evaluate")
    pick(page, "Models (1–6; the first is the base)", re.compile(re.escape(sft_adapter.name) + r" \(adapter\)"))
    page.locator("#eval-files input[type=file]").set_input_files([str(quiz), str(secret)])
    page.get_by_label("Exact match: extraction regex (optional)").fill(SECRET_REGEX)
    page.get_by_role("button", name="Check and estimate").click()
    report = page.locator("#eval-report")
    report.get_by_text("multiple choice, 4 items").wait_for()
    report.get_by_text("Estimate:").wait_for()
    report.get_by_text("Contamination:").wait_for()  # told at Check, for each model, before the run
    assert re.search(re.escape(sft_adapter.name) + r": (\d+ of 4 items of quiz|no training data)", report.inner_text())

    page.get_by_role("button", name="Evaluate", exact=True).click()
    reload_mid_job(page, "Evaluate", "eval-job")  # the reloaded page follows the job to its leaderboard
    page.locator("#eval-report").get_by_text("quiz.jsonl (upload it again)").wait_for()  # its form, refilled
    assert page.get_by_label("Exact match: extraction regex (optional)").input_value() == SECRET_REGEX
    page.locator("#eval-status").get_by_text("Done: 2 of 2 model(s)").wait_for(timeout=600_000)
    board = page.locator("#eval-leaderboard")
    board.get_by_text("quiz (acc)").wait_for()
    board.get_by_text("base", exact=True).wait_for()  # the first row is the base; the adapter's row has deltas
    assert re.search(r"\d\.\d{3} ± \d\.\d{3} \([+-]\d\.\d{3}\)", board.inner_text())
    board.get_by_text("vs base (per metric)").wait_for()  # each metric's change named, never one mean of all
    assert re.search(r"acc [+-]\d\.\d{3} · exact_match [+-]\d\.\d{3}", board.inner_text())
    page.locator("#eval-chart").locator("img, svg, canvas").first.wait_for()
    samples = page.locator("#eval-samples")
    samples.get_by_text(re.compile("^[✓✗] ")).filter(visible=True).first.wait_for()
    page.get_by_label("Only items the base got right and another model got wrong").check()
    note = page.locator("#eval-samples-note")
    page.wait_for_function("() => !document.querySelector('#eval-samples') || "
                           "document.querySelector('#eval-samples-note').innerText.trim() || "
                           "document.querySelector('#eval-samples').offsetParent")
    if not samples.is_visible():  # an empty filter says so in a sentence, not an empty table
        assert "None on" in note.inner_text()

    newest = max((lab.home / "evals").glob("*/results.json"), key=lambda p: p.stat().st_mtime)  # this run's, not
    result = json.loads(newest.read_text())  # an earlier walk step's (an evolve search records its scores there too)
    assert [m["model"].split("+")[-1] for m in result["models"]][1] == str(sft_adapter)
    assert {t["name"] for t in result["tasks"]} == {"quiz", "secret"}
    lab.shoot(page, "evaluate", focus=page.locator("#eval-leaderboard"))
