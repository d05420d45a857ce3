"""Jobs follow the user: a page that loads (a reload, a shared link with ?job=ID) or a job opened from the Jobs tab
puts each job into the panel that started it (its job field filled, its timer ticking), and a job that starts
writes ?job=ID into the address bar, so a reload comes back to it.

Which job a panel picks is decided on the server (lab.jobs.owners.job_to_follow): only jobs the caller may see, and
a ?job= id of someone else's job is passed over like one that does not exist."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gradio as gr

from lab.errors import LabError
from lab.jobs import owners
from lab.jobs.store import Job
from lab.shown import scrub_value
from lab.train import KINDS as TRAIN_KINDS
from lab.tour.jobs import KIND as TOUR_KIND
from lab.ui import bus
from lab.ui.common import caller_of, on_load, shows_errors

PRIVATE = {"api_visibility": "private"}


@dataclass(frozen=True)
class Panel:
    tab: str  # the id of the tab that holds it ("" = above the tabs)
    kinds: tuple[str, ...]  # the job kinds it starts and shows


PANELS = {
    "train": Panel("train", tuple(TRAIN_KINDS.values())),
    "eval": Panel("evaluate", ("eval",)),
    "export": Panel("artifacts", ("export",)),
    "merge": Panel("merge", ("merge",)),
    "evolve": Panel("merge", ("merge.evolve",)),
    "extract": Panel("merge", ("extract.lora",)),
    "data": Panel("data", ("data.run",)),
    "tour": Panel("", (TOUR_KIND,)),
}

# Put ?job=ID in the address bar without a reload; on a Space the app runs in an iframe of huggingface.co, whose
# address the Space page updates on this message (the Hub's documented "queryString" message).
URL_JS = """(job) => {
  if (!job) return [];
  const url = new URL(window.location.href);
  url.searchParams.set("job", job);
  history.replaceState(history.state, "", url);
  if (window.parent !== window) window.parent.postMessage({queryString: url.search}, "https://huggingface.co");
  return [];
}"""


def panel_of(kind: str) -> str | None:
    """The name of the panel that shows jobs of this kind, or None (a job only the Jobs tab shows)."""
    return next((name for name, p in PANELS.items() if kind in p.kinds), None)


def wanted(request: gr.Request | None) -> str:
    """The ?job= id of the page's address ("" when none)."""
    params = getattr(request, "query_params", None) or {}
    return str(params.get("job") or "").strip()[:80]


def job_for_panel(name: str, request: gr.Request, job_id: str = ""):
    """The job panel `name` shows for this caller: `job_id` (a link, or one sent from the Jobs tab) when it is theirs
    to see and of this panel's kinds, else their running or last job of these kinds; None when there is none."""
    return owners.job_to_follow(caller_of(request), PANELS[name].kinds, job_id)


def mark_url(event, job_box) -> None:
    """After a successful start, the address carries the new job (job_box: the panel's job field)."""
    event.success(None, job_box, None, js=URL_JS, **PRIVATE)


def mark_url_when_set(job_box) -> None:
    """For a start that streams its job (the tour), whose success comes only when the stream ends: the address
    carries the job as soon as the stream puts its id in `job_box`."""
    job_box.change(None, job_box, None, js=URL_JS, **PRIVATE)


def attach(name: str, job_box, timer, reveal=None, form: tuple[list, Callable[[Job], list]] | None = None) -> None:
    """Panel `name` follows its job: on page load (its ?job= link or the caller's running/last job of its kinds) and
    when the Jobs tab opens one of its jobs, `job_box` gets the job's id and `timer` starts, so the panel's own tick
    draws the rest. For a job that runs or that was asked for by id, `reveal` (an Accordion) opens and `form`
    (widgets, and a function from the job to their values) shows the job's recipe instead of a blank form. Typing an
    id into the job field and pressing Enter follows that job too."""
    widgets, values_of = form or ([], None)
    outputs = [job_box, timer] + ([reveal] if reveal is not None else []) + widgets

    def shown(job, asked: bool):
        if job is None:
            return [gr.skip()] * len(outputs)
        out = [job.id, gr.Timer(active=True)]
        live = asked or not job.final
        if reveal is not None:
            out.append(gr.Accordion(open=True) if live else gr.skip())
        if widgets:
            out += _form_values(job, values_of, len(widgets)) if live else [gr.skip()] * len(widgets)
        return out

    @shows_errors
    def load(request: gr.Request):
        asked = wanted(request)
        job = job_for_panel(name, request, asked)
        return shown(job, bool(asked) and job is not None and job.id == asked)

    @shows_errors
    def sent(value, request: gr.Request):
        job_id = bus.unstamp(value)
        try:
            job = owners.job_for(caller_of(request), job_id) if job_id else None
        except LabError:  # not the caller's to see: the same as no job
            job = None
        return shown(job if job is not None and job.kind in PANELS[name].kinds else None, True)

    on_load(load, None, outputs)
    if bus.BUS.follow is not None:
        bus.BUS.follow.change(sent, bus.BUS.follow, outputs, **PRIVATE)
    if isinstance(job_box, gr.Textbox) and name != "train":  # the Train tab wires its own Enter
        job_box.submit(lambda j: gr.Timer(active=bool((j or "").strip())), job_box, timer, **PRIVATE)


def _form_values(job: Job, values_of, count: int) -> list:
    """The form as the job's recipe had it (no server path on a Space); unchanged when the recipe does not read."""
    try:
        values = scrub_value(list(values_of(job)))
    except (LabError, ValueError, TypeError, KeyError):  # a recipe from an older lab: the form stays as it is
        return [gr.skip()] * count
    return values if len(values) == count else [gr.skip()] * count


def connect_tabs() -> None:
    """On page load with ?job=ID, select the tab of that job's panel (app.py calls this once the tabs exist)."""
    if bus.BUS.tabs is None:
        return

    @shows_errors
    def select(request: gr.Request):
        asked = wanted(request)
        if not asked:
            return gr.skip()
        try:
            job = owners.job_for(caller_of(request), asked)
        except LabError:  # not the caller's to see: the page opens as if the link named no job
            return gr.skip()
        name = panel_of(job.kind)
        return bus.goto(PANELS[name].tab) if name and PANELS[name].tab else gr.skip()

    on_load(select, None, bus.BUS.tabs)


def open_in_panel(job_id: str, request: gr.Request):
    """The Jobs tab's "Open in its tab": (bus value, tab to select, note) for a job the caller may see."""
    job = owners.job_for(caller_of(request), job_id)
    name = panel_of(job.kind)
    if name is None:
        return gr.skip(), gr.skip(), f"Job `{job.id}` ({job.kind}) has no panel of its own: its log is here."
    tab = PANELS[name].tab
    return bus.stamp(job.id), bus.goto(tab) if tab else gr.skip(), ""
