"""What the Merge tab does, as plain functions: YAML <-> form, method help, pickers, preflight, pictures, jobs.

lab/ui/merge_tab.py only wires widgets to these, so everything it decides is testable without a browser.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import lab.merge
from lab import jobs
from lab.access import Caller
from lab.artifacts import list_artifacts, new_folder, read_manifest
from lab.errors import LabError
from lab.eval.flow import check_tasks
from lab.jobs.manager import check_allowed
from lab.jobs.owners import job_for
from lab.merge.form import from_form, to_form
from lab.merge.methods import FORM_METHODS, GATE_MODES, METHODS, param_help
from lab.merge.pictures import curves_figure, layer_map_figure
from lab.merge.preflight import preflight
from lab.merge.recipe import AnyRecipe, MergeRecipe, check_with_mergekit, load_recipe
from lab.merge.refs import check_chat_template, check_refs
from lab.models.ref import named_base
from lab.models.usable import artifact_value, model_artifacts, model_for
from lab.settings import DEFAULT_MODEL, get_settings
from lab.shown import for_visitor, scrub

METHOD_CHOICES = [(f"{METHODS[m].label}", m) for m in FORM_METHODS] + [("Franken-MoE (mergekit-moe)", "moe")] + \
    [(f"{m.label} (more)", m.name) for m in METHODS.values() if m.name not in FORM_METHODS]
_DEFAULTS = {"t": "0.5", "weight": "1.0", "density": "0.5"}


def yaml_to_form(text: str) -> dict:
    """Pasted YAML -> form values (raises LabError naming the field)."""
    return to_form(load_recipe(text))


def form_to_yaml(values: dict) -> str:
    return from_form(values).to_yaml()


def method_help(method: str) -> str:
    if method == "moe":
        modes = "\n".join(f"- **{k}**: {v}" for k, v in GATE_MODES.items())
        return ("**Franken-MoE**: each expert's MLP layers sit behind a router; attention and embeddings come from "
                "the base model. Gate modes:\n" + modes)
    m = METHODS.get(method)
    if m is None:
        return ""
    base = {"required": "needs a base model", "optional": "a base model is optional",
            "ignored": "no base model", "forbidden": "no base model"}[m.base]
    rows = [f"- `{p.name}` ({'per model' if p.scope != 'shared' else 'whole merge'}"
            f"{', required' if p.required else f', default {p.default}'}): {param_help(p.name)}" for p in m.params]
    return f"**{m.label}** — {m.summary} ({base}; {m.min_inputs}+ inputs)\n" + "\n".join(rows)


def switch_method(values: dict, method: str) -> dict:
    """The form after picking another method: required parameters get a starting value, MoE gets its fields."""
    values = {**values, "method": method}
    if method == "moe":
        values.setdefault("gate_mode", "hidden")
        values.setdefault("experts_per_token", 2)
        values.setdefault("experts", [])
        return values
    m = METHODS[method]
    rows = [list(r) for r in values.get("parameters") or []]
    names = {r[0] for r in rows if r}
    for p in m.shared:
        if p.required and p.name not in names:
            rows.append([p.name, "", _DEFAULTS.get(p.name, "1.0")])
    values["parameters"] = rows
    if method == "passthrough":
        values["layout"] = "slices"
    models = [list(r) for r in values.get("models") or []]
    if m.param("weight") and m.param("weight").required:
        for row in models:
            if row and row[0] != values.get("base_model") and not str(row[1]).strip():
                row[1] = _DEFAULTS["weight"]
    values["models"] = models
    return values


def add_model(values: dict, ref: str, layers: int | None = None, caller: Caller | None = None) -> dict:
    """Append a picked model: a models row, a new passthrough slice, a source in every slice, or an expert. With
    `caller`, the model is checked for them before anything of it is read."""
    ref = merge_ref(ref, caller)
    if not ref:
        raise LabError("No model picked.", "Search the Hub or pick a local model first.", "model")
    values = dict(values)
    if values.get("method") == "moe":
        values["experts"] = [*(values.get("experts") or []), [ref, "", "", ""]]
    elif values.get("layout") == "slices":
        rows = [list(r) for r in values.get("slices") or []]
        end = str(layers or "")
        if values.get("method") == "passthrough" or not rows:
            rows.append([str(len({r[0] for r in rows})), ref, "0", end, "", ""])
        else:
            for key in dict.fromkeys(r[0] for r in rows):
                first = next(r for r in rows if r[0] == key)
                rows.append([key, ref, first[2], first[3], "", ""])
        values["slices"] = rows
    else:
        values["models"] = [*(values.get("models") or []), [ref, "", "", ""]]
    return values


def merge_ref(ref: str, caller: Caller | None = None) -> str:
    """A model reference mergekit can merge: an adapter folder becomes `base+adapter` (mergekit's LoRA syntax).
    With `caller`, the reference is checked for them first (nothing of a folder they may not use is read), and on
    a Space both parts are named as the caller may send them back (an artifact by its folder name)."""
    text = (ref or "").strip()
    if caller is None:
        folder = Path(text).expanduser()
    elif not text:
        return text
    else:
        mref = model_for(caller, text, "model", expand_adapter=False)
        if mref.adapter is not None or mref.base_is_hub:  # base+adapter already, or a Hub id
            return text
        folder = Path(mref.base)  # a local folder this caller may use
    if folder.is_dir() and (folder / "adapter_config.json").is_file() and not (folder / "config.json").is_file():
        cfg = json.loads((folder / "adapter_config.json").read_text())
        base = read_manifest(folder).get("base_model_path") or named_base(cfg) or DEFAULT_MODEL
        if caller is not None and get_settings().on_space:
            return f"{scrub(str(base))}+{folder.name if _is_artifact(folder) else text}"
        return f"{base}+{folder}"
    return text


def _is_artifact(folder: Path) -> bool:
    return Path(folder).resolve().parent == get_settings().artifacts.resolve()


def local_choices(caller: Caller | None = None) -> list[tuple[str, str]]:
    """Local models for the pickers: the bundled model, Train-tab fine-tunes (adapters as base+adapter), merges;
    with `caller`, only their own and shared ones, named as they may send them back (folder names on a Space)."""
    out = [(f"{DEFAULT_MODEL} (bundled)", DEFAULT_MODEL)]
    arts = list_artifacts() if caller is None else model_artifacts(caller)
    for art in arts:
        folder = Path(art["path"])
        if art.get("kind") == "adapter" and (folder / "adapter_config.json").is_file():
            ref = merge_ref(str(folder)) if caller is None else merge_ref(artifact_value(caller, folder), caller)
            out.append((f"{art.get('name')} (adapter on {Path(ref.split('+')[0]).name})", ref))
        elif art.get("kind") in ("model", "merge") and (folder / "config.json").is_file():
            out.append((f"{art.get('name')} ({art['kind']})",
                        str(folder) if caller is None else artifact_value(caller, folder)))
    return out


def check(text: str, token=None, caller: Caller | None = None):
    """mergekit's own schema, then preflight, for the YAML in the editor: (report markdown, model rows, report).
    With `caller`, every model is checked for them first. The first check imports mergekit into the app (a few
    seconds, once)."""
    recipe = load_recipe(text)
    if caller is not None:
        check_refs(caller, recipe)
    check_chat_template(recipe.chat_template if hasattr(recipe, "chat_template") else None)
    check_with_mergekit(recipe)
    report = preflight(recipe, token=token)
    rows = [list(r.values()) for r in report.models]
    return report.markdown(), rows, report


def pictures(recipe: AnyRecipe, report=None):
    """(layer map figure or None, parameter curves figure or None) for the recipe; layers from preflight."""
    if not isinstance(recipe, MergeRecipe):
        return None, None
    layers = (report.out_layers if report and report.out_layers else 32) if not recipe.slices else None
    layer_map = layer_map_figure(recipe, report.layer_params if report else None) if recipe.slices else None
    return layer_map, curves_figure(recipe, layers or 0)


def start(text: str, name: str = "", shard_size: int | None = None, seed: int | None = None, token=None,
          eval_tasks: list[str] | None = None, caller: Caller | None = None):
    """Check the YAML, refuse on preflight errors, then submit the merge job into a new artifact folder. With
    `caller`, every model is checked for them first and the job is theirs."""
    check_allowed("merge")
    recipe = load_recipe(text)
    if caller is not None:
        check_refs(caller, recipe)
    check_chat_template(recipe.chat_template if hasattr(recipe, "chat_template") else None)
    preflight(recipe, token=token).raise_for_errors()
    if eval_tasks:
        check_tasks(eval_tasks, token)
    folder = new_folder("merge", (name or "").strip())
    options = {k: v for k, v in (("out_shard_size", shard_size), ("random_seed", seed), ("eval_tasks", eval_tasks))
               if v}
    try:
        return jobs.submit("merge", {"config": recipe.to_dict(), "source": text, "options": options},
                      title=f"Merge ({recipe.merge_method}) → {folder.name}", token=token, artifact_dir=folder,
                      owner=None if caller is None else caller.key)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def status(job_id: str, caller: Caller | None = None) -> dict:
    """The job as the tab shows it: state, progress, message, error, and the output once it succeeded (with
    `caller`: only a job they may see, the output by the name they may send back, text without server paths)."""
    job = jobs.get_job(job_id) if caller is None else job_for(caller, job_id)
    done = job.state == "succeeded" and (job.folder / "lab.json").is_file()
    out = (str(job.folder) if caller is None else artifact_value(caller, job.folder)) if done else ""
    return {"state": job.state, "progress": job.progress, "message": scrub(job.message or ""),
            "error": for_visitor(job.error or "") if job.error else job.error, "final": job.final, "out": out}
