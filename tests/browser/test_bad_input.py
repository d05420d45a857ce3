"""Bad input in a real browser gets a visible message that names the field (never a stack trace, never nothing):
a wrong file type or a broken file on the Data tab, an empty chat prompt, an invalid Hub repo name."""
from __future__ import annotations

import pytest

from tests.browser.conftest import open_tab


def _toast(page) -> str:
    """The text of the error toast (Gradio stacks them into one box); it must not be a stack trace."""
    toast = page.get_by_test_id("toast-body").filter(visible=True).last
    toast.wait_for()
    text = toast.inner_text()
    assert "Traceback" not in text and 'File "' not in text
    return text


def _dismiss(page) -> None:
    page.get_by_test_id("toast-close").first.click()
    page.get_by_test_id("toast-body").wait_for(state="hidden")


@pytest.mark.parametrize("name, content", [("tool.exe", b"MZ\x90\x00"), ("page.html", b"<script>alert(1)</script>")])
def test_wrong_file_type_on_the_data_tab(page, lab, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    open_tab(page, "Data")
    page.locator("#data-files input[type=file]").set_input_files(str(path))
    text = _toast(page)
    assert f"Invalid file type: {name}" in text and ".jsonl, .json, .csv, .parquet" in text
    assert page.locator("#data-files").get_by_text("Error").is_visible()  # the upload field itself is marked
    assert not list((lab.home / "uploads").rglob(name))  # refused in the browser, nothing reached the server
    _dismiss(page)
    page.get_by_role("button", name="Load", exact=True).click()  # and Load says what is missing
    assert "sources: Nothing to load" in _toast(page)


def test_broken_data_file_and_missing_hub_id(page, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"instruction": "hi", "output": "hello"},\n{oops}]')
    open_tab(page, "Data")
    page.locator("#data-files input[type=file]").set_input_files(str(path))
    page.locator("#data-files").get_by_text("broken").wait_for()
    page.get_by_role("button", name="Load", exact=True).click()
    text = _toast(page)
    assert "file: broken.json: invalid JSON at line 2" in text and "Fix:" in text
    _dismiss(page)
    page.get_by_role("button", name="Stream a preview").click()  # no Hub id typed
    assert "hub: No Hub dataset id given." in _toast(page)


def test_empty_chat_prompt(page):
    open_tab(page, "Chat")
    page.get_by_role("button", name="Send").click()
    assert "prompt: The message is empty. Fix: Type a message first." in _toast(page)
    assert page.locator("#chat-pane-1 [data-testid=bot]").count() == 0  # no model was asked
    page.get_by_role("button", name="Stop").click()  # nothing to stop: it says so instead of nothing
    page.get_by_text("Nothing is being generated right now.").wait_for()


def test_invalid_hub_repo_name(page, lab, dataset_artifact):
    open_tab(page, "Hub")
    page.get_by_role("tab", name="Publish").click()
    page.get_by_role("button", name="↻").filter(visible=True).click()  # the list as it is now
    page.get_by_role("combobox", name="Artifact").click()
    page.get_by_role("option", name=f"{dataset_artifact.name} · dataset").click()
    page.get_by_role("textbox", name="Repo name").fill("my data!")
    page.get_by_role("button", name="Push to the Hub").click()
    text = _toast(page)
    assert text.startswith("Error") and "repo: The repo name 'my data!' contains ' !'" in text
    assert page.get_by_role("textbox", name="Push job").filter(visible=True).input_value() == ""  # no job
    assert not lab.hub.exists("tester/my data!", repo_type="dataset")


def test_an_error_stays_beside_its_control_names_the_fix_and_is_one_log_line(page, lab):
    """A toast no longer fades (Gradio's default fades at 10 s), Evaluate's Check writes its mistake into its own
    report beside the button (no bare "Error" badge), the next action replaces it, and the server log holds one
    line for it, no traceback (the page fixture fails on any traceback)."""
    start = lab.log_size()
    open_tab(page, "Data")
    page.get_by_role("button", name="Load", exact=True).click()
    toast = page.get_by_test_id("toast-body").filter(visible=True).last
    toast.wait_for()
    open_tab(page, "Evaluate")
    page.get_by_role("button", name="Check and estimate").click()
    report = page.locator("#eval-report")
    report.get_by_text("name at least one task").wait_for()
    page.wait_for_timeout(12_000)  # past the time a default toast fades
    assert toast.is_visible() and "sources: Nothing to load" in toast.inner_text()
    assert report.get_by_text("name at least one task").is_visible() and "Fix:" in report.inner_text()
    assert page.locator("#eval-report").get_by_text("Error", exact=True).count() == 0
    page.get_by_label("More lm-eval task names", exact=False).fill("no_such_task_anywhere")
    page.get_by_role("button", name="Check and estimate").click()
    report.get_by_text("no_such_task_anywhere").wait_for()  # the next action's answer replaces the old one
    assert report.get_by_text("name at least one task").count() == 0
    with open(lab.log, "rb") as f:
        f.seek(start)
        log = f.read().decode("utf-8", "replace")
    assert "user error: tasks: name at least one task" in log and "user error: sources: Nothing to load" in log
