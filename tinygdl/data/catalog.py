"""Datasets by name: ``get_dataset("mnist", split="test")`` is ``ArrayDataset(*load_mnist("test"))``."""

from __future__ import annotations

from .loader import ArrayDataset
from .toy import make_moons
from .vision import load_cifar10, load_digits, load_fashion_mnist, load_flowers, load_mnist

LOADERS = {
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "flowers12": load_flowers,
    "digits": load_digits,
    "moons": make_moons,
}


def get_dataset(name: str, transform=None, **options) -> ArrayDataset:
    """Load the arrays of dataset ``name`` (a key of ``LOADERS``) and wrap them in an ArrayDataset.

    ``options`` go to the loader (``split=``, ``root=``, ``n_samples=`` ...); ``transform`` to
    the dataset, e.g. ``get_dataset("mnist", transform=lambda x, y: (to_float_nchw(x), y))``.
    """
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(LOADERS)}")
    return ArrayDataset(*LOADERS[name](**options), transform=transform)
