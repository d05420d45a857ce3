"""The Train tab driven over HTTP with gradio_client: a run started through the API is polled to completion."""
import json
import time

import httpx
from gradio_client import Client

from lab.train.recipe import TrainRecipe
from tests.integration.test_train import short_alpaca


def test_a_run_started_through_the_api_completes(app_url, alpaca_path, tmp_path, bundled_model):
    data = tmp_path / "mini.json"
    data.write_text(json.dumps(short_alpaca(alpaca_path, 4)))
    recipe = TrainRecipe(dataset=str(data), max_steps=2, batch_size=2, max_seq_length=64, lora_r=8)
    client = Client(app_url, verbose=False)
    started = client.predict(recipe.to_yaml(), api_name="/train_start")
    assert started["state"] in ("running", "queued") and started["job_id"] in started["message"]
    deadline, seen = time.time() + 900, []
    while time.time() < deadline:
        s = client.predict(started["job_id"], api_name="/train_status")
        seen.append(s["state"])
        if s["final"]:
            break
        time.sleep(1.0)
    assert s["state"] == "succeeded", s["error"]
    assert "running" in seen  # it was polled while it ran
    assert [p["step"] for p in s["loss"] if p["series"] == "train"] == [1, 2]
    assert s["steps"] == 2 and s["progress"] == 1.0 and s["artifact"]
    assert s["result"]["last_loss"] > 0 and "Saved the adapter" in s["log"]


def test_bad_recipe_through_the_api_names_the_field(app_url):
    client = Client(app_url, verbose=False)
    try:
        client.predict("method: dpo\npacking: true\n", api_name="/train_start")
        raise AssertionError("expected an error")
    except Exception as exc:  # gradio_client raises AppError with the gr.Error message
        assert "packing" in str(exc)
    names = set(httpx.get(app_url + "gradio_api/info").json()["named_endpoints"])
    assert {"/train_start", "/train_status"} <= names
