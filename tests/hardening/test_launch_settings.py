"""`python app.py` launches with a file-size cap, no share link, no extra allowed paths, LAB_HOME blocked and
no telemetry; gradio is pinned at the release with the latest security fixes, and that is what runs."""
from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
# The newest gradio on PyPI when this was last checked (`pip index versions gradio`, 6.31.0); raise it when a
# newer release carries security fixes, together with requirements.txt and the Space's sdk_version.
LATEST_SECURE = Version("6.31.0")


def test_gradio_is_pinned_at_the_latest_secure_release_and_installed():
    reqs = (ROOT / "requirements.txt").read_text()
    pinned = Version(re.search(r"^gradio(?:\[[^\]]*\])?==([\d.]+)", reqs, re.M).group(1))
    assert pinned >= LATEST_SECURE
    assert Version(gr.__version__) == pinned


def test_main_launches_with_the_safe_settings(monkeypatch, lab_home):
    from lab import settings
    from lab.ui import app

    monkeypatch.setenv("LAB_MAX_UPLOAD_MB", "7")
    settings.reset_caches()
    seen = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: seen.update(kw, queue=self._queue))
    app.main()
    assert seen["share"] is False and seen["max_file_size"] == "7mb"
    assert seen["allowed_paths"] == [] and str(lab_home.resolve()) in seen["blocked_paths"]
    assert seen["enable_monitoring"] is False and seen["show_error"] is False
    assert seen["queue"].max_size == 64  # a full queue answers "queue full" instead of piling up requests
    assert 'os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")' in (ROOT / "app.py").read_text()
