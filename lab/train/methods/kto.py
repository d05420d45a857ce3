"""KTO: learn from thumbs up/down on single answers (TRL's KTOTrainer).

Rows are prompt, completion and a boolean label (the arena's KTO export), read through the Data tab's loader;
preference rows (prompt, chosen, rejected) also train KTO: chosen is a thumbs-up, rejected a thumbs-down.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.data import formats
from lab.errors import LabError
from lab.train.data import columns_of, normalized_rows, raw_rows
from lab.train.masking import mask_preview
from lab.train.methods.base import TRL_LOG_KEYS, MemoryTerms, Method, MethodSettings, TrainerParts, register


class KtoSettings(MethodSettings):
    name: Literal["kto"] = "kto"
    beta: float = Field(0.1, gt=0, le=10, description="KTO: how far the model may drift from the reference. "
                        "Lower (0.05) lets it move more; higher (0.5) keeps it close.")
    desirable_weight: float = Field(1.0, gt=0, le=100, description="KTO: weight of thumbs-up rows. With fewer "
                                    "thumbs-up than thumbs-down, raise it so the two sides weigh about the same.")
    undesirable_weight: float = Field(1.0, gt=0, le=100, description="KTO: weight of thumbs-down rows.")


def _label(value, i: int) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise LabError(f"KTO needs a boolean 'label' (true: a good answer, false: a bad one); row {i + 1} has "
                   f"{value!r}.", "Make the 'label' column true/false (1/0 also works).", "label")


def unpaired_rows(raw: list[dict]) -> list[dict]:
    """KTO rows from prompt/completion/label columns, or from preference pairs (chosen up, rejected down)."""
    columns = columns_of(raw)
    form, converted = normalized_rows(raw) if "label" not in columns else (None, None)
    if form == "preference":
        return [{"prompt": r["prompt"], "completion": r[side], "label": side == "chosen"}
                for r in converted for side in ("chosen", "rejected")]
    for column in ("prompt", "completion", "label"):
        if column not in columns:
            raise LabError(f"KTO needs prompt, completion and a boolean label, but this dataset has no "
                           f"{column!r} column (its columns: {', '.join(columns)}).",
                           "Export thumbs up/down as prompt/completion/label rows (the arena's KTO export does), "
                           "or use preference rows (prompt, chosen, rejected).", column)
    return [{"prompt": formats.messages(r["prompt"], "user"),
             "completion": formats.messages(r["completion"], "assistant"), "label": _label(r.get("label"), i)}
            for i, r in enumerate(raw)]


def balance(labels: list[bool]) -> list[str]:
    up = sum(bool(x) for x in labels)
    down = len(labels) - up
    if not up or not down:
        return [f"Every KTO row is {'desirable' if up else 'undesirable'}: KTO learns most from both kinds."]
    if max(up, down) > 1.33 * min(up, down):
        ratio = down / up
        return [f"{up} thumbs-up and {down} thumbs-down rows: KTO's authors suggest desirable_weight × {up} ≈ "
                f"undesirable_weight × {down} (within 1–1.33×), e.g. desirable_weight {ratio:.2f}."]
    return []


class Kto(Method):
    name = "kto"
    label = "KTO"
    summary = "KTO learns from thumbs up/down on single answers (prompt, completion, label)."
    settings = KtoSettings
    flat = {"kto_beta": "beta", "desirable_weight": "desirable_weight", "undesirable_weight": "undesirable_weight"}
    older_flat = {"dpo_beta": "beta"}  # a flat recipe of earlier versions set KTO's beta as dpo_beta
    form_group = "GRPO, KTO and rewards"

    def check_recipe(self, recipe) -> None:
        if recipe.batch_size < 2:
            raise ValueError("batch_size: KTO needs at least 2 rows per batch (its KL term pairs each answer with "
                             "another row's)")

    def rows(self, recipe, token: str | None = None):
        # datasets imports pyarrow and pandas: seconds, paid only where rows are read
        import datasets  # heavy: datasets

        raw = raw_rows(recipe.dataset, recipe.dataset_split, recipe.max_rows, token)
        return datasets.Dataset.from_list(unpaired_rows(raw)), "unpaired"

    def checks(self, recipe, dataset, kind: str, facts: dict, lens, token: str | None = None) -> list[str]:
        return balance(dataset["label"])

    def memory_terms(self, recipe) -> MemoryTerms:
        # KTO's KL pass runs without gradients: one sequence per row keeps activations
        return MemoryTerms(lora_dropout=False, reference_copy=True)

    def config(self, recipe, common: dict):
        # trl imports torch and transformers: seconds, paid only by a run
        from trl import KTOConfig  # heavy: trl

        s = recipe.method
        return KTOConfig(**common, beta=s.beta, desirable_weight=s.desirable_weight,
                         undesirable_weight=s.undesirable_weight)

    def trainer(self, recipe, parts: TrainerParts):
        from trl import KTOTrainer  # heavy: trl

        return KTOTrainer(**parts.common())

    def metric_keys(self, recipe) -> dict[str, str]:
        return dict(TRL_LOG_KEYS)

    def preview(self, row: dict, tok, recipe, kind: str) -> dict:
        """The answer with its label."""
        sft_row = {"messages": row["prompt"] + row["completion"], "n_context": len(row["prompt"])}
        out = mask_preview(sft_row, tok, "sft")
        out["pieces"] = [("👍 " if row["label"] else "👎 ", "label"), *out["pieces"]]
        return out

    def trl_args(self, recipe, args: list[str]) -> tuple[list[str], str]:
        s = recipe.method
        return args + ["--beta", f"{s.beta:g}", "--desirable_weight", f"{s.desirable_weight:g}",
                       "--undesirable_weight", f"{s.undesirable_weight:g}"], ""


METHOD = register(Kto())
