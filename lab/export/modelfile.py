"""An Ollama Modelfile: FROM, a TEMPLATE derived from the model's own chat template, stop tokens, parameters.

The Jinja chat template is rendered on probe conversations; the text around each probe gives each role's
head and tail ("<|im_start|>user\\n" … "<|im_end|>\\n"), the generation prompt, and any system prompt the
template adds by default. The Go template is built from those parts, and `reproduces()` checks that the
parts rebuild the Jinja rendering of a whole conversation exactly. A template whose turns do not split that
way (one that folds the system prompt into the first user turn, say) gets a plain template and a warning.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

PLAIN = "{{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}"
_S, _U1, _A1, _U2 = "SYSTEM-PROBE-7f3a", "USER-PROBE-ONE-7f3a", "ASSISTANT-PROBE-7f3a", "USER-PROBE-TWO-7f3a"


@dataclass
class Turns:
    head: dict[str, str]  # role -> text before the content
    tail: dict[str, str]  # role -> text after the content
    generation: str  # what opens the assistant's reply
    default_system: str = ""
    bos: str = ""


@dataclass
class Derived:
    template: str
    system: str = ""
    stops: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    turns: Turns | None = None


def _render(tok, messages, generation: bool) -> str:
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)


def split_turns(tok) -> Turns | None:
    """Each role's head and tail from probe renderings, or None when the template does not split by turns."""
    user, assistant = {"role": "user", "content": _U1}, {"role": "assistant", "content": _A1}
    one = _render(tok, [user], False)
    gen = _render(tok, [user], True)
    two = _render(tok, [user, assistant], False)
    three = _render(tok, [user, assistant, {"role": "user", "content": _U2}], False)
    with_system = _render(tok, [{"role": "system", "content": _S}, user], False)
    if not (gen.startswith(one) and two.startswith(one) and three.startswith(two)):
        return None
    generation = gen[len(one):]
    a_part = two[len(one):]  # head_a + A1 + tail_a
    if _A1 not in a_part or _U2 not in three[len(two):]:
        return None
    head_a, tail_a = a_part.split(_A1, 1)
    head_u, tail_u = three[len(two):].split(_U2, 1)
    if not one.endswith(head_u + _U1 + tail_u) or _S not in with_system:
        return None
    prefix = one[: len(one) - len(head_u + _U1 + tail_u)]  # BOS and any default system turn
    head_s, rest = with_system.split(_S, 1)
    if not rest.endswith(head_u + _U1 + tail_u):
        return None
    tail_s = rest[: len(rest) - len(head_u + _U1 + tail_u)]
    bos = getattr(tok, "bos_token", None) or ""
    # a BOS the template writes once before everything (Llama 3); llama.cpp adds it itself. A BOS that also
    # opens every turn (SmolLM2's is <|im_start|>) is part of the turns.
    once = head_s.startswith(bos) and prefix.startswith(bos) and not head_u.startswith(bos)
    bos = bos if bos and once else ""
    head_s, prefix = head_s[len(bos):], prefix[len(bos):]
    default = prefix[len(head_s):len(prefix) - len(tail_s)] if prefix.startswith(head_s) and prefix.endswith(
        tail_s) and prefix else ""
    if prefix and not default:
        return None  # something before the first turn that is not a system turn
    return Turns({"system": head_s, "user": head_u, "assistant": head_a},
                 {"system": tail_s, "user": tail_u, "assistant": tail_a}, generation, default, bos)


def go_template(t: Turns) -> str:
    """One Go-template line per role, no whitespace trimming: every character outside {{ }} is the model's."""
    parts = ["{{ range .Messages }}"]
    for i, role in enumerate(("system", "user", "assistant")):
        parts.append(f'{{{{ {"if" if i == 0 else "else if"} eq .Role "{role}" }}}}'
                     f"{t.head[role]}{{{{ .Content }}}}{t.tail[role]}")
    parts.append("{{ end }}{{ end }}" + t.generation)
    return "".join(parts)


def reproduces(tok, t: Turns) -> bool:
    """The parts rebuild the Jinja rendering of a system + two-turn conversation, character for character."""
    msgs = [("system", "Be brief."), ("user", "Hi there"), ("assistant", "Hello!"), ("user", "Name a colour.")]
    want = _render(tok, [{"role": r, "content": c} for r, c in msgs], True)
    built = t.bos + "".join(t.head[r] + c + t.tail[r] for r, c in msgs) + t.generation
    return want == built


def _special_texts(tok) -> set[str]:
    return {str(s) for s in getattr(tok, "all_special_tokens", [])} | {
        str(t) for t in getattr(tok, "added_tokens_decoder", {}).values() if getattr(t, "special", False)}


def stop_tokens(tok, t: Turns | None) -> list[str]:
    """The end-of-sequence token, and every special token that opens or closes a turn."""
    specials = _special_texts(tok) - {t.bos if t is not None else ""}
    out = [tok.eos_token] if getattr(tok, "eos_token", None) else []
    if t is not None:
        text = t.head["user"] + t.tail["assistant"] + t.generation
        out += sorted(s for s in specials if s and s in text)
    return list(dict.fromkeys(out))


def derive(tok) -> Derived:
    if not getattr(tok, "chat_template", None):
        return Derived(PLAIN, stops=stop_tokens(tok, None),
                       warnings=["The model has no chat template: the Modelfile uses a plain prompt template."])
    try:
        turns = split_turns(tok)
    except Exception as exc:  # the template refused a probe (e.g. it demands strict user/assistant turns)
        turns, reason = None, f"{type(exc).__name__}: {exc}"
    else:
        reason = "its turns do not split into a head and a tail per role"
    if turns is None or not reproduces(tok, turns) or any("{{" in p or '"""' in p for p in
                                                         [*turns.head.values(), *turns.tail.values()]):
        return Derived(PLAIN, stops=stop_tokens(tok, None), warnings=[
            f"The chat template could not be turned into an Ollama template ({reason}): the Modelfile uses a "
            "plain prompt template, so chat in Ollama will not match the model's own format."])
    return Derived(go_template(turns), turns.default_system, stop_tokens(tok, turns), turns=turns)


def parameters(generation_config: dict, context: int) -> list[tuple[str, object]]:
    """Sampling defaults from generation_config.json where it sets them, else mild ones; a context that fits."""
    out: list[tuple[str, object]] = [("num_ctx", min(int(context or 2048), 4096))]
    sampled = generation_config.get("do_sample", False)
    out.append(("temperature", generation_config.get("temperature", 0.7) if sampled else 0.7))
    out.append(("top_p", generation_config.get("top_p", 0.9) if sampled else 0.9))
    if generation_config.get("top_k"):
        out.append(("top_k", int(generation_config["top_k"])))
    if generation_config.get("repetition_penalty"):
        out.append(("repeat_penalty", float(generation_config["repetition_penalty"])))
    return out


def render(file_name: str, d: Derived, params: list[tuple[str, object]]) -> str:
    lines = [f"FROM ./{file_name}", "", f'TEMPLATE """{d.template}"""']
    if d.system:
        lines.append(f'SYSTEM """{d.system}"""')
    lines.append("")
    lines += [f"PARAMETER stop {json.dumps(s)}" for s in d.stops]
    lines += [f"PARAMETER {k} {v}" for k, v in params]
    return "\n".join(lines) + "\n"
