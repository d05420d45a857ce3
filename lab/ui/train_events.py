"""The Train tab's events. Each handler converts widget values to a recipe and calls lab.train.panel."""
from __future__ import annotations

import gradio as gr

from lab import jobs
from lab.errors import LabError
from lab.train import lr_finder, panel
from lab.train.hf_jobs import HfJobSpec, submit_hf_job
from lab.ui import bus
from lab.ui.common import on_load, on_show, progress_bar_html, require_user, shows_errors, token_from, user_token

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
        note = " ".join(x for x in (f"Preset: {name}.", panel.preset_note(name)) if x)
        return [*(values[n] if values[n] is not None else None for n in FIELDS), r.to_yaml(), note]

    c["apply"].click(apply, [c["preset"], *form], [*form, c["yaml"], c["form_note"]], **PRIVATE)
    _wire_data(c)
    _wire_check(c, form)
    _wire_preview(c, form)
    _wire_lr(c, form)
    _wire_run(c, form)
    _wire_hf(c, form)


def _wire_data(c: dict) -> None:
    on_load(lambda: gr.Dropdown(choices=panel.dataset_choices()), None, c["artifacts"])
    on_show(lambda: gr.Dropdown(choices=panel.dataset_choices()), c["artifacts"])  # exported since the page loaded
    c["artifacts"].input(lambda v: v or gr.update(), c["artifacts"], c["dataset"], **PRIVATE)
    c["upload"].upload(shows_errors(lambda f: panel.stored_upload(f)), c["upload"], c["dataset"], **PRIVATE)
    if bus.BUS.train is not None:  # "Train on this" from the Artifacts tab
        bus.BUS.train.change(lambda v: bus.unstamp(v) or gr.update(), bus.BUS.train, c["dataset"], **PRIVATE)


def _wire_check(c: dict, form: list) -> None:
    @shows_errors
    def check(oauth_token: gr.OAuthToken | None, *args):  # the token first: gradio injects it by position
        out = panel.check(_recipe(*args), token=token_from(oauth_token))
        return out["markdown"], out["preview"], out["yaml"], out["trl_command"]

    c["check"].click(check, form, [c["report"], c["mask"], c["yaml"], c["trl"]], **PRIVATE)


def _user(profile) -> str | None:
    return getattr(profile, "username", None) if profile is not None else None


def _wire_preview(c: dict, form: list) -> None:
    @shows_errors
    def preview(oauth_token: gr.OAuthToken | None, profile: gr.OAuthProfile | None, *args):
        token = user_token(oauth_token, "Previewing rewards")
        out = panel.preview_rewards(_recipe(*args), token=token, user=_user(profile))
        return out["frame"], out["note"]

    c["preview_go"].click(preview, form, [c["preview_table"], c["preview_note"]], **PRIVATE)


def _wire_lr(c: dict, form: list) -> None:
    @shows_errors
    def go(oauth_token: gr.OAuthToken | None, steps, *args):
        sweep = lr_finder.LrSweep(steps=int(steps or 40))
        token = user_token(oauth_token, "Running the LR finder")
        job = lr_finder.submit(_recipe(*args), sweep, token=token)
        return job.id, f"LR sweep `{job.id}` {job.state}…", gr.Timer(active=True)

    c["lr_go"].click(go, [c["lr_steps"], *form], [c["lr_job"], c["lr_note"], c["lr_timer"]], **PRIVATE)

    def tick(job_id):
        if not job_id:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.Timer(active=False)
        s = panel.lr_status(job_id)
        if s["final"] and s["suggestion"]:
            note = (f"Suggested learning rate: **{s['suggestion']:.3g}** (the loss bottomed out at "
                    f"{s['lr_at_min']:.3g}). {s['note']}")
        else:
            note = f"**{s['state']}** · {s['message']}" + (f"\n\n{s['error'][:500]}" if s["error"] else "")
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


def _poll(job_id):
    """One timer tick of the live view."""
    if not job_id:
        return [gr.update()] * 9 + [gr.Timer(active=False), gr.update()] + [gr.update()] * 4
    s = panel.status(job_id)
    text = s["summary"] + (f"\n\n**Error:** {s['error'][:800]}" if s["error"] else "")
    keys = ("loss", "lr", "grad_norm", "tokens_per_s")
    curves = [panel.curve_frame(s[k]) if s[k] else None for k in keys]
    grpo = [panel.curve_frame(s[k]) if s[k] else None for k in ("rewards", "kl", "length")]
    samples = panel.samples_frame(s["samples"]) if s["samples"]["rows"] else None
    return [progress_bar_html(s["progress"], s["message"]), text, *curves, s["log"], s["merged"] or s["artifact"],
            gr.update(interactive=bool(s["artifact"])), gr.Timer(active=not s["final"]), s, *grpo, samples]


