"""Preflight: check a merge from config files alone, before any weight is downloaded.

Architectures, shapes, layer ranges, vocabularies and tokenizers, chat templates, licenses, safetensors,
and the output's size against the RAM and disk there are. Errors refuse the merge, with the numbers.
"""
from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from lab.artifacts import inherit_license
from lab.errors import LabError
from lab.merge import estimate
from lab.merge.checks import unknown_params
from lab.merge.recipe import AnyRecipe, MoERecipe
from lab.merge.refs import Facts, facts
from lab.models.info import human_params
from lab.settings import get_settings

GB = 2**30
SHAPE_KEYS = ("hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size")
MOE_TYPES = {"llama": "Mixtral", "mistral": "Mixtral", "qwen2": "Qwen MoE", "qwen3": "Qwen3 MoE"}


@dataclass
class Check:
    level: str  # ok | warn | error
    field: str
    message: str
    fix: str = ""


@dataclass
class Resources:
    ram_gb: float
    disk_gb: float

    @classmethod
    def measure(cls, where: Path) -> "Resources":
        where = Path(where)
        while not where.exists() and where != where.parent:
            where = where.parent
        return cls(psutil.virtual_memory().available / GB, shutil.disk_usage(where).free / GB)


@dataclass
class Report:
    method: str
    checks: list[Check] = field(default_factory=list)
    models: list[dict] = field(default_factory=list)
    out_params: int = 0
    out_layers: int = 0
    out_bytes: int = 0
    ram_needed_gb: float = 0.0
    disk_needed_gb: float = 0.0
    resources: Resources | None = None
    vocab_sizes: dict = field(default_factory=dict)
    tokenizer_options: list[str] = field(default_factory=list)
    license: str = ""
    layer_params: dict = field(default_factory=dict)  # model -> parameters of each layer (the layer map)

    def add(self, level: str, fld: str, message: str, fix: str = "") -> None:
        self.checks.append(Check(level, fld, message, fix))

    @property
    def errors(self) -> list[Check]:
        return [c for c in self.checks if c.level == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        if self.errors:
            first, more = self.errors[0], len(self.errors) - 1
            raise LabError(first.message + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""),
                           first.fix, first.field)

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def markdown(self) -> str:
        icon = {"ok": "✅", "warn": "⚠️", "error": "❌"}
        res = self.resources
        head = (f"**{self.method}** → {human_params(self.out_params)} parameters, {self.out_layers} layers, "
                f"{self.out_bytes / GB:.2f} GB · RAM {self.ram_needed_gb:.1f} GB needed"
                + (f" / {res.ram_gb:.1f} available" if res else "") + f" · disk {self.disk_needed_gb:.1f} GB needed"
                + (f" / {res.disk_gb:.1f} free" if res else "")) if self.out_params else \
            f"**{self.method}**: the output could not be estimated (see the errors)."
        lines = [f"- {icon[c.level]} `{c.field}` {c.message}" + (f" *Fix:* {c.fix}" if c.fix else "")
                 for c in self.checks]
        verdict = "**Ready to merge.**" if self.ok else f"**Refused: {len(self.errors)} problem(s) to fix.**"
        return head + "\n\n" + "\n".join(lines) + "\n\n" + verdict


def _fields(recipe: AnyRecipe) -> dict[str, str]:
    """Each model reference -> the first field that names it (for errors)."""
    fields = {ref: f for f, ref in reversed(recipe.sources())}
    if recipe.base_model:
        fields.setdefault(recipe.base_model, "base_model")
    return fields


def _gather(recipe: AnyRecipe, report: Report, token) -> dict[str, Facts]:
    out: dict[str, Facts] = {}
    fields = _fields(recipe)
    for ref in recipe.refs():
        try:
            out[ref] = facts(ref, token=token, field_name=fields.get(ref, "model"))
        except LabError as exc:
            report.add("error", exc.field or fields.get(ref, "model"), exc.what, exc.fix)
    return out


def _donor(recipe: AnyRecipe, found: dict[str, Facts]) -> Facts | None:
    ref = recipe.base_model or (recipe.sources()[0][1] if recipe.sources() else None)
    return found.get(ref)


