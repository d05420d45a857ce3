"""What the Train tab shows, computed without gradio: form <-> recipe, the pre-launch report, live status.

The tab only lays out components and calls these; everything here is testable without a browser.
"""
from __future__ import annotations

import json
import typing
from pathlib import Path

from lab import jobs, uploads
from lab.access import Caller
from lab.data.load import store_upload
from lab.errors import LabError
from lab.jobs import owners
from lab.models.usable import model_for
from lab.train.data import dataset_path
from lab.train.recipe import PRESETS, TrainRecipe

FIELDS = list(TrainRecipe.model_fields)
# Fields whose empty form value means "not set".
OPTIONAL = {"max_rows"}


def field_kind(name: str) -> tuple[str, list]:
    """(widget kind, choices) for a recipe field: radio | checks | lines | check | int | float | text."""
    ann = TrainRecipe.model_fields[name].annotation
    if typing.get_origin(ann) is typing.Literal:
        return "radio", list(typing.get_args(ann))
    if name == "rewards":
        return "lines", []  # one reward per line: NAME[:PARAM][@WEIGHT]
    if typing.get_origin(ann) is list:
        return "checks", list(typing.get_args(typing.get_args(ann)[0]))
    args = [a for a in typing.get_args(ann) if a is not type(None)] or [ann]
    base = args[0]
    return {bool: "check", int: "int", float: "float"}.get(base, "text"), []


def recipe_from_form(values: dict) -> TrainRecipe:
    data = {}
    for name, value in values.items():
        if name not in TrainRecipe.model_fields:
            continue
        kind, _ = field_kind(name)
        if name in OPTIONAL and value in (None, "", 0):
            value = None
        elif kind == "int" and value is not None:
            value = int(value)
        elif kind == "float" and value is not None:
            value = float(value)
        elif kind == "text" or (kind == "lines" and not isinstance(value, list)):
            value = (value or "").strip()
        elif kind == "checks":
            value = list(value or [])
        data[name] = value
    return TrainRecipe.parse(data)


def form_from_recipe(recipe: TrainRecipe) -> dict:
    from lab.train.rewards import rewards_text

    return {**recipe.model_dump(mode="json"), "rewards": rewards_text(recipe.rewards)}


def apply_preset(name: str, current: dict) -> TrainRecipe:
    """A preset over the current form: model, dataset and naming stay, the technique's knobs change."""
    if name not in PRESETS:
        raise LabError(f"Unknown preset {name!r}.", f"Pick one of: {', '.join(PRESETS)}.", "preset")
    from lab.train.preset_data import dataset_for

    keep = {k: current.get(k) for k in ("model", "dataset", "dataset_split", "max_rows", "output_name")}
    base = TrainRecipe().model_dump()
    data, _ = dataset_for(name)  # the lab's arithmetic set, the newest KTO export of arena votes
    keep["dataset"] = data or keep["dataset"]
    return recipe_from_form({**base, **{k: v for k, v in keep.items() if v not in (None, "")}, **PRESETS[name]})


def preview_highlights(preview: dict) -> list[tuple[str, str | None]]:
    """Pieces for a highlighted-text view: the trained tokens marked, SFT or DPO (chosen then rejected)."""
    if "pieces" in preview:
        return preview["pieces"]
    return ([("CHOSEN ▸ ", "label")] + preview["chosen"] + [("\n\nREJECTED ▸ ", "label")] + preview["rejected"])


def check_access(recipe: TrainRecipe, caller: Caller) -> None:
    """What this caller may make a run read, before anything is read: the model and the dataset (on a Space a visitor
    uses their own or shared artifacts and uploads, Hub ids, the bundled model), reward models, and no environment
    variable of the server named as a judge's key (only the owner may)."""
    model_for(caller, recipe.model, "model")
    path = dataset_path(recipe.dataset)
    if path is not None:
        owners.check_paths(caller, [path], "dataset")
    for spec in recipe.rewards:
        if spec.name == "rm" and spec.param:
            model_for(caller, spec.param, "rewards")
        if spec.name == "judge" and (spec.options or {}).get("api_key_env") and not caller.is_owner:
            raise LabError("Only the owner of this Space may name an environment variable as the judge's key.",
                           "Use a Hugging Face endpoint with your sign-in, or a local judge model.", "rewards")


