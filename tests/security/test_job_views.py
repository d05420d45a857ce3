"""Jobs and results of the Merge and Evaluate tabs (issue 21, findings 4 and 7 in these tabs): a visitor opens only
their own evaluations (the owner every one), listed by name, and what comes back names no server path (notes,
commands, the downloaded results); another's job named by a hostile client is neither shown nor cancelled."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from lab.artifacts import finalize
from lab.jobs import store
from tests.security.spaces import FILTER, OTHER, OWNER, VISITOR, space_app, space_env, texts  # noqa: F401

pytestmark = FILTER


def _eval_run(home: Path, name: str, owner: str) -> str:
    """A finished evaluation in LAB_HOME/evals/NAME, made by `owner`'s job; returns the job id."""
    folder = home / "evals" / name
    (folder / "samples" / "0").mkdir(parents=True)
    command = (f"lm_eval --model hf --model_args pretrained={home}/artifacts/m --tasks t1 "
               f"--include_path {folder / 'tasks'}")
    result = {"models": [{"model": "m", "label": f"{owner or 'alice'}-model", "scores": {"t1": {"acc": 0.5}},
                          "error": "", "lm_eval_command": command}],
              "tasks": [{"name": "t1", "kind": "multiple_choice", "metric": "acc", "source": "t1.jsonl",
                         "custom": True, "yaml": str(folder / "tasks" / "t1.yaml")}], "out": str(folder)}
    (folder / "results.json").write_text(json.dumps(result))
    (folder / "samples" / "0" / "t1.json").write_text(json.dumps([{"id": 0, "question": "q", "target": "a",
                                                                   "answer": "a", "correct": True}]))
    job = store.create("eval", "lab.eval.worker:run", True, "models: [m]\n", f"eval of {owner}", artifact_dir=folder,
                       owner=owner)
    with store.connect(immediate=True) as con:
        store.set_state(con, job.id, "running", started=1.0)
        store.set_state(con, job.id, "succeeded", finished=2.0, progress=1.0)
    return job.id


def _queued(kind: str, owner: str) -> str:
    """A job that stays queued (it waits for a token no process holds)."""
    return store.create(kind, f"lab.{kind}.worker:run", True, "x: 1\n", f"{kind} of {owner}", needs_token=True,
                        owner=owner).id


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    root = tmp_path_factory.mktemp("jobs")
    with space_app(root) as s:
        yield s


def test_a_visitor_opens_polls_and_cancels_only_their_own_runs(space):
    home = space.home
    bob_run, carol_run = _eval_run(home, "eval-bob", VISITOR), _eval_run(home, "eval-carol", OTHER)
    assert bob_run and carol_run
    listed, failed = space.event("lab.ui.eval_events", "refresh", user=VISITOR, session="bob-page")
    assert not failed and "eval-bob" in texts(listed) and "eval-carol" not in texts(listed)
    assert str(home) not in texts(listed)
    assert "eval-carol" in texts(space.event("lab.ui.eval_events", "refresh", user=OWNER)[0])

    shown, failed = space.event("lab.ui.eval_events", "show", {0: "eval-bob"}, user=VISITOR, session="bob-page")
    assert not failed and "bob-model" in texts(shown), shown
    assert str(home) not in texts(shown[:5] + [shown[6]] + shown[8:])
    downloaded = json.loads(Path(shown[8]["path"]).read_text()) if isinstance(shown[8], dict) else {}
    assert downloaded and str(home) not in json.dumps(downloaded)
    for name in ("eval-carol", str(home / "evals" / "eval-carol"), "../evals/eval-carol", "eval-nope"):
        other, failed = space.event("lab.ui.eval_events", "show", {0: name}, user=VISITOR, session="bob-page")
        assert "carol-model" not in texts(other) and "alice-model" not in texts(other), name  # refused or empty

    for kind, module in (("merge", "lab.ui.merge_tab"), ("eval", "lab.ui.eval_events"),
                         ("extract.lora", "lab.ui.merge_extract")):
        carols = _queued(kind, OTHER)  # a hostile client names another's job where the page keeps its own
        polled, _ = space.event(module, "tick", {0: carols}, user=VISITOR)
        answer, _ = space.event(module, "cancel", {0: carols}, user=VISITOR)
        assert f"of {OTHER}" not in texts([polled, answer]) and store.get_job(carols).state == "queued"


