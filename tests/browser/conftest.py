"""The real-browser suite: one `python app.py` for the package (signed in to a fake Hub) and one Debian chromium.

Each test gets a fresh page. A browser console error, an uncaught page error, or a Python traceback in the app's
log while the test ran fails the test (at teardown). Screenshots go to a temp folder, or to $LAB_SCREENSHOTS
(`LAB_SCREENSHOTS=docs/screenshots python -m pytest tests/browser` refreshes the README's pictures).
Never `playwright install`: it downloads a browser; the suite drives /usr/bin/chromium.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.browser.launch import VIEWPORT, shared_browser
from tests.fakehub import FakeHub
from tests.ui.conftest import ROOT, free_port

# Substrings of console errors that are not the app's fault. Gradio 6.31 offline logs none on these pages, so
# the list is empty; add an entry only with a comment that says why it is harmless.
BENIGN_CONSOLE: tuple[str, ...] = ()


@dataclass
class Lab:
    """The app under test: its URL, LAB_HOME, the fake Hub it publishes to, its log and the screenshot folder."""
    url: str
    home: Path
    hub: FakeHub
    log: Path
    shots: Path

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def tracebacks(self, since: int = 0) -> list[str]:
        """Unhandled exceptions the app logged after byte `since`, each as its traceback.

        A traceback that ends in gradio.exceptions.Error is a message raised on purpose for the browser
        (gr.Error), not a fault; everything else (an unexpected exception, also one that shows_errors turned
        into a toast, since it logs the original) counts."""
        with open(self.log, "rb") as f:
            f.seek(since)
            lines = f.read().decode("utf-8", "replace").splitlines()
        out, i = [], 0
        while i < len(lines):
            if "Traceback (most recent call last)" not in lines[i] and "Exception in ASGI application" not in lines[i]:
                i += 1
                continue
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or lines[end][0].isspace() or
                                        lines[end].startswith(("Traceback", "During handling", "The above"))):
                end += 1
            block = "\n".join(lines[i:end + 1])
            last = lines[end] if end < len(lines) else ""
            if not last.startswith("gradio.exceptions.Error"):
                out.append(block)
            i = end + 1
        return out

    def artifacts(self, kind: str | None = None) -> list[dict]:
        """Manifests (lab.json) of the app's artifacts, newest last, with their folder as "path"."""
        found = []
        for manifest in sorted((self.home / "artifacts").glob("*/lab.json"), key=lambda p: p.stat().st_mtime):
            m = json.loads(manifest.read_text())
            if kind is None or m.get("kind") == kind:
                found.append({**m, "path": str(manifest.parent)})
        return found

    def shoot(self, page, name: str, focus=None) -> Path:
        """Save a viewport screenshot of the page as NAME.png, with `focus` (a locator) at the top if given."""
        if focus is not None:  # bring it to the top of the picture
            focus.evaluate("e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -16); }")
        else:
            page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(300)  # let plots and fonts settle after scrolling
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path))
        return path


@pytest.fixture(scope="session")
def chromium():
    return shared_browser()


def _shots_dir(tmp: Path) -> Path:
    wanted = os.environ.get("LAB_SCREENSHOTS")
    if not wanted:
        return tmp / "screenshots"
    path = Path(wanted)
    return path if path.is_absolute() else ROOT / path


