"""Preview: the chosen rewards on a few answers sampled from the base model, before launching GRPO.

A user sees whether the scores are sensible (a format the model never hits gives no signal; a reward that
raises shows its error) in seconds, in the app, with the run's own sampling settings.
"""
from __future__ import annotations

from lab.errors import LabError
from lab.train import build
from lab.train.methods import rewards
from lab.train.methods.grpo import METHOD as GRPO
from lab.train.methods.grpo import GrpoSettings
from lab.train.methods.rewards.user_code import check_allowed

MAX_PROMPTS, MAX_SAMPLES, MAX_TOKENS = 4, 4, 256


def _generate(model, tok, prompt: list[dict], settings: GrpoSettings, n: int) -> list[tuple[str, int]]:
    import torch  # heavy: torch (the model is loaded by then)

    ids = tok.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    ids = {k: v.to(model.device) for k, v in ids.items()}
    with torch.no_grad():
        out = model.generate(**ids, do_sample=True, temperature=settings.temperature, num_return_sequences=n,
                             max_new_tokens=min(settings.max_completion_length, MAX_TOKENS),
                             pad_token_id=tok.pad_token_id)
    answers = []
    for seq in out[:, ids["input_ids"].shape[1]:]:
        kept = [t for t in seq.tolist() if t != tok.pad_token_id]
        answers.append((tok.decode(kept, skip_special_tokens=True), len(kept)))
    return answers


def preview(recipe, prompts: int = 2, token: str | None = None, caller=None, log=print) -> dict:
    """{"headers", "rows", "means", "errors", "note"}: each sampled answer with every reward's score."""
    import torch  # heavy: torch, for sampling from the base model

    settings = recipe.method
    if not isinstance(settings, GrpoSettings) or not settings.rewards:
        raise LabError("Preview scores GRPO rewards.", "Set the method to grpo and add at least one reward.",
                       "rewards")
    if any(s.name == "python" for s in settings.rewards):
        check_allowed(caller, where="app")
    ds, _ = GRPO.rows(recipe.model_copy(update={"max_rows": MAX_PROMPTS * 4}), token)
    rewards.check(settings.rewards, list(ds.column_names), token)
    base = recipe.model_copy(update={"adapter": "lora"})  # sampled from the 16-bit base, whatever the run trains
    model, tok = build.load_weights(base, build.plan(base), token, log)
    model.eval()
    torch.manual_seed(recipe.seed)
    funcs = rewards.build(settings.rewards, on_error="skip", token=token, log=lambda m: None)
    rows, names = [], [f.__name__ for f in funcs]
    for row in ds.select(range(min(prompts, MAX_PROMPTS, len(ds)))):
        answers = _generate(model, tok, row["prompt"], settings, min(settings.num_generations, MAX_SAMPLES))
        extra = {k: [row[k]] * len(answers) for k in ds.column_names if k != "prompt"}
        completions = [[{"role": "assistant", "content": a}] for a, _ in answers]
        scores = [f([row["prompt"]] * len(answers), completions, [[0] * n for _, n in answers], **extra)
                  for f in funcs]
        for i, (answer, _) in enumerate(answers):
            values = [s[i] for s in scores]
            total = sum(sp.weight * v for sp, v in zip(settings.rewards, values) if v is not None)
            rows.append([rewards.text_of(row["prompt"])[-300:], answer, round(total, 3),
                         *(None if v is None else round(v, 3) for v in values)])
    return _summary(names, rows, funcs)


def _summary(names: list[str], rows: list[list], funcs) -> dict:
    means = {}
    for j, name in enumerate(names):
        values = [r[3 + j] for r in rows if r[3 + j] is not None]
        means[name] = round(sum(values) / len(values), 3) if values else None
    errors = {f.__name__: f.last_error for f in funcs if f.errors}
    flat = [n for n, m in means.items() if m is not None and all(r[3 + names.index(n)] == rows[0][3 + names.index(n)]
                                                               for r in rows)]
    note = "Mean per reward: " + ", ".join(f"{n} {m}" for n, m in means.items()) + "."
    if flat:
        note += (f" Same score on every sample for {', '.join(flat)}: no signal from "
                 f"{'it' if len(flat) == 1 else 'them'} yet (GRPO learns from differences within a group).")
    if errors:
        note += " Errors: " + "; ".join(f"{n}: {e}" for n, e in errors.items()) + "."
    return {"headers": ["prompt", "completion", "total", *names], "rows": rows, "means": means, "errors": errors,
            "note": note}
