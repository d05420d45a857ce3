"""The Chat tab: 2–4 models side by side, streaming together, plus the blind arena and batch compare.

Each browser session keeps its own histories (gr.State); the models themselves are shared read-only
(lab.chat.registry). The `chat` endpoint is public, so gradio_client can drive the panes.
"""
from __future__ import annotations

import gradio as gr

from lab.chat import session as chat_session
from lab.chat.spec import ChatSpec, spec_from_values
from lab.chat.stream import forget_stop, new_stop, request_stop, stream_many
from lab.errors import LabError
from lab.models.usable import model_choices
from lab.settings import DEFAULT_MODEL, get_settings
from lab.shown import scrub
from lab.ui import bus, chat_arena, chat_strings as S
from lab.ui.common import caller_of, lab_error, on_load, on_show

PANES = chat_session.PANES
PICKER_MIN_WIDTH = 420  # px: an artifact's dated name (~50 characters) shows whole; the row wraps 2 by 2 instead
CHAT_CONCURRENCY = 16  # sessions streaming at once; panes on one base take turns token by token


def _info(field: str) -> str:
    return ChatSpec.model_fields[field].description or ""


def settings_components() -> list:
    """System prompt and generation settings, shared by every pane (help text from ChatSpec)."""
    cap = get_settings().max_new_tokens_cap
    system = gr.Textbox(label="System prompt", info=_info("system_prompt"), lines=2)
    with gr.Row():
        temperature = gr.Slider(0, 2, value=0.7, step=0.05, label="Temperature", info=_info("temperature"))
        top_p = gr.Slider(0.05, 1, value=0.9, step=0.05, label="top_p", info=_info("top_p"))
        max_new = gr.Number(256, precision=0, minimum=1, label=f"max_new_tokens (cap {cap})",
                            info=_info("max_new_tokens"))
    with gr.Row():
        rep = gr.Slider(1, 2, value=1.1, step=0.05, label="Repetition penalty", info=_info("repetition_penalty"))
        seed = gr.Number(None, precision=0, minimum=0, label="Seed", info=_info("seed"))
        four_bit = gr.Checkbox(False, label="Load in 4-bit (GPU)", info=_info("load_in_4bit"))
    return [system, temperature, top_p, max_new, rep, seed, four_bit]


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "cli"


def _frame(turn, histories, notice: str) -> tuple:
    shown = [turn.display(i) for i in range(PANES)]
    stats = [turn.stats_line(i) for i in range(PANES)]
    return (histories, *shown, *stats, notice)


def run_turn(histories, prompt, models, settings, request, caller=None):
    """Stream one prompt through every pane; yields (histories, chatbots…, stats…, notice) frames. Every model is
    checked for the caller (lab.models.usable.model_for) before anything is read or downloaded; the Hub is called
    with the caller's own token."""
    caller = caller or caller_of(request)
    token = caller.hub_token()
    try:
        spec = spec_from_values(models, *settings)
        turn = chat_session.Turn(histories, models, prompt, spec.system_prompt, labels=[""] * PANES)
        turn.labels = chat_session.checked_labels(caller, models)
    except LabError as exc:
        raise lab_error(exc) from None
    notice = " ".join(spec.notices)
    yield _frame(turn, turn.histories, notice)
    session = _session(request)
    stop = new_stop(session)
    try:
        refs = [turn.refs[i] for i in turn.active]
        msgs = [turn.messages(i) for i in turn.active]
        events = stream_many(refs, msgs, spec, stop=stop, token=token)
        for batch in events:
            turn.apply(batch)
            yield _frame(turn, turn.histories, notice)
    finally:  # also when the browser goes away mid-reply: closing the stream stops the generations
        if not turn.done():
            stop.set()
        forget_stop(session, stop)
    yield _frame(turn, turn.final_histories(), notice)


def build() -> None:
    gr.Markdown(S.CHAT_HELP)
    choices = model_choices()  # what anyone may pick (the page is built before anyone asks); on_load fills the rest
    defaults = [DEFAULT_MODEL, DEFAULT_MODEL if len(choices) < 2 else choices[1][1], None, None]
    gr.Markdown(S.MODEL_INFO)
    with gr.Row():
        models = [gr.Dropdown(choices=choices, value=defaults[i], label=f"Model {i + 1}", allow_custom_value=True,
                              min_width=PICKER_MIN_WIDTH, elem_classes="lab-model-picker") for i in range(PANES)]
    with gr.Accordion("System prompt and generation settings", open=False):
        settings = settings_components()
    histories = gr.State(chat_session.empty_histories())
    with gr.Tabs():
        with gr.Tab("Side by side"):
            with gr.Row(equal_height=True):
                panes, stats, columns = [], [], []
                for i in range(PANES):
                    with gr.Column(min_width=240, visible=bool(defaults[i])) as column:
                        panes.append(gr.Chatbot(label=_pane_label(i, defaults[i]), height=420, buttons=["copy"],
                                                elem_id=f"chat-pane-{i + 1}"))
                        stats.append(gr.Markdown(elem_id=f"chat-stats-{i + 1}"))
                    columns.append(column)
            prompt = gr.Textbox(label="Message", placeholder=S.PROMPT_PLACEHOLDER, lines=2, elem_id="chat-prompt")
            with gr.Row():
                send = gr.Button("Send", variant="primary")
                stop = gr.Button("Stop", variant="stop")
                regen = gr.Button("Regenerate")
                clear = gr.Button("Clear")
            notice = gr.Markdown()
        with gr.Tab("Arena (blind)"):
            chat_arena.build_arena(models, settings)
        with gr.Tab("Batch compare"):
            chat_arena.build_batch(models, settings)
    _wire(models, settings, histories, panes, stats, columns, prompt, send, stop, regen, clear, notice)
    _listen_to_bus(models)


