"""The training methods, one file each: its settings (the recipe's `method:` block) and its hooks
(lab.train.methods.base).

Adding a method is one new file here, registered by adding it to the import line below (its place there is its
place in the Train tab); the recipe, the worker, preflight, the memory estimate, the card, the form, the CLI and
the `trl` command printer all read the registry.
"""
from lab.train.methods import sft, dpo, grpo, kto, reward, orpo  # noqa: F401  (isort: skip) each registers itself
from lab.train.methods.base import REGISTRY as METHODS
from lab.train.methods.base import Method, MethodSettings

__all__ = ["METHODS", "Method", "MethodSettings", "of"]


def of(recipe) -> Method:
    """The method a recipe trains with."""
    return METHODS[recipe.method.name]
