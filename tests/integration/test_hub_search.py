"""Search, model facts and dataset previews against the fake Hub; offline, search lists local models."""
import json

import pytest

from lab import settings
from lab.errors import LabError
from lab.hub import dataset_preview, model_meta, search_datasets, search_models

LLAMA = json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
                    "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100}).encode()
QWEN = json.dumps({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}).encode()


def _card(license_: str, base: str = "") -> bytes:
    return f"---\nlicense: {license_}\n{f'base_model: {base}' if base else ''}\ntags: [chat]\n---\n# m\n".encode()


@pytest.fixture
def seeded(fake_hub):
    # downloads, likes and trending disagree, so each sort gives its own order
    fake_hub.seed("acme/chat-small", files={"config.json": LLAMA, "README.md": _card("apache-2.0")},
                  downloads=500, likes=3, trending=9)
    fake_hub.seed("acme/chat-medium", files={"config.json": QWEN, "README.md": _card("mit")},
                  downloads=100, likes=40, trending=1)
    fake_hub.seed("other/chat-large", files={"config.json": LLAMA, "README.md": _card("llama3", "acme/chat-small")},
                  downloads=900, likes=7, trending=5)
    fake_hub.seed("acme/vision", files={"config.json": QWEN}, downloads=5000)
    for i in range(6):  # more than one page (page size 5), to exercise Link pagination
        fake_hub.seed(f"bulk/chat-{i}", files={"config.json": LLAMA}, downloads=i)
    fake_hub.seed("me/secret-chat", files={"config.json": LLAMA}, private=True, downloads=10 ** 6)
    return fake_hub


def test_search_sorts_filters_and_paginates(seeded):
    ids = lambda r: [row["id"] for row in r.rows]  # noqa: E731
    by_downloads = search_models("chat-", sort="downloads", limit=3)
    assert ids(by_downloads) == ["other/chat-large", "acme/chat-small", "acme/chat-medium"]
    assert not by_downloads.offline and "me/secret-chat" not in ids(by_downloads)
    assert ids(search_models("chat-", sort="likes", limit=3)) == ["acme/chat-medium", "other/chat-large",
                                                                  "acme/chat-small"]
    assert ids(search_models("chat-", sort="trending", limit=3)) == ["acme/chat-small", "other/chat-large",
                                                                     "acme/chat-medium"]
    assert ids(search_models("chat", author="acme")) == ["acme/chat-small", "acme/chat-medium"]
    assert ids(search_models("", architecture="qwen2")) == ["acme/vision", "acme/chat-medium"]
    top = search_models("chat", limit=9)
    assert len(top.rows) == 9
    row = top.rows[0]
    assert row["id"] == "other/chat-large" and row["architecture"] == "LlamaForCausalLM"
    assert row["license"] == "llama3" and row["downloads"] == 900
    assert search_models("no-such-thing").notice.startswith("No models")
    with pytest.raises(LabError, match="Unknown sort") as e:
        search_models("x", sort="newest")
    assert e.value.field == "sort"


def test_search_follows_link_pages(seeded):
    result = search_models("chat", limit=9)
    assert len(result.rows) == 9
    assert sum(1 for m, p in seeded.requests if m == "GET" and p == "/api/models") >= 2  # first page + next


def test_private_repos_show_for_their_owner_only(seeded):
    seeded.seed("tester/mine", files={"config.json": LLAMA}, private=True)
    assert "tester/mine" in [r["id"] for r in search_models("mine", token=seeded.token).rows]
    assert search_models("mine").rows == []


def test_dataset_search(fake_hub):
    fake_hub.seed("acme/alpaca-mini", files={"train.jsonl": b'{"a": 1}\n', "README.md": _card("cc-by-4.0")},
                  repo_type="dataset", downloads=7, likes=1)
    fake_hub.seed("acme/dpo-pairs", files={"train.jsonl": b'{"a": 2}\n'}, repo_type="dataset", downloads=70)
    result = search_datasets("", author="acme")
    assert [r["id"] for r in result.rows] == ["acme/dpo-pairs", "acme/alpaca-mini"]
    assert result.rows[1]["license"] == "cc-by-4.0"


def test_model_facts_come_from_config_and_card_without_weights(seeded, bundled_model):
    seeded.seed("acme/smol", folder=bundled_model, downloads=1)
    facts = model_meta("acme/smol")
    assert facts["architecture"] == "LlamaForCausalLM" and facts["layers"] == 30 and facts["vocab_size"] == 49152
    assert facts["license"] == "apache-2.0" and facts["base_model"] == ["HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert facts["chat_template"] and facts["safetensors"] and not facts["pickle_only"]
    assert 100e6 < facts["params"] < 200e6
    gets = [p for m, p in seeded.requests if m == "GET" and "/resolve/" in p]
    assert gets and not any(p.endswith(".safetensors") for p in gets)  # never the weights
    with pytest.raises(LabError, match="not on the Hub") as e:
        model_meta("acme/does-not-exist")
    assert e.value.field == "model"


def test_dataset_preview_jsonl_and_parquet(fake_hub):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(20000)]  # > 1 MiB: a ranged read
    jsonl = "".join(json.dumps(r) + "\n" for r in rows).encode()
    fake_hub.seed("acme/big", files={"data/train.jsonl": jsonl, "data/test.jsonl": b'{"x": 1}\n'},
                  repo_type="dataset")
    p = dataset_preview("acme/big", 3)
    assert p["file"] == "data/train.jsonl" and p["rows"] == rows[:3] and p["columns"] == ["instruction", "output"]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows[:50]), buf)
    fake_hub.seed("acme/pq", files={"train-0.parquet": buf.getvalue()}, repo_type="dataset")
    assert dataset_preview("acme/pq", 4)["rows"] == rows[:4]
    with pytest.raises(LabError, match="out of range"):
        dataset_preview("acme/pq", 0)


def test_offline_search_lists_the_bundled_model(bundled_model):
    result = search_models("smollm2")  # HF_HUB_OFFLINE=1 in tests by default
    assert result.offline and "Offline" in result.notice
    row = next(r for r in result.rows if r["id"] == "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert row["architecture"] == "LlamaForCausalLM" and row["source"] == "bundled"


def test_unreachable_hub_falls_back_to_local_models(fake_hub, bundled_model):
    fake_hub.stop()
    settings.reset_caches()
    result = search_models("SmolLM2")
    assert result.offline and any(r["id"].endswith("SmolLM2-135M-Instruct") for r in result.rows)