def _load(space, panel_box: str | None, user: str | None, query: str = "", module: str = "lab.ui.follow",
          name: str = "load", everything: bool = False):
    """The page-load handler of the panel whose job field is `panel_box` (an elem_id), called as a page at
    ?QUERY sends it (the browser's client puts the page's query string on the queue call); returns its outputs
    (everything: all the messages of a streamed answer, as text)."""
    index = next(i for i, fn in space.demo.fns.items()
                 if getattr(getattr(fn.fn, "__wrapped__", fn.fn), "__name__", "") == name
                 and getattr(fn.fn, "__module__", "") == module
                 and any(getattr(c, "elem_id", None) == panel_box for c in fn.outputs))
    session, seen = f"follow-{index}-{user or 'anon'}-{query}", []
    with httpx.Client(base_url=space.url, timeout=60, headers=space.headers(user)) as http:
        http.post(f"gradio_api/queue/join?{query}", json={"data": [], "fn_index": index, "session_hash": session,
                                                          "event_data": None, "trigger_id": None}).raise_for_status()
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                msg = json.loads(line[5:]) if line.startswith("data:") else {}
                seen.append(line)
                if msg.get("msg") == "process_completed":
                    assert msg.get("success"), msg
                    return "\n".join(seen) if everything else msg["output"]["data"]
    raise AssertionError("no answer")


def _finished(kind: str, owner: str, state: str = "succeeded") -> str:
    job = store.create(kind, "lab.train.worker:run", True, "x: 1\n", f"{kind} of {owner}", owner=owner)
    with store.connect(immediate=True) as con:
        store.set_state(con, job.id, "running", started=1.0)
        store.set_state(con, job.id, state, finished=2.0, progress=1.0)
    return job.id


def test_a_reloaded_page_follows_the_callers_own_job_of_each_kind(space):
    """Each panel picks, on page load, the caller's queued or running job of its kind, else their last one; the
    owner's panels follow anyone's; an anonymous visitor's none of another's; ?job= of another's job is ignored
    exactly like an id that does not exist, and a shared job may be followed by its link."""
    bobs_old = _finished("train.sft", VISITOR)
    bobs_live = _queued("train.dpo", VISITOR)  # queued counts as live: it waits for its turn
    bobs_last = _finished("train.sft", VISITOR, "failed")
    carols_eval, carols_train = _queued("eval", OTHER), _finished("train.sft", OTHER)
    carols_export = _finished("export", OTHER)

    assert _load(space, "train-job", VISITOR)[0] == bobs_live  # a live job beats a newer finished one
    store.patch(bobs_live, state="cancelled")
    assert _load(space, "train-job", VISITOR)[0] == bobs_last  # nothing live: the newest
    store.patch(bobs_live, state="queued")

    for query in (f"job={carols_train}", "job=20990101-000000-nojob1"):  # another's and none: the same answer
        assert _load(space, "train-job", VISITOR, query)[0] == bobs_live
    assert carols_eval not in texts(_load(space, "eval-job", VISITOR, f"job={carols_eval}"))
    assert carols_export not in texts(_load(space, "export-job", VISITOR, f"job={carols_export}"))
    assert carols_eval not in texts(_load(space, "eval-job", None))  # an anonymous visitor: only their own session
    assert _load(space, "eval-job", OWNER)[0] == carols_eval  # the owner follows every job
    for kind, box in (("merge", "merge-job"), ("data.run", "data-job"), ("merge.evolve", "evolve-job"),
                      ("extract.lora", "extract-job")):  # every job panel, the same rule
        bobs, carols = _finished(kind, VISITOR), _queued(kind, OTHER)
        assert _load(space, box, VISITOR, f"job={carols}")[0] == bobs and _load(space, box, OWNER)[0] == carols
    bobs_evolve = _finished("merge.evolve", VISITOR)  # its link opens the Evolve config as the job had it
    store.patch(bobs_evolve, recipe=f"models: [{space.home}/artifacts/bob-a, {space.home}/artifacts/bob-b]\n"
                                    f"fitness: [{space.home}/artifacts/bob-quiz/quiz.jsonl]\npopulation: 3\n",
                artifact_dir=str(space.home / "artifacts" / "bob-evolved"))
    evolve = _load(space, "evolve-job", VISITOR, f"job={bobs_evolve}")
    assert evolve[0] == bobs_evolve and "population: 3" in texts(evolve) and "bob-b" in texts(evolve)
    assert evolve[-1] == "bob-evolved"  # and its output name
    assert str(space.home) not in texts(evolve)
    assert _load(space, "train-job", VISITOR, f"job={bobs_old}")[0] == bobs_old  # a link to an older run of theirs

    tab = ("lab.ui.follow", "select")
    opened = _load(space, None, VISITOR, f"job={bobs_old}", *tab)[0]
    assert "train" in texts(opened)  # a link opens the tab of its job's panel
    assert "evaluate" not in texts(_load(space, None, VISITOR, f"job={carols_eval}", *tab)[0])

    store.patch(carols_train, shared=1)  # the owner shared carol's run: bob may watch it by its link
    recipe = f"model: {space.home}/artifacts/carol-base\ndataset: {space.home}/artifacts/carol-rows\nmax_steps: 7\n"
    store.patch(carols_train, recipe=recipe)
    watched = _load(space, "train-job", VISITOR, f"job={carols_train}")
    assert watched[0] == carols_train and "max_steps: 7" in texts(watched)  # the form shows the run's recipe
    assert "carol-rows" in texts(watched) and str(space.home) not in texts(watched)  # by name, no server path
    refused, failed = space.event("lab.ui.jobs_tab", "open_job", {0: carols_export}, user=VISITOR)
    missing, _ = space.event("lab.ui.jobs_tab", "open_job", {0: "20990101-000000-nojob1"}, user=VISITOR)
    assert failed and refused.replace(carols_export, "ID") == missing.replace("20990101-000000-nojob1", "ID")


