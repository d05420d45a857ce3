"""`python -m lab jobs list|show|cancel|resume`."""
from __future__ import annotations

from lab import jobs as lab_jobs
from lab.ui_text import log_tail, print_json


def add_parsers(sub) -> None:
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



def _jobs_list(args) -> int:
    lab_jobs.recover()
    jobs = lab_jobs.list_jobs()
    if args.json:
        print_json([j.to_dict() for j in jobs])
        return 0
    for j in jobs:
        print(f"{j.id}  {j.kind:<16} {j.state:<11} {j.progress * 100:5.1f}%  {j.title}")
    if not jobs:
        print("No jobs yet.")
    return 0


def _jobs_show(args) -> int:
    job = lab_jobs.get_job(args.job_id)
    print_json({**job.to_dict(), "log_tail": log_tail(job.log_path)})
    return 0


def _jobs_cancel(args) -> int:
    print(lab_jobs.cancel(args.job_id))
    return 0


def _jobs_resume(args) -> int:
    job = lab_jobs.resume(args.job_id)
    print(f"Job {job.id} is {job.state}.")
    return 0
