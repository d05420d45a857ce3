"""Recipes, and pydantic validation errors as the LabError the UI shows: the first bad field, its message and the fix.

`Recipe` is every stage's recipe base (data, train, eval, chat settings, export, tour): YAML in and out through
lab.yamlio (safe loading only), and validation whose errors name the field. Form values (chat, tour) and YAML
configs (merge) convert their errors through here too.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from lab import yamlio
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


class Recipe(BaseModel):
    """A stage's recipe: validated at the boundary, written and read as YAML, saved next to what it made.

    A subclass names itself in messages (WHAT, and FIELD for the LabError's field), says where to start from when
    the text is not a mapping (START) and which file to give (FILE_FIX); it may override `prepare` (values before
    validation) and `invalid` (a pydantic error as the LabError, by default naming the first bad field)."""
    model_config = ConfigDict(extra="forbid")
    WHAT: ClassVar[str] = "recipe"
    FIELD: ClassVar[str] = "recipe"
    START: ClassVar[str] = "Start from a recipe the lab saved."
    FILE_FIX: ClassVar[str] = "Give the path of a recipe YAML file."

    def to_yaml(self) -> str:
        return yamlio.dump(self.model_dump(mode="json"))

    @classmethod
    def from_yaml(cls, text: str):
        return cls.parse(yamlio.load(text or "", cls.WHAT) or {})  # safe: no aliases (bombs), size and depth capped

    @classmethod
    def load(cls, path):
        """The recipe in a YAML file."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise LabError(f"No {cls.WHAT} file at {path}.", cls.FILE_FIX, cls.FIELD)
        return cls.from_yaml(path.read_text())

    @classmethod
    def parse(cls, data):
        """Validate a mapping (a recipe passes as it is); errors become a LabError naming the first bad field."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise LabError(f"The {cls.WHAT} must be a mapping of fields.", cls.START, cls.FIELD)
        try:
            return cls.model_validate(cls.prepare(data))
        except ValidationError as exc:
            raise cls.invalid(exc, data) from None

    @classmethod
    def prepare(cls, data: dict) -> dict:
        return data

    @classmethod
    def invalid(cls, exc: ValidationError, data: dict) -> LabError:
        return recipe_error(exc, cls.model_fields)


def config_error(exc: ValidationError, fix: str, prefix: str = "") -> LabError:
    """For YAML configs (mergekit's): the key path with list indices (`models[1].model`) and the fix given."""
    err = _first(exc)
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, LabError):
        return inner
    what = {"extra_forbidden": "This key is not part of the config.",
            "missing": "This key is required."}.get(err.get("type"), _message(err))
    return LabError(f"{prefix}{what}", fix, field_path(err, sep="[]") or "yaml")
