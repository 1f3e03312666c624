"""tinygdl.testing: gradcheck must pass correct gradients and catch wrong ones, in every mode,
at first and second order; assert_close must take every kind of array."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
from tinygdl import testing
from tinygdl.tensor import Function
from tinygdl.testing import GradcheckError, assert_close, gradcheck, gradgradcheck


def _x(shape=(3, 4), seed=0, requires_grad=True, dtype=np.float64):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=requires_grad)


# --------------------------------------------------------------------------- deliberately wrong ops


class SquareMissingFactor(Function):
    """x² with backward gy·x: the factor 2 is forgotten."""

    def forward(self, a):
        return a * a

    def backward(self, gy):
        return gy * self.inputs[0]


class WrongAtOneElement(Function):
    """2x whose backward is right except at element (1, 2)."""

    def forward(self, a):
        return 2 * a

    def backward(self, gy):
        coefficient = np.full(gy.shape, 2.0)
        coefficient[1, 2] = 2.5
        return gy * tg.Tensor(coefficient)


class SquareConstantBackward(Function):
    """x² whose backward uses 2x as a *constant* array: right to first order, but the graph of the
    gradient does not depend on x, so the second derivative comes out 0 instead of 2."""

    def forward(self, a):
        return a * a

    def backward(self, gy):
        return gy * tg.Tensor(2 * self.inputs[0].data)


def square_missing_factor(x):
    return SquareMissingFactor()(x)


# --------------------------------------------------------------------------- gradcheck passes


@pytest.mark.parametrize("mode", ["full", "directional", "auto"])
def test_gradcheck_passes_correct_functions(mode):
    x, y = _x(), _x((4,), seed=1)
    assert gradcheck(lambda a: tg.tanh(a * a), [x], mode=mode) is True
    assert gradcheck(lambda a, b: a * b + tg.exp(b), [x, y], mode=mode)  # broadcasting
    assert gradcheck(lambda a: (a.sum(axis=0), tg.softmax(a)), [x], mode=mode)  # several outputs
    assert gradcheck(lambda a: a.sum(), [_x(())], mode=mode)  # a 0-d input


def test_gradcheck_only_checks_inputs_that_require_grad():
    x, c = _x(), _x(seed=1, requires_grad=False)
    assert gradcheck(lambda a, b: a * b, [x, c])
    with pytest.raises(ValueError, match="no input has requires_grad"):
        gradcheck(lambda a: a * 2, [_x(requires_grad=False)])


def test_gradcheck_accepts_non_differentiable_outputs_and_unused_inputs():
    x, unused = _x(), _x(seed=1)
    assert gradcheck(lambda a, b: (a * 2, tg.argmax(a)), [x, unused])


def test_gradcheck_casts_float32_inputs_to_float64_and_leaves_them_alone():
    x = _x(dtype=np.float32)
    before = x.numpy().copy()
    # in float32, eps = 1e-6 finite differences would be noise; gradcheck works in float64 copies
    assert gradcheck(lambda a: tg.sin(a) * a, [x])
    assert x.dtype == np.float32 and np.array_equal(x.numpy(), before)


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_gradcheck_restores_the_inputs(mode):
    x = _x()
    view = tg.Tensor(np.asfortranarray(x.numpy()), requires_grad=True)  # non-contiguous
    before = x.numpy().copy()
    gradcheck(lambda a, b: a * b, [x, view], mode=mode)
    assert np.array_equal(x.numpy(), before) and np.array_equal(view.numpy(), before)


# --------------------------------------------------------------------------- gradcheck catches errors


def test_gradcheck_error_message_names_op_input_element_and_both_values():
    x = _x()
    with pytest.raises(GradcheckError) as info:
        gradcheck(square_missing_factor, [x], mode="full")
    message = str(info.value)
    assert "square_missing_factor" in message  # the function's name by default
    assert "input 0" in message and "element (" in message
    assert "analytic" in message and "numeric" in message
    assert "12 of 12 elements differ" in message
    assert isinstance(info.value, AssertionError)  # pytest shows it as a test failure


def test_gradcheck_points_at_the_wrong_element():
    with pytest.raises(GradcheckError, match=r"my_op, input 1, element \(1, 2\)") as info:
        gradcheck(lambda a, b: a + WrongAtOneElement()(b), [_x(seed=2), _x()], mode="full", name="my_op")
    assert "1 of 12 elements differ" in str(info.value)
    # the reported values are the two gradients at that element (cotangent-weighted)
    analytic, numeric = (float(s.split()[1]) for s in str(info.value).split(": ")[1].split(" vs "))
    assert analytic == pytest.approx(numeric * 1.25, rel=1e-6)


@pytest.mark.parametrize("mode", ["full", "directional", "auto"])
def test_every_mode_catches_a_wrong_backward(mode):
    with pytest.raises(GradcheckError):
        gradcheck(square_missing_factor, [_x()], mode=mode)


def test_directional_mode_reports_a_direction():
    with pytest.raises(GradcheckError, match="a random direction"):
        gradcheck(square_missing_factor, [_x()], mode="directional")


class SquareWithNaN(Function):
    """x² whose backward is right except for a NaN at element 3."""

    def forward(self, a):
        return a * a

    def backward(self, gy):
        coefficient = 2 * self.inputs[0].data
        coefficient[3] = np.nan
        return gy * tg.Tensor(coefficient)


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_a_nan_gradient_fails(mode):
    """Comparisons with NaN are False: a naive "error > tolerance" test would let NaN through."""
    with pytest.raises(GradcheckError, match="analytic nan"):
        gradcheck(lambda a: SquareWithNaN()(a), [_x((5,))], mode=mode)
    with pytest.raises(GradcheckError, match=r"element \(3,\)"):
        gradcheck(lambda a: SquareWithNaN()(a), [_x((5,))], mode="full")


def test_gradcheck_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be"):
        gradcheck(lambda a: a * 2, [_x()], mode="fast")


@pytest.mark.parametrize("size, mode, expected_calls", [
    (6, "full", 1 + 2 * 6),  # one forward for the outputs, then two per element
    (6, "directional", 1 + 2 * 4),  # two per direction, 4 directions by default
    (6, "auto", 1 + 2 * 6),  # small: full
    (testing.FULL_MODE_MAX_ELEMENTS + 1, "auto", 1 + 2 * 4),  # large: directional
])
def test_modes_cost(size, mode, expected_calls):
    calls = []

    def fn(a):
        calls.append(1)
        return a * 3

    gradcheck(fn, [_x((size,))], mode=mode)
    assert len(calls) == expected_calls


def test_directional_mode_checks_all_inputs_together():
    """A wrong gradient for the second input is caught even though only a few directions are tried."""
    with pytest.raises(GradcheckError):
        gradcheck(lambda a, b: a + square_missing_factor(b), [_x(), _x(seed=1)], mode="directional", directions=1)


def test_tolerances_are_used():
    with pytest.raises(GradcheckError):
        gradcheck(lambda a: WrongAtOneElement()(a), [_x()], rtol=0.1)
    assert gradcheck(lambda a: WrongAtOneElement()(a), [_x()], rtol=0.3, atol=0.5)


# --------------------------------------------------------------------------- gradgradcheck


def test_gradgradcheck_passes_correct_functions():
    x, y = _x(), _x((4,), seed=1)
    assert gradgradcheck(lambda a: tg.tanh(a), [x]) is True
    assert gradgradcheck(lambda a, b: a * a * b, [x, y])
    assert gradgradcheck(lambda a: (a * 2, tg.exp(a).sum()), [x])  # a linear output among them
    assert gradgradcheck(lambda a, b: a @ b.reshape(4, 1), [x, y], mode="directional")


def test_gradgradcheck_accepts_integer_outputs_like_gradcheck():
    """A function that also returns indices (argmax): their cotangents stay constants."""
    x = _x((5,))
    assert gradcheck(lambda a: (a * a, tg.argmax(a)), [x])
    assert gradgradcheck(lambda a: (a * a, tg.argmax(a)), [x])


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = _x()
    assert gradcheck(lambda a: SquareConstantBackward()(a), [x])  # first order is right
    with pytest.raises(GradcheckError, match=r"\(2nd order\)"):
        gradgradcheck(lambda a: SquareConstantBackward()(a), [x])
    with pytest.raises(GradcheckError, match=r"\(2nd order\)"):
        gradgradcheck(lambda a: SquareConstantBackward()(a), [x], mode="directional")


def test_gradgradcheck_checks_the_backward_as_written_not_the_first_order():
    """Like torch.autograd.gradgradcheck it differentiates the backward that exists: a backward
    that is wrong but itself correctly differentiable passes (gy·x differentiates fine), so run
    gradcheck as well."""
    assert gradgradcheck(square_missing_factor, [_x()])
    with pytest.raises(GradcheckError):
        gradcheck(square_missing_factor, [_x()])


# --------------------------------------------------------------------------- assert_close


def test_assert_close_accepts_every_kind_of_array():
    torch = pytest.importorskip("torch")
    values = np.array([1.0, 2.0, 3.0])
    for actual in (tg.Tensor(values), tg.Tensor(values, requires_grad=True), values, values.tolist(),
                   torch.tensor(values), torch.tensor(values, requires_grad=True)):
        for expected in (values, tg.Tensor(values), torch.tensor(values), [1.0, 2.0, 3.0]):
            assert_close(actual, expected)
    assert_close(tg.Tensor(np.float32(2.0)), 2.0)


def test_assert_close_tolerances_and_message():
    assert_close(tg.Tensor([1.0, 2.0]), [1.0, 2.0 + 1e-9], rtol=1e-8)
    assert_close([0.0], [1e-9], atol=1e-8)
    with pytest.raises(AssertionError, match="my message"):
        assert_close(tg.Tensor([1.0, 2.0]), [1.0, 2.1], msg="my message")
    with pytest.raises(AssertionError):
        assert_close(tg.Tensor([1.0, 2.0]), [1.0, 2.0, 3.0])  # shapes differ
