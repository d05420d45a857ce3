"""A whole loop with a token set, through the app's API where the app has one — filter (Data tab) → train (job)
→ merge (job) → chat → push (job) to the fake Hub — then the token is nowhere: no file under LAB_HOME (jobs
database, logs, recipes, cards, checkpoints, caches), no job record, no API answer, not /config or any
component value, not the HF cache, not the pushed repo, not what this process printed."""
from __future__ import annotations

import json

import httpx
from gradio_client import Client, handle_file

from lab import jobs, settings
from lab.artifacts import list_artifacts
from lab.data.recipe import ExactDedup, FilterRecipe
from lab.jobs.manager import wait
from lab.merge import editor
from tests.hardening.conftest import running_app, token_like, wait_for
from tests.hub_helpers import files_containing

SETTINGS = ("", 0, 0.9, 4, 1.1, None, False)  # system, temperature, top_p, max_new_tokens, rep. penalty, seed, 4-bit


def _filter_through_the_app(client, path, answers: list):
    loaded = client.predict([handle_file(str(path))], "", "", "train", None, "auto", api_name="/data_load")
    recipe = FilterRecipe.from_yaml(loaded[2]).model_copy(update={"steps": [ExactDedup()], "name": "clean"})
    answers += [loaded, client.predict(recipe.to_yaml(), api_name="/data_run")]
    answers.append(client.predict("clean", api_name="/data_export"))
    return next(a["path"] for a in list_artifacts() if a["name"] == "clean")


def _train_through_the_app(client, bundled_model, dataset, answers: list) -> str:
    recipe = (f"model: {bundled_model}\ndataset: {dataset}\nmax_steps: 2\nbatch_size: 2\nmax_seq_length: 64\n"
              "lora_r: 4\nsave_steps: 1\noutput_name: tuned\n")
    started = client.predict(recipe, api_name="/train_start")
    answers.append(started)
    status = wait_for(lambda: (s := client.predict(started["job_id"], api_name="/train_status"))["final"] and s,
                      600, "training did not end", poll=1.0)
    answers.append(status)
    assert status["state"] == "succeeded", status["error"]
    return status["artifact"]


def _push_through_the_app(client, folder, answers: list) -> None:
    job_id, message, *_ = client.predict(folder, "loop-merge", True, False, api_name="/hub_push")
    answers += [job_id, message]
    job = wait(job_id, 300)
    assert job.state == "succeeded", job.error
    answers.append(client.predict(job_id, api_name="/job_show"))


def test_a_whole_loop_leaves_the_token_nowhere(fake_hub, bundled_model, mini_data, lab_home, tmp_path, monkeypatch,
                                               capfd):
    token = token_like()
    fake_hub.tokens[token] = fake_hub.user
    monkeypatch.setenv("HF_TOKEN", token)  # signed in locally: the app's token_from() finds it
    settings.reset_caches()
    answers: list = []
    with running_app() as (demo, url):
        client = Client(url, verbose=False)
        data = _filter_through_the_app(client, mini_data, answers)
        adapter = _train_through_the_app(client, bundled_model, data, answers)
        text = f"merge_method: passthrough\nslices:\n  - sources:\n      - model: {bundled_model}+{adapter}\n" \
               "        layer_range: [0, 4]\n"
        merged = wait(editor.start(text, "loop-merge", token=token).id, 300)
        assert merged.state == "succeeded", merged.error
        answers.append(client.predict("Hi", str(merged.folder), adapter, None, None, *SETTINGS, api_name="/chat"))
        _push_through_the_app(client, str(merged.folder), answers)
        answers += [client.predict(api_name="/jobs_list"), client.predict("all", api_name="/artifacts_list")]
        answers += [client.predict(str(f), api_name="/artifact_card") for f in (data, adapter, merged.folder)]
        answers.append(client.view_api(print_info=False, return_format="dict"))
        answers += [httpx.get(url + "config").text, httpx.get(url + "gradio_api/info").text]
        answers.append(json.dumps(demo.get_config_file(), default=str))  # every component's value
    assert fake_hub.exists("tester/loop-merge") and len(jobs.list_jobs()) == 3
    assert token not in json.dumps(answers, default=str)
    assert not [j.id for j in jobs.list_jobs() if token in json.dumps(j.to_dict())]
    needle = token.encode()
    assert files_containing(lab_home, needle) == []
    assert files_containing(tmp_path / "hf", needle) == []  # the HF cache and home: no stored login
    assert files_containing(fake_hub.root / "repos", needle) == []
    printed = capfd.readouterr()
    assert token not in printed.out + printed.err
