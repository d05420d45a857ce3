"""The Data tab's events. Each handler converts widget values, calls the Session, and formats what it returns.

Public endpoints (also for gradio_client): data_load, data_hub_preview, data_run (takes the recipe YAML and the
judge's API key), data_explore (the same), data_export. Everything else is internal (api_visibility="private").
Every handler asks who is calling (caller_of) and hands that caller to the core, which decides; Hub calls carry
the caller's own token. The CPU-heavy ones (load, run, explore) share a concurrency limit, so they never take
every worker of the app, and lab.data.policy lets each visitor run one at a time.
"""
from __future__ import annotations

import gradio as gr

from lab.data import session as core
from lab.data.explore import map_figure
from lab.data.formats import FORMATS
from lab.data.load import hub_preview
from lab.data.recipe import FilterRecipe, Source
from lab.errors import LabError
from lab.jobs.manager import check_allowed
from lab.jobs.owners import job_for
from lab.settings import get_settings
from lab.shown import for_visitor
from lab.tour.starters import starter
from lab.ui import data_strings as S, follow
from lab.ui.common import caller_of, progress_bar_html, shows_errors

PRIVATE = {"api_visibility": "private"}
HEAVY = {"concurrency_id": "data-cpu", "concurrency_limit": 2}  # in-process data work: at most two at once


def recipe_yaml(sess: core.Session, form: str, values: list) -> str:
    if not sess.sources:
        return ""
    return FilterRecipe(sources=sess.sources, steps=core.steps_from_widgets(values), form=form).to_yaml()


def _from_widgets(c, event):
    """event (a button's .click or an event's .success) → the recipe YAML rebuilt from the step widgets."""
    return event(shows_errors(lambda s, f, *v: recipe_yaml(s, f, list(v))), [c.state, c.form, *c.controls],
                 c.recipe, **PRIVATE)


def _mapping(fields: list[str], ask: dict | None) -> list:
    if ask is None:
        return [gr.Group(visible=False), "", gr.skip()] + [gr.Dropdown(visible=False)] * len(fields)
    first = ask["candidates"][0] if ask["candidates"] else None
    return ([gr.Group(visible=True), S.MAPPING.format(why=ask["why"]), gr.Dropdown(value=first)] +
            [gr.Dropdown(choices=[""] + ask["columns"], value=f if f in ask["columns"] else "",
                         visible=bool(first) and f in FORMATS[first].fields) for f in fields])


def _loaded(sess: core.Session, out: dict, form: str, fields: list[str]) -> list:
    if "mapping" in out:
        return ["", None, ""] + _mapping(fields, out["mapping"])
    info = out["loaded"]
    sources = ", ".join(f"{s['source']} ({s['format']}, {s['rows']} rows)" for s in info["sources"])
    defaults = [core.widget(k, n)[1] for k in core.step_order() for n in core.step_fields(k)]
    status = S.LOADED.format(rows=info["rows"], form=info["form"], sources=sources)
    if info.get("warning"):
        status += "\n\n" + S.SHORT_ROWS.format(warning=info["warning"])
    return [status, info["preview"],
            recipe_yaml(sess, form, defaults)] + _mapping(fields, None)


def review_outputs(review: dict) -> tuple:
    reasons = list(review["report"]["removed"])
    first = reasons[0] if reasons else None
    return (core.funnel_rows(review), core.funnel_figure(review), gr.Dropdown(choices=reasons, value=first),
            core.sample_rows(review, first) if first else [], core.group_rows(review), review)


def ran(review: dict) -> str:
    """The run's status line, then each step's warning about its result."""
    return "\n\n".join([S.RAN.format(**review["report"]), *core.warnings(review)])


def _wire_load(c) -> None:
    def load(sess, files=None, hub=None, config=None, split=None, limit=None, form=None,
             request: gr.Request = None):
        caller = caller_of(request)
        sources = sess.upload_sources(files or [], owner=caller.key)
        if (hub or "").strip():
            sources.append(Source(hub=hub.strip(), config=config or "", split=split or "train",
                                  limit=int(limit) if limit else None))
        form = form or "auto"
        return _loaded(sess, sess.load_or_ask(sources, form, caller.hub_token(), caller), form, c.map_fields)

    outputs = [c.status, c.preview, c.recipe, c.map_box, c.map_note, c.fmt, *c.map_dd]
    _from_widgets(c, c.load.click(shows_errors(load), [c.state, c.files, c.hub, c.config, c.split, c.limit, c.form],
                                  outputs, api_name="data_load", **HEAVY).success)

    def preview(hub_id, cfg, split, request: gr.Request = None):
        if not (hub_id or "").strip():  # else the Source model refuses it with a raw validation message
            raise LabError("No Hub dataset id given.", S.NEED_HUB_ID, "hub")
        return hub_preview(Source(hub=(hub_id or "").strip(), config=cfg or "", split=split or "train"),
                           token=caller_of(request).hub_token())

    c.hub_preview.click(shows_errors(preview), [c.hub, c.config, c.split], c.preview, api_name="data_hub_preview")
    c.fmt.change(lambda f: [gr.Dropdown(visible=bool(f) and x in FORMATS[f].fields) for x in c.map_fields],
                 c.fmt, c.map_dd, **PRIVATE)

    def apply(sess, form, fmt, *cols, request: gr.Request = None):
        caller = caller_of(request)
        out = sess.apply_mapping(fmt, dict(zip(c.map_fields, cols)), caller.hub_token(), caller)
        return _loaded(sess, out, form, c.map_fields)

    _from_widgets(c, c.map_apply.click(shows_errors(apply), [c.state, c.form, c.fmt, *c.map_dd], outputs,
                                       **PRIVATE, **HEAVY).success)


