"""Security routes: no path traversal, no LAB_HOME files, no active-content uploads, size cap.

Each request here reads or uploads one thing and changes nothing the next one looks at, so the module's tests
share one app, launched in a LAB_HOME they share too: the app blocks the very LAB_HOME the tests look in."""
import httpx
import pytest

from lab import hardware, jobs, settings
from lab.settings import get_settings
from tests.ui.conftest import launch_app


@pytest.fixture(scope="module")
def routes_app(tmp_path_factory):
    """(LAB_HOME, url) of one app for the module."""
    home = tmp_path_factory.mktemp("routes") / "labhome"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_HOME", str(home))
        mp.setenv("HF_HUB_OFFLINE", "1")
        settings.reset_caches()
        demo, url = launch_app()
        try:
            yield home, url
        finally:
            demo.close()
    settings.reset_caches()


@pytest.fixture
def lab_home(routes_app):
    """The module's LAB_HOME in place of a fresh one per test (the app was launched in it)."""
    settings.reset_caches()
    hardware.set_hardware(None)
    yield routes_app[0]
    settings.reset_caches()
    hardware.set_hardware(None)


@pytest.fixture
def app_url(routes_app, lab_home):
    return routes_app[1]


@pytest.fixture
def app_with_secrets(app_url):
    jobs.list_jobs()  # creates the jobs database in LAB_HOME
    return app_url


@pytest.mark.parametrize("path", [
    "gradio_api/file=../../etc/passwd",
    "gradio_api/file=/etc/passwd",
    "gradio_api/file=..%2F..%2Fetc%2Fpasswd",
    "gradio_api/file=.env",
    "file=../../etc/passwd",
])
def test_traversal_and_dotfiles_are_refused(app_with_secrets, path):
    r = httpx.get(app_with_secrets + path)
    assert r.status_code in (403, 404), (path, r.status_code)
    assert "root:" not in r.text


def test_lab_home_files_are_not_served(app_with_secrets):
    db = get_settings().jobs_db
    assert db.is_file()
    r = httpx.get(app_with_secrets + f"gradio_api/file={db}")
    assert r.status_code in (403, 404)
    assert b"SQLite" not in r.content


@pytest.mark.parametrize("name", ["page.html", "logo.svg", "app.js", "PAGE.HTML"])
def test_active_content_uploads_are_refused(app_url, name):
    r = httpx.post(app_url + "gradio_api/upload", files={"files": (name, b"<script>alert(1)</script>")})
    assert r.status_code == 415 and "refused" in r.text


def test_data_upload_is_accepted_and_never_served_as_html(app_url):
    r = httpx.post(app_url + "gradio_api/upload", files={"files": ("rows.jsonl", b'{"a": "<b>x</b>"}\n')})
    assert r.status_code == 200
    served = httpx.get(app_url + f"gradio_api/file={r.json()[0]}")
    assert served.status_code == 200 and "text/html" not in served.headers.get("content-type", "")


@pytest.fixture
def capped_app_url(monkeypatch, lab_home):
    """An app of its own, launched with a 1 MB upload cap (the cap is read at launch)."""
    monkeypatch.setenv("LAB_MAX_UPLOAD_MB", "1")
    settings.reset_caches()
    demo, url = launch_app()
    yield url
    demo.close()


def test_oversized_upload_is_rejected(capped_app_url):
    limit = get_settings().max_upload_mb * 1024 * 1024
    assert limit == 2**20
    r = httpx.post(capped_app_url + "gradio_api/upload", files={"files": ("big.jsonl", b"0" * (limit + 1024))},
                   timeout=60)
    assert r.status_code == 413
