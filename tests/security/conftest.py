"""A duplicated Space as strangers meet it: the real app in this process, in Space mode, with the fake Hub as its
Hub and its OpenID provider. Its owner is the fake Hub's user `tester`; `alice` and `bob` are visitors who sign in;
and the Space's own HF_TOKEN is a canary that the fake Hub knows as the owner's (so a leak would really read the
owner's private repos, and `hub.auth_log` shows it).
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from gradio_client import Client

from tests.hardening.conftest import load_spy  # noqa: F401 (a fixture these tests use)
from tests.space_signin import sign_in
from tests.ui.test_space_modes import SPACE_ENV

OWNER, VISITORS = "tester", ("alice", "bob")
CANARY = "space-owner-canary-7f3e9b1c"  # the Space's own secret: never in a visitor's request
SESSIONS = 200  # browser sessions whose state a Space app keeps here (LAB_MAX_SESSIONS; the sweep opens ~1,400)

pytestmark = pytest.mark.filterwarnings(
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")


@dataclass
class Space:
    url: str
    demo: object
    hub: object
    headers: dict  # name -> signed-in headers

    def client(self, who: str | None = None) -> Client:
        """gradio_client as `who` (None: an anonymous visitor)."""
        return Client(self.url, verbose=False, headers=self.headers[who] if who else None)

    def canary_seen(self) -> list:
        return [(m, p) for m, p, t in self.hub.auth_log if t == CANARY]


def _space(tmp_path_factory, extra_env: dict):
    import gradio.oauth

    from lab import settings
    from tests.fakehub import FakeHub, use_fake_hub
    from tests.hardening.conftest import running_app

    scratch = tmp_path_factory.mktemp("space")
    hub = FakeHub(scratch / "hub").start()
    hub.tokens[CANARY] = OWNER
    for name in VISITORS:
        hub.add_user(name)
    env = {**SPACE_ENV, "OPENID_PROVIDER_URL": hub.url, "SPACE_AUTHOR_NAME": OWNER, "LAB_MAX_SESSIONS": str(SESSIONS),
           **extra_env}
    with pytest.MonkeyPatch.context() as mp:
        use_fake_hub(mp, hub.url, scratch / "hf")
        mp.setenv("LAB_HOME", str(scratch / "home"))
        for name, value in env.items():
            mp.setenv(name, value)
            if hasattr(gradio.oauth, name):
                mp.setattr(gradio.oauth, name, value)  # read once at gradio's import
        mp.setenv("HF_TOKEN", CANARY)  # the Space's secret; the app takes it out of its environment at start
        settings.reset_caches()
        with running_app(max_size=256) as (demo, url):
            headers = {name: sign_in(url, user=name) for name in (OWNER, *VISITORS)}
            yield Space(url, demo, hub, headers)
            demo.state_holder.session_data.clear()  # millions of objects would slow every later test's GC
    hub.stop()
    settings.reset_caches()


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """A duplicated (private) Space: heavy work on, visitors sign in."""
    yield from _space(tmp_path_factory, {})


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The public demo Space (LAB_DEMO=1)."""
    yield from _space(tmp_path_factory, {"LAB_DEMO": "1"})


@pytest.fixture
def online(monkeypatch):
    """The (fake) Hub answers in this test: Hub ids are really looked up, tokens really sent."""
    from lab import settings

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    settings.reset_caches()
