"""Stochastic gradient descent, with optional momentum (heavy-ball or Nesterov) and L2 weight decay."""

from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    """Plain or momentum SGD, step for step as ``torch.optim.SGD``.

    With gradient ``g``, learning rate ``lr`` and momentum ``μ``::

        g ← g + weight_decay·θ                        (L2 penalty folded into the gradient)
        b ← g                           on the first step,
        b ← μ·b + (1 − dampening)·g     afterwards    (the "velocity")
        d ← g + μ·b  if nesterov  else  b
        θ ← θ − lr·d

    With ``momentum=0`` it is ``θ ← θ − lr·g``.  (Keras's SGD writes momentum as
    ``v ← μ·v − lr·g; θ ← θ + v``, the same iterates when lr is constant.)
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0 (got {lr}, {momentum}, {weight_decay})")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay, dampening=dampening))

    def _update(self, param, grad, group, state):
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        momentum = group["momentum"]
        if momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.copy()
            else:
                buffer = state["momentum_buffer"]
                buffer *= momentum
                buffer += (1 - group["dampening"]) * grad
            buffer = state["momentum_buffer"]
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        param.data -= group["lr"] * grad
