"""The model reference grammar with a pinned revision (lab/models/ref.py, lab/repo_id.py): org/name@REV is a Hub
model at a branch, tag or commit; a revision outside the strict pattern, and an '@' on anything local, is refused
with a LabError naming the field, before the disk or the Hub is asked."""
from __future__ import annotations

import json

import pytest

from lab import settings
from lab.access import NOT_ALLOWED
from lab.cards import card_metadata, render_card
from lab.errors import LabError
from lab.export.source import Source
from lab.models.ref import ModelRef, named_base, parse
from lab.repo_id import is_model_id, is_pinned_id, is_revision, split_revision
from lab.train.finish import _name_base_by_hub_id

SHA = "0123456789abcdef0123456789abcdef01234567"
GOOD = ["main", "v1.0", "release_2", SHA, "refs/pr/1", "feature/x-y", "a" * 100, "9"]
BAD = ["", "a" * 101, "/main", "main/", "a//b", "a..b", "../../etc/passwd", "x/.hidden", ".hidden", "-x", "_x",
       "v1.", "a b", "v1@v2", "é", "a:b", "a~1", "a^b", "a\\b", "a?b", "a*b", "a%2Fb"]


@pytest.fixture(autouse=True)
def _home(lab_home):
    return lab_home


def _adapter(folder, base="org/base", revision=None):
    folder.mkdir(parents=True)
    cfg = {"base_model_name_or_path": base, **({"revision": revision} if revision is not None else {})}
    (folder / "adapter_config.json").write_text(json.dumps(cfg))
    (folder / "adapter_model.safetensors").write_bytes(b"\0")
    return folder


@pytest.mark.parametrize("rev", GOOD)
def test_a_hub_id_pinned_to_a_branch_tag_or_commit(rev):
    ref = parse(f"org/model@{rev}")
    assert is_revision(rev) and is_pinned_id(f"org/model@{rev}") and is_model_id(f"org/model@{rev}")
    assert (ref.base, ref.revision, ref.hub_id, ref.adapter) == (f"org/model@{rev}", rev, "org/model", None)
    assert ref.base_is_hub and ref.folders == [] and ref.label == f"org/model@{rev}" == str(ref)
    assert parse(str(ref)) == ref and split_revision(ref.base) == ("org/model", rev)


def test_the_main_branch_carries_no_revision():
    ref = parse("org/model")
    assert (ref.base, ref.revision, ref.hub_id) == ("org/model", None, "org/model")
    assert ref != parse("org/model@main")  # pinned to main is asked of the Hub as such
    assert ModelRef("x", "org/model@v2").revision == "v2" and ModelRef("x", "/some/folder").revision is None
    assert ModelRef("x", "/some/folder").hub_id is None


@pytest.mark.parametrize("rev", BAD, ids=repr)
def test_a_bad_revision_is_refused_naming_the_field_and_the_fix(rev):
    assert not is_revision(rev) and not is_model_id(f"org/model@{rev}")
    with pytest.raises(LabError) as err:
        parse(f"org/model@{rev}", "judge.model")
    assert err.value.field == "judge.model" and "@" in err.value.fix and len(str(err.value)) < 600
    with pytest.raises(LabError) as err:
        split_revision(f"org/model@{rev}", "models")
    assert err.value.field == "models"


def test_control_characters_and_huge_input_get_the_usual_refusal():
    for text in ("org/model@v\x001", "org/model@v1\tx", "org/model@" + "a" * 2000):
        with pytest.raises(LabError) as err:
            parse(text)
        assert len(str(err.value)) < 600


def test_nothing_local_carries_a_revision(tmp_path):
    folder = tmp_path / "model@v1"  # exists, and still no revision is read into it
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    adapter = _adapter(tmp_path / "lora")
    (settings.get_settings().artifacts / "mine").mkdir(parents=True)
    for text in (str(folder), str(tmp_path / "model") + "@v1", "./model@v1", "~/m@v1", "mine@v1", "name@v1",
                 f"{adapter}@v1", "org/a/b@v1", "@v1"):
        with pytest.raises(LabError, match="only a Hub model") as err:
            parse(text, "models")
        assert err.value.field == "models"
    with pytest.raises(LabError, match="no revision") as err:
        parse(f"org/base+{adapter}@v1", "model")
    assert "org/name@REV+ADAPTER" in err.value.fix


