"""`python -m lab serve` against the `openai` client, as a user's code calls it: the bundled SmolLM2 and three tiny
real LoRA adapters on it (random B, so each answers differently), served from one base in memory."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx
import openai
import pytest

from lab.access import ANONYMOUS, Caller, local
from lab.chat.registry import get_registry
from lab.data.judge import EndpointJudge
from lab.errors import LabError
from lab.serve import panel
from lab.serve.models import plan
from lab.serve.server import Server, check_start
from lab.settings import DEFAULT_MODEL, reset_caches

PROMPT = [{"role": "user", "content": "Name three colours."}]
TOKENS = 10


@pytest.fixture(scope="module")
def adapters(bundled_model, tmp_path_factory):
    """Three LoRA adapters (q_proj, v_proj, r=4) with random A and B: made on one base, each saved alone."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("serve-adapters")
    model = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32)
    out = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                         task_type="CAUSAL_LM")
        peft = get_peft_model(model, cfg)
        peft.save_pretrained(root / f"colour-{seed}")
        model = peft.unload()  # the plain base again, for the next one
        out.append(root / f"colour-{seed}")
    return out


@pytest.fixture(scope="module")
def server(bundled_model, adapters):
    refs = [DEFAULT_MODEL] + [f"{DEFAULT_MODEL}+{a}" for a in adapters]
    srv = Server(plan(local(), refs), port=0, registry=get_registry()).start()  # the panel's too
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)


def _answers(bundled_model, adapters, prompts, tokens=TOKENS) -> dict[tuple[str, int], tuple[str, int]]:
    """(adapter, prompt index) -> (greedy answer, prompt tokens) with nothing else on the base: plain transformers +
    PEFT, one adapter and one prompt at a time."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bundled_model)
    model = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32)
    answers = {}
    for adapter in adapters:
        peft = PeftModel.from_pretrained(model, adapter).eval()
        for i, prompt in enumerate(prompts):
            ids = tok.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            with torch.no_grad():
                out = peft.generate(**ids, max_new_tokens=tokens, do_sample=False)
            n = ids["input_ids"].shape[1]
            answers[adapter.name, i] = tok.decode(out[0, n:], skip_special_tokens=True), n
        model = peft.unload()
    return answers


@contextmanager
def _forwards(server):
    """(batch size, active adapter's folder name, is a prefill) of every forward pass on the base while inside."""
    entry = server.service.registry.entry_for(DEFAULT_MODEL)
    names = {name: path.name for path, (name, _) in entry.adapters.items()}
    seen = []

    def record(module, args, kwargs):
        rows = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else kwargs["inputs_embeds"]
        seen.append((int(rows.shape[0]), names.get(entry.active), int(rows.shape[1]) > 1))

    hook = entry.base.register_forward_pre_hook(record, with_kwargs=True)
    try:
        yield seen
    finally:
        hook.remove()


def _all_at_once(server, asks: list) -> list:
    """Run `asks` (callables) in threads while the test holds the base's turn, let go once all are queued; every
    handle the requests took is given back when their batches end."""
    entry = server.service.registry.entry_for(DEFAULT_MODEL)
    got = [None] * len(asks)

    def run(i):
        got[i] = asks[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(asks))]
    entry.lock.acquire()
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while server.service.batcher.queued() < len(asks) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        entry.lock.release()
    for t in threads:
        t.join(timeout=300)
    deadline = time.monotonic() + 30  # a reply may come before its batch's other rows end
    while entry.users and time.monotonic() < deadline:
        time.sleep(0.02)
    assert entry.users == 0
    return got


