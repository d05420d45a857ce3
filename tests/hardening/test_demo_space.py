"""The public demo Space (LAB_DEMO=1) as an anonymous visitor reaches it through gradio_client: nothing it does
writes an artifact, and no text field lets it read a file outside Gradio's upload cache."""
from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.hardening.conftest import running_app
from tests.ui.test_space_modes import SPACE_ENV
from tests.unit.data_fixtures import write_alpaca

SIGN_IN = "needs you signed in"
pytestmark = pytest.mark.filterwarnings(  # Gradio's Spaces hot-reloader thread wants the `spaces` package: harmless
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture(scope="module")
def demo_space(tmp_path_factory):
    """The app in this process as the public demo Space runs it: Space mode, LAB_DEMO=1, offline, no token."""
    import gradio.oauth

    from lab import settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_HOME", str(tmp_path_factory.mktemp("demo") / "home"))
        for name, value in {**SPACE_ENV, "LAB_DEMO": "1"}.items():
            mp.setenv(name, value)
            if hasattr(gradio.oauth, name):
                mp.setattr(gradio.oauth, name, value)  # read once at gradio's import
        mp.delenv("HF_TOKEN", raising=False)
        settings.reset_caches()
        with running_app() as (demo, url):
            yield demo, url
    settings.reset_caches()


def test_anonymous_exports_on_the_demo_are_refused_and_write_nothing(demo_space, lab_home, tmp_path):
    from lab.chat import arena

    _, url = demo_space
    arena.record_vote(arena.Battle("acme/a", "acme/b"), [{"role": "user", "content": "Hi"}], "Hello!", "Go away.",
                      "a")
    client = Client(url, verbose=False)
    with pytest.raises(AppError, match=SIGN_IN):
        client.predict("votes", api_name="/arena_export")
    path, _ = write_alpaca(tmp_path / "rows.jsonl")
    recipe = client.predict([handle_file(str(path))], "", "", "train", None, "auto", api_name="/data_load")[2]
    assert "exact_dedup" in recipe
    client.predict(recipe, api_name="/data_run")  # a small run: in this session, in memory
    with pytest.raises(AppError, match=SIGN_IN):
        client.predict("mine", api_name="/data_export")
    assert not (lab_home / "artifacts").exists() or not any((lab_home / "artifacts").iterdir())
