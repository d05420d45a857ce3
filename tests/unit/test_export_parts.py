"""The export's pure parts: the Ollama template derived from chat templates, the pre-tokenizer names llama.cpp
knows, the architecture and rope checks, and llama.cpp's rotary row layout."""
from __future__ import annotations

import numpy as np
import pytest

from lab.errors import LabError
from lab.export import arch, modelfile
from lab.export.vocab import pre_tokenizer_name
from tests.export_support import CHATML, tiny_tokenizer

LLAMA3 = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
          "{{ m['content'] }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}"
          "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
MISTRAL = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
           "{% elif m['role'] == 'assistant' %}{{ m['content'] }}{{ eos_token }}"
           "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}")
DEFAULT_SYSTEM = ("{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are Tiny.<|im_end|>\n' }}"
                  "{% endif %}" + CHATML)


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return tiny_tokenizer(tmp_path_factory.mktemp("tok"))


def _with(tok, template):
    tok.chat_template = template
    return tok


def test_chatml_becomes_a_go_template_that_rebuilds_the_jinja_rendering(tok):
    d = modelfile.derive(_with(tok, CHATML))
    assert not d.warnings and d.system == "" and modelfile.reproduces(tok, d.turns)
    assert d.template == ('{{ range .Messages }}{{ if eq .Role "system" }}<|im_start|>system\n{{ .Content }}'
                          '<|im_end|>\n{{ else if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n'
                          '{{ else if eq .Role "assistant" }}<|im_start|>assistant\n{{ .Content }}<|im_end|>\n'
                          '{{ end }}{{ end }}<|im_start|>assistant\n')
    assert d.stops == ["<|im_end|>", "<|im_start|>"]


def test_a_default_system_prompt_becomes_the_modelfile_system(tok):
    d = modelfile.derive(_with(tok, DEFAULT_SYSTEM))
    assert d.system == "You are Tiny." and not d.warnings
    text = modelfile.render("m.gguf", d, modelfile.parameters({"do_sample": True, "temperature": 0.3}, 8192))
    assert 'SYSTEM """You are Tiny."""' in text and "PARAMETER temperature 0.3" in text
    assert "PARAMETER num_ctx 4096" in text and text.startswith("FROM ./m.gguf\n")


def test_llama3_turns_leave_the_bos_to_llama_cpp(tok):
    tok.bos_token = "<|endoftext|>"  # a BOS written once, before everything, as Llama 3's <|begin_of_text|>
    d = modelfile.derive(_with(tok, LLAMA3.replace("<|eot_id|>", "<|im_end|>")))
    tok.bos_token = "<|im_start|>"
    assert not d.warnings and d.turns.bos == "<|endoftext|>" and "<|endoftext|>" not in d.template
    assert d.template.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_a_template_that_refuses_a_system_turn_falls_back_to_plain_with_a_warning(tok):
    d = modelfile.derive(_with(tok, MISTRAL))
    assert d.template == modelfile.PLAIN and "Only user and assistant" in d.warnings[0]


def test_no_chat_template_gives_the_plain_template_and_says_so(tok):
    d = modelfile.derive(_with(tok, None))
    assert d.template == modelfile.PLAIN and "no chat template" in d.warnings[0] and d.stops == ["<|im_end|>"]


def test_pre_tokenizer_names_are_the_ones_llama_cpp_knows():
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    assert pre_tokenizer_name({"type": "ByteLevel", "use_regex": True}) == "gpt-2"
    split = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": PRETOKENIZE_REGEX}}, {"type": "ByteLevel", "use_regex": False}]}
    assert pre_tokenizer_name(split) == "qwen2"
    split["pretokenizers"][0]["pattern"]["Regex"] = r"\w+"
    assert pre_tokenizer_name(split) is None  # unknown: refused rather than tokenized differently
    assert pre_tokenizer_name({"type": "Metaspace"}) is None


def test_architectures_and_rope_types_outside_the_writer_are_refused_with_the_way_out():
    assert arch.check_architecture({"architectures": ["Qwen2ForCausalLM"]}).gguf_name == "qwen2"
    with pytest.raises(LabError, match="Gemma2ForCausalLM") as err:
        arch.check_architecture({"architectures": ["Gemma2ForCausalLM"]})
    assert "LAB_LLAMA_CPP" in err.value.fix
    with pytest.raises(LabError, match="yarn"):
        arch.check_architecture({"architectures": ["LlamaForCausalLM"], "rope_scaling": {"rope_type": "yarn"}})


def test_rotary_rows_are_interleaved_per_head_for_llama_cpp():
    # a head of 4 rows: Hugging Face pairs r0 with r2 and r1 with r3; llama.cpp wants pairs side by side
    w = np.arange(16, dtype=np.float32).reshape(8, 2)  # 2 heads x 4 rows, 2 columns
    out = arch.interleave_rotary_rows(w, n_head=2)
    assert out[:, 0].tolist() == [0, 4, 2, 6, 8, 12, 10, 14]


def test_llama3_rope_factors_follow_the_published_formula():
    f = arch.llama3_rope_factors({"rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}, 128)
    assert f.shape == (64,) and f[0] == 1.0 and f[-1] == 8.0 and np.all(np.diff(f) >= 0)
