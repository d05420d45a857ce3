"""Chat tab in a real browser: the base and the Train walk's adapter answer one prompt side by side, streaming;
then a blind battle, a vote, and the votes exported as a preference dataset."""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import open_tab, pick

PROMPT = "Name a primary color."
# Records every text each pane's last reply shows, so the test sees the replies grow token by token.
WATCH_PANES = """() => { window.seen = {1: new Set(), 2: new Set()};
  new MutationObserver(() => { for (const i of [1, 2]) {
      const bots = document.querySelectorAll(`#chat-pane-${i} [data-testid=bot]`);
      if (bots.length) window.seen[i].add(bots[bots.length - 1].innerText.trim()); } })
    .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def _pick_models(page, adapter: Path) -> None:
    assert page.get_by_role("combobox", name="Model 1").input_value() == "HuggingFaceTB/SmolLM2-135M-Instruct"
    pick(page, "Model 2", re.compile(re.escape(adapter.name) + r" \(adapter\)"))
    page.get_by_text("System prompt and generation settings").click()
    page.get_by_role("spinbutton", name=re.compile("max_new_tokens")).fill("12")  # short replies


def test_side_by_side_then_arena_vote_and_export(page, lab, sft_adapter):
    open_tab(page, "Chat")
    _pick_models(page, sft_adapter)
    page.evaluate(WATCH_PANES)
    page.locator("#chat-prompt textarea").fill(PROMPT)
    page.get_by_role("button", name="Send").click()
    for pane in (1, 2):
        page.locator(f"#chat-stats-{pane}").get_by_text("tok/s").wait_for(timeout=180_000)
    seen = page.evaluate("() => [[...window.seen[1]], [...window.seen[2]]]")
    for texts in seen:
        partial = [t for t in texts if t]
        assert len(partial) >= 2, f"the reply did not stream: {texts}"  # it grew while the user watched
    assert page.locator("#chat-prompt textarea").input_value() == ""  # sent: the box is empty again
    page.get_by_text("System prompt and generation settings").click()  # fold the settings for the picture
    lab.shoot(page, "chat", focus=page.get_by_text("Pick 2–4 models"))

    page.get_by_role("tab", name="Arena (blind)").click()
    page.locator("#arena-prompt textarea").fill(PROMPT)
    vote_a = page.get_by_role("button", name="A is better")
    assert vote_a.is_disabled()  # no battle yet: nothing to vote on
    page.get_by_role("button", name="New battle").click()
    for side in ("a", "b"):
        page.locator(f"#arena-stats-{side}").get_by_text("tok/s").wait_for(timeout=180_000)
    expect(vote_a).to_be_enabled()  # both replies have finished: the votes wake
    vote_a.click()
    page.locator("#arena-reveal").get_by_text("Model A was").wait_for()
    expect(vote_a).to_be_disabled()  # one vote a battle
    page.get_by_role("button", name="Export votes as a dataset").click()
    done = page.locator("#arena-exported").get_by_text("Exported")
    done.wait_for()
    rows = int(re.search(r"Exported (\d+) preference rows", done.inner_text()).group(1))
    votes = [Path(a["path"]) for a in lab.artifacts("votes")]
    assert votes and rows >= 1 and len((votes[-1] / "data.jsonl").read_text().splitlines()) == rows
