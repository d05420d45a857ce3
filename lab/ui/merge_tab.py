"""The Merge tab: a method form beside a YAML editor (each fills the other), model pickers, preflight, pictures,
templates, and the merge as a background job with "Try it in Chat". The logic lives in lab.merge.editor."""
from __future__ import annotations

import gradio as gr

from lab.errors import LabError
from lab.jobs.manager import check_allowed
from lab.merge import editor
from lab.merge.form import DTYPES, EXPERT_COLUMNS, MODEL_COLUMNS, PARAM_COLUMNS, SLICE_COLUMNS
from lab.merge.methods import GATE_MODES
from lab.merge.recipe import Expert, MergeRecipe, MoERecipe, load_recipe
from lab.merge.templates import TEMPLATES, template_yaml
from lab.merge.worker import MergeOptions
from lab.shown import scrub, scrub_value
from lab.ui import follow, merge_evolve, merge_extract, merge_links, publish_panel, recipe_loader, score_colour
from lab.ui.common import caller_of, cancel_job, on_load, on_show, progress_bar_html, shows_errors
from lab.ui.hub_picker import build_picker

FORM_KEYS = ["method", "layout", "base_model", "dtype", "out_dtype", "tokenizer_source", "chat_template", "models",
             "slices", "parameters", "gate_mode", "experts_per_token", "experts", "advanced"]
HELP = ("Build a mergekit merge with the form **or** paste mergekit YAML on the right: each fills the other. "
        "Check it (config files only, nothing is downloaded), look at the pictures, then run it as a job.")
PRIVATE = {"api_visibility": "private"}


def _info(model, name: str) -> str:
    return model.model_fields[name].description or ""


def _form_layout() -> dict:
    c = {}
    with gr.Row(equal_height=True):
        c["template"] = gr.Dropdown([(t.label, t.key) for t in TEMPLATES.values()], label="Template", scale=3)
        c["use_template"] = gr.Button("Fill from template", scale=1)
        c["load_recipe"] = recipe_loader.place("merge-load-recipe")
    c["method"] = gr.Dropdown(editor.METHOD_CHOICES, value="slerp", label="Method",
                              info=_info(MergeRecipe, "merge_method"))
    c["method_help"] = gr.Markdown(editor.method_help("slerp"))
    c["base_model"] = gr.Textbox(label="Base model", info=_info(MergeRecipe, "base_model"))
    with gr.Accordion("Pick a model (Hub search or local)", open=False):
        c["picked"] = gr.Textbox(label="Picked model", info=_info(Expert, "source_model"))
        c["local"] = gr.Dropdown([], label="Local models and fine-tunes", allow_custom_value=True)
        build_picker(c["picked"])
        with gr.Row():
            c["add"] = gr.Button("Add to the merge")
            c["as_base"] = gr.Button("Use as base model")
    with gr.Group(visible=True) as c["merge_group"]:
        _merge_fields(c)
    with gr.Group(visible=False) as c["moe_group"]:
        with gr.Row():
            c["gate_mode"] = gr.Radio(list(GATE_MODES), value="hidden", label="Gate mode",
                                      info=_info(MoERecipe, "gate_mode"))
            c["experts_per_token"] = gr.Number(2, precision=0, minimum=1, label="Experts per token",
                                               info=_info(MoERecipe, "experts_per_token"))
        c["experts"] = _table(EXPERT_COLUMNS, "Experts", wrap=True)
    c["advanced"] = gr.Code(language="yaml", label="Advanced keys the form does not show (modules, tokenizer, …)",
                            lines=2)
    return c


def _table(columns: list[str], label: str, **kwargs) -> gr.Dataframe:
    return gr.Dataframe(headers=columns, value=[], type="array", interactive=True, label=label,
                        column_count=len(columns), **kwargs)


def _merge_fields(c: dict) -> None:
    c["layout"] = gr.Radio(["models", "slices"], value="slices", label="Inputs as",
                           info="models: whole models with their parameters; slices: layer ranges (passthrough).")
    c["models"] = _table(MODEL_COLUMNS, "Models", visible=False)
    c["slices"] = _table(SLICE_COLUMNS, "Slices (rows with the same slice number are merged together)")
    c["parameters"] = _table(PARAM_COLUMNS, "Parameters (one row per filter: self_attn, mlp, … or empty for all)")
    with gr.Row():
        c["dtype"] = gr.Dropdown(DTYPES, value="", label="dtype", info=_info(MergeRecipe, "dtype"))
        c["out_dtype"] = gr.Dropdown(DTYPES, value="", label="out_dtype", info=_info(MergeRecipe, "out_dtype"))
    with gr.Row():
        c["tokenizer_source"] = gr.Dropdown(["", "base", "union"], value="", allow_custom_value=True,
                                            label="tokenizer_source", info=_info(MergeRecipe, "tokenizer_source"))
        c["chat_template"] = gr.Textbox(label="chat_template", info=_info(MergeRecipe, "chat_template"))


