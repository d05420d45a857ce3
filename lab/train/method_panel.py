"""The Train tab's view of GRPO, KTO and reward-model runs, computed without gradio: the pre-launch sample
view, GRPO's live curves (each reward, the total, KL, completion length, clipped share), its table of sample
completions, and the warnings the run raised."""
from __future__ import annotations

from pathlib import Path

SAMPLE_COLUMNS = ["prompt", "completion", "total"]


def check_preview(row: dict, tok, recipe) -> dict:
    """One row as the method sees it: GRPO's rendered prompt (its answers are sampled), KTO's answer with its
    label, or the reward model's two scored conversations."""
    from lab.train.masking import mask_preview

    if recipe.method == "grpo":
        text = tok.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        return {"pieces": [(text, None), ("⟨sampled answers, scored by the rewards⟩", "label")],
                "trained_tokens": 0, "total_tokens": len(tok(text)["input_ids"]), "note": "GRPO samples "
                f"{recipe.num_generations} answers of up to {recipe.max_completion_length} tokens per prompt."}
    if recipe.method == "kto":
        sft_row = {"messages": row["prompt"] + row["completion"], "n_context": len(row["prompt"])}
        out = mask_preview(sft_row, tok, "sft")
        out["pieces"] = [("👍 " if row["label"] else "👎 ", "label"), *out["pieces"]]
        return out
    return mask_preview(row, tok, "preference")


def _series(metrics: list[dict], keys: dict[str, str]) -> list[dict]:
    return [{"step": m["step"], "value": m[k], "series": label} for m in metrics for label, k in keys.items()
            if k in m and m.get("step") is not None]


def grpo_curves(metrics: list[dict]) -> dict:
    """Rows for the GRPO plots: each reward's mean with the total, KL with the clipped shares, answer length."""
    names = sorted({k[len("reward_"):] for m in metrics for k in m
                    if k.startswith("reward_") and not k.endswith("_std") and k not in ("reward_std",
                                                                                         "reward_margin",
                                                                                         "reward_accuracy")})
    return {"rewards": _series(metrics, {"total": "reward", **{n: f"reward_{n}" for n in names}}),
            "kl": _series(metrics, {"KL": "kl", "clipped answers": "clipped_ratio",
                                    "clipped ratio": "ratio_clipped"}),
            "length": _series(metrics, {"completion length": "completion_length"})}


def samples_table(folder: Path) -> tuple[list[str], list[list]]:
    """(headers, rows) of the latest logged step's sample completions, each reward's score beside them."""
    from lab.train.grpo_watch import read_samples

    rows = read_samples(folder)
    names = list(dict.fromkeys(n for r in rows for n in r.get("rewards", {})))
    headers = ["step", *SAMPLE_COLUMNS, *names]
    table = [[r["step"], r["prompt"][-300:], r["completion"][:600], round(r["total"], 3),
              *(None if r["rewards"].get(n) is None else round(r["rewards"][n], 3) for n in names)] for r in rows]
    return headers, table


def notes(folder: Path) -> list[str]:
    """What the run's watcher found, as markdown lines: no signal, skipped samples, the dominant reward."""
    from lab.train.grpo_watch import read_watch

    watch = read_watch(folder)
    out = [f"⚠️ {watch['no_signal']}"] if watch.get("no_signal") else []
    out += [f"⚠️ reward `{name}` raised on {n} sample(s), left unscored (reward_errors: skip)"
            for name, n in (watch.get("skipped") or {}).items()]
    if watch.get("dominant"):
        share = watch["shares"].get(watch["dominant"], 0)
        out.append(f"Reward `{watch['dominant']}` dominates: {share:.0%} of the weighted reward spread.")
    return out
