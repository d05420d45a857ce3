"""Checkpoints on the Hub, so a run resumes even after LAB_HOME was wiped.

Each save uploads the checkpoint folder to `last-checkpoint/` of a private repo (replacing the previous one,
never a later one), in a background thread so training does not wait. A run that finds no local checkpoint
pulls that folder; if the Hub cannot be read, the run stops rather than start again from step 0.
The token comes from the worker's environment (HF_TOKEN); it is never logged or written anywhere.
Resume state (optimizer.pt, rng_state.pth) is read by transformers with torch.load(weights_only=True).
"""
from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

from lab.errors import LabError
from lab.hub.client import api

REMOTE_DIR = "last-checkpoint"


def _api(token: str | None):
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
        self.remote_step = remote_step(repo, token)  # never replaced by an earlier step

    def push(self, folder: Path, step: int) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._upload, args=(Path(folder), step), daemon=True)
        self._thread.start()

    def _upload(self, folder: Path, step: int) -> None:
        if self.remote_step is not None and step <= self.remote_step:
            self.log(f"Checkpoint {step} not pushed: {self.repo} holds the one of step {self.remote_step}, which is "
                     "kept (a push never replaces a later checkpoint).")
            return
        try:
            _api(self.token).upload_folder(repo_id=self.repo, folder_path=str(folder), path_in_repo=REMOTE_DIR,
                                           delete_patterns=["*"], commit_message=f"checkpoint at step {step}")
            self.pushed.append(step)
            self.remote_step = step
            self.log(f"Checkpoint {step} pushed to {self.repo}.")
        except Exception as exc:  # a failed push must not stop training; the local checkpoint stays
            self.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            self.log(f"Checkpoint push to {self.repo} failed ({type(exc).__name__}); training goes on.")

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _remote_files(repo: str, token: str | None) -> list[str] | None:
    """The repo's files; None when the repo does not exist. Any other failure is a LabError."""
    from huggingface_hub.errors import RepositoryNotFoundError  # heavy: huggingface_hub, only for a Hub checkpoint

    try:
        return _api(token).list_repo_files(repo)
    except RepositoryNotFoundError:
        return None
    except Exception as exc:
        raise _unreadable(repo, exc) from None


def _unreadable(repo: str, exc: Exception) -> LabError:
    return LabError(f"Could not read the last checkpoint from {repo} ({type(exc).__name__}: {str(exc)[:200]}).",
                    "Check the connection and your sign-in, then resume. The run stopped before training: it did "
                    "not start again from step 0, and the checkpoint on the Hub is untouched.", "push_checkpoints_to")


def remote_step(repo: str, token: str | None) -> int | None:
    """The step of the Hub's last checkpoint; None when it has none."""
    if f"{REMOTE_DIR}/trainer_state.json" not in (_remote_files(repo, token) or []):
        return None
    from huggingface_hub import hf_hub_download  # heavy: huggingface_hub, only for a Hub checkpoint

    try:
        path = hf_hub_download(repo, f"{REMOTE_DIR}/trainer_state.json", token=token, endpoint=_api(token).endpoint)
        return int(json.loads(Path(path).read_text())["global_step"])
    except Exception as exc:
        raise _unreadable(repo, exc) from None


def pull_checkpoint(repo: str, dest: Path, token: str | None) -> Path | None:
    """Download the Hub's last checkpoint into dest/checkpoint-N. None only when there is none (no repo yet, or
    no checkpoint in it): a failure to read one is a LabError, because training from step 0 would then replace
    the only good checkpoint."""
    files = _remote_files(repo, token) or []
    if not any(f.startswith(REMOTE_DIR + "/") for f in files):
        return None
    from huggingface_hub import snapshot_download  # heavy: huggingface_hub, only for a Hub checkpoint

    tmp = Path(dest) / ".hub-pull"
    try:
        snapshot_download(repo, allow_patterns=[f"{REMOTE_DIR}/*"], local_dir=str(tmp), token=token,
                          endpoint=_api(token).endpoint)
        src = tmp / REMOTE_DIR
        state = json.loads((src / "trainer_state.json").read_text())
        out = Path(dest) / f"checkpoint-{state['global_step']}"
        if not out.exists():
            src.rename(out)
    except Exception as exc:
        raise _unreadable(repo, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
