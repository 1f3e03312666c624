"""Recurrent layers: the LSTM (book chapter 5, the recipe generator), whose recurrence runs as one
fused op (``LSTMRecurrence``) instead of a graph of ~10 small ops per time step."""

from __future__ import annotations

from ... import backend
from ...ops.creation import zeros
from ...ops.elementwise import sigmoid, tanh
from ...ops.shape import concatenate, reshape, split, stack, transpose
from ...tensor import Function, Tensor, is_grad_enabled
from .. import init
from ..module import Module, Parameter

__all__ = ["LSTM", "LSTMRecurrence", "lstm_recurrence"]


def lstm_step(z_x, h, c, u):
    """One LSTM step written with Tensor ops: the input projection ``z_x`` = x_t·W + b (N, 4H) and
    the state (h, c) -> the activated gates (i, f, g, o) and the new state (h', c')."""
    i, f, g, o = split(z_x + h @ u, u.shape[0], axis=1)
    i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
    c = f * c + i * g
    return (i, f, g, o), o * tanh(c), c


class LSTMRecurrence(Function):
    """The whole recurrence as one op: (Z, h0, c0, U) -> (every h_t as (N, T, H), the last c_T).

    ``Z`` (N, T, 4H) holds the input projections x_t·W + b of every step (one matrix product
    before the op).  **Forward** loops over the steps on raw arrays, in place: per step one
    (N, H)·(H, 4H) product and the gate non-linearities (σ through tanh: σ(x) = ½·tanh(x/2) + ½,
    exact to rounding and one pass), keeping the gates and cells for backward.

    **Backward** (backpropagation through time) is written with Tensor ops, so it is itself
    differentiable.  With δh_t the gradient reaching h_t (from the output at t and from step t+1)
    and δc_t the one reaching c_t, going from t = T down to 1:

        δc_t  += δh_t ⊙ o ⊙ (1 − tanh² c_t)
        δz_t   = [δc_t ⊙ g ⊙ i(1−i),  δc_t ⊙ c_{t−1} ⊙ f(1−f),  δc_t ⊙ i ⊙ (1−g²),  δh_t ⊙ tanh c_t ⊙ o(1−o)]
        δh_{t−1} += δz_t · Uᵀ,   δc_{t−1} = δc_t ⊙ f

    and ∂Z = every δz_t, ∂U = Σ_t h_{t−1}ᵀ·δz_t (one product over all steps), ∂h0, ∂c0 = the last
    δh, δc.  The step-wise factors (everything but δh, δc) are computed for all steps at once
    before the loop, so each step costs 8 small operations.  The formula is written once
    (``_through_time``) with operators only, and runs on two kinds of values: under
    ``create_graph=True`` on Tensors, with the gates recomputed from the inputs by ``lstm_step``,
    so the backward is recorded and second derivatives see how everything depends on the inputs
    (gradgradcheck in tests/nn/test_recurrent.py); otherwise (the usual case) on the saved raw
    arrays, where nothing needs recording and a Tensor per operation would only cost time.
    """

    def forward(self, z, h0, c0, u):
        xp = backend.get_array_module(z)
        n, t_steps, four_h = z.shape
        hidden = four_h // 4
        gates = xp.empty((t_steps, n, four_h), dtype=z.dtype)
        cells = xp.empty((t_steps + 1, n, hidden), dtype=z.dtype)  # c_0 ... c_T
        hiddens = xp.empty((t_steps + 1, n, hidden), dtype=z.dtype)  # h_0 ... h_T
        cells[0], hiddens[0] = c0, h0
        for t in range(t_steps):
            # Everything in place in this step's slice of ``gates``: no temporary arrays but g's.
            a = gates[t]
            xp.matmul(hiddens[t], u, out=a)
            a += z[:, t]
            i, f, g, o = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 2 * hidden:3 * hidden], a[:, 3 * hidden:]
            candidate = xp.tanh(g)
            # σ(x) = ½·tanh(x/2) + ½ for all four blocks (one pass each), then g's block gets tanh.
            a *= 0.5
            xp.tanh(a, out=a)
            a *= 0.5
            a += 0.5
            g[...] = candidate
            xp.multiply(f, cells[t], out=cells[t + 1])
            cells[t + 1] += i * g
            xp.tanh(cells[t + 1], out=hiddens[t + 1])
            hiddens[t + 1] *= o
        self.gates, self.cells, self.hiddens = gates, cells, hiddens
        return xp.ascontiguousarray(hiddens[1:].transpose(1, 0, 2)), cells[t_steps].copy()

    def _recomputed(self):
        """Gates (T, N, 4H), c_{t−1}, c_t and h_{t−1} (each (T, N, H)) recomputed from the inputs
        with Tensor ops, so that a recorded backward sees how they depend on the inputs."""
        z, h, c, u = self.inputs
        gates, c_prev, c_next, h_prev = [], [], [], []
        for z_t in split(transpose(z, (1, 0, 2)), 1, axis=0):
            h_prev.append(h)
            c_prev.append(c)
            (i, f, g, o), h, c = lstm_step(reshape(z_t, z_t.shape[1:]), h, c, u)
            gates.append(concatenate([i, f, g, o], axis=1))
            c_next.append(c)
        return stack(gates), stack(c_prev), stack(c_next), stack(h_prev)

    def backward(self, g_out, g_c):
        if is_grad_enabled():  # recorded (create_graph=True): Tensor ops all the way
            return _through_time(_TENSOR_OPS, *self._recomputed(), self.inputs[3], g_out, g_c)
        # Not recorded: the same formula on the saved arrays, without a Tensor per operation.
        ops = _ArrayOps(backend.get_array_module(self.gates))
        grads = _through_time(ops, self.gates, self.cells[:-1], self.cells[1:], self.hiddens[:-1],
                              self.inputs[3].data, *(None if g is None else g.data for g in (g_out, g_c)))
        return tuple(Tensor._wrap(g) for g in grads)


