"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from .. import backend
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), step for step as ``torch.optim.RMSprop``::

        g ← g + weight_decay·θ
        s ← α·s + (1 − α)·g²                     (running mean of squared gradients)
        centered:  a ← α·a + (1 − α)·g;  d ← sqrt(s − a²) + ε     (a running variance instead)
        otherwise:                        d ← sqrt(s) + ε
        momentum:  b ← μ·b + g/d;  θ ← θ − lr·b
        otherwise:                 θ ← θ − lr·g/d

    Defaults are PyTorch's (lr 1e-2, α 0.99, ε 1e-8).  Keras's RMSprop differs in its defaults
    (lr 1e-3, ρ = α = 0.9, ε 1e-7) and puts ε inside the root, ``sqrt(s + ε)``; no model of the book
    uses RMSprop.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        if lr < 0 or eps < 0 or weight_decay < 0 or momentum < 0 or not 0 <= alpha < 1:
            raise ValueError(f"RMSprop: need lr, eps, weight_decay, momentum >= 0 and alpha in [0, 1) "
                             f"(got lr={lr}, eps={eps}, weight_decay={weight_decay}, momentum={momentum}, "
                             f"alpha={alpha})")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _update(self, param, grad, group, state):
        xp = backend.get_array_module(param.data)
        alpha, momentum = group["alpha"], group["momentum"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        if not state:
            state["square_avg"] = xp.zeros_like(param.data)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param.data)
            if momentum:
                state["momentum_buffer"] = xp.zeros_like(param.data)
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            denominator = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            denominator = xp.sqrt(square_avg) + group["eps"]
        if momentum:
            buffer = state["momentum_buffer"]
            buffer *= momentum
            buffer += grad / denominator
            param.data -= group["lr"] * buffer
        else:
            param.data -= group["lr"] * (grad / denominator)
