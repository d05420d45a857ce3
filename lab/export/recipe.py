"""ExportRecipe: what to export, to which GGUF types, where, and whether to publish it."""
from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from lab.errors import LabError
from lab.export.llamacpp import available_types
from lab.settings import get_settings
from lab.validation import Recipe

TYPE_HELP = {
    "f16": "16-bit floats: lossless for bf16/fp16 models, the largest file (2 bytes a weight).",
    "bf16": "bfloat16: lossless for bf16 models; older CPUs run it slower than f16.",
    "q8_0": "8-bit blocks: about half of f16, nearly indistinguishable in use (the usual choice).",
    "q4_0": "4-bit blocks (output layer kept at 8 bits): about a quarter of f16, noticeably lossy on small models.",
    "q4_k_m": "llama.cpp's 4-bit K-quant, mixed: better than q4_0 at a similar size (needs llama-quantize).",
    "q5_k_m": "llama.cpp's 5-bit K-quant, mixed (needs llama-quantize).",
    "q6_k": "llama.cpp's 6-bit K-quant (needs llama-quantize).",
}


class ExportRecipe(Recipe):

    source: str = Field(description=(
        "What to export: an artifact folder (merge, fine-tune, adapter), a Hub id, the bundled model, or "
        "BASE+ADAPTER_FOLDER. An adapter is merged into its base first, in a temporary folder."))
    types: list[str] = Field(["q8_0"], min_length=1, description=(
        "GGUF types to write, one file each. f16/bf16 keep every weight; q8_0 halves the size at almost no "
        "loss; q4_0 quarters it with visible loss on small models. K-quants appear when llama.cpp's "
        "llama-quantize is present (LAB_LLAMA_CPP)."))
    out: str = Field("", description=(
        "Output folder (an artifact). Default: LAB_HOME/artifacts/<source name>-gguf."))
    overwrite: bool = Field(False, description="Replace an existing output folder (refused otherwise).")
    check: bool = Field(True, description=(
        "Load each file back through transformers and compare it with the source on fixed prompts "
        "(top-1 agreement, mean KL divergence). Off only for models too big to load twice."))
    push: str = Field("", description="A Hub repo (NAME or OWNER/NAME) to publish the GGUF repo to; empty: don't.")
    private: bool = Field(True, description="Publish as a private repo (the default).")

    @field_validator("types")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        value = [v.strip().lower() for v in value]
        allowed = available_types()
        bad = [v for v in value if v not in allowed]
        if bad:
            raise ValueError(f"types: {', '.join(bad)} not available here; choose from {', '.join(allowed)}")
        return list(dict.fromkeys(value))



def build(**values) -> ExportRecipe:
    return ExportRecipe.parse(values)


def default_out(source_name: str) -> Path:
    return get_settings().artifacts / f"{source_name}-gguf"


def out_for_name(name: str) -> str:
    """An artifact name (the UI's field) as an output folder in LAB_HOME/artifacts; '' keeps the default."""
    name = (name or "").strip()
    if name and not re.fullmatch(r"[\w][\w.\-]{0,95}", name):
        raise LabError(f"{name!r} is not a plain name.", "Use letters, digits, '.', '_' and '-' (no slashes).", "name")
    return str(get_settings().artifacts / name) if name else ""
