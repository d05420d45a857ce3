"""Checkpoints on the Hub, so a run resumes even after LAB_HOME was wiped.

Each save uploads the checkpoint folder to `last-checkpoint/` of a private repo (replacing the previous one),
in a background thread so training does not wait. A run that finds no local checkpoint pulls that folder.
The token comes from the worker's environment (HF_TOKEN); it is never logged or written anywhere.
Resume state (optimizer.pt, rng_state.pth) is read by transformers with torch.load(weights_only=True).
"""
from __future__ import annotations

import threading
from pathlib import Path

from lab.errors import LabError

REMOTE_DIR = "last-checkpoint"


def _api(token: str | None):
    from lab.hub.client import api

    return api(token)


class CheckpointPusher:
    """Uploads checkpoints one at a time; a newer checkpoint waits for the upload before it."""

    def __init__(self, repo: str, token: str | None, log=print):
        if not token:
            raise LabError("Pushing checkpoints to the Hub needs you signed in.",
                           "Sign in, or clear push_checkpoints_to.", "push_checkpoints_to")
        self.repo, self.token, self.log = repo, token, log
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []
        self.pushed: list[int] = []
        api = _api(token)
        if not api.repo_exists(repo):  # a resumed run finds the repo its first attempt made
            api.create_repo(repo, private=True)

    def push(self, folder: Path, step: int) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._upload, args=(Path(folder), step), daemon=True)
        self._thread.start()

    def _upload(self, folder: Path, step: int) -> None:
        try:
            _api(self.token).upload_folder(repo_id=self.repo, folder_path=str(folder), path_in_repo=REMOTE_DIR,
                                           delete_patterns=["*"], commit_message=f"checkpoint at step {step}")
            self.pushed.append(step)
            self.log(f"Checkpoint {step} pushed to {self.repo}.")
        except Exception as exc:  # a failed push must not stop training; the local checkpoint stays
            self.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            self.log(f"Checkpoint push to {self.repo} failed ({type(exc).__name__}); training goes on.")

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def pull_checkpoint(repo: str, dest: Path, token: str | None) -> Path | None:
    """Download the Hub's last checkpoint into dest/checkpoint-N; None when the repo has none."""
    import json

    from huggingface_hub import snapshot_download

    try:
        files = _api(token).list_repo_files(repo)
    except Exception:
        return None
    if not any(f.startswith(REMOTE_DIR + "/") for f in files):
        return None
    tmp = Path(dest) / ".hub-pull"
    snapshot_download(repo, allow_patterns=[f"{REMOTE_DIR}/*"], local_dir=str(tmp), token=token,
                      endpoint=_api(token).endpoint)
    src = tmp / REMOTE_DIR
    state = json.loads((src / "trainer_state.json").read_text())
    out = Path(dest) / f"checkpoint-{state['global_step']}"
    if not out.exists():
        src.rename(out)
    return out

