"""Repo-name validation, card metadata (tags, base_model, license) and what a push would upload: no network."""
import json

import pytest
import yaml

from lab.artifacts import finalize, parent_entry
from lab.cards import card_metadata, render_card
from lab.errors import LabError
from lab.hub.client import validate_repo_name
from lab.hub.publisher import files_to_push, infer_manifest


@pytest.mark.parametrize("name", ["my-model", "Org_1/model.v2", "a", "x" * 96, "me/" + "y" * 96])
def test_valid_repo_names(name):
    assert validate_repo_name(f"  {name} ") == name


@pytest.mark.parametrize("name, words", [
    ("", "No repo name"),
    ("my model", "' '"),
    ("model!", "'!'"),
    ("a/b/c", "more than one '/'"),
    ("x" * 97, "at most 96"),
    ("-model", "starts or ends"),
    ("model.", "starts or ends"),
    ("my--model", "'--'"),
    ("bad owner/model", "owner"),
])
def test_invalid_repo_names_say_why(name, words):
    with pytest.raises(LabError) as e:
        validate_repo_name(name)
    assert e.value.field == "repo" and words in str(e.value) and e.value.fix


def _card_meta(text: str) -> dict:
    return yaml.safe_load(text.split("---", 2)[1])


def test_adapter_card_has_base_model_tags_license_and_warning(tmp_path):
    base = {"ref": "acme/base", "kind": "model", "license": "cc-by-nc-4.0", "lineage": []}
    data = {"ref": "acme/data", "kind": "dataset", "license": "apache-2.0", "lineage": []}
    finalize(tmp_path, "adapter", [base, data], recipe={"method": "sft", "lr": 2e-4}, metrics={"loss": 1.2},
             step="sft")
    card = render_card(tmp_path, "me/my-adapter")
    meta = _card_meta(card)
    assert meta["base_model"] == ["acme/base"] and meta["datasets"] == ["acme/data"]
    assert {"lab", "peft", "trl", "sft"} <= set(meta["tags"]) and "dpo" not in meta["tags"]
    assert meta["license"] == "cc-by-nc-4.0"  # the most restrictive parent wins
    assert "check it permits your use" in card and "me/my-adapter" in card and "lr: 0.0002" in card


def test_cards_name_hub_ids_only_and_local_parents_without_their_path(tmp_path):
    from lab.lineage import family_edges, family_tree_svg

    base = tmp_path / "models" / "my-base"
    base.mkdir(parents=True)
    data = tmp_path / "rows.jsonl"
    data.write_text("{}\n")
    parents = [parent_entry(str(base), "model"), parent_entry("acme/hub-base", "model"),
               parent_entry(str(data), "dataset"), parent_entry("acme/data", "dataset")]
    out = tmp_path / "adapter"
    finalize(out, "adapter", parents, step="sft")
    card = render_card(out, "me/my-adapter")
    meta = _card_meta(card)
    assert meta["base_model"] == ["acme/hub-base"] and meta["datasets"] == ["acme/data"]
    assert str(tmp_path) not in card
    assert "my-base" in card and "rows.jsonl" in card  # the local parents, by name, in the lineage
    from lab.settings import bundled_folder
    from lab.settings import DEFAULT_MODEL

    assert parent_entry(str(bundled_folder()))["ref"] == DEFAULT_MODEL  # the converted bundled model: its Hub id
    merged = tmp_path / "merge"
    finalize(merged, "merge", [parent_entry(f"acme/hub-base+{out}", "model")], step="merge (linear)")
    svg = family_tree_svg(family_edges(json.loads((merged / "lab.json").read_text())))
    assert str(tmp_path) not in render_card(merged, "me/merged") + svg and "adapter" in svg


def test_moe_merge_card_tags():
    meta = card_metadata({"kind": "merge", "lineage": [{"step": "moe"}], "tags": [],
                          "parents": [{"ref": "a/x", "kind": "model"}, {"ref": "b/y", "kind": "model"}]})
    assert {"lab", "merge", "mergekit", "moe"} <= set(meta["tags"]) and meta["base_model"] == ["a/x", "b/y"]
    dpo = card_metadata({"kind": "adapter", "lineage": [{"step": "merge (SLERP)"}, {"step": "dpo"}], "tags": [],
                         "parents": []})
    assert {"trl", "dpo"} <= set(dpo["tags"]) and not {"sft", "mergekit", "moe"} & set(dpo["tags"])


