"""Browser (issue 9): the first paint of the app in Debian's chromium once `python app.py` serves.

The baseline is the same measurement on a bare Gradio hello app (bench/baselines/gradio_hello.py), so the ratio
says what the lab's page (eight tabs, the header, the tour) adds to what Gradio itself costs in the browser.
"""
from __future__ import annotations

from bench.core import BASELINES, Pair, side

HELLO_READY = 'role=textbox[name="Name"]'  # the hello app's first component; the lab's side waits for its tab bar


def pairs(quick: bool) -> list[Pair]:
    return [
        Pair("first_paint", side("sides/first_paint.py"),
             side("sides/first_paint.py", BASELINES / "gradio_hello.py", HELLO_READY), reps=5, quick_reps=3,
             compare={"first_paint_s": "lower", "first_contentful_paint_s": "lower",
                      "dom_content_loaded_s": "lower", "ui_visible_s": "lower", "first_200_s": "lower"},
             targets={"first_contentful_paint_s": 3.0, "ui_visible_s": 10.0}, timeout_s=240,
             note="`python app.py` (fresh LAB_HOME, offline) until it answers 200, then headless chromium (fresh "
                  "profile, 1300×900) opens it: first paint and first contentful paint (Paint Timing API) and "
                  "DOMContentLoaded from the start of the navigation, and ui_visible_s until the tab bar is "
                  "visible. Baseline: the same on a bare Gradio hello app, ui_visible_s until its textbox shows."),
    ]
