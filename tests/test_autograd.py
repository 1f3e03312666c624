"""The autograd core: graph building, the backward walk and its classic traps."""

import sys

import numpy as np
import pytest

import tinygdl
from tinygdl import Tensor, tensor


def leaf(*shape, seed=0):
    return tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# --------------------------------------------------------------------------- Tensor basics


def test_default_dtype_is_float32_and_float64_is_kept():
    assert tensor([1.0, 2.0]).dtype == np.float32
    assert tensor(np.zeros(3)).dtype == np.float64
    assert tensor([1, 2]).dtype == np.int64
    assert tensor([1.0], dtype="float64").dtype == np.float64


def test_tensor_properties_and_conversions():
    x = tensor([[1.0, 2.0, 3.0]])
    assert x.shape == (1, 3) and x.ndim == 2 and x.size == 3 and len(x) == 1
    assert str(x.device) == "cpu"
    assert isinstance(x.numpy(), np.ndarray)
    assert tensor([4.0]).item() == 4.0
    with pytest.raises(ValueError, match="one element"):
        x.item()
    assert x.to("cpu") is x


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        tensor([1, 2], requires_grad=True)


# --------------------------------------------------------------------------- classic traps


def test_reused_node_accumulates():
    """micrograd's trap: b = a + a; c = b + b  ->  dc/da = 4."""
    a = tensor([3.0], requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_diamond_graph():
    a = tensor(2.0, requires_grad=True)
    b = a * a  # 4
    c = b * a + b  # a^3 + a^2
    c.backward()
    assert a.grad.item() == pytest.approx(3 * 4 + 2 * 2)


def test_backward_twice_accumulates_into_grad_with_retain_graph():
    a = tensor([1.0, 2.0], requires_grad=True)
    y = (a * a).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * 2 * a.numpy())


def test_second_backward_through_freed_graph_raises():
    a = tensor([1.0, 2.0], requires_grad=True)
    y = (a.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_deep_chain_does_not_hit_the_recursion_limit():
    x = tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    assert sys.getrecursionlimit() < 100_000
    y.backward()
    assert x.grad.item() == 1.0


def test_broadcasting_is_undone_in_backward():
    a = leaf(3, 1, 4)
    b = leaf(5, 1, seed=1)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1, 4) and b.grad.shape == (5, 1)
    np.testing.assert_allclose(a.grad.numpy(), np.broadcast_to(b.numpy().sum(), (3, 1, 4)) * np.ones((3, 1, 4)))
    np.testing.assert_allclose(b.grad.numpy(), np.full((5, 1), a.numpy().sum()))


def test_non_scalar_backward_needs_grad_and_says_what_to_pass():
    y = leaf(2, 3) * 2
    with pytest.raises(RuntimeError, match="grad="):
        y.backward()
    y.backward(tinygdl.ones_like(y))


def test_backward_on_tensor_without_graph_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (tensor([1.0]) * 2).sum().backward()


# --------------------------------------------------------------------------- grad modes, detach


def test_no_grad_context_and_decorator():
    a = leaf(3)
    with tinygdl.no_grad():
        assert not (a * 2).requires_grad
        with tinygdl.enable_grad():
            assert (a * 2).requires_grad

    @tinygdl.no_grad()
    def f(x):
        return x * 2

    assert not f(a).requires_grad
    assert tinygdl.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data():
    a = leaf(3)
    d = (a * 2).detach()
    assert not d.requires_grad and d.creator is None
    y = (a * d).sum()
    y.backward()
    np.testing.assert_allclose(a.grad.numpy(), d.numpy())


def test_train_mode_switch():
    assert tinygdl.is_training()
    with tinygdl.train_mode(False):
        assert not tinygdl.is_training()
    assert tinygdl.is_training()


# --------------------------------------------------------------------------- tinygdl.grad


def test_grad_returns_gradients_without_touching_dot_grad():
    a = leaf(3)
    (g,) = tinygdl.grad((a * a).sum(), [a])
    np.testing.assert_allclose(g.numpy(), 2 * a.numpy())
    assert a.grad is None


