"""The merge's output (parameters, layers, bytes) and the RAM and disk it needs, from config facts only."""
from __future__ import annotations

from lab.merge.recipe import AnyRecipe, MergeRecipe, MoERecipe
from lab.merge.refs import DTYPE_BYTES, Facts

GB = 2**30
OVERHEAD_GB = 0.8  # python + torch + mergekit before any tensor (measured RSS)
DEFAULT_SHARD = 5_000_000_000  # mergekit's out_shard_size default ("5B")


def layer_map(recipe: MergeRecipe, found: dict[str, Facts]) -> list[dict]:
    """For slice configs: each output layer with the source layer(s) it comes from."""
    rows, out = [], 0
    for i, s in enumerate(recipe.slices or []):
        a, b = s.sources[0].layer_range
        for k in range(b - a):
            rows.append({"out": out, "slice": i, "sources": [(src.model, src.layer_range[0] + k) for src in s.sources]})
            out += 1
    return rows


def out_params(recipe: AnyRecipe, found: dict[str, Facts]) -> tuple[int, int]:
    """(parameters, layers) of the output; passthrough and slice configs are counted slice by slice."""
    if isinstance(recipe, MoERecipe):
        base = found[recipe.base_model]
        n, h = len(recipe.experts), base.get("hidden_size", 0)
        mlp = 3 * h * base.get("intermediate_size", 4 * h)
        return base.params + base.layers * ((n - 1) * mlp + h * n), base.layers
    donor_ref = recipe.base_model or recipe.sources()[0][1]
    if recipe.slices:
        first = found.get(recipe.slices[0].sources[0].model) or found[donor_ref]
        total, layers = first.non_layer_params, 0
        for s in recipe.slices:
            src = s.sources[0]
            f = found.get(src.model, first)
            a, b = src.layer_range
            per = f.layer_params or [0]
            total += sum(per[i] if i < len(per) else per[-1] for i in range(a, b))
            layers += b - a
        return total, layers
    donor = found[donor_ref]
    return donor.params, donor.layers


def out_dtype_bytes(recipe: AnyRecipe, found: dict[str, Facts]) -> int:
    named = getattr(recipe, "out_dtype", None) or recipe.dtype
    if named:
        return DTYPE_BYTES[named]
    ref = recipe.base_model or recipe.sources()[0][1]
    return found[ref].dtype_bytes if ref in found else 2


def needs(recipe: AnyRecipe, found: dict[str, Facts], params: int, shard_params: int = DEFAULT_SHARD) -> dict:
    """RAM and disk (GB) the merge needs: an estimate that errs on the high side."""
    nbytes = out_dtype_bytes(recipe, found)
    out_bytes = params * nbytes
    largest = max((f.get("vocab_size", 0) * f.get("hidden_size", 0) for f in found.values()), default=0)
    inputs = len(found)
    # mergekit's writer holds one shard in memory; out_shard_size is compared with the shard's bytes
    ram = OVERHEAD_GB * GB + min(out_bytes, shard_params) + 2 * 4 * largest * inputs
    disk = out_bytes
    for f in found.values():
        if not f.weights_local:
            disk += f.weight_bytes  # downloaded into the HF cache first
        if f.adapter:
            ram += 2 * f.weight_bytes  # PEFT loads the base fully to merge the adapter in
            disk += f.weight_bytes  # the merged base is cached
    if isinstance(recipe, MoERecipe) and recipe.gate_mode in ("hidden", "cheap_embed"):
        ram += 2 * found[recipe.base_model].params * 4  # the base runs on the prompts (float32)
    return {"out_bytes": out_bytes, "ram_gb": ram / GB, "disk_gb": disk / GB}
