"""The Space's token is never a visitor's (issue 21, finding 3): the Space runs with HF_TOKEN set to a canary that
the fake Hub knows as the owner's, and the owner's private model sits in the Hugging Face cache, as the owner's own
use leaves it. Anonymous and signed-in visitors ask for it through Models, the Hub tab, Chat and the Evaluate
estimate: each is refused, and no request made for them carries the canary. The owner reads it with their token."""
from __future__ import annotations

import httpx
import pytest
from gradio_client.exceptions import AppError

from tests.hardening.conftest import token_like
from tests.merge_support import tiny_model
from tests.security.spaces import (FILTER, OWNER, PRIVATE_REPO, VISITOR, space_app, space_env,  # noqa: F401
                                   texts)

pytestmark = FILTER
CANARY = token_like()


@pytest.fixture(scope="module")
def space(tmp_path_factory, bundled_model):
    root = tmp_path_factory.mktemp("tokens")
    model = tiny_model(root / "secret-model", bundled_model, seed=7)

    def before(home):
        from huggingface_hub import snapshot_download

        from lab.models.resolve import CONFIG_PATTERNS, WEIGHT_PATTERNS

        # the owner used their private model earlier: config, tokenizer and weights are in the Hugging Face cache
        snapshot_download(PRIVATE_REPO, allow_patterns=CONFIG_PATTERNS + WEIGHT_PATTERNS, token=CANARY)

    with space_app(root, canary=CANARY, before=before, private_model=model) as s:
        yield s


def _refused(call) -> str:
    with pytest.raises(AppError) as info:
        call()
    return str(info.value)


def test_no_visitor_reads_the_owners_private_model_nor_acts_with_the_spaces_token(space):
    owner = space.client(OWNER)
    assert owner.predict(PRIVATE_REPO, api_name="/model_info")[1]["architecture"] == "LlamaForCausalLM"
    assert "LlamaForCausalLM" in owner.predict(PRIVATE_REPO, api_name="/hub_model_facts")[0]
    mark = len(space.hub.auth_log)
    for user in (VISITOR, None):
        client = space.client(user)
        answers = [
            _refused(lambda: client.predict(PRIVATE_REPO, api_name="/model_info")),
            _refused(lambda: client.predict(PRIVATE_REPO, api_name="/hub_model_facts")),
            _refused(lambda: client.predict("Hi", PRIVATE_REPO, None, None, None, "", 0, 0.9, 4, 1.0, None, False,
                                            api_name="/chat")),
            _refused(lambda: client.predict("Hi", None, PRIVATE_REPO, None, None, None, "", 0, 0.9, 4, 1.0, None,
                                            False, api_name="/batch_compare")),
        ]
        estimate, failed = space.event("lab.ui.eval_events", "estimate", {0: [PRIVATE_REPO], 7: "arc_easy"},
                                       user=user)
        assert "not yours to read" in texts(estimate), estimate  # in the Check's note, beside its button
        answers.append(texts(estimate))
        assert "LlamaForCausalLM" not in texts(answers) and "parameters" not in texts(answers), answers
        assert all("is not on the Hub" in a for a in answers), answers  # as for a model that does not exist
    seen = {t for _, _, t in space.hub.auth_log[mark:]}
    assert CANARY not in seen
    bob_token = next(t for t, u in space.hub.tokens.items() if u == VISITOR)
    assert bob_token in seen  # the signed-in visitor's calls carried their own token


def test_the_pickers_name_the_owners_cached_private_model_to_the_owner_only(space):
    assert PRIVATE_REPO not in httpx.get(space.url + "config").text  # the page as anyone gets it
    for user in (VISITOR, None):
        for module, name in (("lab.ui.chat_tab", "_choices"), ("lab.ui.models_tab", "offline_list")):
            listed, failed = space.event(module, name, user=user)
            assert not failed and PRIVATE_REPO not in texts(listed), (module, user, listed)
    assert PRIVATE_REPO in texts(space.event("lab.ui.chat_tab", "_choices", user=OWNER)[0])


def test_a_visitor_reads_their_own_private_model_with_their_own_token(space, tmp_path):
    mine = f"{VISITOR}/my-model"
    space.hub.seed(mine, files={"config.json": b'{"architectures": ["MistralForCausalLM"], "model_type": "mistral"}'},
                   private=True)
    mark = len(space.hub.auth_log)
    assert "MistralForCausalLM" in space.client(VISITOR).predict(mine, api_name="/hub_model_facts")[0]
    assert CANARY not in {t for _, _, t in space.hub.auth_log[mark:]}
    with pytest.raises(AppError):
        space.client().predict(mine, api_name="/hub_model_facts")  # not for anyone else
