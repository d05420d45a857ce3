"""The Chat tab's blind arena (votes, leaderboard, export as DPO or KTO data) and batch compare (table + CSV)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from lab.chat import arena
from lab.chat.batch import parse_prompts, run_batch, write_csv
from lab.chat.session import Turn, checked_labels, label_of
from lab.chat.spec import spec_from_values
from lab.chat.stream import forget_stop, new_stop, request_stop, stream_many
from lab.errors import LabError
from lab.ui import chat_strings as S
from lab.models.usable import artifact_value, nobody
from lab.shown import for_visitor
from lab.ui.common import caller_of, lab_error, notes_errors, on_load, shows_errors

BOARD = ["model", "battles", "wins", "losses", "ties", "win rate", "Bradley–Terry (95% CI)", "Elo (95% CI)"]


def board_frame(caller=None) -> pd.DataFrame:
    """The leaderboard of the votes this caller may see: a visitor's own, every vote for the owner."""
    rows = [[label_of(r["model"]), r["battles"], r["wins"], r["losses"], r["ties"], f"{r['win_rate'] * 100:.0f}%",
             f"{r['bt']:.0f} ({r['bt_lo']:.0f}–{r['bt_hi']:.0f})",
             f"{r['elo']:.0f} ({r['elo_lo']:.0f}–{r['elo_hi']:.0f})"]
            for r in arena.leaderboard(caller=caller)]
    return pd.DataFrame(rows, columns=BOARD)


def leaderboard(request: gr.Request) -> pd.DataFrame:
    return board_frame(caller_of(request))


def battle(prompt, models, settings, request, caller=None):
    """Stream a blind battle; yields (state, chat A, chat B, stats A, stats B, reveal). Every picked model is
    checked for the caller before anything is read or downloaded."""
    caller = caller or caller_of(request)
    token = caller.hub_token()
    try:
        spec = spec_from_values(models, *settings)
        b = arena.new_battle(models)
        turn = Turn([], [b.model_a, b.model_b], prompt, spec.system_prompt, labels=["Model A", "Model B"])
        checked_labels(caller, models)
    except LabError as exc:
        raise lab_error(exc) from None
    frame = lambda st, note="": (st, turn.display(0), turn.display(1), turn.stats_line(0),  # noqa
                                 turn.stats_line(1), note)
    running = {"running": True}  # a vote now gets "wait for the replies", not "start a battle first"
    yield frame(running)
    session = _session(request)
    stop = new_stop(session)
    try:
        for batch in stream_many([b.model_a, b.model_b], [turn.messages(0), turn.messages(1)], spec, stop=stop,
                                 token=token):
            turn.apply(batch)
            yield frame(running)
        stopped = stop.is_set()  # the arena's Stop: both replies cut short
    finally:  # also when the browser goes away mid-reply
        if not turn.done():
            stop.set()
        forget_stop(session, stop)
    state = {"battle": b.to_dict(), "prompt": turn.messages(0), "replies": [turn.text[0], turn.text[1]],
             "failed": bool(turn.errors), "voted": False, "stopped": stopped,
             "settings": spec.model_dump(exclude={"models"})}
    yield frame(state, S.ARENA_STOPPED if stopped else "")


def _session(request) -> str:
    return f"{getattr(request, 'session_hash', None) or 'cli'}-arena"


def stop_battle(request: gr.Request) -> str:
    """The arena's Stop: both replies of this browser's battle end where they are."""
    return S.STOPPED if request_stop(_session(request)) else S.ARENA_STOP_NOTHING


def votable(state: dict | None) -> bool:
    """A battle takes a vote once both replies have finished: not while they stream, not after Stop, once."""
    return bool(state) and "battle" in state and not (state.get("running") or state.get("voted")
                                                      or state.get("stopped"))


def vote_buttons(state: dict | None) -> list:
    return [gr.Button(interactive=votable(state)) for _ in arena.OUTCOMES]


@notes_errors(3, at=1)
def vote(outcome: str, state: dict, request: gr.Request) -> tuple:
    """Store the vote (the voter's), then reveal who was who; returns (state, reveal, leaderboard). A vote the
    battle cannot take is refused in the reveal's place, saying what to do."""
    caller = caller_of(request)
    if state and state.get("running"):
        raise LabError(S.ARENA_WAIT, "Wait for both replies, or press Stop and start a new battle.", "vote")
    if not state or "battle" not in state:
        raise LabError(S.ARENA_NEED_BATTLE, S.ARENA_NEW, "vote")
    if state.get("voted"):
        raise LabError(S.ARENA_VOTED, S.ARENA_NEW, "vote")
    if state.get("stopped"):
        raise LabError(S.ARENA_STOPPED, S.ARENA_NEW, "vote")
    b = arena.Battle(**state["battle"])
    arena.record_vote(b, state["prompt"], *state["replies"], outcome, state.get("settings"), owner=caller.key)
    reveal = (f"Model A was **{label_of(b.model_a)}**, Model B was **{label_of(b.model_b)}**. "
              f"Your vote: {arena.OUTCOMES[outcome]}.")
    return {**state, "voted": True}, reveal, board_frame(caller)


def _voter(outcome: str):
    def cast(state: dict, request: gr.Request) -> tuple:
        return vote(outcome, state, request)
    return cast


