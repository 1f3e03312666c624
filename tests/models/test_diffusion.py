"""The diffusion model (chapter 8): schedule, sinusoidal embedding, U-Net, samplers, and the PyTorch
twin (``benchmarks/twins/diffusion.py``) with copied weights: forward and every gradient in float64,
and 50 training steps in float32 fed the same draws.  Reduced widths and sizes here; the book's
U-Net in the ``slow`` tests."""

import math

import numpy as np
import pytest

import tinygdl as tg
from tinygdl import nn
from tinygdl.errors import ShapeError
from tinygdl.models.diffusion import (
    DiffusionStep,
    SinusoidalEmbedding,
    UNet,
    build_unet,
    ddim_sample,
    offset_cosine_schedule,
    spherical_mix,
)
from tinygdl.optim import EMA, AdamW

SMALL_WIDTHS = (8, 12, 16)


@pytest.fixture
def one_torch_thread(torch):
    """PyTorch on one thread (its thread pool only thrashes a busy machine on these small networks)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- schedule and embedding


def test_offset_cosine_schedule_keeps_unit_variance_and_hits_its_endpoints():
    t = np.linspace(0, 1, 101)
    signal, noise = offset_cosine_schedule(tg.tensor(t, dtype="float64"))
    np.testing.assert_allclose(signal.numpy() ** 2 + noise.numpy() ** 2, 1.0, atol=1e-15)
    assert np.all(np.diff(signal.numpy()) < 0)  # ever noisier
    assert offset_cosine_schedule(0.0)[0] == pytest.approx(0.95, abs=1e-15)
    assert offset_cosine_schedule(1.0)[0] == pytest.approx(0.02, abs=1e-15)
    assert offset_cosine_schedule(0.0)[1] == pytest.approx(math.sqrt(1 - 0.95**2), abs=1e-15)
    np.testing.assert_allclose(signal.numpy()[37], offset_cosine_schedule(0.37)[0], rtol=1e-14)  # float = Tensor


def test_sinusoidal_embedding_sines_first_log_spaced_and_broadcast(torch):
    with tg.default_dtype(np.float64):
        layer = SinusoidalEmbedding(16)
    speeds = layer.angular_speeds.numpy().ravel()
    np.testing.assert_allclose(speeds / (2 * np.pi), np.geomspace(1, 1000, 16), rtol=1e-12)
    v = np.array([0.0, 0.25, 0.9], dtype=np.float64).reshape(3, 1, 1, 1)
    x = tg.tensor(v, dtype="float64", requires_grad=True)
    y = layer(x, (4, 5))
    assert y.shape == (3, 32, 4, 5)
    np.testing.assert_array_equal(y.numpy()[0, :16], 0.0)  # sin(0), then cos(0)
    np.testing.assert_array_equal(y.numpy()[0, 16:], 1.0)
    tx = torch.tensor(v, requires_grad=True)
    angles = tx * torch.tensor(speeds.astype(np.float64)).reshape(1, 16, 1, 1)
    ty = torch.cat([torch.sin(angles), torch.cos(angles)], 1).expand(-1, -1, 4, 5)
    g = np.random.default_rng(0).standard_normal(y.shape)
    (y * tg.tensor(g, dtype="float64")).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    with pytest.raises(ShapeError, match="SinusoidalEmbedding"):
        layer(tg.zeros(3, 2, 1, 1))


# --------------------------------------------------------------------------- the U-Net


def test_book_unet_counts_1953507_as_keras():
    unet = build_unet()
    trainable = unet.num_parameters()
    statistics = sum(b.size for b in unet.buffers(persistent_only=True))  # BN running mean + variance, no γ/β
    assert (trainable, statistics, trainable + statistics) == (1_950_627, 2_880, 1_953_507)
    table = nn.summary(unet, [(3, 64, 64), (1, 1, 1)], print_fn=lambda *_: None)
    assert "1,953,507" in table


@pytest.mark.parametrize("size", [32, 64])
def test_unet_output_has_the_input_shape_and_starts_at_zero(size):
    unet = build_unet()
    y = unet(tg.randn(1, 3, size, size), tg.rand(1))
    assert y.shape == (1, 3, size, size)
    np.testing.assert_array_equal(y.numpy(), 0.0)  # the zero-initialised output convolution
    with pytest.raises(ShapeError, match="divisible by 8"):
        unet(tg.randn(1, 3, 20, 20), tg.rand(1))


# --------------------------------------------------------------------------- samplers


def oracle(x0):
    """A "network" that knows the clean images: it returns the exact noise in x = s·x0 + n·ε."""
    def network(x, variances):
        noise_rate = np.sqrt(variances.numpy())
        signal_rate = np.sqrt(1 - noise_rate**2)
        return tg.tensor((x.numpy() - signal_rate * x0) / noise_rate, dtype="float64")
    return network


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_with_the_true_noise_returns_x0_exactly(eta):
    rng = np.random.default_rng(0)
    x0, z = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 3, 4, 4))
    estimate, estimates, noisy = ddim_sample(oracle(x0), tg.tensor(z, dtype="float64"), steps=7, eta=eta,
                                             rng=rng, trajectory=True)
    np.testing.assert_allclose(estimate.numpy(), x0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(estimates, np.broadcast_to(x0, estimates.shape), atol=1e-12)
    assert estimates.shape == noisy.shape == (7, 2, 3, 4, 4)
    np.testing.assert_array_equal(noisy[0], z)


def test_deterministic_sampler_is_a_function_of_the_noise_and_eta_adds_noise():
    tg.manual_seed(0)
    unet = build_unet(widths=SMALL_WIDTHS).eval()
    unet.image_out.weight.data[...] = 0.1  # not the zero start, so the network's output matters
    z = tg.randn(2, 3, 8, 8)
    a, b = ddim_sample(unet, z, 3), ddim_sample(unet, z, 3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    c = ddim_sample(unet, z, 3, eta=1.0, rng=np.random.default_rng(1))
    assert not np.allclose(a.numpy(), c.numpy())


def test_spherical_mix_runs_from_b_to_a_keeping_the_variance():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 32, 32)), rng.standard_normal((2, 3, 32, 32))
    mixed = spherical_mix(a, b, 11)
    np.testing.assert_allclose(mixed[0], b, atol=1e-15)
    np.testing.assert_allclose(mixed[-1], a, atol=1e-15)
    assert abs(mixed[5].std() - 1) < 0.05  # a straight average would have std 0.71


# --------------------------------------------------------------------------- the PyTorch twin


def random_output_layer(unet, seed=1):
    """Give the zero-initialised output convolution random weights, so gradients reach every layer."""
    shape = unet.image_out.weight.shape
    unet.image_out.weight.data[...] = np.random.default_rng(seed).standard_normal(shape) * 0.1


def assert_close_to_scale(actual, expected, name="", rtol=1e-9):
    """Equal to ``rtol`` relative to the array's largest entry (a tiny element of a large gradient
    carries the rounding of the large ones)."""
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max(), err_msg=name)


def assert_twins_agree_float64(torch, widths, size, batch):
    from benchmarks.twins.diffusion import build_twin

    tg.manual_seed(0)
    with tg.default_dtype(np.float64):
        unet = build_unet(widths=widths)
    random_output_layer(unet)
    twin = build_twin(torch, unet)
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal((batch, 3, size, size)), rng.uniform(0.1, 1, (batch, 1, 1, 1))
    for training in (True, False):
        unet.train(training), twin.train(training)
        ours = [tg.tensor(a, dtype="float64", requires_grad=True) for a in (x, v)]
        theirs = [torch.tensor(a, requires_grad=True) for a in (x, v)]
        y, ty = unet(*ours), twin(*theirs)
        cotangent = rng.standard_normal(y.shape)
        (y * tg.tensor(cotangent, dtype="float64")).sum().backward()
        (ty * torch.tensor(cotangent)).sum().backward()
        assert_close_to_scale(y.numpy(), ty.detach().numpy())
        for a, b, name in zip(ours, theirs, ("images", "variances")):
            assert_close_to_scale(a.grad.numpy(), b.grad.numpy(), name)
        twin_parameters = dict(twin.named_parameters())
        for name, p in unet.named_parameters():
            assert_close_to_scale(p.grad.numpy(), twin_parameters[name].grad.numpy(),
                                  f"{name} ({'train' if training else 'eval'} mode)")
            p.grad = None
        twin.zero_grad()
        twin_state = twin.state_dict()  # batch norm's running statistics, updated once in train mode
        for name, t in unet.state_dict().items():
            np.testing.assert_allclose(t.numpy(), twin_state[name].numpy(), rtol=1e-12, atol=1e-14, err_msg=name)


def test_twin_forward_and_every_gradient_agree_in_float64(torch):
    assert_twins_agree_float64(torch, SMALL_WIDTHS, size=8, batch=3)


def train_twins(torch, widths, size, batch, steps, dtype=np.float32):
    """Train tinygdl's U-Net and its twin ``steps`` steps on the same batches and draws (float32,
    AdamW with Keras's ε, EMA 0.999); return both loss curves and both EMA networks."""
    from benchmarks.twins.diffusion import KerasAdamW, build_twin, ema_update, twin_loss

    tg.manual_seed(0)
    with tg.default_dtype(dtype):
        unet = build_unet(widths=widths)
    ema = EMA(unet, 0.999)
    twin, ema_twin = build_twin(torch, unet), build_twin(torch, unet)
    draws = {}
    step = DiffusionStep(unet, AdamW(unet.parameters(), lr=1e-3, weight_decay=1e-4, eps_convention="keras"), ema,
                         draw=lambda x0: (tg.tensor(draws["t"], dtype=dtype), tg.tensor(draws["noise"], dtype=dtype)))
    optimizer = KerasAdamW(torch, twin.parameters(), lr=1e-3, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((4 * batch, 3, size, size)) * 0.5 + 0.2).astype(dtype)
    ours, theirs = [], []
    for k in range(steps):
        x0 = data[(k % 4) * batch:(k % 4 + 1) * batch]
        draws["t"] = rng.uniform(size=(batch, 1, 1, 1)).astype(dtype)
        draws["noise"] = rng.standard_normal(x0.shape).astype(dtype)
        ours.append(step((tg.tensor(x0, dtype=dtype),))["n_loss"])
        optimizer.zero_grad()
        loss = twin_loss(torch, twin, *(torch.from_numpy(a) for a in (x0, draws["t"], draws["noise"])))
        loss.backward()
        optimizer.step()
        ema_update(torch, ema_twin, twin)
        theirs.append(loss.item())
    return np.array(ours), np.array(theirs), ema.module, ema_twin


