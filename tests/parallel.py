"""How the suite splits across pytest-xdist workers (pytest.ini runs `-n 2 --dist loadgroup`).

Each test file is one unit of work, so a module-scoped fixture (a real training run, the tour) is built once,
on one worker. Some files share a unit, run by one worker in collection order:

  browser  the real-browser walk: one `python app.py` for the package, and each step builds on the last.
  memory   the tests whose process tree takes the most memory at its peak (two DDP ranks and a run resumed
           twice; a process that eats memory until the watchdog stops it; a run pushed past its memory limit;
           GRPO's generation): one worker runs them one after another, so no two of them add up on a 24 GB
           machine (a worker's tree measured up to ~10 GB with them, ~6 GB without).

The hostile sweep (tests/security/test_hostile_sweep.py) is split in two units by its own marks: the Space's
callers on one worker, the demo's on the other.

The units that take a minute or more start first (LONG), so that no worker is left running one of them at the
end while the other has nothing to do. `python -m pytest -n 0` runs everything in one process, in file order.
"""
from __future__ import annotations

import os

import pytest

GROUPS = {
    "browser": ("tests/browser/",),
    "memory": ("tests/integration/test_train_jobs.py", "tests/unit/test_watchdog.py",
               "tests/ui/test_memory_watchdog.py", "tests/integration/test_train_methods.py"),
}

# Longest first (measured on a 2-core machine); a file not listed starts after these, in file order.
LONG = ("sweep-space", "memory", "sweep-demo", "browser", "tests/integration/test_tour.py", "tests/integration/test_train.py",
        "tests/integration/test_export.py", "tests/hardening/test_demo_space.py", "tests/integration/test_eval.py",
        "tests/hardening/test_load.py", "tests/hardening/test_unsafe_loading.py", "tests/integration/test_train_hub.py",
        "tests/hardening/test_token_hygiene.py", "tests/integration/test_eval_loop.py", "tests/ui/test_chat_ui.py",
        "tests/integration/test_chat.py", "tests/ui/test_merge_ui.py", "tests/ui/test_merge_extract_ui.py",
        "tests/integration/test_merge_models.py",
        "tests/integration/test_serve.py", "tests/integration/test_train_time.py", "tests/integration/test_merge_evolve.py",
        "tests/integration/test_eval_extract.py", "tests/integration/test_extract_lora.py", "tests/integration/test_runs.py")


def group_of(path: str) -> str:
    """The xdist group of a test file (a path relative to the repository root): a named group, or the file."""
    for name, prefixes in GROUPS.items():
        if path.startswith(prefixes):
            return name
    return path


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): run on the same pytest-xdist worker as the group")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks into the test ids
def pytest_collection_modifyitems(config, items):
    root = config.rootpath
    groups = {}
    for item in items:
        mark = item.get_closest_marker("xdist_group")
        groups[item] = mark.args[0] if mark and mark.args else group_of(item.path.relative_to(root).as_posix())
        if mark is None:
            item.add_marker(pytest.mark.xdist_group(groups[item]))
    if os.environ.get("PYTEST_XDIST_WORKER"):  # every worker sorts alike, so their collections still match
        rank = {name: i for i, name in enumerate(LONG)}
        items.sort(key=lambda item: rank.get(groups[item], len(LONG)))  # stable: file order within a unit
