"""The other tabs after the walk: Artifacts shows what the walk made with its lineage, Jobs lists the jobs it ran,
Models shows the default model's facts. Each is screenshotted for the README."""
from __future__ import annotations

import re

from tests.browser.conftest import open_tab


def test_artifacts_jobs_and_models_tabs(page, lab, sft_adapter):
    open_tab(page, "Artifacts")
    page.get_by_role("button", name="Refresh").click()
    cell = page.get_by_text(sft_adapter.name, exact=True).filter(visible=True).first
    cell.click()  # picks the row
    page.wait_for_function("n => [...document.querySelectorAll('input, textarea')].some(e => e.value.endsWith(n))",
                           arg=sft_adapter.name)
    page.get_by_role("button", name="Lineage").click()
    page.locator("svg").filter(has_text=sft_adapter.name).first.wait_for()  # the family tree names the adapter
    page.get_by_role("button", name="Open card").click()
    page.get_by_text("base_model").filter(visible=True).first.wait_for()  # the card's metadata
    lab.shoot(page, "artifacts", focus=page.get_by_text("Everything the lab made lives here"))

    open_tab(page, "Jobs")
    # the walk's jobs (train, merge, push) and their states; run alone, the empty list says so
    page.get_by_text(re.compile("succeeded|No jobs yet")).filter(visible=True).first.wait_for()
    lab.shoot(page, "jobs", focus=page.get_by_text("Long work runs in the background"))

    open_tab(page, "Models")
    page.get_by_role("button", name="Show info").click()
    page.get_by_text("LlamaForCausalLM").filter(visible=True).first.wait_for()
    lab.shoot(page, "models", focus=page.get_by_text("The default model runs offline"))
