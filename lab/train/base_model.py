"""The model a run starts from, read from its config files only (never the weights): the folder with its config,
an adapter artifact's base, and the facts preflight checks (size, maximum length, chat template).
"""
from __future__ import annotations

from pathlib import Path

from lab.models.info import info_from_folder, read_config
from lab.models.ref import adapter_base
from lab.models.resolve import config_folder


def model_folders(ref: str, token: str | None = None) -> tuple[Path, Path | None]:
    """(folder with the base config, adapter folder or None): an adapter artifact trains on top of its base (at the
    revision its adapter_config.json names, if any)."""
    path = Path(ref).expanduser()
    if path.is_dir() and (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
        return config_folder(adapter_base(path), token=token), path
    return config_folder(ref, token=token), None


def model_facts(ref: str, token: str | None = None) -> dict:
    folder, adapter = model_folders(ref, token)
    cfg = read_config(folder)
    return {**info_from_folder(folder), "config": cfg.get("text_config", cfg), "config_json": cfg,
            "folder": str(folder), "adapter": str(adapter or "")}
