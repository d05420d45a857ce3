from lab.auth import Token, local_token, require_token, status_text
from lab.errors import LabError
import pytest


def test_lab_error_names_field_and_fix():
    e = LabError("Too big.", "Use a smaller file.", "upload")
    assert str(e) == "upload: Too big. Fix: Use a smaller file."


def test_token_repr_is_masked():
    t = Token("hf_secret_value")
    assert "hf_secret" not in repr(t) and "hf_secret" not in repr({"t": t})


def test_require_token(monkeypatch):
    with pytest.raises(LabError, match="signed in"):
        require_token(None, "Pushing")
    assert require_token("hf_x") == "hf_x"


def test_local_token_never_the_spaces_own(monkeypatch):
    from lab import settings

    monkeypatch.setenv("HF_TOKEN", "hf_space_owner")
    settings.reset_caches()
    assert local_token() == "hf_space_owner"
    monkeypatch.setenv("SPACE_ID", "me/lab")
    settings.reset_caches()
    assert local_token() is None


def test_status_offline():
    assert status_text(None) == "Not signed in"
    assert "offline" in status_text("hf_x")
