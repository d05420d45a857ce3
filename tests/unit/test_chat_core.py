"""Chat settings, prompt building, pane bookkeeping and arena storage: pure code, no model."""
import json
import threading
import time

import pytest
import yaml

from lab.chat import arena, session
from lab.chat.batch import column_names, parse_prompts, write_csv
from lab.chat.loaded import FairLock
from lab.models.ref import parse
from lab.chat.prompt import build_messages, flatten_content, flatten_history
from lab.chat.spec import ChatSpec, build_spec
from lab.chat.events import Event
from lab.errors import LabError


def test_max_new_tokens_above_the_cap_is_clamped_with_a_notice(monkeypatch):
    monkeypatch.setenv("LAB_MAX_NEW_TOKENS", "64")
    from lab.settings import reset_caches

    reset_caches()
    spec = build_spec({"max_new_tokens": 500})
    assert spec.max_new_tokens == 64
    assert len(spec.notices) == 1 and "clamped to 64" in spec.notices[0]
    assert build_spec({"max_new_tokens": 32}).notices == []


def test_bad_settings_name_the_field_and_the_fix():
    with pytest.raises(LabError) as err:
        build_spec({"temperature": 3})
    assert err.value.field == "temperature" and "Randomness" in err.value.fix
    with pytest.raises(LabError) as err:
        build_spec({"models": ["a", "b", "c", "d", "e"]})
    assert err.value.field == "models"


def test_spec_round_trips_through_yaml():
    spec = build_spec({"models": ["x/y"], "system_prompt": "Be brief.", "seed": 7, "temperature": 0})
    again = ChatSpec.from_yaml(spec.to_yaml())
    assert again == spec and yaml.safe_load(spec.to_yaml())["seed"] == 7
    assert spec.sampling is False and build_spec({}).sampling is True


def test_gradio_content_parts_are_flattened():
    parts = [{"type": "text", "text": "Hello "}, {"type": "file", "file": {"path": "x.png"}},
             {"type": "text", "text": "there"}]
    assert flatten_content(parts) == "Hello there"
    assert flatten_content({"type": "text", "text": "hi"}) == "hi" and flatten_content(None) == ""
    history = [{"role": "user", "content": parts}, {"role": "assistant", "content": [{"type": "text", "text": "Hi!"}]},
               {"role": "assistant", "content": "boom", "metadata": {"title": "error"}}]
    assert flatten_history(history) == [{"role": "user", "content": "Hello there"},
                                        {"role": "assistant", "content": "Hi!"}]
    msgs = build_messages("Be nice.", history, "And now?")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert all(isinstance(m["content"], str) for m in msgs)


def test_turn_keeps_each_pane_history_and_skips_failed_panes():
    turn = session.Turn(session.empty_histories(), ["m1", "", "m3", ""], "Hi", labels=["A", "", "C", ""])
    assert turn.active == [0, 2]
    turn.apply([Event(0, "delta", "Hel"), Event(1, "error", "model: broken"), Event(0, "delta", "lo")])
    assert turn.display(0)[-1] == {"role": "assistant", "content": "Hello"}
    assert turn.display(2)[-1]["metadata"]["title"].endswith("failed") and "broken" in turn.display(2)[-1]["content"]
    assert not turn.done()
    turn.apply([Event(0, "done", stats={"ttft_s": 0.1, "tokens_per_s": 20.0, "tokens": 2})])
    assert turn.done() and "first token 0.10 s" in turn.stats_line(0) and "error" in turn.stats_line(2)
    hist = turn.final_histories()
    assert hist[0] == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    assert hist[2] == [] and hist[1] == []
    undone, prompt = session.undo_last(hist)
    assert prompt == "Hi" and undone == session.empty_histories()
    with pytest.raises(LabError):
        session.undo_last(undone)
    with pytest.raises(LabError):
        session.Turn(session.empty_histories(), ["", "", "", ""], "Hi")


def test_model_refs(tmp_path):
    adapter = tmp_path / "my-adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "org/base"}))
    assert parse("org/base") == parse("org/base") and parse("org/base").adapter is None
    r = parse(str(adapter))
    assert r.base == "org/base" and r.adapter == adapter.resolve() and r.label == "org/base + my-adapter"
    r = parse(f"other/base+{adapter}")
    assert r.base == "other/base" and r.adapter == adapter.resolve()
    with pytest.raises(LabError) as err:
        parse(f"org/base+{tmp_path / 'nope'}")
    assert err.value.field == "model"
    assert column_names(["org/base", "org/base", str(adapter)]) == ["org/base", "org/base #2", "org/base + my-adapter"]


def test_fair_lock_serves_waiters_in_turn():
    lock, order = FairLock(), []
    lock.acquire()

    def pane(name):
        lock.acquire()
        order.append(name)
        lock.release()

    threads = [threading.Thread(target=pane, args=(n,)) for n in ("b", "c")]
    for t in threads:
        t.start()
        time.sleep(0.05)  # b queues before c
    assert lock.yield_turn() is True  # a steps aside: b and c go first, then a gets its turn back
    order.append("a")
    lock.release()
    for t in threads:
        t.join()
    assert order == ["b", "c", "a"]
    lock.acquire()
    assert lock.yield_turn() is False  # nobody waiting: no hand-over
    lock.release()


def test_prompts_from_text_and_files(tmp_path):
    (tmp_path / "p.csv").write_text("id,prompt\n1,First\n2,\"Second, with comma\"\n")
    (tmp_path / "p.jsonl").write_text('{"prompt": "Third"}\n{"instruction": "Fourth"}\n')
    assert parse_prompts("a\n\n b ", tmp_path / "p.csv") == ["a", "b", "First", "Second, with comma"]
    assert parse_prompts("", tmp_path / "p.jsonl") == ["Third", "Fourth"]
    (tmp_path / "bad.json").write_text("[1,")
    for text, file in (("", None), ("", tmp_path / "bad.json")):
        with pytest.raises(LabError) as err:
            parse_prompts(text, file)
        assert err.value.field == "prompts"
    path = write_csv(["prompt", "m"], [["é?", "oui"]])
    assert path.read_text(encoding="utf-8-sig").splitlines() == ["prompt,m", "é?,oui"]


def test_votes_are_stored_and_only_decisive_ones_export(lab_home):
    b = arena.Battle("org/a", "org/b")
    prompt = [{"role": "user", "content": "Q?"}]
    arena.record_vote(b, prompt, "ra", "rb", "b")
    arena.record_vote(b, prompt, "ra", "rb", "tie")
    with pytest.raises(LabError):
        arena.record_vote(b, prompt, "ra", "", "a")  # a missing reply is nothing to vote on
    assert (lab_home / "votes.db").is_file() and len(arena.list_votes()) == 2
    rows, skipped = arena.preference_rows(arena.list_votes())
    assert skipped == 1 and rows == [{"prompt": prompt, "chosen": [{"role": "assistant", "content": "rb"}],
                                      "rejected": [{"role": "assistant", "content": "ra"}]}]
    board = arena.leaderboard(rounds=20)
    assert [r["model"] for r in board] == ["org/b", "org/a"]
    with pytest.raises(LabError):
        arena.new_battle(["org/a", "org/a", ""])
    assert set(arena.new_battle(["org/a", "org/b", "org/c"]).to_dict().values()) <= {"org/a", "org/b", "org/c"}
