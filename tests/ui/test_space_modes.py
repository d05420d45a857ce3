"""Space modes: the public demo shows the duplicate invitation and turns heavy work off; local has all on."""
import httpx
import pytest

from lab import settings


def _component_types(url):
    """Component types, plus elem_ids (the login and duplicate buttons render as type 'button')."""
    cfg = httpx.get(url + "config").json()
    return {c["type"] for c in cfg["components"]} | {c["props"].get("elem_id") for c in cfg["components"]}, cfg


def test_local_mode_has_everything_on_and_no_duplicate_button(app_url):
    types, _ = _component_types(app_url)
    assert "lab-duplicate" not in types and "lab-login" not in types
    assert settings.get_settings().heavy_allowed


SPACE_ENV = {"SYSTEM": "spaces", "SPACE_ID": "me/lab", "OAUTH_CLIENT_ID": "x", "OAUTH_CLIENT_SECRET": "y",
             "OAUTH_SCOPES": "openid profile", "OPENID_PROVIDER_URL": "http://127.0.0.1:9"}


@pytest.fixture
def demo_space(lab_home):
    """`python app.py` as the public demo Space runs it (offline, no token)."""
    from tests.ui.conftest import serve_app_process

    with serve_app_process({**SPACE_ENV, "LAB_DEMO": "1"}) as url:
        yield url


def test_demo_space_invites_duplication_and_refuses_heavy_jobs(demo_space):
    types, cfg = _component_types(demo_space)
    assert "lab-duplicate" in types and "lab-login" in types
    texts = " ".join(str(c["props"].get("value", "")) for c in cfg["components"])
    assert "Duplicate the Space" in texts


def test_a_space_restarting_with_an_empty_home_says_earlier_jobs_are_gone(lab_home):
    from tests.ui.conftest import serve_app_process

    with serve_app_process(SPACE_ENV) as url:
        cfg = httpx.get(url + "config").json()
    notice = next(c for c in cfg["components"] if c["props"].get("elem_id") == "lab-startup-notice")
    assert "earlier" in notice["props"]["value"] or "before the restart" in notice["props"]["value"]


def test_restart_marks_a_dead_worker_interrupted_and_says_so(lab_home):
    from lab.jobs import store
    from tests.ui.conftest import serve_app_process

    job = store.create("test.x", "tests.runners:count", True, "n: 1")
    with store.connect(immediate=True) as con:
        store.set_state(con, job.id, "running", pid=999999, pid_started=1.0, started=1.0)
    with serve_app_process({}) as url:
        cfg = httpx.get(url + "config").json()
    notice = next(c for c in cfg["components"] if c["props"].get("elem_id") == "lab-startup-notice")
    assert "interrupted" in notice["props"]["value"]
    assert store.get_job(job.id).state == "interrupted"