def test_the_revision_pins_the_hub_base_of_an_adapter(tmp_path):
    adapter = _adapter(tmp_path / "lora")
    ref = parse(f"org/base@v2+{adapter}")
    assert (ref.base, ref.revision, ref.hub_id, ref.adapter) == ("org/base@v2", "v2", "org/base", adapter.resolve())
    assert ref.label == "org/base@v2 + lora" and parse(str(ref)) == ref
    with pytest.raises(LabError):
        parse(f"org/base@a..b+{adapter}")


def test_an_adapter_alone_stands_on_the_revision_its_config_names(tmp_path):
    pinned = _adapter(tmp_path / "pinned", revision="v3")
    ref = parse(str(pinned))
    assert (ref.base, ref.revision, ref.adapter) == ("org/base@v3", "v3", pinned.resolve())
    assert parse(str(_adapter(tmp_path / "plain", revision=None))).revision is None
    assert named_base({"base_model_name_or_path": str(tmp_path), "revision": "v3"}) == str(tmp_path)  # a folder: none
    with pytest.raises(LabError) as err:  # a hostile config's revision is checked like a typed one
        parse(str(_adapter(tmp_path / "hostile", revision="../../x")), "models")
    assert err.value.field == "models"


def test_on_a_space_the_same_rules_and_no_disk_read(tmp_path, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "me/lab")
    settings.reset_caches()
    ref = parse("org/model@v1")
    assert ref.base_is_hub and ref.revision == "v1" and ref.folders == []
    outside = tmp_path / "secret@v1"
    outside.mkdir()
    answers = set()
    for text in (str(outside), str(tmp_path / "nothing@v1")):  # there or not: one answer, on the text's form
        with pytest.raises(LabError) as err:
            parse(text)
        answers.add(str(err.value).replace(text[:80], "TEXT"))  # the message quotes the text, cut at 80
    assert len(answers) == 1 and "only a Hub model" in answers.pop()
    with pytest.raises(LabError, match=NOT_ALLOWED):
        parse(f"org/model@v1+{tmp_path}")  # the adapter part keeps the Space's folder rule


def test_a_card_names_the_base_by_id_and_its_lineage_keeps_the_revision(tmp_path):
    manifest = {"kind": "adapter", "name": "a", "license": "apache-2.0",
                "parents": [{"ref": "org/base@v1", "kind": "model"}, {"ref": "org/base", "kind": "model"},
                            {"ref": "other/m@" + SHA, "kind": "model"}],
                "lineage": [{"step": "sft", "parents": ["org/base@v1"], "date": "2026-01-01"}]}
    assert card_metadata(manifest)["base_model"] == ["org/base", "other/m"]
    (tmp_path / "lab.json").write_text(json.dumps(manifest))
    assert "`org/base@v1`" in render_card(tmp_path)


def test_a_trained_adapter_names_a_pinned_base_as_peft_does(tmp_path):
    cfg = tmp_path / "adapter_config.json"
    cfg.write_text(json.dumps({"base_model_name_or_path": "/cache/models--org--base/snapshots/abc", "r": 8}))
    _name_base_by_hub_id(tmp_path, "org/base@v1")
    assert json.loads(cfg.read_text()) == {"base_model_name_or_path": "org/base", "revision": "v1", "r": 8}
    assert parse(str(tmp_path)).base == "org/base@v1"  # and it reads back pinned


def test_an_export_of_a_pinned_model_has_a_plain_name():
    assert Source("org/m@v1", "org/m@v1", None).name == "m-v1"
    assert Source("org/m@refs/pr/1", "org/m@refs/pr/1", None).name == "m-refs-pr-1"
    assert Source("org/m", "org/m", None).name == "m"
