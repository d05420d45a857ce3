"""Dead ends a new user met: "Try it in Chat" put the fine-tune beside two identical base panes, and the tour's
"Chat with …" buttons stayed disabled without saying why."""
from __future__ import annotations

from lab.settings import DEFAULT_MODEL
from lab.tour.board import Board
from lab.tour.core import TourEvent
from lab.ui import tour_panel
from lab.ui.chat_tab import pane_for

BASE = DEFAULT_MODEL


def test_a_model_sent_to_chat_goes_beside_one_base_pane():
    assert pane_for([BASE, BASE, None, None], "ft") == 1  # the Chat tab's start: base twice -> base and ft
    assert pane_for([BASE, "merge", None, None], "ft") == 2  # a real comparison stays
    assert pane_for([BASE, "merge", "ft", None], "ft") is None  # already shown: no second pane of it
    assert pane_for([BASE, "a", "b", "c"], "ft") == 1  # all taken: pane 2, beside the base
    assert pane_for([BASE, "a", "a", None], "ft") == 2


def _value(button) -> str:
    return button.value if hasattr(button, "value") else button["value"]


def test_the_tours_chat_buttons_say_why_they_are_off_until_the_tour_made_the_model():
    board = Board()
    ft, merge = (tour_panel.chat_button(k, board, {}) for k in ("train", "merge"))
    assert not ft.interactive and "take the tour first" in _value(ft) and "take the tour first" in _value(merge)
    board.update(TourEvent(stage="train", state="done", message="trained", progress=0.5, artifact="/x/ft-1"))
    ft = tour_panel.chat_button("train", board, {"train": "ft-1", "merge": ""})
    merge = tour_panel.chat_button("merge", board, {"train": "ft-1", "merge": ""})
    assert ft.interactive and _value(ft) == "Chat with the fine-tune" and not merge.interactive
    board.update(TourEvent(stage="tour", state="failed", message="merge failed", progress=1.0, data={"ok": False}))
    assert "stopped before making it" in _value(tour_panel.chat_button("merge", board, {"train": "ft-1"}))
