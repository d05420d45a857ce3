"""The flat form of a recipe's method: `method: dpo` with `dpo_beta: 0.1` beside it, as recipe files of earlier
versions, the Train tab's form and the CLI's flags write it; the recipe itself nests it (`method: {name: dpo,
beta: 0.1}`). Each method names its flat fields (Method.flat); these functions convert between the two forms.
"""
from __future__ import annotations

from pydantic.fields import FieldInfo

from lab.train.methods.base import REGISTRY, MethodSettings


def flat_fields() -> dict[str, FieldInfo]:
    """Every method's flat name -> its settings field (type, default, help), in the registry's order."""
    return {flat: info for m in REGISTRY.values() for flat, info in m.form_fields().items()}


def _known() -> set[str]:
    return {flat for m in REGISTRY.values() for flat in (*m.flat, *m.older_flat)}


def nest(data: dict, default: str) -> dict:
    """A recipe's mapping with its flat method fields moved into the nested `method` block. Flat values override
    the block's (CLI flags over a recipe file). Another method's flat values are dropped (a flat file lists every
    method's), except one that only its own method accepts when it is set (packing)."""
    method = data.get("method")
    given = {k: v for k, v in data.items() if k in _known()}
    if not given and not isinstance(method, str):
        return data
    if isinstance(method, MethodSettings):
        block = method.model_dump()
    elif isinstance(method, dict):
        block = dict(method)
    else:
        block = {"name": default if method is None else method}
    own = REGISTRY.get(block.get("name"))
    _refuse_foreign(own, block.get("name"), given)
    if own is not None:
        block.update({field: given[flat] for flat, field in own.older_flat.items() if flat in given})
        block.update({field: given[flat] for flat, field in own.flat.items() if flat in given})
    return {**{k: v for k, v in data.items() if k not in given}, "method": block}


def _refuse_foreign(own, name, given: dict) -> None:
    for other in REGISTRY.values():
        if other is own:
            continue
        for flat, message in other.refused_elsewhere.items():
            default = other.form_fields()[flat].default
            if given.get(flat) not in (None, default):
                raise ValueError(f"{flat}: " + message.format(label=own.label if own else name))


def flatten(block: dict) -> dict:
    """A dumped `method` block as flat fields: {"method": name, <flat name>: value, ...}."""
    own = REGISTRY[block["name"]]
    return {"method": own.name, **{flat: block[field] for flat, field in own.flat.items()}}


def flat_loc(loc: tuple, flat_input: bool) -> tuple:
    """An error's location as the user wrote the recipe: ("dpo_beta",) for flat input, ("method", "beta") for
    the nested block (the union's tag, e.g. "dpo", is no field)."""
    if len(loc) < 2 or loc[0] != "method" or loc[1] not in REGISTRY:
        return loc
    own, rest = REGISTRY[loc[1]], loc[2:]
    if flat_input and rest:
        return ({field: flat for flat, field in own.flat.items()}.get(rest[0], rest[0]), *rest[1:])
    return ("method", *rest)