def check(recipe: TrainRecipe, token: str | None = None, caller: Caller | None = None) -> dict:
    """The pre-launch report: warnings, plan, memory, one row's loss mask, the trl command and the YAML."""
    from lab.train import build, masking, method_panel, preflight
    from lab.train.data import load_for_recipe

    if caller is not None:
        check_access(recipe, caller)
    ds, kind = load_for_recipe(recipe, token)
    pre = preflight.check(recipe, token=token, ds=(ds, kind))
    folder, prior = preflight.model_folders(pre.recipe.model, token)
    tok, _ = build.load_tokenizer(prior or folder, pre.recipe)
    row = ds[0] if kind != "preference" or recipe.method in ("dpo", "reward") else \
        {"messages": ds[0]["prompt"] + ds[0]["chosen"], "n_context": len(ds[0]["prompt"])}
    if recipe.method in ("grpo", "kto", "reward"):
        preview = method_panel.check_preview(row, tok, pre.recipe)
    else:
        preview = masking.mask_preview(row, tok, "preference" if recipe.method == "dpo" else kind,
                                       pre.recipe.completion_only_loss, pre.recipe.packing)
    lines = [f"**Plan:** {pre.plan.summary()}",
             f"**Data:** {pre.rows} rows ({pre.kind}) → {pre.train_rows} train, {pre.eval_rows} eval.",
             f"**Memory:** {preflight.memory_text(pre.memory)}",
             f"**Loss mask:** {preview['trained_tokens']} of {preview['total_tokens']} tokens of this row are "
             "trained (highlighted)."]
    lines += [preview["note"]] if preview.get("note") else []
    lines += [f"⚠️ {w}" for w in pre.warnings]
    return {"markdown": "\n\n".join(lines), "preview": preview_highlights(preview), "memory": pre.memory,
            "warnings": pre.warnings, "recipe": pre.recipe, "yaml": pre.recipe.to_yaml(),
            "trl_command": build.trl_command(pre.recipe)}


def start(recipe: TrainRecipe, caller: Caller) -> dict:
    """Queue the run for this caller: refused on the demo and for anonymous visitors before any work."""
    from lab.train import KINDS, submit
    from lab.train.rewards.user_code import check_allowed

    jobs.check_allowed(KINDS[recipe.method])
    caller.require_signed_in("Starting a training job")
    if recipe.method == "grpo" and any(s.name == "python" for s in recipe.rewards):
        check_allowed(caller, where="app")  # the job runs the user's code: only for the lab's owner
    check_access(recipe, caller)
    # private models and datasets need the caller's own token too; it reaches only the worker
    job = submit(recipe, token=caller.hub_token(), owner=caller.key)
    note = "started" if job.state == "running" else "queued behind the running job"
    return {"job_id": job.id, "state": job.state, "message": f"Job `{job.id}` {note} (also in the Jobs tab)."}


