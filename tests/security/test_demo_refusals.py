"""Finding 6: signed in on the demo, `/train_start` worked on the dataset for 113 s before refusing, and a download
job started. On the public demo every job is refused first, before any recipe, dataset or model is read."""
from __future__ import annotations

import time

import pytest
from gradio_client.exceptions import AppError

from lab import jobs

pytestmark = pytest.mark.filterwarnings(  # Gradio's Spaces hot-reloader wants the `spaces` package: harmless
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")

BIG_RECIPE = "method: sft\nmodel: acme/huge-model\ndataset: acme/huge-dataset\nmax_steps: 100000\n"


@pytest.mark.parametrize("who", ["alice", None])
def test_jobs_on_the_demo_are_refused_before_any_work(demo, lab_home, online, load_spy, who):
    client = demo.client(who)
    calls = [("/train_start", (BIG_RECIPE,)),
             ("/export_gguf", ("acme/huge-model", ["q8_0"], "", False, "", True)),
             ("/hub_push", ("anything", "mine", True, False, None))]
    for api, args in calls:
        start = time.perf_counter()
        with pytest.raises(AppError, match="demo|needs you signed in"):
            client.predict(*args, api_name=api)
        assert time.perf_counter() - start < 5, api  # refused at once, not after the data was read
    stages = client.predict(api_name="/tour")[0]
    assert "demo" in stages
    assert jobs.list_jobs() == [] and not (lab_home / "artifacts").exists()
    assert load_spy.nothing_loaded(), (load_spy.resolves, load_spy.downloads)
    assert not any("huge" in path for _, path in demo.hub.requests)
