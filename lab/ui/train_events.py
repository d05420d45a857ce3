"""The Train tab's events. Each handler converts widget values to a recipe and calls lab.train.panel."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from lab import jobs
from lab.errors import LabError
from lab.jobs import owners
from lab.shown import for_visitor, scrub, scrub_value
from lab.train import lr_finder, panel
from lab.train.hf_jobs import HfJobSpec, submit_hf_job
from lab.ui import bus, charts, follow, runs_clone
from lab.ui.common import caller_of, cancel_job, on_load, on_show, progress_bar_html, shows_errors
from lab.ui.publish_panel import artifact_choices

PRIVATE = {"api_visibility": "private"}
FIELDS = panel.FIELDS


def _values(*args) -> dict:
    return dict(zip(FIELDS, args))


def _recipe(*args):
    return panel.recipe_from_form(_values(*args))




def wire(c: dict) -> None:
    form = [c[name] for name in FIELDS]

    def yaml_of(*args):
        try:
            return _recipe(*args).to_yaml(), ""
        except LabError as exc:
            return gr.update(), f"⚠️ {exc}"

    pinnable = ("batch_size", "max_seq_length")
    for name in FIELDS:
        if name in pinnable:  # a value typed by the user is theirs: the lab keeps it (off the auto_fit list)
            c[name].input(lambda auto, n=name: [f for f in auto or [] if f != n], c["auto_fit"], c["auto_fit"],
                          **PRIVATE).then(yaml_of, form, [c["yaml"], c["form_note"]], **PRIVATE)
        else:
            c[name].input(yaml_of, form, [c["yaml"], c["form_note"]], **PRIVATE)

    @shows_errors
    def apply(name, *args):
        if not name:
            raise LabError("No preset picked.", "Pick one in the Preset list, then apply it.", "preset")
        r = panel.apply_preset(name, _values(*args))
        values = panel.form_from_recipe(r)
        note = " ".join(x for x in (f"Preset: {name}.", panel.preset_note(name, r)) if x)
        return [*(values[n] if values[n] is not None else None for n in FIELDS), r.to_yaml(), note]

    c["apply"].click(apply, [c["preset"], *form], [*form, c["yaml"], c["form_note"]], **PRIVATE)
    _wire_data(c)
    _wire_check(c, form)
    _wire_preview(c, form)
    _wire_lr(c, form)
    _wire_run(c, form)
    _wire_hf(c, form)
    runs_clone.wire(c, FIELDS)


def _wire_data(c: dict) -> None:
    def choices(request: gr.Request):
        return gr.Dropdown(choices=panel.dataset_choices(caller_of(request)))

    on_load(choices, None, c["artifacts"])
    on_show(choices, c["artifacts"])  # exported since the page loaded
    c["artifacts"].input(lambda v: v or gr.update(), c["artifacts"], c["dataset"], **PRIVATE)

    def upload(f, request: gr.Request):
        return panel.stored_upload(f, caller_of(request))

    c["upload"].upload(shows_errors(upload), c["upload"], c["dataset"], **PRIVATE)
    if bus.BUS.train is not None:  # "Train on this" from the Artifacts tab
        bus.BUS.train.change(lambda v: bus.unstamp(v) or gr.update(), bus.BUS.train, c["dataset"], **PRIVATE)


def _wire_check(c: dict, form: list) -> None:
    @shows_errors
    def check(request: gr.Request, *args):  # the request first: gradio injects it by position
        caller = caller_of(request)
        out = panel.check(_recipe(*args), token=caller.hub_token(), caller=caller, timed=False)
        return scrub(out["markdown"]), out["preview"], scrub(out["yaml"]), scrub(out["trl_command"]), \
            f"**Time:** timing {panel.probe.PROBE_STEPS} real steps of this recipe (a minute or two)…"

    @shows_errors
    def timed(request: gr.Request, *args):  # second: the report above is already shown while the probe runs
        caller = caller_of(request)
        try:
            return scrub(panel.time_estimate(_recipe(*args), token=caller.hub_token(), caller=caller)["markdown"])
        except LabError as exc:  # said where the time would be, not left at "timing…"
            return scrub(f"**Time:** not timed. {exc}")

    c["check"].click(check, form, [c["report"], c["mask"], c["yaml"], c["trl"], c["time"]], **PRIVATE).success(
        timed, form, c["time"], **PRIVATE)


def _wire_preview(c: dict, form: list) -> None:
    @shows_errors
    def preview(request: gr.Request, *args):
        caller = caller_of(request)
        caller.require_signed_in("Previewing rewards")
        out = panel.preview_rewards(_recipe(*args), caller)
        return out["frame"], scrub(out["note"])

    c["preview_go"].click(preview, form, [c["preview_table"], c["preview_note"]], **PRIVATE)


def _wire_lr(c: dict, form: list) -> None:
    @shows_errors
    def go(request: gr.Request, steps, *args):
        jobs.check_allowed("train.lr_find")
        caller = caller_of(request)
        caller.require_signed_in("Running the LR finder")
        sweep = lr_finder.LrSweep(steps=int(steps or 40))
        recipe = _recipe(*args)
        panel.check_access(recipe, caller)
        job = lr_finder.submit(recipe, sweep, token=caller.hub_token(), owner=caller.key)
        return job.id, f"LR sweep `{job.id}` {job.state}…", gr.Timer(active=True)

    c["lr_go"].click(go, [c["lr_steps"], *form], [c["lr_job"], c["lr_note"], c["lr_timer"]], **PRIVATE)

    def tick(job_id, request: gr.Request):
        if not job_id:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.Timer(active=False)
        s = panel.lr_status(job_id, caller_of(request))
        if s["final"] and s["suggestion"]:
            note = (f"Suggested learning rate: **{s['suggestion']:.3g}** (the loss bottomed out at "
                    f"{s['lr_at_min']:.3g}). {s['note']}")
        else:
            note = scrub(f"**{s['state']}** · {s['message']}" + (f"\n\n{s['error'][:500]}" if s["error"] else ""))
        return note, s["plot"], s["suggestion"], gr.update(interactive=bool(s["suggestion"])), \
            gr.Timer(active=not s["final"])

    c["lr_timer"].tick(tick, c["lr_job"], [c["lr_note"], c["lr_plot"], c["lr_value"], c["lr_use"], c["lr_timer"]],
                       **PRIVATE)

    def use(value, *args):
        values = {**_values(*args), "learning_rate": value}
        return value, *_yaml_pair(values)

    c["lr_use"].click(use, [c["lr_value"], *form], [c["learning_rate"], c["yaml"], c["form_note"]], **PRIVATE)


def _yaml_pair(values: dict):
    try:
        return panel.recipe_from_form(values).to_yaml(), ""
    except LabError as exc:
        return gr.update(), f"⚠️ {exc}"


def _poll(job_id, last, request: gr.Request):
    """One timer tick of the live view (of a job the caller may see); `last` is the status the tick before showed,
    so a chart is redrawn only when its curve changed."""
    if not job_id:
        return [gr.update()] * 9 + [gr.Timer(active=False), gr.update()] + [gr.update()] * 4
    try:
        s = scrub_value(panel.status(job_id.strip(), caller_of(request)))
    except LabError as exc:  # a typed id that is no job of the caller's: said once, and the timer stops
        return [gr.update(), for_visitor(f"⚠️ {exc.what} {exc.fix}")] + [gr.update()] * 7 + [gr.Timer(active=False)] + \
            [gr.update()] * 5
    text = s["summary"] + (f"\n\n**Error:** {s['error'][:800]}" if s["error"] else "")
    keys = ("loss", "lr", "grad_norm", "tokens_per_s")
    last = last if isinstance(last, dict) else {}
    curves = [_curve(s, last, k) for k in keys]
    grpo = [_curve(s, last, k) for k in ("rewards", "kl", "length")]
    samples = panel.samples_frame(s["samples"]) if s["samples"]["rows"] else None
    result = Path(s["merged"] or s["artifact"]).name if (s["merged"] or s["artifact"]) else ""
    return [progress_bar_html(s["progress"], s["message"]), text, *curves, s["log"], result,
            gr.update(interactive=bool(s["artifact"])), gr.Timer(active=not s["final"]), s, *grpo, samples]


def _curve(status: dict, last: dict, key: str):
    return charts.redrawn(status[key], last.get(key), panel.curve_frame)


def _form_of(job) -> list:
    """The form as a training job's recipe set it (a page that comes back to the job shows it, not a blank form)."""
    r = panel.TrainRecipe.from_yaml(job.recipe)
    values = panel.form_from_recipe(r)
    return [*(values[n] for n in FIELDS), r.to_yaml()]


