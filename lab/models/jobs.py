"""The `models.prepare` job: fetch (or convert) a model in the background and record its facts."""
from __future__ import annotations

import json
import os

from lab.access import job_caller
from lab.models.info import info_from_folder
from lab.models.resolve import resolve
from lab.models.usable import model_for


def prepare(ctx) -> None:
    ref = ctx.recipe.get("model", "")
    model_for(job_caller(), ref, "model", expand_adapter=False)  # whose job this is: checked again where it runs
    ctx.progress(0.05, f"Resolving {ref}…", force=True)
    folder = resolve(ref, token=os.environ.get("HF_TOKEN") or None, log=ctx.log)  # the job's own token
    facts = info_from_folder(folder)
    (ctx.folder / "model.json").write_text(json.dumps({"ref": ref, "folder": str(folder), "info": facts}, indent=2))
    ctx.log(f"{ref} is ready at {folder}: {facts['architecture']}, {facts['params']:,} parameters")
    ctx.progress(1.0, "Ready", force=True)
