"""A reward written by the user: `reward(prompt, completion, **columns) -> float` from a .py file.

Loading it runs the user's code in the training process, so it is allowed only where the lab runs for its
owner: never on the public demo (LAB_DEMO=1), and on a Space only for its signed-in owner (a duplicate's
owner is whoever duplicated it). Locally, the person at the keyboard owns the lab.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from lab.access import Caller
from lab.errors import LabError
from lab.settings import get_settings
from lab.train.methods.rewards.text import Sample

DEFAULT_FUNCTION = "reward"


def check_allowed(caller: Caller | None = None, where: str = "app") -> None:
    """Refuse user code on the public demo, and on a Space for anyone but its owner (lab.access decides who that is).
    `where`: "app" checks the caller; "worker" (a job the app already checked, or the CLI) only the demo."""
    s = get_settings()
    if s.demo:
        raise LabError("Python rewards run your own code, which the public demo never does.",
                       "Duplicate the Space (or run the lab locally) and use the python reward there.", "rewards")
    if where == "app" and s.on_space and not (caller is not None and caller.is_owner):
        if caller is None or not caller.signed_in:
            raise LabError("Python rewards run code on this Space, so they need its owner signed in.",
                           "Sign in with Hugging Face (button at the top) as the Space's owner.", "sign-in")
        raise LabError(f"Python rewards run code on this Space; only its owner may use them, not {caller.name}.",
                       "Duplicate the Space to your account and run it there.", "rewards")


def _split(param: str) -> tuple[Path, str]:
    path, _, fn = param.partition(".py:")
    if fn:
        path += ".py"
    return Path(path.strip()).expanduser(), (fn or DEFAULT_FUNCTION).strip()


class PythonReward:
    def __init__(self, param: str):
        self.path, self.function = _split(param)
        self._fn = None

    def check(self) -> None:
        check_allowed(where="worker")
        if self.path.suffix != ".py" or not self.path.is_file():
            raise LabError(f"No Python file at {self.path}.", "Give python:FILE.py[:FUNCTION] with an existing "
                           "file.", "rewards")

    def load(self):
        self.check()
        spec = importlib.util.spec_from_file_location(f"lab_user_reward_{abs(hash(self.path))}", self.path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)  # the user's code runs here: check() allowed it
        except Exception as exc:
            raise LabError(f"{self.path} failed to load: {type(exc).__name__}: {exc}.",
                           "Fix the file (run it with python first).", "rewards") from None
        fn = getattr(module, self.function, None)
        if not callable(fn):
            raise LabError(f"{self.path} has no function {self.function}().",
                           f"Define def {self.function}(prompt, completion, **columns) -> float, or name the "
                           "function as python:FILE.py:NAME.", "rewards")
        return fn

    def score(self, s: Sample) -> float:
        if self._fn is None:
            self._fn = self.load()
        value = self._fn(s.prompt, s.completion, **s.columns)
        if value is None:
            return None
        return float(value)
