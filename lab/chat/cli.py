"""`python -m lab chat --model REF --model REF --prompt TEXT`: one reply per model, with timings, as JSON.
`python -m lab votes --form dpo|kto`: the arena's votes as a dataset artifact, as JSON."""
from __future__ import annotations

import json
import sys

from lab.auth import local_token
from lab.chat import stream
from lab.chat.arena import export_preferences
from lab.chat.prompt import build_messages
from lab.chat.spec import ChatSpec, build_spec


def _help(field: str) -> str:
    return ChatSpec.model_fields[field].description or ""


def add_parsers(sub) -> None:
    p = sub.add_parser("chat", help="Ask several models one prompt; print JSON with each reply and its timings.")
    p.add_argument("--model", action="append", required=True, metavar="REF", help=_help("models"))
    p.add_argument("--prompt", required=True, help="The user message every model answers.")
    p.add_argument("--system", default="", help=_help("system_prompt"))
    p.add_argument("--max-new-tokens", type=int, default=256, help=_help("max_new_tokens"))
    p.add_argument("--temperature", type=float, default=0.7, help=_help("temperature"))
    p.add_argument("--top-p", type=float, default=0.9, help=_help("top_p"))
    p.add_argument("--repetition-penalty", type=float, default=1.1, help=_help("repetition_penalty"))
    p.add_argument("--seed", type=int, default=None, help=_help("seed"))
    p.add_argument("--4bit", dest="load_in_4bit", action="store_true", help=_help("load_in_4bit"))
    p.set_defaults(func=_chat)
    v = sub.add_parser("votes", help="Export the arena's votes as a dataset artifact (DPO pairs or KTO rows).")
    v.add_argument("--form", choices=["dpo", "kto"], default="dpo", help="dpo: decisive votes as prompt/chosen/"
                   "rejected; kto: every judged answer as prompt/completion/label (true: thumbs up).")
    v.add_argument("--name", default="", help="Artifact name (a dated one by default).")
    v.set_defaults(func=_votes)


def _chat(args) -> int:
    spec = build_spec({"models": args.model, "system_prompt": args.system, "max_new_tokens": args.max_new_tokens,
                       "temperature": args.temperature, "top_p": args.top_p, "seed": args.seed,
                       "repetition_penalty": args.repetition_penalty, "load_in_4bit": args.load_in_4bit})
    for notice in spec.notices:
        print(f"notice: {notice}", file=sys.stderr)
    msgs = [build_messages(spec.system_prompt, [], args.prompt)] * len(spec.models)
    replies = stream.collect(spec.models, msgs, spec, token=local_token())
    out = {"prompt": args.prompt, "settings": spec.model_dump(exclude={"models"}), "notices": spec.notices,
           "replies": [{"model": r.model, "text": r.text, "error": r.error, "notices": r.notices, **r.stats}
                       for r in replies]}
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 1 if any(r.error for r in replies) else 0


def _votes(args) -> int:
    folder = export_preferences(args.name, args.form)
    rows = sum(1 for _ in open(folder / "data.jsonl"))
    json.dump({"artifact": str(folder), "form": args.form, "rows": rows}, sys.stdout)
    sys.stdout.write("\n")
    return 0
