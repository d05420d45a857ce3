"""Chat template, tokenization and the loss mask ("train on the answer only").

SFT rows are tokenized here, not by TRL, so the labels are exactly each trained answer plus its end-of-turn
token: TRL's prompt/completion path also trains the newline a ChatML template puts after <|im_end|>. The answers
are located by the template itself: its {% generation %} markers where it has them, else where its rendering of
the turns before each answer ends (so templates that rewrite earlier turns are followed, not searched).
The labels exist before padding, so with pad == eos the final EOS keeps its label (the model learns to stop).
The mask preview runs one row through the same collator class the trainer uses.
"""
from __future__ import annotations

import re

from lab.errors import LabError

END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "</s>")
IGNORE = -100


def chatml_template(end: str) -> str:
    return ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '"
            + end + "' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
            "{% endif %}")


def apply_template(tok, choice: str) -> str:
    """Set the chat template the run uses; returns a warning when ChatML replaced a missing template."""
    if choice == "model" and tok.chat_template:
        return ""
    end = "<|im_end|>" if "<|im_end|>" in tok.get_vocab() else (tok.eos_token or "<|im_end|>")
    tok.chat_template = chatml_template(end)
    if choice == "chatml":
        return ""
    return (f"The model has no chat template, so the run uses ChatML (turns end with {end}). Chat with the result "
            "using the same template (it is saved with the adapter).")


def end_markers(tok) -> list[str]:
    vocab = tok.get_vocab()
    found = [m for m in END_MARKERS if m in vocab]
    if tok.eos_token and tok.eos_token not in found:
        found.insert(0, tok.eos_token)
    return found


def _render(tok, messages: list[dict], gen: bool = False) -> str:
    try:
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
    except Exception as exc:  # a template that rejects the roles (e.g. no system role)
        raise LabError(f"The chat template cannot render this conversation: {exc}",
                       "Fix the dataset's roles, or set chat_template to chatml.", "chat_template") from None


def answer_spans(tok, messages: list[dict], n_context: int, text: str, markers: list[str]) -> list[tuple[int, int]]:
    """Character spans of the trained answers in the rendered text, each with its end-of-turn marker. Where an
    answer starts comes from the template itself: where its rendering of the turns before it, plus the generation
    prompt, ends. So a template that rewrites earlier turns (one that drops their reasoning) is followed, not
    searched for the message's text."""
    spans, cursor = [], 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start = _answer_start(tok, messages[:i], text, cursor)
        if start is None:
            continue
        end = _answer_end(tok, messages[:i + 1], text, start, markers)
        cursor = end
        if i >= n_context:
            spans.append((start, end))
    return spans


def _answer_start(tok, before: list[dict], text: str, cursor: int) -> int | None:
    if not before:
        return cursor
    prompt = _render(tok, before, gen=True)
    if text.startswith(prompt) and len(prompt) >= cursor:
        return len(prompt)
    # the template renders the earlier turns differently once more turns follow: find the generation prompt's
    # header (e.g. "<|im_start|>assistant\n") after the previous answer
    header = prompt[len(_common_prefix(prompt, _render(tok, before))):]
    at = text.find(header, cursor) if header else -1
    return at + len(header) if at >= 0 else None


def _answer_end(tok, through: list[dict], text: str, start: int, markers: list[str]) -> int:
    """Just after the first end-of-turn marker that follows the answer's start."""
    found = [(at, len(m)) for m in markers if (at := text.find(m, start)) >= 0]
    if found:
        at, size = min(found)
        return at + size
    rendered = _render(tok, through)
    return len(rendered) if text.startswith(rendered) else len(text)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _generation_labels(tok, messages: list[dict], n_context: int, markers: list[str]) -> dict | None:
    """input_ids + labels from the template's {% generation %} markers (the tokenizer's assistant mask), the end
    token added where the template leaves it outside; None when the template has no markers or its marked answers
    do not match the assistant turns one to one."""
    if not re.search(r"{%-?\s*generation\s*-?%}", tok.chat_template or ""):
        return None
    out = tok.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    runs = [(s, e) for s, e in _runs(mask)]
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if len(runs) != len(turns):
        return None
    end_ids = {tok.convert_tokens_to_ids(m) for m in markers}
    labels = [IGNORE] * len(ids)
    for (s, e), i in zip(runs, turns):
        if e < len(ids) and ids[e - 1] not in end_ids and ids[e] in end_ids:
            e += 1
        if i >= n_context:
            labels[s:e] = ids[s:e]
    return {"input_ids": ids, "labels": labels}


def _runs(mask: list[int]) -> list[tuple[int, int]]:
    runs, start = [], None
    for k, on in enumerate([*mask, 0]):
        if on and start is None:
            start = k
        elif not on and start is not None:
            runs.append((start, k))
            start = None
    return runs


