"""The op table's machinery: the ``OpSpec`` record, the one ``SPECS`` list that ``add`` appends to,
and the input generators (``make=``) that keep values clear of each op's kinks and poles.

The entries themselves are in ``ops.py`` (arithmetic to indexing), ``ops_nn.py`` (the neural-network
functions) and ``ops_3d.py`` (conv3d); each imports this module, so none imports another.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class OpSpec:
    id: str                      # test id, e.g. "sum-axis1-keep"
    op: str                      # the tinygdl function it covers (coverage test)
    fn: Callable                 # tinygdl: fn(*tensors) -> Tensor or tuple of Tensors
    ref: Callable | None         # torch:   ref(*tensors) -> tensor or tuple
    cases: tuple                 # tuples of input shapes
    make: Callable = None        # make(rng, shapes) -> list of arrays; default: standard normal
    grad: bool = True            # differentiable? (False: sign, argmax, one_hot: no gradient at all)
    numeric: bool = True         # finite differences valid? (False for cases sitting on a tie/kink)
    check_backward: bool = True  # compare gradients with torch (False: degenerate cases, forward only)
    second_order: bool = False   # run gradgradcheck
    float32: bool = True         # run the float32 parity check
    check_dtype: bool = True     # compare the result dtype with torch's
    complex: bool = False        # also check the forward on complex128 inputs against torch
    layouts: bool = True         # also try non-contiguous (transposed / strided) inputs on case 0

    def __repr__(self):
        return self.id


def seed_of(*parts) -> int:
    """A stable seed per test (Python's hash() of strings changes between runs)."""
    return zlib.crc32("/".join(map(str, parts)).encode())


def make_inputs(spec: OpSpec, case: int, seed_extra="") -> list:
    rng = np.random.default_rng(seed_of(spec.id, case, seed_extra))
    make = spec.make or each(normal)
    return [np.asarray(a) for a in make(rng, spec.cases[case])]


# --------------------------------------------------------------------------- input generators


def each(gen):
    """Draw every input with the same generator."""
    return lambda rng, shapes: [gen(rng, s) for s in shapes]


def per_input(*gens):
    """One generator per input."""
    return lambda rng, shapes: [g(rng, s) for g, s in zip(gens, shapes)]


def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def above(low):
    return lambda rng, shape: rng.uniform(low, low + 2.5, shape)


def away_from(*points, margin=0.1, scale=1.5):
    """Normal draws, none within ``margin`` of a kink (so finite differences never straddle it)."""

    def gen(rng, shape):
        x = rng.standard_normal(shape) * scale
        for _ in range(100):
            bad = np.zeros(np.shape(x), dtype=bool)
            for p in points:
                bad |= np.abs(x - p) < margin
            if not bad.any():
                return x
            x = np.where(bad, rng.standard_normal(shape) * scale, x)
        raise RuntimeError("away_from: could not draw values clear of the kinks")

    return gen


nonzero = away_from(0.0)


def distinct(rng, shape):
    """All values different, at least 0.1 apart (max/min/argmax without ties)."""
    n = int(np.prod(shape, dtype=int))
    return ((rng.permutation(n) - n / 2) * 0.15 + rng.uniform(-0.02, 0.02, n)).reshape(shape)


def no_ties_between(rng, shapes):
    """Two inputs that never tie elementwise: a on a grid of step 0.2, b half a step off it."""
    a = rng.integers(-8, 8, shapes[0]) * 0.2 + rng.uniform(-0.03, 0.03, shapes[0])
    b = rng.integers(-8, 8, shapes[1]) * 0.2 + 0.1 + rng.uniform(-0.03, 0.03, shapes[1])
    return [a, b]


def small_ints(rng, shape):
    """Values in {-1, 0, 1} as floats: plenty of ties."""
    return rng.integers(-1, 2, shape).astype(np.float64)


def with_zeros(rng, shape):
    """Normal draws with about a third of them set to exactly zero (cumprod's hard case)."""
    x = rng.standard_normal(shape)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, max(flat.size // 3, 1), replace=False)] = 0.0
    return x


def large(rng, shape):
    """Big logits: softmax / logsumexp must not overflow."""
    return rng.standard_normal(shape) * 30 + 500


def mask(rng, shape):
    return rng.random(shape) < 0.5


def ids(high):
    return lambda rng, shape: rng.integers(0, high, shape)


def const(array):
    return lambda rng, shape: np.asarray(array)


# --------------------------------------------------------------------------- the table

UNARY = (((3, 4),), ((2, 1, 3),), ((),), ((5,),))
BINARY = (((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (2, 3)), ((3, 1), (1,)))
R3 = (((2, 3, 4),),)  # reductions: one 3-D input, axis variety in the entries
SPECS: list[OpSpec] = []


def add(**kw):
    SPECS.append(OpSpec(**kw))