def test_a_followed_evaluation_refills_the_form_with_its_recipe(space):
    """A link (or a reload) to an evaluation shows its recipe in the form, by names a visitor may see; what the form
    cannot hold (a task file) is said. Another's evaluation named by a link shows nothing of its recipe."""
    home = space.home
    recipe = {"models": [f"{home}/artifacts/bob-ft", "HuggingFaceTB/SmolLM2-135M-Instruct"],
              "tasks": ["arc_easy", "bob_named_task"], "limit": 7, "num_fewshot": 2, "chat_template": "off",
              "batch_size": 4, "judge": {"model": "bob-judge"},
              "custom": [{"hub": "bob/quiz", "split": "dev", "kind": "exact_match", "regex": "answer is (\\w+)"},
                         {"path": f"{home}/uploads/ab12/bob-quiz.jsonl", "kind": "exact_match",
                          "regex": "answer is (\\w+)"}]}
    bobs = _finished("eval", VISITOR)
    store.patch(bobs, recipe=json.dumps(recipe))
    carols = _queued("eval", OTHER)
    store.patch(carols, recipe=json.dumps({**recipe, "models": ["carol-secret-model"], "limit": 99}))

    shown = _load(space, "eval-job", VISITOR, f"job={bobs}")
    form = dict(zip(["job", "timer", "models", "hub", "kind", "regex", "extract", "open", "names", "limit",
                     "fewshot", "chat", "batch"], shown))
    assert form["job"] == bobs and form["models"] == ["bob-ft", "HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert (form["hub"], form["kind"], form["regex"], form["extract"]) == ("bob/quiz:dev", "exact_match",
                                                                           "answer is (\\w+)", "regex")
    assert form["open"] == ["arc_easy"] and form["names"] == "bob_named_task"
    assert (form["limit"], form["fewshot"], form["chat"], form["batch"]) == ("7", "2", "off", 4)
    assert "bob-judge" in shown and "task file bob-quiz.jsonl (upload it again)" in shown[-1]
    assert str(home) not in texts(shown)

    linked = _load(space, "eval-job", VISITOR, f"job={carols}")  # another's: bob's own last run, as if no link
    assert linked[0] == bobs and "carol-secret-model" not in texts(linked) and "99" not in linked
    owners = _load(space, "eval-job", OWNER, f"job={carols}")
    assert owners[0] == carols and owners[2] == ["carol-secret-model"]


