"""Blind arena: two models answer one prompt under hidden names in random order; the vote is stored, then revealed.

Votes live in SQLite (LAB_HOME/votes.db). A battle is one prompt (system + user turn), so both replies answer
the very same prompt: that is what makes a vote a clean preference pair. Decisive votes (A or B) export as a
conversational preference dataset (prompt, chosen, rejected) for DPO, or every judged answer exports with its
thumbs up/down (prompt, completion, label) for KTO; the Data and Train tabs load both directly.
"""
from __future__ import annotations

import json
import random
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from lab.access import Caller
from lab.artifacts import finalize, new_folder, parent_entry
from lab.chat import ratings
from lab.errors import LabError
from lab.models.ref import parse
from lab.settings import get_settings

OUTCOMES = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both are bad"}
SCHEMA = """CREATE TABLE IF NOT EXISTS votes (
  id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, model_a TEXT NOT NULL, model_b TEXT NOT NULL,
  prompt TEXT NOT NULL, reply_a TEXT NOT NULL, reply_b TEXT NOT NULL, outcome TEXT NOT NULL, settings TEXT,
  owner TEXT NOT NULL DEFAULT '')"""


@dataclass(frozen=True)
class Battle:
    """Which model sits behind "A" and "B" for one round; shown to the voter only after the vote."""
    model_a: str
    model_b: str

    def to_dict(self) -> dict:
        return {"model_a": self.model_a, "model_b": self.model_b}


def new_battle(models: list[str], rng: random.Random | None = None) -> Battle:
    """Two distinct models from those picked, in random order."""
    distinct = list(dict.fromkeys(m.strip() for m in models if m and m.strip()))
    if len(distinct) < 2:
        raise LabError("The arena needs two different models.", "Pick at least two different models above.", "models")
    a, b = (rng or random.SystemRandom()).sample(distinct, 2)
    return Battle(a, b)


def db_path() -> Path:
    return get_settings().home / "votes.db"


def _connect() -> sqlite3.Connection:
    path = db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(SCHEMA)
    if "owner" not in {row[1] for row in con.execute("PRAGMA table_info(votes)")}:  # a votes.db from before owners
        try:
            con.execute("ALTER TABLE votes ADD COLUMN owner TEXT NOT NULL DEFAULT ''")  # earlier votes: the owner's
        except sqlite3.OperationalError as exc:  # another connection added it first
            if "duplicate column" not in str(exc):
                raise
    return con


def record_vote(battle: Battle, prompt: list[dict], reply_a: str, reply_b: str, outcome: str,
                settings: dict | None = None, owner: str = "") -> int:
    """Store one vote; returns its id. The prompt is the messages both models answered; `owner` is the voter's
    lab.access key ("" the lab's owner)."""
    if outcome not in OUTCOMES:
        raise LabError(f"Unknown vote {outcome!r}.", f"Vote one of {', '.join(OUTCOMES)}.", "vote")
    if not prompt or not (reply_a.strip() and reply_b.strip()):
        raise LabError("There is nothing to vote on yet.", "Run a battle and wait for both replies.", "vote")
    with closing(_connect()) as con, con:
        cur = con.execute(
            "INSERT INTO votes (created, model_a, model_b, prompt, reply_a, reply_b, outcome, settings, owner) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (time.time(), battle.model_a, battle.model_b, json.dumps(prompt), reply_a, reply_b, outcome,
             json.dumps(settings or {}), owner or ""))
        return int(cur.lastrowid)


def list_votes(caller: Caller | None = None) -> list[dict]:
    """The votes `caller` may see: a visitor's own; every vote for the owner (and the CLI, caller None)."""
    if not db_path().is_file():
        return []
    with closing(_connect()) as con:
        if caller is None or caller.is_owner:
            rows = con.execute("SELECT * FROM votes ORDER BY id").fetchall()
        else:
            rows = con.execute("SELECT * FROM votes WHERE owner=? ORDER BY id", (caller.key,)).fetchall()
    return [{**dict(r), "prompt": json.loads(r["prompt"]), "settings": json.loads(r["settings"] or "{}")}
            for r in rows]


