"""Each optimizer against ``torch.optim``: identical parameters, identical gradients, several steps,
float64, agreement to ~1e-12 (Adam with both CPU flavours of the fused kernel).
Gradient clipping and the learning-rate schedulers against ``torch.nn.utils`` and
``torch.optim.lr_scheduler``."""

import math

import numpy as np
import pytest

from tinygdl import Tensor, optim
from tinygdl.nn import Parameter

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

SHAPES = [(3, 4), (4,), (2, 3, 2)]
STEPS = 6


def twin_params(seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape) for shape in SHAPES]
    return [Parameter(a.copy()) for a in arrays], [torch.tensor(a.copy(), requires_grad=True) for a in arrays]


def gradient_stream(seed=1, scale=1.0):
    """STEPS lists of gradients; on step 2 the second parameter has none (it must be skipped)."""
    rng = np.random.default_rng(seed)
    stream = [[scale * rng.standard_normal(shape) for shape in SHAPES] for _ in range(STEPS)]
    stream[2][1] = None
    return stream


def one_group(params):
    return params


def two_groups(params):
    """Different lr (and, where given, weight decay) per group; the second group keeps the defaults."""
    return [{"params": params[:2], "lr": 0.05}, {"params": params[2:]}]


def three_groups_with_decay_off(params):
    return [{"params": params[:1], "weight_decay": 0.0}, {"params": params[1:2], "lr": 0.3},
            {"params": params[2:]}]


def set_grads(ours, theirs, grads):
    for p, tp, g in zip(ours, theirs, grads):
        p.grad = None if g is None else Tensor(g.copy())
        tp.grad = None if g is None else torch.tensor(g.copy())


def run_twins(our_class, torch_class, groups, kwargs, grad_scale=1.0):
    ours, theirs = twin_params()
    our_opt = our_class(groups(ours), **kwargs)
    torch_opt = torch_class(groups(theirs), **kwargs)
    for step, grads in enumerate(gradient_stream(scale=grad_scale)):
        set_grads(ours, theirs, grads)
        our_opt.step()
        torch_opt.step()
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-13,
                                       err_msg=f"step {step}")


SGD_CASES = {
    "plain": (one_group, dict(lr=0.1)),
    "momentum_dampening_decay": (one_group, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "nesterov": (one_group, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    "groups": (two_groups, dict(lr=0.1, momentum=0.5)),
}


@pytest.mark.parametrize("case", SGD_CASES)
def test_sgd_matches_torch(case):
    groups, kwargs = SGD_CASES[case]
    run_twins(optim.SGD, torch.optim.SGD, groups, kwargs)


ADAM_CASES = {
    "defaults": (one_group, dict(lr=1e-3)),
    "gan_betas_l2_decay": (one_group, dict(lr=2e-4, betas=(0.5, 0.9), weight_decay=0.1)),
    "groups": (two_groups, dict(lr=1e-2, betas=(0.8, 0.99))),
    "tiny_gradients": (one_group, dict(lr=1e-3, eps=1e-8)),
}


@pytest.mark.parametrize("case", ADAM_CASES)
def test_adam_matches_torch(case, cpu_kernels):
    groups, kwargs = ADAM_CASES[case]
    run_twins(optim.Adam, torch.optim.Adam, groups, kwargs, grad_scale=1e-9 if case == "tiny_gradients" else 1.0)


ADAMW_CASES = {
    "default_decay": (one_group, dict(lr=1e-2)),
    "decay_per_group": (three_groups_with_decay_off, dict(lr=1e-2, weight_decay=0.1, betas=(0.5, 0.999))),
}


@pytest.mark.parametrize("case", ADAMW_CASES)
def test_adamw_matches_torch(case, cpu_kernels):
    groups, kwargs = ADAMW_CASES[case]
    run_twins(optim.AdamW, torch.optim.AdamW, groups, kwargs)


RMSPROP_CASES = {
    "defaults": (one_group, dict(lr=1e-2)),
    "centered_momentum_decay": (one_group, dict(lr=1e-2, alpha=0.9, momentum=0.9, centered=True, weight_decay=0.01)),
    "momentum_groups": (two_groups, dict(lr=1e-3, momentum=0.5, eps=1e-6)),
}


@pytest.mark.parametrize("case", RMSPROP_CASES)
def test_rmsprop_matches_torch(case):
    groups, kwargs = RMSPROP_CASES[case]
    run_twins(optim.RMSprop, torch.optim.RMSprop, groups, kwargs)


# --------------------------------------------------------------------------- clipping


def grads_twins(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    arrays = [scale * rng.standard_normal(shape) for shape in [(3, 4), (5,), (2, 2)]]
    ours = [Parameter(np.zeros(a.shape)) for a in arrays]
    theirs = [torch.zeros(a.shape, dtype=torch.float64, requires_grad=True) for a in arrays]
    for p, tp, a in zip(ours, theirs, arrays):
        p.grad, tp.grad = Tensor(a.copy()), torch.tensor(a.copy())
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = grads_twins()
    total = optim.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, Tensor) and total.shape == ()  # a tensor, as PyTorch's: no host read
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_matches_torch():
    ours, theirs = grads_twins()
    optim.clip_grad_value_(ours, 0.3)
    torch.nn.utils.clip_grad_value_(theirs, 0.3)
    for p, tp in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


# --------------------------------------------------------------------------- schedules


def lr_sequences(ours_factory, torch_factory, steps, lrs=(0.1, 0.02)):
    ours = optim.SGD([{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in lrs], lr=1.0)
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=1.0)
    ours_scheduler, torch_scheduler = ours_factory(ours), torch_factory(theirs)
    got, expected = [], []
    for _ in range(steps):
        got.append([g["lr"] for g in ours.param_groups])
        expected.append([g["lr"] for g in theirs.param_groups])
        ours.step()
        theirs.step()
        ours_scheduler.step()
        torch_scheduler.step()
    return np.array(got), np.array(expected)


SCHEDULE_CASES = {
    "step": (lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
             lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 12),
    "cosine": (lambda o: optim.CosineAnnealingLR(o, total_steps=10, min_lr=0.001),
               lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 11),
    "warmup": (lambda o: optim.LinearWarmupLR(o, warmup_steps=4, start_factor=0.25),
               lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4), 8),
}


@pytest.mark.parametrize("case", SCHEDULE_CASES)
def test_schedulers_match_torch(case):
    ours_factory, torch_factory, steps = SCHEDULE_CASES[case]
    got, expected = lr_sequences(ours_factory, torch_factory, steps)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
