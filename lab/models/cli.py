"""`python -m lab models resolve|info|offline`."""
from __future__ import annotations

import sys

from lab.models import available_offline, info, resolve
from lab.ui_text import print_json


def add_parsers(sub) -> None:
    m = sub.add_parser("models", help="Resolve models and read their facts.")
    msub = m.add_subparsers(dest="models_cmd", required=True)
    r = msub.add_parser("resolve", help="Resolve REF to a local folder; print JSON with folder and info.")
    r.add_argument("ref")
    r.set_defaults(func=_resolve)
    i = msub.add_parser("info", help="Facts from config files only (no weights).")
    i.add_argument("ref")
    i.set_defaults(func=_info)
    o = msub.add_parser("offline", help="List the models available offline.")
    o.set_defaults(func=_offline)



def _resolve(args) -> int:
    folder = resolve(args.ref, log=lambda m: print(m, file=sys.stderr))
    print_json({"ref": args.ref, "folder": str(folder), "info": info(str(folder))})
    return 0


def _info(args) -> int:
    print_json(info(args.ref))
    return 0


def _offline(args) -> int:
    print_json(available_offline())
    return 0
