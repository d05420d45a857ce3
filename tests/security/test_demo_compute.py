"""Compute on the public demo (issue 21, finding 6): an anonymous visitor makes the lab download no Hub model but the
bundled one (Chat, the arena, batch compare, model facts), and a signed-in one starts no job: merge, evaluation and
model preparation are refused first, before any config or dataset is read from the Hub."""
from __future__ import annotations

import json

import pytest
from gradio_client.exceptions import AppError

from lab.jobs import store
from tests.security.spaces import FILTER, VISITOR, space_app, space_env, texts  # noqa: F401

pytestmark = FILTER
MODEL, DATA = "acme/public-model", "acme/evalset"
SIGN_IN, OFF = "needs you signed in", "off on this public demo"


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-compute")
    with space_app(root, demo_mode=True) as s:
        config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
                  "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100}
        s.hub.seed(MODEL, files={"config.json": json.dumps(config).encode(), "model.safetensors": b"\0" * 64})
        rows = "".join(json.dumps({"question": f"{i} + 1?", "choices": [str(i + 1), "0"], "answer": 0}) + "\n"
                       for i in range(4))
        s.hub.seed(DATA, files={"test.jsonl": rows.encode()}, repo_type="dataset")
        yield s


def _asked_for(space, mark: int) -> list[str]:
    """Paths the fake Hub was asked for since `mark` that name the demo's Hub model or dataset."""
    return [p for _, p in space.hub.requests[mark:] if MODEL in p or DATA in p]


def test_an_anonymous_visitor_downloads_no_hub_model(space):
    client, mark = space.client(), len(space.hub.requests)
    chat = ("Hi", MODEL, "acme/other-model", None, None, "", 0, 0.9, 4, 1.0, None, False)
    for args, api_name in ((chat, "/chat"), (chat, "/arena_battle"), (("Hi", None, *chat[1:]), "/batch_compare"),
                           ((MODEL,), "/model_info")):
        with pytest.raises(AppError, match=SIGN_IN):
            client.predict(*args, api_name=api_name)
    assert _asked_for(space, mark) == []


def test_jobs_are_refused_on_the_demo_before_any_work(space):
    mark, before = len(space.hub.requests), len(store.list_jobs())
    merge = (f"models:\n  - model: {MODEL}\n  - model: {MODEL}\nmerge_method: slerp\nbase_model: {MODEL}\n"
             "parameters:\n  t: 0.5\n")
    calls = {("lab.ui.merge_tab", "run"): {0: merge},
             ("lab.ui.eval_events", "run"): {0: [MODEL], 2: DATA},
             ("lab.ui.merge_extract", "check"): {0: MODEL, 1: MODEL, 5: DATA},
             ("lab.ui.merge_extract", "start"): {0: MODEL, 1: MODEL, 5: DATA}}
    for user in (VISITOR, None):
        for (module, name), values in calls.items():
            answer, failed = space.event(module, name, values, user=user)
            assert OFF in texts(answer), (module, name, user, answer)  # an error, or the note beside the button
        with pytest.raises(AppError, match=OFF):
            space.client(user).predict(MODEL, api_name="/model_prepare")
    assert _asked_for(space, mark) == [] and len(store.list_jobs()) == before == 0
    assert texts(store.list_jobs()) == ""
