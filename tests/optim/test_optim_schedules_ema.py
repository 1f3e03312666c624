"""Gradient clipping, learning-rate schedules and the weight EMA (their PyTorch comparisons are in
test_optim_vs_torch.py)."""

import math

import numpy as np
import pytest

from tinygdl import Tensor, optim
from tinygdl.nn import Module, Parameter

# --------------------------------------------------------------------------- clipping


def test_a_gradient_shared_by_two_parameters_is_clipped_once():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    shared = Tensor(np.array([3.0, 4.0]))
    a.grad = b.grad = shared  # backward of a + b can hand both the same tensor
    total = optim.clip_grad_norm_([a, b], 1.0)
    assert total.item() == pytest.approx(math.sqrt(50))
    np.testing.assert_allclose(a.grad.numpy(), [3 / math.sqrt(50), 4 / math.sqrt(50)], rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy())
    np.testing.assert_array_equal(shared.numpy(), [3.0, 4.0])


def test_clipping_skips_parameters_without_gradients():
    p = Parameter(np.zeros(2))
    assert optim.clip_grad_norm_([p], 1.0).item() == 0.0
    optim.clip_grad_value_(p, 1.0)
    assert p.grad is None


# --------------------------------------------------------------------------- schedules


def test_warmup_cosine_shape():
    f = lambda step: optim.warmup_cosine(step, 1.0, warmup_steps=10, total_steps=110, min_lr=0.1)  # noqa: E731
    assert f(0) == 0.0 and f(5) == pytest.approx(0.5) and f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55)  # halfway down the cosine: (1 + 0.1)/2
    assert f(110) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)
    assert all(f(s) >= f(s + 1) for s in range(10, 120))


def test_cosine_stays_at_the_minimum_after_the_end():
    assert optim.cosine_annealing(25, 1.0, total_steps=10, min_lr=0.2) == pytest.approx(0.2)


def test_schedules_refuse_zero_lengths():
    with pytest.raises(ValueError, match="positive"):
        optim.linear_warmup(0, 1.0, warmup_steps=0)
    with pytest.raises(ValueError, match="positive"):
        optim.cosine_annealing(0, 1.0, total_steps=0)


def test_scheduler_state_round_trip(tmp_path):
    def build():
        return optim.SGD([Parameter(np.zeros(1))], lr=0.1)

    opt = build()
    scheduler = optim.WarmupCosineLR(opt, warmup_steps=3, total_steps=20)
    for _ in range(7):
        scheduler.step()
    np.savez(tmp_path / "s.npz", **scheduler.state_dict())
    resumed = optim.WarmupCosineLR(build(), warmup_steps=3, total_steps=20)
    with np.load(tmp_path / "s.npz") as saved:
        resumed.load_state_dict(saved)
    assert resumed.get_last_lr() == scheduler.get_last_lr()
    scheduler.step()
    resumed.step()
    assert resumed.get_last_lr() == scheduler.get_last_lr() and resumed.base_lrs == [0.1]


def test_custom_schedule_function():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    scheduler = optim.LRScheduler(opt, lambda step, base_lr: base_lr / (1 + step))
    scheduler.step()
    scheduler.step()
    assert scheduler.get_last_lr() == [pytest.approx(1 / 3)]


# --------------------------------------------------------------------------- EMA


class Tiny(Module):
    def __init__(self, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = Parameter(rng.standard_normal((2, 3)))
        self.frozen = Parameter(rng.standard_normal(3), trainable=False)
        self.register_buffer("running_mean", rng.standard_normal(3))
        self.register_buffer("count", np.array(0))


def test_ema_follows_the_formula_for_weights_and_float_buffers():
    model = Tiny(0)
    ema = optim.EMA(model, decay=0.9)
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    for step in range(1, 4):
        for name in ("w", "frozen", "running_mean"):
            t = model.state_dict()[name]
            t.data += step  # stands in for an optimizer step / a batch-norm update
            expected[name] = 0.9 * expected[name] + 0.1 * t.data
        model.count.data[...] = step
        ema.update()
    for name, value in ema.module.state_dict().items():
        np.testing.assert_allclose(value.numpy(), expected[name] if name != "count" else 3, rtol=1e-14)
    assert ema.num_updates == 3


def test_ema_module_is_a_frozen_copy_without_gradients():
    model = Tiny(0)
    model.w.grad = Tensor(np.ones((2, 3)))
    ema = optim.EMA(model, decay=0.99)
    assert ema.module is not model and ema.module.w is not model.w
    assert ema.module.w.grad is None and not ema.module.w.trainable and not ema.module.training
    np.testing.assert_array_equal(ema.module.w.numpy(), model.w.numpy())
    assert model.w.trainable and model.w.grad is not None  # the model itself is untouched


def test_ema_can_start_from_a_fresh_model_and_copy_into_another():
    model, fresh, target = Tiny(0), Tiny(1), Tiny(2)
    ema = optim.EMA(model, decay=0.5, ema_model=fresh)
    ema.update()
    np.testing.assert_allclose(fresh.w.numpy(), 0.5 * Tiny(1).w.numpy() + 0.5 * model.w.numpy())
    ema.copy_to(target)
    np.testing.assert_array_equal(target.w.numpy(), fresh.w.numpy())


def test_ema_refuses_a_different_architecture():
    other = Module()
    other.w = Parameter(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="same weights"):
        optim.EMA(Tiny(0), ema_model=other)


def test_ema_state_round_trip(tmp_path):
    model = Tiny(0)
    ema = optim.EMA(model, decay=0.9)
    model.w.data += 1
    ema.update()
    np.savez(tmp_path / "ema.npz", **ema.state_dict())
    resumed = optim.EMA(Tiny(0), decay=0.5)
    with np.load(tmp_path / "ema.npz") as saved:
        resumed.load_state_dict(saved)
    assert resumed.decay == 0.9 and resumed.num_updates == 1
    np.testing.assert_array_equal(resumed.module.w.numpy(), ema.module.w.numpy())