def assert_training_agrees(torch, widths, size, batch, steps=50, rtol=5e-4, compare_ema=True):
    """Float32 rounding differs between the engines (summation orders in the GEMMs, batch norm's
    reductions) and training amplifies it: over 50 steps the losses drift apart to 1e-4 – 2.6e-4
    relative for the small network, to 4.1e-3 for the book's at 32x32, which learns much faster
    (measured; the first ten steps agree to 1e-5).  In float64 they agree to ~1e-15 (the next
    test): the computations are the same."""
    ours, theirs, ema, ema_twin = train_twins(torch, widths, size, batch, steps)
    assert ours[-5:].mean() < ours[:5].mean()  # it learns
    np.testing.assert_allclose(ours[:10], theirs[:10], rtol=1e-4)
    np.testing.assert_allclose(ours, theirs, rtol=rtol)
    twin_state = ema_twin.state_dict()
    for name, t in ema.state_dict().items() if compare_ema else ():
        np.testing.assert_allclose(t.numpy(), twin_state[name].numpy(), rtol=1e-3, atol=1e-4, err_msg=name)


def test_fifty_training_steps_agree_with_the_twin_in_float32(torch, one_torch_thread):
    assert_training_agrees(torch, SMALL_WIDTHS, size=8, batch=8)


