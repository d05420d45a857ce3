"""The `export` job: the recipe travels in the job record; a token only in the worker's environment (when the
export also publishes). The job's own folder (log, result) lives apart from the artifact it makes."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from lab import jobs
from lab.auth import require_token
from lab.export import core, source
from lab.export.arch import check_architecture
from lab.export.recipe import ExportRecipe, default_out
from lab.export.write import source_config
from lab.settings import get_settings


def submit(recipe: ExportRecipe, token=None, owner: str | None = None) -> jobs.Job:
    """Check what is cheap to check now (the output name, the architecture), then queue the export."""
    src = source.parse(recipe.source)
    out = Path(recipe.out).expanduser().resolve() if recipe.out else default_out(src.name)
    core.check_out(out, recipe.overwrite)
    check_architecture(source_config(source.config_folder(src, token)))
    if recipe.push:
        token = require_token(token, "Publishing the GGUF to the Hub")
    recipe = recipe.model_copy(update={"out": str(out)})
    folder = get_settings().home / "jobs" / f"export-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    return jobs.submit("export", recipe.model_dump(), title=f"Export {src.name} to GGUF ({', '.join(recipe.types)})",
                       token=token if recipe.push else None, artifact_dir=folder, needs_token=bool(recipe.push),
                       owner=owner)


def run(ctx) -> None:
    recipe = ExportRecipe.model_validate(ctx.recipe)
    ctx.progress(0.01, f"Exporting {recipe.source}…", force=True)
    result = core.export(recipe, token=os.environ.get("HF_TOKEN"), progress=lambda f, m="": ctx.progress(f, m),
                    log=ctx.log, cancelled=ctx.check_cancelled)
    (ctx.folder / "export_result.json").write_text(json.dumps(result, indent=2, default=str))
    ctx.progress(1.0, f"Done: {', '.join(Path(f['file']).name for f in result['files'])}", force=True)


def result_of(job: jobs.Job) -> dict:
    path = job.folder / "export_result.json"
    return json.loads(path.read_text()) if path.is_file() else {}
