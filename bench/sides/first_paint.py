"""Lab side: the first paint of the app in chromium once `python app.py` serves, then stop both.

Usage: first_paint.py [APP_SCRIPT [READY_SELECTOR]]; the baseline passes bench/baselines/gradio_hello.py and a
selector for its textbox. The app starts as in app_start.py (free PORT, fresh LAB_HOME under $BENCH_TMP, offline,
not signed in); when it answers 200, Debian's chromium (headless, a fresh profile) opens it.
BENCH_RESULT, in seconds from the start of the navigation:
  first_paint_s, first_contentful_paint_s  performance.getEntriesByType('paint')
  dom_content_loaded_s                     the navigation entry's domContentLoadedEventEnd
  ui_visible_s                             READY_SELECTOR visible (the lab: its tab bar), measured by playwright
  first_200_s                              app start until the first 200, for context
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_start import ROOT, TIMEOUT_S, answers, free_port, stop  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
LAB_READY = 'role=tab[name="Data"]'
PAINTS = """() => Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]))"""
DCL = "() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"


def serve(app: str, scratch: Path) -> tuple[subprocess.Popen, str, float]:
    """Start the app; returns (process, URL, seconds to the first 200). Exits 1 if it never serves."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "LAB_HOME": str(scratch / "home"), "HF_HUB_OFFLINE": "1"}
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "SPACE_ID", "SYSTEM", "LAB_DEMO"):
        env.pop(var, None)
    url = f"http://127.0.0.1:{port}/"
    with open(scratch / "app.log", "wb") as log:  # the child keeps its own handle
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, app], cwd=ROOT, env=env, stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    while not answers(url):
        if proc.poll() is not None or time.perf_counter() - start > TIMEOUT_S:
            stop(proc)
            print(f"{app} did not serve {url}:\n{(scratch / 'app.log').read_text(errors='replace')[-3000:]}",
                  file=sys.stderr)
            sys.exit(1)
        time.sleep(0.05)
    return proc, url, time.perf_counter() - start


def paint(url: str, ready: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.locator(ready).first.wait_for(state="visible", timeout=60_000)
        visible = time.perf_counter() - start
        page.wait_for_function("() => performance.getEntriesByType('paint').length >= 2", timeout=30_000)
        paints, dcl = page.evaluate(PAINTS), page.evaluate(DCL)
        browser.close()
    return {"first_paint_s": round(paints["first-paint"] / 1000, 3),
            "first_contentful_paint_s": round(paints["first-contentful-paint"] / 1000, 3),
            "dom_content_loaded_s": round(dcl / 1000, 3), "ui_visible_s": round(visible, 3)}


def main(app: str, ready: str) -> int:
    if not os.path.exists(CHROMIUM):
        print("chromium is not installed (apt-get install -y chromium)", file=sys.stderr)
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="paint-", dir=os.environ.get("BENCH_TMP")))
    proc, url, first_200 = serve(app, scratch)
    try:
        result = paint(url, ready)
    finally:
        stop(proc)
    print("BENCH_RESULT " + json.dumps({**result, "first_200_s": round(first_200, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "app.py", sys.argv[2] if len(sys.argv) > 2 else LAB_READY))
