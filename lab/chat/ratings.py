"""Rating math for the arena: win rates, online Elo, Bradley–Terry (MLE), and bootstrap confidence intervals.

A battle is (model_a, model_b, score_a): 1 when A won, 0 when B won, 0.5 for a tie ("both bad" is a tie:
neither was preferred). Ratings are on the Elo scale: 400 points = 10:1 odds, centred on 1000.
"""
from __future__ import annotations

import math

import numpy as np

BASE = 1000.0
SCALE = 400.0
SCORES = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}

Battle = tuple[str, str, float]


def battles_from_votes(votes: list[dict]) -> list[Battle]:
    return [(v["model_a"], v["model_b"], SCORES[v["outcome"]]) for v in votes if v["outcome"] in SCORES]


def models_of(battles: list[Battle]) -> list[str]:
    return sorted({m for a, b, _ in battles for m in (a, b)})


def elo(battles: list[Battle], k: float = 32.0) -> dict[str, float]:
    """Online Elo in the order the battles happened, every model starting at 1000."""
    r: dict[str, float] = {}
    for a, b, s in battles:
        ra, rb = r.setdefault(a, BASE), r.setdefault(b, BASE)
        expected_a = 1.0 / (1.0 + 10 ** ((rb - ra) / SCALE))
        r[a] = ra + k * (s - expected_a)
        r[b] = rb - k * (s - expected_a)
    return r


def bradley_terry(battles: list[Battle], prior: float = 1.0, iters: int = 100, tol: float = 1e-9) -> dict[str, float]:
    """Maximum-likelihood Bradley–Terry strengths (Newton's method on log-strengths), ties as half a win each.

    `prior` adds that many virtual tied games against a fixed reference player, which keeps a model with no
    wins (or no losses) finite; prior=0 gives the plain MLE. Returned on the Elo scale, centred on 1000.
    """
    names = models_of(battles)
    if not names:
        return {}
    idx = {m: i for i, m in enumerate(names)}
    n = len(names)
    games, wins = np.zeros((n, n)), np.zeros((n, n))  # wins[i, j]: i's score against j
    for a, b, s in battles:
        i, j = idx[a], idx[b]
        games[i, j] += 1
        games[j, i] += 1
        wins[i, j] += s
        wins[j, i] += 1.0 - s
    theta = np.zeros(n)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # P(i beats j)
        ref = 1.0 / (1.0 + np.exp(-theta))  # P(i beats the reference player)
        grad = (wins - games * p).sum(axis=1) + prior * (0.5 - ref)
        w = games * p * (1.0 - p)
        hess = w - np.diag(w.sum(axis=1) + prior * ref * (1.0 - ref))
        step = np.clip(np.linalg.lstsq(hess, grad, rcond=None)[0], -2.0, 2.0)  # lstsq: prior=0 leaves a free shift
        theta = theta - step
        if np.max(np.abs(step)) < tol:
            break
    elo_theta = SCALE / math.log(10) * (theta - theta.mean())
    return {m: float(BASE + elo_theta[i]) for m, i in idx.items()}


def bootstrap(fn, battles: list[Battle], rounds: int = 200, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile confidence intervals of fn(battles) by resampling battles with replacement."""
    if not battles:
        return {}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        pick = rng.integers(0, len(battles), len(battles))
        for m, r in fn([battles[i] for i in pick]).items():
            samples.setdefault(m, []).append(r)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {m: (float(np.percentile(v, lo)), float(np.percentile(v, hi))) for m, v in samples.items()}


def records(battles: list[Battle]) -> dict[str, dict]:
    """Battles, wins, losses and ties per model; win_rate counts a tie as half a win."""
    out = {m: {"battles": 0, "wins": 0, "losses": 0, "ties": 0} for m in models_of(battles)}
    for a, b, s in battles:
        for m, score in ((a, s), (b, 1.0 - s)):
            rec = out[m]
            rec["battles"] += 1
            rec["wins" if score == 1 else "losses" if score == 0 else "ties"] += 1
    for rec in out.values():
        rec["win_rate"] = (rec["wins"] + 0.5 * rec["ties"]) / rec["battles"]
    return out


def leaderboard(battles: list[Battle], rounds: int = 200, seed: int = 0) -> list[dict]:
    """One row per model, best Bradley–Terry rating first, with 95% bootstrap intervals for BT and Elo."""
    if not battles:
        return []
    recs, bt, el = records(battles), bradley_terry(battles), elo(battles)
    bt_ci, elo_ci = bootstrap(bradley_terry, battles, rounds, seed), bootstrap(elo, battles, rounds, seed)
    rows = []
    for m in models_of(battles):
        rows.append({"model": m, **recs[m], "bt": bt[m], "bt_lo": bt_ci[m][0], "bt_hi": bt_ci[m][1],
                     "elo": el[m], "elo_lo": elo_ci[m][0], "elo_hi": elo_ci[m][1]})
    return sorted(rows, key=lambda r: -r["bt"])
