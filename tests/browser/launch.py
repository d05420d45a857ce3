"""How the tests start a browser: Debian's chromium driven by Playwright (never `playwright install`, which
downloads a browser and fails offline). Without chromium the browser tests skip, unless LAB_REQUIRE_BROWSER=1
(CI), where a missing browser fails them."""
from __future__ import annotations

import atexit
import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1300, "height": 900}


def require_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("LAB_REQUIRE_BROWSER"):
        pytest.fail("chromium is required (apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


_SHARED: dict = {}


def shared_browser():
    """One headless chromium per test process, started on first use and closed at exit. Playwright's sync API
    runs its own event loop, so a second sync_playwright() while one is open fails: every browser test shares."""
    require_chromium()
    if "browser" not in _SHARED:
        from playwright.sync_api import sync_playwright

        _SHARED["playwright"] = sync_playwright().start()
        _SHARED["browser"] = _SHARED["playwright"].chromium.launch(executable_path=CHROMIUM, args=ARGS)
        atexit.register(_close)
    return _SHARED["browser"]


def _close() -> None:
    browser, playwright = _SHARED.pop("browser", None), _SHARED.pop("playwright", None)
    if browser is not None:
        browser.close()
        playwright.stop()
