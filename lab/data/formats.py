"""Dataset layouts the lab recognizes, and their conversion to TRL's standard conversational forms.

Forms (what every row becomes):
  messages:           {"messages": [{"role", "content"}, ...]}
  prompt_completion:  {"prompt": [...], "completion": [...]}
  preference:         {"prompt": [...], "chosen": [...], "rejected": [...]}
A layout that matches no format, or more than one, is never guessed: NeedsMapping asks the user to map columns.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lab.errors import LabError

ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "model": "assistant",
         "chatgpt": "assistant", "bot": "assistant", "system": "system", "tool": "tool", "function": "tool",
         "observation": "tool", "ipython": "tool"}


class NeedsMapping(LabError):
    """The columns match no known format, or several: the user picks the format and maps the columns."""

    def __init__(self, columns: list[str], candidates: list[str], why: str):
        self.columns = list(columns)
        self.candidates = list(candidates)
        super().__init__(why, "Pick the format and map its fields to your columns (the column-mapping step).",
                         "columns")


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    form: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    looks_like: Callable[[dict], bool]  # checks the values of one sample row
    convert: Callable[[dict], dict]

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):  # content parts: [{"type": "text", "text": ...}]
        value = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in value)
    text = str(value)
    # a lone surrogate ("\ud83d" in JSON) is not UTF-8: replace it, or Parquet and Arrow refuse the row
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def message(m, default_role: str = "user") -> dict:
    """One message as {"role", "content"} from OpenAI-style (role/content) or ShareGPT-style (from/value)."""
    if isinstance(m, str):
        return {"role": default_role, "content": m}
    if not isinstance(m, dict):
        raise ValueError(f"a message must be an object with role/content or from/value, not {type(m).__name__}")
    raw = m.get("role", m.get("from"))
    role = ROLES.get(str(raw).strip().lower()) if raw is not None else default_role
    if role is None:
        raise ValueError(f"unknown role {raw!r} (known: {', '.join(sorted(ROLES))})")
    return {"role": role, "content": _text(m.get("content", m.get("value")))}


def messages(value, default_role: str) -> list[dict]:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [message(value, default_role)]
    return [message(m, default_role) for m in value]


def _system(row: dict) -> list[dict]:
    return [{"role": "system", "content": _text(row["system"])}] if row.get("system") else []


def _alpaca(row: dict) -> dict:
    user = _text(row.get("instruction"))
    if row.get("input"):
        user = f"{user}\n\n{_text(row['input'])}" if user else _text(row["input"])
    turns = _system(row)
    for pair in row.get("history") or []:  # LLaMA-Factory: [[user, assistant], ...]
        turns += [{"role": "user", "content": _text(pair[0])}, {"role": "assistant", "content": _text(pair[1])}]
    return {"messages": turns + [{"role": "user", "content": user},
                                 {"role": "assistant", "content": _text(row.get("output"))}]}


def _sharegpt(row: dict) -> dict:
    msgs = messages(row["conversations"], "user")
    has_system = any(m["role"] == "system" for m in msgs)
    return {"messages": (msgs if has_system else _system(row) + msgs)}


def _openai(row: dict) -> dict:
    return {"messages": messages(row["messages"], "user")}


def _preference(row: dict, prompt_field: str) -> dict:
    prompt = messages(row[prompt_field], "user")
    if not any(m["role"] == "system" for m in prompt):
        prompt = _system(row) + prompt
    return {"prompt": prompt, "chosen": messages(row["chosen"], "assistant"),
            "rejected": messages(row["rejected"], "assistant")}


def _prompt_completion(row: dict) -> dict:
    return {"prompt": _system(row) + messages(row["prompt"], "user"),
            "completion": messages(row["completion"], "assistant")}


def _is_turns(value, keys: tuple[str, str]) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and keys[0] in m for m in value[:3])


def _is_answer(value) -> bool:
    return isinstance(value, (str, dict)) or _is_turns(value, ("role", "content")) or _is_turns(value, ("from", ""))


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("alpaca", "Alpaca (instruction / input / output)", "messages", ("instruction", "output"),
           ("input", "system", "history"), lambda r: isinstance(r.get("instruction"), str), _alpaca),
    Format("sharegpt", "ShareGPT (conversations of from / value)", "messages", ("conversations",), ("system",),
           lambda r: _is_turns(r.get("conversations"), ("from", "value")), _sharegpt),
    Format("openai", "OpenAI messages (role / content)", "messages", ("messages",), (),
           lambda r: _is_turns(r.get("messages"), ("role", "content")), _openai),
    Format("sharegpt_preference", "ShareGPT preference (conversations + chosen / rejected)", "preference",
           ("conversations", "chosen", "rejected"), ("system",),
           lambda r: _is_turns(r.get("conversations"), ("from", "value")) and _is_answer(r.get("chosen")),
           lambda r: _preference(r, "conversations")),
    Format("preference", "Preference (prompt / chosen / rejected)", "preference", ("prompt", "chosen", "rejected"),
           ("system",), lambda r: _is_answer(r.get("chosen")) and _is_answer(r.get("rejected")),
           lambda r: _preference(r, "prompt")),
    Format("prompt_completion", "Prompt / completion", "prompt_completion", ("prompt", "completion"), ("system",),
           lambda r: r.get("prompt") is not None and r.get("completion") is not None, _prompt_completion),
)}
# When one format's columns contain another's, the more specific one wins (these are not ambiguities).
_SUPERSEDES = {"sharegpt_preference": ("sharegpt",)}


def detect(columns: list[str], sample: list[dict]) -> str:
    """The one format these columns and sample rows match; NeedsMapping when none or several do."""
    cols = set(columns)
    sample = [r for r in sample if isinstance(r, dict)][:5] or [{}]
    found = [f.name for f in FORMATS.values()
             if set(f.required) <= cols and all(f.looks_like(r) for r in sample)]
    for name in list(found):
        found = [f for f in found if f not in _SUPERSEDES.get(name, ())]
    if len(found) == 1:
        return found[0]
    shown = ", ".join(sorted(cols)) or "none"
    if not found:
        near = [f.name for f in FORMATS.values() if set(f.required) & cols]
        raise NeedsMapping(columns, near or list(FORMATS), f"The columns ({shown}) match no known format.")
    raise NeedsMapping(columns, found, f"The columns ({shown}) fit several formats: {', '.join(found)}.")


def apply_mapping(row: dict, fmt: Format, mapping: dict[str, str]) -> dict:
    """The row with the format's field names, read from the mapped columns."""
    return {field: row.get(mapping.get(field, field)) for field in fmt.fields}


