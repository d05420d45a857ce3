"""SFT: supervised fine-tuning on conversations, the loss on the answers only (TRL's SFTTrainer).

The lab tokenizes the rows itself (lab.train.masking) so the labels are exactly each trained answer and its
end-of-turn token; preference rows train on prompt + chosen.
"""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from lab.train import engine
from lab.train.masking import check_answers_fit, mask_preview, prepare_sft, sft_collator
from lab.train.methods.base import MemoryTerms, Method, MethodSettings, TrainerParts, register


class SftSettings(MethodSettings):
    batches_padding_free: ClassVar[bool] = True
    on_unsloth: ClassVar[bool] = True
    name: Literal["sft"] = "sft"
    packing: bool = Field(False, description="SFT only: pack several short rows into one padding-free sequence "
                          "(TRL's best-fit packing). Faster on datasets of short rows; position ids keep each row "
                          "from attending to the others (SDPA and flash-attention alike).")
    completion_only_loss: bool = Field(True, description="Train on the answers only (the prompt is context). "
                                       "Off trains on every token, which also teaches the model the prompts.")


def sft_rows(ds, kind: str):
    """Preference rows train SFT on prompt + chosen."""
    if ds is None or kind != "preference":
        return ds
    return ds.map(lambda r: {"messages": r["prompt"] + r["chosen"], "n_context": len(r["prompt"])},
                  remove_columns=ds.column_names)


def _sft_row(row: dict, kind: str) -> dict:
    if kind != "preference":
        return row
    return {"messages": row["prompt"] + row["chosen"], "n_context": len(row["prompt"])}


class Sft(Method):
    name = "sft"
    label = "SFT"
    summary = "SFT teaches the model to answer (loss on the answer only)."
    settings = SftSettings
    flat = {"packing": "packing", "completion_only_loss": "completion_only_loss"}
    refused_elsewhere = {"packing": "only SFT packs rows; turn packing off for {label}"}

    def check_kind(self, recipe, kind: str) -> list[str]:
        return ["SFT on preference data trains on the chosen answers only."] if kind == "preference" else []

    def length_texts(self, row: dict, kind: str) -> list:
        if kind == "preference":
            return [row["prompt"] + row["chosen"]]  # SFT on preference rows trains on the chosen answers
        return super().length_texts(row, kind)

    def memory_terms(self, recipe) -> MemoryTerms:
        return MemoryTerms(packed=recipe.method.packing)

    def config(self, recipe, common: dict):
        # trl imports torch and transformers: seconds, paid only by a run
        from trl import SFTConfig  # heavy: trl

        return SFTConfig(**common, packing=recipe.method.packing, completion_only_loss=None, dataset_num_proc=None)

    def trainer(self, recipe, parts: TrainerParts):
        from trl import SFTTrainer  # heavy: trl

        s, tok, kind = recipe.method, parts.tokenizer, parts.kind
        parts.train_ds = prepare_sft(sft_rows(parts.train_ds, kind), tok, s.completion_only_loss)
        check_answers_fit(parts.train_ds, recipe.max_seq_length)
        if parts.eval_ds is not None:
            parts.eval_ds = prepare_sft(sft_rows(parts.eval_ds, kind), tok, s.completion_only_loss)
        # TRL's bfd packing is padding-free and builds its own collator. Padding-free batches use the lab's: TRL's
        # SFTConfig(padding_free=True) refuses a custom collator and any max_length without packing (it would not
        # truncate), while this one gets the same batches from rows TRL has truncated
        collator = None if s.packing else sft_collator(tok, padding_free=engine.padding_free(recipe))
        return SFTTrainer(**parts.common(), data_collator=collator)

    def preview(self, row: dict, tok, recipe, kind: str) -> dict:
        s = recipe.method
        return mask_preview(_sft_row(row, kind), tok, "sft" if kind == "preference" else kind,
                            s.completion_only_loss, s.packing or engine.padding_free(recipe))

    def trl_args(self, recipe, args: list[str]) -> tuple[list[str], str]:
        return args + (["--packing"] if recipe.method.packing else []), ""


METHOD = register(Sft())
