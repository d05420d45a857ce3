"""Arena votes have owners (issue 21): each vote is the voter's; a visitor's leaderboard and export hold their own
votes only, the owner's every vote (those of a votes.db from before owners too), and the exported artifact is the
visitor's, named by its folder name."""
from __future__ import annotations

import json
import sqlite3

import httpx
import pytest

from tests.merge_support import tiny_model
from tests.security.spaces import FILTER, OTHER, OWNER, VISITOR, make_artifact, space_app, space_env  # noqa: F401

pytestmark = FILTER
OLD = ("acme/old-a", "acme/old-b")  # a vote recorded before votes had owners


@pytest.fixture(scope="module")
def space(tmp_path_factory, bundled_model):
    root = tmp_path_factory.mktemp("votes")
    tiny = {seed: tiny_model(root / f"tiny-{seed}", bundled_model, seed=seed) for seed in (1, 2)}

    def before(home):
        for user in (VISITOR, OTHER):
            for seed, letter in ((1, "a"), (2, "b")):
                make_artifact(home, f"{user}-{letter}", "model", user, tiny=tiny[seed])
        with sqlite3.connect(home / "votes.db") as con:  # the table as it was before owners
            con.execute("CREATE TABLE votes (id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, "
                        "model_a TEXT NOT NULL, model_b TEXT NOT NULL, prompt TEXT NOT NULL, reply_a TEXT NOT NULL, "
                        "reply_b TEXT NOT NULL, outcome TEXT NOT NULL, settings TEXT)")
            con.execute("INSERT INTO votes (created, model_a, model_b, prompt, reply_a, reply_b, outcome, settings) "
                        "VALUES (1, ?, ?, ?, 'old yes', 'old no', 'a', '{}')",
                        (*OLD, json.dumps([{"role": "user", "content": "An old question"}])))

    with space_app(root, before=before) as s:
        yield s


def _battle_and_vote(space, user: str, prompt: str) -> str:
    client = space.client(user)
    client.predict(prompt, f"{user}-a", f"{user}-b", None, None, "", 1.0, 1.0, 8, 1.0, 0, False,
                   api_name="/arena_battle")
    reveal, _ = client.predict(api_name="/arena_vote_a")
    return reveal


def _models(board) -> set[str]:
    return {row[0] for row in board["data"]} if isinstance(board, dict) else {row[0] for row in board}


def test_each_visitor_sees_and_exports_their_own_votes_and_the_owner_all(space):
    reveal = _battle_and_vote(space, VISITOR, "Bob asks")
    assert "bob-a" in reveal and str(space.home) not in reveal
    _battle_and_vote(space, OTHER, "Carol asks")
    assert _models(space.client(VISITOR).predict(api_name="/arena_leaderboard")) == {"bob-a", "bob-b"}
    assert _models(space.client(OTHER).predict(api_name="/arena_leaderboard")) == {"carol-a", "carol-b"}
    assert _models(space.client().predict(api_name="/arena_leaderboard")) == set()
    assert _models(space.client(OWNER).predict(api_name="/arena_leaderboard")) == {
        "bob-a", "bob-b", "carol-a", "carol-b", *OLD}
    assert OLD[0] not in httpx.get(space.url + "config").text  # the page is built with nobody's votes

    done = space.client(VISITOR).predict("bob-votes", "dpo", api_name="/arena_export")
    assert "bob-votes" in done and str(space.home) not in done
    folder = space.home / "artifacts" / "bob-votes"
    assert json.loads((folder / "lab.json").read_text())["owner"] == VISITOR
    rows = [json.loads(line) for line in (folder / "data.jsonl").read_text().splitlines()]
    assert [r["prompt"][-1]["content"] for r in rows] == ["Bob asks"]

    with sqlite3.connect(space.home / "votes.db") as con:
        owners = dict(con.execute("SELECT owner, COUNT(*) FROM votes GROUP BY owner").fetchall())
    assert owners == {"": 1, VISITOR: 1, OTHER: 1}  # the vote from before owners is the owner's