def check_mapping(columns: list[str], fmt: Format, mapping: dict[str, str]) -> None:
    unknown = set(mapping) - set(fmt.fields)
    if unknown:
        raise LabError(f"{', '.join(sorted(unknown))} is not a field of the {fmt.name} format "
                       f"(its fields: {', '.join(fmt.fields)}).", "Map only the format's fields.", "columns")
    for field in fmt.required:
        column = mapping.get(field, field)
        if column not in columns:
            raise LabError(f"The {fmt.name} format needs a {field!r} column; this dataset has no {column!r} "
                           f"(its columns: {', '.join(columns)}).", f"Map {field!r} to one of the columns.",
                           f"columns.{field}")


def get_format(name: str) -> Format:
    if name not in FORMATS:
        raise LabError(f"Unknown format {name!r}.", f"Use auto or one of: {', '.join(FORMATS)}.", "format")
    return FORMATS[name]


def convert_rows(rows: list[dict], fmt: Format, mapping: dict[str, str], where: str) -> list[dict]:
    """Every row converted to the format's form; a malformed row's error names the row."""
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(fmt.convert(apply_mapping(row, fmt, mapping) if mapping else row))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise LabError(f"{where}, row {i + 1}: {exc} ({fmt.name} format).",
                           "Fix that row, or map the columns to another format.", "format") from None
    return out


def to_prompt_completion(row: dict) -> dict:
    msgs = row["messages"]
    last = len(msgs) - 1 if msgs and msgs[-1]["role"] == "assistant" else len(msgs)
    return {"prompt": msgs[:last], "completion": msgs[last:]}


def to_messages(row: dict) -> dict:
    return {"messages": row["prompt"] + row["completion"]}
