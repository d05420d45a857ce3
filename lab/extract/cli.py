"""`python -m lab extract-lora MODEL --base BASE (--rank R | --energy F) [--out DIR] [--eval-task T --eval-limit N]`:
a LoRA adapter from a full model against its base; prints JSON (the adapter, its rank, the relative error of the
reconstructed delta, and with --eval-task the full model's and the adapter's scores and their difference)."""
from __future__ import annotations

import json

from lab.access import local
from lab.extract.core import run
from lab.extract.recipe import ExtractRecipe


def _help(field: str) -> str:
    return ExtractRecipe.model_fields[field].description or ""


def add_parsers(sub) -> None:
    p = sub.add_parser("extract-lora", help="Extract a LoRA adapter from a full model against its base (SVD).")
    p.add_argument("model", help=_help("model"))
    p.add_argument("--base", required=True, help=_help("base"))
    p.add_argument("--rank", type=int, default=None, help=_help("rank"))
    p.add_argument("--energy", type=float, default=None, help=_help("energy"))
    p.add_argument("--out", default="", help=_help("out"))
    p.add_argument("--name", default="", help=_help("name"))
    p.add_argument("--eval-task", default="", help=_help("eval_task"))
    p.add_argument("--eval-limit", type=int, default=None, help=_help("eval_limit"))
    p.set_defaults(func=_extract)


def _extract(args) -> int:
    recipe = ExtractRecipe.parse({"model": args.model, "base": args.base, "rank": args.rank, "energy": args.energy,
                                  "out": args.out, "name": args.name, "eval_task": args.eval_task,
                                  "eval_limit": args.eval_limit})
    print(json.dumps(run(recipe, local(), log=lambda m: None), indent=2))
    return 0
