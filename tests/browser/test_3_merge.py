"""Merge tab in a real browser: the offline template (SLERP of the bundled model with the Train walk's adapter)
fills the form and the YAML, and the merge runs as a job to success, with its family tree."""
from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import open_tab


def test_merge_from_a_template(page, lab, sft_adapter):
    open_tab(page, "Merge")
    page.get_by_text("Template loaded").wait_for()  # the SLERP example fills both sides on load
    page.get_by_role("combobox", name="Template").click()
    page.get_by_role("option", name="Offline: the bundled model + your fine-tune").click()
    page.get_by_role("button", name="Fill from template").click()
    yaml = page.locator("#merge-yaml")
    yaml.get_by_text(sft_adapter.name).first.wait_for()  # base+adapter of the newest fine-tune
    assert "SLERP" in page.get_by_role("combobox", name="Method").input_value()

    page.get_by_role("textbox", name="Output name").fill("walk-merge")
    page.get_by_role("button", name="Merge", exact=True).click()
    status = page.locator("#merge-job-status")
    status.get_by_text("started").wait_for()  # at once: the job id, then the progress bar while it runs
    status.get_by_text("succeeded").wait_for(timeout=400_000)
    page.get_by_text("walk-merge").filter(visible=True).last.wait_for()  # the family tree names the merge
    lab.shoot(page, "merge", focus=page.get_by_text("Build a mergekit merge"))

    merged = [Path(a["path"]) for a in lab.artifacts("merge") if a["name"].startswith("walk-merge")]
    assert merged and list(merged[-1].glob("*.safetensors")) and (merged[-1] / "config.json").is_file()
    assert page.get_by_role("button", name="Try it in Chat").is_enabled()
