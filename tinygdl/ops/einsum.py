"""``einsum``: Einstein summation, built from ops the engine already has (transpose, reshape, sum,
diagonal indexing and one ``matmul`` per pair of operands), so its gradient needs no new code.

The equation names every axis of every operand with a letter.  A letter in the output is kept, a
letter missing from it is summed over.  For two operands, each letter is one of four kinds:

* in both operands and in the output: a *batch* axis (matmul's leading axes);
* in both, not in the output: *contracted* (summed by the product: the inner dimension);
* in the left operand only: a *row* axis; in the right one only: a *column* axis.

So ``a`` is arranged as (batch, rows, contracted), ``b`` as (batch, contracted, columns), each
group flattened into one axis, and ``a @ b`` does all the work.
"""

from __future__ import annotations

import math
import string

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor, _tensors
from .linalg import matmul
from .reduce import sum
from .shape import broadcast_to, movedim, reshape, transpose

_SPARE = string.ascii_uppercase  # letters for the axes that "..." stands for


def einsum(equation: str, *operands) -> Tensor:
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = _tensors(operands)
    subscripts, output = _parse(equation.replace(" ", ""), operands)
    sizes = _sizes(equation, subscripts, operands)
    terms = [_broadcast(*_take_diagonals(s, t), sizes) for s, t in zip(subscripts, operands)]
    subs, result = terms[0]
    for k in range(1, len(terms)):
        needed_later = set(output).union(*(s for s, _ in terms[k + 1:]))
        subs, result = _contract(subs, result, *terms[k], needed_later, sizes)
    subs, result = _sum_out(subs, result, set(output))
    return transpose(result, tuple(subs.index(c) for c in output)) if len(subs) > 1 else result


def _parse(equation: str, operands):
    """Split the equation into one subscript string per operand and the output's; expand ``...``."""
    inputs, arrow, output = equation.partition("->")
    inputs = inputs.split(",")
    if len(inputs) != len(operands):
        raise ShapeError(f"einsum: {equation!r} names {len(inputs)} operands, {len(operands)} given")
    spread = max((t.ndim - len(s.replace("...", "")) for s, t in zip(inputs, operands) if "..." in s), default=0)
    spare = "".join(c for c in _SPARE if c not in equation)[:spread]
    subscripts = []
    for s, t in zip(inputs, operands):
        if "..." in s:
            count = t.ndim - len(s.replace("...", ""))
            s = s.replace("...", spare[spread - count:] if count else "")
        if len(s) != t.ndim or not s.isalpha():
            raise ShapeError(f"einsum: subscripts {s!r} do not fit an operand of shape {t.shape}")
        subscripts.append(s)
    if not arrow:  # implicit output: the letters used once, in alphabetical order ("..." first)
        letters = "".join(subscripts)
        output = spare + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in spare))
    output = output.replace("...", spare)
    unknown = set(output) - set("".join(subscripts))
    if unknown or len(set(output)) != len(output):
        raise ShapeError(f"einsum: the output {output!r} repeats a letter or names one no operand has")
    return subscripts, output


def _sizes(equation, subscripts, operands) -> dict:
    """Each letter's size; an axis of size 1 broadcasts against a larger one (as NumPy)."""
    sizes = {}
    for s, t in zip(subscripts, operands):
        for c, n in zip(s, t.shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ShapeError(f"einsum: in {equation!r}, axis {c!r} has sizes {sizes[c]} and {n}; "
                                 f"operand shapes {[o.shape for o in operands]}")
            sizes[c] = max(sizes.get(c, 1), n)
    return sizes


def _take_diagonals(subs: str, t: Tensor):
    """A letter repeated within one operand ("ii") means its diagonal: take it, keep the letter once."""
    for c in dict.fromkeys(subs):
        while subs.count(c) > 1:
            first, second = subs.index(c), subs.index(c, subs.index(c) + 1)
            t = movedim(t, (first, second), (-2, -1))
            diagonal = backend.get_array_module(t.data).arange(t.shape[-1])
            t = t[(Ellipsis, diagonal, diagonal)]
            subs = "".join(x for i, x in enumerate(subs) if i not in (first, second)) + c
    return subs, t


def _broadcast(subs: str, t: Tensor, sizes: dict):
    return subs, broadcast_to(t, tuple(sizes[c] for c in subs))


def _sum_out(subs: str, t: Tensor, keep: set):
    gone = tuple(i for i, c in enumerate(subs) if c not in keep)
    if not gone:
        return subs, t
    return "".join(c for c in subs if c in keep), sum(t, gone)


def _contract(sa, a, sb, b, needed_later: set, sizes: dict):
    """One pairwise step: sum what nobody needs, then one matmul."""
    sa, a = _sum_out(sa, a, needed_later | set(sb))
    sb, b = _sum_out(sb, b, needed_later | set(sa))
    batch = [c for c in sa if c in sb and c in needed_later]
    inner = [c for c in sa if c in sb and c not in needed_later]
    rows = [c for c in sa if c not in sb]
    cols = [c for c in sb if c not in sa]

    def arrange(subs, t, groups):
        order = [subs.index(c) for group in groups for c in group]
        t = transpose(t, tuple(order)) if len(order) > 1 else t
        shape = tuple(sizes[c] for c in batch) + tuple(math.prod(sizes[c] for c in g) for g in groups[1:])
        return reshape(t, shape)

    product = matmul(arrange(sa, a, (batch, rows, inner)), arrange(sb, b, (batch, inner, cols)))
    subs = "".join(batch + rows + cols)
    return subs, reshape(product, tuple(sizes[c] for c in subs))