def _compare(recipe: AnyRecipe, found: dict[str, Facts], report: Report, per_layer_match: bool) -> None:
    donor = _donor(recipe, found)
    if donor is None:
        return
    where = {ref: f for f, ref in reversed(recipe.sources())}
    for ref, f in found.items():
        if f is donor:
            continue
        fld = where.get(ref, "model")
        if f.info["architecture"] != donor.info["architecture"]:
            report.add("error", fld, f"{ref} is {f.info['architecture']} but {donor.ref} is "
                       f"{donor.info['architecture']}: mergekit cannot merge different architectures.",
                       "Merge models of the same family (e.g. fine-tunes of one base).")
            continue
        diff = [f"{k} {f.get(k)} vs {donor.get(k)}" for k in SHAPE_KEYS if f.get(k) != donor.get(k)]
        if per_layer_match and f.layers != donor.layers:
            diff.append(f"num_hidden_layers {f.layers} vs {donor.layers}")
        if diff:
            report.add("error", fld, f"{ref} does not match {donor.ref}: " + ", ".join(diff) + ".",
                       "Per-parameter merges need the same shapes: pick fine-tunes of the same base model.")
    if not report.errors:
        report.add("ok", "models", f"All {len(found)} models are {donor.info['architecture']} with matching shapes.")


def _vocab(recipe: AnyRecipe, found: dict[str, Facts], report: Report) -> None:
    report.vocab_sizes = {ref: f.get("vocab_size") for ref, f in found.items()}
    sizes = set(report.vocab_sizes.values())
    listing = ", ".join(f"{ref}: {v}" for ref, v in report.vocab_sizes.items())
    if len(sizes) <= 1:
        report.add("ok", "tokenizer_source", f"Vocabulary sizes match ({listing}).")
        return
    report.tokenizer_options = ["base", "union"]
    aligned = not isinstance(recipe, MoERecipe) and (recipe.tokenizer_source or recipe.tokenizer)
    if aligned:
        report.add("ok", "tokenizer_source", f"Vocabulary sizes differ ({listing}); the tokenizer setting aligns them.")
    else:
        report.add("error", "tokenizer_source", f"Vocabulary sizes differ ({listing}).",
                   "Set tokenizer_source: base (keep the base's tokens) or union (all tokens of all models)."
                   if not isinstance(recipe, MoERecipe) else "Experts must share the base model's vocabulary.")


def _templates(recipe: AnyRecipe, found: dict[str, Facts], report: Report) -> None:
    donor = _donor(recipe, found)
    if donor is None:
        return
    chosen = getattr(recipe, "chat_template", None)
    have = [ref for ref, f in found.items() if f.chat_template]
    if chosen:
        report.add("ok", "chat_template", f"The output gets chat_template {chosen[:40]!r}.")
    elif donor.chat_template:
        differ = {f.chat_template.strip() for f in found.values() if f.chat_template}
        msg = f"The output keeps {donor.ref}'s chat template"
        report.add("warn" if len(differ) > 1 else "ok", "chat_template",
                   msg + (" (the parents' templates differ)." if len(differ) > 1 else "."),
                   "Set chat_template: auto to take the most common one." if len(differ) > 1 else "")
    elif have:
        report.add("warn", "chat_template", f"{donor.ref} has no chat template but {', '.join(have)} do.",
                   "Set chat_template: auto (or chatml) so the merged model can chat.")
    else:
        report.add("warn", "chat_template", "No parent has a chat template.", "Set chat_template, e.g. chatml.")


def _files(found: dict[str, Facts], report: Report, field_of: dict) -> None:
    for ref, f in found.items():
        fld = field_of.get(ref, "model")
        if f.safetensors is False:
            report.add("error", fld, f"{f.model} has no *.safetensors weights (pickled .bin files can run code).",
                       "Pick a repo that ships safetensors, or convert it first.")
        elif f.safetensors is None:
            report.add("warn", fld, f"Could not check that {f.model} ships safetensors (offline).",
                       "The download will refuse .bin-only repos.")
        if f.adapter and f.adapter_base and f.adapter_base not in (f.model, str(f.folder)):
            report.add("warn", fld, f"The adapter was trained on {f.adapter_base}, not {f.model}.",
                       "Apply an adapter to the base it was trained on.")


