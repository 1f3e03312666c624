"""Optimizer mechanics: which parameters are updated, stale graphs, dtypes, parameter groups, the
state dict round trip through ``numpy.savez``, and Keras-convention Adam against the book spec."""

import numpy as np
import pytest

import tinygdl
from tinygdl import Tensor, optim
from tinygdl.nn import Parameter

ROUND_TRIP_CASES = {
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "adam_keras": lambda ps: optim.Adam(ps, lr=1e-2, betas=(0.5, 0.9), eps_convention="keras"),
    "adamw_groups": lambda ps: optim.AdamW([{"params": ps[:1], "weight_decay": 0.0}, {"params": ps[1:]}], lr=1e-2),
    "rmsprop_centered": lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.9, centered=True),
}


def params(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal(shape).astype(dtype)) for shape in [(3, 2), (2,), ()]]


def gradients(step, ps):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(p.shape).astype(p.dtype) for p in ps]


def run(opt, ps, steps):
    for step in steps:
        for p, g in zip(ps, gradients(step, ps)):
            p.grad = Tensor(g, device=p.device)
        opt.step()


@pytest.mark.parametrize("case", ROUND_TRIP_CASES)
def test_state_dict_round_trip_through_savez_continues_identically(case, tmp_path):
    build = ROUND_TRIP_CASES[case]
    straight = params()
    opt = build(straight)
    run(opt, straight, range(6))

    first = params()
    opt = build(first)
    run(opt, first, range(3))
    np.savez(tmp_path / "optimizer.npz", **opt.state_dict())
    np.savez(tmp_path / "model.npz", *[p.numpy() for p in first])

    with np.load(tmp_path / "model.npz") as model:
        resumed = [Parameter(model[f"arr_{i}"]) for i in range(len(first))]
    opt = build(resumed)
    with np.load(tmp_path / "optimizer.npz") as saved:
        opt.load_state_dict(saved)
    run(opt, resumed, range(3, 6))
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_state_dict_restores_hyperparameters_with_their_types(tmp_path):
    ps = params()
    opt = optim.Adam(ps, lr=1e-3, betas=(0.5, 0.9), eps_convention="keras")
    run(opt, ps, range(2))
    opt.param_groups[0]["lr"] = 5e-4  # e.g. changed by a schedule
    np.savez(tmp_path / "o.npz", **opt.state_dict())
    fresh = optim.Adam(params(), lr=1.0)
    with np.load(tmp_path / "o.npz") as saved:
        fresh.load_state_dict(saved)
    group = fresh.param_groups[0]
    assert group["lr"] == 5e-4 and group["betas"] == (0.5, 0.9) and group["eps_convention"] == "keras"
    assert type(group["lr"]) is float and type(group["eps_convention"]) is str
    steps = [fresh.state[p]["step"] for p in fresh.param_groups[0]["params"]]
    assert all(step == 2 and type(step) is int for step in steps)


def test_state_dict_holds_copies_on_the_cpu():
    ps = params()
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    run(opt, ps, range(1))
    state = opt.state_dict()
    before = state["state.0.momentum_buffer"].copy()
    run(opt, ps, range(1, 2))
    np.testing.assert_array_equal(state["state.0.momentum_buffer"], before)
    assert state["group.0.num_params"] == 3 and state["group.0.nesterov"] is False


def test_loading_into_a_different_optimizer_layout_fails():
    ps = params()
    opt = optim.Adam(ps)
    run(opt, ps, range(1))
    state = opt.state_dict()
    with pytest.raises(ValueError, match="parameters"):
        optim.Adam(ps[:2]).load_state_dict(state)
    with pytest.raises(ValueError, match="groups"):
        optim.Adam([{"params": ps[:1]}, {"params": ps[1:]}]).load_state_dict(state)
    with pytest.raises(ValueError, match="shape"):
        optim.Adam([Parameter(np.zeros((2, 3))), *ps[1:]]).load_state_dict(state)


@pytest.mark.gpu
@pytest.mark.parametrize("case", ROUND_TRIP_CASES)
def test_cuda_parameters_follow_the_cpu_and_their_state_round_trips(case):
    build = ROUND_TRIP_CASES[case]
    on_cpu = params()
    on_gpu = [Parameter(p.numpy().copy(), device="cuda") for p in on_cpu]
    cpu_opt, gpu_opt = build(on_cpu), build(on_gpu)
    run(cpu_opt, on_cpu, range(3))
    run(gpu_opt, on_gpu, range(3))
    for a, b in zip(on_gpu, on_cpu):
        assert a.device.type == "cuda"
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-15)
    state = gpu_opt.state_dict()
    assert all(isinstance(v, np.ndarray) for k, v in state.items() if k.startswith("state.") and not k.endswith("step"))
    resumed = [Parameter(p.numpy().copy(), device="cuda") for p in on_gpu]
    opt = build(resumed)
    opt.load_state_dict(state)
    arrays = [v for s in opt.state.values() for v in s.values() if not isinstance(v, int)]
    assert all(tinygdl.backend.is_cupy_array(v) for v in arrays)
    run(opt, resumed, range(3, 5))
    run(cpu_opt, on_cpu, range(3, 5))
    for a, b in zip(resumed, on_cpu):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- which parameters move


def test_parameters_without_grad_or_frozen_are_left_alone():
    free, frozen, unused = params()
    frozen.trainable = False
    frozen.grad = Tensor(np.ones(frozen.shape))  # e.g. left over from before freezing
    opt = optim.Adam([free, frozen, unused], lr=0.1)
    free.grad = Tensor(np.ones(free.shape))
    before = [p.numpy().copy() for p in (free, frozen, unused)]
    opt.step()
    assert not np.array_equal(free.numpy(), before[0])
    np.testing.assert_array_equal(frozen.numpy(), before[1])
    np.testing.assert_array_equal(unused.numpy(), before[2])
    assert frozen not in opt.state and unused not in opt.state


