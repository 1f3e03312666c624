"""The table of kernel implementations: kernel name -> flavour -> function.

Each flavour module decorates its functions with ``@register("im2col", "numba")`` and so on; the
dispatcher in ``__init__`` looks them up here.  Keeping the table in its own small module lets the
flavour modules import it without importing the package that imports them.
"""

from __future__ import annotations

FLAVOURS = ("numpy", "numba", "cupy")  # the reference, the CPU JIT, the GPU

_table: dict[str, dict[str, callable]] = {}


def register(name: str, flavour: str):
    """Decorator: record ``fn`` as the ``flavour`` implementation of the kernel ``name``."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown kernel flavour {flavour!r}: expected one of {FLAVOURS}")

    def decorate(fn):
        _table.setdefault(name, {})[flavour] = fn
        return fn

    return decorate


def registered(name: str) -> dict[str, callable]:
    """All the implementations of ``name``, by flavour (raises KeyError for an unknown kernel)."""
    try:
        return _table[name]
    except KeyError:
        raise KeyError(f"no kernel named {name!r}; known kernels: {sorted(_table)}") from None
