"""Recurrent layers: the LSTM (book chapter 5, the recipe generator)."""

from __future__ import annotations

from ...ops.creation import zeros
from ...ops.elementwise import sigmoid, tanh
from ...ops.shape import reshape, split, stack
from .. import init
from ..module import Module, Parameter

__all__ = ["LSTM"]


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

    **Parameters**, in Keras's layout and with Keras's initializers (book-models §1.3):
    ``weight_ih`` W (input_size, 4H), glorot_uniform; ``weight_hh`` U (H, 4H), orthogonal;
    ``bias`` b (4H,), zeros except the forget-gate block, 1 (``unit_forget_bias``: the cell
    remembers by default at the start of training).  The gate order i, f, g, o is PyTorch's and
    Keras's.  ``torch.nn.LSTM`` stores the transposes, (4H, input_size) and (4H, H), and two biases
    ``b_ih + b_hh`` where Keras has one — so Keras's parameter count, 4H·(input_size + H + 1).

    Backpropagation through time is plain autograd over the unrolled loop.  To keep the per-step
    Python work small, the input projection of the whole sequence is one matrix product before
    the loop, each step does one (N, H)·(H, 4H) product, and the gates come from one ``split``.
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
        outputs = []
        for x_t in split(self._project_inputs(x), 1, axis=time_axis):
            z = reshape(x_t, (n, 4 * self.hidden_size)) + h @ self.weight_hh
            i, f, g, o = split(z, self.hidden_size, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * tanh(g)
            h = sigmoid(o) * tanh(c)
            outputs.append(h)
        return stack(outputs, axis=time_axis), (h, c)

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
