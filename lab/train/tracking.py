"""Experiment trackers a run also reports to (recipe field report_to): trackio locally by default.

trackio keeps its records in LAB_HOME/trackio (never the home folder), one project `lab`, one run per artifact
folder. transformers' TrackioCallback logs the curves; `record` adds what only the lab knows at the end (recipe,
hardware, memory estimate against the measured peak, eval scores, the card) as the run's config. A trackio Space
named in the recipe is used only when it answers; otherwise the run logs locally and the log says so.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from lab.artifacts import read_manifest
from lab.hardware import get_hardware
from lab.hub.client import api
from lab.settings import get_settings, is_offline

PROJECT = "lab"


def trackio_dir() -> Path:
    """Where trackio writes (TRACKIO_DIR when the user set one, else LAB_HOME/trackio)."""
    return Path(os.environ.get("TRACKIO_DIR") or get_settings().home / "trackio")


def use_lab_dir() -> Path:
    """Point trackio at the lab's folder; must run before trackio is first imported (it reads the path then)."""
    folder = trackio_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TRACKIO_DIR"] = str(folder)
    return folder


def training_args(recipe, out: Path) -> dict:
    """TrainingArguments for the chosen tracker: the run named after its artifact folder; never a Hub sync that
    the user did not ask for (trackio's static-Space snapshot is off)."""
    if recipe.report_to != "trackio":
        return {}
    return {"project": PROJECT, "run_name": Path(out).parent.name, "trackio_static_space_id": False}


def prepare(recipe, token: str | None, log) -> str | None:
    """Before training: trackio's folder, and the Space to log to when one is named and answers (None: local)."""
    if recipe.report_to != "trackio":
        return None
    folder = use_lab_dir()
    os.environ.pop("TRACKIO_SPACE_ID", None)  # only the recipe names a Space
    space = recipe.trackio_space.strip()
    if space:
        reason = _unreachable(space, token)
        if reason is None:
            os.environ["TRACKIO_SPACE_ID"] = space
            log(f"trackio: logging to the Space {space}.")
            return space
        log(f"trackio: the Space {space} cannot be reached ({reason}); the run goes on logging locally.")
    log(f"trackio: logging locally in {folder} (project {PROJECT}, the run named after the output folder); the "
        "Train tab's trackio link opens its dashboard.")
    return None


def _unreachable(space: str, token: str | None) -> str | None:
    """Why the Space cannot take the logs, or None when it answers."""
    if is_offline():
        return "the Hub is offline"
    try:
        api(token).space_info(space, timeout=get_settings().hub_timeout_s * 3)
    except Exception as exc:  # noqa: BLE001 - any failure means: log locally
        return type(exc).__name__
    return None


def run_config(recipe, folder: Path, result: dict) -> dict:
    """What the lab logs as the run's config: recipe, hardware, memory estimate and peak, scores, card."""
    pre = folder / "preflight.json"
    memory = json.loads(pre.read_text()).get("memory", {}) if pre.is_file() else {}
    scores = (result.get("eval") or {}).get("scores") or {}
    named = {("base" if i == 0 else "fine-tune"): s for i, s in enumerate(scores.values())}
    pushed = (result.get("pushed") or {}).get("url")
    return {
        "lab/recipe": recipe.model_dump(mode="json"),
        "lab/hardware": get_hardware().to_dict(),
        "lab/memory": {"estimate_gb": memory.get("total_gb"), "peak_gb": memory.get("peak_gb"),
                       "device": memory.get("device")},
        "lab/eval_scores": named,
        "lab/card": pushed or f"{folder.name}/README.md",
        "lab/result": {k: result.get(k) for k in ("steps", "first_loss", "last_loss", "eval_loss", "tokens_per_s",
                                                  "engine")},
        "lab/kind": read_manifest(folder).get("kind", ""),
    }


def record(recipe, folder: Path, result: dict, log) -> None:
    """After the run: the lab's config on the run trackio logged (the same run, resumed), with the final figures."""
    if recipe.report_to != "trackio":
        return
    use_lab_dir()
    import trackio  # heavy: trackio (huggingface_hub, gradio_client)

    config = run_config(recipe, Path(folder), result)
    try:
        run = trackio.init(project=PROJECT, name=Path(folder).name, resume="allow", config=config, embed=False,
                           auto_log_cpu=False, auto_log_gpu=False)
        final = {f"final/{k}": v for k, v in config["lab/result"].items() if isinstance(v, (int, float))}
        final.update({f"final/{k}": v for k, v in config["lab/memory"].items() if isinstance(v, (int, float))})
        trackio.log(final, step=config["lab/result"].get("steps"))  # the first log after init carries the config
        trackio.finish()
        log(f"trackio: run {run.name} has the lab's config (recipe, hardware, memory, scores, card).")
    except Exception as exc:  # noqa: BLE001 - a tracker must never fail a finished run
        log(f"trackio: could not record the run's config ({type(exc).__name__}: {exc}).")
