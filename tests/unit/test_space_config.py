"""README.md's Space front matter and space.yaml must say the same; sdk_version must be the pinned gradio."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _front_matter() -> dict:
    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n"), "README.md must start with the Space front matter"
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_front_matter_and_space_yaml_agree():
    front = _front_matter()
    space = yaml.safe_load((ROOT / "space.yaml").read_text())
    assert front == space


def test_front_matter_has_the_required_keys():
    front = _front_matter()
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"
    assert front["hf_oauth"] is True
    assert set(front["hf_oauth_scopes"]) >= {"read-repos", "write-repos", "manage-repos"}
    assert front["suggested_hardware"] and front["startup_duration_timeout"]


def test_sdk_version_is_the_pinned_gradio():
    reqs = (ROOT / "requirements.txt").read_text()
    pinned = re.search(r"^gradio(?:\[[^\]]*\])?==([\d.]+)", reqs, re.M).group(1)
    assert _front_matter()["sdk_version"] == pinned