def _wait_until_served(proc: subprocess.Popen, url: str, log: Path, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"app exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.time() > deadline:
            raise AssertionError(f"app did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="package")
def lab(chromium, bundled_model, tmp_path_factory):
    """`python app.py` in a fresh LAB_HOME, signed in locally with the fake Hub's token (HF_TOKEN). One app for
    this package (the walk's steps build on each other); it stops before the rest of the suite runs."""
    root = tmp_path_factory.mktemp("browser")
    hub = FakeHub(root / "fakehub").start()
    port = free_port()
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1", "LAB_HOME": str(root / "home"),
           "HF_HOME": str(root / "hf"), "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "HF_TOKEN": hub.token}
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # the (fake) Hub is reachable; models stay bundled
        env.pop(var, None)
    log = root / "app.log"
    shots = _shots_dir(root)
    shots.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_until_served(proc, url, log)
        yield Lab(url, root / "home", hub, log, shots)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        hub.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item.walk_failed = outcome.get_result().failed  # the page fixture saves a picture of a failure


@pytest.fixture
def page(chromium, lab, request):
    """A fresh page on the app (header loaded). Console errors, page errors and server tracebacks fail the test."""
    context = chromium.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    problems: list[str] = []
    pg.on("console", lambda m: m.type == "error" and not any(b in m.text for b in BENIGN_CONSOLE)
          and problems.append(f"console error: {m.text}"))
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))  # which one
    pg.lab_problems = problems  # for the test that proves the watch works
    start = lab.log_size()
    pg.goto(lab.url)
    pg.get_by_text("Hardware:").wait_for(timeout=60_000)  # the first load probes the hardware (imports torch)
    yield pg
    if getattr(request.node, "walk_failed", False):
        pg.screenshot(path=str(lab.shots / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()
    tracebacks = lab.tracebacks(since=start)
    assert not problems, "the browser reported errors:\n" + "\n".join(problems)
    assert not tracebacks, "the app logged an unhandled exception:\n" + "\n\n".join(tracebacks)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    page.get_by_role("tab", name=name, exact=True, selected=True).wait_for()


def reload_mid_job(page, tab: str, job_box: str) -> str:
    """Reload the page while its panel's job runs (the address carries ?job=ID since the job started); returns the
    job id, once the reloaded page is back on the job's tab with its id in the panel's job field."""
    read = f"() => document.querySelector('#{job_box} textarea, #{job_box} input')?.value || ''"
    job = page.wait_for_function(f"() => ({read})()").json_value()
    page.wait_for_function("j => new URL(location.href).searchParams.get('job') === j", arg=job)
    page.reload()
    page.get_by_role("tab", name=tab, exact=True, selected=True).wait_for(timeout=60_000)
    page.wait_for_function(f"j => ({read})() === j", arg=job)
    return job


def pick(page, combobox: str, option) -> None:
    """Open a dropdown and choose an option. Opening a tab refreshes its pickers' choices, and a refresh that
    lands while the list is open closes it, so a user (and this helper) opens it again."""
    for attempt in range(3):
        page.get_by_role("combobox", name=combobox).click()
        try:
            page.get_by_role("option", name=option).click(timeout=5_000)
            return
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


@pytest.fixture
def app_home(lab, monkeypatch):
    """Core calls in this test act on the app's LAB_HOME: to set up what an earlier step of the walk leaves."""
    from lab import settings

    monkeypatch.setenv("LAB_HOME", str(lab.home))
    settings.reset_caches()
    return lab.home


@pytest.fixture
def sft_adapter(lab, request) -> Path:
    """The adapter the Train walk made; run alone, the session's test adapter copied in as an artifact."""
    made = lab.artifacts("adapter")
    if made:
        return Path(made[-1]["path"])
    from lab.artifacts import finalize, new_folder
    from tests.hub_helpers import BASE, link_tree

    source = request.getfixturevalue("lora_adapter")
    request.getfixturevalue("app_home")
    folder = new_folder("adapter", "secret-lora")
    link_tree(source, folder)
    (folder / "README.md").unlink(missing_ok=True)
    finalize(folder, "adapter", [BASE], recipe={"method": "sft"}, step="sft")
    return folder


@pytest.fixture
def dataset_artifact(lab, request) -> Path:
    """The dataset the Data walk exported; run alone, a small one written here."""
    made = lab.artifacts("dataset")
    if made:
        return Path(made[-1]["path"])
    from tests.browser.test_1_data import OWN_ROWS
    from tests.hub_helpers import dataset_artifact as make

    request.getfixturevalue("app_home")
    rows = [{"messages": [{"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["output"]}]}
            for r in OWN_ROWS]
    return make(rows, name="walk-rows")


_LEGEND = """id => { const box = document.getElementById(id).getBoundingClientRect();
  return [...document.querySelectorAll(`#${id} .role-legend text`)].map(t => { const r = t.getBoundingClientRect();
    return [t.textContent,
            r.top >= box.top && r.bottom <= box.bottom && r.left >= box.left && r.right <= box.right]; });
}"""


def legend_of(page, chart: str) -> list:
    """[text, inside the chart's block] for each text of a chart's legend (its title and line names), the chart
    named by its elem_id."""
    return page.evaluate(_LEGEND, chart)
