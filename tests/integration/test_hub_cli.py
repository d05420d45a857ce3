"""`python -m lab hub search` and `python -m lab push`, run in-process against the fake Hub."""
import json

from lab.__main__ import main
from tests.hub_helpers import tiny_model_artifact


def test_cli_search_and_push(fake_hub, bundled_model, monkeypatch, capsys):
    fake_hub.seed("acme/chat-a", files={"config.json": b'{"architectures": ["LlamaForCausalLM"]}'}, likes=5)
    fake_hub.seed("acme/chat-b", files={"config.json": b'{"architectures": ["LlamaForCausalLM"]}'}, likes=9)
    assert main(["hub", "search", "chat", "--sort", "likes", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in out["rows"]] == ["acme/chat-b", "acme/chat-a"] and out["offline"] is False

    folder = tiny_model_artifact(bundled_model)
    assert main(["push", str(folder), "--repo", "tiny"]) == 2  # no token: refused
    assert "signed in" in capsys.readouterr().err
    monkeypatch.setenv("HF_TOKEN", fake_hub.token)
    assert main(["push", str(folder), "--repo", "tiny", "--public"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["url"] == f"{fake_hub.url}/tester/tiny"
    assert fake_hub.meta("tester/tiny")["private"] is False and "Uploaded" in captured.err
    assert fake_hub.token not in captured.out + captured.err
    assert main(["push", str(folder), "--repo", "tiny"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_cli_search_offline_lists_local_models(bundled_model, capsys):
    assert main(["hub", "search", "smol", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["offline"] and "HuggingFaceTB/SmolLM2-135M-Instruct" in [r["id"] for r in out["rows"]]
