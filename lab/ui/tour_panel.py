"""The first-run tour at the top of the app: one button starts the whole loop as a job on the server (lab.tour) and
shows each stage live, then the three models' replies side by side, with buttons that open the fine-tune and the
merge in the Chat tab. Closing the page leaves the tour running; opening it again and clicking follows it.

Open by default while LAB_HOME holds no artifact (a newcomer). On the public demo Space the button explains that
the tour needs a duplicated Space instead of running; on any Space it needs a signed-in visitor, like a job."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from lab.errors import LabError
from lab.jobs.owners import job_for
from lab.tour import check_allowed, is_first_run
from lab.tour import jobs as tour_jobs
from lab.tour.board import COLUMNS, Board
from lab.ui import bus, follow
from lab.ui.common import caller_of, on_load, progress_bar_html

PRIVATE = {"api_visibility": "private"}
TITLE = "New here? Start with the tour"
INTRO = ("One click runs the whole loop offline on the bundled SmolLM2-135M, in a few minutes on a CPU: a small "
         "demo dataset with planted duplicates and refusals is **filtered**, the model is **fine-tuned** (LoRA, 20 "
         "steps), the fine-tune is **merged** back into the base (SLERP), and all three **answer side by side**. "
         "Everything it makes lands in the Artifacts tab, with its lineage.")
START = "Take the tour"
CHAT_WITH = {"train": "Chat with the fine-tune", "merge": "Chat with the merge"}
NOT_YET = "(the tour makes it: take the tour first)"  # a disabled button says why it is disabled
FAILED = "(the tour stopped before making it)"


def build():
    """Lay out and wire the panel; returns connect(tab_ids), which app.py calls once the tabs exist."""
    with gr.Accordion(TITLE, open=is_first_run(), elem_id="lab-tour") as panel:
        gr.Markdown(INTRO)
        start = gr.Button(START, variant="primary", elem_id="lab-tour-start")
        stages = gr.Markdown(elem_id="lab-tour-stages")
        bar = gr.HTML(elem_id="lab-tour-progress")
        replies = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, wrap=True, visible=False,
                               column_widths=["16%", "28%", "28%", "28%"],
                               label="The three models, side by side", elem_id="lab-tour-replies")
        with gr.Row():
            chat_ft = gr.Button(f"{CHAT_WITH['train']} {NOT_YET}", interactive=False, elem_id="lab-tour-chat-ft")
            chat_merge = gr.Button(f"{CHAT_WITH['merge']} {NOT_YET}", interactive=False,
                                   elem_id="lab-tour-chat-merge")
        paths = gr.State({})
        job = gr.Textbox(visible="hidden", elem_id="lab-tour-job")  # in the page, so its change writes ?job=
    start.click(run_tour, None, [stages, bar, replies, paths, chat_ft, chat_merge, job], api_name="tour",
                concurrency_limit=1, concurrency_id="lab-tour", show_progress="minimal")
    follow.mark_url_when_set(job)  # a reload comes back to the tour it started
    shown = [stages, bar, replies, paths, chat_ft, chat_merge, panel]
    on_load(_follow_on_load, None, shown, show_progress="hidden", concurrency_limit=None)
    if bus.BUS.follow is not None:  # "Open in its tab" from the Jobs tab
        bus.BUS.follow.change(_follow_sent, bus.BUS.follow, shown, show_progress="hidden", concurrency_limit=None,
                              **PRIVATE)
    return lambda tab_ids: _connect(chat_ft, chat_merge, paths, tab_ids)


def chat_button(key: str, board: Board, paths: dict) -> gr.Button:
    """A "Chat with …" button: on once the tour made that model, else off with the reason in its label."""
    if paths.get(key):
        return gr.Button(CHAT_WITH[key], interactive=True)
    return gr.Button(f"{CHAT_WITH[key]} {FAILED if board.finished and not board.ok else NOT_YET}", interactive=False)


def _frame(board: Board, paths: dict):
    """The outputs for one moment of the tour."""
    return (board.markdown(), progress_bar_html(board.progress, board.message),
            gr.Dataframe(value=board.table(), visible=bool(board.replies)), paths,
            chat_button("train", board, paths), chat_button("merge", board, paths))


def run_tour(request: gr.Request):
    """Start the caller's tour as a job on the server (or follow theirs already running) and stream its stages,
    each frame with the job's id; closing the page stops only this stream. A refusal (demo Space, not signed in)
    shows in place of the stages."""
    try:
        check_allowed()
        caller = caller_of(request)
        caller.require_signed_in("The tour")
        job = tour_jobs.running(caller.key) or tour_jobs.submit(owner=caller.key)
    except LabError as exc:
        yield f"⚠️ **{exc.what}** {exc.fix}", "", gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return
    yield (gr.skip(),) * 6 + (job.id,)  # the address carries the job now, though its first stage may wait its turn
    board = Board()
    for ev in tour_jobs.follow(job.id):
        board.update(ev)
        yield *_frame(board, {k: Path(board.artifacts[k]).name if board.artifacts.get(k) else ""
                              for k in ("train", "merge")}), job.id


def _stream(job, reveal: bool):
    """The frames of a tour job from its first event (a page that comes back to it), the panel open if asked."""
    board = Board()
    for ev in tour_jobs.follow(job.id):
        board.update(ev)
        paths = {k: Path(board.artifacts[k]).name if board.artifacts.get(k) else "" for k in ("train", "merge")}
        yield *_frame(board, paths), gr.Accordion(open=True) if reveal else gr.skip()


def _follow_on_load(request: gr.Request):
    """A page that loads shows the caller's running or last tour (or the tour its ?job= link names)."""
    job = follow.job_for_panel("tour", request, follow.wanted(request))
    if job is None:
        yield (gr.skip(),) * 7  # an ended stream without a frame would blank the panel's buttons
        return
    yield from _stream(job, reveal=not job.final or job.id == follow.wanted(request))


def _follow_sent(value, request: gr.Request):
    try:
        job = job_for(caller_of(request), bus.unstamp(value))
    except LabError:  # not the caller's to see: the same as no job
        job = None
    if job is None or job.kind != tour_jobs.KIND:
        yield (gr.skip(),) * 7
        return
    yield from _stream(job, reveal=True)


def _connect(chat_ft, chat_merge, paths, tab_ids) -> None:
    """"Chat with …" sends the artifact to the Chat tab through the request bus, and opens that tab (tab_ids: the
    ids of the app's tabs)."""
    if bus.BUS.chat is None or bus.BUS.tabs is None or "chat" not in tab_ids:
        chat_ft.visible = chat_merge.visible = False  # no Chat tab in this app
        return
    for button, key in ((chat_ft, "train"), (chat_merge, "merge")):
        button.click(lambda p, key=key: (bus.stamp(p.get(key, "")), bus.goto("chat")) if p.get(key)
                     else (gr.skip(), gr.skip()), paths, [bus.BUS.chat, bus.BUS.tabs], **PRIVATE)
