"""Finding 1 on the public demo: an anonymous visitor sets the Data tab's LLM judge to "the attacker's server" (a real
HTTP server on 127.0.0.1) with `api_key_env` naming the Space's secrets, or points it at the server's own network.
The server receives no request at all, no canary secret goes anywhere, the reply names no remote status, and the
refusal is the same whichever variable was named (no oracle of which exist) and whichever address was given (no
port scanner)."""
from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.security.data_support import CANARIES, attacker, judge_recipe, space_app, write_rows  # noqa: F401
from tests.ui.conftest import free_port

pytestmark = pytest.mark.filterwarnings(  # Gradio's Spaces hot-reloader thread wants the `spaces` package: harmless
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with space_app(tmp_path_factory.mktemp("demo"), demo=True) as (_app, url):
        yield url


def _session(url: str, tmp_path) -> tuple[Client, str]:
    """A visitor's browser session with a small file loaded and filtered in-process (what the demo allows)."""
    client = Client(url, verbose=False)
    recipe = client.predict([handle_file(str(write_rows(tmp_path / "rows.jsonl")))], "", "", "train", None, "auto",
                            api_name="/data_load")[2]
    client.predict(recipe=recipe, api_name="/data_run")
    return client, recipe


def _refusal(client: Client, api: str, recipe: str) -> str:
    with pytest.raises(AppError) as err:
        client.predict(recipe=recipe, api_name=api)
    return str(err.value)


def test_an_anonymous_visitor_cannot_make_the_judge_send_the_spaces_secrets(demo, attacker, tmp_path):
    client, recipe = _session(demo, tmp_path)
    told = {name: _refusal(client, "/data_explore", judge_recipe(recipe, endpoint=attacker.url, api_key_env=name))
            for name in ("HF_TOKEN", "OAUTH_CLIENT_SECRET", "NOPE")}
    assert attacker.requests == []  # not one request, let alone one with a key
    assert len(set(told.values())) == 1, told  # the same answer whether the variable exists or not
    text = next(iter(told.values()))
    assert "owner" in text and "not set" not in text and "NOPE" not in text
    assert not any(c in t for c in CANARIES for t in told.values())


def test_an_anonymous_visitor_cannot_point_the_judge_at_the_servers_network(demo, attacker, tmp_path):
    client, recipe = _session(demo, tmp_path)
    closed = f"http://127.0.0.1:{free_port()}/v1"
    endpoints = [attacker.url, closed, attacker.url.replace("http:", "https:"), "http://169.254.169.254/v1",
                 "https://169.254.169.254/latest", "https://[::ffff:127.0.0.1]:%d/v1" % attacker.port,
                 "https://localhost:%d/v1" % attacker.port]
    told = [_refusal(client, "/data_explore", judge_recipe(recipe, endpoint=e)) for e in endpoints]
    assert attacker.requests == []
    assert not any("HTTP" in t or "Connect" in t or "refused the key" in t for t in told), told  # no remote status
    assert len({t.replace(" (https only)", "") for t in told}) == 1, told  # open, closed, metadata: one answer


def test_a_judge_run_on_the_demo_is_refused_before_anything_is_called(demo, attacker, tmp_path):
    client, recipe = _session(demo, tmp_path)
    text = _refusal(client, "/data_run", judge_recipe(recipe, endpoint=attacker.url, api_key_env="HF_TOKEN"))
    assert "off on this public demo" in text and attacker.requests == []
