"""Turn a pane's history into input ids with its model's own chat template; refuse prompts that cannot fit."""
from __future__ import annotations

from lab.errors import LabError


def flatten_content(content) -> str:
    """Gradio 6 sends message content as parts ([{"type": "text", "text": ...}]); templates want a string."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        if content.get("type", "text") == "text":
            return str(content.get("text", ""))
        return ""  # files and images: these panes are text-only
    if isinstance(content, (list, tuple)):
        return "".join(flatten_content(part) for part in content)
    return str(content)


def flatten_history(history) -> list[dict]:
    """A history as plain {"role", "content": str} messages, dropping UI-only metadata and empty turns."""
    out = []
    for msg in history or []:
        role = msg.get("role") if isinstance(msg, dict) else getattr(msg, "role", None)
        content = msg.get("content") if isinstance(msg, dict) else getattr(msg, "content", None)
        meta = msg.get("metadata") if isinstance(msg, dict) else None
        if role not in ("user", "assistant", "system") or meta:  # metadata marks notes/errors, not turns
            continue
        text = flatten_content(content)
        if text:
            out.append({"role": role, "content": text})
    return out


def build_messages(system: str, history, prompt: str) -> list[dict]:
    """System prompt (if any) + the pane's earlier turns + the new user prompt."""
    msgs = [{"role": "system", "content": system}] if (system or "").strip() else []
    msgs += [m for m in flatten_history(history) if m["role"] != "system"]
    if prompt:
        msgs.append({"role": "user", "content": prompt})
    return msgs


def render(tokenizer, messages: list[dict]) -> str:
    """The prompt text, in the model's chat template; a plain role-prefixed transcript when it has none."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(lines + ["Assistant:"])


def prepare(handle, messages: list[dict], spec) -> tuple:
    """(input_ids, max_new_tokens, notice): an error before generation when the prompt exceeds the context."""
    if not messages or messages[-1]["role"] != "user":
        raise LabError("There is no prompt to answer.", "Type a message first.", "prompt")
    text = render(handle.tokenizer, messages)
    ids = handle.tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
    n, ctx = int(ids.shape[1]), handle.entry.context
    if n >= ctx:
        raise LabError(f"The prompt is {n} tokens but {handle.label} reads at most {ctx}.",
                       "Shorten the prompt or clear the conversation.", "prompt")
    max_new, notice = spec.max_new_tokens, ""
    if n + max_new > ctx:
        max_new = ctx - n
        notice = f"Only {max_new} new tokens fit in {handle.label}'s context of {ctx}; the reply may be cut short."
    return ids, max_new, notice
