"""The Train tab: presets, the recipe form (help from the recipe's field descriptions), the pre-launch check with
the loss mask and memory estimate, the LR finder, the run as a job with live curves, cancel/resume, Try it in
Chat, the trl command line, Hugging Face Jobs and publishing. The logic lives in lab.train.panel."""
from __future__ import annotations

import gradio as gr

from lab.hardware import get_hardware
from lab.train import distributed, lr_finder, panel
from lab.train.hf_jobs import FLAVORS, HfJobSpec
from lab.train.methods import METHODS
from lab.train.recipe import PRESETS, TrainRecipe, describe
from lab.ui import charts, downloads, publish_panel, recipe_loader, trackio_route, train_events

HELP = ("Fine-tune with **SFT** (learn to answer; loss on the answer only), **DPO** (learn which answer is "
        "better), **GRPO** (learn from your rewards on sampled answers), **KTO** (learn from thumbs up/down) or "
        "train a **reward model**, as full fine-tuning, **LoRA** or **QLoRA**. Start from a preset, press **Check** to see the loss "
        "mask, the memory estimate and the run's time (it times a few real steps), then **Start training**. The run "
        "is a background job: closing the tab does not stop it, and a cancelled or interrupted run resumes from its "
        "last checkpoint.")
COMMON_GROUPS = [
    ("", ["method", "model", "dataset", "adapter", "learning_rate", "epochs", "max_steps", "max_seq_length",
          "batch_size", "grad_accum", "auto_fit", "run_anyway"]),
    ("LoRA", ["lora_r", "lora_alpha", "lora_dropout", "target_modules"]),
    ("Data and loss", ["dataset_split", "max_rows", "eval_split", "eval_steps", "chat_template"]),
    ("Schedule and memory", ["warmup_ratio", "scheduler", "weight_decay", "seed", "gradient_checkpointing",
                             "use_cpu"]),
    ("Engine and speed", ["engine", "padding_free", "liger"]),
    ("Saving, Hub and tracking", ["save_steps", "save_total_limit", "merge", "output_name", "push_checkpoints_to",
                                  "push_to", "report_to", "trackio_space"]),
    ("Evaluate after training", ["eval_tasks"]),
    (distributed.GROUP, ["num_processes", "distributed"]),  # shown where there is more than one GPU, or on CPU
]
METHOD_GROUPS_AFTER = "Data and loss"  # an accordion a method names, and the form lacks, comes after this one


def _groups() -> list[tuple[str, list[str]]]:
    """The form's accordions: the common fields, with each method's own in the accordion its file names."""
    groups = {title: list(names) for title, names in COMMON_GROUPS}
    new: dict[str, list[str]] = {}
    for method in METHODS.values():
        (groups if method.form_group in groups else new).setdefault(method.form_group, []).extend(method.flat)
    out = []
    for title, names in groups.items():
        out += [(title, names), *(new.items() if title == METHOD_GROUPS_AFTER else [])]
    return out


GROUPS = _groups()
REWARDS_PLACEHOLDER = "format:^<answer>.*</answer>$\nexact@2"
REWARDS_NOTE = ("One reward per line, `NAME[:PARAM][@WEIGHT]`. **`python:FILE.py` runs your own code** in the "
                "training job: only for the owner of this lab, never on the public demo. Preview scores a few "
                "answers sampled from the base model with the run's settings.")
LABELS = {"lr": "learning rate", "max_seq_length": "max sequence length", "grad_accum": "gradient accumulation",
          "padding_free": "padding-free batches (SFT)", "liger": "Liger kernels",
          "auto_fit": "the lab may lower, to fit memory", "run_anyway": "run anyway (even if it won't fit)"}


def _widget(name: str, default):
    kind, choices = panel.field_kind(name)
    kw = dict(label=LABELS.get(name, name.replace("_", " ")), info=describe(name), elem_id=f"train-{name}")
    if kind == "radio":
        return gr.Radio(choices, value=default, **kw)
    if kind == "check":
        return gr.Checkbox(value=default, **kw)
    if kind == "checks":
        return gr.CheckboxGroup(choices, value=default, **kw)
    if kind == "lines":
        return gr.Textbox(value=default or "", lines=3, placeholder=REWARDS_PLACEHOLDER, **kw)
    if kind in ("int", "float"):
        return gr.Number(value=default, precision=0 if kind == "int" else None, **kw)
    return gr.Textbox(value=default or "", **kw)


def _form() -> dict:
    defaults, c = panel.form_from_recipe(TrainRecipe()), {}
    for title, names in GROUPS:
        shown = title != distributed.GROUP or distributed.offered(get_hardware())
        with (gr.Accordion(title, open=False, visible=shown) if title else gr.Group()):
            for name in names:
                c[name] = _widget(name, defaults[name])
                if name == "dataset":
                    with gr.Row():
                        c["artifacts"] = gr.Dropdown([], label="Dataset artifacts", allow_custom_value=True, scale=3)
                        c["upload"] = gr.UploadButton("Upload a file", file_types=[".json", ".jsonl", ".parquet",
                                                                                   ".csv"], scale=1)
                if name == "rewards":
                    c.update(_reward_preview())
    return c