def test_models_chat_stream_completions_and_stop_strings(server, client, adapters):
    assert [m.id for m in client.models.list().data] == [DEFAULT_MODEL] + [a.name for a in adapters]
    whole = client.chat.completions.create(model=DEFAULT_MODEL, messages=PROMPT, max_tokens=TOKENS, temperature=0)
    text = whole.choices[0].message.content
    assert text and whole.usage.completion_tokens == TOKENS and whole.choices[0].finish_reason == "length"
    chunks = list(client.chat.completions.create(model=DEFAULT_MODEL, messages=PROMPT, max_tokens=TOKENS,
                                                 temperature=0, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert chunks[-1].choices[0].finish_reason == "length"
    stop = text[len(text) // 2: len(text) // 2 + 3]
    cut = client.chat.completions.create(model=DEFAULT_MODEL, messages=PROMPT, max_tokens=TOKENS, temperature=0,
                                         stop=[stop])
    assert cut.choices[0].message.content == text[: text.find(stop)]
    assert cut.choices[0].finish_reason == "stop"
    done = client.completions.create(model=DEFAULT_MODEL, prompt="The capital of France is", max_tokens=4,
                                     temperature=0)
    assert "Paris" in done.choices[0].text
    seeded = [client.completions.create(model=DEFAULT_MODEL, prompt="Once upon a time", max_tokens=6,
                                        temperature=1.0, seed=7).choices[0].text for _ in range(2)]
    assert seeded[0] == seeded[1]


def test_eight_streams_over_three_adapters_each_answer_as_alone(server, client, adapters, bundled_model):
    alone = {name: text for (name, _), (text, _) in _answers(bundled_model, adapters, [PROMPT]).items()}
    assert len(set(alone.values())) == 3, alone
    names = [adapters[i % 3].name for i in range(8)]
    got = [None] * 8

    def ask(i):
        stream = client.chat.completions.create(model=names[i], messages=PROMPT, max_tokens=TOKENS, temperature=0,
                                                stream=True)
        got[i] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert got == [alone[n] for n in names]
    colours = {a.name for a in adapters}  # the registry is the process's: other tests' models may be loaded too
    holding = [m for m in server.service.registry.loaded() if colours & set(m["adapters"])]
    assert len(holding) == 1 and colours <= set(holding[0]["adapters"])  # one base in memory carries all three


def test_requests_for_one_adapter_share_a_forward_and_each_answers_as_alone(server, client, adapters,
                                                                           bundled_model):
    prompts = [PROMPT, [{"role": "user", "content": "Which colours are in a rainbow, in order, and why?"}],
               [{"role": "user", "content": "Hi"}], [{"role": "user", "content": "Name a warm colour."}]]
    one, two = adapters[0].name, adapters[1].name
    alone = _answers(bundled_model, adapters[:2], prompts)
    plan_ = [(one, i) for i in range(4)] + [(two, 0), (two, 2)]
    ask = lambda name, i: lambda: client.chat.completions.create(  # noqa: E731
        model=name, messages=prompts[i], max_tokens=TOKENS, temperature=0)
    with _forwards(server) as seen:
        replies = _all_at_once(server, [ask(name, i) for name, i in plan_])
    assert sorted((n, a) for n, a, prefill in seen if prefill) == [(2, two), (4, one)], seen  # two batches
    assert {(n, a) for n, a, _ in seen} == {(4, one), (2, two)}, seen  # every forward: one batch, one adapter
    assert [r.choices[0].message.content for r in replies] == [alone[k][0] for k in plan_]
    assert [r.usage.prompt_tokens for r in replies] == [alone[k][1] for k in plan_]  # its own length, unpadded
    assert {r.usage.completion_tokens for r in replies} == {TOKENS}


def test_each_row_keeps_its_own_length_stop_and_seed(server, client, adapters):
    name = adapters[2].name
    full = client.chat.completions.create(model=name, messages=PROMPT, max_tokens=TOKENS, temperature=0)
    text = full.choices[0].message.content
    short = client.chat.completions.create(model=name, messages=PROMPT, max_tokens=4, temperature=0)
    stop = text[len(text) // 2: len(text) // 2 + 3]
    greedy = lambda **kw: lambda: client.chat.completions.create(  # noqa: E731
        model=name, messages=PROMPT, temperature=0, **kw)
    drawn = lambda **kw: lambda: client.completions.create(  # noqa: E731
        model=name, prompt="Once upon a time", max_tokens=6, temperature=1.0, **kw)
    with _forwards(server) as seen:
        got = _all_at_once(server, [greedy(max_tokens=TOKENS), greedy(max_tokens=4), greedy(max_tokens=TOKENS,
                                    stop=[stop]), drawn(seed=7), drawn(seed=7), drawn(), drawn()])
    assert sorted(n for n, _, prefill in seen if prefill) == [1, 1, 2, 3]  # greedy, each seed alone, sampled
    whole, cut4, cut = (r.choices[0] for r in got[:3])
    assert (whole.message.content, whole.finish_reason, got[0].usage.completion_tokens) == (text, "length", TOKENS)
    assert (cut4.message.content, cut4.finish_reason) == (short.choices[0].message.content, "length")
    assert got[1].usage.completion_tokens == 4
    assert (cut.message.content, cut.finish_reason) == (text[: text.find(stop)], "stop")
    assert got[3].choices[0].text == got[4].choices[0].text
    assert got[3].choices[0].text == drawn(seed=7)().choices[0].text  # as when it comes alone


def test_bad_input_is_a_400_or_404_never_a_500(server):
    url = server.url
    cases = [
        ({"model": "nope", "messages": PROMPT}, 404, "model"),
        ({"model": DEFAULT_MODEL, "messages": PROMPT, "max_tokens": 10**6}, 400, "max_tokens"),
        ({"model": DEFAULT_MODEL}, 400, "messages"),
        ({"model": DEFAULT_MODEL, "messages": PROMPT, "temperature": "hot"}, 400, "temperature"),
        ({"model": DEFAULT_MODEL, "messages": [{"role": "robot", "content": "x"}]}, 400, "messages.0.role"),
        ({"model": DEFAULT_MODEL, "messages": PROMPT, "n": 2}, 400, "n"),
        ({"model": DEFAULT_MODEL, "messages": PROMPT, "stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
        ([1, 2], 400, "body"),
    ]
    for body, status, field in cases:
        r = httpx.post(url + "/chat/completions", json=body, timeout=30)
        assert (r.status_code, r.json()["error"]["param"]) == (status, field), (body, r.text)
    r = httpx.post(url + "/chat/completions", content=b"{not json", timeout=30)
    assert (r.status_code, r.json()["error"]["param"]) == (400, "body")
    r = httpx.post(url + "/completions", json={"model": "nope", "prompt": "x"}, timeout=30)
    assert r.status_code == 404 and DEFAULT_MODEL in r.json()["error"]["models"]
    r = httpx.post(url + "/completions", json={"model": DEFAULT_MODEL, "prompt": "x", "max_tokens": 5000})
    assert r.status_code == 400 and r.json()["error"]["limit"] == 1024


def test_a_key_is_required_off_localhost_and_on_a_space(server, monkeypatch):
    with pytest.raises(LabError) as err:
        Server(list(server.service.models.values()), host="0.0.0.0", port=0)
    assert err.value.field == "api_key"
    open_srv = Server(list(server.service.models.values()), host="0.0.0.0", port=0, api_key="let-me-in",
                      registry=server.service.registry).start(preload=False)
    try:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=open_srv.url, api_key="wrong", max_retries=0).models.list()
        r = httpx.get(open_srv.url + "/models")
        assert r.status_code == 401
        good = openai.OpenAI(base_url=open_srv.url, api_key="let-me-in", max_retries=0)
        assert DEFAULT_MODEL in [m.id for m in good.models.list().data]
    finally:
        open_srv.stop()
    monkeypatch.setenv("SPACE_ID", "someone/lab")
    reset_caches()
    with pytest.raises(LabError, match="off on this Space"):
        check_start("127.0.0.1", "a-key")
    monkeypatch.setenv("LAB_SERVE", "1")
    reset_caches()
    with pytest.raises(LabError) as err:
        check_start("127.0.0.1", None)
    assert err.value.field == "api_key"
    check_start("127.0.0.1", "a-key")


def test_the_judges_endpoint_reaches_a_local_server_for_the_owner_only(server, monkeypatch):
    judge = EndpointJudge(server.url, DEFAULT_MODEL, 4, caller=local())
    assert isinstance(judge(["Score this answer from 1 to 5: Paris is in France."])[0], str)
    monkeypatch.setenv("SPACE_ID", "someone/lab")
    reset_caches()
    visitor = EndpointJudge(server.url, DEFAULT_MODEL, 4, caller=Caller(ANONYMOUS, session="s"))
    with pytest.raises(LabError):
        visitor(["x"])


def test_cli_prints_one_ready_line_without_the_key(adapters):
    env = {**os.environ, "LAB_SERVE_API_KEY": "cli-secret-key"}
    proc = subprocess.Popen([sys.executable, "-m", "lab", "serve", "--model", f"{DEFAULT_MODEL}+{adapters[0]}",
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        ready = json.loads(line)
        assert ready["models"] == [adapters[0].name] and "cli-secret-key" not in line
        reply = openai.OpenAI(base_url=ready["url"], api_key="cli-secret-key", max_retries=0).chat.completions.create(
            model=adapters[0].name, messages=PROMPT, max_tokens=3, temperature=0)
        assert reply.choices[0].message.content
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0


def test_the_panel_is_the_owners_and_its_snippet_runs(server):
    visitor = Caller(ANONYMOUS, session="s")
    with pytest.raises(LabError, match="owner"):
        panel.start(visitor, DEFAULT_MODEL, 8000)
    assert panel.status(visitor) == panel.VISITOR_NOTE and panel.snippet(visitor) == ""
    with pytest.raises(LabError) as err:
        panel.start(local(), DEFAULT_MODEL, 80)
    assert err.value.field == "port"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = panel.start(local(), DEFAULT_MODEL, port)  # the model is in memory already (one registry)
    try:
        assert f"http://127.0.0.1:{port}/v1" in state
        code = panel.snippet(local()).replace("max_tokens=64", "max_tokens=3")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and out.stdout.strip(), out.stderr[-2000:]
    finally:
        panel.stop(local())
    assert "Not serving" in panel.status(local())
