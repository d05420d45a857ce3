"""What the Train tab shows, computed without gradio: form <-> recipe, the pre-launch report, live status.

The tab only lays out components and calls these; everything here is testable without a browser.
"""
from __future__ import annotations

import json
import typing
from pathlib import Path

from lab import jobs, uploads
from lab.access import Caller
from lab.data.load import dataset_path, store_upload
from lab.errors import LabError
from lab.jobs import owners
from lab.jobs.context import read_metrics
from lab.models.usable import model_for
from lab.train import KINDS, build, methods, preflight, probe, submit
from lab.train.base_model import model_folders
from lab.train.methods import METHODS
from lab.train.methods.rewards.preview import preview
from lab.train.preset_data import dataset_for
from lab.train.methods.flat import flat_fields
from lab.train.recipe import PRESETS, TrainRecipe, form_fields
from lab.ui_text import duration, log_tail

FIELDS = list(form_fields())  # the form's fields: the recipe's, each method's under its flat name
# Fields whose empty form value means "not set".
OPTIONAL = {"max_rows"}


def field_kind(name: str) -> tuple[str, list]:
    """(widget kind, choices) for a recipe field: radio | checks | lines | check | int | float | text."""
    ann = form_fields()[name].annotation
    if typing.get_origin(ann) is typing.Literal:
        return "radio", list(typing.get_args(ann))
    if typing.get_origin(ann) is list:
        item = typing.get_args(ann)[0]
        if typing.get_origin(item) is typing.Literal:
            return "checks", list(typing.get_args(item))
        return "lines", []  # one item per line in its one-line form (GRPO's rewards: NAME[:PARAM][@WEIGHT])
    args = [a for a in typing.get_args(ann) if a is not type(None)] or [ann]
    base = args[0]
    return {bool: "check", int: "int", float: "float"}.get(base, "text"), []


def recipe_from_form(values: dict) -> TrainRecipe:
    data = {}
    for name, value in values.items():
        if name not in form_fields():
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
    """Every widget's value: the recipe's, and the defaults of the other methods' fields."""
    values = {**_defaults(), **recipe.flat(mode="json")}
    return {name: _lines(name, value) if field_kind(name)[0] == "lines" else value for name, value in values.items()}


def _lines(name: str, items: list) -> str:
    """A list of objects as the form's text: each in its one-line form (`line`), one per line."""
    cls = typing.get_args(form_fields()[name].annotation)[0]
    return "\n".join(cls.model_validate(item).line for item in items)


def _defaults() -> dict:
    """Each method's fields at their defaults (the form shows them all; the recipe reads its method's)."""
    return {name: info.get_default(call_default_factory=True) for name, info in flat_fields().items()}


def apply_preset(name: str, current: dict) -> TrainRecipe:
    """A preset over the current form: model, dataset and naming stay, the technique's knobs change."""
    if name not in PRESETS:
        raise LabError(f"Unknown preset {name!r}.", f"Pick one of: {', '.join(PRESETS)}.", "preset")
    keep = {k: current.get(k) for k in ("model", "dataset", "dataset_split", "max_rows", "output_name")}
    base = {**_defaults(), **TrainRecipe().flat()}
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
    methods.of(recipe).check_access(recipe, caller)


def check(recipe: TrainRecipe, token: str | None = None, caller: Caller | None = None, timed: bool = False) -> dict:
    """The pre-launch report: warnings, plan, memory, one row's loss mask, the trl command and the YAML; with
    `timed`, the run's wall time from a short probe (`time_estimate`; the tab asks for it in a second event)."""
    if caller is not None:
        check_access(recipe, caller)
    method = methods.of(recipe)
    ds, kind = method.rows(recipe, token)
    pre = preflight.check(recipe, token=token, ds=(ds, kind))
    folder, prior = model_folders(pre.recipe.model, token)
    tok, _ = build.load_tokenizer(prior or folder, pre.recipe)
    row_preview = method.preview(ds[0], tok, pre.recipe, kind)
    lines = [f"**Plan:** {pre.plan.summary()}", engine_text(preflight.engine_of(pre.plan)),
             f"**Data:** {pre.rows} rows ({pre.kind}) → {pre.train_rows} train, {pre.eval_rows} eval.",
             f"**Memory:** {preflight.memory_text(pre.memory)}",
             f"**Loss mask:** {row_preview['trained_tokens']} of {row_preview['total_tokens']} tokens of this row "
             "are trained (highlighted)."]
    lines += [row_preview["note"]] if row_preview.get("note") else []
    lines += [f"⚠️ {w}" for w in pre.warnings]
    timing = time_estimate(recipe, token, caller, checked=True) if timed else None
    lines += [timing["markdown"]] if timing else []
    return {"markdown": "\n\n".join(lines), "preview": preview_highlights(row_preview), "memory": pre.memory,
            "warnings": pre.warnings, "recipe": pre.recipe, "yaml": pre.recipe.to_yaml(),
            "trl_command": build.trl_command(pre.recipe), "time": timing}


def time_estimate(recipe: TrainRecipe, token: str | None = None, caller: Caller | None = None,
                  checked: bool = False) -> dict:
    """The run's wall time from PROBE_STEPS real steps (lab.train.probe), for a caller who may start the run:
    {"markdown", "estimate" (the parts and total_s; None when not timed), "refused" (why not)}. Unless `checked`
    (by `check`), the recipe is checked here first, so a bad one fails in seconds, not in the probe's process."""
    why = probe.refusal(recipe, caller)
    if why:
        return {"markdown": f"**Time:** not timed. {why}", "estimate": None, "refused": why}
    if not checked:
        if caller is not None:
            check_access(recipe, caller)
        preflight.check(recipe, token=token, ds=methods.of(recipe).rows(recipe, token))
    out = probe.time_run(recipe, token, owner=caller.key if caller is not None else "")
    return {"markdown": probe.text(out), "estimate": out["estimate"], "refused": "", "probe": out}


