"""The Data tab: load → filter → review → explore → export. Lays out the components; lab.ui.data_events wires
them to lab.data.session.Session, which decides everything."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from lab.data import session as core
from lab.data.formats import FORMATS
from lab.data.policy import demo_rows_note
from lab.data.recipe import STEP_TYPES, FilterRecipe, Source, describe
from lab.settings import get_settings
from lab.tour import starters
from lab.ui import data_events, publish_panel, recipe_loader
from lab.ui import data_strings as S

MAP_FIELDS = list(dict.fromkeys(f for fmt in FORMATS.values() for f in fmt.fields))
SUFFIXES = [".jsonl", ".json", ".csv", ".parquet"]


def _control(kind: str, name: str):
    what, value, choices = core.widget(kind, name)
    label = "Enabled" if name == "enabled" else name.replace("_", " ")
    info = describe(kind, name) or None
    if what == "check":
        return gr.Checkbox(value=value, label=label, info=info)
    if what == "choice":
        return gr.Dropdown(choices=choices, value=value, label=label, info=info)
    if what in ("int", "float"):
        return gr.Number(value=value, label=label, info=info, precision=0 if what == "int" else None)
    lines = 6 if name == "rubric" else 4 if what == "lines" else 1
    return gr.Textbox(value=value, label=label, info=info, lines=lines)


def _load_section(c: SimpleNamespace) -> None:
    on_space = get_settings().on_space
    c.starter = gr.Radio([(s.label, s.key) for s in starters.starters(on_space)], value=None, label=S.STARTERS,
                         info=S.STARTERS_INFO, elem_id="data-starters")
    gr.Markdown(starters.describe(on_space))
    with gr.Row():
        c.files = gr.File(label=S.FILES, file_count="multiple", file_types=SUFFIXES, type="filepath",
                          elem_id="data-files")
        with gr.Column():
            c.hub = gr.Textbox(label=S.HUB_ID, placeholder="user/name", info=Source.model_fields["hub"].description)
            with gr.Row():
                c.config = gr.Textbox(label="Config", info=Source.model_fields["config"].description)
                c.split = gr.Textbox(value="train", label="Split", info=Source.model_fields["split"].description)
                c.limit = gr.Number(value=None, precision=0, label="Max rows",
                                    info=Source.model_fields["limit"].description)
            c.hub_preview = gr.Button("Stream a preview", size="sm")
    c.form = gr.Dropdown(["auto", "messages", "prompt_completion"], value="auto", label="SFT form",
                         info=FilterRecipe.model_fields["form"].description)
    with gr.Row():
        c.load = gr.Button("Load", variant="primary", scale=3)
        c.load_recipe = recipe_loader.place("data-load-recipe")
    c.status = gr.Markdown()
    c.preview = gr.JSON(label="First five rows, normalized")
    with gr.Group(visible=False) as c.map_box:
        c.map_note = gr.Markdown()
        c.fmt = gr.Dropdown(choices=list(FORMATS), label="Format")
        c.map_dd = [gr.Dropdown(label=f"{f} ←", choices=[], visible=False) for f in MAP_FIELDS]
        c.map_apply = gr.Button("Apply mapping")


def _filter_section(c: SimpleNamespace) -> None:
    c.widgets = {}
    if get_settings().demo:
        gr.Markdown(demo_rows_note(), elem_id="data-demo-limits")
    for kind in core.step_order():
        with gr.Accordion(STEP_TYPES[kind].label, open=False):
            for name in core.step_fields(kind):
                c.widgets[(kind, name)] = _control(kind, name)
            if kind == "judge":  # beside the judge's settings, but never in the recipe: held by this page only
                c.judge_key = gr.Textbox("", type="password", label=S.JUDGE_KEY, info=S.JUDGE_KEY_INFO,
                                         elem_id="data-judge-key")
    c.controls = list(c.widgets.values())
    c.recipe = gr.Code(language="yaml", label=S.RECIPE, interactive=False)
    c.run = gr.Button("Run filters", variant="primary")
    c.run_status = gr.Markdown()
    c.bar = gr.HTML(visible=False)
    c.job_id = gr.Textbox(visible=False, elem_id="data-job")
    c.timer = gr.Timer(1.0, active=False)


def _review_section(c: SimpleNamespace) -> None:
    c.review = gr.State(None)
    with gr.Row():
        c.funnel = gr.Dataframe(headers=["step", "rows in", "rows out", "removed", "seconds", "note"],
                                label="Funnel", wrap=True, interactive=False)
        c.funnel_plot = gr.Plot(label="Funnel")
    c.reason = gr.Dropdown(label="Removed rows: pick a reason", choices=[])
    c.samples = gr.Dataframe(headers=["source", "detail", "row"], interactive=False, wrap=True, max_height=360)
    c.groups = gr.Dataframe(headers=["kept row", "kept", "duplicates", "examples"], label="Duplicate groups",
                            interactive=False, wrap=True, max_height=360)


def _explore_section(c: SimpleNamespace) -> None:
    gr.Markdown(S.EXPLORE_HELP)
    c.explore = gr.Button("Explore the kept rows")
    c.map_plot = gr.Plot(label="Topic map")
    c.sizes = gr.Dataframe(headers=["cluster", "label", "rows", "%"], label="Clusters", interactive=False)
    with gr.Row():
        c.cluster_no = gr.Number(value=0, precision=0, label="Cluster")
        c.show = gr.Button("Show its rows")
        c.drop = gr.Button("Drop it")
        c.keep = gr.Button("Keep it")
    c.cluster_note = gr.Markdown(elem_id="data-cluster-note")  # the Drop clusters step may be folded away
    c.cluster_rows = gr.Dataframe(headers=["row", "text"], interactive=False, wrap=True, max_height=360)
    with gr.Row():
        c.len_plot = gr.Plot(label="Lengths")
        c.score_plot = gr.Plot(label="Scores")


def _export_section(c: SimpleNamespace) -> None:
    c.name = gr.Textbox(label="Artifact name", placeholder="empty: a dated name",
                        info=FilterRecipe.model_fields["name"].description)
    c.export = gr.Button("Export", variant="primary")
    c.export_status = gr.Markdown()
    c.download = gr.File(label="Download (JSON Lines)", interactive=False, elem_id="data-download")
    publish_panel.build()


def build() -> None:
    c = SimpleNamespace(state=gr.State(core.Session), map_fields=MAP_FIELDS)
    gr.Markdown(S.HELP)
    for title, section, is_open in ((S.LOAD, _load_section, True), (S.FILTER, _filter_section, True),
                                    (S.REVIEW, _review_section, True), (S.EXPLORE, _explore_section, False),
                                    (S.EXPORT, _export_section, True)):
        with gr.Accordion(title, open=is_open):
            section(c)
    data_events.wire(c)
    recipe_loader.wire_data(c.load_recipe, c)
