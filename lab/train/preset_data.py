"""The datasets some presets come with: the lab's arithmetic set, or the newest KTO export of arena votes."""
from __future__ import annotations

from lab.artifacts import list_artifacts
from lab.train import arith
from lab.train.recipe import PRESET_DATA


def newest_kto_votes() -> str:
    found = [a["path"] for a in list_artifacts() if a.get("kind") == "votes" and "kto" in (a.get("tags") or [])]
    return found[0] if found else ""


def dataset_for(preset: str) -> tuple[str, str]:
    """(dataset reference or "", a note for the user) for a preset; ("", "") when it brings no data."""
    source = PRESET_DATA.get(preset)
    if source == "arithmetic":
        return str(arith.ensure()), "Dataset: the lab's arithmetic set (sums with reference answers)."
    if source == "arena-kto":
        found = newest_kto_votes()
        if found:
            return found, "Dataset: your newest arena export as KTO rows."
        return "", ("No arena votes exported as KTO rows yet: in Chat → Arena, vote, then export as KTO rows "
                    "(or pick any prompt/completion/label dataset).")
    return "", ""
