"""One-click starting points from the talk, as mergekit YAML. Replace the model ids with your own.

The Hub ids are the well-known 7B examples (Mistral-7B fine-tunes, Llama-3-70B); the offline template
merges the bundled SmolLM2 with your newest local fine-tune, so it runs without the Hub.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.artifacts import list_artifacts
from lab.errors import LabError
from lab.models.usable import artifact_value, model_artifacts
from lab.settings import DEFAULT_MODEL


@dataclass(frozen=True)
class Template:
    key: str
    label: str
    description: str
    yaml: str


_SLERP = """\
slices:
  - sources:
      - model: OpenPipe/mistral-ft-optimized-1218
        layer_range: [0, 32]
      - model: mlabonne/NeuralHermes-2.5-Mistral-7B
        layer_range: [0, 32]
merge_method: slerp
base_model: OpenPipe/mistral-ft-optimized-1218
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: bfloat16
"""

_DARE_TIES = """\
models:
  - model: mistralai/Mistral-7B-v0.1
    # the base: no parameters needed
  - model: samir-fama/SamirGPT-v1
    parameters:
      density: 0.53
      weight: 0.4
  - model: abacusai/Slerp-CM-mist-dpo
    parameters:
      density: 0.53
      weight: 0.3
  - model: EmbeddedLLM/Mistral-7B-Merge-14-v0.2
    parameters:
      density: 0.53
      weight: 0.3
merge_method: dare_ties
base_model: mistralai/Mistral-7B-v0.1
parameters:
  int8_mask: true
dtype: bfloat16
"""

_SELF_MERGE = "slices:\n" + "".join(
    f"  - sources:\n      - model: meta-llama/Meta-Llama-3-70B-Instruct\n        layer_range: [{a}, {a + 20}]\n"
    for a in range(0, 61, 10)) + "merge_method: passthrough\ndtype: float16\n"

_MOE = """\
base_model: mlabonne/AlphaMonarch-7B
experts_per_token: 2
gate_mode: hidden
dtype: bfloat16
experts:
  - source_model: mlabonne/AlphaMonarch-7B
    positive_prompts: ["chat", "assistant", "tell me", "explain", "I want"]
  - source_model: beowolx/CodeNinja-1.0-OpenChat-7B
    positive_prompts: ["code", "python", "javascript", "programming", "algorithm"]
  - source_model: SanjiWatsuki/Kunoichi-DPO-v2-7B
    positive_prompts: ["storywriting", "write", "scene", "story", "character"]
  - source_model: mlabonne/NeuralDaredevil-7B
    positive_prompts: ["reason", "math", "mathematics", "solve", "count"]
"""

TEMPLATES = {t.key: t for t in [
    Template("slerp", "Two-model SLERP (gradient t)", "Interpolate two fine-tunes of one base; attention and MLP "
             "layers follow opposite t curves across depth.", _SLERP),
    Template("dare_ties", "DARE-TIES over several fine-tunes", "Drop and rescale each fine-tune's changes, elect "
             "signs, add them to the base. Several models at once.", _DARE_TIES),
    Template("self_merge", "Passthrough self-merge (70B → 120B)", "Repeat overlapping layer ranges of one model: "
             "7 slices of 20 layers give 140 layers.", _SELF_MERGE),
    Template("moe", "4-expert Franken-MoE", "Chat, code, role-play and math fine-tunes as experts; the router "
             "starts from each expert's positive prompts.", _MOE),
    Template("offline", "Offline: the bundled model + your fine-tune", f"SLERP of {DEFAULT_MODEL} with your newest "
             "local fine-tune (an adapter via base+adapter, or a full model). Runs without the Hub.", ""),
]}


def newest_finetune(caller=None) -> str:
    """The newest local fine-tune as a merge reference: `base+adapter` for an adapter, the folder for a model.
    With `caller` (lab.access), the newest of their own and shared ones, named as they may send it back."""
    for art in list_artifacts() if caller is None else model_artifacts(caller):
        folder = Path(art["path"])
        name = str(folder) if caller is None else artifact_value(caller, folder)
        if art.get("kind") == "adapter" and (folder / "adapter_config.json").is_file():
            return f"{DEFAULT_MODEL}+{name}"
        if art.get("kind") in ("model", "merge") and (folder / "config.json").is_file():
            return name
    raise LabError("There is no local fine-tune yet.", "Train one in the Train tab (or give a model folder), "
                   "then pick this template again.", "template")


def offline_yaml(finetune: str | None = None, caller=None) -> str:
    ft = finetune or newest_finetune(caller)
    return (f"models:\n  - model: {DEFAULT_MODEL}\n  - model: {ft}\nmerge_method: slerp\n"
            f"base_model: {DEFAULT_MODEL}\nparameters:\n  t: [0.3, 0.5, 0.7]\n")


def template_yaml(key: str, caller=None) -> str:
    if key not in TEMPLATES:
        raise LabError(f"No template {key!r}.", "Pick one of: " + ", ".join(TEMPLATES) + ".", "template")
    return offline_yaml(caller=caller) if key == "offline" else TEMPLATES[key].yaml
