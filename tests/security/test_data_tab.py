"""The Data tab on the public demo, as anonymous visitors reach it through gradio_client (findings 4, 6 and 7):

- an upload is named upload:HASH/NAME: the recipe, the review and the errors name no server path;
- a data run reads at most DEMO_MAX_ROWS rows there (the error and the tab say so), refused before the work;
- Explore's embedder and local judge, and semantic dedup, download no model but the bundled ones for an anonymous
  visitor: refused before the Hub is asked;
- a visitor has one CPU-heavy Data request at a time (a second is told to wait), and another visitor's requests keep
  answering within 1 s meanwhile.
"""
from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
import yaml
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from lab.data.policy import DEMO_MAX_ROWS
from tests.security.data_support import space_app, write_rows

pytestmark = pytest.mark.filterwarnings(
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tests.fakehub import FakeHub

    scratch = tmp_path_factory.mktemp("demo")
    hub = FakeHub(scratch / "hub").start()
    with space_app(scratch, demo=True, hub=hub) as (_app, url):
        yield hub, url
    hub.stop()


@pytest.fixture
def online(monkeypatch):
    from lab import settings

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the fake Hub answers: a download would really happen
    settings.reset_caches()


def _load(client: Client, path) -> list:
    return client.predict([handle_file(str(path))], "", "", "train", None, "auto", api_name="/data_load")


def _texts(value) -> str:
    return json.dumps(value, default=str)


def _with(recipe: str, kind: str, **values) -> str:
    data = yaml.safe_load(recipe)
    next(s for s in data["steps"] if s["type"] == kind).update(enabled=True, **values)
    return yaml.safe_dump(data)


def test_uploads_are_named_not_placed_and_no_output_names_a_server_path(demo, tmp_path, lab_home):
    _, url = demo
    client = Client(url, verbose=False)
    loaded = _load(client, write_rows(tmp_path / "mine.jsonl"))
    recipe = loaded[2]
    path = yaml.safe_load(recipe)["sources"][0]["path"]
    assert path.startswith("upload:") and path.endswith("/mine.jsonl") and path.count("/") == 1
    review = client.predict(recipe=recipe, api_name="/data_run")
    with pytest.raises(AppError) as err:  # an error about the file names it as the recipe does
        client.predict(recipe=recipe.replace(path, path[:-4] + "csv"), api_name="/data_run")
    shown = _texts([loaded, review, str(err.value)])
    assert str(lab_home) not in shown and "/tmp" not in shown and str(tmp_path) not in shown


def test_the_demo_caps_the_rows_of_a_run_before_the_work(demo, tmp_path, online):
    hub, url = demo
    client = Client(url, verbose=False)
    rows = [{"instruction": f"Question {i}?", "input": "", "output": f"Answer {i}."} for i in range(DEMO_MAX_ROWS + 1)]
    with pytest.raises(AppError, match=f"at most {DEMO_MAX_ROWS:,} rows"):
        _load(client, write_rows(tmp_path / "big.jsonl", rows))
    before = len(hub.requests)
    with pytest.raises(AppError, match="Max rows"):  # a Hub dataset must say how few rows it reads
        client.predict([], "acme/big-data", "", "train", None, "auto", api_name="/data_load")
    assert len(hub.requests) == before  # refused before the Hub was asked
    cfg = httpx.get(url + "config").json()
    note = next(c for c in cfg["components"] if c["props"].get("elem_id") == "data-demo-limits")
    assert f"{DEMO_MAX_ROWS:,} rows" in note["props"]["value"]


def test_an_anonymous_visitor_downloads_no_model_but_the_bundled_ones(demo, tmp_path, online):
    hub, url = demo
    client = Client(url, verbose=False)
    recipe = _load(client, write_rows(tmp_path / "rows.jsonl"))[2]
    client.predict(recipe=recipe, api_name="/data_run")
    before = len(hub.requests)
    told = []
    for api, kind, values in (("/data_explore", "clusters", {"model": "acme/embedder"}),
                              ("/data_explore", "judge", {"model": "acme/judge-model"}),
                              ("/data_run", "semantic_dedup", {"model": "acme/embedder"}),
                              ("/data_run", "length", {"tokenizer": "acme/tokenizer", "max_tokens": 100})):
        with pytest.raises(AppError) as err:
            client.predict(recipe=_with(recipe, kind, **values), api_name=api)
        told.append(str(err.value))
    assert all("needs you signed in" in t for t in told), told
    assert len(hub.requests) == before  # nothing asked of the Hub, let alone downloaded


def test_one_heavy_request_per_visitor_and_the_others_keep_answering(demo, tmp_path, monkeypatch):
    from lab.data import steps

    _, url = demo
    slow = steps.STEPS["exact_dedup"]
    monkeypatch.setitem(steps.STEPS, "exact_dedup", lambda step, ctx: time.sleep(4) or slow(step, ctx))
    alice, bob = Client(url, verbose=False), Client(url, verbose=False)
    recipe_a = _load(alice, write_rows(tmp_path / "a.jsonl"))[2]
    recipe_b = _load(bob, write_rows(tmp_path / "b.jsonl"))[2]
    first = alice.submit(recipe=recipe_a, api_name="/data_run")
    time.sleep(1.5)
    with pytest.raises(AppError, match="Wait for your running data run to finish"):
        alice.predict(recipe=recipe_a, api_name="/data_run")
    waits = []
    done = threading.Event()

    def probe():
        while not done.is_set():
            start = time.perf_counter()
            httpx.get(url + "gradio_api/app_id", timeout=30).raise_for_status()
            waits.append(time.perf_counter() - start)
            time.sleep(0.1)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        bob.predict(recipe=recipe_b, api_name="/data_run")  # another visitor is not refused
        first.result(timeout=60)
    finally:
        done.set()
        prober.join(30)
    assert waits and max(waits) < 1.0
    alice.predict(recipe=recipe_a, api_name="/data_run")  # once it finished, alice may run again
