"""Two pushes race for the same new repo name: exactly one wins, the other gets a clear error naming the repo,
and the winner's files are intact (nothing of the loser's mixed in, the repo not deleted by the loser)."""
from __future__ import annotations

import hashlib
import threading

from lab.errors import LabError
from lab.hub import publish
from tests.hub_helpers import tiny_model_artifact


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_pushes_to_one_new_repo_one_wins(fake_hub, bundled_model, monkeypatch):
    from huggingface_hub import HfApi

    folders = [tiny_model_artifact(bundled_model, name=f"race-{i}", seed=i) for i in range(2)]
    both_checked = threading.Barrier(2, timeout=60)
    real_exists = HfApi.repo_exists

    def exists_then_wait(self, *args, **kwargs):  # both pushes see "no such repo" before either creates it
        answer = real_exists(self, *args, **kwargs)
        both_checked.wait()
        return answer

    monkeypatch.setattr(HfApi, "repo_exists", exists_then_wait)
    results: dict[int, object] = {}

    def push(i: int) -> None:
        try:
            results[i] = publish(folders[i], "race", fake_hub.token, log=lambda m: None)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each push got
            results[i] = exc

    threads = [threading.Thread(target=push, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    won = [i for i, r in results.items() if isinstance(r, str)]
    lost = [i for i, r in results.items() if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1, results
    error = results[lost[0]]
    assert isinstance(error, LabError) and error.field == "repo", repr(error)
    assert "tester/race" in str(error) and "already exists" in str(error)
    assert results[won[0]] == f"{fake_hub.url}/tester/race"
    pushed = fake_hub.files("tester/race")
    assert _sha(pushed / "model.safetensors") == _sha(folders[won[0]] / "model.safetensors")
    assert _sha(pushed / "model.safetensors") != _sha(folders[lost[0]] / "model.safetensors")
    assert f"race-{won[0]}" in (pushed / "lab.json").read_text()
    assert fake_hub.meta("tester/race")["private"] is True
