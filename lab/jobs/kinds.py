"""The small registry of job kinds. A kind names its runner by dotted path ("pkg.mod:fn")."""
from __future__ import annotations

from dataclasses import dataclass

from lab.errors import LabError


@dataclass(frozen=True)
class JobKind:
    name: str
    runner: str  # "package.module:function", called with a JobContext
    heavy: bool = True  # heavy jobs run one at a time; the rest queue
    label: str = ""


_KINDS: dict[str, JobKind] = {}


def register_kind(name: str, runner: str, heavy: bool = True, label: str = "") -> JobKind:
    if ":" not in runner:
        raise ValueError(f"runner {runner!r} must look like 'package.module:function'")
    kind = JobKind(name, runner, heavy, label or name)
    _KINDS[name] = kind
    return kind


def get_kind(name: str) -> JobKind:
    if name not in _KINDS:
        raise LabError(f"Unknown job kind {name!r}. Known: {', '.join(sorted(_KINDS)) or 'none'}.",
                       "Use one of the known kinds.", "kind")
    return _KINDS[name]


def all_kinds() -> dict[str, JobKind]:
    return dict(_KINDS)


# Built-in kinds. Stages add theirs with register_kind() in their own modules.
register_kind("models.prepare", "lab.models.jobs:prepare", heavy=False, label="Prepare model")