def _reward_preview() -> dict:
    gr.Markdown(REWARDS_NOTE)
    c = {"preview_go": gr.Button("Preview the rewards on the base model's answers", size="sm")}
    c["preview_table"] = gr.Dataframe(label="Sampled answers and their rewards", interactive=False, wrap=True,
                                      elem_id="train-reward-preview")
    c["preview_note"] = gr.Markdown(elem_id="train-reward-preview-note")
    return c


def _plot(chart: str, label: str, y: str, elem_id: str) -> gr.LinePlot:
    # the legend is titled by the chart (its lines are named in lab.train.panel), not by the column "series"
    return charts.line_plot(label, y, "series", panel.LEGENDS[chart], elem_id)


def _layout() -> dict:
    gr.Markdown(HELP)
    with gr.Row(equal_height=True):
        preset = gr.Dropdown(list(PRESETS), label="Preset", value=None, scale=3)
        apply = gr.Button("Apply preset", scale=1)
        load_recipe = recipe_loader.place("train-load-recipe")
    with gr.Row():
        with gr.Column(scale=3):
            c = _form()
        with gr.Column(scale=2):
            c["yaml"] = gr.Code(TrainRecipe().to_yaml(), language="yaml", interactive=False,
                                label="Recipe: run it headless with `python -m lab train recipe.yaml`")
            c["trl"] = gr.Code(language="shell", interactive=False, label="The same run with the trl CLI")
            c["form_note"] = gr.Markdown()
    c.update(preset=preset, apply=apply, load_recipe=load_recipe)
    c["check"] = gr.Button("Check (before launch)")
    c["report"] = gr.Markdown()
    c["time"] = gr.Markdown()  # the run's wall time, from a short timed probe (a second event after the report)
    c["mask"] = gr.HighlightedText(label="One sample through the chat template: the highlighted tokens are trained",
                                   color_map={"trained": "green", "label": "gray"}, combine_adjacent=True)
    with gr.Accordion("Learning-rate finder", open=False):
        with gr.Row(equal_height=True):
            c["lr_steps"] = gr.Number(40, precision=0, minimum=10, maximum=100, label="Sweep steps",
                                      info=lr_finder.LrSweep.model_fields["steps"].description)
            c["lr_go"] = gr.Button("Find the learning rate")
            c["lr_use"] = gr.Button("Use this rate", interactive=False)
        c["lr_job"] = gr.Textbox(visible=False)
        c["lr_note"] = gr.Markdown()
        c["lr_plot"] = gr.Image(label="Loss against learning rate", type="filepath", height=300)
        c["lr_value"] = gr.Number(visible=False)
        c["lr_timer"] = gr.Timer(2.0, active=False)
    return {**c, **_run_layout()}


def _run_layout() -> dict:
    c = {}
    with gr.Row():
        c["start"] = gr.Button("Start training", variant="primary")
        c["cancel"] = gr.Button("Cancel", variant="stop")
        c["resume"] = gr.Button("Resume")
        c["try_chat"] = gr.Button("Try it in Chat", interactive=False)
    c["job_id"] = gr.Textbox(label="Training job", interactive=True, elem_id="train-job")
    c["bar"] = gr.HTML("", elem_id="train-progress")  # drawn once a job is picked
    c["status"] = gr.Markdown(elem_id="train-status")
    gr.Markdown(trackio_route.LINK, elem_id="train-trackio")
    with gr.Row():
        c["loss"] = _plot("loss", "Loss (train and eval)", "loss", "train-loss")
        c["lr"] = _plot("lr", "Learning rate", "lr", "train-lr")
    with gr.Row():
        c["grad"] = _plot("grad_norm", "Gradient norm", "grad norm", "train-grad")
        c["tps"] = _plot("tokens_per_s", "Tokens per second", "tokens/s", "train-tps")
    with gr.Accordion("GRPO: rewards and sample completions", open=True):
        with gr.Row():
            c["rewards_plot"] = _plot("rewards", "Reward per step: each reward's mean and the total", "reward",
                                      "train-reward-curves")
            c["kl_plot"] = _plot("kl", "KL, clipped answers and clipped ratio", "value", "train-kl")
        c["length_plot"] = _plot("length", "Completion length", "tokens", "train-length")
        c["samples"] = gr.Dataframe(label="Sample completions of the latest logged step, with their rewards",
                                    interactive=False, wrap=True, elem_id="train-samples")
    c["log"] = gr.Code(label="Log (live)", language=None, lines=10, interactive=False)
    c["artifact"] = gr.Textbox(label="Result", interactive=False, elem_id="train-result")
    c["download"], c["download_files"] = downloads.place("Download the result (zip)", "train-download")
    c["timer"] = gr.Timer(2.0, active=False)
    with gr.Accordion("Run on Hugging Face Jobs", open=False):
        with gr.Row(equal_height=True):
            c["flavor"] = gr.Dropdown(FLAVORS, value="a10g-small", label="Flavor",
                                      info=HfJobSpec.model_fields["flavor"].description)
            c["space"] = gr.Textbox(label="Code Space", info=HfJobSpec.model_fields["code_space"].description)
        c["hf_go"] = gr.Button("Submit to Hugging Face Jobs")
        c["hf_note"] = gr.Markdown()
    with gr.Accordion("Publish the result", open=False):
        c["publish"] = publish_panel.build(api_name=None)
    return c


def build() -> None:
    c = _layout()
    train_events.wire(c)
    downloads.wire(c["download"], c["artifact"], c["download_files"])
    recipe_loader.wire_train(c["load_recipe"], c)