def test_grad_with_create_graph_gives_second_derivatives():
    x = tensor([0.3, -1.2, 2.0], dtype="float64", requires_grad=True)
    y = (x ** 3).sum()
    (g,) = tinygdl.grad(y, [x], create_graph=True)  # 3x^2
    g.sum().backward()  # d/dx sum(3x^2) = 6x
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


def test_grad_of_intermediate_tensor_only_walks_what_it_needs():
    """A gradient penalty differentiates the critic w.r.t. an interpolate, not w.r.t. the generator."""
    w = leaf(4)  # stands for generator weights
    fake = w * 3
    x_hat = fake * 0.5 + 1.0
    critic = (x_hat * x_hat).sum()
    (g,) = tinygdl.grad(critic, [x_hat], create_graph=True)
    np.testing.assert_allclose(g.numpy(), 2 * x_hat.numpy())
    assert w.grad is None


def test_grad_computes_only_the_gradients_that_lead_to_its_inputs():
    """Like PyTorch's ``needs_input_grad``: the gradient for D's weights computes no product for
    the generated images, the gradient for the generated images none for D's weights, and a
    retained graph walked again afterwards still gives every gradient."""
    from tinygdl import nn

    generated = leaf(2, 3, 6, 6) * 2.0            # made by a "generator"
    conv, dense = nn.Conv2d(3, 4, 3, padding=1).to(dtype="float64"), leaf(4 * 36, 1, seed=1)
    loss = ((conv(generated).reshape(2, -1) @ dense) ** 2).sum()

    def profiled(inputs):
        with tinygdl.profile() as prof:
            grads = tinygdl.grad(loss, inputs, retain_graph=True)
        return grads, prof.stats

    _, every = profiled([generated, conv.weight, dense])
    assert every["GEMM"].calls == 2 and "col2im kernel" in every  # dW, and dcols folded back
    (d_weight, d_dense), for_d = profiled([conv.weight, dense])
    assert for_d["GEMM"].calls == 1 and "col2im kernel" not in for_d  # dW only
    _, for_g = profiled([generated])
    assert for_g["GEMM"].calls == 1 and "col2im kernel" in for_g  # dcols only
    assert for_g["MatMul"].calls == every["MatMul"].calls - 1  # no gradient for the dense weight
    loss.backward()
    np.testing.assert_allclose(conv.weight.grad.numpy(), d_weight.numpy(), rtol=1e-6)
    np.testing.assert_allclose(dense.grad.numpy(), d_dense.numpy(), rtol=1e-6)
    assert conv.bias.grad is not None


def test_grad_reports_unused_inputs():
    a, b = leaf(2), leaf(2, seed=1)
    with pytest.raises(RuntimeError, match="not used"):
        tinygdl.grad((a * 2).sum(), [a, b])
    ga, gb = tinygdl.grad((a * 2).sum(), [a, b], allow_unused=True)
    assert gb is None and ga is not None


def test_grad_with_grad_outputs_for_non_scalar():
    a = leaf(3)
    v = tensor(np.array([1.0, 2.0, 3.0]))
    (g,) = tinygdl.grad(a * 2, [a], grad_outputs=v)
    np.testing.assert_allclose(g.numpy(), 2 * v.numpy())


# --------------------------------------------------------------------------- in-place safety


def test_in_place_change_of_a_saved_input_raises_at_backward():
    a = leaf(3)
    b = tensor(np.ones(3))
    y = (a * b).sum()  # backward needs b
    b.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_in_place_change_through_a_view_is_caught():
    a = leaf(2, 3)
    base = tensor(np.ones((2, 3)))
    view = base.reshape(6)
    y = (a * base).sum()
    view[0] = 5.0  # writes into base's memory
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_in_place_on_leaf_requiring_grad_is_refused_outside_no_grad():
    a = leaf(3)
    with pytest.raises(RuntimeError, match="in-place"):
        a.add_(1.0)
    with tinygdl.no_grad():
        a.add_(1.0)


