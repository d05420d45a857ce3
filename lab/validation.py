"""Pydantic validation errors as the LabError the UI shows: the first bad field, its message and the fix."""
from __future__ import annotations

import re

from pydantic import BaseModel, ValidationError

from lab.errors import LabError


def _first(exc: ValidationError, default: str) -> tuple[dict, str]:
    err = exc.errors()[0]
    return err, ".".join(str(p) for p in err.get("loc", ())) or default


def recipe_error(exc: ValidationError, fields=()) -> LabError:
    """For recipes: "Fix `field` in the recipe". A cross-field check names its field first ("lr: must…");
    when that name is one of `fields`, the error is filed under it."""
    err, field = _first(exc, "recipe")
    msg = err.get("msg", "invalid").removeprefix("Value error, ")
    named = re.match(r"(\w+): (.*)", msg)
    if field == "recipe" and named and named.group(1) in fields:
        field, msg = named.groups()
    return LabError(f"{msg}.", f"Fix `{field}` in the recipe (see its help text).", field)


def value_error(exc: ValidationError, model: type[BaseModel], default: str) -> LabError:
    """For form values: the value given, and the field's own help text as the fix."""
    err, field = _first(exc, default)
    desc = model.model_fields[field].description if field in model.model_fields else ""
    return LabError(f"{err.get('msg', 'invalid value')} (got {err.get('input')!r}).",
                    f"Change {field}. {desc}".strip(), field)