def _wire_run(c: dict, form: list) -> None:
    @shows_errors
    def start(request: gr.Request, *args):
        out = panel.start(_recipe(*args), caller_of(request))
        return out["job_id"], out["message"], gr.Timer(active=True)

    follow.mark_url(c["start"].click(start, form, [c["job_id"], c["status"], c["timer"]], **PRIVATE), c["job_id"])
    follow.attach("train", c["job_id"], c["timer"], form=([*form, c["yaml"]], _form_of))
    hidden = gr.JSON(visible=False)
    live = [c["bar"], c["status"], c["loss"], c["lr"], c["grad"], c["tps"], c["log"], c["artifact"], c["try_chat"],
            c["timer"], hidden, c["rewards_plot"], c["kl_plot"], c["length_plot"], c["samples"]]
    c["timer"].tick(_poll, [c["job_id"], hidden], live, **PRIVATE, show_progress="hidden")
    c["job_id"].submit(lambda j: gr.Timer(active=bool(j)), c["job_id"], c["timer"], **PRIVATE)

    @shows_errors
    def cancel(job_id, request: gr.Request):
        return cancel_job(request, job_id, "Cancelling a job", "No training job selected.", "Cancelling")

    c["cancel"].click(cancel, c["job_id"], c["status"], **PRIVATE)

    @shows_errors
    def resume(job_id, request: gr.Request):
        caller = caller_of(request)
        caller.require_signed_in("Resuming a job")
        if not job_id:
            return "No training job selected.", gr.update()
        job = owners.job_to_act_on(caller, job_id, "Resuming")
        jobs.resume(job.id, token=caller.hub_token() if job.needs_token else None)
        return f"Job `{job.id}` queued to resume from its last checkpoint.", gr.Timer(active=True)

    c["resume"].click(resume, c["job_id"], [c["status"], c["timer"]], **PRIVATE)
    _wire_chat(c)
    _wire_publish(c)
    _wire_api()


