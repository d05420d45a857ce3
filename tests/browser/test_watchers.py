"""The suite's own alarms work: a console error in the page is caught, and so is a traceback in the app's log,
while an error raised on purpose for the browser (gr.Error) is not counted as a fault."""
from __future__ import annotations

from tests.browser.conftest import Lab

USER_ERROR = '''Traceback (most recent call last):
  File "gradio/queueing.py", line 1, in process_events
    raise Error("repo: bad name")
gradio.exceptions.Error: 'repo: bad name'
'''
FAULT = '''Traceback (most recent call last):
  File "lab/ui/common.py", line 50, in wrapper
    return fn(*args, **kwargs)
TypeError: 'NoneType' object is not subscriptable
'''


def test_console_errors_and_server_tracebacks_are_caught(page, lab, tmp_path):
    page.evaluate("console.error('boom from the test')")
    page.wait_for_timeout(300)
    assert any("boom from the test" in p for p in page.lab_problems)
    page.lab_problems.clear()  # caught: this test itself must still pass its teardown check

    log = tmp_path / "app.log"
    log.write_text("* Running on local URL\n" + USER_ERROR + "job pump: fine\n" + FAULT)
    found = Lab(lab.url, lab.home, lab.hub, log, tmp_path).tracebacks()
    assert len(found) == 1 and "TypeError" in found[0] and "gradio.exceptions.Error" not in found[0]
