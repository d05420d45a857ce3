"""`python -m lab runs list|compare`: the Experiments view as JSON."""
from __future__ import annotations

from lab.access import local
from lab.runs.compare import MAX_RUNS, MIN_RUNS, compare, list_view
from lab.ui_text import print_json


def add_parsers(sub) -> None:
    r = sub.add_parser("runs", help="Training runs side by side: their settings, results and curves (JSON).")
    rsub = r.add_subparsers(dest="runs_cmd", required=True)
    rl = rsub.add_parser("list", help="Every training run, newest first: method, model, LR, rank, steps, losses, "
                                      "eval scores, peak memory, tokens/s, wall time.")
    rl.set_defaults(func=_list)
    rc = rsub.add_parser("compare", help=f"{MIN_RUNS} to {MAX_RUNS} runs: their rows, the settings that differ "
                                         "and their loss, eval-loss, reward and LR curves.")
    rc.add_argument("run_ids", nargs="+", metavar="ID", help="A job id or a run's folder name (from `runs list`).")
    rc.set_defaults(func=_compare)


def _list(args) -> int:
    print_json(list_view(local()))
    return 0


def _compare(args) -> int:
    print_json(compare(local(), args.run_ids))
    return 0