def _wire_api() -> None:
    """Public API for clients (and tests): start from a recipe YAML, poll a job."""
    api_in = gr.Textbox(visible=False)
    api_out = gr.JSON(visible=False)

    @shows_errors
    def api_start(text, request: gr.Request):
        jobs.check_allowed("train.sft")  # the demo trains nothing: refused before the recipe is even read
        caller = caller_of(request)
        caller.require_signed_in("Starting a training job")
        return panel.start(panel.TrainRecipe.from_yaml(text), caller)

    @shows_errors
    def api_status(job_id, request: gr.Request):
        return scrub_value(panel.status(job_id, caller_of(request)))

    gr.Button(visible=False).click(api_start, api_in, api_out, api_name="train_start")
    gr.Button(visible=False).click(api_status, api_in, api_out, api_name="train_status")


def _wire_chat(c: dict) -> None:
    """Try it in Chat: the result goes to the Chat tab through the app's request bus (beside the base model, in
    one pane: see chat_tab.pane_for), and the Chat tab opens."""
    targets = [t for t in (bus.BUS.chat, bus.BUS.tabs) if t is not None]

    def try_chat(ref):
        out = [bus.stamp(ref)] if bus.BUS.chat is not None else []
        return out + ([bus.goto("chat")] if bus.BUS.tabs is not None else [])

    if targets:
        c["try_chat"].click(try_chat, c["artifact"], targets, **PRIVATE)


def _wire_publish(c: dict) -> None:
    pub = c.get("publish")
    if not pub or "artifact" not in pub:
        return

    def pick(a, request: gr.Request):
        return gr.update(choices=artifact_choices(caller_of(request)), value=a) if a else gr.update()

    c["artifact"].change(pick, c["artifact"], pub["artifact"], **PRIVATE)


def _wire_hf(c: dict, form: list) -> None:
    @shows_errors
    def submit(request: gr.Request, flavor, space, *args):
        caller = caller_of(request)
        caller.require_signed_in("Submitting to Hugging Face Jobs")
        recipe = _recipe(*args)
        panel.check_access(recipe, caller)
        out = submit_hf_job(recipe, flavor, caller.hub_token(), HfJobSpec(code_space=space or ""))
        return f"Submitted [{out['job_id']}]({out['url']}) on {out['flavor']} ({out['status'] or 'scheduling'})."

    c["hf_go"].click(submit, [c["flavor"], c["space"], *form], c["hf_note"], **PRIVATE)
