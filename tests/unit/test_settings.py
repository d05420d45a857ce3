import os
import stat

import pytest

from lab import settings
from lab.errors import LabError


def test_lab_home_from_env(lab_home):
    s = settings.get_settings()
    assert s.home == lab_home.resolve()
    assert s.home.is_dir()
    assert s.jobs_db.parent == s.home


def test_default_home_is_user_cache_without_data(monkeypatch, tmp_path):
    monkeypatch.delenv("LAB_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    settings.reset_caches()
    if os.path.isdir("/data") and os.access("/data", os.W_OK):
        pytest.skip("this machine has a writable /data, which the default prefers")
    assert settings.get_settings().home == (tmp_path / ".cache" / "lab").resolve()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_home_is_a_clear_error(monkeypatch, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("LAB_HOME", str(ro / "lab"))
    settings.reset_caches()
    with pytest.raises(LabError, match="LAB_HOME"):
        settings.get_settings()


def test_unwritable_home_when_path_is_a_file(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("LAB_HOME", str(blocker / "lab"))
    settings.reset_caches()
    with pytest.raises(LabError, match="not writable"):
        settings.get_settings()


def test_demo_mode_turns_heavy_actions_off(monkeypatch):
    assert settings.get_settings().heavy_allowed
    monkeypatch.setenv("LAB_DEMO", "1")
    settings.reset_caches()
    assert not settings.get_settings().heavy_allowed


def test_offline_flag_and_unreachable_hub(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings.reset_caches()
    assert settings.is_offline()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("LAB_HUB_TIMEOUT_S", "0.5")
    settings.reset_caches()
    assert settings.is_offline()


def test_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("PORT", "eighty")
    settings.reset_caches()
    with pytest.raises(LabError, match="PORT"):
        settings.get_settings()
