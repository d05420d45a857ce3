"""Experiments and Train tabs in a real browser, over two processes: the walk's run is cloned from the Experiments
tab into the Train tab and started again at another learning rate as a DDP run on CPU (gloo) with report_to trackio.
It draws its live curves (from rank 0), is cancelled (both ranks save and stop, none outlives the job) and resumed
from the buttons, and runs to its end. trackio's own store then holds the run's curves and the lab's config, the
owner's /trackio dashboard answers with the run, and the Experiments tab overlays the two runs (one named line
each) with the settings that differ."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil

from lab.jobs.watchdog import tree
from lab.train.distributed import GROUP, JOB_ENV
from tests.browser.conftest import open_tab, pick
from tests.browser.test_2_train import SHORT_RUN, _set
from tests.ui.conftest import ROOT

STEPS = 10  # enough that a cancel sent on the first drawn point lands mid-run (a step takes ~0.5 s on 2 cores)
DDP_RUN = {"max_steps": STEPS, "max_seq_length": 48, "batch_size": 1, "num_processes": 2}


def _job(lab, job_id: str) -> dict:
    with sqlite3.connect(lab.home / "jobs.db") as con:
        con.row_factory = sqlite3.Row
        return dict(con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())


def _rank_procs(job_id: str) -> list:
    """The processes running a rank of this job (they carry its id in their environment)."""
    found = []
    for p in psutil.process_iter():
        try:
            env = p.environ()
        except psutil.Error:
            continue
        if env.get(JOB_ENV) == job_id and "RANK" in env:
            found.append(p)
    return found


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, what
        time.sleep(0.3)


def _metric_steps(folder: Path) -> list[int]:
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if "loss" in r]


READ_TRACKIO = """import json, sys, trackio
from trackio.sqlite_storage import SQLiteStorage
run = {r.name: r for r in trackio.Api().runs("lab")}[sys.argv[1]]
print(json.dumps({"config": run.config, "logs": SQLiteStorage.get_logs("lab", sys.argv[1])}, default=str))"""


def _trackio_record(lab, run: str) -> dict:
    """The run as trackio's own API reads it back from the lab's store (LAB_HOME/trackio), in a fresh process:
    trackio reads its folder once, on import."""
    env = {**os.environ, "TRACKIO_DIR": str(lab.home / "trackio")}
    done = subprocess.run([sys.executable, "-c", READ_TRACKIO, run], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _short_run(page, dataset_name: str) -> None:
    """The Train walk's run, when this file runs alone."""
    open_tab(page, "Train")
    pick(page, "Dataset artifacts", dataset_name)
    for name, value in SHORT_RUN.items():
        _set(page, name, value)
    page.get_by_text("max_seq_length: 64").wait_for()
    page.get_by_role("button", name="Start training").click()
    page.locator("#train-status").get_by_text("succeeded").wait_for(timeout=300_000)


def _choose(page, picker: str, run_id: str) -> None:
    """Type a run's id into a picker and take it (its options are named `name · method · id`; what follows checks
    that it was taken)."""
    box = page.get_by_role("combobox", name=picker)
    box.fill(run_id)
    box.press("Enter")


def _fresh_page(page, lab):
    """Another page on the app in the same browser context, watched for page errors like the fixture's."""
    fresh = page.context.new_page()
    fresh.set_default_timeout(30_000)
    fresh.lab_problems = []
    fresh.on("pageerror", lambda exc: fresh.lab_problems.append(f"page error: {exc}"))
    fresh.goto(lab.url)
    fresh.get_by_text("Hardware:").wait_for(timeout=60_000)
    return fresh


def _runs(lab) -> dict[str, str]:
    """Finished training jobs of the app: job id -> the run's folder name (its name in the legend)."""
    with sqlite3.connect(lab.home / "jobs.db") as con:
        rows = con.execute("SELECT id, artifact_dir FROM jobs WHERE kind LIKE 'train.%' AND kind != 'train.lr_find' "
                           "AND state = 'succeeded' ORDER BY created").fetchall()
    return {job_id: Path(folder).name for job_id, folder in rows}


