"""The merge methods of mergekit 0.1.5, their parameters and the help text for each.

mergekit's registry lives behind `import torch` (seconds to import), so the catalogue is mirrored
here for the form, the YAML checks and preflight; tests/unit/test_merge_methods.py checks this table
against mergekit's own registry so the two cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

Scalar = Union[bool, int, float, str]


class Conditional(BaseModel):
    """One entry of a per-filter setting: `value` applies to tensors whose name contains `filter`."""

    model_config = ConfigDict(extra="forbid")
    filter: Optional[str] = None
    value: Union[Scalar, list[Scalar]]


# Exactly mergekit's ParameterSetting: a scalar, a gradient list, or per-filter entries.
Setting = Union[Conditional, list[Conditional], Scalar, list[Scalar]]

_GRADIENT = " A list such as [0, 0.5, 1] is a gradient across the layers of each slice;" \
            " per-filter entries (self_attn, mlp, …) give parts of the model their own value."


class MethodParams(BaseModel):
    """Every merge parameter the form offers. Help text lives here once; the UI reads it for info=."""

    model_config = ConfigDict(populate_by_name=True)
    t: Optional[Setting] = Field(None, description=(
        "SLERP/nearswap interpolation factor: 0 keeps the base model, 1 takes the other model." + _GRADIENT))
    weight: Optional[Setting] = Field(None, description=(
        "How much this model contributes (linear) or how much of its task vector is added (TIES, DARE, "
        "task arithmetic, DELLA, breadcrumbs, NuSLERP)." + _GRADIENT))
    density: Optional[Setting] = Field(None, description=(
        "Fraction of the task vector kept after pruning (TIES, DARE, DELLA, breadcrumbs): 1 keeps all, "
        "0.5 keeps half. Around 0.5 is a common start."))
    normalize: Optional[Setting] = Field(None, description=(
        "Divide by the sum of the weights, so weights that do not add up to 1 still give an average."))
    int8_mask: Optional[Setting] = Field(None, description=(
        "Keep the sign-consensus masks in int8 instead of the working dtype: less memory, same result."))
    rescale: Optional[Setting] = Field(None, description=(
        "After random pruning, rescale what is kept so the task vector keeps its size (DARE's trick)."))
    lambda_: Optional[Setting] = Field(None, alias="lambda", description=(
        "Scale the merged task vector before it is added back to the base model (1 = unchanged)."))
    gamma: Optional[Setting] = Field(None, description=(
        "Breadcrumbs: fraction of the largest-magnitude differences dropped as outliers (e.g. 0.01)."))
    epsilon: Optional[Setting] = Field(None, description=(
        "DELLA: how far keep-probabilities spread around density by magnitude (density ± epsilon)."))
    filter_wise: Optional[Setting] = Field(None, description=(
        "Model Stock: compute the interpolation ratio per row rather than per whole tensor."))
    nuslerp_flatten: Optional[Setting] = Field(None, description=(
        "NuSLERP: treat each tensor as one flat vector (turn off for row- or column-wise SLERP)."))
    nuslerp_row_wise: Optional[Setting] = Field(None, description=(
        "NuSLERP with flatten off: interpolate row vectors instead of column vectors."))
    scale: Optional[Setting] = Field(None, description=(
        "Passthrough: multiply this source's tensors by a factor (0 removes e.g. a module's output)."))


def param_help(name: str) -> str:
    field = MethodParams.model_fields.get("lambda_" if name == "lambda" else name)
    return (field.description or "") if field else ""


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # "float" | "bool" | "int" | "optional_float"
    scope: str  # "shared" (one value for the merge) | "input" (per model) | "non_base" (per model, not the base)
    default: Any = None
    required: bool = False


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    base: str  # mergekit BasePolicy: required | optional | ignored | forbidden
    min_inputs: int
    max_inputs: Optional[int]
    params: tuple[Param, ...]
    summary: str = ""

    def param(self, name: str) -> Optional[Param]:
        return next((p for p in self.params if p.name == name), None)

    @property
    def per_model(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.scope != "shared")

    @property
    def shared(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.scope == "shared")


def _p(name, type_, scope, default=None, required=False) -> Param:
    return Param(name, type_, scope, default, required)


def _gta(name, label, normalize, rescale, extra=(), summary="") -> Method:
    params = (_p("int8_mask", "bool", "shared", False), _p("normalize", "bool", "shared", normalize),
              _p("rescale", "bool", "shared", rescale), _p("lambda", "float", "shared", 1.0),
              _p("weight", "float", "non_base", required=True), _p("density", "float", "non_base", 1.0), *extra)
    return Method(name, label, "required", 1, None, params, summary)


_GAMMA = (_p("gamma", "float", "non_base", 0.01),)
_EPS = (_p("epsilon", "float", "non_base", 0.15),)

_ALL = [
    Method("linear", "Linear (weighted average)", "ignored", 1, None,
           (_p("weight", "float", "input", required=True), _p("normalize", "bool", "shared", True)),
           "A weighted average of the models' weights."),
    Method("slerp", "SLERP", "required", 2, 2, (_p("t", "float", "shared", required=True),),
           "Spherical interpolation between two models; t can change by layer and by module."),
    _gta("ties", "TIES", True, False, summary="Prune small changes, elect a sign per weight, merge many models."),
    _gta("dare_ties", "DARE-TIES", False, True, summary="Randomly drop and rescale changes, then TIES sign election."),
    _gta("dare_linear", "DARE (linear)", False, True, summary="Randomly drop and rescale changes, then add them."),
    _gta("task_arithmetic", "Task arithmetic", False, False, summary="Add weighted task vectors to the base."),
    _gta("breadcrumbs", "Model Breadcrumbs", False, False, _GAMMA, "Drop tiny and outlier changes, then add."),
    _gta("breadcrumbs_ties", "Breadcrumbs + TIES", False, False, _GAMMA, "Breadcrumbs pruning with TIES signs."),
    _gta("della", "DELLA", True, True, _EPS, "Magnitude-ranked random pruning with TIES signs."),
    _gta("della_linear", "DELLA (linear)", False, True, _EPS, "Magnitude-ranked random pruning, then add."),
    Method("model_stock", "Model Stock", "required", 3, None, (_p("filter_wise", "bool", "shared", False),),
           "Interpolate towards the fine-tunes' centre by their geometry; needs a base and 2+ fine-tunes."),
    Method("nuslerp", "NuSLERP", "optional", 1, None,
           (_p("weight", "float", "non_base", required=True), _p("nuslerp_row_wise", "bool", "shared", False),
            _p("nuslerp_flatten", "bool", "shared", True)),
           "SLERP by relative weights, with or without a base (task vectors)."),
    Method("passthrough", "Passthrough (stack layers)", "ignored", 1, 1, (_p("scale", "optional_float", "input"),),
           "Copy layer ranges as they are: stack slices, even of the same model (self-merge)."),
    Method("multislerp", "Multi-SLERP", "optional", 1, None,
           (_p("weight", "float", "non_base", required=True), _p("normalize_weights", "bool", "shared", True),
            _p("eps", "float", "shared", 1e-8))),
    Method("nearswap", "Nearswap", "required", 2, 2, (_p("t", "float", "shared", required=True),)),
    Method("ram", "RAM", "required", 1, None, (_p("epsilon", "float", "shared", 1e-5),)),
    Method("ramplus_tl", "RAM+ (TL)", "required", 1, None,
           (_p("r", "float", "shared", 0.1), _p("alpha", "float", "shared", 0.2),
            _p("epsilon", "float", "shared", 1e-5))),
    Method("sce", "SCE", "required", 1, None, (_p("int8_mask", "bool", "shared", False),
                                                 _p("select_topk", "float", "shared", 1.0))),
    Method("arcee_fusion", "Arcee Fusion", "required", 2, 2, ()),
    Method("karcher", "Karcher mean", "ignored", 1, None,
           (_p("max_iter", "int", "shared", 10), _p("tol", "float", "shared", 1e-5))),
]
METHODS: dict[str, Method] = {m.name: m for m in _ALL}
# The methods from the talk come first in the form; the rest stay reachable through YAML and the dropdown.
FORM_METHODS = ["slerp", "ties", "dare_ties", "dare_linear", "task_arithmetic", "linear", "breadcrumbs", "della",
                "model_stock", "nuslerp", "passthrough"]
GATE_MODES = {"hidden": "Router from the hidden states of each expert's positive prompts (best; runs the base model).",
              "cheap_embed": "Router from the prompts' token embeddings only (fast, no forward pass).",
              "random": "Random router (train it afterwards); prompts are not needed.",
              "uniform_random": "Random router like torch.nn.Linear's default init; prompts are not needed."}


def evaluate(setting: Any, tensor_name: str = "", t: float = 0.0) -> Any:
    """The value mergekit uses for one tensor at layer position t (mirrors mergekit.config.evaluate_setting)."""
    if isinstance(setting, Conditional):
        setting = [setting]
    if isinstance(setting, dict) and "value" in setting:
        setting = [setting]
    if isinstance(setting, (bool, int, float, str)):
        return setting
    if not isinstance(setting, list) or not setting:
        return None
    if all(isinstance(e, (bool, int, float, str)) for e in setting):
        if not all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in setting):
            return setting[int(t * (len(setting) - 1))]
        scaled = t * (len(setting) - 1)
        i0 = int(scaled)
        i1 = min(len(setting) - 1, i0 + 1)
        frac = scaled - i0
        return (1 - frac) * setting[i0] + frac * setting[i1]
    for cond in setting:
        cond = cond if isinstance(cond, Conditional) else Conditional.model_validate(cond)
        if cond.filter is None or cond.filter == "*" or (tensor_name and cond.filter in tensor_name):
            return evaluate(cond.value, tensor_name, t)
    return None


def has_fallback(setting: Any) -> bool:
    """True when the setting gives a value for every tensor (not only those matching some filter)."""
    if isinstance(setting, Conditional) or (isinstance(setting, dict) and "value" in setting):
        setting = [setting]
    if isinstance(setting, list) and setting and not all(isinstance(e, (bool, int, float, str)) for e in setting):
        conds = [c if isinstance(c, Conditional) else Conditional.model_validate(c) for c in setting]
        return any(c.filter in (None, "*") for c in conds)
    return setting is not None
