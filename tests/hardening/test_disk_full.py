"""The disk fills up in the middle of a merge job: the job fails with a message that says so, what it had
written is removed, and every other artifact is exactly as it was.

The fault is injected into the worker process (a sitecustomize on its PYTHONPATH): from the third shard on,
safetensors writes part of the file and then fails the way it does on a full disk (measured on a full tmpfs:
SafetensorError "Error while serializing: I/O error: No space left on device (os error 28)").
"""
from __future__ import annotations

import textwrap

from lab.artifacts import list_artifacts
from lab.jobs.manager import wait
from lab.merge import editor
from tests.hub_helpers import dataset_artifact, snapshot, tiny_model_artifact

FAULT = textwrap.dedent('''
    """Test-only fault injection (tests/hardening/test_disk_full.py): the disk is full from the 3rd shard on."""
    import safetensors
    import safetensors.torch

    _real_save, _calls = safetensors.torch.save_file, []


    def _save_file(tensors, filename, metadata=None):
        _calls.append(filename)
        if len(_calls) < 3:
            return _real_save(tensors, filename, metadata=metadata)
        with open(filename, "wb") as f:
            f.write(b"\\0" * 4096)  # what reached the disk before it filled up
        raise safetensors.SafetensorError(
            "Error while serializing: I/O error: No space left on device (os error 28)")


    safetensors.torch.save_file = _save_file
''')


def test_a_full_disk_fails_the_merge_cleanly(bundled_model, lab_home, tmp_path, monkeypatch):
    others = [dataset_artifact([{"instruction": "hi", "input": "", "output": "hello"}]),
              tiny_model_artifact(bundled_model, name="keep-me")]
    before = {str(f): snapshot(f) for f in others}
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(FAULT)
    monkeypatch.setenv("PYTHONPATH", str(inject))  # the worker inherits it (after the lab's own root)
    text = f"merge_method: passthrough\nslices:\n  - sources:\n      - model: {bundled_model}\n" \
           "        layer_range: [0, 4]\n"
    job = wait(editor.start(text, "full-disk", shard_size=2_000_000).id, timeout=300)
    log = job.log_path.read_text()
    assert job.state == "failed", log[-2000:]
    assert job.error.startswith("disk: The disk is full") and "No space left on device" in job.error, job.error
    assert "Free space where LAB_HOME lives" in job.error
    assert "Finished writing shard #2." in log and "Writing shard #3" in log  # midway, two shards on disk
    leftovers = [p.name for p in lab_home.joinpath("artifacts").rglob("*")
                 if p.suffix == ".safetensors" or p.name == "config.json" or p.name.endswith(".partial")]
    assert sorted(leftovers) == ["config.json", "model.safetensors"]  # the two other artifacts' own files
    assert not job.folder.exists()  # nothing was made: the folder went, the log stays with the job
    assert {a["name"] for a in list_artifacts()} == {f.name for f in others}
    assert {str(f): snapshot(f) for f in others} == before
