"""MergeRecipe and MoERecipe: mergekit's YAML, typed, validated and round-tripped.

They mirror mergekit 0.1.5's MergeConfiguration and MoEMergeConfig key for key (so any mergekit YAML
loads), but forbid unknown keys (mergekit silently drops a typo such as `base_modle`) and check each
method's inputs and parameters. `check_with_mergekit` then validates with mergekit's own schema.
YAML is read with lab.yamlio (a safe loader without aliases) + model_validate only.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lab import yamlio
from lab.errors import LabError
from lab.merge.checks import check_merge, check_moe
from lab.merge.methods import GATE_MODES, METHODS, Setting
from lab.validation import config_error

Dtype = Literal["bfloat16", "float16", "float32", "float64"]
REF_HELP = ("A Hub id (org/name), a local model folder (e.g. a Train-tab fine-tune), or base+adapter "
            "(`org/base+/path/to/adapter`, mergekit's LoRA syntax: the adapter is merged into the base first).")
Params = dict[str, Setting]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ModelIn(_Strict):
    model: str = Field(description=REF_HELP)
    parameters: Optional[Params] = Field(None, description="This model's own parameters (weight, density, …).")


class SliceSource(_Strict):
    model: str = Field(description=REF_HELP)
    layer_range: tuple[int, int] = Field(description="Layers [start, end) taken from this model; end is exclusive.")
    parameters: Optional[Params] = None


class Slice(_Strict):
    sources: list[SliceSource] = Field(min_length=1, description="The models (and layer ranges) this slice merges.")
    base_model: Optional[str] = None
    residual_weight: Optional[float] = None
    parameters: Optional[Params] = None


class Module(_Strict):
    """One module of a multi-module model (e.g. a vision tower and a text model): models or slices of its own."""

    slices: Optional[list[Slice]] = None
    models: Optional[list[ModelIn]] = None
    parameters: Optional[Params] = None


class MergeRecipe(_Strict):
    """A mergekit merge config (`mergekit-yaml`)."""

    models: Optional[list[ModelIn]] = Field(None, description="The models to merge, each with its own parameters.")
    slices: Optional[list[Slice]] = Field(None, description=(
        "Output layers slice by slice: passthrough stacks them (a self-merge repeats ranges of one model); "
        "other methods merge the sources of each slice."))
    modules: Optional[dict[str, Module]] = Field(None, description="Per-module configs for multi-module models.")
    merge_method: str = Field(description="How weights are combined: " + ", ".join(METHODS) + ".")
    base_model: Optional[str] = Field(None, description=(
        "The model task vectors are measured from (TIES, DARE, task arithmetic) or the t=0 end of SLERP. "
        "Its config, tokenizer and chat template are what the output gets. " + REF_HELP))
    parameters: Optional[Params] = Field(None, description="Parameters for every model (a model's own win).")
    dtype: Optional[Dtype] = Field(None, description="The dtype the merge computes in (bfloat16 halves memory).")
    out_dtype: Optional[Dtype] = Field(None, description="The dtype of the saved weights (default: dtype).")
    tokenizer_source: Optional[str] = Field(None, description=(
        "Where the output's tokenizer comes from when vocabularies differ: `base` (the base model's), `union` "
        "(all tokens of all models; embeddings are aligned) or a model reference. Empty: copy the base's."))
    tokenizer: Optional[dict[str, Any]] = Field(None, description="mergekit's advanced tokenizer config.")
    chat_template: Optional[str] = Field(None, description=(
        "Chat template for the output: `auto` (the most common among the inputs), a built-in name "
        "(chatml, llama3, alpaca, …) or a Jinja template. Empty keeps the copied tokenizer's."))
    name: Optional[str] = Field(None, description="A name for this merge (multi-document YAML).")

    @model_validator(mode="after")
    def _check(self):
        check_merge(self)
        return self

    @property
    def method(self):
        return METHODS[self.merge_method]

    def sources(self) -> list[tuple[str, str]]:
        """(field path, model ref) of every input model, in YAML order."""
        out = _sources("", self.models, self.slices)
        for name, module in (self.modules or {}).items():
            out += _sources(f"modules.{name}.", module.models, module.slices)
        return out

    def refs(self) -> list[str]:
        """Every distinct model reference: the base first, then the inputs in order."""
        refs = [self.base_model] if self.base_model else []
        refs += [r for _, r in self.sources()]
        if self.tokenizer_source and self.tokenizer_source not in ("base", "union"):
            refs.append(self.tokenizer_source)
        return list(dict.fromkeys(refs))

    def map_refs(self, fn) -> "MergeRecipe":
        data = self.to_dict()
        if data.get("base_model"):
            data["base_model"] = fn(data["base_model"])
        for block in [data, *(data.get("modules") or {}).values()]:
            for m in block.get("models") or []:
                m["model"] = fn(m["model"])
            for s in block.get("slices") or []:
                if s.get("base_model"):
                    s["base_model"] = fn(s["base_model"])
                for src in s["sources"]:
                    src["model"] = fn(src["model"])
        if data.get("tokenizer_source") not in (None, "base", "union"):
            data["tokenizer_source"] = fn(data["tokenizer_source"])
        return MergeRecipe.model_validate(data)

    def to_dict(self) -> dict:
        return _ordered(self.model_dump(mode="json", exclude_none=True, by_alias=True), _MERGE_ORDER)

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())


def _sources(prefix: str, models, slices) -> list[tuple[str, str]]:
    out = [(f"{prefix}models[{i}].model", m.model) for i, m in enumerate(models or [])]
    for i, s in enumerate(slices or []):
        out += [(f"{prefix}slices[{i}].sources[{j}].model", src.model) for j, src in enumerate(s.sources)]
    return out


class Expert(_Strict):
    source_model: str = Field(description="The model whose MLP layers become this expert. " + REF_HELP)
    positive_prompts: Optional[list[str]] = Field(None, description=(
        "Example prompts that should be routed to this expert (one per line). Needed unless the gate is random."))
    negative_prompts: Optional[list[str]] = Field(None, description="Prompts this expert should not get.")
    noise_scale: Optional[float] = None
    residual_scale: Optional[float] = None


class MoERecipe(_Strict):
    """A mergekit Franken-MoE config (`mergekit-moe`): experts' MLPs behind a router."""

    base_model: str = Field(description="Attention, embeddings and norms come from this model. " + REF_HELP)
    experts: list[Expert] = Field(description="Two or more experts; each brings its MLP layers.")
    gate_mode: Literal["hidden", "cheap_embed", "random", "uniform_random"] = Field("hidden", description=(
        "How the router starts: " + " ".join(f"{k}: {v}" for k, v in GATE_MODES.items())))
    dtype: Optional[Dtype] = Field(None, description="The dtype of the saved weights.")
    experts_per_token: int = Field(2, ge=1, description="Experts each token goes through (2 is Mixtral's).")
    shared_experts: Optional[list[Expert]] = None
    architecture: Optional[str] = Field(None, description="Output MoE architecture (default: Mixtral).")

    @model_validator(mode="after")
    def _check(self):
        check_moe(self)
        return self

    merge_method: ClassVar[str] = "moe"

    def refs(self) -> list[str]:
        return list(dict.fromkeys([self.base_model, *(e.source_model for e in self.experts),
                                   *(e.source_model for e in self.shared_experts or [])]))

    def sources(self) -> list[tuple[str, str]]:
        return [(f"experts[{i}].source_model", e.source_model) for i, e in enumerate(self.experts)]

    def map_refs(self, fn) -> "MoERecipe":
        data = self.to_dict()
        data["base_model"] = fn(data["base_model"])
        for e in data["experts"] + (data.get("shared_experts") or []):
            e["source_model"] = fn(e["source_model"])
        return MoERecipe.model_validate(data)

    def to_dict(self) -> dict:
        data = self.model_dump(mode="json", exclude_none=True)
        return _ordered(data, ["base_model", "gate_mode", "dtype", "experts_per_token", "experts"])

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())