def export(name: str, form: str = "dpo", request: gr.Request = None) -> str:
    """The caller's votes (every vote for the owner) as a new artifact of theirs."""
    caller = caller_of(request)
    caller.require_signed_in("Exporting the votes (a new artifact on this server)")  # anonymous: no disk writes
    folder = arena.export_preferences((name or "").strip(), form or "dpo", caller=caller)
    rows = sum(1 for _ in open(folder / "data.jsonl"))
    return S.ARENA_EXPORTED[form or "dpo"].format(rows=rows, folder=artifact_value(caller, folder))


def build_arena(models: list, settings: list) -> None:
    gr.Markdown(S.ARENA_HELP)
    state = gr.State({})
    with gr.Row(equal_height=True):
        with gr.Column():
            chat_a = gr.Chatbot(label="Model A", height=360, elem_id="arena-a")
            stats_a = gr.Markdown(elem_id="arena-stats-a")
        with gr.Column():
            chat_b = gr.Chatbot(label="Model B", height=360, elem_id="arena-b")
            stats_b = gr.Markdown(elem_id="arena-stats-b")
    prompt = gr.Textbox(label="Prompt", lines=2, placeholder="One prompt; two hidden models answer it.",
                        elem_id="arena-prompt")
    with gr.Row():
        start = gr.Button("New battle", variant="primary", scale=3)
        stop = gr.Button("Stop", variant="stop", scale=1, elem_id="arena-stop")
    with gr.Row():  # a vote waits for both replies: the buttons wake when the battle has finished
        buttons = {key: gr.Button(text, interactive=False, elem_id=f"arena-vote-{key}")
                   for key, text in arena.OUTCOMES.items()}
    reveal = gr.Markdown(elem_id="arena-reveal")
    board = gr.Dataframe(value=board_frame(nobody()), headers=BOARD, interactive=False, label="Leaderboard",
                         wrap=True)  # the owner's votes never go into the page: filled per caller on load
    with gr.Row():
        name = gr.Textbox(label="Artifact name (optional)", scale=3)
        form = gr.Radio([(label, key) for key, label in S.ARENA_FORMS.items()], value="dpo", label="Export as", info=S.ARENA_FORMS_INFO, scale=2)
        export_btn = gr.Button("Export votes as a dataset", scale=2)
    exported = gr.Markdown(elem_id="arena-exported")

    def run(prompt_text, m1, m2, m3, m4, system, temperature, top_p, max_new, rep, seed, four_bit,
            request: gr.Request):
        sets = [system, temperature, top_p, max_new, rep, seed, four_bit]
        yield from battle(prompt_text, [m1, m2, m3, m4], sets, request, caller_of(request))

    votes = list(buttons.values())
    start.click(lambda: vote_buttons(None), None, votes, queue=False, api_visibility="private")
    fought = start.click(run, [prompt, *models, *settings], [state, chat_a, chat_b, stats_a, stats_b, reveal],
                         api_name="arena_battle", concurrency_limit=16, show_progress="hidden")
    fought.then(vote_buttons, state, votes, api_visibility="private")
    stop.click(stop_battle, None, reveal, api_name="arena_stop", queue=False)
    for key, button in buttons.items():
        button.click(_voter(key), state, [state, reveal, board], api_name=f"arena_vote_{key}").then(
            vote_buttons, state, votes, api_visibility="private")
    export_btn.click(shows_errors(export), [name, form], exported, api_name="arena_export")
    gr.Button("Refresh leaderboard", size="sm").click(leaderboard, None, board, api_name="arena_leaderboard")
    on_load(leaderboard, None, board)


def batch(prompts_text, upload, models, settings, caller, progress=None) -> tuple:
    """Every prompt through every model, once each model is checked for the caller (their Hub token)."""
    spec = spec_from_values(models, *settings)
    checked_labels(caller, models)
    prompts = parse_prompts(prompts_text, upload)
    headers, rows = run_batch(spec, prompts, token=caller.hub_token(),
                              progress=(lambda i, n: progress(i / n, desc=f"{i}/{n} prompts")) if progress else None)
    rows = [[for_visitor(cell) if isinstance(cell, str) and cell.startswith("[error]") else cell for cell in row]
            for row in rows]
    path = write_csv(headers, rows, Path(tempfile.mkdtemp(prefix="lab-batch-")) / "batch-compare.csv")
    errors = sum(cell.startswith("[error]") for row in rows for cell in row[1:])
    note = f"{len(rows)} prompts × {len(headers) - 1} models." + (f" {errors} replies failed." if errors else "")
    return pd.DataFrame(rows, columns=headers), str(path), note


def build_batch(models: list, settings: list) -> None:
    gr.Markdown(S.BATCH_HELP)
    with gr.Row():
        prompts = gr.Textbox(label="Prompts (one per line)", lines=6, scale=3)
        upload = gr.File(label="…or upload a file", file_types=[".txt", ".csv", ".json", ".jsonl"], type="filepath",
                         scale=2)
    run_btn = gr.Button("Run every prompt through every model", variant="primary")
    status = gr.Markdown()
    table = gr.Dataframe(interactive=False, wrap=True, label="Replies side by side")
    csv_file = gr.File(label="Download as CSV", interactive=False)

    @shows_errors
    def run(prompts_text, file, m1, m2, m3, m4, system, temperature, top_p, max_new, rep, seed, four_bit,
            request: gr.Request, progress=gr.Progress()):
        sets = [system, temperature, top_p, max_new, rep, seed, four_bit]
        df, path, note = batch(prompts_text, file, [m1, m2, m3, m4], sets, caller_of(request), progress)
        return df, path, note

    run_btn.click(run, [prompts, upload, *models, *settings], [table, csv_file, status], api_name="batch_compare",
                  concurrency_limit=4)