def build() -> None:
    gr.Markdown(HELP)
    with gr.Row():
        with gr.Column(scale=3):
            c = _form_layout()
        with gr.Column(scale=2):
            c["yaml"] = gr.Code(language="yaml", label="mergekit YAML", lines=24, interactive=True,
                                elem_id="merge-yaml")
            c["status"] = gr.Markdown()
    with gr.Row():
        c["check"] = gr.Button("Check (preflight)")
    c["report"] = gr.Markdown()
    c["model_rows"] = gr.Dataframe(headers=["model", "architecture", "layers", "hidden", "heads", "kv heads", "vocab",
                                            "params", "dtype", "license", "chat template", "safetensors", "weights"],
                                   value=[], interactive=False, label="Models (from their config files)", wrap=True)
    with gr.Row():
        c["layer_map"] = gr.Plot(label="Layer map")
        c["curves"] = gr.Plot(label="Parameters across layers")
    with gr.Accordion("Run", open=True):
        with gr.Row():
            c["name"] = gr.Textbox(label="Output name", info="A new folder under the lab's artifacts.")
            c["shard"] = gr.Number(None, precision=0, label="Shard size (out_shard_size)",
                                   info=_info(MergeOptions, "out_shard_size"))
            c["seed"] = gr.Number(None, precision=0, label="Seed", info=_info(MergeOptions, "random_seed"))
            c["eval"] = gr.Textbox(label="Then evaluate on tasks", info=_info(MergeOptions, "eval_tasks"))
        with gr.Row():
            c["run"] = gr.Button("Merge", variant="primary")
            c["cancel"] = gr.Button("Cancel", variant="stop")
            c["try_chat"] = gr.Button("Try it in Chat", interactive=False)
        c["progress"] = gr.HTML()
        c["job_status"] = gr.Markdown(elem_id="merge-job-status")
        c["job_id"] = gr.Textbox(label="Merge job", elem_id="merge-job")
        c["colour"] = score_colour.picker("merge-colour")
        c["family"] = gr.HTML(label="Family tree")
    with gr.Accordion("Publish the merge to the Hub", open=False):
        c["publish"] = publish_panel.build(api_name=None)
    merge_evolve.build()
    merge_extract.build()
    c["out"] = gr.State("")
    c["timer"] = gr.Timer(2.0, active=False)
    _wire(c)


def _values(*args) -> dict:
    return dict(zip(FORM_KEYS, args))


_EMPTY = {"models": [], "slices": [], "parameters": [], "experts": [], "experts_per_token": 2, "gate_mode": "hidden",
          "layout": "models"}


def _form_updates(values: dict) -> list:
    """Updates for every form field, the two groups' visibility and the method help."""
    moe = values.get("method") == "moe"
    shown = {"models": not moe and values.get("layout") == "models",
             "slices": not moe and values.get("layout") == "slices"}
    out = [gr.update(value=values.get(k) or _EMPTY.get(k, ""), **({"visible": shown[k]} if k in shown else {}))
           for k in FORM_KEYS]
    return [*out, gr.update(visible=not moe), gr.update(visible=moe), editor.method_help(values.get("method", ""))]


def _yaml_of(values: dict) -> tuple:
    """(YAML, problem) for form values; an incomplete form leaves the YAML as it is and says why."""
    try:
        return editor.form_to_yaml(values), ""
    except LabError as exc:
        return gr.update(), f"⚠️ {exc}"


def _fill(values: dict, note: str = "") -> list:
    text, problem = _yaml_of(values)
    return [*_form_updates(values), text, problem or note]


@shows_errors
def _use_template(key, request: gr.Request = None):
    text = template_yaml(key or "slerp", caller_of(request))
    return [*_form_updates(editor.yaml_to_form(text)), text, "Template loaded: replace the model ids."]


def _local(request: gr.Request):
    """The local models this caller may merge (their own and shared), by the names they may send back."""
    return gr.update(choices=editor.local_choices(caller_of(request)))


def _first_load(request: gr.Request):
    return [_local(request), *_use_template("slerp", request)]