def start(recipe: TrainRecipe, caller: Caller) -> dict:
    """Queue the run for this caller: refused on the demo and for anonymous visitors before any work."""
    jobs.check_allowed(KINDS[recipe.method.name])
    caller.require_signed_in("Starting a training job")
    methods.of(recipe).check_start(recipe, caller)  # e.g. GRPO's python rewards: only for the lab's owner
    check_access(recipe, caller)
    # private models and datasets need the caller's own token too; it reaches only the worker
    job = submit(recipe, token=caller.hub_token(), owner=caller.key)
    note = "started" if job.state == "running" else "queued behind the running job"
    return {"job_id": job.id, "state": job.state, "message": f"Job `{job.id}` {note} (also in the Jobs tab)."}


def curve_frame(rows: list[dict]):
    """Rows for a line plot, with typed columns even when empty (numbers plot as numbers, not categories)."""
    import pandas as pd  # heavy: pandas, only when a plot is drawn

    df = pd.DataFrame(rows, columns=["step", "value", "series"])
    return df.astype({"step": "int64", "value": "float64", "series": "str"})


def samples_frame(samples: dict):
    import pandas as pd  # heavy: pandas

    return pd.DataFrame(samples["rows"], columns=samples["headers"])


def preset_note(name: str, recipe: TrainRecipe | None = None) -> str:
    """The preset's data, and what it costs on this machine: the Check's timing of this recipe, or how to get it."""
    note = dataset_for(name)[1]
    if recipe is None:
        return note
    timed = probe.last_timed(recipe)
    steps = f"{recipe.max_steps} steps" if recipe.max_steps > 0 else f"{recipe.epochs:g} epochs"
    cost = (f"On this machine it takes about {duration(timed['estimate']['total_s'])} ({steps}; timed by Check)."
            if timed else f"It runs {steps}: press **Check** to time it on this machine ({probe.PROBE_STEPS} real "
            "steps, a minute or two).")
    return " ".join(x for x in (note, cost) if x)


def preview_rewards(recipe: TrainRecipe, caller: Caller) -> dict:
    """The chosen rewards on a few answers the base model samples (see lab.train.methods.rewards.preview)."""
    check_access(recipe, caller)
    out = preview(recipe, token=caller.hub_token(), caller=caller, log=lambda m: None)
    return {**out, "frame": samples_frame(out)}


# Each live chart: its lines (the name in the legend -> the metrics key) and the legend's title. GRPO's charts name
# their lines in lab.train.methods.grpo_report.grpo_curves.
CURVES = {"loss": {"train": "loss", "eval": "eval_loss"}, "lr": {"learning rate": "lr"},
          "grad_norm": {"gradient norm": "grad_norm"}, "tokens_per_s": {"tokens/s": "tokens_per_s"}}
LEGENDS = {"loss": "loss on", "lr": "curve", "grad_norm": "curve", "tokens_per_s": "curve", "rewards": "reward",
           "kl": "measure", "length": "curve"}


def _series(metrics: list[dict], lines: dict[str, str]) -> list[dict]:
    return [{"step": m["step"], "value": m[k], "series": name} for m in metrics for name, k in lines.items()
            if k in m and m.get("step") is not None]


def status(job_id: str, caller: Caller) -> dict:
    """One poll of a training job the caller may see: state, progress, ETA, curves, log tail, artifact."""
    job = owners.job_for(caller, job_id)
    metrics = read_metrics(job.metrics_path)
    last = next((m for m in reversed(metrics) if "loss" in m), {})
    result = json.loads((job.folder / "result.json").read_text()) if (job.folder / "result.json").is_file() else {}
    summary = f"**{job.state}** · {job.message}"
    if last and job.state == "running":
        summary += (f" · step {last['step']} · loss {last['loss']:.4f} · {last.get('tokens_per_s') or 0:.0f} "
                    f"tokens/s · ETA {duration(job.eta_s())}")
    summary += _memory_line(job.folder, last)
    summary += _engine_line(job.folder)
    method = METHODS.get(job.kind.removeprefix("train."))  # the kind names the method: train.<method>
    live = {**NO_LIVE_VIEW, **(method.live_view(job.folder, metrics) if method else {})}
    summary += "".join(f"\n\n{n}" for n in live["notes"])
    return {"job_id": job.id, "state": job.state, "final": job.final, "progress": job.progress,
            "eta_s": job.eta_s(), "message": job.message, "error": job.error, "summary": summary,
            **{chart: _series(metrics, lines) for chart, lines in CURVES.items()},
            "steps": last.get("step", 0), "log": log_tail(job.log_path, 30),
            "artifact": result.get("artifact", ""), "merged": result.get("merged", ""), "result": result, **live}


# What the live view shows of a method's own (GRPO's curves and samples) when the method has none
NO_LIVE_VIEW = {"notes": [], "samples": {"headers": [], "rows": []}, "rewards": [], "kl": [], "length": []}


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


def engine_text(ran: dict) -> str:
    """'**Engine:** trl · kernels: padding_free. Why: ...' from preflight's engine record."""
    kernels = ", ".join(ran.get("kernels") or []) or "none"
    why = " ".join(ran.get("reasons") or [])
    return f"**Engine:** {ran.get('engine', 'trl')} · kernels: {kernels}." + (f" {why}" if why else "")


def _engine_line(folder: Path) -> str:
    try:
        ran = json.loads((folder / "preflight.json").read_text())["engine"]
    except (OSError, ValueError, KeyError):
        return ""
    return "\n\n" + engine_text(ran)


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
