"""Security routes: no path traversal, no LAB_HOME files, no active-content uploads, size cap."""
import httpx
import pytest

from lab import jobs
from lab.settings import get_settings


@pytest.fixture
def app_with_secrets(app_url, tmp_path, monkeypatch):
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
def one_mb_cap(monkeypatch, lab_home):
    from lab import settings

    monkeypatch.setenv("LAB_MAX_UPLOAD_MB", "1")
    settings.reset_caches()


def test_oversized_upload_is_rejected(one_mb_cap, app_url):
    limit = get_settings().max_upload_mb * 1024 * 1024
    r = httpx.post(app_url + "gradio_api/upload", files={"files": ("big.jsonl", b"0" * (limit + 1024))}, timeout=60)
    assert r.status_code == 413
