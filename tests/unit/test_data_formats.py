"""Loading files, detecting formats and normalizing to TRL's standard forms."""
import json

import pytest

from lab.data import formats, load, normalize
from lab.data.recipe import Source
from lab.errors import LabError
from tests.unit.data_fixtures import alpaca_rows, sharegpt_dpo_rows


def _write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _load(path, **kw):
    return load.load_source(Source(path=str(path), **kw))


def test_alpaca_becomes_messages(tmp_path):
    rows, _ = alpaca_rows()
    rows[0] = {**rows[0], "input": "for beginners", "system": "Be brief."}
    got = _load(_write(tmp_path / "a.jsonl", rows))
    assert (got.format, got.form, len(got.rows)) == ("alpaca", "messages", len(rows))
    msgs = got.rows[0]["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
    assert msgs[1]["content"] == "Give three tips about baking bread.\n\nfor beginners"
    assert msgs[2]["content"] == rows[0]["output"]


def test_sharegpt_keeps_system_turns_and_multi_turn(tmp_path):
    rows = [{"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "Q1"},
                               {"from": "gpt", "value": "A1"}, {"from": "human", "value": "Q2"},
                               {"from": "gpt", "value": "A2"}]}]
    got = _load(_write(tmp_path / "s.json", rows))
    assert got.format == "sharegpt"
    assert [m["role"] for m in got.rows[0]["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    table = normalize.combine([got])
    assert table.texts("answer") == ["A2"] and table.texts("prompt") == ["S\nQ1\nA1\nQ2"]


def test_openai_messages_and_prompt_completion(tmp_path):
    msgs = _load(_write(tmp_path / "m.jsonl", [{"messages": [{"role": "user", "content": "hi"},
                                                              {"role": "assistant", "content": "hello"}]}]))
    pc = _load(_write(tmp_path / "pc.jsonl", [{"prompt": "hi", "completion": "hello"}]))
    assert (msgs.format, pc.format, pc.form) == ("openai", "prompt_completion", "prompt_completion")
    assert pc.rows[0] == {"prompt": [{"role": "user", "content": "hi"}],
                          "completion": [{"role": "assistant", "content": "hello"}]}
    table = normalize.combine([msgs, pc])  # mixed SFT forms become messages, each row keeps its source
    assert table.form == "messages" and table.sources == ["m.jsonl", "pc.jsonl"]
    assert table.rows[0] == table.rows[1]


def test_sharegpt_preference_fixture(tmp_path):
    got = _load(_write(tmp_path / "dpo.json", sharegpt_dpo_rows()))
    assert (got.format, got.form) == ("sharegpt_preference", "preference")
    assert got.rows[0]["prompt"][0] == {"role": "system", "content": "You are a patient coach."}
    assert [m["role"] for m in got.rows[1]["prompt"]] == ["user", "assistant", "user"]
    assert all(r["chosen"][0]["role"] == r["rejected"][0]["role"] == "assistant" for r in got.rows)


def test_dpo_en_demo_normalizes_to_300_preference_rows(dpo_path):
    got = _load(dpo_path)
    assert (got.format, got.form, len(got.rows)) == ("sharegpt_preference", "preference", 300)
    for row in got.rows:
        assert len(row["chosen"]) == len(row["rejected"]) == 1
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"
        assert row["prompt"][-1]["role"] == "user"
        assert {m["role"] for m in row["prompt"]} <= {"system", "user", "assistant"}
    assert sum(m["role"] == "system" for r in got.rows for m in r["prompt"]) == 80


def test_alpaca_en_demo_loads_999_rows(alpaca_path):
    got = _load(alpaca_path)
    assert (got.format, len(got.rows)) == ("alpaca", 999)


def test_plain_preference_strings(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("prompt,chosen,rejected\nWhat is 2+2?,4,5\n")
    got = _load(path)
    assert got.format == "preference"
    assert got.rows[0] == {"prompt": [{"role": "user", "content": "What is 2+2?"}],
                           "chosen": [{"role": "assistant", "content": "4"}],
                           "rejected": [{"role": "assistant", "content": "5"}]}


def test_unknown_columns_ask_for_a_mapping_and_the_mapping_works(tmp_path):
    path = _write(tmp_path / "qa.jsonl", [{"question": "Why?", "answer": "Because."}])
    with pytest.raises(formats.NeedsMapping) as err:
        _load(path)
    assert err.value.columns == ["question", "answer"] and err.value.field == "columns"
    got = _load(path, format="alpaca", columns={"instruction": "question", "output": "answer"})
    assert got.rows[0]["messages"][-1] == {"role": "assistant", "content": "Because."}
    with pytest.raises(LabError, match="needs a 'output' column"):
        _load(path, format="alpaca", columns={"instruction": "question"})


def test_ambiguous_columns_are_not_guessed(tmp_path):
    row = {"instruction": "Q", "output": "A", "messages": [{"role": "user", "content": "Q"}]}
    with pytest.raises(formats.NeedsMapping) as err:
        _load(_write(tmp_path / "both.jsonl", [row]))
    assert set(err.value.candidates) == {"alpaca", "openai"}


def test_corrupt_json_names_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n\n{"instruction": "c", "output": }\n')
    with pytest.raises(LabError, match="line 3"):
        load.read_file(bad)
    arr = tmp_path / "bad.json"
    arr.write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c" "output": "d"}\n]\n')
    with pytest.raises(LabError, match="line 3"):
        load.read_file(arr)


def test_wrong_type_and_size_cap(tmp_path, monkeypatch):
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(LabError, match=r"\.txt file; the lab reads"):
        load.read_file(txt)


def test_the_upload_cap_is_for_browser_uploads_only(tmp_path, monkeypatch):
    from lab.settings import reset_caches
    from lab.train.data import load_dataset

    big = _write(tmp_path / "big.jsonl", [{"instruction": "x" * 1000, "output": "y"}] * 1200)
    monkeypatch.setenv("LAB_MAX_UPLOAD_MB", "1")
    reset_caches()
    assert len(load.read_file(big)) == 1200  # the CLI and training read a local file of any size
    assert len(load_dataset(str(big))[0]) == 1200
    with pytest.raises(LabError, match="above the 1 MB limit") as err:  # a browser upload is capped
        load.store_upload(big)
    assert err.value.field == "file" and not (tmp_path / "labhome" / "uploads").exists()


def test_preference_and_sft_do_not_combine(tmp_path):
    a = _load(_write(tmp_path / "a.jsonl", alpaca_rows()[0]))
    d = _load(_write(tmp_path / "d.jsonl", sharegpt_dpo_rows()))
    with pytest.raises(LabError, match="cannot be combined"):
        normalize.combine([a, d])


def test_unknown_role_names_the_row(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
            {"conversations": [{"from": "narrator", "value": "q"}, {"from": "gpt", "value": "a"}]}]
    with pytest.raises(LabError, match=r"row 2: unknown role 'narrator'"):
        _load(_write(tmp_path / "r.jsonl", rows))


def test_lone_surrogates_are_replaced_so_export_works(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"instruction": "smile \\ud83d please", "output": "ok \\ud83d\\ude00"}\n')
    got = _load(path)
    assert got.rows[0]["messages"][0]["content"] == "smile ? please"
    assert got.rows[0]["messages"][1]["content"] == "ok \U0001F600"
    import pyarrow as pa

    pa.Table.from_pylist(got.rows)  # would raise on a lone surrogate
