"""One rule for model fields (issue 21, findings 5 and 7): on a duplicated Space a visitor uses their own and shared
artifacts, Hub models, the bundled one; another visitor's artifact, a folder of the server and a name that exists
nowhere get the same refusal in Chat, Merge and Models, and nothing of them is read (an adapter's base never comes
back). The pickers list only the caller's own and shared models, by folder name."""
from __future__ import annotations

import httpx
import pytest
from gradio_client.exceptions import AppError

from lab.access import NOT_ALLOWED
from lab.settings import DEFAULT_MODEL
from tests.security.spaces import FILTER, OTHER, OWNER, VISITOR, make_artifact, space_app, space_env, texts  # noqa: F401

pytestmark = FILTER
CAROL_BASE = "acme/carol-base-7f3e"  # what carol's adapter names as its base: it must never reach bob
OUTSIDE_BASE = "acme/outside-base-3c9d"


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    root = tmp_path_factory.mktemp("refs")
    outside = root / "outside"
    (outside / "adapter").mkdir(parents=True)
    (outside / "adapter" / "adapter_config.json").write_text(f'{{"base_model_name_or_path": "{OUTSIDE_BASE}"}}')
    (outside / "model").mkdir()
    (outside / "model" / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}')

    def before(home):
        make_artifact(home, "carol-lora", "adapter", OTHER, adapter_base=CAROL_BASE)
        make_artifact(home, "carol-model", "model", OTHER)
        make_artifact(home, "bob-model", "model", VISITOR)
        make_artifact(home, "alice-shared", "model", "", shared=True)
        make_artifact(home, "alice-own", "model", "")

    with space_app(root, before=before) as s:
        s.outside = outside
        yield s


def _refused_refs(space) -> list[str]:
    arts, out = space.home / "artifacts", space.outside
    return ["carol-lora", f"{DEFAULT_MODEL}+carol-lora", str(arts / "carol-lora"), "carol-model", "alice-own",
            str(out / "adapter"), f"{DEFAULT_MODEL}+{out / 'adapter'}", str(out / "model"),
            "nobody-lora", f"{DEFAULT_MODEL}+nobody-lora", str(out / "nope"), str(arts / "nope"),
            "app.py", "nope.py", "lab", "nolab"]


def _error(call) -> str:
    with pytest.raises(AppError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("user", [VISITOR, None], ids=["signed-in visitor", "anonymous"])
def test_another_visitors_artifact_a_server_folder_and_nothing_get_one_refusal(space, user):
    client = space.client(user)
    chat = {ref: _error(lambda: client.predict("Hi", ref, None, None, None, "", 0.7, 0.9, 8, 1.1, None, False,
                                               api_name="/chat")) for ref in _refused_refs(space)}
    info = {ref: _error(lambda: client.predict(ref, api_name="/model_info")) for ref in _refused_refs(space)}
    merge = {}
    for ref in _refused_refs(space):
        yaml = (f"models:\n  - model: {DEFAULT_MODEL}\n  - model: {ref}\nmerge_method: slerp\n"
                f"base_model: {DEFAULT_MODEL}\nparameters:\n  t: 0.5\n")
        merge[ref], failed = space.event("lab.ui.merge_tab", "check", {0: yaml}, user=user)
        assert failed, (ref, merge[ref])
    for answers in (chat, info, merge):
        assert len(set(answers.values())) == 1, answers  # exists or not, another's or nowhere: one answer
        assert NOT_ALLOWED in next(iter(answers.values()))
        assert CAROL_BASE not in texts(answers) and OUTSIDE_BASE not in texts(answers)
        assert str(space.home) not in texts(answers) and str(space.outside) not in texts(answers)


def test_a_visitor_uses_their_own_and_shared_models_and_the_owner_every_one(space):
    bob, owner = space.client(VISITOR), space.client(OWNER)
    for ref in ("bob-model", "alice-shared"):
        line, facts = bob.predict(ref, api_name="/model_info")
        assert facts["architecture"] == "LlamaForCausalLM" and ref in line
    for ref in ("carol-model", "alice-own", "bob-model"):
        assert owner.predict(ref, api_name="/model_info")[1]["architecture"] == "LlamaForCausalLM"


def test_the_pickers_list_the_callers_own_and_shared_models_by_name(space):
    page = httpx.get(space.url + "config").text  # what the page is built with: for anyone
    assert str(space.home) not in page and "carol-model" not in page and "bob-model" not in page

    def choices(module, name, user):
        data, failed = space.event(module, name, user=user)
        assert not failed, data
        return texts(data)

    for module, name in (("lab.ui.chat_tab", "_choices"), ("lab.ui.merge_tab", "_local"),
                         ("lab.ui.eval_events", "refresh")):
        seen = choices(module, name, VISITOR)
        assert "bob-model" in seen and "alice-shared" in seen, (name, seen)
        assert "carol-model" not in seen and "carol-lora" not in seen and "alice-own" not in seen, (name, seen)
        assert str(space.home) not in seen, (name, seen)
        anonymous = choices(module, name, None)
        assert "alice-shared" in anonymous and "bob-model" not in anonymous and str(space.home) not in anonymous
        assert "carol-model" in choices(module, name, OWNER)
