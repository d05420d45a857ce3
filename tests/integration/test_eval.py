"""Evaluate on the real bundled model through real lm-eval: the lab's scores equal lm-eval's own on the same task YAML,
downloaded and run from another folder (lm-eval loading the model itself, adapters through its own PEFT path);
adapters share the loaded base; a broken model fails its row only; re-runs come from the cache; scores land in the
artifact's card; an open task served by the fake Hub and a judged task run as an `eval` job."""
import contextlib
import io
import json
import shutil
import zipfile

import pytest

from lab.artifacts import finalize, read_manifest
from lab.eval.flow import evaluate_and_record
from lab.eval.recipe import EvalRecipe
from tests.eval_support import ARC_ROWS, MC_ROWS, SECRET_REGEX, SECRET_ROWS, JudgeHandler, seed_arc_easy, \
    start_judge, write_jsonl

pytestmark = pytest.mark.slow


def _lm_eval_direct(tasks_dir, names, model_args, cwd):
    """What `lm_eval --model hf --model_args … --include_path TASKS_DIR --apply_chat_template` computes, in-process,
    run from `cwd`."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    with contextlib.chdir(cwd):
        out = simple_evaluate(model="hf", model_args=model_args, tasks=names, batch_size=8, device="cpu",
                              task_manager=TaskManager(include_path=str(tasks_dir), include_defaults=False),
                              apply_chat_template=True, fewshot_as_multiturn=True)
    return out["results"]


def test_scores_equal_lm_eval_adapters_share_the_base_and_a_broken_model_fails_alone(tmp_path, bundled_model,
                                                                                      lora_adapter, capsys):
    from lab.chat.registry import get_registry

    get_registry().clear()
    adapter = tmp_path / "labhome" / "artifacts" / "secret-adapter"  # a lab artifact: its card gets the scores
    shutil.copytree(lora_adapter, adapter)
    finalize(adapter, "adapter", [{"ref": "HuggingFaceTB/SmolLM2-135M-Instruct", "kind": "model"}], step="sft")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    quiz, secret = write_jsonl(tmp_path / "quiz.jsonl", MC_ROWS), write_jsonl(tmp_path / "secret.jsonl", SECRET_ROWS)
    recipe = EvalRecipe.parse({"models": [str(bundled_model), f"{bundled_model}+{adapter}", str(broken)],
                               "tasks": [str(quiz)], "custom": [{"path": str(secret), "regex": SECRET_REGEX}]})
    moves = []
    result = evaluate_and_record(recipe, tmp_path / "out", log=lambda m: None,
                                 progress=lambda f, m="": moves.append((f, m)))
    base, tuned, bad = result["models"]
    by_request = [m for _, m in moves if "loglikelihood requests" in m]  # the bar moves request by request
    done, total = by_request[-1].rsplit(" ", 1)[1].split("/")
    assert len(by_request) > 3 and done == total  # every request counted
    assert any("generate_until requests" in m for _, m in moves)
    assert [f for f, _ in moves] == sorted(f for f, _ in moves)
    assert "safetensors" in bad["error"] and not base["error"] and not tuned["error"]
    loaded = get_registry().loaded()
    assert len(loaded) == 1 and loaded[0]["adapters"] == [adapter.name]  # one base in memory, adapter on top

    from lab.eval.board import bundle

    with zipfile.ZipFile(bundle(tmp_path / "out", tmp_path)) as z:  # the tasks as downloaded, unpacked elsewhere
        z.extractall(tmp_path / "unpacked")
    tasks_dir, elsewhere = tmp_path / "unpacked" / "tasks", tmp_path / "elsewhere"
    assert "--include_path tasks" in (tasks_dir / "README.txt").read_text()
    elsewhere.mkdir()  # lm_eval runs from a folder without the data: each YAML finds its data next to itself
    for row, args in ((base, f"pretrained={bundled_model},dtype=float32"),
                      (tuned, f"pretrained={bundled_model},dtype=float32,peft={adapter}")):
        direct = _lm_eval_direct(tasks_dir, ["quiz", "secret"], args, elsewhere)
        assert row["scores"]["quiz"]["acc"] == pytest.approx(direct["quiz"]["acc,none"], abs=1e-6)
        assert row["scores"]["quiz"]["acc_stderr"] == pytest.approx(direct["quiz"]["acc_stderr,none"], abs=1e-6)
        assert row["scores"]["secret"]["exact_match"] == pytest.approx(direct["secret"]["exact_match,extract"],
                                                                      abs=1e-6)
    from lab.eval.report import samples

    _, items = samples(tmp_path / "out", result, "secret")  # the sample viewer: the adapter knows the word
    assert items[0][2] == "pineapple" and items[0][3].startswith("✗") and items[0][4] == "✓ pineapple"

    manifest = read_manifest(adapter)  # the adapter's lineage record and card carry its scores and the base's
    ev = {e["task"]: e for e in manifest["evaluations"]}
    assert ev["secret"]["value"] == tuned["scores"]["secret"]["exact_match"]
    assert ev["secret"]["base"]["value"] == base["scores"]["secret"]["exact_match"]
    assert "model-index:" in (adapter / "README.md").read_text()

    from lab.__main__ import main  # the CLI, on the same models and tasks: everything from the cache
    get_registry().clear()
    code = main(["eval", "--model", str(bundled_model), "--model", f"{bundled_model}+{adapter}", "--task", str(quiz),
                 "--task", str(secret), "--regex", SECRET_REGEX, "--out", str(tmp_path / "again")])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and printed["out"] == str(tmp_path / "again")
    assert [m["scores"] for m in printed["models"]] == [base["scores"], tuned["scores"]]
    assert get_registry().loaded() == []  # no model was loaded: every result came from the cache


def test_an_open_task_from_the_hub_and_a_judged_task_run_as_a_job(tmp_path, bundled_model, fake_hub):
    from lab import eval as lab_eval
    from lab.eval.report import leaderboard, load, samples
    from lab.jobs.manager import wait

    seed_arc_easy(fake_hub)
    quiz = "".join(json.dumps(r) + "\n" for r in MC_ROWS).encode()
    fake_hub.seed("acme/quiz", files={"data/test.jsonl": quiz}, repo_type="dataset")  # a custom task on the Hub
    server, url = start_judge()
    try:
        JudgeHandler.down = True  # the judge is unreachable: the job still finishes and counts what went unscored
        judged = write_jsonl(tmp_path / "open.jsonl", [{"prompt": "What is the capital of France?"},
                                                       {"prompt": "Say hello."}])
        recipe = {"models": [str(bundled_model)], "tasks": ["arc_easy", "acme/quiz:test"],
                  "custom": [{"path": str(judged), "max_gen_toks": 12}],
                  "judge": {"backend": "openai", "endpoint": url, "model": "judge", "retries": 1, "backoff_s": 0}}
        job = wait(lab_eval.submit(recipe).id, timeout=900)
        assert job.state == "succeeded", job.error
        result = load(job.folder)
        scores = result["models"][0]["scores"]
        assert set(scores["arc_easy"]) >= {"acc", "acc_norm", "acc_stderr"} and "acc" in scores["quiz"]
        assert result["models"][0]["unscored"] == {"open": 2}
        assert "2 item(s) unscored" in job.message
        headers, rows = samples(job.folder, result, "arc_easy")
        assert [r[2] for r in rows] == [c[["A", "B", "C"].index(k)] for _, c, k in ARC_ROWS]  # targets
        assert leaderboard(result)[1][0][0] == result["models"][0]["label"]

        JudgeHandler.down = False  # unscored items were not cached: the re-run asks the judge again
        again = evaluate_and_record(EvalRecipe.parse(recipe), tmp_path / "again", log=lambda m: None)
        assert sorted(again["models"][0]["cached"]) == ["arc_easy", "quiz"]
        assert JudgeHandler.calls > 0 and again["models"][0]["unscored"] == {}
        assert 1 <= again["models"][0]["scores"]["open"]["score"] <= 10
    finally:
        server.shutdown()


@pytest.fixture(autouse=True)
def one_thread():
    """On a shared 2-core box, spinning OpenMP threads stall every op once torch is imported (the lab's own entry
    points set OMP_WAIT_POLICY=PASSIVE first; inside pytest it is too late for that)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
