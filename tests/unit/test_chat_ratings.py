"""Arena rating math on cases checked by hand."""
import math

import pytest

from lab.chat import ratings


def test_elo_two_battles_by_hand():
    # 1000 vs 1000, K=32: the winner gains 16. Then B (984) beats A (1016): E_B = 1/(1+10^(32/400)) = 0.45408.
    r = ratings.elo([("A", "B", 1.0)])
    assert r == {"A": 1016.0, "B": 984.0}
    r = ratings.elo([("A", "B", 1.0), ("A", "B", 0.0)])
    gain = 32 * (1 - 1 / (1 + 10 ** (32 / 400)))
    assert r["B"] == pytest.approx(984 + gain) and r["B"] == pytest.approx(1001.469, abs=1e-3)
    assert r["A"] + r["B"] == pytest.approx(2000)  # Elo is zero-sum


def test_elo_tie_between_equals_changes_nothing():
    assert ratings.elo([("A", "B", 0.5)]) == {"A": 1000.0, "B": 1000.0}


def test_bradley_terry_plain_mle_is_the_win_ratio():
    # A won 3 of 4 against B: the MLE has p_A / p_B = 3, i.e. 400*log10(3) = 190.85 Elo points apart.
    bt = ratings.bradley_terry([("A", "B", 1.0)] * 3 + [("A", "B", 0.0)], prior=0)
    assert bt["A"] - bt["B"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert (bt["A"] + bt["B"]) / 2 == pytest.approx(1000)


def test_bradley_terry_ties_count_half():
    # 1 win, 1 loss, 2 ties is an even record: equal strengths.
    bt = ratings.bradley_terry([("A", "B", 1.0), ("A", "B", 0.0), ("A", "B", 0.5), ("B", "A", 0.5)], prior=0)
    assert bt["A"] == pytest.approx(bt["B"])


def test_bradley_terry_cycle_is_a_draw():
    bt = ratings.bradley_terry([("A", "B", 1.0), ("B", "C", 1.0), ("C", "A", 1.0)])
    assert all(v == pytest.approx(1000) for v in bt.values())


def test_bradley_terry_prior_keeps_a_sweep_finite_and_solves_the_mm_equation():
    # A beat B 3-0; one virtual tie each against a reference player of strength 1. By symmetry p_B = 1/p_A = 1/x,
    # and the MLE condition for A is 3x²/(x²+1) + x/(x+1) = 3.5, whose root (bisection by hand) is x ≈ 3.224.
    bt = ratings.bradley_terry([("A", "B", 1.0)] * 3, prior=1.0)
    x = 10 ** ((bt["A"] - bt["B"]) / 800)
    assert 3 * x * x / (x * x + 1) + x / (x + 1) == pytest.approx(3.5, abs=1e-6)
    assert x == pytest.approx(3.224, abs=1e-3)


def test_records_and_win_rate():
    rec = ratings.records(ratings.battles_from_votes([
        {"model_a": "A", "model_b": "B", "outcome": "a"},
        {"model_a": "B", "model_b": "A", "outcome": "a"},
        {"model_a": "A", "model_b": "B", "outcome": "both_bad"},
    ]))
    assert rec["A"] == {"battles": 3, "wins": 1, "losses": 1, "ties": 1, "win_rate": 0.5}
    assert rec["B"]["wins"] == 1 and rec["B"]["ties"] == 1


def test_bootstrap_intervals_contain_the_estimate_and_narrow_with_data():
    few = [("A", "B", 1.0)] * 3 + [("A", "B", 0.0)] * 1
    many = few * 25
    narrow, wide = (ratings.bootstrap(ratings.bradley_terry, b, rounds=200, seed=1)["A"] for b in (many, few))
    point = ratings.bradley_terry(many)["A"]
    assert narrow[0] <= point <= narrow[1]
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    once, again = (ratings.bootstrap(ratings.elo, many, rounds=50, seed=3) for _ in range(2))
    assert once == again  # seeded: the same intervals every time


def test_leaderboard_orders_by_strength():
    rows = ratings.leaderboard([("A", "B", 1.0)] * 6 + [("B", "C", 1.0)] * 6 + [("A", "C", 1.0)] * 2, rounds=50)
    assert [r["model"] for r in rows] == ["A", "B", "C"]
    for r in rows:
        assert r["bt_lo"] <= r["bt"] <= r["bt_hi"] and r["elo_lo"] <= r["elo_hi"]
    assert ratings.leaderboard([]) == []
