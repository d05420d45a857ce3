"""Errors that stay and say what to do (issue 26): a user's mistake (LabError) is one line in the server log and a
message that never fades, or the note beside the control; a fault of the lab keeps its traceback in the log."""
import gradio as gr
import pytest

from lab.errors import LabError
from lab.ui.common import notes_errors, shows_errors

MISTAKE = LabError("No model picked.", "Pick 1 to 6 models; the first is the base.", "models")


def test_a_users_mistake_is_one_log_line_and_a_toast_that_stays(capsys):
    @shows_errors
    def handler():
        raise MISTAKE

    with pytest.raises(gr.Error) as err:
        handler()
    assert err.value.duration is None and err.value.print_exception is False  # stays until closed
    assert "Fix: Pick 1 to 6 models" in err.value.message
    out = capsys.readouterr()
    assert out.err == f"user error: {MISTAKE}\n" and "Traceback" not in out.out + out.err


def test_a_fault_keeps_its_traceback_in_the_log(capsys):
    @shows_errors
    def handler():
        raise RuntimeError("boom")

    with pytest.raises(gr.Error) as err:
        handler()
    assert err.value.message == "RuntimeError: boom" and err.value.duration is None
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_a_mistake_goes_into_the_note_beside_its_control(capsys):
    @notes_errors(3, at=1)
    def handler(fail: bool):
        if fail:
            raise MISTAKE
        return "job", "started", "timer"

    assert handler(False) == ("job", "started", "timer")
    first, note, last = handler(True)
    assert note == "⚠️ **`models`: No model picked.**\n\n**Fix:** Pick 1 to 6 models; the first is the base."
    assert first == gr.update() and last == gr.update()
    assert capsys.readouterr().err.count("user error:") == 1
    assert notes_errors(1)(lambda: (_ for _ in ()).throw(MISTAKE))().startswith("⚠️")
