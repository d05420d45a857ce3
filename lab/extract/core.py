"""The one call for the CLI (and a future job): check both references for the caller, compare the two models'
layers from their headers (refused before any tensor is read), decompose, and write the adapter as an artifact
with both parents in its lineage."""
from __future__ import annotations

import shutil
from pathlib import Path

from lab.access import Caller
from lab.artifacts import finalize, new_folder, parent_entry
from lab.errors import LabError
from lab.extract.plan import plan
from lab.extract.recipe import ExtractRecipe
from lab.extract.svd import extract
from lab.models import resolve
from lab.models.ref import shown
from lab.models.usable import model_for

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "tokenizer.model", "vocab.json", "merges.txt")


def _folder(caller: Caller, text: str, field: str) -> tuple[str, Path]:
    ref = model_for(caller, text, field, expand_adapter=False)
    if ref.adapter is not None:
        raise LabError(f"{shown(text)} is BASE+ADAPTER.", "Give a full model folder, an artifact or a Hub id.", field)
    return ref.base, Path(resolve(ref.base, token=caller.hub_token(), log=lambda m: None))


def _out_folder(recipe: ExtractRecipe, name: str) -> Path:
    if not recipe.out:
        return new_folder("adapter", name)
    out = Path(recipe.out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LabError(f"{out} exists and is not empty.", "Give a new folder (nothing is overwritten).", "out")
    out.mkdir(parents=True, exist_ok=True)
    return out


def run(recipe: ExtractRecipe, caller: Caller, log=print) -> dict:
    model_text, model_dir = _folder(caller, recipe.model, "model")
    base_text, base_dir = _folder(caller, recipe.base, "base")
    layers = plan(model_dir, base_dir)  # a wrong base is refused here, before any tensor is read
    size = f"r{recipe.rank}" if recipe.energy is None else f"e{recipe.energy:g}"
    out = _out_folder(recipe, recipe.name or f"{Path(shown(model_text)).name}-lora-{size}")
    log(f"Decomposing {len(layers.linear)} linear layers of {shown(model_text)} against {shown(base_text)}…")
    try:
        result = extract(layers, recipe.rank, recipe.energy, out, base_text, log)
    except BaseException:
        if not recipe.out:
            shutil.rmtree(out, ignore_errors=True)  # a half-written artifact is not kept
        raise
    if not result["layers"]:
        raise LabError("The model's linear layers equal the base's: there is nothing to extract.",
                       "Check that MODEL is the fine-tuned or merged one.", "model")
    for name in TOKENIZER_FILES:  # the model's own chat template goes with its adapter
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out / name)
    metrics = {k: result[k] for k in ("rank", "mean_rank", "layers", "relative_error", "relative_error_all")}
    how = f"rank {recipe.rank}" if recipe.energy is None else f"{recipe.energy:g} of the spectral energy" + (
        f", rank at most {recipe.rank}" if recipe.rank else "")
    finalize(out, "adapter", [parent_entry(str(model_dir) if _local(model_text) else model_text, "model"),
                              parent_entry(str(base_dir) if _local(base_text) else base_text, "model")],
             recipe=recipe.to_yaml(), metrics=metrics, step=f"extract-lora ({how})", tags=["lora", "extracted"],
             owner=caller.key, extra={"summary": (
                 f"A LoRA adapter extracted from `{shown(model_text)}` against its base `{shown(base_text)}` "
                 f"(SVD of each linear layer's weight difference, {how}). Relative error of the reconstructed "
                 f"difference: {result['relative_error']:.4f}.")})
    return {"adapter": str(out), "model": shown(model_text), "base": shown(base_text), **metrics,
            "not_carried": result["not_carried"], "worst_layers": sorted(
                result["per_layer"], key=lambda r: -r["relative_error"])[:5]}


def _local(text: str) -> bool:
    return Path(text).is_absolute()
