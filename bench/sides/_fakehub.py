"""Both sides of the hub bench start the same fake Hub in a thread, on tmpfs when there is one."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def hub_dir() -> str | None:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2 << 30:
        return str(shm)  # the Hub's disk is not what is measured
    return os.environ.get("BENCH_TMP")


@contextlib.contextmanager
def running_fake_hub():
    os.environ["HF_HUB_DISABLE_XET"] = "1"  # the fake Hub speaks LFS, not Xet
    os.environ.pop("HF_HUB_OFFLINE", None)
    from tests.fakehub import FakeHub

    root = Path(tempfile.mkdtemp(prefix="fakehub-", dir=hub_dir()))
    hub = FakeHub(root).start()
    try:
        yield hub
    finally:
        hub.stop()
        shutil.rmtree(root, ignore_errors=True)
