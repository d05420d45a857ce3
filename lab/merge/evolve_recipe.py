"""The evolve recipe: which models, which merge method and parameters to search, the fitness task, the budget.

A candidate is a vector in [0, 1]^n that CMA-ES proposes; `to_config` turns it into a mergekit config. Per layer
group, a parameter is a list of values that mergekit interpolates across the layers (its gradient syntax).
"""
from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import ConfigDict, Field, model_validator

from lab.validation import Recipe

METHODS = ("linear", "ties", "dare_ties", "task_arithmetic", "slerp")
NEEDS_BASE = ("ties", "dare_ties", "task_arithmetic")
MIN_DENSITY = 0.05  # a density of 0 drops the whole task vector: mergekit's TIES then divides by zero


class EvolveRecipe(Recipe):
    model_config = ConfigDict(extra="forbid")
    WHAT: ClassVar[str] = "evolve config"
    FIELD: ClassVar[str] = "config"
    START: ClassVar[str] = "Start from `models`, `method` and `fitness` (see `python -m lab merge --help`)."
    FILE_FIX: ClassVar[str] = "Give the path of an evolve YAML config."

    models: list[str] = Field(min_length=2, max_length=8, description=(
        "2 to 8 models to merge (Hub ids, local folders, the bundled model). SLERP takes exactly 2; its first "
        "is the base it starts from."))
    base_model: str = Field("", description="The base the task vectors are measured from (TIES, DARE-TIES, "
                            "task arithmetic); not one of the models searched.")
    method: Literal["linear", "ties", "dare_ties", "task_arithmetic", "slerp"] = Field(
        "linear", description="The merge method whose parameters are searched.")
    search: list[Literal["weight", "density"]] = Field(["weight"], min_length=1, description=(
        "Parameters to search: weight (t for SLERP) and, for TIES and DARE-TIES, density."))
    groups: int = Field(1, ge=1, le=8, description="1: one value per parameter for the whole model (global); "
                        "N: N values interpolated across the layers (per layer group).")
    fitness: list[str] = Field(min_length=1, description="Evaluate tasks the search maximises (task files, lm-eval "
                               "tasks or suites); the mean of their headline metrics is the fitness.")
    held_out: list[str] = Field(default_factory=list, description=(
        "Tasks scored only on the best merge and the parents, to show overfitting to the fitness task."))
    limit: Optional[int] = Field(None, ge=1, description="Score only the first N items of each task.")
    population: int = Field(4, ge=2, le=64, description="Candidates per generation (CMA-ES's popsize).")
    candidates: int = Field(12, ge=2, le=10_000, description="Budget: candidates proposed in all (cache hits count).")
    time_s: Optional[float] = Field(None, gt=0, description="Budget: stop starting generations after this many "
                                    "seconds; refused before launch when one generation would not fit.")
    sigma: float = Field(0.25, gt=0, le=1, description="CMA-ES's initial step size on the [0, 1] scale.")
    seed: int = Field(0, ge=0, description="Seed of CMA-ES and of DARE's random pruning.")
    dtype: Optional[Literal["float32", "bfloat16", "float16"]] = Field(None, description="The merge's dtype.")

    @model_validator(mode="after")
    def _check(self):
        if len(set(self.models)) != len(self.models):
            raise ValueError("models: a model is listed twice")
        if self.method == "slerp" and len(self.models) != 2:
            raise ValueError("models: SLERP merges exactly 2 models")
        if self.method in NEEDS_BASE and not self.base_model:
            raise ValueError(f"base_model: {self.method} needs the base the models were fine-tuned from")
        if "density" in self.search and self.method not in ("ties", "dare_ties"):
            raise ValueError("search: density is searched only for ties and dare_ties")
        return self

    # ---- the search space
    @property
    def searched_models(self) -> list[str]:
        return self.models[1:] if self.method == "slerp" else self.models

    @property
    def names(self) -> list[str]:
        """One name per vector coordinate, e.g. `weight[model 1, group 2]`."""
        out = []
        for i, _ in enumerate(self.searched_models):
            for p in self.search:
                out += [f"{'t' if self.method == 'slerp' else p}[model {i + 1}, group {g + 1}]"
                        for g in range(self.groups)]
        return out

    @property
    def dimension(self) -> int:
        return len(self.names)

    def parents(self) -> list[list[float]]:
        """The vector of each parent alone (weight 1 for it, 0 for the others; full density)."""
        if self.method == "slerp":
            return [[0.0] * self.dimension, [1.0] * self.dimension]
        out = []
        for k, _ in enumerate(self.searched_models):
            vec = []
            for i, _ in enumerate(self.searched_models):
                for p in self.search:
                    vec += [float(i == k) if p == "weight" else 1.0] * self.groups
            out.append(vec)
        return out

    def _values(self, x: list[float], i: int, p: str):
        start = (i * len(self.search) + self.search.index(p)) * self.groups
        vals = [round(float(v), 4) for v in x[start:start + self.groups]]
        if p == "density":
            vals = [max(MIN_DENSITY, v) for v in vals]
        return vals[0] if self.groups == 1 else vals

    def to_config(self, x: list[float]) -> dict:
        """The mergekit config of candidate x."""
        config: dict = {"merge_method": self.method}
        if self.dtype:
            config["dtype"] = self.dtype
        if self.method == "slerp":
            config.update(base_model=self.models[0], parameters={"t": self._values(x, 0, "weight")},
                          models=[{"model": m} for m in self.models])
            return config
        models = []
        for i, ref in enumerate(self.searched_models):
            params = {p: self._values(x, i, p) for p in self.search}
            models.append({"model": ref, "parameters": params})
        if self.method in NEEDS_BASE:
            config["base_model"] = self.base_model
        if all(_total(m["parameters"].get("weight", 1.0)) == 0 for m in models):
            models[0]["parameters"]["weight"] = 1e-3  # all-zero weights: mergekit's normalisation divides by 0
        config["models"] = models
        return config

    def fitness_recipe(self) -> dict:
        return {"tasks": list(self.fitness), "limit": self.limit}


def _total(value) -> float:
    return sum(value) if isinstance(value, list) else float(value)