def _license(found: dict[str, Facts], report: Report) -> None:
    parents = [{"ref": ref, "license": f.license} for ref, f in found.items()]
    report.license, warnings = inherit_license(parents)
    for w in warnings:
        report.add("warn", "license", w, "Check the licenses before you publish or use the merge commercially.")
    if not warnings:
        report.add("ok", "license", f"The merge inherits the license '{report.license}'.")


def _slices(recipe, found: dict[str, Facts], report: Report) -> None:
    for i, s in enumerate(getattr(recipe, "slices", None) or []):
        for j, src in enumerate(s.sources):
            f = found.get(src.model)
            a, b = src.layer_range
            if f is not None and b > f.layers:
                report.add("error", f"slices[{i}].sources[{j}].layer_range",
                           f"[{a}, {b}] goes past the end of {src.model}, which has {f.layers} layers "
                           f"(0-{f.layers - 1}).",
                           f"Keep end <= {f.layers} (end is exclusive).")


def _moe(recipe: MoERecipe, found: dict[str, Facts], report: Report) -> None:
    types = {ref: f.info.get("model_type") for ref, f in found.items()}
    base_type = types.get(recipe.base_model)
    if base_type and base_type not in MOE_TYPES:
        report.add("error", "base_model", f"mergekit builds MoEs from {', '.join(sorted(MOE_TYPES))} models; "
                   f"{recipe.base_model} is {base_type}.", "Pick a Llama, Mistral or Qwen family base.")
    elif base_type:
        report.add("ok", "base_model", f"The MoE is written as {MOE_TYPES[base_type]} with {len(recipe.experts)} "
                   f"experts, {recipe.experts_per_token} per token.")
    if recipe.gate_mode == "hidden":
        report.add("ok", "gate_mode", "The router is computed from hidden states: the base model runs once on "
                   "every expert's prompts.")


def _resources(recipe, found, report: Report, resources: Resources | None, out: Path | None,
               shard_params: int) -> None:
    try:
        report.out_params, report.out_layers = estimate.out_params(recipe, found)
    except (KeyError, IndexError):  # models missing or malformed: already reported as errors
        return
    need = estimate.needs(recipe, found, report.out_params, shard_params)
    report.out_bytes, report.ram_needed_gb, report.disk_needed_gb = need["out_bytes"], need["ram_gb"], need["disk_gb"]
    res = report.resources = resources or Resources.measure(out or _artifacts())
    if report.ram_needed_gb > res.ram_gb:
        report.add("error", "memory", f"This merge needs about {report.ram_needed_gb:.1f} GB of RAM; "
                   f"{res.ram_gb:.1f} GB is available.", "Close other work, lower out_shard_size, or use a "
                   "machine with more memory.")
    if report.disk_needed_gb > res.disk_gb:
        report.add("error", "disk", f"This merge needs about {report.disk_needed_gb:.1f} GB of disk "
                   f"(output {report.out_bytes / GB:.1f} GB plus downloads); {res.disk_gb:.1f} GB is free.",
                   "Free disk space or attach a larger volume.")


def _artifacts() -> Path:
    return get_settings().artifacts


def preflight(recipe: AnyRecipe, token=None, resources: Resources | None = None, out: Path | None = None,
              shard_params: int = estimate.DEFAULT_SHARD) -> Report:
    """Check the merge from configs; the report lists every finding (call raise_for_errors to refuse)."""
    report = Report(method=recipe.merge_method)
    found = _gather(recipe, report, token)
    report.models = [f.row() for f in found.values()]
    report.layer_params = {ref: f.layer_params for ref, f in found.items()}
    if isinstance(recipe, MoERecipe):
        _moe(recipe, found, report)
    else:
        for name in unknown_params(recipe):
            report.add("warn", name, f"{recipe.merge_method} does not use this parameter; mergekit ignores it.",
                       "Remove it, or check its spelling.")
    if len(found) == len(recipe.refs()):
        per_layer = not isinstance(recipe, MoERecipe) and not recipe.slices and recipe.merge_method != "passthrough"
        _compare(recipe, found, report, per_layer or isinstance(recipe, MoERecipe))
        _slices(recipe, found, report)
        _vocab(recipe, found, report)
        _templates(recipe, found, report)
        _files(found, report, _fields(recipe))
        _license(found, report)
        _resources(recipe, found, report, resources, out, shard_params)
    return report