def test_optimizer_style_update_between_forward_and_backward_is_caught():
    w = leaf(3)
    y = (w * w).sum()
    with tinygdl.no_grad():
        w.data -= 0.1
        w._mark_modified()
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


# --------------------------------------------------------------------------- anomaly detection, errors


def test_detect_anomaly_names_the_op_and_the_line():
    x = tensor([-1.0, 1.0], requires_grad=True)
    with tinygdl.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"Log .*test_autograd.py:\d+"):
            x.log()


def test_detect_anomaly_in_backward():
    x = tensor([0.0, 1.0], requires_grad=True)
    with tinygdl.detect_anomaly():
        y = x.sqrt().sum()  # forward fine, backward divides by 0
        with pytest.raises(FloatingPointError, match="Sqrt produced NaN or Inf in its backward"):
            y.backward()


def test_shape_errors_name_the_op_and_the_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        leaf(2, 3) @ leaf(4, 5)
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4,\)"):
        leaf(2, 3).reshape(4)
    with pytest.raises(ValueError, match=r"concatenate.*\(2, 3\).*\(2, 4\)"):
        tinygdl.concatenate([leaf(2, 3), leaf(2, 4)], axis=0)
    with pytest.raises(ValueError, match=r"broadcast_to.*\(2, 3\).*\(4, 3\)"):
        tinygdl.broadcast_to(leaf(2, 3), (4, 3))


def test_backward_of_mixed_precision_keeps_each_inputs_dtype():
    a = tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = tensor(np.ones(3, dtype=np.float64), requires_grad=True)
    (a * b).sum().backward()
    assert b.grad.dtype == np.float64
    assert a.grad.dtype == np.float32 and a.grad.shape == (3,)


def test_graph_is_freed_after_backward():
    import weakref

    a = leaf(3)
    y = (a.exp() * 2).sum()
    fn = weakref.ref(y.creator.inputs[0].creator)
    y.backward()
    del y
    assert fn() is None


def test_tensor_ops_on_python_numbers_and_arrays():
    a = tensor([1.0, 2.0], requires_grad=True)
    y = (2.0 - a) * np.array([3.0, 4.0], dtype=np.float32) / 2 + 1
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [-1.5, -2.0])
    assert y.dtype == np.float32
    assert isinstance(a > 1.5, Tensor) and (a > 1.5).numpy().tolist() == [False, True]


# --------------------------------------------------------------------------- edges without values


def test_an_activation_read_by_no_backward_is_freed_after_the_forward_pass():
    """ReLU's backward reads its mask, not its input: the graph keeps an edge without the
    pre-activation's values, so the array is freed once nothing else holds it (as in PyTorch)."""
    import gc
    import weakref

    x = leaf(64, 256)  # 128 KiB: an edge (smaller arrays keep their place, see _Edge.MIN_BYTES)
    pre = x * 2.0
    alive = weakref.ref(pre)
    y = pre.relu()
    edge = y.creator.inputs[0]
    assert edge is not pre and edge.shape == pre.shape and edge.dtype == pre.dtype
    assert edge.data.strides == (0, 0)  # no values behind it
    small = leaf(4, 8) * 2.0
    assert small.relu().creator.inputs[0] is small
    del pre
    gc.collect()
    assert alive() is None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * (x.numpy() > 0))


def test_grad_finds_an_input_held_by_the_caller_behind_an_edge():
    x = leaf(100, 100, seed=3)
    pre = x * 3.0
    loss = (pre.relu() * pre.relu()).sum()
    (g,) = tinygdl.grad(loss, [pre])
    np.testing.assert_allclose(g.numpy(), 2 * np.maximum(pre.numpy(), 0))


def test_an_op_whose_backward_reads_its_output_keeps_that_output():
    """tanh's backward reads tanh's output: a ReLU after it keeps the real tensor, not an edge."""
    x = leaf(100, 100, seed=4)
    t = x.tanh()
    y = t.relu()
    assert y.creator.inputs[0] is t
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (1 - np.tanh(x.numpy()) ** 2) * (np.tanh(x.numpy()) > 0),
                               rtol=1e-6)