def _through_time(ops, gates, c_prev, c_next, h_prev, u, g_out, g_c):
    """Backpropagation through time (the formulas of ``LSTMRecurrence``), written once for Tensors
    and for raw arrays: only + − * @, slicing and the functions of ``ops``.  Returns the gradients
    of (Z, h0, c0, U)."""
    hidden = u.shape[0]
    i, f, g, o = (gates[..., k * hidden:(k + 1) * hidden] for k in range(4))
    tanh_c = ops.tanh(c_next)
    # Per-step factors, all steps at once: δc from δh, and δz from [δc, δc, δc, δh].
    dc_from_dh = o * (1 - tanh_c * tanh_c)
    dz_factors = ops.concatenate([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), tanh_c * o * (1 - o)],
                                 axis=2)
    u_t = ops.transpose(u)
    dh = ops.zeros(h_prev.shape[1:], like=gates)
    dc = g_c if g_c is not None else ops.zeros(h_prev.shape[1:], like=gates)
    g_steps = ops.transpose(g_out, (1, 0, 2)) if g_out is not None else None
    steps = gates.shape[0]
    dz = [None] * steps
    for t in reversed(range(steps)):
        if g_steps is not None:
            dh = dh + g_steps[t]
        dc = dc + dh * dc_from_dh[t]
        dz[t] = ops.concatenate([dc, dc, dc, dh], axis=1) * dz_factors[t]
        dh = dz[t] @ u_t
        dc = dc * f[t]
    dz = ops.stack(dz)  # (T, N, 4H)
    du = ops.transpose(ops.reshape(h_prev, (-1, hidden))) @ ops.reshape(dz, (-1, 4 * hidden))
    return ops.transpose(dz, (1, 0, 2)), dh, dc, du


class _TensorOps:
    """What ``_through_time`` needs beyond operators, as Tensor ops (differentiable)."""

    tanh = staticmethod(tanh)
    concatenate = staticmethod(concatenate)
    stack = staticmethod(stack)
    transpose = staticmethod(transpose)
    reshape = staticmethod(reshape)

    @staticmethod
    def zeros(shape, like):
        return zeros(shape, dtype=like.dtype, device=like.device)


class _ArrayOps:
    """The same on raw NumPy / CuPy arrays."""

    def __init__(self, xp):
        self.xp = xp

    def tanh(self, x):
        return self.xp.tanh(x)

    def concatenate(self, arrays, axis):
        return self.xp.concatenate(arrays, axis=axis)

    def stack(self, arrays):
        return self.xp.stack(arrays)

    def transpose(self, x, axes=None):
        return x.transpose(axes)

    def reshape(self, x, shape):
        return x.reshape(shape)

    def zeros(self, shape, like):
        return self.xp.zeros(shape, dtype=like.dtype)


