"""The Chat tab over HTTP (gradio_client): two panes streaming together, multi-turn, regenerate, the arena."""
from gradio_client import Client, handle_file

from lab.settings import DEFAULT_MODEL
from tests.conftest import SECRET_PROMPT

# prompt, model 1-4, system, temperature, top_p, max_new_tokens, repetition penalty, seed, 4-bit
SETTINGS = ("", 0, 0.9, 24, 1.1, None, False)


def _text(pane: list) -> str:
    """The last assistant message of a chatbot value, as text (Gradio 6 sends content parts)."""
    msgs = [m for m in pane if m["role"] == "assistant"]
    return "".join(p.get("text", "") for p in msgs[-1]["content"]) if msgs else ""


def test_two_panes_stream_together_base_and_adapter_differ(app_url, lora_adapter):
    from lab.chat.registry import get_registry

    adapter_ref = f"{DEFAULT_MODEL}+{lora_adapter}"
    client = Client(app_url, verbose=False)
    job = client.submit(SECRET_PROMPT, DEFAULT_MODEL, adapter_ref, None, None, *SETTINGS, api_name="/chat")
    frames = list(job)
    final = job.outputs()[-1]
    base, tuned = _text(final[0]), _text(final[1])
    assert "pineapple" in tuned.lower() and "pineapple" not in base.lower()
    assert final[2] == [] and final[3] == []  # panes without a model stay empty
    assert "first token" in final[4] and "tok/s" in final[5]
    # streamed, and together: some frame shows both replies part-way
    partial = [f for f in frames[:-1] if _text(f[0]) and _text(f[1]) and (_text(f[0]) != base or _text(f[1]) != tuned)]
    assert len(frames) >= 3 and partial
    registry = get_registry()
    entry = registry.entry_for(DEFAULT_MODEL)
    assert entry is registry.entry_for(adapter_ref) and entry.is_peft  # one base in memory serves both panes

    # the session keeps each pane's history: a second turn sees the first in the model's template
    final2 = client.predict("Say it again.", DEFAULT_MODEL, adapter_ref, None, None, *SETTINGS[:3], 8, *SETTINGS[4:],
                            api_name="/chat")
    assert [m["role"] for m in final2[1]] == ["user", "assistant", "user", "assistant"]
    regen = client.predict(DEFAULT_MODEL, adapter_ref, None, None, *SETTINGS[:3], 8, *SETTINGS[4:],
                           api_name="/regenerate")
    assert len(regen[1]) == 4 and "".join(p["text"] for p in regen[1][2]["content"]) == "Say it again."
    cleared = client.predict(api_name="/clear")
    assert cleared[:4] == ([], [], [], [])


def test_blind_battle_vote_reveal_and_export(app_url, lora_adapter):
    client = Client(app_url, verbose=False)
    adapter_ref = f"{DEFAULT_MODEL}+{lora_adapter}"
    client.predict(SECRET_PROMPT, DEFAULT_MODEL, adapter_ref, None, None, "", 0, 0.9, 12, 1.1, None, False,
                   api_name="/arena_battle")
    reveal, board = client.predict(api_name="/arena_vote_a")
    assert "Model A was" in reveal and "Model B was" in reveal and "A is better" in reveal
    assert sorted(board["data"][i][1] for i in range(2)) == [1, 1]  # each model fought once
    done = client.predict("", api_name="/arena_export")
    assert "Exported 1 preference rows" in done


def test_stop_ends_the_replies_and_batch_compare_exports_csv(app_url, tmp_path):
    import csv
    import time

    client = Client(app_url, verbose=False)
    job = client.submit("Write a very long story about a dragon.", DEFAULT_MODEL, None, None, None, "", 0, 0.9, 600,
                        1.1, None, False, api_name="/chat")
    deadline = time.time() + 120
    while time.time() < deadline and not (job.outputs() and _text(job.outputs()[-1][0])):
        time.sleep(0.1)
    assert client.predict(api_name="/stop") == "Stopped."
    final = job.result(timeout=120)
    assert "stopped" in final[4] and len(final[0]) == 2

    upload = tmp_path / "prompts.csv"
    upload.write_text("prompt\nName a fruit.\n")
    table, path, note = client.predict("Name a colour.", handle_file(str(upload)),
                                       DEFAULT_MODEL, DEFAULT_MODEL, None, None, "", 0, 0.9, 8, 1.1, None, False,
                                       api_name="/batch_compare")
    assert note.startswith("2 prompts × 2 models")
    assert table["headers"] == ["prompt", DEFAULT_MODEL, f"{DEFAULT_MODEL} #2"]
    rows = list(csv.reader(open(path, encoding="utf-8-sig")))
    assert [r[0] for r in rows] == ["prompt", "Name a colour.", "Name a fruit."] and all(r[1] == r[2] for r in rows[1:])


def test_an_early_vote_waits_and_the_arena_stop_ends_both_replies(app_url, lora_adapter):
    """Votes wait for both replies (an early one is refused in the reveal, saying what to do, not an Error badge);
    the arena's Stop ends both streams, and a stopped battle takes no vote."""
    import time

    from lab.ui import chat_strings as S

    client = Client(app_url, verbose=False)
    job = client.submit("Write a very long story about a dragon.", DEFAULT_MODEL, f"{DEFAULT_MODEL}+{lora_adapter}",
                        None, None, "", 0, 0.9, 600, 1.1, None, False, api_name="/arena_battle")
    deadline = time.time() + 120
    while time.time() < deadline and not (job.outputs() and _text(job.outputs()[-1][0])):
        time.sleep(0.1)
    early = client.predict(api_name="/arena_vote_a")[0]
    assert S.ARENA_WAIT in early and "Fix:" in early
    assert client.predict(api_name="/arena_stop") == "Stopped."
    final = job.result(timeout=120)
    assert final[-1] == S.ARENA_STOPPED and _text(final[0]) and _text(final[1])
    late = client.predict(api_name="/arena_vote_a")[0]
    assert S.ARENA_STOPPED in late and "Model A was" not in late
    assert client.predict(api_name="/arena_stop") == S.ARENA_STOP_NOTHING
