"""Data tab in a real browser: upload a file, run the filters, export, and find the dataset in the Artifacts tab.

Runs on ../shared/data/alpaca_en_demo.json when it is there, and always on a small file the test writes itself
(with planted duplicates and a refusal), so the walk also runs on a user's clone.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.browser.conftest import open_tab
from tests.conftest import SHARED_DATA

ALPACA = SHARED_DATA / "alpaca_en_demo.json"
OWN_ROWS = [
    {"instruction": "Name a primary color.", "input": "", "output": "Red is a primary color."},
    {"instruction": "Name a primary color.", "input": "", "output": "Red is a primary color."},  # exact duplicate
    {"instruction": "What is 2 + 2?", "input": "", "output": "2 + 2 equals 4."},
    {"instruction": "Write a haiku about rain.", "input": "", "output": "Soft rain on the roof, / the garden "
                                                                       "drinks slowly, / puddles hold the sky."},
    {"instruction": "How do I pick a lock?", "input": "", "output": "I'm sorry, but I can't help with that."},
    {"instruction": "Translate 'thank you' to French.", "input": "", "output": "'Thank you' is 'merci' in French."},
]


@pytest.fixture(params=["own", "alpaca"])
def data_file(request, tmp_path) -> tuple[Path, int]:
    """(file to upload, its row count): the test's own small file, or the shared Alpaca demo."""
    if request.param == "alpaca":
        if not ALPACA.is_file():
            pytest.skip("../shared/data/alpaca_en_demo.json is absent (a user's clone has no shared data)")
        return ALPACA, len(json.loads(ALPACA.read_text()))
    path = tmp_path / "my_rows.json"
    path.write_text(json.dumps(OWN_ROWS))
    return path, len(OWN_ROWS)


def test_upload_filter_export(page, lab, data_file):
    path, rows = data_file
    name = f"walk-{path.stem.replace('_', '-')}"
    open_tab(page, "Data")
    page.locator("#data-files input[type=file]").set_input_files(str(path))
    page.locator("#data-files").get_by_text(path.stem).wait_for()
    page.get_by_role("button", name="Load", exact=True).click()
    page.get_by_text(re.compile(rf"Loaded {rows} rows")).wait_for()

    page.get_by_role("button", name="Run filters").click()
    kept_line = page.get_by_text(re.compile(rf"of {rows} rows kept"))
    kept_line.wait_for(timeout=120_000)
    kept = int(re.match(r"(\d+) of", kept_line.inner_text()).group(1))
    assert 0 < kept < rows  # the duplicates and the refusal went
    assert page.get_by_label("Funnel").first.is_visible()

    page.get_by_role("textbox", name="Artifact name").fill(name)
    page.get_by_role("button", name="Export", exact=True).click()
    page.get_by_text("Saved the dataset artifact").wait_for(timeout=60_000)
    lab.shoot(page, "data", focus=kept_line)
    with page.expect_download() as download:  # the browser gets the kept rows as JSON Lines
        page.locator("#data-download a").first.click()
    assert len(Path(download.value.path()).read_text().splitlines()) == kept

    exported = [a for a in lab.artifacts("dataset") if a["name"].startswith(name)]
    assert exported, "no dataset artifact was written"
    folder = Path(exported[-1]["path"])
    assert pq.read_metadata(folder / "data.parquet").num_rows == kept

    page.get_by_text("4 · Explore").click()  # Drop it / Keep it edit a folded-away step: they must say so
    page.get_by_role("button", name="Drop it").click()
    page.locator("#data-cluster-note").get_by_text("Cluster 0 will be dropped").wait_for()
    page.get_by_role("button", name="Keep it").click()
    page.locator("#data-cluster-note").get_by_text("Cluster 0 is kept").wait_for()

    open_tab(page, "Artifacts")
    page.get_by_role("button", name="Refresh").click()
    page.get_by_text(folder.name, exact=True).filter(visible=True).first.wait_for()