def test_evolve_refuses_a_taken_output_name_before_reading_its_config(space):
    taken = space.home / "artifacts" / "bob-taken"
    taken.mkdir(parents=True)
    (taken / "keep.txt").write_text("bob's")
    before = [j.id for j in store.list_jobs(limit=5000) if j.kind == "merge.evolve"]
    answer, failed = space.event("lab.ui.merge_evolve", "start", {0: "models: [only-one]\n", 1: "bob-taken"},
                                 user=VISITOR)
    assert failed and "output name: An artifact named 'bob-taken' already exists" in answer
    assert "Choose another name" in answer and str(space.home) not in answer
    assert (taken / "keep.txt").read_text() == "bob's" and sorted(p.name for p in taken.iterdir()) == ["keep.txt"]
    answer, failed = space.event("lab.ui.merge_evolve", "start", {0: "models: [only-one]\n", 1: "bob-fresh"},
                                 user=VISITOR)  # a free name: the config is read, and refused; the name stays free
    assert failed and "output name" not in answer and "models" in answer
    assert not (space.home / "artifacts" / "bob-fresh").exists()
    assert [j.id for j in store.list_jobs(limit=5000) if j.kind == "merge.evolve"] == before


def test_the_evolve_plot_counts_whole_generations(space):
    """The plot's generation axis is one label per generation (text), in order past 9, never 0.5 or 1.5."""
    bobs = _finished("merge.evolve", VISITOR)
    folder = space.home / "artifacts" / "bob-evolve-plot"
    folder.mkdir(parents=True)
    rows = [{"step": g, "best": 0.5 + g / 100, "mean": 0.4} for g in range(12)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    store.patch(bobs, artifact_dir=str(folder))
    (_, _, plot, _, _), failed = space.event("lab.ui.merge_evolve", "tick", {0: bobs}, user=VISITOR)
    assert not failed and plot["datatypes"]["generation"] == "nominal"  # a label per value, not a numeric axis
    at = plot["columns"].index("generation")
    labels = [row[at] for row in plot["data"]]
    assert [int(x) for x in labels] == [g for g in range(12) for _ in ("best", "mean")]
    assert labels == sorted(labels)  # the text order (the plot's) is the generations' order


def test_the_tour_panel_follows_only_the_callers_own_tour(space):
    def tour(owner: str, marker: str) -> str:
        job = store.create("tour", "lab.tour.jobs:run", False, "{}", "The tour", owner=owner)
        job.folder.mkdir(parents=True, exist_ok=True)
        event = {"stage": "data", "state": "done", "message": marker, "progress": 0.2}
        (job.folder / "events.jsonl").write_text(json.dumps(event) + "\n")
        with store.connect(immediate=True) as con:
            store.set_state(con, job.id, "running", started=1.0)
            store.set_state(con, job.id, "cancelled", finished=2.0)
        return job.id

    tour(VISITOR, "bob-tour-stage")
    carols = tour(OTHER, "carol-tour-stage")
    follow_tour = ("lab.ui.tour_panel", "_follow_on_load", True)
    shown = _load(space, "lab-tour-stages", VISITOR, "", *follow_tour)
    assert "bob-tour-stage" in shown and "carol-tour-stage" not in shown
    linked = _load(space, "lab-tour-stages", VISITOR, f"job={carols}", *follow_tour)
    assert "bob-tour-stage" in linked and "carol-tour-stage" not in linked  # another's link: as if none
    assert "tour-stage" not in _load(space, "lab-tour-stages", None, "", *follow_tour)


def _train_run(home: Path, name: str, owner: str) -> str:
    """A finished training run of `owner` (its job record and its folder's curve); returns the job id."""
    folder = home / "artifacts" / name
    folder.mkdir(parents=True)
    rows = [{"step": s, "loss": 2.0 / s, "lr": 1e-3} for s in (1, 2)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = f"model: {home}/artifacts/base-of-{owner}\ndataset: d\nlearning_rate: 0.001\nmethod:\n  name: sft\n"
    job = store.create("train.sft", "lab.train.worker:run", True, recipe, f"run of {owner}", artifact_dir=folder,
                       owner=owner)
    with store.connect(immediate=True) as con:
        store.set_state(con, job.id, "running", started=1.0)
        store.set_state(con, job.id, "succeeded", finished=2.0, progress=1.0)
    return job.id


def test_the_experiments_view_shows_a_visitor_only_their_own_runs(space):
    bobs, carols = _train_run(space.home, "run-bob", VISITOR), _train_run(space.home, "run-carol", OTHER)
    listed, failed = space.event("lab.ui.experiments_tab", "refreshed", user=VISITOR, session="bob-exp")
    assert not failed and bobs in texts(listed) and carols not in texts(listed) and "run-carol" not in texts(listed)
    assert str(space.home) not in texts(listed)
    listed, _ = space.event("lab.ui.experiments_tab", "refreshed", user=None, session="anon-exp")
    assert bobs not in texts(listed) and carols not in texts(listed)
    assert {bobs, carols} <= set(texts(space.event("lab.ui.experiments_tab", "refreshed", user=OWNER)[0]).split())
    answer, failed = space.event("lab.ui.experiments_tab", "compared", {0: [bobs, carols]}, user=VISITOR)
    unknown, _ = space.event("lab.ui.experiments_tab", "compared", {0: [bobs, "no-such-run"]}, user=VISITOR)
    assert failed and "run-carol" not in texts(answer) and answer.replace(carols, "X") == unknown.replace(
        "no-such-run", "X")
    drawn, failed = space.event("lab.ui.experiments_tab", "compared", {0: [bobs, carols]}, user=OWNER)
    assert not failed and "run-bob" in texts(drawn) and "run-carol" in texts(drawn)
    cloned, failed = space.event("lab.ui.runs_clone", "receive", {0: carols}, user=VISITOR)  # a hostile client
    assert failed and "base-of-carol" not in texts(cloned) and "No training run" in cloned
    cloned, failed = space.event("lab.ui.runs_clone", "receive", {0: bobs}, user=VISITOR)
    assert not failed and "base-of-bob" in texts(cloned) and str(space.home) not in texts(cloned)


def test_the_trackio_dashboard_is_the_owners_only(space):
    for user in (None, VISITOR):
        answer = httpx.get(f"{space.url}trackio/version", headers=space.headers(user), timeout=60)
        assert answer.status_code == 404 and "trackio" not in answer.text, user
    owners = httpx.get(f"{space.url}trackio/version", headers=space.headers(OWNER), timeout=120)
    assert owners.status_code == 200 and owners.json()["version"]


def _model_artifact(home: Path, name: str, owner: str) -> Path:
    """A model artifact of `owner` (its config and manifest: the refusals come before any weight is read)."""
    folder = home / "artifacts" / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    finalize(folder, "model", [], step="sft", owner=owner)
    return folder


def test_a_visitor_extracts_only_from_their_own_models_and_task_files(space):
    home = space.home
    _model_artifact(home, "bob-ft", VISITOR), _model_artifact(home, "bob-base", VISITOR)
    carols = _model_artifact(home, "carol-ft", OTHER)

    def check(model: str, base: str = "bob-base", task: str = "", user: str | None = VISITOR):
        return space.event("lab.ui.merge_extract", "check", {0: model, 1: base, 5: task}, user=user)

    missing, failed = check("nobody-ft")
    assert failed and str(home) not in missing
    for ref in ("carol-ft", str(carols), "../artifacts/carol-ft", "/etc"):  # another's, or the server's: as if none
        answer, failed = check(ref)
        assert failed and answer.replace(ref, "X") == missing.replace("nobody-ft", "X"), ref
    answer, failed = check("bob-ft", task=str(home / "jobs.sqlite"))  # a server file as the task
    assert failed and "eval_task" in answer and str(home) not in answer
    answer, failed = check("bob-ft", "carol-ft")
    assert failed and "base" in answer
    answer, failed = check("bob-ft", user=None)
    assert failed and "signed in" in answer
    assert not list((home / "artifacts").glob("*-lora-*"))