def _wire_run(c: dict, form: list) -> None:
    @shows_errors
    def start(oauth_token: gr.OAuthToken | None, profile: gr.OAuthProfile | None, *args):
        token = user_token(oauth_token, "Starting a training job")
        out = panel.start(_recipe(*args), token=token, user=_user(profile))
        return out["job_id"], out["message"], gr.Timer(active=True)

    c["start"].click(start, form, [c["job_id"], c["status"], c["timer"]], **PRIVATE)
    hidden = gr.JSON(visible=False)
    live = [c["bar"], c["status"], c["loss"], c["lr"], c["grad"], c["tps"], c["log"], c["artifact"], c["try_chat"],
            c["timer"], hidden, c["rewards_plot"], c["kl_plot"], c["length_plot"], c["samples"]]
    c["timer"].tick(_poll, c["job_id"], live, **PRIVATE, show_progress="hidden")
    c["job_id"].submit(lambda j: gr.Timer(active=bool(j)), c["job_id"], c["timer"], **PRIVATE)

    @shows_errors
    def cancel(job_id, oauth_token: gr.OAuthToken | None = None):
        require_user(oauth_token, "Cancelling a job")
        return jobs.cancel(job_id) if job_id else "No training job selected."

    c["cancel"].click(cancel, c["job_id"], c["status"], **PRIVATE)

    @shows_errors
    def resume(job_id, oauth_token: gr.OAuthToken | None = None):
        require_user(oauth_token, "Resuming a job")
        if not job_id:
            return "No training job selected.", gr.update()
        job = jobs.get_job(job_id)
        jobs.resume(job_id, token=token_from(oauth_token) if job.needs_token else None)
        return f"Job `{job_id}` queued to resume from its last checkpoint.", gr.Timer(active=True)

    c["resume"].click(resume, c["job_id"], [c["status"], c["timer"]], **PRIVATE)
    _wire_chat(c)
    _wire_publish(c)
    _wire_api()


def _wire_api() -> None:
    """Public API for clients (and tests): start from a recipe YAML, poll a job."""
    api_in = gr.Textbox(visible=False)
    api_out = gr.JSON(visible=False)

    @shows_errors
    def api_start(text, oauth_token: gr.OAuthToken | None = None, profile: gr.OAuthProfile | None = None):
        token = user_token(oauth_token, "Starting a training job")  # before the recipe is even read
        return panel.start(panel.TrainRecipe.from_yaml(text), token=token, user=_user(profile))

    gr.Button(visible=False).click(api_start, api_in, api_out, api_name="train_start")
    gr.Button(visible=False).click(shows_errors(panel.status), api_in, api_out, api_name="train_status")


def _wire_chat(c: dict) -> None:
    """Try it in Chat: the result goes to the Chat tab (its first model picker, or the app's request bus)."""
    root = gr.context.Context.root_block
    blocks = list(root.blocks.values()) if root is not None else []
    dropdown = next((b for b in blocks if isinstance(b, gr.Dropdown) and b.label == "Model 1"), None)
    targets = [t for t in (dropdown, bus.BUS.chat, bus.BUS.tabs) if t is not None]

    def try_chat(ref):
        out = []
        if dropdown is not None:
            from lab.chat.entry import model_choices

            out.append(gr.update(choices=model_choices(), value=ref))
        if bus.BUS.chat is not None:
            out.append(bus.stamp(ref))
        if bus.BUS.tabs is not None:
            out.append(bus.goto("chat"))
        return out

    if targets:
        c["try_chat"].click(try_chat, c["artifact"], targets, **PRIVATE)


def _wire_publish(c: dict) -> None:
    pub = c.get("publish")
    if not pub or "artifact" not in pub:
        return
    from lab.ui.publish_panel import artifact_choices

    c["artifact"].change(lambda a: gr.update(choices=artifact_choices(), value=a) if a else gr.update(),
                         c["artifact"], pub["artifact"], **PRIVATE)


def _wire_hf(c: dict, form: list) -> None:
    @shows_errors
    def submit(oauth_token: gr.OAuthToken | None, flavor, space, *args):
        out = submit_hf_job(_recipe(*args), flavor, token_from(oauth_token), HfJobSpec(code_space=space or ""))
        return f"Submitted [{out['job_id']}]({out['url']}) on {out['flavor']} ({out['status'] or 'scheduling'})."

    c["hf_go"].click(submit, [c["flavor"], c["space"], *form], c["hf_note"], **PRIVATE)
