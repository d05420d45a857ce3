"""Answer masking follows the chat template: a template that rewrites earlier assistant turns (dropping their
reasoning, as reasoning models' templates do) still trains exactly each answer as rendered, plus its end token."""
import json

import pytest

from lab.train import masking
from tests.integration.test_train import short_alpaca

HEAD = ("{%- set last = namespace(user=-1) -%}{%- for m in messages %}{% if m['role'] == 'user' %}"
        "{% set last.user = loop.index0 %}{% endif %}{% endfor -%}"
        "{%- for m in messages -%}{%- set content = m['content'] -%}"
        "{%- if m['role'] == 'assistant' and '</think>' in content and (KEEP) -%}"
        "{%- set content = content.split('</think>')[-1].lstrip() -%}{%- endif -%}")
TAIL = "{%- endfor -%}{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif -%}"
TURN = "{{- '<|im_start|>' + m['role'] + '\\n' + content + '<|im_end|>\\n' -}}"
MARKED = ("{%- if m['role'] == 'assistant' -%}{{- '<|im_start|>assistant\\n' -}}{% generation %}"
          "{{- content + '<|im_end|>' -}}{% endgeneration %}{{- '\\n' -}}{%- else -%}" + TURN + "{%- endif -%}")
TEMPLATES = {
    # reasoning dropped from the assistant turns before the last user turn (Qwen3's rule)
    "earlier turns": HEAD.replace("KEEP", "loop.index0 < last.user") + TURN + TAIL,
    # reasoning dropped from every assistant turn (DeepSeek-R1's rule)
    "every turn": HEAD.replace("KEEP", "true") + TURN + TAIL,
    # the same, with {% generation %} markers around each answer and its end token
    "every turn, marked": HEAD.replace("KEEP", "true") + MARKED + TAIL,
}


def rendered(template: str, messages: list[dict], i: int) -> str:
    """Assistant turn i as the template writes it."""
    text = messages[i]["content"]
    last_user = max(j for j, m in enumerate(messages) if m["role"] == "user")
    if template != "earlier turns" or i < last_user:
        text = text.split("</think>")[-1].lstrip()
    return text


@pytest.fixture(scope="module")
def conversations(bundled_model):
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "alpaca_en_demo.json"
    if not path.is_file():
        pytest.skip("../shared/data is absent")
    rows = short_alpaca(path, 12)
    out = []
    for a, b in zip(rows[::2], rows[1::2]):
        turns = []
        for r in (a, b):
            turns += [{"role": "user", "content": r["instruction"]},
                      {"role": "assistant", "content": f"<think>The user asks: {r['instruction'][:30]}</think>\n"
                                                       f"{r['output'].strip()}"}]
        out.append(turns)
    return out


@pytest.mark.parametrize("name", list(TEMPLATES))
@pytest.mark.parametrize("n_context", [0, 2])
def test_rewritten_earlier_turns_keep_exactly_their_answers(bundled_model, conversations, name, n_context):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bundled_model)
    tok.chat_template = TEMPLATES[name]
    markers = masking.end_markers(tok)
    examples = [masking.tokenize_sft({"messages": m, "n_context": n_context}, tok, True, markers)
                for m in conversations]
    batch = masking.sft_collator(tok)(examples)
    for msgs, ids, labels in zip(conversations, batch["input_ids"].tolist(), batch["labels"].tolist()):
        trained = [t for t, lab in zip(ids, labels) if lab != -100]
        expected = "".join(rendered(name, msgs, i) + "<|im_end|>" for i, m in enumerate(msgs)
                           if m["role"] == "assistant" and i >= n_context)
        assert tok.decode(trained) == expected, json.dumps(msgs)[:300]
