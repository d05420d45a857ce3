"""The one call for the CLI and the `extract.lora` job: check both references and the task for the caller, compare
the two models' layers from their headers (refused before any tensor is read), decompose, write the adapter as an
artifact with both parents in its lineage, then (with `eval_task`) score it on its base against the full model."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from lab.access import Caller
from lab.artifacts import MANIFEST, finalize, new_folder, parent_entry, read_manifest
from lab.cards import write_card
from lab.errors import LabError
from lab.extract import score
from lab.extract.plan import plan
from lab.extract.recipe import ExtractRecipe
from lab.extract.svd import extract
from lab.models import resolve
from lab.models.ref import shown
from lab.models.usable import model_for

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "tokenizer.model", "vocab.json", "merges.txt")


def _ref(caller: Caller, text: str, field: str) -> str:
    """The model reference, checked for the caller (nothing read or fetched yet)."""
    ref = model_for(caller, text, field, expand_adapter=False)
    if ref.adapter is not None:
        raise LabError(f"{shown(text)} is BASE+ADAPTER.", "Give a full model folder, an artifact or a Hub id.", field)
    return ref.base


def check(recipe: ExtractRecipe, caller: Caller) -> tuple[str, str]:
    """What is refused before any download: the two references and the task, for this caller."""
    refs = _ref(caller, recipe.model, "model"), _ref(caller, recipe.base, "base")
    score.check_task(recipe.eval_task, recipe.eval_limit, caller, caller.hub_token())
    return refs


def default_name(recipe: ExtractRecipe) -> str:
    """<model>-lora-r<rank> (or -e<energy>): the artifact's name when none is given."""
    size = f"r{recipe.rank}" if recipe.energy is None else f"e{recipe.energy:g}"
    return f"{Path(shown(recipe.model.strip())).name}-lora-{size}"


def _out_folder(recipe: ExtractRecipe, name: str, folder: Path | None) -> Path:
    if folder is not None:  # a job's own (empty) artifact folder
        if (folder / MANIFEST).is_file() or (folder / "adapter_config.json").is_file():
            raise LabError(f"{folder.name} already holds an artifact.", "Start a new extract job.", "out")
        return folder
    if not recipe.out:
        return new_folder("adapter", name)
    out = Path(recipe.out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LabError(f"{out} exists and is not empty.", "Give a new folder (nothing is overwritten).", "out")
    out.mkdir(parents=True, exist_ok=True)
    return out


def run(recipe: ExtractRecipe, caller: Caller, log=print, progress=None, folder: Path | None = None) -> dict:
    """Extract (and score); returns the JSON the CLI prints. `progress(fraction, message)` moves per tensor;
    `folder`: the job's artifact folder to write into (default: `out`, else a new artifact)."""
    progress = progress or (lambda fraction, message="": None)
    model_text, base_text = check(recipe, caller)
    progress(0.01, "Fetching the models (safetensors only)…")
    model_dir = Path(resolve(model_text, token=caller.hub_token(), log=lambda m: None))
    base_dir = Path(resolve(base_text, token=caller.hub_token(), log=lambda m: None))
    layers = plan(model_dir, base_dir)  # a wrong base is refused here, before any tensor is read
    out = _out_folder(recipe, recipe.name or default_name(recipe), folder)
    share = 0.5 if recipe.eval_task else 0.95  # of the bar: the decomposition, then the scoring

    def per_tensor(done: int, total: int, name: str) -> None:
        progress(0.02 + share * done / max(total, 1), f"Decomposing {done}/{total}" + (f": {name}" if name else ""))

    log(f"Decomposing {len(layers.linear)} linear layers of {shown(model_text)} against {shown(base_text)}…")
    try:
        result = extract(layers, recipe.rank, recipe.energy, out, base_text, log, per_tensor)
        if not result["layers"]:
            raise LabError("The model's linear layers equal the base's: there is nothing to extract.",
                           "Check that MODEL is the fine-tuned or merged one.", "model")
    except BaseException:
        if not recipe.out:
            shutil.rmtree(out, ignore_errors=True)  # a half-written artifact is not kept
        raise
    for name in TOKENIZER_FILES:  # the model's own chat template goes with its adapter
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out / name)
    metrics = {k: result[k] for k in ("rank", "mean_rank", "layers", "relative_error", "relative_error_all")}
    how = f"rank {recipe.rank}" if recipe.energy is None else f"{recipe.energy:g} of the spectral energy" + (
        f", rank at most {recipe.rank}" if recipe.rank else "")
    model_ref = str(model_dir) if _local(model_text) else model_text
    base_ref = str(base_dir) if _local(base_text) else base_text
    finalize(out, "adapter", [parent_entry(model_ref, "model"), parent_entry(base_ref, "model")],
             recipe=recipe.to_yaml(), metrics=metrics, step=f"extract-lora ({how})", tags=["lora", "extracted"],
             owner=caller.key, extra={"summary": (
                 f"A LoRA adapter extracted from `{shown(model_text)}` against its base `{shown(base_text)}` "
                 f"(SVD of each linear layer's weight difference, {how}). Relative error of the reconstructed "
                 f"difference: {result['relative_error']:.4f}.")})
    answer = {"adapter": str(out), "model": shown(model_text), "base": shown(base_text), **metrics,
              "not_carried": result["not_carried"], "worst_layers": sorted(
                  result["per_layer"], key=lambda r: -r["relative_error"])[:5]}
    if recipe.eval_task:
        progress(0.02 + share, f"Scoring both on {recipe.eval_task}…")
        scores = score.compare(recipe.eval_task, recipe.eval_limit, model_ref, base_ref, out, caller.hub_token(),
                               log, lambda f, m="": progress(0.02 + share + (0.96 - share) * f, m))
        _add_scores(out, scores)
        answer["eval"] = scores
    progress(1.0, f"Done: {metrics['layers']} layers, relative error {metrics['relative_error']:.4f}")
    return answer


def _add_scores(out: Path, scores: dict) -> None:
    """The two scores and their difference into the adapter's manifest (metrics, summary) and card."""
    manifest = read_manifest(out)
    manifest["metrics"] = {**manifest.get("metrics", {}), "eval_task": score.label(scores["task"]),
                           "score_full": scores["full"], "score_adapter": scores["adapter"],
                           "score_difference": scores["difference"]}
    manifest["summary"] = manifest.get("summary", "") + " " + score.summary(scores)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    write_card(out, manifest.get("hub_repo", ""))


def _local(text: str) -> bool:
    return Path(text).is_absolute()
