"""Job records in SQLite (WAL) under LAB_HOME. No secrets are ever stored here."""
from __future__ import annotations

import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from lab.errors import LabError
from lab.settings import get_settings

STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
FINAL = {"succeeded", "failed", "cancelled", "interrupted"}
# Allowed transitions of the state machine.
TRANSITIONS = {
    "queued": {"running", "cancelled", "failed"},
    "running": {"succeeded", "failed", "cancelled", "interrupted"},
    "interrupted": {"queued"},  # resume
    "failed": {"queued"},  # resume from the last checkpoint
    "cancelled": {"queued"},
    "succeeded": set(),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, runner TEXT NOT NULL, heavy INTEGER NOT NULL,
  state TEXT NOT NULL, recipe TEXT NOT NULL, title TEXT NOT NULL DEFAULT '',
  created REAL NOT NULL, started REAL, finished REAL, pid INTEGER, pid_started REAL,
  artifact_dir TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', progress REAL NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '', needs_token INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
  owner TEXT NOT NULL DEFAULT '', shared INTEGER NOT NULL DEFAULT 0, ends REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""
_ADDED = {"owner": "TEXT NOT NULL DEFAULT ''", "shared": "INTEGER NOT NULL DEFAULT 0",
          "ends": "REAL NOT NULL DEFAULT 0"}  # columns newer than the table


@dataclass
class Job:
    id: str
    kind: str
    runner: str
    heavy: int
    state: str
    recipe: str
    title: str
    created: float
    started: float | None
    finished: float | None
    pid: int | None
    pid_started: float | None
    artifact_dir: str
    error: str
    progress: float
    message: str
    needs_token: int
    attempts: int
    owner: str  # lab.access key of who submitted it ("" = the lab's owner)
    shared: int  # the owner shared it with every visitor of the Space
    ends: float = 0.0  # when the runner expects to finish, from its measured step times (0: it has not said)

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def folder(self) -> Path:
        return Path(self.artifact_dir)

    @property
    def log_path(self) -> Path:
        """The job's log, kept with the job records (not in its artifact folder, so a failed job whose folder is
        removed keeps its log, and the name is free again). Jobs from before keep theirs where it was."""
        legacy = self.folder / "job.log"
        return legacy if legacy.is_file() else get_settings().home / "logs" / f"{self.id}.log"

    @property
    def metrics_path(self) -> Path:
        return self.folder / "metrics.jsonl"

    def eta_s(self, now: float | None = None) -> float | None:
        """Seconds left: what the runner measured (a training job: its recent step times, lab.train.timing), else
        extrapolated from the time since its first progress past start-up. None before there is anything to go by:
        start-up (loading, tokenizing) says nothing about the pace of the work after it."""
        if self.state != "running" or not self.started:
            return None
        now = now or time.time()
        if self.ends:
            return max(0.0, self.ends - now)
        if self.progress <= 0.01:
            return None
        elapsed = now - self.started
        return max(0.0, elapsed * (1 - self.progress) / self.progress)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["eta_s"] = self.eta_s()
        return out


_COLUMNS = [f.name for f in fields(Job)]


@contextmanager
def connect(immediate: bool = False):
    db = get_settings().jobs_db
    con = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=30000")
        con.executescript(_SCHEMA)
        _migrate(con)
        con.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def _migrate(con) -> None:
    have = {r[1] for r in con.execute("PRAGMA table_info(jobs)")}
    for name, decl in _ADDED.items():
        if name not in have:  # a LAB_HOME from before: every old job is the owner's
            try:
                con.execute(f"ALTER TABLE jobs ADD COLUMN {name} {decl}")
            except sqlite3.OperationalError:  # another process added it a moment ago
                pass


def _row(row) -> Job:
    return Job(*row)


def create(kind: str, runner: str, heavy: bool, recipe: str, title: str = "", needs_token: bool = False,
           artifact_dir: Path | None = None, owner: str = "") -> Job:
    job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    folder = artifact_dir or get_settings().artifacts / f"{kind.replace('.', '-')}-{job_id}"
    with connect(immediate=True) as con:
        con.execute(
            "INSERT INTO jobs (id, kind, runner, heavy, state, recipe, title, created, artifact_dir, needs_token,"
            " owner) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (job_id, kind, runner, int(heavy), "queued", recipe, title, time.time(), str(folder), int(needs_token),
             owner),
        )
    return get_job(job_id)


def get_job_in(con, job_id: str) -> Job:
    row = con.execute(f"SELECT {','.join(_COLUMNS)} FROM jobs WHERE id=?", (job_id,)).fetchone()
    if row is None:
        raise LabError(f"No job {job_id!r}.", "Pick a job from the list (`python -m lab jobs list`).", "job")
    return _row(row)


def get_job(job_id: str) -> Job:
    with connect() as con:
        row = con.execute(f"SELECT {','.join(_COLUMNS)} FROM jobs WHERE id=?", (job_id,)).fetchone()
    if row is None:
        raise LabError(f"No job {job_id!r}.", "Pick a job from the list (`python -m lab jobs list`).", "job")
    return _row(row)


def list_jobs(limit: int = 200, states: tuple[str, ...] = ()) -> list[Job]:
    q = f"SELECT {','.join(_COLUMNS)} FROM jobs"
    args: tuple = ()
    if states:
        q += f" WHERE state IN ({','.join('?' * len(states))})"
        args = tuple(states)
    with connect() as con:
        rows = con.execute(q + " ORDER BY created DESC LIMIT ?", (*args, limit)).fetchall()
    return [_row(r) for r in rows]


def latest_of(kinds: tuple[str, ...], owner: str | None = None, limit: int = 20) -> list[Job]:
    """The newest jobs of these kinds (of one owner key, unless owner is None), newest first."""
    if not kinds:
        return []
    q = f"SELECT {','.join(_COLUMNS)} FROM jobs WHERE kind IN ({','.join('?' * len(kinds))})"
    args: tuple = tuple(kinds)
    if owner is not None:
        q, args = q + " AND owner=?", (*args, owner)
    with connect() as con:
        rows = con.execute(q + " ORDER BY created DESC LIMIT ?", (*args, limit)).fetchall()
    return [_row(r) for r in rows]


def set_state(con, job_id: str, new: str, **extra) -> None:
    """Move a job along the state machine inside an open transaction; illegal moves raise."""
    row = con.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
    if row is None:
        raise LabError(f"No job {job_id!r}.", "Pick an existing job.", "job")
    if new not in TRANSITIONS[row[0]]:
        raise LabError(f"Job {job_id} is {row[0]}; it cannot become {new}.", "", "job")
    update(con, job_id, state=new, **extra)


def update(con, job_id: str, **values) -> None:
    bad = set(values) - set(_COLUMNS)
    if bad:
        raise ValueError(f"unknown job columns {bad}")
    cols = ", ".join(f"{k}=?" for k in values)
    con.execute(f"UPDATE jobs SET {cols} WHERE id=?", (*values.values(), job_id))


def patch(job_id: str, **values) -> None:
    with connect(immediate=True) as con:
        update(con, job_id, **values)


def delete(job_id: str) -> None:
    with connect(immediate=True) as con:
        con.execute("DELETE FROM jobs WHERE id=?", (job_id,))
