"""The Merge tab's form as plain values, and the exact round trip recipe <-> form.

The UI holds only what these functions return (strings, numbers, rows of strings), so "the form
updates the YAML and pasted YAML fills the form" is checked in tests without a browser.
A parameter cell holds its mergekit setting in YAML flow style: `0.5`, `[0, 0.5, 1]` (a gradient)
or `[{filter: mlp, value: 0.3}, {value: 0.5}]`. Global parameters are rows of (name, filter, value),
so SLERP's per-filter t curves read as one row per filter.
"""
from __future__ import annotations

from typing import Any

import yaml

from lab import yamlio
from lab.errors import LabError
from lab.merge.recipe import AnyRecipe, MergeRecipe, MoERecipe, dump_yaml, from_dict

MODEL_COLUMNS = ["model", "weight", "density", "other parameters"]
SLICE_COLUMNS = ["slice", "model", "start", "end", "parameters", "slice options"]
PARAM_COLUMNS = ["parameter", "filter", "value"]
EXPERT_COLUMNS = ["model", "positive prompts (one per line)", "negative prompts (one per line)", "other"]
DTYPES = ["", "bfloat16", "float16", "float32"]
_MERGE_ADVANCED = ("modules", "tokenizer", "name")
_MOE_ADVANCED = ("shared_experts", "architecture")


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return text[:-4].strip() if text.endswith("\n...") else text


def parse_cell(text: Any, field: str) -> Any:
    if text is None or (isinstance(text, float) and text != text):  # empty or NaN from a dataframe
        return None
    if not isinstance(text, str):
        return text
    if not text.strip():
        return None
    try:
        return yamlio.load(text, "value", field)  # safe: no aliases, nesting and size capped
    except LabError as exc:
        raise LabError(f"{text[:80]!r} is not a value ({exc.what.rstrip('.')}).",
                       "Write a number, true/false, a list such as [0, 0.5, 1], or "
                       "[{filter: mlp, value: 0.5}, {value: 0.3}].", field) from None