def leaderboard(rounds: int = 200, seed: int = 0, caller: Caller | None = None) -> list[dict]:
    """Ratings from the votes `caller` may see (list_votes)."""
    return ratings.leaderboard(ratings.battles_from_votes(list_votes(caller)), rounds=rounds, seed=seed)


def preference_rows(votes: list[dict]) -> tuple[list[dict], int]:
    """(rows, skipped): decisive votes as conversational preference rows; ties and "both bad" carry no preference."""
    rows, skipped = [], 0
    for v in votes:
        if v["outcome"] not in ("a", "b"):
            skipped += 1
            continue
        win, lose = (v["reply_a"], v["reply_b"]) if v["outcome"] == "a" else (v["reply_b"], v["reply_a"])
        rows.append({"prompt": v["prompt"], "chosen": [{"role": "assistant", "content": win}],
                     "rejected": [{"role": "assistant", "content": lose}]})
    return rows, skipped


def kto_rows(votes: list[dict]) -> tuple[list[dict], int]:
    """(rows, skipped): each answer with its thumbs up or down, for KTO. A decisive vote gives the winner up
    and the loser down; "both bad" gives both down; a tie says nothing about either answer."""
    rows, skipped = [], 0
    for v in votes:
        labels = {"a": (True, False), "b": (False, True), "both_bad": (False, False)}.get(v["outcome"])
        if labels is None:
            skipped += 1
            continue
        for reply, label in zip((v["reply_a"], v["reply_b"]), labels):
            rows.append({"prompt": v["prompt"], "completion": [{"role": "assistant", "content": reply}],
                         "label": label})
    return rows, skipped


FORMS = {"dpo": (preference_rows, "conversational preference: prompt, chosen, rejected", ["preference", "dpo"]),
         "kto": (kto_rows, "unpaired feedback: prompt, completion, label (true: thumbs up)", ["kto", "unpaired"])}


def _parents(votes: list[dict]) -> list[dict]:
    parents, seen = [], set()
    for v in votes:
        for ref in (v["model_a"], v["model_b"]):
            try:
                mref = parse(ref)
            except LabError:
                mref = None
            entries = [(ref, "model")]
            if mref and mref.adapter:  # an adapter's lineage names its base and the adapter folder
                entries = [(mref.base, "model"), (str(mref.adapter), "adapter")]
            for r, kind in entries:
                if r not in seen:
                    seen.add(r)
                    parents.append(parent_entry(r, kind))
    return parents


def export_preferences(name: str = "", form: str = "dpo", caller: Caller | None = None) -> Path:
    """Write the votes `caller` may see as an artifact (data.jsonl + recipe + manifest + card), owned by the
    caller; returns its folder. form "dpo": decisive votes as preference pairs; "kto": every judged answer with
    its up/down label."""
    if form not in FORMS:
        raise LabError(f"Unknown export form {form!r}.", f"Use one of: {', '.join(FORMS)}.", "form")
    to_rows, described, tags = FORMS[form]
    votes = list_votes(caller)
    rows, skipped = to_rows(votes)
    if not rows:
        raise LabError(f"No votes to export as {form.upper()} rows ({skipped} ties"
                       f"{'' if form == 'kto' else ' or both bad'}).", "Vote in a few battles first.", "votes")
    folder = new_folder("votes", name)
    with open(folder / "data.jsonl", "w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    recipe = {"source": "chat arena votes", "votes_db": str(db_path()), "votes": len(votes), "format": described,
              "skipped_ties": skipped}
    finalize(folder, kind="votes", parents=_parents(votes), recipe=recipe, step=f"arena votes ({form})",
             metrics={"rows": len(rows), "skipped_ties": skipped, "votes": len(votes)},
             tags=[*tags, "arena", "human-feedback"], owner=None if caller is None else caller.key)
    return folder