def tokenize_sft(row: dict, tok, completion_only: bool, markers: list[str]) -> dict:
    if "text" in row and row.get("text") is not None and not row.get("messages"):
        ids = tok(row["text"], add_special_tokens=True)["input_ids"]
        if tok.eos_token_id is not None and (not ids or ids[-1] != tok.eos_token_id):
            ids = ids + [tok.eos_token_id]
        return {"input_ids": ids, "labels": list(ids)}
    n_context = row.get("n_context") or 0
    marked = _generation_labels(tok, row["messages"], n_context, markers) if completion_only else None
    if marked is not None:
        return marked
    text = _render(tok, row["messages"])
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"]
    if not completion_only:
        return {"input_ids": ids, "labels": list(ids)}
    spans = answer_spans(tok, row["messages"], n_context, text, markers)
    labels = [t if any(s <= a < e for s, e in spans) else IGNORE for t, (a, _) in zip(ids, enc["offset_mapping"])]
    return {"input_ids": ids, "labels": labels}


def prepare_sft(ds, tok, completion_only: bool):
    """Tokenized SFT dataset with input_ids + labels (TRL then truncates, drops empty rows and packs)."""
    if not getattr(tok, "is_fast", False):
        raise LabError("The model's tokenizer has no fast (Rust) version, which answer masking needs.",
                       "Pick a model that ships tokenizer.json.", "model")
    markers = end_markers(tok)
    return ds.map(tokenize_sft, fn_kwargs={"tok": tok, "completion_only": completion_only, "markers": markers},
                  remove_columns=ds.column_names, desc="Tokenizing")


def check_answers_fit(ds, max_len: int) -> None:
    """Refuse a run whose rows all lose every trained token to truncation (TRL would drop them all and fail
    with "num_samples=0"); the usual cause is a long chat template or system prompt with a short max_seq_length."""
    if not len(ds):
        return
    kept = sum(1 for labels in ds["labels"] if any(t != IGNORE for t in labels[:max_len]))
    if kept == 0:
        prompt = sorted(next((i for i, t in enumerate(lab) if t != IGNORE), len(lab)) for lab in ds["labels"])
        raise LabError(f"No row keeps a trained token within max_seq_length={max_len}: the prompt part alone "
                       f"(chat template, system prompt, question) takes {prompt[len(prompt) // 2]} tokens on the "
                       "median row.", "Raise max_seq_length (256 or more suits most chat data).", "max_seq_length")


def sft_collator(tok, padding_free: bool = False):
    """The collator class TRL's SFTTrainer uses (labels padded with -100, so pad == eos is safe)."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling  # heavy: trl

    return DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id, padding_free=padding_free)


def dpo_example(row: dict, tok) -> dict:
    """prompt_ids / chosen_ids / rejected_ids the way TRL's DPOTrainer tokenizes a conversational row."""
    from trl.data_utils import common_prefix_length  # heavy: trl

    def ids(msgs, gen=False):
        return tok.apply_chat_template(msgs, tokenize=True, return_dict=True, add_generation_prompt=gen)["input_ids"]

    p = ids(row["prompt"], gen=True)
    pc, pr = ids(row["prompt"] + row["chosen"]), ids(row["prompt"] + row["rejected"])
    k = min(common_prefix_length(p, pc), common_prefix_length(p, pr))
    return {"prompt_ids": p[:k], "chosen_ids": pc[k:], "rejected_ids": pr[k:]}


def _pieces(tok, ids, trained) -> list[tuple[str, str | None]]:
    return [(tok.decode([t]), "trained" if on else None) for t, on in zip(ids, trained)]


def mask_preview(row: dict, tok, kind: str, completion_only: bool = True, padding_free: bool = False) -> dict:
    """One row as (token text, 'trained'|None) pieces, read from the real collator's output."""
    if kind == "preference":
        from trl.trainer.dpo_trainer import DataCollatorForPreference  # heavy: trl

        batch = DataCollatorForPreference(pad_token_id=tok.pad_token_id)([dpo_example(row, tok)])
        chosen, rejected = batch["input_ids"], batch["completion_mask"]
        n = int(batch["attention_mask"][0].sum())
        m = int(batch["attention_mask"][1].sum())
        return {"chosen": _pieces(tok, chosen[0][:n].tolist(), rejected[0][:n].tolist()),
                "rejected": _pieces(tok, chosen[1][:m].tolist(), rejected[1][:m].tolist()),
                "trained_tokens": int(rejected[0].sum()), "total_tokens": n}
    ex = tokenize_sft(row, tok, completion_only, end_markers(tok))
    batch = sft_collator(tok, padding_free)([ex])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    trained = [lab != IGNORE for lab in labels]
    return {"pieces": _pieces(tok, ids, trained), "trained_tokens": sum(trained), "total_tokens": len(ids)}
