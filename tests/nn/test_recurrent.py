"""LSTM: Keras initialisation and parameter count, PyTorch parity (forward, backward, initial state,
time-major layout), gradient check; the fused recurrence against the unrolled step graph, to
second order."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygdl
from tinygdl import nn
from tinygdl.nn.layers.recurrent import lstm_recurrence, lstm_step
from tinygdl.testing import assert_close, gradcheck, gradgradcheck


def test_keras_parameter_count_and_initialisation():
    lstm = nn.LSTM(100, 128)
    assert lstm.num_parameters() == 117_248  # book-models §3.9: 51,200 + 65,536 + 512
    assert [(n, p.shape) for n, p in lstm.named_parameters()] == [
        ("weight_ih", (100, 512)), ("weight_hh", (128, 512)), ("bias", (512,))]
    assert np.abs(lstm.weight_ih.numpy()).max() <= math.sqrt(6 / (100 + 512))
    u = lstm.weight_hh.numpy().astype(np.float64)
    np.testing.assert_allclose(u @ u.T, np.eye(128), atol=1e-5)  # orthogonal rows
    b = lstm.bias.numpy()
    assert (b[128:256] == 1).all() and not b[:128].any() and not b[256:].any()  # unit_forget_bias
    assert not nn.LSTM(3, 4, unit_forget_bias=False).bias.numpy().any()
    assert nn.LSTM(3, 4, bias=False).bias is None
    assert repr(lstm) == "LSTM(100, 128, batch_first=True, bias=True)"


def torch_twin(torch, ours):
    theirs = torch.nn.LSTM(ours.input_size, ours.hidden_size, batch_first=ours.batch_first).double()
    with torch.no_grad():  # PyTorch stores the transposes and two biases (the second set to zero)
        theirs.weight_ih_l0.copy_(torch.tensor(ours.weight_ih.numpy().T))
        theirs.weight_hh_l0.copy_(torch.tensor(ours.weight_hh.numpy().T))
        theirs.bias_ih_l0.copy_(torch.tensor(ours.bias.numpy()))
        theirs.bias_hh_l0.zero_()
    return theirs


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
def test_matches_pytorch(batch_first, with_state, torch, rng, float64):
    ours = nn.LSTM(3, 4, batch_first=batch_first)
    ours.bias.data[...] += rng.standard_normal(16) * 0.1
    theirs = torch_twin(torch, ours)
    n, t = 2, 5
    x = rng.standard_normal((n, t, 3) if batch_first else (t, n, 3))
    state = [rng.standard_normal((n, 4)) for _ in range(2)]
    g_out = rng.standard_normal((n, t, 4) if batch_first else (t, n, 4))
    g_h, g_c = rng.standard_normal((n, 4)), rng.standard_normal((n, 4))

    xs = [tinygdl.tensor(x, requires_grad=True)] + [tinygdl.tensor(s, requires_grad=True) for s in state]
    out, (h, c) = ours(xs[0], (xs[1], xs[2]) if with_state else None)
    loss = (out * tinygdl.tensor(g_out)).sum() + (h * tinygdl.tensor(g_h)).sum() + (c * tinygdl.tensor(g_c)).sum()
    loss.backward()

    txs = [torch.tensor(x, requires_grad=True)] + [torch.tensor(s[None], requires_grad=True) for s in state]
    t_out, (t_h, t_c) = theirs(txs[0], (txs[1], txs[2]) if with_state else None)
    t_loss = ((t_out * torch.tensor(g_out)).sum() + (t_h[0] * torch.tensor(g_h)).sum()
              + (t_c[0] * torch.tensor(g_c)).sum())
    t_loss.backward()

    close = dict(rtol=1e-10, atol=1e-12)
    assert out.shape == tuple(t_out.shape)
    assert_close(out, t_out, **close)
    assert_close(h, t_h[0], **close)
    assert_close(c, t_c[0], **close)
    assert_close(xs[0].grad, txs[0].grad, **close)
    if with_state:
        assert_close(xs[1].grad, txs[1].grad[0], **close)
        assert_close(xs[2].grad, txs[2].grad[0], **close)
    assert_close(ours.weight_ih.grad, theirs.weight_ih_l0.grad.T, **close)
    assert_close(ours.weight_hh.grad, theirs.weight_hh_l0.grad.T, **close)
    assert_close(ours.bias.grad, theirs.bias_ih_l0.grad, **close)


def test_gradcheck(float64, rng):
    lstm = nn.LSTM(2, 3)
    x = tinygdl.tensor(rng.standard_normal((2, 4, 2)), requires_grad=True)
    h0 = tinygdl.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    c0 = tinygdl.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    gradcheck(lambda x, h0, c0, *params: lstm(x, (h0, c0))[0], [x, h0, c0, *lstm.parameters()])


def test_last_output_is_the_final_hidden_state(rng):
    lstm = nn.LSTM(3, 4)
    out, (h, _) = lstm(tinygdl.tensor(rng.standard_normal((2, 6, 3)), dtype=np.float32))
    assert_close(out[:, -1], h)


def test_shape_errors_name_the_layer():
    lstm = nn.LSTM(3, 4)
    with pytest.raises(ValueError, match=r"LSTM\(3, 4.*\(N, T, 3\) with T >= 1, got \(2, 5, 2\)"):
        lstm(tinygdl.zeros(2, 5, 2))
    with pytest.raises(ValueError, match=r"T >= 1, got \(2, 0, 3\)"):
        lstm(tinygdl.zeros(2, 0, 3))
    with pytest.raises(ValueError, match=r"\(T, N, 3\)"):
        nn.LSTM(3, 4, batch_first=False)(tinygdl.zeros(5, 3))
    with pytest.raises(ValueError, match=r"shapes \(2, 4\), got \(2, 4\) and \(1, 4\)"):
        lstm(tinygdl.zeros(2, 5, 3), (tinygdl.zeros(2, 4), tinygdl.zeros(1, 4)))


# --------------------------------------------------------------------------- the fused recurrence


def unrolled(z, h, c, u):
    """The recurrence as a plain graph of ``lstm_step`` ops (the reference for the fused op)."""
    outputs = []
    for t in range(z.shape[1]):
        _, h, c = lstm_step(z[:, t], h, c, u)
        outputs.append(h)
    return tinygdl.stack(outputs, axis=1), c


def recurrence_inputs(rng, n=2, t=4, hidden=3):
    shapes = [(n, t, 4 * hidden), (n, hidden), (n, hidden), (hidden, 4 * hidden)]
    return [tinygdl.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


def test_fused_recurrence_equals_the_unrolled_steps(float64, rng):
    inputs = recurrence_inputs(rng, n=3, t=6, hidden=4)
    g_out, g_c = rng.standard_normal((3, 6, 4)), rng.standard_normal((3, 4))
    results = []
    for run in (lstm_recurrence, unrolled):
        out, c = run(*inputs)
        grads = tinygdl.grad((out * tinygdl.tensor(g_out)).sum() + (c * tinygdl.tensor(g_c)).sum(), inputs)
        results.append([out, c, *grads])
    for ours, reference in zip(*results):
        assert_close(ours, reference, rtol=1e-12, atol=1e-13)


def test_fused_recurrence_gradcheck_both_outputs(float64, rng):
    gradcheck(lambda *xs: lstm_recurrence(*xs), recurrence_inputs(rng))


def test_fused_recurrence_is_twice_differentiable(float64, rng):
    gradgradcheck(lambda *xs: lstm_recurrence(*xs), recurrence_inputs(rng, t=3))


def test_second_derivative_through_the_layer_matches_the_unrolled_graph(float64, rng):
    """A gradient penalty on the input: d/dθ ‖∂L/∂x‖² equals the unrolled graph's."""
    lstm = nn.LSTM(2, 3)
    x = tinygdl.tensor(rng.standard_normal((2, 5, 2)), requires_grad=True)
    params = list(lstm.parameters())

    def penalty_grads(run):
        z = lstm._project_inputs(x)
        h0 = tinygdl.zeros(2, 3)
        out, _ = run(z, h0, h0, lstm.weight_hh)
        (gx,) = tinygdl.grad(out.tanh().sum(), [x], create_graph=True)
        return tinygdl.grad((gx * gx).sum(), params)

    for ours, reference in zip(penalty_grads(lstm_recurrence), penalty_grads(unrolled)):
        assert_close(ours, reference, rtol=1e-10, atol=1e-12)


def test_no_gradient_for_the_cell_output_alone(float64, rng):
    """Only c_T used: the hidden-sequence gradient arrives as None and is treated as zero."""
    inputs = recurrence_inputs(rng)
    gradcheck(lambda *xs: lstm_recurrence(*xs)[1], inputs)


def test_float32_matches_pytorch_at_a_larger_size(torch, rng):
    ours = nn.LSTM(10, 16)
    theirs = torch_twin(torch, ours).float()
    x = rng.standard_normal((4, 30, 10)).astype(np.float32)
    out, _ = ours(tinygdl.tensor(x))
    t_out, _ = theirs(torch.tensor(x))
    assert_close(out, t_out.detach(), rtol=1e-4, atol=1e-5)