_TENSOR_OPS = _TensorOps()


def lstm_recurrence(z: Tensor, h0: Tensor, c0: Tensor, u: Tensor):
    """Run the LSTM recurrence over input projections ``z`` (N, T, 4H) from state (h0, c0) with
    recurrent kernel ``u`` (H, 4H): returns (every h_t (N, T, H), c_T (N, H))."""
    return LSTMRecurrence()(z, h0, c0, u)


class LSTM(Module):
    """A one-layer LSTM run over whole sequences; returns ``(outputs, (h, c))``.

    For each step t, with x_t of shape (N, input_size) and the state h, c of shape (N, H):

        z   = x_t·W + h_{t−1}·U + b          (N, 4H), four H-wide blocks in the order i, f, g, o
        i, f, o = σ(z_i), σ(z_f), σ(z_o)      input, forget and output gates
        g   = tanh(z_g)                       the candidate cell value
        c_t = f ⊙ c_{t−1} + i ⊙ g
        h_t = o ⊙ tanh(c_t)

    (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000.)  ``outputs`` holds
    every h_t: (N, T, H) with ``batch_first=True`` (Keras's layout, the default), (T, N, H)
    otherwise.  ``state=(h0, c0)``, each (N, H), starts from a given state (default zeros).

    **Parameters**, in Keras's layout and with Keras's initializers:
    ``weight_ih`` W (input_size, 4H), glorot_uniform; ``weight_hh`` U (H, 4H), orthogonal;
    ``bias`` b (4H,), zeros except the forget-gate block, 1 (``unit_forget_bias``: the cell
    remembers by default at the start of training).  The gate order i, f, g, o is PyTorch's and
    Keras's.  ``torch.nn.LSTM`` stores the transposes, (4H, input_size) and (4H, H), and two biases
    ``b_ih + b_hh`` where Keras has one — so Keras's parameter count, 4H·(input_size + H + 1).

    The input projection of the whole sequence is one matrix product; the recurrence is one
    fused op, ``LSTMRecurrence`` (forward loop on arrays, backpropagation through time written
    with Tensor ops, so twice differentiable); ``lstm_step`` is the same step with plain ops.
    """

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = True, bias: bool = True,
                 unit_forget_bias: bool = True):
        super().__init__()
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        four_h = 4 * hidden_size
        self.weight_ih = Parameter(init.glorot_uniform((input_size, four_h)))
        self.weight_hh = Parameter(init.orthogonal((hidden_size, four_h)))
        if bias:
            b = init.zeros((four_h,))
            if unit_forget_bias:
                b.data[hidden_size:2 * hidden_size] = 1.0
            self.bias = Parameter(b)
        else:
            self.bias = None

    def forward(self, x, state=None):
        time_axis = 1 if self.batch_first else 0
        if x.ndim != 3 or x.shape[-1] != self.input_size or x.shape[time_axis] == 0:
            layout = "(N, T, {})" if self.batch_first else "(T, N, {})"
            raise ValueError(f"{self!r}: expected an input of shape {layout.format(self.input_size)} "
                             f"with T >= 1, got {x.shape}")
        n = x.shape[1 - time_axis]
        h, c = self._initial_state(state, n, x)
        z = self._project_inputs(x)
        if not self.batch_first:
            z = transpose(z, (1, 0, 2))
        outputs, c = lstm_recurrence(z, h, c, self.weight_hh)
        if not self.batch_first:
            outputs = transpose(outputs, (1, 0, 2))
        return outputs, (outputs[:, -1] if self.batch_first else outputs[-1], c)

    def _project_inputs(self, x):
        """``x·W + b`` for every step at once, as one (N·T, in) @ (in, 4H) product."""
        z = reshape(reshape(x, (-1, self.input_size)) @ self.weight_ih, x.shape[:2] + (4 * self.hidden_size,))
        return z if self.bias is None else z + self.bias

    def _initial_state(self, state, n: int, x):
        if state is None:
            return (zeros((n, self.hidden_size), dtype=x.dtype, device=x.device),) * 2
        h, c = state
        if h.shape != (n, self.hidden_size) or c.shape != (n, self.hidden_size):
            raise ValueError(f"{self!r}: the initial state (h, c) must have shapes ({n}, {self.hidden_size}), "
                             f"got {h.shape} and {c.shape}")
        return h, c

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, batch_first={self.batch_first}, "
                f"bias={self.bias is not None}")
