"""YAML in and out for recipes. Loading refuses anchors and aliases (YAML bombs) and oversized text."""
from __future__ import annotations

import yaml

from lab.errors import LabError

MAX_YAML_BYTES = 256_000  # a real recipe is a few kB; parsing 1 MB of YAML costs seconds of CPU
MAX_DEPTH = 32


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load, but an alias (*name) is an error: billion-laughs needs aliases. Nesting is counted while
    composing, so `[[[[…` thousands deep is refused before Python's recursion limit is reached."""

    _level = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise LabError(f"YAML aliases are not allowed (line {event.start_mark.line + 1}).",
                           "Write the values out instead of using &anchors and *aliases.", "recipe")
        if self._level >= MAX_DEPTH:
            line = self.peek_event().start_mark.line + 1
            raise LabError(f"The YAML is nested more than {MAX_DEPTH} levels deep (line {line}).", "Flatten it.",
                           "recipe")
        self._level += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._level -= 1


def _depth(obj, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(obj, dict):
        return max([_depth(v, level + 1) for v in obj.values()] or [level])
    if isinstance(obj, list):
        return max([_depth(v, level + 1) for v in obj] or [level])
    return level


def load(text: str, what: str = "recipe", field: str | None = None):
    """Parse untrusted YAML: size-capped, no aliases, bounded nesting, clear errors with the line.

    `what` names the text in messages; `field` (default: what) is the LabError field."""
    field = field or what
    if len(text.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise LabError(f"The {what} YAML is larger than {MAX_YAML_BYTES // 1000} kB.",
                       "Trim it; recipes are short.", field)
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except LabError as exc:
        raise LabError(exc.what, exc.fix, field) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise LabError(f"The {what} YAML is malformed at line {line}: {exc.problem}.",
                       "Fix the YAML syntax there.", field) from None
    except yaml.YAMLError as exc:
        raise LabError(f"The {what} YAML could not be read: {exc}.", "Fix the YAML syntax.", field) from None
    if _depth(data) > MAX_DEPTH:
        raise LabError(f"The {what} YAML is nested more than {MAX_DEPTH} levels deep.", "Flatten it.", field)
    return data


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def recipe_text(recipe) -> str:
    """A recipe as the YAML saved beside what it made (and in its job's record): a recipe object's own YAML, a
    mapping dumped, text as it is, nothing for None."""
    if recipe is None:
        return ""
    if isinstance(recipe, str):
        return recipe
    if hasattr(recipe, "to_yaml"):
        return recipe.to_yaml()
    return dump(recipe)