AnyRecipe = Union[MergeRecipe, MoERecipe]
_MERGE_ORDER = ["models", "slices", "modules", "merge_method", "base_model", "parameters", "tokenizer_source",
                "tokenizer", "chat_template", "dtype", "out_dtype", "name"]


def _ordered(data: dict, order: list[str]) -> dict:
    return {**{k: data[k] for k in order if k in data}, **{k: v for k, v in data.items() if k not in order}}


def parse_yaml(text: str) -> dict:
    data = yamlio.load(text or "", "merge config", "yaml")  # safe: no aliases (YAML bombs), size and depth capped
    if not isinstance(data, dict):
        raise LabError("The YAML must be a mapping (keys such as merge_method and models).",
                       "Paste a mergekit config, or pick a template.", "yaml")
    return data


def from_dict(data: dict) -> AnyRecipe:
    """A merge config, or a MoE config when it has `experts`."""
    cls = MoERecipe if "experts" in data else MergeRecipe
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, "Fix this key in the YAML (see mergekit's examples).") from None


def load_recipe(text: str) -> AnyRecipe:
    return from_dict(parse_yaml(text))


def check_with_mergekit(recipe: AnyRecipe):
    """Validate with mergekit's own schema (imports mergekit: seconds). Returns mergekit's config object."""
    if isinstance(recipe, MoERecipe):
        from mergekit.moe.config import MoEMergeConfig as Schema  # heavy: mergekit
    else:
        from mergekit.config import MergeConfiguration as Schema  # heavy: mergekit
    try:
        return Schema.model_validate(recipe.to_dict())
    except ValidationError as exc:
        raise config_error(exc, "Fix this key.", prefix="mergekit rejects this config: ") from None
    except (RuntimeError, ValueError) as exc:
        raise LabError(f"mergekit rejects this config: {exc}.", "Fix the config.", "yaml") from None


class _Dumper(yaml.SafeDumper):
    """Lists of numbers in flow style ([0, 0.5, 1]), like mergekit's own dumper."""


def _repr_list(dumper, data):
    flow = bool(data) and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _repr_list)
_Dumper.add_representer(tuple, _repr_list)


def dump_yaml(data: dict) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
