"""The serve stage's parts that need no model: stop strings, request checks, vLLM's command line."""
import json
import subprocess
import sys
from types import SimpleNamespace

import openai
import pytest
from starlette.testclient import TestClient

from lab.access import local
from lab.models import resolve
from lab.models.ref import ModelRef
from lab.serve import vllm
from lab.serve.app import Service, build_app
from lab.serve.batcher import group_of
from lab.serve.generate import Params, StopMatcher
from lab.serve.models import ServedModel, plan
from lab.serve.requests import ApiError, ChatBody, max_tokens, parse_body


def test_stop_strings_cut_the_text_even_across_pieces():
    m = StopMatcher(["END", "\n\n"])
    out = [m.feed(p) for p in ["Hello E", "N", "D! more"]]
    assert "".join(out) == "Hello " and m.hit
    m = StopMatcher(["END"])
    assert m.feed("bye E") == "bye " and m.feed("x") == "Ex" and not m.hit and m.flush() == ""
    assert StopMatcher([]).feed("all of it") == "all of it"


def test_requests_share_a_batch_only_with_the_same_base_adapter_and_drawing():
    base, other = object(), object()
    a, b, c = (SimpleNamespace(entry=e, adapter=n) for e, n in ((base, "x"), (base, "y"), (other, "x")))
    greedy = Params(16, temperature=0.0)
    assert group_of(a, greedy) == group_of(a, Params(4, temperature=0.0, top_p=0.5, stop=["."]))  # per-row settings
    assert len({group_of(h, greedy) for h in (a, b, c)}) == 3
    hot = Params(16, temperature=0.7, top_p=0.9)
    assert group_of(a, hot) == group_of(a, Params(8, temperature=0.7, top_p=0.9)) != group_of(a, greedy)
    assert group_of(a, hot) != group_of(a, Params(16, temperature=0.7, top_p=1.0))
    seeded = Params(16, temperature=0.7, top_p=0.9, seed=7)
    assert group_of(a, seeded) != group_of(a, seeded)  # a seeded request runs alone


def test_request_checks_name_the_field():
    with pytest.raises(ApiError) as err:
        parse_body(ChatBody, {"model": "m", "messages": []})
    assert (err.value.status, err.value.param) == (400, "messages")
    body = parse_body(ChatBody, {"model": "m", "messages": [{"role": "user", "content": [{"type": "text",
                                                                                           "text": "hi"}]}]})
    assert body.messages[0].plain() == {"role": "user", "content": "hi"}
    assert max_tokens(body, 1024) == 256
    over = parse_body(ChatBody, {"model": "m", "messages": [{"role": "user", "content": "x"}],
                                 "max_completion_tokens": 2000})
    with pytest.raises(ApiError) as err:
        max_tokens(over, 1024)
    assert err.value.param == "max_completion_tokens" and err.value.extra == {"limit": 1024}


class _NeverLoads:
    def acquire(self, ref):
        raise AssertionError("a malformed request must be refused before any model loads")


@pytest.mark.parametrize("body,field", [
    (b"", "body"), (b"null", "body"), (b"[" * 100_000, "body"), (b"\xff\xfe", "body"),
    (b'{"model": 5, "messages": []}', "model"),
    (b'{"model": "m", "messages": [{"role": "user", "content": {"a": 1}}]}', "messages.0.content"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": -1}', "seed"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}', "temperature"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1e309}', "max_tokens"),
    (b'{"model": "m", "messages": [null]}', "messages.0"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": 5}', "stop"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes please"}', "stream"),
])
def test_a_malformed_body_is_a_400_naming_the_field(body, field):
    app = TestClient(build_app(Service([ServedModel("m", ModelRef("org/m", "org/m"))], _NeverLoads())),
                     raise_server_exceptions=False)
    r = app.post("/v1/chat/completions", content=body)
    assert (r.status_code, r.json()["error"]["param"]) == (400, field)


def _adapter(tmp_path, name, r):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": r, "base_model_name_or_path": "org/base"}))
    return ServedModel(name, ModelRef(f"org/base+{folder}", "org/base", folder))


def test_vllm_command_serves_the_base_and_each_adapter_under_its_name(tmp_path):
    models = [ServedModel("org/base", ModelRef("org/base", "org/base")), _adapter(tmp_path, "tone", 4),
              _adapter(tmp_path, "facts", 12)]
    cmd = vllm.command(models, tmp_path / "base", "127.0.0.1", 8001)
    assert cmd[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    assert cmd[cmd.index("--model") + 1] == str(tmp_path / "base")
    assert cmd[cmd.index("--served-model-name") + 1] == "org/base"
    assert "--enable-lora" in cmd and cmd[cmd.index("--max-loras") + 1] == "2"
    assert cmd[cmd.index("--max-lora-rank") + 1] == "16"  # the smallest rank vLLM takes that holds r=12
    at = cmd.index("--lora-modules")
    assert cmd[at + 1: at + 3] == [f"tone={tmp_path / 'tone'}", f"facts={tmp_path / 'facts'}"]
    assert "--api-key" not in cmd and vllm.environment("k")["VLLM_API_KEY"] == "k"
    plain = vllm.command(models[:1], tmp_path / "base", "0.0.0.0", 8000)
    assert "--enable-lora" not in plain


@pytest.mark.gpu
def test_vllm_serves_an_adapter_on_a_gpu(tmp_path):
    pytest.importorskip("vllm")
    models = plan(local(), ["HuggingFaceTB/SmolLM2-135M-Instruct"])
    proc = subprocess.Popen(vllm.command(models, resolve(models[0].base), "127.0.0.1", 8011),
                            env=vllm.environment(None))
    try:
        client = openai.OpenAI(base_url="http://127.0.0.1:8011/v1", api_key="x", max_retries=30)  # retries while vLLM starts
        assert client.chat.completions.create(model=models[0].name, max_tokens=4,
                                              messages=[{"role": "user", "content": "hi"}]).choices
    finally:
        proc.terminate()
