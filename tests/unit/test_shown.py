"""What a visitor of a Space sees of a text: server paths named the lab's way or hidden, and nothing else touched."""
import pytest

from lab import settings
from lab.shown import scrub


@pytest.fixture
def on_space(monkeypatch, lab_home):
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "me/lab")
    settings.reset_caches()
    yield settings.get_settings()
    settings.reset_caches()


def test_paths_are_named_or_hidden(on_space):
    art = on_space.artifacts / "my-sft" / "adapter_model.safetensors"
    assert scrub(f"saved to {art}.") == "saved to my-sft/adapter_model.safetensors."
    assert scrub("see /etc/passwd, then ~/x and ~root/.ssh/id") == "see <path>, then <path> and <path>"
    assert scrub("file:///etc/hosts") == "<path>"


@pytest.mark.parametrize("text", ["Refusals / boilerplate", "about ~5 min", "https://router.huggingface.co/v1",
                                  "org/name", "and/or 1/2"])
def test_text_that_is_no_path_stays(on_space, text):
    assert scrub(text) == text


def test_off_a_space_text_is_the_users_own(lab_home):
    assert scrub("/etc/passwd") == "/etc/passwd"
