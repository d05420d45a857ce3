"""A Hub model pinned to a revision (org/name@REV) against the fake Hub: the revision's own files are fetched (by
branch or tag name and by commit sha), the main branch is untouched by it, the cache answers for each revision
alone, and a bad revision is refused before any request is made."""
from __future__ import annotations

import json
import struct

import pytest

from lab import settings
from lab.access import caller_for
from lab.errors import LabError
from lab.models import info, resolve
from lab.models.resolve import config_folder
from lab.models.usable import model_for

BAD = ["acme/tiny@", "acme/tiny@a..b", "acme/tiny@../../main", "acme/tiny@/main", "acme/tiny@v1 x", "acme/tiny@v1@v2",
       "acme/tiny@" + "a" * 101]


def _config(hidden: int) -> bytes:
    return json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
                       "intermediate_size": 2 * hidden, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "vocab_size": 32}).encode()


def _weights(value: int) -> bytes:
    """A tiny real safetensors file: one uint8 tensor of four `value`s."""
    header = json.dumps({"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}).encode()
    return struct.pack("<Q", len(header)) + header + bytes([value]) * 4


def _hidden(folder) -> int:
    return json.loads((folder / "config.json").read_text())["hidden_size"]


def _seed(hub) -> str:
    hub.seed("acme/tiny", files={"config.json": _config(8), "model.safetensors": _weights(0), "pytorch_model.bin": b"x"})
    return hub.seed_revision("acme/tiny", "v1", {"config.json": _config(16), "model.safetensors": _weights(1)})


def _visitor(monkeypatch, hub):
    monkeypatch.setenv("SPACE_ID", "someone-else/lab")
    settings.reset_caches()
    return caller_for(hub.user, hub.token, [], "s1")


def test_a_pinned_revision_fetches_its_own_files_and_main_stays_main(fake_hub):
    sha = _seed(fake_hub)
    pinned = resolve("acme/tiny@v1", log=lambda m: None)
    assert _hidden(pinned) == 16 and pinned.name == sha and (pinned / "model.safetensors").read_bytes() == _weights(1)
    assert ("GET", "/api/models/acme/tiny/revision/v1") in fake_hub.requests
    assert any(p.startswith(f"/acme/tiny/resolve/{sha}/") for _, p in fake_hub.requests)
    main = resolve("acme/tiny", log=lambda m: None)  # the pinned copy in the cache is not the main branch's
    assert _hidden(main) == 8 and main != pinned and not (main / "pytorch_model.bin").exists()
    assert _hidden(config_folder("acme/tiny@v1")) == 16 and _hidden(config_folder("acme/tiny")) == 8
    assert info("acme/tiny@v1")["hidden_size"] == 16 and info("acme/tiny")["hidden_size"] == 8
    asked = len(fake_hub.requests)
    assert resolve(f"acme/tiny@{sha}") == pinned == resolve("acme/tiny@v1")  # by sha too; the cache answers
    assert resolve("acme/tiny") == main and len(fake_hub.requests) == asked
    with pytest.raises(LabError, match="no revision 'v2'") as err:
        resolve("acme/tiny@v2", log=lambda m: None)
    assert err.value.field == "model"


def test_a_bad_revision_is_refused_before_any_request(fake_hub, monkeypatch):
    _seed(fake_hub)
    before = list(fake_hub.requests)
    for bad in BAD:
        for fetch in (resolve, config_folder, info):
            with pytest.raises(LabError) as err:
                fetch(bad)
            assert err.value.field == "model" and "@" in err.value.fix, bad
    visitor = _visitor(monkeypatch, fake_hub)
    for bad in BAD:
        with pytest.raises(LabError) as err:
            model_for(visitor, bad, "models")
        assert err.value.field == "models", bad
    assert fake_hub.requests == before and not (fake_hub.root.parent / "hf" / "hub").exists()


def test_a_visitor_is_checked_at_the_revision_they_name(fake_hub, monkeypatch):
    _seed(fake_hub)
    visitor = _visitor(monkeypatch, fake_hub)
    ref = model_for(visitor, "acme/tiny@v1", "models")
    assert (ref.hub_id, ref.revision) == ("acme/tiny", "v1")
    assert ("GET", "/api/models/acme/tiny/revision/v1") in fake_hub.requests
    with pytest.raises(LabError, match="not yours to read") as err:
        model_for(visitor, "acme/tiny@nope", "models")
    assert err.value.field == "models" and ("GET", "/api/models/acme/tiny/revision/nope") in fake_hub.requests
