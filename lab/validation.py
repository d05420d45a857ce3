"""Pydantic validation errors as the LabError the UI shows: the first bad field, its message and the fix.

Every stage converts through here: recipes (data, train), form values (chat, tour) and YAML configs (merge).
"""
from __future__ import annotations

import re

from pydantic import BaseModel, ValidationError

from lab.errors import LabError

# pydantic puts the validator or type it tried into `loc` (for unions, lists, literals): not a field name
_NOT_A_FIELD = re.compile(r"(function-\w+|union|list|tuple|literal|dict)\[|(Conditional|str|int|float|bool)$")


def field_path(err: dict, sep: str = ".") -> str:
    """`loc` as the user writes it: `steps.0.threshold`, or with sep="[]" `slices[0].sources`."""
    out = ""
    for part in err.get("loc", ()):
        if isinstance(part, int) and sep == "[]":
            out += f"[{part}]"
        elif not _NOT_A_FIELD.match(str(part)):
            out += ("." if out else "") + str(part)
    return out


def _first(exc: ValidationError) -> dict:
    return exc.errors()[0]


def _message(err: dict) -> str:
    return err.get("msg", "invalid").removeprefix("Value error, ")


def recipe_error(exc: ValidationError, fields=()) -> LabError:
    """For recipes: "Fix `field` in the recipe". A cross-field check names its field first ("lr: must…");
    when that name is one of `fields`, the error is filed under it."""
    err = _first(exc)
    field, msg = field_path(err) or "recipe", _message(err)
    named = re.match(r"(\w+): (.*)", msg)
    if field == "recipe" and named and named.group(1) in fields:
        field, msg = named.groups()
    return LabError(f"{msg}.", f"Fix `{field}` in the recipe (see its help text).", field)


def value_error(exc: ValidationError, model: type[BaseModel], default: str) -> LabError:
    """For form values: the value given, and the field's own help text as the fix."""
    err = _first(exc)
    field = field_path(err) or default
    desc = model.model_fields[field].description if field in model.model_fields else ""
    return LabError(f"{err.get('msg', 'invalid value')} (got {err.get('input')!r}).",
                    f"Change {field}. {desc}".strip(), field)


def config_error(exc: ValidationError, fix: str, prefix: str = "") -> LabError:
    """For YAML configs (mergekit's): the key path with list indices (`models[1].model`) and the fix given."""
    err = _first(exc)
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, LabError):
        return inner
    what = {"extra_forbidden": "This key is not part of the config.",
            "missing": "This key is required."}.get(err.get("type"), _message(err))
    return LabError(f"{prefix}{what}", fix, field_path(err, sep="[]") or "yaml")
