"""Structural checks of merge and MoE recipes, run by their validators: each failure names the field."""
from __future__ import annotations

from lab.errors import LabError
from lab.merge.methods import METHODS, has_fallback


MAX_OUT_LAYERS = 1024  # the deepest released models have ~130 layers; Franken-merges a few hundred


def _fail(field: str, what: str, fix: str):
    raise LabError(what, fix, field)


def check_merge(r) -> None:
    if r.merge_method not in METHODS:
        _fail("merge_method", f"Unknown merge method {r.merge_method!r}.", "Use one of: " + ", ".join(METHODS) + ".")
    given = [k for k in ("models", "slices", "modules") if getattr(r, k)]
    if len(given) != 1:
        _fail("models", "Give exactly one of models, slices or modules" + (f" (got {', '.join(given)})." if given
              else " (none given)."), "List the models to merge under `models:` (or layer ranges under `slices:`).")
    method = r.method
    slices = [s for b in _blocks(r) for s in b[2] or []]
    if method.base == "required" and not r.base_model and not any(s.base_model for s in slices):
        _fail("base_model", f"{method.label} needs a base model.", "Set base_model to the model the others were "
              "fine-tuned from (for SLERP: the t=0 end).")
    for prefix, models, block_slices in _blocks(r):
        _check_block(r, method, prefix, models, block_slices)
    if r.tokenizer_source and r.tokenizer:
        _fail("tokenizer_source", "Set tokenizer_source or tokenizer, not both.", "Remove one of them.")
    _check_required(r)


def _blocks(r):
    """(field prefix, models, slices) of the top level and of each module."""
    yield "", r.models, r.slices
    for name, module in (r.modules or {}).items():
        yield f"modules.{name}.", module.models, module.slices


def _check_counts(method, field: str, n: int) -> None:
    lo, hi = method.min_inputs, method.max_inputs
    if n < lo or (hi is not None and n > hi):
        want = f"exactly {lo}" if lo == hi else f"at least {lo}" if hi is None else f"at most {hi}"
        _fail(field, f"{method.label} takes {want} input model(s) (base included); got {n}.",
              "Add or remove models." if method.name != "passthrough"
              else "Give one source per slice; stack more slices to add layers.")


def _check_depth(prefix: str, slices) -> None:
    """Output layers are the sum of the slices' lengths; an absurd stack is refused before any download."""
    total = sum(max(0, s.sources[0].layer_range[1] - s.sources[0].layer_range[0]) for s in slices or [])
    if total > MAX_OUT_LAYERS:
        _fail(f"{prefix}slices", f"The slices stack {total:,} output layers; the lab merges at most "
              f"{MAX_OUT_LAYERS}.", "Use fewer or shorter slices (released models have at most ~130 layers).")


def _check_block(r, method, prefix: str, models, slices) -> None:
    _check_depth(prefix, slices)
    if models:
        extra = 1 if r.base_model and r.base_model not in [m.model for m in models] else 0  # mergekit adds the base
        _check_counts(method, f"{prefix}models", len(models) + extra)
    for i, s in enumerate(slices or []):
        field = f"{prefix}slices[{i}]"
        _check_counts(method, f"{field}.sources", len(s.sources))
        base = s.base_model or r.base_model
        if base and method.base in ("required", "optional") and base not in [src.model for src in s.sources]:
            _fail(f"{field}.sources", f"The base model {base} is not among this slice's sources.",
                  "Add the base model (with the same layer_range) as a source of every slice.")
        for j, src in enumerate(s.sources):
            a, b = src.layer_range
            if a < 0 or b <= a:
                _fail(f"{field}.sources[{j}].layer_range", f"Layer range [{a}, {b}] is empty or negative.",
                      "Use [start, end) with 0 <= start < end; end is exclusive.")
        if len({src.layer_range[1] - src.layer_range[0] for src in s.sources}) > 1:
            _fail(f"{field}.sources", "All sources of a slice must span the same number of layers.",
                  "Make every layer_range in this slice equally long.")


def settings_blocks(r):
    """(field path, params dict, model or None) of every parameters block, top level last."""
    for prefix, models, slices in _blocks(r):
        for i, m in enumerate(models or []):
            yield f"{prefix}models[{i}].parameters", m.parameters or {}, m.model
        for i, s in enumerate(slices or []):
            for j, src in enumerate(s.sources):
                yield f"{prefix}slices[{i}].sources[{j}].parameters", src.parameters or {}, src.model
            yield f"{prefix}slices[{i}].parameters", s.parameters or {}, None
    for name, module in (r.modules or {}).items():
        yield f"modules.{name}.parameters", module.parameters or {}, None
    yield "parameters", r.parameters or {}, None


def _check_required(r) -> None:
    method = r.method
    blocks = list(settings_blocks(r))
    shared_blocks = [(f, p) for f, p, model in blocks if model is None]
    for p in method.params:
        if not p.required:
            continue
        if p.scope == "shared":
            if not any(has_fallback(params.get(p.name)) for _, params in shared_blocks):
                _fail(f"parameters.{p.name}", f"{method.label} needs `{p.name}` for every tensor.",
                      f"Set parameters.{p.name} (a value, a gradient list, or per-filter values with a fallback).")
            continue
        for field, params, model in blocks:
            if model is None or (p.scope == "non_base" and model == r.base_model):
                continue
            if not (has_fallback(params.get(p.name)) or any(has_fallback(sp.get(p.name)) for _, sp in shared_blocks)):
                _fail(f"{field}.{p.name}", f"{method.label} needs `{p.name}` for {model}.",
                      f"Give this model a {p.name}, or set a default under parameters.")


def unknown_params(r) -> list[str]:
    """Parameter names the method does not take (mergekit ignores them silently)."""
    known = {p.name for p in r.method.params}
    return [f"{field}.{k}" for field, params, _ in settings_blocks(r) for k in params if k not in known]


def check_moe(r) -> None:
    if len(r.experts) < 2:
        _fail("experts", f"A Franken-MoE needs at least 2 experts; got {len(r.experts)}.",
              "Add another expert model (each brings its MLP layers).")
    if r.experts_per_token > len(r.experts):
        _fail("experts_per_token", f"experts_per_token is {r.experts_per_token} but there are "
              f"{len(r.experts)} experts.",
              "Lower experts_per_token or add experts.")
    if r.gate_mode in ("hidden", "cheap_embed"):
        for i, e in enumerate(r.experts):
            if not e.positive_prompts:
                _fail(f"experts[{i}].positive_prompts", f"gate_mode {r.gate_mode} needs positive prompts for each "
                      f"expert; {e.source_model} has none.",
                      "Add prompts this expert should handle, or use gate_mode random.")
        prompts = {(tuple(e.positive_prompts or []), tuple(e.negative_prompts or [])) for e in r.experts}
        if len(prompts) == 1:
            _fail("experts", "Every expert has the same prompts, so the router cannot tell them apart.",
                  "Give each expert prompts for its own specialty.")
    if len({e.source_model for e in r.experts}) == 1:
        _fail("experts", "All experts are the same model: the MoE would cost more and answer the same.",
              "Use different fine-tunes as experts.")