def _mapping_cell(text: Any, field: str) -> dict:
    value = parse_cell(text, field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LabError(f"{text!r} is not a mapping.", "Write it as {name: value, …}, e.g. {gamma: 0.01}.", field)
    return value


def _is_conditional(setting: Any) -> bool:
    if isinstance(setting, dict):
        return True
    return isinstance(setting, list) and bool(setting) and all(isinstance(e, dict) for e in setting)


def param_rows(params: dict | None) -> list[list[str]]:
    rows = []
    for name, setting in (params or {}).items():
        if _is_conditional(setting):
            for cond in setting if isinstance(setting, list) else [setting]:
                rows.append([name, cond.get("filter") or "", format_cell(cond.get("value"))])
        else:
            rows.append([name, "", format_cell(setting)])
    return rows


def params_from_rows(rows: list, field: str = "parameters") -> dict:
    grouped: dict[str, list] = {}
    for i, row in enumerate(_rows(rows)):
        name, filt, value = (list(row) + ["", "", ""])[:3]
        name, filt = str(name or "").strip(), str(filt or "").strip()
        if not name:
            continue
        grouped.setdefault(name, []).append((filt, parse_cell(value, f"{field}.{name}")))
    out = {}
    for name, entries in grouped.items():
        if len(entries) == 1 and not entries[0][0]:
            out[name] = entries[0][1]
        else:
            out[name] = [{"filter": f, "value": v} if f else {"value": v} for f, v in entries]
    return out


def _rows(rows) -> list:
    """Rows from a dataframe value (a list of lists, or a pandas DataFrame), blank rows dropped."""
    if rows is None:
        return []
    if hasattr(rows, "values") and hasattr(rows, "columns"):
        rows = rows.values.tolist()
    return [r for r in rows if any(str(c).strip() for c in r if c is not None and c == c)]


def _merge_form(r: MergeRecipe, data: dict) -> dict:
    models = []
    for m in data.get("models") or []:
        params = dict(m.get("parameters") or {})
        weight, density = params.pop("weight", None), params.pop("density", None)
        models.append([m["model"], format_cell(weight), format_cell(density), format_cell(params or None)])
    slices = []
    for i, s in enumerate(data.get("slices") or []):
        options = {k: v for k, v in s.items() if k != "sources"}
        for j, src in enumerate(s["sources"]):
            a, b = src["layer_range"]
            slices.append([str(i), src["model"], str(a), str(b), format_cell(src.get("parameters")),
                           format_cell(options or None) if j == 0 else ""])
    return {"method": r.merge_method, "layout": "slices" if r.slices else "models",
            "base_model": r.base_model or "", "dtype": r.dtype or "", "out_dtype": r.out_dtype or "",
            "tokenizer_source": r.tokenizer_source or "", "chat_template": r.chat_template or "",
            "models": models, "slices": slices, "parameters": param_rows(data.get("parameters")),
            "advanced": _advanced(data, _MERGE_ADVANCED)}


def _moe_form(r: MoERecipe, data: dict) -> dict:
    experts = []
    for e in data["experts"]:
        other = {k: v for k, v in e.items() if k not in ("source_model", "positive_prompts", "negative_prompts")}
        experts.append([e["source_model"], "\n".join(e.get("positive_prompts") or []),
                        "\n".join(e.get("negative_prompts") or []), format_cell(other or None)])
    return {"method": "moe", "base_model": r.base_model, "dtype": r.dtype or "", "gate_mode": r.gate_mode,
            "experts_per_token": r.experts_per_token, "experts": experts, "advanced": _advanced(data, _MOE_ADVANCED)}


def _advanced(data: dict, keys: tuple) -> str:
    extra = {k: data[k] for k in keys if k in data}
    return dump_yaml(extra) if extra else ""


def to_form(recipe: AnyRecipe) -> dict:
    """The form values for a recipe: every key of the recipe lands in some field."""
    data = recipe.to_dict()
    return _moe_form(recipe, data) if isinstance(recipe, MoERecipe) else _merge_form(recipe, data)


def _advanced_dict(text: str) -> dict:
    if not (text or "").strip():
        return {}
    value = yamlio.load(text, "advanced", "advanced")
    if not isinstance(value, dict):
        raise LabError("The advanced box must hold YAML keys.", "Write e.g. `tokenizer: {source: union}`.", "advanced")
    return value


def _prompts(text: Any) -> list[str] | None:
    lines = [ln.strip() for ln in str(text or "").splitlines() if ln.strip()]
    return lines or None


def _models_data(rows) -> list[dict]:
    out = []
    for i, row in enumerate(_rows(rows)):
        model, weight, density, other = (list(row) + ["", "", "", ""])[:4]
        params = {}
        for key, cell in (("weight", weight), ("density", density)):
            value = parse_cell(cell, f"models[{i}].{key}")
            if value is not None:
                params[key] = value
        params.update(_mapping_cell(other, f"models[{i}].other parameters"))
        out.append({"model": str(model or "").strip(), **({"parameters": params} if params else {})})
    return out


def _int_cell(cell: Any, field: str) -> int:
    value = parse_cell(cell, field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise LabError(f"{cell!r} is not a layer number.", "Write a whole number such as 0 or 24.", field)
    return value


def _slices_data(rows) -> list[dict]:
    slices: dict[str, dict] = {}
    for i, row in enumerate(_rows(rows)):
        key, model, start, end, params, options = (list(row) + [""] * 6)[:6]
        field = f"slices.row{i}"
        s = slices.setdefault(str(key).strip() or str(i), {"sources": []})
        s.update(_mapping_cell(options, f"{field}.slice options"))
        src = {"model": str(model or "").strip(),
               "layer_range": [_int_cell(start, f"{field}.start"), _int_cell(end, f"{field}.end")]}
        p = _mapping_cell(params, f"{field}.parameters")
        s["sources"].append({**src, **({"parameters": p} if p else {})})
    return list(slices.values())


def from_form(values: dict) -> AnyRecipe:
    """The recipe the form describes (validated; errors name the field)."""
    if values.get("method") == "moe":
        experts = []
        for i, row in enumerate(_rows(values.get("experts"))):
            model, pos, neg, other = (list(row) + ["", "", "", ""])[:4]
            e = {"source_model": str(model or "").strip(), "positive_prompts": _prompts(pos),
                 "negative_prompts": _prompts(neg), **_mapping_cell(other, f"experts[{i}].other")}
            experts.append({k: v for k, v in e.items() if v is not None})
        data = {"base_model": values.get("base_model", ""), "gate_mode": values.get("gate_mode") or "hidden",
                "experts_per_token": int(values.get("experts_per_token") or 2), "experts": experts,
                "dtype": values.get("dtype") or None, **_advanced_dict(values.get("advanced", ""))}
        return from_dict({k: v for k, v in data.items() if v is not None})
    data: dict = {"merge_method": values.get("method") or ""}
    if values.get("layout") == "slices":
        data["slices"] = _slices_data(values.get("slices")) or None
    else:
        data["models"] = _models_data(values.get("models")) or None
    for key in ("base_model", "dtype", "out_dtype", "tokenizer_source", "chat_template"):
        data[key] = (values.get(key) or "").strip() or None
    data["parameters"] = params_from_rows(values.get("parameters")) or None
    data.update(_advanced_dict(values.get("advanced", "")))
    return from_dict({k: v for k, v in data.items() if v is not None})
