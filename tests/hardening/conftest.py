"""Shared pieces of the hardening tests: a token-shaped secret, a tiny dataset, load spies, an app launcher."""
from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import random
import string
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see lab.jobs.worker_setup.passive_threads

import pytest  # noqa: E402


def token_like() -> str:
    """A fake token with a real token's shape, unique per call (a leak of it cannot be a coincidence)."""
    return "hf_" + "".join(random.SystemRandom().choices(string.ascii_letters, k=34))


def wait_for(cond, timeout: float, what: str, poll: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(what)


@pytest.fixture
def mini_data(alpaca_path, tmp_path) -> Path:
    """Eight short Alpaca rows (train steps of a few tokens)."""
    from tests.integration.test_train import short_alpaca

    path = tmp_path / "mini.json"
    path.write_text(json.dumps(short_alpaca(alpaca_path, 8)))
    return path


class LoadSpy:
    """Records every from_pretrained (with its kwargs), torch.load, resolve and Hub download in this process."""

    def __init__(self):
        self.pretrained: list[tuple[str, dict]] = []
        self.torch_loads: list[str] = []
        self.resolves: list[str] = []
        self.downloads: list[str] = []

    @property
    def remote_code(self) -> list[tuple[str, dict]]:
        return [(name, kw) for name, kw in self.pretrained if kw.get("trust_remote_code")]

    def nothing_loaded(self) -> bool:
        return not (self.pretrained or self.torch_loads or self.resolves or self.downloads)


def _spy_classmethod(mp, cls, name: str, record) -> None:
    func = inspect.getattr_static(cls, name).__func__

    @functools.wraps(func)
    def spy(klass, *args, **kwargs):
        record(f"{klass.__name__}.{name}", kwargs)
        return func(klass, *args, **kwargs)

    mp.setattr(cls, name, classmethod(spy))


def _spy_function(mp, owner, name: str, record) -> None:
    """Spy on owner.name, and on every lab module that imported that same function at its top."""
    func = getattr(owner, name)

    @functools.wraps(func)
    def spy(*args, **kwargs):
        record(args[0] if args else kwargs)
        return func(*args, **kwargs)

    mp.setattr(owner, name, spy)
    for module in [m for n, m in list(sys.modules.items()) if n == "lab" or n.startswith("lab.")]:
        if module is not owner and getattr(module, name, None) is func:
            mp.setattr(module, name, spy)


@pytest.fixture
def load_spy(monkeypatch) -> LoadSpy:
    import huggingface_hub
    import peft
    import torch
    import transformers

    import lab.models

    resolve_mod = sys.modules["lab.models.resolve"]  # `lab.models.resolve` the attribute is the function
    spy = LoadSpy()
    record = lambda name, kw: spy.pretrained.append((name, dict(kw)))  # noqa: E731
    classes = [transformers.AutoModelForCausalLM, transformers.AutoModelForSequenceClassification,
               transformers.AutoModel, transformers.AutoTokenizer, transformers.AutoConfig,
               transformers.PreTrainedModel, transformers.PreTrainedTokenizerBase, transformers.PretrainedConfig,
               peft.PeftModel, peft.PeftConfig, peft.AutoPeftModelForCausalLM]
    for cls in classes:
        _spy_classmethod(monkeypatch, cls, "from_pretrained", record)
    _spy_function(monkeypatch, torch, "load", lambda f: spy.torch_loads.append(str(f)))
    for owner in (lab.models, resolve_mod):
        _spy_function(monkeypatch, owner, "resolve", lambda ref: spy.resolves.append(str(ref)))
    _spy_function(monkeypatch, resolve_mod, "config_folder", lambda ref: spy.resolves.append(str(ref)))
    for name in ("snapshot_download", "hf_hub_download"):
        _spy_function(monkeypatch, huggingface_hub, name, lambda ref: spy.downloads.append(str(ref)))
    return spy


@contextlib.contextmanager
def running_app(max_size: int = 64, concurrency: int = 4):
    """The lab app launched in this process the way `python app.py` does, with its queue sized as asked."""
    from tests.ui.conftest import launch_app

    demo, url = launch_app(max_size=max_size, concurrency=concurrency)
    try:
        yield demo, url
    finally:
        demo.close()