def test_a_plain_model_folder_gets_a_manifest_from_its_card(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (tmp_path / "model.safetensors").write_bytes(b"x")
    (tmp_path / "README.md").write_text("---\nlicense: apache-2.0\nbase_model: acme/base\ntags: [lab, chat]\n---\n")
    m = infer_manifest(tmp_path)
    assert m["kind"] == "model" and m["license"] == "apache-2.0" and m["tags"] == ["chat"]
    assert [p["ref"] for p in m["parents"]] == ["acme/base"]
    meta = _card_meta(render_card(tmp_path, "me/copy", manifest=m))
    assert meta["base_model"] == ["acme/base"] and "lab" in meta["tags"] and "chat" in meta["tags"]


def test_a_folder_with_nothing_publishable_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(LabError, match="no model"):
        infer_manifest(tmp_path)


def test_push_skips_logs_checkpoints_hidden_files_and_pickles(tmp_path):
    for name in ["adapter_model.safetensors", "adapter_config.json", "metrics.jsonl", "job.log", ".complete",
                 "training_args.bin", "checkpoint-10/optimizer.pt", "checkpoint-10/adapter_model.safetensors",
                 "sub/tokenizer.json", "README.md", "lab.json"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    pushed = [rel for rel, _ in files_to_push(tmp_path)]
    assert pushed == ["adapter_config.json", "adapter_model.safetensors", "metrics.jsonl", "sub/tokenizer.json"]


def test_parent_entry_prefers_the_published_repo(tmp_path):
    folder = tmp_path / "a"
    finalize(folder, "adapter", [parent_entry("acme/base")], step="sft", extra={"hub_repo": "me/a"})
    assert parent_entry(str(folder))["ref"] == "me/a"


def test_a_dataset_artifact_loads_as_its_data_file_alone(lab_home):
    """lab.json and recipe.yaml sit beside the rows; `datasets` (and so `trl`) must read the rows only."""
    import datasets

    from tests.hub_helpers import dataset_artifact

    rows = [{"instruction": f"Say {i}.", "input": "", "output": str(i)} for i in range(3)]
    folder = dataset_artifact(rows)
    assert datasets.load_dataset(str(folder), split="train").to_list() == rows


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "x\x00y", "", "   "])
def test_an_artifact_name_is_a_plain_folder_name(lab_home, name):
    from lab.artifacts import new_folder

    if not name:
        assert new_folder("dataset", name).parent == lab_home / "artifacts"  # none given: a dated name
        return
    with pytest.raises(LabError) as err:
        new_folder("dataset", name)
    assert err.value.field == "name" and not (lab_home / "escape").exists()


def test_hub_ids_are_owner_slash_name_and_not_a_local_folder(tmp_path, monkeypatch):
    from lab.repo_id import is_hub_id

    monkeypatch.chdir(tmp_path)
    (tmp_path / "acme" / "data").mkdir(parents=True)
    assert is_hub_id("HuggingFaceTB/SmolLM2-135M-Instruct") and is_hub_id("acme/other")
    for bad in ["acme/data", "acme/..", "acme/.hidden", "/abs/path", "~/x", "name", "a/b/c", "file:///x", "a/b\x00"]:
        assert not is_hub_id(bad), bad


def test_errors_shown_on_a_space_name_no_server_path(monkeypatch):
    from lab import settings
    from lab.ui.common import for_visitor

    assert for_visitor("No file at /home/user/app/x.json.") == "No file at /home/user/app/x.json."  # locally: all
    monkeypatch.setenv("SPACE_ID", "me/lab")
    settings.reset_caches()
    shown = for_visitor("Couldn't find any data file at /home/user/app/data; see https://hf.co/docs/x or ~/y, "
                        "or file:///etc/z. Hub id acme/data.")
    assert "/home" not in shown and "/etc" not in shown and "~/y" not in shown and "acme/data" in shown
    assert "https://hf.co/docs/x" in shown
    assert len(for_visitor("x" * 1_000_000)) < 1000


def test_an_adapter_names_its_hub_base_by_id_not_by_a_cache_folder(tmp_path):
    """PEFT writes the folder the base was loaded from; a Space reads no cache path for a visitor, and another
    machine has no such folder, so a Hub base is named by its id."""
    from lab.train.finish import _name_base_by_hub_id

    cfg = tmp_path / "adapter_config.json"
    cfg.write_text(json.dumps({"base_model_name_or_path": "/cache/models--acme--base/snapshots/abc", "r": 8}))
    _name_base_by_hub_id(tmp_path, "acme/base")
    assert json.loads(cfg.read_text()) == {"base_model_name_or_path": "acme/base", "r": 8}
    local = tmp_path / "my-base"
    local.mkdir()
    _name_base_by_hub_id(tmp_path, str(local))  # a local base keeps what PEFT wrote
    assert json.loads(cfg.read_text())["base_model_name_or_path"] == "acme/base"
