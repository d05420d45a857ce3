"""`python -m lab models …` and `python -m lab jobs …`."""
from __future__ import annotations

import json
import sys


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

    j = sub.add_parser("jobs", help="List, show, cancel and resume background jobs.")
    jsub = j.add_subparsers(dest="jobs_cmd", required=True)
    jl = jsub.add_parser("list", help="Jobs, newest first.")
    jl.add_argument("--json", action="store_true")
    jl.set_defaults(func=_jobs_list)
    for name, fn, text in (("show", _jobs_show, "One job as JSON, with its log tail."),
                           ("cancel", _jobs_cancel, "Cancel a queued or running job."),
                           ("resume", _jobs_resume, "Resume an interrupted, failed or cancelled job.")):
        p = jsub.add_parser(name, help=text)
        p.add_argument("job_id")
        p.set_defaults(func=fn)


def _print(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _resolve(args) -> int:
    from lab.models import info, resolve

    folder = resolve(args.ref, log=lambda m: print(m, file=sys.stderr))
    _print({"ref": args.ref, "folder": str(folder), "info": info(str(folder))})
    return 0


def _info(args) -> int:
    from lab.models import info

    _print(info(args.ref))
    return 0


def _offline(args) -> int:
    from lab.models import available_offline

    _print(available_offline())
    return 0


def _jobs_list(args) -> int:
    from lab.jobs import list_jobs, recover

    recover()
    jobs = list_jobs()
    if args.json:
        _print([j.to_dict() for j in jobs])
        return 0
    for j in jobs:
        print(f"{j.id}  {j.kind:<16} {j.state:<11} {j.progress * 100:5.1f}%  {j.title}")
    if not jobs:
        print("No jobs yet.")
    return 0


def _jobs_show(args) -> int:
    from lab.jobs import get_job
    from lab.ui_text import log_tail

    job = get_job(args.job_id)
    _print({**job.to_dict(), "log_tail": log_tail(job.log_path)})
    return 0


def _jobs_cancel(args) -> int:
    from lab.jobs import cancel

    print(cancel(args.job_id))
    return 0


def _jobs_resume(args) -> int:
    from lab.jobs import resume

    job = resume(args.job_id)
    print(f"Job {job.id} is {job.state}.")
    return 0
