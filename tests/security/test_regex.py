"""Finding 2: every regex a user writes runs on RE2 (lab.safe_regex), linear in the text. `(a+)+$` over a row of
a's and a '!' took 15.7 s on Python's `re` (doubling with each 'a') and froze the app for everyone; now it finishes at
once in the data pipeline, in GRPO's format reward and in lm-eval's regex filter, and in the launched demo app
another client's GET /gradio_api/app_id keeps answering within 1 s while it runs. A pattern RE2 cannot run
(backreference, lookaround) is refused with a LabError naming the field and the fix."""
from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
import yaml
from gradio_client import Client, handle_file

from lab.errors import LabError
from tests.ui.test_space_modes import SPACE_ENV

EVIL = "(a+)+$"
SLOW_ROW = "a" * 25 + "!"  # 15.7 s on Python's re, 31 s with one 'a' more


def _rows(path, n_slow: int = 2):
    rows = [{"instruction": "Say a lot of a", "input": "", "output": SLOW_ROW + " " * i} for i in range(n_slow)]
    rows += [{"instruction": f"Say it {i}", "input": "", "output": "a" * (i + 3)} for i in range(6)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_a_catastrophic_pattern_runs_in_linear_time_in_the_data_pipeline(tmp_path):
    from lab.data.pipeline import run
    from lab.data.recipe import FilterRecipe

    path = _rows(tmp_path / "evil.jsonl")
    recipe = FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": [
        {"type": "regex", "key": "answer", "include": EVIL, "ignore_case": False}]})
    start = time.perf_counter()
    result = run(recipe, log=lambda m: None)
    assert time.perf_counter() - start < 2.0
    assert result.removed_counts() == {"regex: no include match": 2}  # the a…! rows; a…a rows match


@pytest.mark.parametrize("pattern, why", [(r"(\w+) \1", "backreference"), (r"foo(?=bar)", "lookaround"),
                                          (r"(?<!x)y", "lookaround")])
def test_a_pattern_re2_cannot_run_is_refused_naming_the_field_and_the_fix(pattern, why):
    from lab.data.recipe import FilterRecipe
    from lab.eval.custom import build
    from lab.eval.recipe import CustomTask
    from lab.train.recipe import TrainRecipe

    with pytest.raises(LabError) as err:
        FilterRecipe.parse({"sources": [{"path": "x.jsonl"}], "steps": [{"type": "regex", "exclude": pattern}]})
    assert err.value.field == "steps.0.regex.exclude" and why in str(err.value) and "Rewrite it" in str(err.value)
    with pytest.raises(LabError) as err:
        TrainRecipe.parse({"method": "grpo", "rewards": [f"format:{pattern}"]})
    assert err.value.field.startswith("rewards") and why in err.value.what and "Rewrite it" in err.value.fix
    with pytest.raises(LabError) as err:
        build(CustomTask(path="x.jsonl", regex=pattern))
    assert err.value.field == "regex" and why in err.value.what and "Rewrite it" in err.value.fix


def test_the_grpo_format_reward_and_lm_evals_regex_filter_run_on_re2():
    from lm_eval.filters.extraction import RegexFilter

    from lab.eval import engine  # noqa: F401 (what the eval worker imports: evaluate() puts the filter on RE2)
    from lab.eval.re2_filter import use_re2
    from lab.train.methods.rewards.text import Format, Sample

    start = time.perf_counter()
    assert Format(EVIL).score(Sample("p", "a" * 40 + "!")) == 0.0
    use_re2()
    extracted = RegexFilter(regex_pattern=EVIL).apply([["a" * 40 + "!", "aaa"]], [{}])
    assert time.perf_counter() - start < 1.0
    assert extracted == [["[invalid]", "aaa"]]
    assert RegexFilter(regex_pattern=r"answer is (\w+)").apply([["the answer is Rome."]], [{}]) == [["Rome"]]


@pytest.fixture
def demo_process(lab_home):
    """`python app.py` as the public demo Space runs it, in its own process (one that holds the GIL stalls it)."""
    from tests.ui.conftest import serve_app_process

    with serve_app_process({**SPACE_ENV, "LAB_DEMO": "1"}) as url:
        yield url


def test_a_redos_regex_through_data_run_does_not_stop_the_app_answering_others(demo_process, tmp_path):
    url = demo_process
    client = Client(url, verbose=False)
    recipe = client.predict([handle_file(str(_rows(tmp_path / "evil.jsonl")))], "", "", "train", None, "auto",
                            api_name="/data_load")[2]
    data = yaml.safe_load(recipe)
    next(s for s in data["steps"] if s["type"] == "regex").update(enabled=True, key="answer", include=EVIL)
    evil = yaml.safe_dump(data)
    waits, done = [], threading.Event()

    def probe():  # another visitor: the plain HTTP route every page load asks
        with httpx.Client(timeout=60) as http:
            while not done.is_set():
                start = time.perf_counter()
                http.get(url + "gradio_api/app_id").raise_for_status()
                waits.append(time.perf_counter() - start)
                time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        time.sleep(0.3)
        start = time.perf_counter()
        for _ in range(3):
            client.predict(recipe=evil, api_name="/data_run")
        took = time.perf_counter() - start
    finally:
        done.set()
        prober.join(90)
    assert took < 15, f"three ReDoS runs took {took:.1f} s"
    assert waits and max(waits) < 1.0, f"app_id waited up to {max(waits):.2f} s"
