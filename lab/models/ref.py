"""ModelRef: the one grammar for a model reference, and the one rule for local paths.

    org/name               a Hub model (config, tokenizer and *.safetensors only are ever fetched), its main branch
    org/name@REV           a Hub model pinned to a revision: a branch, tag or commit sha (lab.repo_id.REVISION)
    NAME                   an artifact of this lab (a folder in LAB_HOME/artifacts), by its folder name
    /path/to/folder        a local model or adapter folder (on a Space: only inside the lab's own folders)
    BASE+ADAPTER           a PEFT adapter folder on a base (a Hub id, pinned or not, an artifact or a folder)
    ADAPTER                an adapter folder alone: its base is the one its adapter_config.json names (with the
                           revision it names, if any)

Only a Hub model carries a revision: an '@' anywhere else (a folder, an artifact, an adapter) is refused before the
disk is asked, and so is a revision outside the strict pattern, before anything is fetched. The base of a pinned
reference is the text org/name@REV: lab.models.resolve splits it and fetches that revision, and `hub_id` and
`revision` name its parts for anything that asks the Hub about the repo itself.

Chat, merge, eval, export, training and the judges all parse their model fields here. On a Space a local path is
read only inside the uploads, LAB_HOME or the models folder; anything else is refused with the same message whether
or not it exists, so the refusal tells a visitor nothing about the server's disk.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field as dc_field
from pathlib import Path

from lab.access import NOT_ALLOWED, NOT_ALLOWED_FIX, Caller
from lab.errors import LabError
from lab.jobs.owners import check_paths
from lab.repo_id import is_model_id, is_pinned_id, is_repo_id, split_revision
from lab.settings import get_settings, is_bundled, lab_roots



@dataclass(frozen=True)
class ModelRef:
    text: str  # as written
    base: str  # a Hub id (org/name, or org/name@REV when pinned), or the local folder of the base model
    adapter: Path | None = None  # a local PEFT adapter folder, applied on the base
    revision: str | None = dc_field(default=None, init=False)  # the Hub base's pinned revision, read from `base`

    def __post_init__(self):
        object.__setattr__(self, "revision", self.base.partition("@")[2] if is_pinned_id(self.base) else None)

    @property
    def hub_id(self) -> str | None:
        """The Hub base's repo id without its revision (what the Hub's API and a card's base_model take)."""
        return self.base.partition("@")[0] if self.base_is_hub else None

    @property
    def base_is_hub(self) -> bool:
        return is_model_id(self.base)

    @property
    def folders(self) -> list[Path]:
        """The local folders this reference reads."""
        out = [] if self.base_is_hub else [Path(self.base)]
        return out + ([self.adapter] if self.adapter else [])

    @property
    def label(self) -> str:
        """How the UI names it: Hub ids as they are, local folders by their name, never a server path."""
        base = shown(self.base)
        return f"{base} + {self.adapter.name}" if self.adapter else base

    def __str__(self) -> str:
        return f"{self.base}+{self.adapter}" if self.adapter else self.base


def shown(ref: str) -> str:
    """A Hub id as it is (with its revision); a local folder by its name (a model the lab downloaded,
    models/owner--name, by its id)."""
    if is_model_id(ref):
        return ref
    path = Path(ref)
    if path.parent == get_settings().models_dir and "--" in path.name:
        return path.name.replace("--", "/", 1)
    return path.name


def _path_like(text: str) -> bool:
    return text.startswith(("/", "~", ".", "file:")) or "\\" in text or (
        "/" in text and not is_model_id(text))


def local_folder(text: str, field: str = "model") -> Path | None:
    """The local folder `text` names, or None when it names none (then it may be a Hub id).

    An artifact's folder name is looked up in LAB_HOME/artifacts first. On a Space, a path outside the lab's own
    folders is refused before the disk is asked, with the same message as one that does not exist."""
    text = (text or "").strip()
    if not text or is_pinned_id(text):  # a pinned Hub id names no folder
        return None
    s = get_settings()
    if "/" not in text and "\\" not in text and text not in (".", ".."):
        candidate = s.artifacts / text
        if candidate.is_dir():
            return candidate.resolve()
    if s.on_space and (_path_like(text) or _exists(text)):
        try:
            real = Path(text.removeprefix("file://")).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):
            real = None
        if real is None or not any(real == r or r in real.parents for r in lab_roots()) or not real.is_dir():
            raise LabError(NOT_ALLOWED, NOT_ALLOWED_FIX, field)
        return real
    if not s.on_space and _exists(text):
        path = Path(text).expanduser()
        if not path.is_dir():
            raise LabError(f"{text} is a file, not a model folder.", "Pick the folder that holds config.json.", field)
        return path.resolve()
    if _path_like(text):
        raise LabError(f"No model folder at {text}." if not s.on_space else NOT_ALLOWED,
                       "Check the path, or give a Hub id (org/name)." if not s.on_space else NOT_ALLOWED_FIX, field)
    return None


