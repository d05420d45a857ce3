"""The Experiments tab: the caller's training runs with their settings and results; 2–6 of them overlaid (loss,
eval loss, reward, LR) with the settings that differ; and one cloned into the Train tab as a new run."""
from __future__ import annotations

import gradio as gr

from lab.runs import compare as runs
from lab.shown import scrub_value
from lab.ui import bus, charts
from lab.ui.common import caller_of, on_load, on_show, shows_errors

PRIVATE = {"api_visibility": "private"}
CHARTS = {"loss": ("Train loss", "loss"), "eval_loss": ("Eval loss", "eval loss"),
          "reward": ("Reward (GRPO runs)", "reward"),
          "lr": ("Learning rate", "lr")}
HELP = ("Every training run you may see, newest first: what it was asked to do and what it gave. Pick 2 to 6 runs "
        "to overlay their curves and list the settings that differ; clone one into the Train tab to start a new run "
        "from its recipe. The same view as JSON: `python -m lab runs list` and `python -m lab runs compare ID ID`.")


def _frame(rows: list[dict]):
    import pandas as pd  # heavy: pandas

    df = pd.DataFrame(rows, columns=["step", "value", "run"])
    return df.astype({"step": "int64", "value": "float64", "run": "str"})


def listing(request: gr.Request | None):
    """(table rows, run choices) for this caller, as a visitor may see them."""
    rows = scrub_value(runs.list_view(caller_of(request)))
    choices = [(f"{r['name']} · {r['method']} · {r['id']}", r["id"]) for r in rows]
    return runs.table_rows(rows), choices


def overlay(picked: list[str], request: gr.Request | None) -> dict:
    """chart -> a frame of its lines (one per run, named), and the settings that differ as table rows."""
    view = scrub_value(runs.compare(caller_of(request), picked or []))
    frames = {chart: _frame(runs.curve_rows(view["curves"].get(chart, {}))) for chart in CHARTS}
    names = [r["name"] for r in view["runs"]]
    names = [n if names.count(n) == 1 else f"{n} ({r['id']})" for n, r in zip(names, view["runs"])]
    differ = [[key, *(str(values.get(n)) for n in names)] for key, values in view["differ"].items()]
    return {"frames": frames, "differ": differ, "headers": ["setting", *names]}


def build() -> None:
    gr.Markdown(HELP)
    table = gr.Dataframe(headers=runs.COLUMNS, value=[], interactive=False, label="Training runs", wrap=True)
    with gr.Row():
        picked = gr.Dropdown(label="Runs to compare (2–6)", choices=[], multiselect=True, max_choices=runs.MAX_RUNS,
                             allow_custom_value=True,
                             scale=4, elem_id="experiments-pick")
        go = gr.Button("Compare", variant="primary", scale=1, elem_id="experiments-compare")
        refresh = gr.Button("Refresh", scale=1)
    plots = {}
    for pair in (["loss", "eval_loss"], ["reward", "lr"]):
        with gr.Row():
            for chart in pair:
                label, y = CHARTS[chart]
                plots[chart] = charts.line_plot(label, y, "run", "run", f"experiments-{chart}", height=260)
    differ = gr.Dataframe(headers=["setting"], value=[], interactive=False, label="Settings that differ",
                          wrap=True, elem_id="experiments-differ")
    with gr.Row():
        clone_pick = gr.Dropdown(label="Run to clone", choices=[], allow_custom_value=True, scale=4)
        clone = gr.Button("Clone into the Train tab", scale=1, elem_id="experiments-clone")

    @shows_errors
    def refreshed(request: gr.Request):
        rows, choices = listing(request)
        return rows, gr.Dropdown(choices=choices), gr.Dropdown(choices=choices)

    outs = [table, picked, clone_pick]
    on_load(refreshed, None, outs)
    on_show(refreshed, outs)
    refresh.click(refreshed, None, outs, **PRIVATE)

    @shows_errors
    def compared(chosen, request: gr.Request):
        out = overlay(chosen, request)
        return [*(out["frames"][c] for c in CHARTS), gr.Dataframe(value=out["differ"], headers=out["headers"])]

    go.click(compared, picked, [*plots.values(), differ], **PRIVATE)

    @shows_errors
    def send(run_id):
        if not run_id or not isinstance(run_id, str):
            raise gr.Error("Pick a run to clone first.")
        return bus.stamp(run_id), bus.goto("train")

    if bus.BUS.clone is not None and bus.BUS.tabs is not None:
        clone.click(send, clone_pick, [bus.BUS.clone, bus.BUS.tabs], **PRIVATE)