def test_training_agrees_with_the_twin_to_rounding_in_float64(torch, one_torch_thread):
    ours, theirs, ema, ema_twin = train_twins(torch, SMALL_WIDTHS, 8, 8, steps=20, dtype=np.float64)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    twin_state = ema_twin.state_dict()
    for name, t in ema.state_dict().items():
        np.testing.assert_allclose(t.numpy(), twin_state[name].numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


def test_adamw_matches_torch_adamw_on_the_unet(torch):
    """The optimizer once more against ``torch.optim.AdamW`` (PyTorch's ε placement), on the U-Net's
    real gradients: the parameters agree after every step."""
    from benchmarks.twins.diffusion import build_twin, twin_loss

    tg.manual_seed(0)
    with tg.default_dtype(np.float64):
        unet = build_unet(widths=SMALL_WIDTHS)
    random_output_layer(unet)
    twin = build_twin(torch, unet)
    ours = AdamW(unet.parameters(), lr=1e-3, weight_decay=1e-4)
    theirs = torch.optim.AdamW(twin.parameters(), lr=1e-3, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x0, noise = rng.standard_normal((2, 4, 3, 8, 8))
        t = rng.uniform(size=(4, 1, 1, 1))
        draws = (tg.tensor(t, dtype="float64"), tg.tensor(noise, dtype="float64"))
        DiffusionStep(unet, ours, draw=lambda x, draws=draws: draws)((tg.tensor(x0, dtype="float64"),))
        theirs.zero_grad()
        twin_loss(torch, twin, *(torch.tensor(a) for a in (x0, t, noise))).backward()
        theirs.step()
        twin_parameters = dict(twin.named_parameters())
        for name, p in unet.named_parameters():
            np.testing.assert_allclose(p.numpy(), twin_parameters[name].detach().numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=name)


@pytest.mark.slow
def test_book_unet_agrees_with_its_twin_in_float64(torch):
    assert_twins_agree_float64(torch, UNet().widths, size=64, batch=2)


@pytest.mark.slow
def test_book_unet_trains_like_its_twin_for_fifty_steps(torch, one_torch_thread):
    # the losses only: the EMA networks' running variances drift apart by up to 2.5e-3 (measured)
    assert_training_agrees(torch, UNet().widths, size=32, batch=16, rtol=1e-2, compare_ema=False)


@pytest.mark.gpu
def test_training_step_and_sampler_on_the_gpu_match_the_cpu():
    import copy

    tg.manual_seed(0)
    with tg.default_dtype(np.float64):
        cpu = build_unet(widths=SMALL_WIDTHS)
    random_output_layer(cpu)
    gpu = copy.deepcopy(cpu).to("cuda")
    rng = np.random.default_rng(0)
    x0, noise = rng.standard_normal((2, 4, 3, 8, 8))
    t = rng.uniform(size=(4, 1, 1, 1))
    for unet, device in ((cpu, "cpu"), (gpu, "cuda")):
        draws = (tg.tensor(t, dtype="float64", device=device), tg.tensor(noise, dtype="float64", device=device))
        step = DiffusionStep(unet, AdamW(unet.parameters(), weight_decay=1e-4, eps_convention="keras"),
                             EMA(unet, 0.9), draw=lambda x, draws=draws: draws)
        step((tg.tensor(x0, dtype="float64", device=device),))
    for name, p in cpu.state_dict().items():
        np.testing.assert_allclose(gpu.state_dict()[name].numpy(), p.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    z = rng.standard_normal((2, 3, 8, 8))
    on_cpu = ddim_sample(cpu.eval(), tg.tensor(z, dtype="float64"), 3, eta=1.0, rng=np.random.default_rng(1))
    on_gpu = ddim_sample(gpu.eval(), tg.tensor(z, dtype="float64", device="cuda"), 3, eta=1.0,
                         rng=np.random.default_rng(1))
    assert on_gpu.device.type == "cuda"
    np.testing.assert_allclose(on_gpu.numpy(), on_cpu.numpy(), rtol=1e-9, atol=1e-12)