def _wire(c: dict) -> None:
    form = [c[k] for k in FORM_KEYS]
    form_out = form + [c["merge_group"], c["moe_group"], c["method_help"]]
    filled = [*form_out, c["yaml"], c["status"]]
    for key in FORM_KEYS:  # user edits only (.input), so filling the form from YAML cannot loop back
        if key not in ("method", "layout"):
            c[key].input(lambda *a: _yaml_of(_values(*a)), form, [c["yaml"], c["status"]], **PRIVATE)

    def yaml_changed(text):
        try:
            values = editor.yaml_to_form(text)
        except LabError as exc:
            return [gr.update()] * len(form_out) + [f"⚠️ {exc}"]
        return [*_form_updates(values), "✅ The form shows this YAML."]

    c["yaml"].input(yaml_changed, c["yaml"], [*form_out, c["status"]], **PRIVATE)

    def method_changed(*args):
        values = _values(*args)
        return _fill(editor.switch_method(values, values["method"]))

    c["method"].input(method_changed, form, filled, **PRIVATE)
    c["layout"].input(lambda *a: _fill(_values(*a)), form, filled, **PRIVATE)
    c["use_template"].click(_use_template, c["template"], filled, **PRIVATE)
    recipe_loader.wire_merge(c["load_recipe"], _fill, filled)
    c["local"].input(lambda ref: ref, c["local"], c["picked"], **PRIVATE)
    @shows_errors
    def add(request: gr.Request, picked, *a):  # gr.Request first: Gradio injects it by position
        return _fill(editor.add_model(_values(*a), picked, caller=caller_of(request)))

    c["add"].click(add, [c["picked"], *form], filled, **PRIVATE)
    c["as_base"].click(lambda picked, *a: _fill({**_values(*a), "base_model": picked}), [c["picked"], *form],
                       filled, **PRIVATE)
    _wire_checks(c)
    _wire_run(c)
    merge_links.wire_chat(c)
    merge_links.wire_bus(c, form, filled, _fill, _values)
    on_load(_first_load, None, [c["local"], *filled])
    on_show(_local, c["local"])  # models trained since the page loaded


def _wire_checks(c: dict) -> None:
    @shows_errors
    def check(text, request: gr.Request):
        caller = caller_of(request)  # every model checked for the caller first; the Hub with their token
        md, rows, report = editor.check(text, token=caller.hub_token(), caller=caller)
        layer_map, curves = editor.pictures(load_recipe(text), report)
        # whole-model merges have no layer map: hide the empty frame rather than leave it blank
        return scrub(md), scrub_value(rows), gr.Plot(value=layer_map, visible=layer_map is not None), curves

    c["check"].click(check, c["yaml"], [c["report"], c["model_rows"], c["layer_map"], c["curves"]], **PRIVATE)


def _wire_run(c: dict) -> None:
    @shows_errors
    def run(text, name, shard, seed, tasks, request: gr.Request):
        check_allowed("merge")  # off on the demo: before any other work
        caller = caller_of(request)
        caller.require_signed_in("Starting a merge")
        job = editor.start(text, name, int(shard) if shard else None, int(seed) if seed is not None else None,
                           token=caller.hub_token(), caller=caller,
                           eval_tasks=[t.strip() for t in (tasks or "").split(",") if t.strip()])
        return job.id, f"Job `{job.id}` started (also in the Jobs tab).", gr.Timer(active=True), \
            gr.update(interactive=False)

    follow.mark_url(c["run"].click(run, [c["yaml"], c["name"], c["shard"], c["seed"], c["eval"]],
                                   [c["job_id"], c["job_status"], c["timer"], c["try_chat"]], **PRIVATE), c["job_id"])
    follow.attach("merge", c["job_id"], c["timer"])

    publish = [c["publish"]["artifact"]] if c.get("publish") else []

    def tick(job_id, request: gr.Request):
        caller = caller_of(request)
        try:
            s = editor.status(job_id, caller) if job_id else None
        except LabError:  # not a job of this caller's: the same answer as no job
            s, job_id = None, ""
        if not job_id or s is None:
            return [gr.update(), gr.update(), gr.Timer(active=False), "", gr.update(), gr.update()] + \
                [gr.update()] * len(publish)
        text = f"**{s['state']}** · {s['message']}" + (f"\n\n**Error:** {s['error'][:800]}" if s["error"] else "")
        family = merge_links.family(s["out"], None, request) if s["out"] else gr.update()
        done = [merge_links.publish_choice(s["out"], caller)] * len(publish)
        return [progress_bar_html(s["progress"], s["message"]), text, gr.Timer(active=not s["final"]), s["out"],
                family, gr.update(interactive=bool(s["out"])), *done]

    c["timer"].tick(tick, c["job_id"], [c["progress"], c["job_status"], c["timer"], c["out"], c["family"],
                                        c["try_chat"], *publish], **PRIVATE)
    c["colour"].input(merge_links.family, [c["out"], c["colour"]], c["family"], **PRIVATE)

    @shows_errors
    def cancel(job_id, request: gr.Request):
        return cancel_job(request, job_id, "Cancelling a merge", "No merge is running.")

    c["cancel"].click(cancel, c["job_id"], c["job_status"], **PRIVATE)
