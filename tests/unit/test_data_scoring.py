"""Judge reply parsing, an LLM judge over a real OpenAI-compatible HTTP server, and reward-model checks."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from lab.data.judge import parse_score
from lab.data.pipeline import run
from lab.data.recipe import FilterRecipe
from lab.data.scoring import check_reward_model
from lab.errors import LabError
from tests.unit.data_fixtures import write_alpaca


@pytest.mark.parametrize("reply, score", [
    ("Score: 4", 4), ("score:5/5", 5), ("Rating: **3**", 3), ("I'd give it [[2]].", 2), ("4/5 - solid", 4),
    ("3 out of 5", 3), ('{"score": 1}', 1), ("  5  ", 5), ("The score is 4.5", 4.5),
    ("Score: 9", None), ("no idea", None), ("", None), (None, None), ("Score: ten", None), ('{"score": 7}', None),
])
def test_parse_score(reply, score):
    assert parse_score(reply) == score


REPLIES = {"bread": "Score: 5", "tomatoes": "I'd say [[2]]", "money": "Hmm, hard to tell.", "chess": "Score: 9"}


class _Judge(BaseHTTPRequestHandler):
    calls = 0
    failures: list = []  # (status, Retry-After or None) answered to the next requests, then 200s
    always: int = 0  # a status answered to every request
    times: list = []  # when each request came
    auth: set = set()  # the Authorization headers seen

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls += 1
        type(self).times.append(time.monotonic())
        type(self).auth.add(self.headers.get("Authorization", ""))
        if self.always or self.failures:
            status, retry_after = (self.always, None) if self.always else type(self).failures.pop(0)
            self.send_response(status)
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        prompt = body["messages"][0]["content"]
        reply = next((r for k, r in REPLIES.items() if k in prompt), "Score: 4")
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def judge_server(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # the tests' default: it blocks any call
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Judge.calls, _Judge.failures, _Judge.always, _Judge.times, _Judge.auth = 0, [], 0, [], set()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _judge_recipe(path, endpoint, drop_unscored=False):
    return FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": [
        {"type": "exact_dedup"},
        {"type": "judge", "backend": "openai", "endpoint": endpoint, "model": "judge", "min_score": 3,
         "drop_unscored": drop_unscored}]})


def test_judge_scores_unscored_rows_do_not_crash_and_scores_are_cached(tmp_path, judge_server):
    path, expected = write_alpaca(tmp_path / "a.jsonl")
    rows_after_dedup = expected["rows"] - expected["duplicates"]
    result = run(_judge_recipe(path, judge_server), log=lambda m: None)
    assert _Judge.calls == rows_after_dedup
    assert result.removed_counts() == {"exact duplicate": 4, "low judge score": 1}  # the tomatoes row
    assert result.funnel[-1].note == "2 unscored"  # "hard to tell" and the out-of-range 9
    scores = {r["messages"][0]["content"]: r["judge_score"] for r in result.records()}
    assert scores["Give three tips about baking bread."] == 5
    assert scores["Give three tips about learning chess."] is None
    again = run(_judge_recipe(path, judge_server, drop_unscored=True), log=lambda m: None)
    assert _Judge.calls == rows_after_dedup  # every score came from the cache
    assert again.removed_counts()["unscored (judge reply had no score)"] == 2


def _scored(result) -> dict:
    return {r["messages"][0]["content"]: r["judge_score"] for r in result.records()}


def test_a_rate_limited_judge_is_retried_after_the_wait_it_asks_for(tmp_path, judge_server):
    import lab.data.judge as judge

    path, expected = write_alpaca(tmp_path / "a.jsonl")
    _Judge.failures = [(429, 1), (503, None)]  # rate limited (retry after 1 s), then a server error, then fine
    result = run(_judge_recipe(path, judge_server, drop_unscored=True), token="hf_signed_in_user", log=lambda m: None)
    rows = expected["rows"] - expected["duplicates"]
    assert _Judge.auth == {""}  # the Hugging Face sign-in never goes to an endpoint outside Hugging Face
    assert judge.hub_endpoint("https://router.huggingface.co/v1") and not judge.hub_endpoint(judge_server)
    assert _Judge.calls == rows + 2 and _Judge.times[1] - _Judge.times[0] >= 1.0
    assert result.removed_counts() == {"exact duplicate": 4, "low judge score": 1,
                                       "unscored (judge reply had no score)": 2}  # no row lost to the 429
    assert _scored(result)["Give three tips about baking bread."] == 5


def test_a_failing_judge_stops_the_run_and_caches_no_failure(tmp_path, judge_server, monkeypatch):
    import lab.data.judge as judge

    monkeypatch.setattr(judge, "RETRY_WAITS_S", (0.01, 0.01), raising=False)
    path, expected = write_alpaca(tmp_path / "a.jsonl")
    _Judge.always = 429
    with pytest.raises(LabError) as err:
        run(_judge_recipe(path, judge_server, drop_unscored=True), log=lambda m: None)
    assert err.value.field == "judge.endpoint" and "HTTP 429" in str(err.value) and "3 tries" in str(err.value)
    assert _Judge.calls == 3  # the first row, tried three times; the run stopped there
    _Judge.always, _Judge.calls = 0, 0
    result = run(_judge_recipe(path, judge_server, drop_unscored=True), log=lambda m: None)
    rows = expected["rows"] - expected["duplicates"]
    assert _Judge.calls == rows  # every row asked again: nothing was cached from the failed run
    assert result.removed_counts()["unscored (judge reply had no score)"] == 2
    assert result.funnel[-1].note == "2 unscored"


def test_reward_model_of_an_unsupported_architecture_is_refused_before_scoring(tmp_path, monkeypatch):
    import transformers

    def never(*args, **kwargs):
        raise AssertionError("weights were loaded")

    monkeypatch.setattr(transformers.AutoModelForSequenceClassification, "from_pretrained", never)
    causal = tmp_path / "causal"
    causal.mkdir()
    (causal / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))
    path, _ = write_alpaca(tmp_path / "a.jsonl")
    recipe = FilterRecipe.parse({"sources": [{"path": str(path)}],
                                 "steps": [{"type": "reward", "model": str(causal), "top_percent": 50}]})
    with pytest.raises(LabError, match="is a LlamaForCausalLM, not a reward model") as err:
        run(recipe, log=lambda m: None)
    assert err.value.field == "reward.model"
    two = tmp_path / "two"
    two.mkdir()
    (two / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"],
                                                 "id2label": {"0": "neg", "1": "pos"}}))
    with pytest.raises(LabError, match="2 labels"):
        check_reward_model(str(two))


def test_reward_model_scores_and_keeps_the_top_half(tmp_path, bundled_model):
    """A tiny (random) one-label Llama reward model with the bundled tokenizer, saved as safetensors."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tok = AutoTokenizer.from_pretrained(bundled_model)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, num_labels=1, pad_token_id=tok.pad_token_id)
    folder = tmp_path / "rm"
    LlamaForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    path, expected = write_alpaca(tmp_path / "a.jsonl")
    recipe = FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": [
        {"type": "exact_dedup"}, {"type": "reward", "model": str(folder), "top_percent": 50, "batch_size": 4}]})
    result = run(recipe, log=lambda m: None)
    scores = np.array([r["reward_score"] for r in result.records()])
    removed = [r["value"] for r in result.removed if r["reason"] == "low reward score"]
    n = expected["rows"] - expected["duplicates"]
    assert len(result.kept) + len(removed) == n and abs(len(result.kept) - n / 2) <= 1
    assert np.isfinite(scores).all() and scores.min() >= max(removed)
