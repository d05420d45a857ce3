"""The tour's demo dataset and its stage board, without running the tour."""
import re

from lab.data.normalize import fold
from lab.data.recipe import DEFAULT_REFUSALS
from lab.tour import STAGES, TourEvent
from lab.tour.board import Board
from lab.tour.demo_data import demo_rows


def _text(row: dict) -> str:
    return row["instruction"] + " " + row["output"]


def _jaccard(a: dict, b: dict) -> float:
    """Word-pair Jaccard after lowercasing and dropping punctuation (what fuzzy dedup estimates)."""
    def pairs(row):
        words = re.sub(r"[^\w\s]+", " ", _text(row).lower()).split()
        return set(zip(words, words[1:]))
    return len(pairs(a) & pairs(b)) / len(pairs(a) | pairs(b))


def test_the_demo_dataset_is_deterministic_and_plants_what_it_claims():
    rows, plan = demo_rows()
    assert (rows, plan) == demo_rows()
    assert len(rows) == plan.total and plan.clean >= 50 and len(plan.exact) == len(plan.near) == 4
    assert len(plan.refusals) == 5
    for dup, original in plan.exact.items():  # identical once case and spacing are folded, and the original first
        assert original < dup and fold(_text(rows[dup])) == fold(_text(rows[original]))
        assert rows[dup] != rows[original]
    for dup, original in plan.near.items():  # not identical, but nearly all word pairs shared
        assert original < dup and fold(_text(rows[dup])) != fold(_text(rows[original]))
        assert _jaccard(rows[dup], rows[original]) >= 0.8
    planted = set(plan.exact) | set(plan.near) | set(plan.refusals)
    phrases = [p.lower() for p in DEFAULT_REFUSALS]
    refusing = {i for i, r in enumerate(rows) if any(p in r["output"].lower() for p in phrases)}
    assert refusing == set(plan.refusals)
    clean = [fold(_text(r)) for i, r in enumerate(rows) if i not in planted]
    assert len(clean) == len(set(clean)) == plan.clean
    kept = [r for i, r in enumerate(rows) if i not in planted]  # far apart, so fuzzy dedup keeps every good row
    assert max(_jaccard(a, b) for i, a in enumerate(kept) for b in kept[i + 1:]) < 0.5


def test_the_board_shows_each_stage_as_it_goes():
    board = Board()
    board.update(TourEvent("model", "running", "Loading…", 0.0))
    assert "◔ **Bundled model**: Loading…" in board.markdown() and "○ **Filter**" in board.markdown()
    board.update(TourEvent("filter", "done", "75 → 62 rows", 0.1, "/a/data"))
    board.update(TourEvent("train", "failed", "out of memory", 0.1))
    assert "✔ **Filter**: 75 → 62 rows · `data`" in board.markdown() and "✘ **SFT**" in board.markdown()
    board.update(TourEvent("tour", "failed", "stopped", 0.1, data={"ok": False, "message": "stopped"}))
    assert board.finished and not board.ok and board.table() == []
    assert len(STAGES) == 7
    board.update(TourEvent("eval", "done", "scored", 1.0, data={"scores": {"base": 0.25, "fine-tune": 0.5,
                                                                           "merge": None}}))
    assert board.table()[-1] == ["Exact match on held-out questions", "0.25", "0.50", "failed"]
