"""Background jobs: SQLite records in LAB_HOME, one worker subprocess per job.

Stages register their job kinds (a name and a runner's dotted path); jobs never import stages.
"""
from lab.jobs.kinds import JobKind, get_kind, register_kind
from lab.jobs.manager import cancel, check_allowed, pump, recover, resume, submit
from lab.jobs.store import Job, get_job, list_jobs

__all__ = ["Job", "JobKind", "register_kind", "get_kind", "submit", "check_allowed", "cancel", "pump", "recover",
           "resume", "get_job", "list_jobs"]