def pane_for(current: list, ref: str) -> int | None:
    """Where "Chat with it" puts a model: beside pane 1, in the first pane that is empty or repeats an earlier
    pane's model (two panes of the same base compare nothing), else pane 2; None when a pane already shows it."""
    if ref in current:
        return None
    return next((i for i in range(1, len(current)) if not current[i] or current[i] in current[:i]), 1)


def _listen_to_bus(models) -> None:
    """"Chat with it" from another tab: the model goes beside the base (pane_for)."""
    def receive(request: gr.Request, value, *current):  # gr.Request first: Gradio injects it by position
        ref = scrub(bus.unstamp(value))  # on a Space an artifact goes by its folder name, never its path
        pane = pane_for(list(current), ref) if ref else None
        if pane is None:
            return [gr.skip()] * len(current)
        choices = model_choices(caller_of(request))
        return [gr.Dropdown(choices=choices, value=ref) if i == pane else gr.skip() for i in range(len(current))]

    bus.BUS.chat.change(receive, [bus.BUS.chat, *models], models, api_visibility="private")


def _wire(models, settings, histories, panes, stats, columns, prompt, send, stop, regen, clear, notice) -> None:
    outs = [histories, *panes, *stats, notice]

    def chat(prompt_text, m1, m2, m3, m4, system, temperature, top_p, max_new, rep, seed, four_bit, hist,
             request: gr.Request):
        sets = [system, temperature, top_p, max_new, rep, seed, four_bit]
        for frame in run_turn(hist, prompt_text, [m1, m2, m3, m4], sets, request, caller_of(request)):
            yield frame + ("",)  # the last output empties the message box

    def regenerate(m1, m2, m3, m4, system, temperature, top_p, max_new, rep, seed, four_bit, hist,
                   request: gr.Request):
        caller = caller_of(request)
        try:
            hist, last = chat_session.undo_last(hist)
        except LabError as exc:
            raise lab_error(exc) from None
        sets = [system, temperature, top_p, max_new, rep, seed, four_bit]
        yield from run_turn(hist, last, [m1, m2, m3, m4], sets, request, caller)

    def stop_replies(request: gr.Request):
        return S.STOPPED if request_stop(_session(request)) else S.NOTHING_TO_STOP

    def clear_all():
        return (chat_session.empty_histories(), *([[]] * PANES), *([""] * PANES), "")

    inputs = [*models, *settings, histories]
    send.click(chat, [prompt, *inputs], outs + [prompt], api_name="chat", concurrency_limit=CHAT_CONCURRENCY,
               show_progress="hidden")
    prompt.submit(chat, [prompt, *inputs], outs + [prompt], api_visibility="private",
                  concurrency_limit=CHAT_CONCURRENCY, show_progress="hidden")
    regen.click(regenerate, inputs, outs, api_name="regenerate", concurrency_limit=CHAT_CONCURRENCY,
                show_progress="hidden")
    stop.click(stop_replies, None, notice, api_name="stop", queue=False)
    clear.click(clear_all, None, outs, api_name="clear", queue=False)
    for i, dropdown in enumerate(models):  # a new model in a pane starts that pane afresh
        dropdown.change(_reset_pane(i), [dropdown, histories], [histories, panes[i], stats[i], columns[i]],
                        api_visibility="private", queue=False)
    on_load(_choices, None, models, queue=False)
    on_show(_choices, models)  # adapters and merges made since


def _choices(request: gr.Request) -> list:
    """Every pane's picker: the models this caller may use (their own and shared artifacts by folder name)."""
    return [gr.Dropdown(choices=model_choices(caller_of(request)))] * PANES


def _pane_label(i: int, ref: str | None, caller=None) -> str:
    if not ref:
        return f"Pane {i + 1}"
    label = chat_session.label_for(caller, ref) if caller is not None else chat_session.label_of(ref)
    return f"Pane {i + 1}: {label}"


def _reset_pane(i: int):
    def reset(ref, hist, request: gr.Request):
        hist = [list(h) for h in (hist or chat_session.empty_histories())]
        hist[i] = []
        label = _pane_label(i, ref, caller_of(request))
        return hist, gr.Chatbot(value=[], label=label), "", gr.Column(visible=bool(ref))
    return reset
