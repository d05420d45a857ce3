"""One browser session's chat turn across panes: what each pane shows while streaming, and the histories after.

Pure bookkeeping (no gradio): the Chat tab feeds it the events from stream_many and renders what it returns.
Histories are per pane, as plain {"role", "content": str} messages; a pane whose reply failed keeps its history.
"""
from __future__ import annotations

from lab.access import Caller
from lab.chat.events import Event
from lab.chat.prompt import build_messages, flatten_history
from lab.errors import LabError
from lab.models.ref import parse
from lab.models.usable import model_for
from lab.shown import for_visitor

PANES = 4


def empty_histories() -> list[list[dict]]:
    return [[] for _ in range(PANES)]


def label_of(ref: str) -> str:
    try:
        return parse(ref).label
    except LabError:
        return for_visitor(ref)


def label_for(caller: Caller, ref: str) -> str:
    """A pane's label for a model the caller picked: its ModelRef label when it is theirs to use, else the text
    they typed (without a server path). Reads nothing of another's artifact, and asks the Hub nothing."""
    try:
        return model_for(caller, ref, "models", ask_hub=False).label
    except LabError:
        return for_visitor(ref)


def checked_labels(caller: Caller, refs: list) -> list[str]:
    """Every pane's model checked for this caller (model_for: before anything is read or downloaded), and its
    label; a model they may not use raises its LabError."""
    refs = (list(refs or []) + [""] * PANES)[:PANES]
    return [model_for(caller, r, "models").label if (r or "").strip() else "" for r in refs]


class Turn:
    """A prompt sent to every pane that has a model; accumulates the streamed replies."""

    def __init__(self, histories: list, refs: list[str], prompt: str, system: str = "",
                 labels: list[str] | None = None):
        self.histories = [flatten_history(h) for h in (list(histories or []) + empty_histories())[:PANES]]
        self.refs = [(r or "").strip() for r in (list(refs) + [""] * PANES)[:PANES]]
        self.prompt = (prompt or "").strip()
        if not self.prompt:
            raise LabError("The message is empty.", "Type a message first.", "prompt")
        self.active = [i for i, r in enumerate(self.refs) if r]
        if not self.active:
            raise LabError("No model picked.", "Pick a model in at least one pane.", "models")
        self.labels = labels or [label_of(r) if r else "" for r in self.refs]
        self.system = system or ""
        self.text = {i: "" for i in self.active}
        self.errors: dict[int, str] = {}
        self.stats: dict[int, dict] = {}
        self.notes: dict[int, list[str]] = {i: [] for i in self.active}

    def messages(self, pane: int) -> list[dict]:
        return build_messages(self.system, self.histories[pane], self.prompt)

    def apply(self, events: list[Event]) -> None:
        for ev in events:
            i = self.active[ev.pane]
            if ev.kind == "delta":
                self.text[i] += ev.text
            elif ev.kind == "notice":
                self.notes[i].append(for_visitor(ev.text))
            elif ev.kind == "error":
                self.errors[i] = for_visitor(ev.text)
            elif ev.kind == "done":
                self.stats[i] = ev.stats

    def display(self, pane: int) -> list[dict]:
        """The pane's chatbot value: its history, the prompt and the reply so far (or its error)."""
        if pane not in self.text:
            return list(self.histories[pane])
        shown = self.histories[pane] + [{"role": "user", "content": self.prompt}]
        if pane in self.errors:
            return shown + [{"role": "assistant", "content": self.errors[pane],
                             "metadata": {"title": "⚠️ This model failed"}}]
        return shown + [{"role": "assistant", "content": self.text[pane]}]

    def stats_line(self, pane: int) -> str:
        if pane not in self.text:
            return ""
        name = f"**{self.labels[pane]}**"
        if pane in self.errors:
            return f"{name} · error"
        s = self.stats.get(pane)
        if not s:
            return f"{name} · generating…" if self.text[pane] else f"{name} · loading / thinking…"
        ttft = f"{s['ttft_s']:.2f} s" if s.get("ttft_s") is not None else "–"
        tps = f"{s['tokens_per_s']:.1f} tok/s" if s.get("tokens_per_s") else "– tok/s"
        tail = " · stopped" if s.get("stopped") else ""
        notes = "".join(f"  \n{n}" for n in self.notes[pane])
        return f"{name} · first token {ttft} · {tps} · {s.get('tokens', 0)} tokens{tail}{notes}"

    def done(self) -> bool:
        return all(i in self.errors or i in self.stats for i in self.active)

    def final_histories(self) -> list[list[dict]]:
        """Histories with this turn added to every pane that answered."""
        out = [list(h) for h in self.histories]
        for i in self.active:
            if i in self.stats and i not in self.errors:
                out[i] += [{"role": "user", "content": self.prompt}, {"role": "assistant", "content": self.text[i]}]
        return out


def undo_last(histories: list) -> tuple[list[list[dict]], str]:
    """For regenerate: the last prompt, and histories without the turn that answered it."""
    hs = [flatten_history(h) for h in (list(histories or []) + empty_histories())[:PANES]]
    prompts = [h[-2]["content"] for h in hs if len(h) >= 2 and h[-2]["role"] == "user" and h[-1]["role"] == "assistant"]
    if not prompts:
        raise LabError("There is no reply to regenerate yet.", "Send a message first.", "prompt")
    prompt = prompts[0]
    out = []
    for h in hs:
        last_turn = len(h) >= 2 and h[-2]["role"] == "user" and h[-2]["content"] == prompt
        out.append(h[:-2] if last_turn else h)
    return out, prompt
