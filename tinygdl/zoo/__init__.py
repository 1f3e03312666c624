"""The model zoo: the book's models by their notebook names, ready to train, sample and inspect.

``tinygdl.zoo.names()`` lists them; ``tinygdl.zoo.build("cnn")`` returns the networks with the
book's architecture; ``tinygdl.zoo.recipe("cnn", dataset="digits", epochs=3)`` returns the full
recipe (data, optimizers, train step, sampler) that ``tinygdl train`` runs (see ``run.py``).
Each chapter's models live in their own file.
"""

from __future__ import annotations

from . import autoencoders, autoregressive, classifiers, diffusion, energy, flows, gans, music, text
from .recipe import Recipe

REGISTRY: "dict[str, type[Recipe]]" = {}


def register(recipe_class: "type[Recipe]") -> "type[Recipe]":
    REGISTRY[recipe_class.name] = recipe_class
    return recipe_class


for _chapter in (classifiers, autoencoders, gans, autoregressive, flows, diffusion, text, energy, music):
    for _recipe in _chapter.RECIPES:
        register(_recipe)


def names() -> list:
    return list(REGISTRY)


def recipe(name: str, dataset: str | None = None, **overrides) -> Recipe:
    """The recipe of model ``name`` with the book's settings, changed by ``overrides``."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; the zoo has: {', '.join(REGISTRY)}")
    return REGISTRY[name](dataset, **overrides)


def build(name: str, dataset: str | None = None, **overrides):
    """The network(s) of model ``name``: one Module, or a dict of them by role for multi-network models."""
    models = recipe(name, dataset, **overrides).build()
    return next(iter(models.values())) if len(models) == 1 else models


__all__ = ["REGISTRY", "Recipe", "build", "names", "recipe", "register"]
