"""The `models.prepare` job: fetch (or convert) a model in the background and record its facts."""
from __future__ import annotations

import json

from lab.models.info import info_from_folder
from lab.models.resolve import resolve


def prepare(ctx) -> None:
    ref = ctx.recipe.get("model", "")
    ctx.progress(0.05, f"Resolving {ref}…", force=True)
    folder = resolve(ref, log=ctx.log)
    facts = info_from_folder(folder)
    (ctx.folder / "model.json").write_text(json.dumps({"ref": ref, "folder": str(folder), "info": facts}, indent=2))
    ctx.log(f"{ref} is ready at {folder}: {facts['architecture']}, {facts['params']:,} parameters")
    ctx.progress(1.0, "Ready", force=True)