def _exists(text: str) -> bool:
    try:
        return Path(text).expanduser().exists()
    except (OSError, ValueError):  # a name too long, or with a NUL: nothing here
        return False


def _adapter(folder: Path | None) -> Path | None:
    return folder if folder is not None and (folder / "adapter_config.json").is_file() else None


def _adapter_folder(text: str, field: str) -> Path:
    try:
        adapter = _adapter(local_folder(text, field))
    except LabError:
        if get_settings().on_space:
            raise
        adapter = None
    if adapter is None:
        raise LabError(f"{shown(text)!r} is not a PEFT adapter folder (no adapter_config.json).",
                       "Write BASE+ADAPTER, where ADAPTER is the folder of a LoRA adapter of this lab.", field)
    return adapter


def named_base(cfg: dict) -> str:
    """The base an adapter_config.json names ('' when none): a Hub id with the revision PEFT records beside it
    (org/name@REV, checked where it is parsed), or a folder."""
    base = str(cfg.get("base_model_name_or_path") or "").strip()
    revision = cfg.get("revision")
    return f"{base}@{revision}" if revision and is_repo_id(base) else base


def adapter_base(adapter: Path, field: str = "model") -> str:
    """The base an adapter names in its adapter_config.json (see named_base), checked like any reference."""
    try:
        cfg = json.loads((adapter / "adapter_config.json").read_text())
    except (OSError, json.JSONDecodeError):
        cfg = {}
    base = named_base(cfg) if isinstance(cfg, dict) else ""
    if not base:
        raise LabError(f"The adapter {adapter.name} does not name its base model.",
                       "Write BASE+ADAPTER to say which base it goes on.", field)
    return base


def _pinned(text: str, field: str) -> str:
    """org/name@REV, both parts checked; an '@' on anything but a Hub id is refused (nothing local has revisions)."""
    repo, revision = split_revision(text, field)
    if revision is None:
        raise LabError(f"{text[:80]!r} pins a revision (@…), but only a Hub model (org/name@REV) has revisions.",
                       "Drop the @…: a folder, an artifact or an adapter is used as it is on disk.", field)
    return f"{repo}@{revision}"


def _base(text: str, field: str) -> str:
    if "@" in text:
        return _pinned(text, field)
    folder = local_folder(text, field)
    if folder is not None:
        return str(folder)
    if not is_repo_id(text):
        raise LabError(f"{text[:80]!r} is neither a model of this lab nor a Hub id like 'org/name'.",
                       "Give a Hub id, or pick a model or adapter of this lab.", field)
    return text


def parse(text, field: str = "model", expand_adapter: bool = True) -> ModelRef:
    """A model reference, checked: Hub id (pinned to a revision or not), artifact, local folder, adapter folder, or
    BASE+ADAPTER. An adapter folder alone stands for its base plus itself unless expand_adapter is False (mergekit
    reads such a folder itself)."""
    text = (text if isinstance(text, str) else "").strip()
    if not text:
        raise LabError("No model given.", "Pick a model, or type a Hub id (org/name).", field)
    if len(text) > 1000 or any(ord(c) < 32 for c in text):
        raise LabError(NOT_ALLOWED, NOT_ALLOWED_FIX, field)
    whole = None if "+" in text or "@" in text else local_folder(text, field)
    if "+" in text:
        base_text, _, adapter_text = text.rpartition("+")
        if not base_text.strip() or not adapter_text.strip() or "+" in base_text:
            raise LabError(f"{text[:80]!r} is not MODEL or BASE+ADAPTER.", "Use one '+' between base and adapter.",
                           field)
        if "@" in adapter_text:
            raise LabError(f"{adapter_text.strip()[:80]!r}: an adapter folder has no revision (@…).",
                           "Pin the base instead: org/name@REV+ADAPTER.", field)
        adapter = _adapter_folder(adapter_text.strip(), field)
        return ModelRef(text, _base(base_text.strip(), field), adapter)
    if expand_adapter and _adapter(whole) is not None:
        return ModelRef(text, _base(adapter_base(whole, field), field), whole)
    return ModelRef(text, str(whole) if whole is not None else _base(text, field), None)


def parse_for(caller: Caller, text, field: str = "model", expand_adapter: bool = True) -> ModelRef:
    """parse(), then what this caller may use: on a Space a visitor reads only their own or shared artifacts, the
    models folder and their own uploads; on the demo only a signed-in visitor makes the lab download a Hub model
    (the bundled one excepted). Refused before anything is read or downloaded."""
    ref = parse(text, field, expand_adapter)
    check_paths(caller, ref.folders, field)
    if get_settings().demo and not caller.signed_in and ref.base_is_hub and not is_bundled(ref.base):
        raise LabError(f"Loading {ref.base} from the Hub on this demo needs you signed in.",
                       "Sign in with Hugging Face (button at the top), or use the bundled model.", field)
    return ref
