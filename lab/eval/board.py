"""What the Evaluate tab needs from the core: the recipe from its form, the open-benchmark switch, a job's status,
past runs, and the custom tasks as a zip that runs with `lm_eval` alone. No gradio here."""
from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from lab import eval as lab_eval
from lab.data.load import store_upload
from lab.errors import LabError
from lab.eval.access import check_for
from lab.eval.catalog import OFFLINE_REASON
from lab.eval.custom import LOADER, LOADER_YAML
from lab.eval.recipe import EvalRecipe
from lab.jobs import get_job
from lab.jobs.manager import check_allowed
from lab.jobs.owners import job_for
from lab.models.usable import artifact_value
from lab.settings import get_settings, is_offline
from lab.shown import for_visitor, scrub, scrub_value


def open_benchmarks() -> tuple[bool, str]:
    """(usable, why not): open benchmarks need the Hub."""
    return (False, OFFLINE_REASON) if is_offline() else (True, "")


def recipe_from_form(models, files, hub: str, kind: str, regex: str, extract: str, open_tasks, names: str, limit,
                     fewshot, chat: str, batch, judge: dict, owner: str = "") -> EvalRecipe:
    """The form's values as a validated recipe; uploads are copied into LAB_HOME first (the job reads them), noted
    as `owner`'s (a lab.access key). `extract` is exact match's "find the answer" (a regex alone extracts too)."""
    extract = extract or "whole"
    regex = (regex or "") if extract in ("whole", "regex") else ""
    found = {"kind": kind or "auto", "regex": regex, "extract": extract}
    custom = [{"path": str(store_upload(f, owner)), **found} for f in (files or [])]
    for hub_id in [h.strip() for h in (hub or "").split(",") if h.strip()]:
        repo, _, split = hub_id.partition(":")
        custom.append({"hub": repo, "split": split or "test", **found})
    tasks = list(open_tasks or []) + [n.strip() for n in (names or "").replace("\n", ",").split(",") if n.strip()]
    data = {"models": [m for m in (models or []) if m], "tasks": tasks, "custom": custom,
            "limit": _whole(limit, "limit"), "num_fewshot": _whole(fewshot, "num_fewshot"),
            "chat_template": chat or "auto", "batch_size": int(batch or 8),
            "judge": {k: v for k, v in (judge or {}).items() if v not in (None, "")}}
    if not data["models"]:
        raise LabError("No model picked.", "Pick 1 to 6 models; the first is the base.", "models")
    return EvalRecipe.parse(data)


def downloads(out) -> tuple[str | None, str]:
    """(tasks.zip or None, results.json), copied to a fresh temporary folder: the app never serves LAB_HOME."""
    dest = Path(tempfile.mkdtemp(prefix="lab-eval-"))
    if get_settings().on_space:  # a Space's visitor downloads the results without the server's paths in them
        data = scrub_value(json.loads((Path(out) / "results.json").read_text()))
        (dest / "results.json").write_text(json.dumps(data, indent=2))
        results = dest / "results.json"
    else:
        results = shutil.copy(Path(out) / "results.json", dest / "results.json")
    try:
        return str(bundle(out, dest)), str(results)
    except LabError:
        return None, str(results)


def _whole(text, field: str) -> int | None:
    """An optional whole number typed in a box (empty: None)."""
    text = str(text if text is not None else "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise LabError(f"{text!r} is not a whole number.", f"Type a number of items, or leave {field} empty.", field)
    return int(text)


def start(caller, recipe: EvalRecipe, judge_key: str = ""):
    """Queue `caller`'s evaluation: every model (and a local judge) checked for them, an environment variable named
    by the owner only, the recipe checked as the job will run it; the key they typed reaches only this job's
    worker (LAB_JUDGE_API_KEY), never the recipe or the job record. Refused on the public demo first."""
    check_allowed("eval")
    caller.require_signed_in("Starting an evaluation")
    check_for(caller, recipe)
    return lab_eval.submit(recipe, token=caller.hub_token(), caller=caller, judge_key=(judge_key or "").strip())


def status(job_id: str, caller=None) -> dict:
    """A job as the tab shows it; with `caller`, only a job they may see, its results by the name they may send
    back, and its message and error without server paths."""
    job = get_job(job_id) if caller is None else job_for(caller, job_id)
    done = job.state == "succeeded" and (job.folder / "results.json").is_file()
    if caller is None:
        return {"state": job.state, "progress": job.progress, "message": job.message, "error": job.error,
                "final": job.final, "out": str(job.folder) if done else ""}
    return {"state": job.state, "progress": job.progress, "message": scrub(job.message or ""),
            "error": for_visitor(job.error) if job.error else job.error, "final": job.final,
            "out": artifact_value(caller, job.folder) if done else ""}


RUN_README = """These lm-eval tasks were made by the lab from your files. Run them with lm-evaluation-harness alone,
from the folder this zip was unpacked into (or from anywhere, with this folder's path after --include_path):

    {commands}

The lab ran exactly these YAML and data files; with the same settings the scores are the same. Each YAML reads its
data next to itself through lab_task_data.py, so it runs from any working directory.
Judged tasks (metric `score`) generate the answers here; the lab's judge scores them.
"""
INCLUDE_RE = re.compile(r"--include_path ('[^']*'|\S+)")


def bundle(out, dest) -> Path:
    """tasks.zip in `dest`: every custom task's YAML and data, and the lm_eval commands."""
    out = Path(out)
    tasks = out / "tasks"
    names = (LOADER, LOADER_YAML)
    files = sorted(p for p in tasks.glob("*") if p.suffix in (".yaml", ".jsonl") or p.name in names) \
        if tasks.is_dir() else []
    if not files:
        raise LabError("This evaluation has no custom tasks to download.", "Add a task file and run it.", "tasks")
    result = json.loads((out / "results.json").read_text())

    commands = [scrub(INCLUDE_RE.sub("--include_path tasks", m["lm_eval_command"].split(" && ", 1)[-1]))
                for m in result["models"] if m.get("lm_eval_command")]
    path = Path(dest) / "tasks.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            z.write(f, f"tasks/{f.name}")
        z.writestr("tasks/README.txt", RUN_README.format(commands="\n    ".join(commands)))
    return path
