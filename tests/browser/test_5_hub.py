"""Hub tab in a real browser: publish the Data walk's dataset to the (fake) Hub, see the repo URL, and find the
files on the Hub."""
from __future__ import annotations

from tests.browser.conftest import open_tab


def test_publish_a_dataset_to_the_hub(page, lab, dataset_artifact):
    open_tab(page, "Hub")
    page.get_by_role("tab", name="Publish").click()
    page.get_by_text("Signed in as tester").wait_for()  # HF_TOKEN is the fake Hub's token
    page.get_by_role("button", name="↻").filter(visible=True).click()  # the list as it is now
    page.get_by_role("combobox", name="Artifact").click()
    page.get_by_role("option", name=f"{dataset_artifact.name} · dataset").click()
    page.get_by_role("textbox", name="Repo name").fill("walk-data")
    page.get_by_role("button", name="Push to the Hub").click()

    published = page.get_by_text("Published:").filter(visible=True)
    published.wait_for(timeout=120_000)
    url = f"{lab.hub.url}/datasets/tester/walk-data"
    assert page.get_by_role("link", name=url).filter(visible=True).get_attribute("href") == url
    lab.shoot(page, "hub", focus=page.get_by_text("Publish an artifact with a card").filter(visible=True))

    files = {p.name for p in lab.hub.files("tester/walk-data", repo_type="dataset").rglob("*") if p.is_file()}
    assert {"README.md", "lab.json"} <= files and any(f.startswith("data") for f in files)
    assert lab.hub.meta("tester/walk-data", repo_type="dataset")["private"] is True  # private by default
