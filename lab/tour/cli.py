"""`python -m lab tour`: the first-run tour in the terminal. Each stage prints on stderr as it happens; the summary
(artifacts, rows each filter step dropped, losses, the three models' replies) prints as JSON on stdout."""
from __future__ import annotations

import json
import sys

from lab.tour import Tour, TourRecipe


def add_parsers(sub) -> None:
    p = sub.add_parser("tour", help="Run the whole loop offline on the bundled model: filter → SFT → SLERP → chat.")
    p.add_argument("--steps", type=int, default=None, help="SFT steps (default 20).")
    p.add_argument("--prompt", action="append", default=None, metavar="TEXT",
                   help="A prompt for the final side-by-side chat (repeat for several).")
    p.set_defaults(func=_tour)


def _line(ev) -> str:
    mark = {"running": "…", "done": "✓", "failed": "✗"}[ev.state]
    where = f"  [{ev.artifact}]" if ev.artifact else ""
    return f"[{ev.progress * 100:5.1f}%] {mark} {ev.stage}: {ev.message}{where}"


def _tour(args) -> int:
    values = {k: v for k, v in (("steps", args.steps), ("prompts", args.prompt)) if v is not None}
    tour = Tour(TourRecipe.parse(values))
    last = None
    for ev in tour.run():
        if ev.stage == "tour":
            last = ev
            continue
        print(_line(ev), file=sys.stderr, flush=True)
    json.dump(last.data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
    return 0 if last.data["ok"] else 1
