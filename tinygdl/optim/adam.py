"""Adam and AdamW, in both the PyTorch and the Keras placement of ε.

Adam keeps two running averages per parameter, of the gradient and of its square::

    t ← t + 1
    m ← β1·m + (1 − β1)·g          (first moment: a smoothed gradient)
    v ← β2·v + (1 − β2)·g²         (second moment: a smoothed squared gradient)

Both start at zero, so early on they are biased towards zero; dividing by ``1 − β^t`` corrects
that.  The two libraries then differ in where the small ε goes:

* ``eps_convention="torch"`` (PyTorch, the paper; default ε = 1e-8)::

      θ ← θ − lr · m̂ / (sqrt(v̂) + ε)          m̂ = m/(1 − β1^t),  v̂ = v/(1 − β2^t)

* ``eps_convention="keras"`` (Keras/TensorFlow, the book's models; default ε = 1e-7)::

      α_t = lr · sqrt(1 − β2^t) / (1 − β1^t)
      θ ← θ − α_t · m / (sqrt(v) + ε)           ε added to the *uncorrected* sqrt(v)

The two agree except when sqrt(v) is comparable to ε (tiny gradients); they are written out
separately so that a model rebuilt from the book follows Keras exactly.  The default is
``"torch"`` because the optimizer's interface is PyTorch's; the book's models pass
``eps_convention="keras"`` (which also switches ε's default to Keras's 1e-7).

Both forms are one fused kernel, ``tinygdl.kernels.adam_update``, which computes
``m, v`` as above and ``θ ← θ − step_size · m / (sqrt(v)·v_scale + ε)``; the conventions differ
only in ``step_size`` and ``v_scale`` (see ``_step_scales``).

Weight decay
------------
``Adam(weight_decay=λ)`` is PyTorch's L2 penalty folded into the gradient, ``g ← g + λ·θ``, which
Adam then rescales like any other gradient.  ``AdamW`` *decouples* it (Loshchilov & Hutter): the
parameters shrink directly, ``θ ← θ − lr·λ·θ``, before the Adam step on the raw gradient.
PyTorch's ``AdamW`` and Keras's ``AdamW`` (the book's diffusion model) apply this decay in the same
place — before the Adam update, with the current learning rate — so ``AdamW`` differs between the
two libraries only in the ε convention.
"""

from __future__ import annotations

import math

from .. import backend, kernels
from .optimizer import Optimizer

EPS_DEFAULTS = {"torch": 1e-8, "keras": 1e-7}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015).  ``eps=None`` takes the convention's default (see the module doc)."""

    decoupled_weight_decay = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float | None = None,
                 weight_decay: float = 0.0, eps_convention: str = "torch"):
        if eps_convention not in EPS_DEFAULTS:
            raise ValueError(f"{type(self).__name__}: eps_convention must be 'torch' or 'keras', "
                             f"got {eps_convention!r}")
        eps = EPS_DEFAULTS[eps_convention] if eps is None else eps
        beta1, beta2 = betas
        if lr < 0 or eps < 0 or weight_decay < 0 or not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"{type(self).__name__}: need lr, eps, weight_decay >= 0 and betas in [0, 1) "
                             f"(got lr={lr}, eps={eps}, weight_decay={weight_decay}, betas={betas})")
        super().__init__(params, dict(lr=lr, betas=(float(beta1), float(beta2)), eps=eps,
                                      weight_decay=weight_decay, eps_convention=eps_convention))

    def _update(self, param, grad, group, state):
        lr, decay = group["lr"], group["weight_decay"]
        if decay and self.decoupled_weight_decay:
            param.data *= 1 - lr * decay
        elif decay:
            grad = grad + decay * param.data
        if not state:
            xp = backend.get_array_module(param.data)
            state.update(step=0, exp_avg=xp.zeros_like(param.data), exp_avg_sq=xp.zeros_like(param.data))
        state["step"] += 1
        beta1, beta2 = group["betas"]
        step_size, v_scale = _step_scales(lr, beta1, beta2, state["step"], group["eps_convention"])
        kernels.adam_update(param.data, grad, state["exp_avg"], state["exp_avg_sq"],
                            step_size, beta1, beta2, group["eps"], v_scale)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``θ ← θ − lr·λ·θ``, then the Adam step (module doc).

    The default λ = 1e-2 is PyTorch's; the book's diffusion model uses
    ``AdamW(params, lr=1e-3, weight_decay=1e-4, eps_convention="keras")``.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float | None = None,
                 weight_decay: float = 1e-2, eps_convention: str = "torch"):
        super().__init__(params, lr, betas, eps, weight_decay, eps_convention)


def _step_scales(lr, beta1, beta2, t, convention):
    """``(step_size, v_scale)`` of step ``t`` for ``θ ← θ − step_size·m/(sqrt(v)·v_scale + ε)``.

    torch:  step_size = lr/(1 − β1^t),                v_scale = 1/sqrt(1 − β2^t)  (so sqrt(v)·v_scale = sqrt(v̂))
    keras:  step_size = lr·sqrt(1 − β2^t)/(1 − β1^t),  v_scale = 1
    """
    correction1, correction2 = 1 - beta1**t, 1 - beta2**t
    if convention == "keras":
        return lr * math.sqrt(correction2) / correction1, 1.0
    return lr / correction1, 1 / math.sqrt(correction2)
