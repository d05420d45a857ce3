"""What a finished merge leaves: the model, mergekit_config.yml, the card with every parent and the lineage,
and a family-tree picture (SVG: parents -> child, several generations deep where manifests and cards allow)."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from lab.artifacts import finalize, parent_entry
from lab.lineage import family_edges, family_tree_svg
from lab.merge.methods import METHODS
from lab.merge.recipe import AnyRecipe, MoERecipe
from lab.merge.refs import split_ref
from lab.models.info import count_params
from lab.models.resolve import config_folder


def card_bases(folder: Path) -> list[str]:
    """base_model from a model card's YAML front matter (a Hub download or a local folder)."""
    card = Path(folder) / "README.md"
    if not card.is_file():
        return []
    text = card.read_text(errors="replace")
    if not text.startswith("---"):
        return []
    try:
        meta = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return []
    bases = meta.get("base_model") or []
    return [str(b) for b in ([bases] if isinstance(bases, str) else bases)]


def _config_folder(model: str, token) -> Path | None:
    try:
        return config_folder(model, token=token)
    except Exception:
        return None


def _model_parent(model: str, license_: str, token) -> dict:
    entry = parent_entry(model, "model")
    if entry.get("path"):
        return entry  # a lab artifact: its manifest carries its own lineage
    folder = _config_folder(model, token)
    bases = [b for b in card_bases(folder) if b != model] if folder else []
    entry["license"] = entry.get("license") or license_
    if bases:
        entry["lineage"] = [{"step": f"{model} (from its card)", "parents": bases, "child": model}]
    return entry


def parents_of(recipe: AnyRecipe, licenses: dict[str, str], token=None) -> list[dict]:
    out, seen = [], set()
    for ref in recipe.refs():
        model, adapter = split_ref(ref)
        if model not in seen:
            seen.add(model)
            out.append(_model_parent(model, licenses.get(ref, ""), token))
        if adapter and adapter not in seen:
            seen.add(adapter)
            out.append(parent_entry(str(Path(adapter).expanduser().resolve()), "adapter"))
    return out


def _verify(folder: Path, recipe: AnyRecipe) -> dict:
    cfg = json.loads((folder / "config.json").read_text())
    params, dtype = count_params(folder)
    if not params:
        raise RuntimeError("mergekit wrote no safetensors weights")
    return {"method": recipe.merge_method, "params": params, "layers": cfg.get("num_hidden_layers"),
            "experts": cfg.get("num_local_experts"), "architecture": (cfg.get("architectures") or ["?"])[0],
            "dtype": dtype.lower()}


def write_outputs(folder: Path, recipe: AnyRecipe, source: str, report, name: str, token=None) -> dict:
    """Verify the merged folder, then write recipe.yaml, lab.json, README.md and family_tree.svg into it."""
    result = _verify(folder, recipe)
    licenses = {row["model"]: row.get("license", "") for row in report.models}
    parents = parents_of(recipe, {k: ("" if v == "?" else v) for k, v in licenses.items()}, token)
    moe = isinstance(recipe, MoERecipe)
    label = "Franken-MoE" if moe else METHODS[recipe.merge_method].label
    summary = (f"Merged with [mergekit](https://github.com/arcee-ai/mergekit) ({label}) from "
               + ", ".join(f"`{p['ref']}`" for p in parents) + ".\n\n![family tree](family_tree.svg)")
    manifest = finalize(folder, "merge", parents, recipe=source, step=f"merge ({label})",
                        metrics={k: v for k, v in result.items() if k in ("params", "layers", "experts") and v},
                        tags=["merge", "mergekit", *(["moe"] if moe else [])], name=name,
                        extra={"merge_method": recipe.merge_method, "summary": summary})
    (folder / "family_tree.svg").write_text(family_tree_svg(family_edges(manifest, name)))
    return result