def _wire_starters(c) -> None:
    """One click on a starting point loads it (lab.tour.starters): the Hub ones with the caller's own token."""
    def load_starter(sess, key=None, form=None, request: gr.Request = None):
        caller = caller_of(request)
        picked = starter(key, get_settings().on_space)
        source, form = picked.source(caller), form or "auto"
        shown = _loaded(sess, sess.load_or_ask([source], form, caller.hub_token(), caller), form, c.map_fields)
        return [*shown, source.hub, source.config, source.split if source.hub else "train", source.limit]

    outputs = [c.status, c.preview, c.recipe, c.map_box, c.map_note, c.fmt, *c.map_dd, c.hub, c.config, c.split,
               c.limit]
    _from_widgets(c, c.starter.input(shows_errors(load_starter), [c.state, c.starter, c.form], outputs,
                                     api_name="data_starter", **HEAVY).success)


def _wire_run(c) -> None:
    outputs = [c.run_status, c.job_id, c.timer, c.bar, c.funnel, c.funnel_plot, c.reason, c.samples, c.groups,
               c.review]
    keep = [gr.skip()] * 6

    def run(sess, recipe, judge_key=None, request: gr.Request = None):
        caller = caller_of(request)
        if (recipe or "").strip() and sess.needs_job(FilterRecipe.from_yaml(recipe)):
            check_allowed("data.run")  # off on the demo, before anything else
            caller.require_signed_in("Running a filter as a background job")  # small runs stay open to all
        out = sess.run_yaml(recipe, caller.hub_token(), caller, judge_key or "")
        if "job" in out:
            return (S.JOB_STARTED.format(job=out["job"]), out["job"], gr.Timer(active=True),
                    gr.HTML(progress_bar_html(0), visible=True), *keep)
        return (ran(out), "", gr.Timer(active=False), gr.HTML(visible=False),
                *review_outputs(out))

    started = _from_widgets(c, c.run.click).success(shows_errors(run), [c.state, c.recipe, c.judge_key], outputs,
                                                    api_name="data_run", **HEAVY)
    follow.mark_url(started, c.job_id)
    follow.attach("data", c.job_id, c.timer)

    def poll(sess, job_id, request: gr.Request = None):
        job = job_for(caller_of(request), job_id)
        message = for_visitor(job.message or "")
        if not job.final:
            return (message, job_id, gr.Timer(active=True),
                    gr.HTML(progress_bar_html(job.progress, message), visible=True), *keep)
        if job.state != "succeeded":
            line = for_visitor(job.error.splitlines()[0][:400]) if job.error else ""
            return (f"❌ {job.state}: {line}", job_id, gr.Timer(active=False), gr.HTML(visible=False), *keep)
        if sess.job_id != job.id:  # a job this page followed (a reload, the Jobs tab): its folder is the result
            sess.job_id, sess.folder, sess.result = job.id, job.folder, None
        out = sess.job_review()
        return (ran(out), job_id, gr.Timer(active=False), gr.HTML(visible=False),
                *review_outputs(out))

    c.timer.tick(shows_errors(poll), [c.state, c.job_id], outputs, show_progress="hidden", **PRIVATE)
    c.reason.change(lambda rv, r: core.sample_rows(rv, r) if rv and r else [], [c.review, c.reason], c.samples,
                    **PRIVATE)


def _wire_explore(c) -> None:
    def explore(sess, recipe, judge_key=None, request: gr.Request = None):
        caller = caller_of(request)
        steps = {s.type: s for s in FilterRecipe.from_yaml(recipe or "{}").steps}
        ex = sess.explore(steps.get("clusters"), steps.get("judge"), caller.hub_token(), caller=caller,
                          judge_key=judge_key or "")
        lengths, scores = sess.histograms()
        return map_figure(ex), ex.sizes(), lengths, scores

    _from_widgets(c, c.explore.click).success(shows_errors(explore), [c.state, c.recipe, c.judge_key],
                                               [c.map_plot, c.sizes, c.len_plot, c.score_plot], api_name="data_explore",
                                               **HEAVY)
    c.show.click(shows_errors(lambda s, n: s.cluster_rows(int(n or 0))), [c.state, c.cluster_no], c.cluster_rows,
                 **PRIVATE)
    drops, enabled = c.widgets[("clusters", "drop")], c.widgets[("clusters", "enabled")]

    def edit(text, n, add: bool):
        rest = [x for x in core.field_value("clusters", "drop", text) if x != int(n or 0)]
        new = sorted(rest + [int(n or 0)]) if add else rest
        note = S.CLUSTER_DROPPED if add else S.CLUSTER_KEPT
        return ", ".join(map(str, new)), bool(new), note.format(n=int(n or 0), drops=", ".join(map(str, new)) or "none")

    outs = [drops, enabled, c.cluster_note]
    c.drop.click(shows_errors(lambda t, n: edit(t, n, True)), [drops, c.cluster_no], outs, **PRIVATE)
    c.keep.click(shows_errors(lambda t, n: edit(t, n, False)), [drops, c.cluster_no], outs, **PRIVATE)


def _wire_export(c) -> None:
    def export(sess, name=None, request: gr.Request = None):
        caller = caller_of(request)
        caller.require_signed_in("Exporting a dataset (a new artifact on this server)")  # anonymous: no disk writes
        folder = sess.export((name or "").strip(), owner=caller.key)
        return S.EXPORTED.format(folder=folder.name), str(sess.download())

    c.export.click(shows_errors(export), [c.state, c.name], [c.export_status, c.download], api_name="data_export")


def wire(c) -> None:
    _wire_load(c)
    _wire_starters(c)
    _wire_run(c)
    _wire_explore(c)
    _wire_export(c)