def curve_frame(rows: list[dict]):
    """Rows for a line plot, with typed columns even when empty (numbers plot as numbers, not categories)."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=["step", "value", "series"])
    return df.astype({"step": "int64", "value": "float64", "series": "str"})


def samples_frame(samples: dict):
    import pandas as pd

    return pd.DataFrame(samples["rows"], columns=samples["headers"])


def preset_note(name: str) -> str:
    from lab.train.preset_data import dataset_for

    return dataset_for(name)[1]


def preview_rewards(recipe: TrainRecipe, caller: Caller) -> dict:
    """The chosen rewards on a few answers the base model samples (see lab.train.rewards.preview)."""
    from lab.train.rewards.preview import preview

    check_access(recipe, caller)
    out = preview(recipe, token=caller.hub_token(), caller=caller, log=lambda m: None)
    return {**out, "frame": samples_frame(out)}


def _series(metrics: list[dict], keys: list[str]) -> list[dict]:
    return [{"step": m["step"], "value": m[k], "series": k} for m in metrics for k in keys
            if k in m and m.get("step") is not None]


def status(job_id: str, caller: Caller) -> dict:
    """One poll of a training job the caller may see: state, progress, ETA, curves, log tail, artifact."""
    from lab.jobs.context import read_metrics
    from lab.ui_text import duration, log_tail

    job = owners.job_for(caller, job_id)
    metrics = read_metrics(job.metrics_path)
    last = next((m for m in reversed(metrics) if "loss" in m), {})
    result = json.loads((job.folder / "result.json").read_text()) if (job.folder / "result.json").is_file() else {}
    summary = f"**{job.state}** · {job.message}"
    if last and job.state == "running":
        summary += (f" · step {last['step']} · loss {last['loss']:.4f} · {last.get('tokens_per_s') or 0:.0f} "
                    f"tokens/s · ETA {duration(job.eta_s())}")
    summary += _memory_line(job.folder, last)
    from lab.train import method_panel

    notes = method_panel.notes(job.folder)
    summary += "".join(f"\n\n{n}" for n in notes)
    headers, samples = method_panel.samples_table(job.folder)
    return {"job_id": job.id, "state": job.state, "final": job.final, "progress": job.progress,
            "eta_s": job.eta_s(), "message": job.message, "error": job.error, "summary": summary,
            "loss": _series(metrics, ["loss", "eval_loss"]), "lr": _series(metrics, ["lr"]),
            "grad_norm": _series(metrics, ["grad_norm"]), "tokens_per_s": _series(metrics, ["tokens_per_s"]),
            "steps": last.get("step", 0), "log": log_tail(job.log_path, 30),
            "artifact": result.get("artifact", ""), "merged": result.get("merged", ""), "result": result,
            "notes": notes, "samples": {"headers": headers, "rows": samples}, **method_panel.grpo_curves(metrics)}


def _memory_line(folder: Path, last: dict) -> str:
    """' · memory 4.6 GB now, estimate 4.7 GB' (or the measured peak once the run ended)."""
    try:
        mem = json.loads((folder / "preflight.json").read_text())["memory"]
    except (OSError, ValueError, KeyError):
        return ""
    if mem.get("peak_gb"):
        return f" · memory peak {mem['peak_gb']:.2f} GB, estimate {mem['total_gb']:.2f} GB"
    if last.get("mem_gb"):
        return f" · memory {last['mem_gb']:.2f} GB now, estimate {mem['total_gb']:.2f} GB"
    return f" · memory estimate {mem['total_gb']:.2f} GB"


def lr_status(job_id: str, caller: Caller) -> dict:
    job = owners.job_for(caller, job_id)
    path = job.folder / "lr_find.json"
    found = json.loads(path.read_text()) if path.is_file() else {}
    png = job.folder / "lr_find.png"
    return {"state": job.state, "final": job.final, "message": job.message, "error": job.error,
            "suggestion": found.get("suggestion"), "lr_at_min": found.get("lr_at_min"),
            "note": found.get("note", ""), "plot": str(png) if png.is_file() else None}


def dataset_choices(caller: Caller) -> list[str]:
    """The dataset artifacts this caller may train on (newest first), by folder name."""
    return [Path(a["path"]).name for a in owners.visible_artifacts(caller) if a.get("kind") in ("dataset", "votes")]


def stored_upload(path: str, caller: Caller) -> str:
    """Keep an uploaded data file for this caller; the form then names it `upload:HASH/NAME`."""
    return uploads.ref(store_upload(Path(path), owner=caller.key))
