"""Data from the (fake) Hub: a dataset repo is previewed by streaming and loaded whole, the same rows as the file."""
import json

import pytest

from lab.data.load import hub_preview, load_source
from lab.data.recipe import Source
from lab.errors import LabError

ROWS = [{"instruction": f"Name a prime number above {i * 10}.", "input": "", "output": f"{i * 10 + 1} may be."}
        for i in range(12)]


@pytest.fixture
def hub_dataset(fake_hub):
    body = "\n".join(json.dumps(r) for r in ROWS).encode() + b"\n"
    fake_hub.seed("acme/primes", files={"data/train.jsonl": body, "README.md": b"# primes\n"}, repo_type="dataset")
    return "acme/primes"


def test_preview_and_load_a_hub_dataset(hub_dataset):
    preview = hub_preview(Source(hub=hub_dataset), n=5)
    assert [r["instruction"] for r in preview] == [r["instruction"] for r in ROWS[:5]]
    loaded = load_source(Source(hub=hub_dataset))
    assert loaded.format == "alpaca" and len(loaded.rows) == len(ROWS)


def test_a_missing_hub_dataset_names_the_field(fake_hub):
    with pytest.raises(LabError) as err:
        load_source(Source(hub="acme/does-not-exist"))
    assert err.value.field == "hub" and "acme/does-not-exist" in str(err.value)
