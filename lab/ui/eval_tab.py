"""The Evaluate tab: models, custom and open tasks, settings and the judge; the run as an `eval` job; then the
leaderboard, the per-task chart, the sample viewer and the downloads. The logic lives in lab.eval (board, report);
events are wired in eval_events."""
from __future__ import annotations

import gradio as gr

from lab.eval import catalog
from lab.eval.recipe import CustomTask, JudgeSettings, describe
from lab.settings import DEFAULT_MODEL
from lab.ui import eval_events, eval_strings as S, recipe_loader

KINDS = ["auto", "multiple_choice", "exact_match", "judge"]
EXTRACTS = [("whole reply", "whole"), ("last number", "last_number"), ("first line", "first_line"),
            ("regex", "regex")]
JUDGE_FIELDS = ["backend", "model", "endpoint", "api_key_env", "mode", "reference_model", "rubric"]


def _tasks(c: dict) -> None:
    with gr.Row():
        with gr.Column():
            gr.Markdown(S.CUSTOM)
            c["files"] = gr.File(label=S.FILES, file_count="multiple", type="filepath", elem_id="eval-files",
                                 file_types=[".jsonl", ".json", ".csv", ".parquet"])
            c["hub"] = gr.Textbox(label=S.HUB, info=describe("hub", CustomTask))
            c["kind"] = gr.Radio(KINDS, value="auto", label=S.KIND, info=describe("kind", CustomTask))
            with gr.Row():
                c["extract"] = gr.Radio(EXTRACTS, value="whole", label=S.EXTRACT, info=describe("extract", CustomTask),
                                        elem_id="eval-extract")
                c["regex"] = gr.Textbox(label=S.REGEX, info=describe("regex", CustomTask))
            c["extract_go"] = gr.Button(S.EXTRACT_PREVIEW, size="sm", elem_id="eval-extract-preview")
            c["extract_note"] = gr.Markdown(elem_id="eval-extract-note")
            c["extract_table"] = gr.Dataframe(label=S.EXTRACT_TABLE, interactive=False, wrap=True, visible=False,
                                              elem_id="eval-extract-table")
        with gr.Column():
            c["open"] = gr.Dropdown(catalog.choices(), multiselect=True, label=S.OPEN, elem_id="eval-open")
            c["names"] = gr.Textbox(label=S.OPEN_NAMES)
            c["open_note"] = gr.Markdown(elem_id="eval-open-note")


def _settings(c: dict) -> None:
    with gr.Row():
        c["limit"] = gr.Textbox(label="limit", placeholder="every item", info=describe("limit"))
        c["fewshot"] = gr.Textbox(label="few-shot", placeholder="each task's default", info=describe("num_fewshot"))
        c["chat"] = gr.Radio(["auto", "on", "off"], value="auto", label="chat template", info=describe("chat_template"))
        c["batch"] = gr.Number(8, precision=0, minimum=1, label="batch size", info=describe("batch_size"))
    with gr.Accordion(S.JUDGE, open=False):
        defaults = JudgeSettings()
        c["judge"] = {}
        with gr.Row():
            c["judge"]["backend"] = gr.Radio(["local", "openai"], value="local", label="backend",
                                             info=describe("backend", JudgeSettings))
            c["judge"]["mode"] = gr.Radio(["single", "pairwise"], value="single", label="mode",
                                          info=describe("mode", JudgeSettings))
        with gr.Row():
            for name in ("model", "endpoint", "api_key_env", "reference_model"):
                c["judge"][name] = gr.Textbox(getattr(defaults, name), label=name.replace("_", " "),
                                              info=describe(name, JudgeSettings))
        c["judge_key"] = gr.Textbox(label=S.JUDGE_KEY, type="password", info=S.JUDGE_KEY_INFO, elem_id="eval-judge-key")
        c["judge"]["rubric"] = gr.Textbox(label="rubric", lines=3, info=describe("rubric", JudgeSettings))


def _results(c: dict) -> None:
    with gr.Row(equal_height=True):
        c["past"] = gr.Dropdown([], label=S.PAST, scale=4, elem_id="eval-past")
        c["show"] = gr.Button(S.LOAD, scale=1)
    c["board"] = gr.Dataframe(label=S.LEADERBOARD, interactive=False, wrap=True, elem_id="eval-leaderboard")
    c["chart"] = gr.Plot(label=S.CHART, elem_id="eval-chart")
    c["notes"] = gr.Markdown(elem_id="eval-notes")
    with gr.Accordion(S.SAMPLES, open=True):
        with gr.Row():
            c["sample_task"] = gr.Dropdown([], label=S.SAMPLE_TASK, scale=2)
            c["worse"] = gr.Checkbox(False, label=S.WORSE, scale=2)
        c["samples"] = gr.Dataframe(interactive=False, wrap=True, elem_id="eval-samples")
        c["samples_note"] = gr.Markdown(elem_id="eval-samples-note")
    with gr.Row():
        c["bundle"] = gr.File(label=S.DOWNLOAD, interactive=False)
        c["results_file"] = gr.File(label=S.RESULTS, interactive=False)
    c["commands"] = gr.Code(language="shell", interactive=False, label=S.COMMANDS)


def build() -> dict:
    gr.Markdown(S.HELP)
    c: dict = {}
    c["models"] = gr.Dropdown([], value=[DEFAULT_MODEL], multiselect=True, allow_custom_value=True,
                              max_choices=6, label=S.MODELS, info=describe("models"), elem_id="eval-models")
    _tasks(c)
    _settings(c)
    with gr.Row():
        c["estimate"] = gr.Button(S.ESTIMATE)
        c["run"] = gr.Button(S.RUN, variant="primary", elem_id="eval-run")
        c["cancel"] = gr.Button(S.CANCEL, variant="stop")
        c["load_recipe"] = recipe_loader.place("eval-load-recipe")
    c["report"] = gr.Markdown(elem_id="eval-report")
    c["progress"] = gr.HTML()
    c["status"] = gr.Markdown(elem_id="eval-status")
    c["job_id"] = gr.Textbox(label="Evaluation job", info="A job id (from the Jobs tab); Enter follows it.",
                             elem_id="eval-job")
    c["out"] = gr.State("")
    c["timer"] = gr.Timer(2.0, active=False)
    _results(c)

    eval_events.wire(c)
    recipe_loader.wire_eval(c["load_recipe"], c)
    return c