def test_zero_grad_clears_gradients():
    ps = params()
    opt = optim.SGD(ps, lr=0.1)
    for p in ps:
        p.grad = Tensor(np.ones(p.shape))
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


def test_a_graph_built_before_the_step_refuses_to_backward():
    w = Parameter(np.array([1.0, 2.0]))
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_training_a_quadratic_converges():
    target = np.array([1.0, -2.0, 3.0])
    w = Parameter(np.zeros(3))
    opt = optim.Adam([w], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        ((w - Tensor(target)) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), target, atol=1e-3)


@pytest.mark.parametrize("build", ROUND_TRIP_CASES.values(), ids=list(ROUND_TRIP_CASES))
def test_float32_parameters_and_state_stay_float32(build):
    ps = params(dtype=np.float32)
    opt = build(ps)
    run(opt, ps, range(2))
    assert all(p.dtype == np.float32 for p in ps)
    for state in opt.state.values():
        assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))


# --------------------------------------------------------------------------- groups and arguments


def test_groups_take_the_defaults_they_do_not_override():
    a, b, c = params()
    opt = optim.Adam([{"params": [a], "lr": 0.5}, {"params": [b, c]}], lr=0.1, betas=(0.5, 0.9))
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[1]["lr"] == 0.1
    assert opt.param_groups[0]["betas"] == (0.5, 0.9)


def test_module_parameters_generator_and_single_tensor_are_accepted():
    model = tinygdl.nn.Module()
    model.w = Parameter(np.zeros(2))
    assert optim.SGD(model.parameters(), lr=0.1).param_groups[0]["params"] == [model.w]
    assert optim.SGD(iter([model.w]), lr=0.1).param_groups[0]["params"] == [model.w]
    assert optim.SGD(model.w, lr=0.1).param_groups[0]["params"] == [model.w]


@pytest.mark.parametrize("make,message", [
    (lambda ps: optim.SGD([], lr=0.1), "empty"),
    (lambda ps: optim.SGD([ps[0], ps[0]], lr=0.1), "two groups"),
    (lambda ps: optim.SGD([{"params": ps[:1]}, {"params": ps[:1]}], lr=0.1), "two groups"),
    (lambda ps: optim.SGD([{"params": ps, "betas": (0.9, 0.9)}], lr=0.1), "unknown hyperparameters"),
    (lambda ps: optim.SGD([np.zeros(2)], lr=0.1), "Tensors"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "Nesterov"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.9)), "betas"),
    (lambda ps: optim.Adam(ps, eps_convention="tf"), "eps_convention"),
    (lambda ps: optim.RMSprop(ps, alpha=1.5), "alpha"),
])
def test_bad_arguments_are_refused(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(params())


def test_eps_defaults_follow_the_convention():
    assert optim.Adam(params()).param_groups[0]["eps"] == 1e-8
    assert optim.Adam(params(), eps_convention="keras").param_groups[0]["eps"] == 1e-7
    assert optim.AdamW(params(), eps=1e-6, eps_convention="keras").param_groups[0]["eps"] == 1e-6
    assert optim.AdamW(params()).param_groups[0]["weight_decay"] == 1e-2


# --------------------------------------------------------------------------- Keras convention


def keras_adam_reference(theta, grads, lr, beta1, beta2, eps, decoupled_decay=0.0):
    """The book spec (§1.5) in NumPy: decay θ ← θ − lr·wd·θ first (AdamW), then
    α_t = lr·sqrt(1 − β2^t)/(1 − β1^t),  θ ← θ − α_t·m/(sqrt(v) + ε)."""
    theta, m, v = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        theta = theta - lr * decoupled_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        theta = theta - alpha * m / (np.sqrt(v) + eps)
    return theta


@pytest.mark.parametrize("optimizer,decay", [(optim.Adam, 0.0), (optim.AdamW, 1e-4)])
@pytest.mark.parametrize("grad_scale", [1.0, 1e-8])
def test_keras_convention_follows_the_spec(optimizer, decay, grad_scale, cpu_kernels):
    rng = np.random.default_rng(3)
    theta = rng.standard_normal((5, 3))
    grads = [grad_scale * rng.standard_normal((5, 3)) for _ in range(6)]
    p = Parameter(theta.copy())
    kwargs = dict(weight_decay=decay) if optimizer is optim.AdamW else {}
    opt = optimizer([p], lr=2e-4, betas=(0.5, 0.9), eps_convention="keras", **kwargs)
    assert opt.param_groups[0]["eps"] == 1e-7  # Keras's default epsilon
    for g in grads:
        p.grad = Tensor(g)
        opt.step()
    expected = keras_adam_reference(theta, grads, 2e-4, 0.5, 0.9, 1e-7, decay)
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_the_two_eps_conventions_differ_only_for_tiny_gradients():
    def final(grad_scale, convention):
        rng = np.random.default_rng(4)
        p = Parameter(np.zeros(50))
        opt = optim.Adam([p], lr=1e-3, eps=1e-7, eps_convention=convention)
        for _ in range(3):
            p.grad = Tensor(grad_scale * rng.standard_normal(50))
            opt.step()
        return p.numpy()

    np.testing.assert_allclose(final(1.0, "keras"), final(1.0, "torch"), rtol=1e-2)
    assert not np.allclose(final(1e-8, "keras"), final(1e-8, "torch"), rtol=1e-2)