def test_clone_into_a_two_process_run_cancel_resume_trackio_and_overlay(page, lab, dataset_artifact):
    if not _runs(lab):  # run alone: the walk's run first, on its own page (it never leaves the Train tab)
        alone = _fresh_page(page, lab)
        _short_run(alone, dataset_artifact.name)
        alone.close()
    first = next(iter(_runs(lab)))
    open_tab(page, "Experiments")
    page.get_by_text(first).filter(visible=True).first.wait_for()  # the run is listed with its results
    _choose(page, "Run to clone", first)
    page.get_by_role("button", name="Clone into the Train tab").click()
    page.get_by_role("tab", name="Train", exact=True, selected=True).wait_for()
    page.get_by_text(f"Cloned from run {first}").wait_for()  # the form holds that run's recipe
    _set(page, "learning_rate", "0.0005")
    page.get_by_text("learning_rate: 0.0005").wait_for()
    page.get_by_text(GROUP).click()  # the accordion of processes and strategy (offered on a CPU of 2+ cores)
    page.get_by_text("Saving, Hub and tracking").click()
    for name, value in DDP_RUN.items():
        _set(page, name, value)
    page.locator("#train-distributed").get_by_role("radio", name="ddp", exact=True).check()
    page.locator("#train-report_to").get_by_role("radio", name="trackio", exact=True).check()
    for line in ("num_processes: 2", "distributed: ddp", "report_to: trackio", f"max_steps: {STEPS}"):
        page.get_by_text(line).wait_for()  # the recipe YAML follows the form

    page.get_by_role("button", name="Start training").click()
    status = page.locator("#train-status")
    status.get_by_text("running").wait_for(timeout=60_000)
    job = page.locator("#train-job").get_by_role("textbox").input_value()
    page.locator("#train-loss g.mark-line path").first.wait_for(timeout=300_000)  # rank 0's live curve
    ranks = _rank_procs(job)
    watched = {p.pid for p in tree(_job(lab, job)["pid"])}
    assert sorted(p.environ()["RANK"] for p in ranks) == ["0", "1"]
    assert {p.pid for p in ranks} <= watched  # both ranks are in the job's process tree, under its watchdog

    page.get_by_role("button", name="Cancel").click()
    status.get_by_text("cancelled").wait_for(timeout=300_000)
    folder = Path(_job(lab, job)["artifact_dir"])
    _wait_for(lambda: not _rank_procs(job), 120, "a rank outlived the cancelled job")
    cancelled_at = _metric_steps(folder)[-1]
    assert 1 <= cancelled_at < STEPS, cancelled_at  # stopped mid-run
    assert (folder / "checkpoints" / f"checkpoint-{cancelled_at}" / "trainer_state.json").is_file()

    page.get_by_role("button", name="Resume").click()
    status.get_by_text("succeeded").wait_for(timeout=300_000)
    assert _metric_steps(folder) == list(range(1, STEPS + 1))  # rank 0 alone wrote them, once each
    log = (lab.home / "logs" / f"{job}.log").read_text()
    assert "Launching 2 processes (ddp, CPU over gloo)." in log and "trackio: logging locally" in log
    assert f"Cancelled at step {cancelled_at}; checkpoint saved." in log
    assert f"Resumed at step {cancelled_at} of {STEPS}." in log
    assert (folder / "adapter_model.safetensors").is_file()
    assert sorted(json.loads((folder / ".ranks" / f"rank-{r}.json").read_text())["rank"] for r in (0, 1)) == [0, 1]
    page.wait_for_function("n => document.querySelectorAll('#train-loss g.mark-symbol.role-mark path').length === n",
                           arg=STEPS)  # the whole curve drawn, one point per step
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    # tokens/s counts both ranks' tokens: one rank's batch of one row holds at most max_seq_length tokens
    assert max(r.get("tokens", 0) for r in rows) > DDP_RUN["max_seq_length"]

    record = _trackio_record(lab, folder.name)  # the run trackio logged is named after the artifact folder
    config, logs = record["config"], record["logs"]
    assert config["lab/recipe"]["num_processes"] == 2 and config["lab/recipe"]["distributed"] == "ddp"
    assert config["lab/recipe"]["report_to"] == "trackio" and config["lab/recipe"]["max_steps"] == STEPS
    assert config["lab/hardware"]["cpu_count"] >= 2
    assert config["lab/memory"]["estimate_gb"] > 0 and config["lab/memory"]["peak_gb"] > 0
    assert config["lab/card"] == f"{folder.name}/README.md" and (folder / "README.md").is_file()
    assert config["lab/result"]["steps"] == STEPS and config["lab/result"]["tokens_per_s"] > 0
    trained = [row for row in logs if "train/loss" in row]
    assert all(row["step"] == row["train/global_step"] for row in trained)  # the dashboard's steps are the run's
    losses = {row["step"]: row["train/loss"] for row in trained}
    assert sorted(losses) == list(range(1, STEPS + 1))  # the cancelled part and the resumed part, one run
    ours = {r["step"]: r["loss"] for r in rows if "loss" in r}
    assert all(abs(losses[s] - ours[s]) <= 1e-4 * max(1.0, abs(ours[s])) for s in ours)

    dashboard = page.context.new_page()  # the owner's trackio dashboard, served by the lab under /trackio
    answer = dashboard.goto(f"{lab.url}trackio/")
    assert answer.status == 200 and "trackio" in dashboard.content().lower()
    runs = dashboard.request.post(f"{lab.url}trackio/api/get_runs_for_project", data={"project": "lab"})
    assert runs.status == 200 and folder.name in {r["name"] for r in runs.json()["data"]}
    dashboard.close()

    second = _runs(lab)[job]  # the comparison, on a fresh page (see _fresh_page)
    page = _fresh_page(page, lab)
    open_tab(page, "Experiments")
    page.get_by_role("button", name="Refresh").click()
    for run in (first, job):
        _choose(page, "Runs to compare (2–6)", run)
    page.get_by_role("button", name="Compare").click()
    loss = page.locator("#experiments-loss")
    loss.locator("g.mark-line path").nth(1).wait_for()  # two lines
    legend = [t.rstrip("…") for t in loss.locator("g.role-legend-label text").all_text_contents()]
    assert len(legend) == 2  # one entry per run, named after it (a long name is cut short with an ellipsis)
    for name in (_runs(lab)[first], second):
        assert sum(name.startswith(t) for t in legend) == 1, (name, legend)
    differ = page.locator("#experiments-differ")
    for setting in ("learning_rate", "num_processes"):
        differ.get_by_text(setting).filter(visible=True).first.wait_for()
    lab.shoot(page, "experiments", focus=page.get_by_role("button", name="Compare"))
    assert not page.lab_problems, page.lab_problems
