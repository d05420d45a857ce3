"""Evolve a merge (issue 25): CMA-ES over the weights of a linear merge of two tiny fine-tunes of the bundled
SmolLM2, scored on a multiple-choice task the setup writes: wall time per candidate, candidates the cache saved,
and the best's fitness against the better parent's."""
from __future__ import annotations

from bench.core import Pair, side
from bench.suites.chat import DATA, ENV, FOLDER

SETUP = side("sides/evolve_setup.py", "{tmp}", FOLDER, DATA)


def pairs(quick: bool) -> list[Pair]:
    return [Pair("evolve", side("sides/evolve.py", "{tmp}"), None, reps=1, quick_reps=1, env=ENV, setup=SETUP,
                 timeout_s=900,
                 compare={"seconds_per_candidate": "lower", "cache_saved": "higher", "fitness_over_parent": "higher",
                          "best_fitness": "higher", "better_parent_fitness": "higher", "held_out_best": "higher"},
                 targets={"fitness_over_parent": 0.0},
                 note="Two fine-tunes of SmolLM2-135M (2 AdamW steps on their own alpaca rows, every weight), a "
                      "6-question fitness task and a 3-question held-out task. `python -m lab merge evolve`: linear, "
                      "population 3, 6 candidates (generation 0 holds each parent alone: the Evaluate cache "
                      "answers for them). seconds_per_candidate: the whole run (parents, search, best) over the "
                      "candidates.")]
