"""The autoencoders of tinygdl.models.autoencoders: the book's model against its spec tables, the
Hands-On ML family (shapes, tied weights, penalties, greedy training), short training runs that
must lower the loss, and the linear autoencoder that finds PCA's subspace."""

import numpy as np
import pytest

import tinygdl
from tinygdl import losses, nn
from tinygdl.latent import principal_angles, principal_subspace
from tinygdl.models import autoencoders as ae
from tinygdl.optim import Adam
from tinygdl.testing import gradcheck

# Per-layer parameter counts of book-models.md §3.3, in the order of the tables.
BOOK_ENCODER = [320, 18_496, 73_856, 4_098]
BOOK_DECODER = [6_144, 147_584, 73_792, 18_464, 289]


def layer_counts(network):
    """The parameter counts of the layers that have parameters, in order."""
    return [n for n in (layer.num_parameters() for layer in network) if n]


def images(n=8, shape=(1, 28, 28), seed=0):
    return tinygdl.tensor(np.random.default_rng(seed).random((n,) + shape).astype(np.float32))


def digits(n=256, size=16):
    """Real 8x8 digits (bundled with scikit-learn), resized to size x size, in [0, 1]."""
    from tinygdl.zoo.images import load_images

    return load_images("digits", image_size=size).x_train[:n]


# --------------------------------------------------------------------------- the book's autoencoder


def test_book_autoencoder_matches_the_spec_table():
    model = ae.book_autoencoder()
    assert layer_counts(model.encoder) == BOOK_ENCODER
    assert layer_counts(model.decoder) == BOOK_DECODER
    assert model.num_parameters() == sum(BOOK_ENCODER) + sum(BOOK_DECODER) == 343_043
    x = images(3, (1, 32, 32))
    z = model.encode(x)
    assert z.shape == (3, 2)
    assert model.decode(z).shape == (3, 1, 32, 32)
    sizes = [layer(x).shape for layer in [model.encoder[:2], model.encoder[:4], model.encoder[:6]]]
    assert sizes == [(3, 32, 16, 16), (3, 64, 8, 8), (3, 128, 4, 4)]


def test_book_autoencoder_output_is_a_probability_per_pixel():
    x_hat = ae.book_autoencoder()(images(2, (1, 32, 32))).numpy()
    assert ((x_hat > 0) & (x_hat < 1)).all()


def test_conv_builders_follow_the_image_size():
    model = ae.book_autoencoder((3, 16, 16), channels=(8, 16), latent_dim=5)
    assert ae.encoded_shape((3, 16, 16), (8, 16)) == (16, 4, 4)
    assert model(images(2, (3, 16, 16))).shape == (2, 3, 16, 16)


def test_short_training_lowers_the_book_loss():
    """20 Adam steps on 32 real digits (8x8, two stages): the per-pixel BCE falls from log 2."""
    tinygdl.manual_seed(0)
    model = ae.book_autoencoder((1, 8, 8), channels=(8, 16))
    optimizer = Adam(model.parameters(), lr=5e-3, eps_convention="keras")
    x = tinygdl.tensor(digits(32, size=8))
    history = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = losses.binary_cross_entropy(model(x), x)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert history[0] == pytest.approx(np.log(2), abs=0.01)
    assert history[-1] < history[0] - 0.15, history


# --------------------------------------------------------------------------- Hands-On ML: shapes and counts


@pytest.mark.parametrize("build, encoder_counts, decoder_counts, code_shape", [
    (ae.stacked_autoencoder, [78_500, 3_030], [3_100, 79_184], (4, 30)),
    (ae.tied_autoencoder, [78_500, 3_030], [100, 784], (4, 30)),
    (ae.sparse_autoencoder, [78_500, 30_300], [30_100, 79_184], (4, 300)),
    (ae.conv_autoencoder, [160, 4_640, 18_496, 17_310], [4_464, 4_640, 4_624, 145], (4, 30)),
    (ae.recurrent_autoencoder, [51_600, 15_720], [52_400, 2_828], (4, 30)),
])
def test_hands_on_autoencoders_shapes_and_counts(build, encoder_counts, decoder_counts, code_shape):
    model = build()
    assert layer_counts(model.encoder) == encoder_counts
    assert layer_counts(model.decoder) == decoder_counts
    x = images(4)
    codes = model.encode(x)
    assert codes.shape == code_shape
    assert model.decode(codes).shape == (4, 1, 28, 28)


def test_conv_and_recurrent_autoencoders_reject_other_images():
    with pytest.raises(ValueError, match="28x28"):
        ae.conv_autoencoder((1, 32, 32))
    with pytest.raises(ValueError, match="grey"):
        ae.recurrent_autoencoder((3, 28, 28))


# --------------------------------------------------------------------------- tied weights


def test_tied_weights_share_storage_and_one_update_changes_both():
    model = ae.tied_autoencoder((1, 8, 8), hidden=(16, 4))
    dense_0, dense_1 = [layer for layer in model.encoder if isinstance(layer, nn.Linear)]
    tied_0, tied_1 = model.decoder[0], model.decoder[2]
    assert tied_0.weight is dense_1.weight and tied_1.weight is dense_0.weight
    assert len(model.parameters()) == 6  # two kernels, four biases: the kernels are not duplicated
    before = dense_0.weight.numpy().copy()
    optimizer = Adam(model.parameters(), lr=1e-2)
    x = images(4, (1, 8, 8))
    losses.mse_loss(model(x), x).backward()
    optimizer.step()
    assert not np.allclose(dense_0.weight.numpy(), before)
    assert np.shares_memory(tied_1.weight.data, dense_0.weight.data)
    np.testing.assert_array_equal(tied_1.weight.numpy(), dense_0.weight.numpy())


def test_a_tied_kernel_gets_the_gradient_of_both_of_its_uses():
    """The shared kernel's gradient = the encoder use's + the decoder use's (transposed): compare
    with an untied copy holding the same values in two separate tensors."""
    tinygdl.manual_seed(1)
    tied = ae.tied_autoencoder((1, 4, 4), hidden=(6, 3))
    untied = ae.stacked_autoencoder((1, 4, 4), hidden=(6, 3))
    untied_linears = [layer for part in (untied.encoder, untied.decoder) for layer in part
                      if isinstance(layer, nn.Linear)]
    tied_linears = [layer for layer in tied.encoder if isinstance(layer, nn.Linear)]
    tied_biases = [tied.decoder[0].bias, tied.decoder[2].bias]
    for target, source in zip(untied_linears, tied_linears + [None, None]):
        if source is not None:
            target.weight.data[...] = source.weight.data
            target.bias.data[...] = source.bias.data
    for target, source, bias in zip(untied_linears[2:], reversed(tied_linears), tied_biases):
        target.weight.data[...] = source.weight.data.T
        target.bias.data[...] = bias.data
    x = images(5, (1, 4, 4))
    np.testing.assert_allclose(tied(x).numpy(), untied(x).numpy(), rtol=1e-6)
    losses.mse_loss(tied(x), x).backward()
    losses.mse_loss(untied(x), x).backward()
    expected = untied_linears[0].weight.grad.numpy() + untied_linears[3].weight.grad.numpy().T
    np.testing.assert_allclose(tied_linears[0].weight.grad.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_tied_autoencoder_gradcheck(float64):
    """Finite differences through both uses of the shared kernel agree with backward."""
    model = ae.tied_autoencoder((1, 3, 3), hidden=(4, 2))
    dense = model.encoder[1]
    x = images(3, (1, 3, 3)).astype(np.float64)

    def reconstruction(kernel):
        dense.weight = kernel  # where the encoder and the tied decoder layer both read it
        return model(x)

    gradcheck(reconstruction, [tinygdl.tensor(dense.weight.numpy(), requires_grad=True)])


# --------------------------------------------------------------------------- denoising and sparse


@pytest.mark.parametrize("corruption, level", [("dropout", 0.5), ("gaussian", 0.2)])
def test_denoising_autoencoder_corrupts_only_while_training(corruption, level):
    model = ae.stacked_autoencoder((1, 8, 8), hidden=(16, 4), corruption=corruption, corruption_level=level)
    assert type(model.encoder.corruption).__name__ == {"dropout": "Dropout", "gaussian": "GaussianNoise"}[corruption]
    x = images(6, (1, 8, 8))
    model.eval()
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    model.train()
    assert not np.allclose(model.encode(x).numpy(), model.encode(x).numpy())
    with pytest.raises(ValueError, match="corruption"):
        ae.stacked_autoencoder(corruption="salt")


def test_l1_penalty_is_keras_activity_regularization():
    codes = tinygdl.tensor(np.array([[0.5, -1.0, 0.0], [2.0, 0.0, 0.5]], dtype=np.float32))
    assert ae.l1_penalty(codes, weight=0.1).item() == pytest.approx(0.1 * 4.0 / 2)


def test_kl_sparsity_penalty_formula_and_minimum(float64):
    rng = np.random.default_rng(0)
    activations = rng.uniform(0.01, 0.99, size=(16, 5))
    rho_hat, rho = activations.mean(axis=0), 0.1
    expected = 0.5 * np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    codes = tinygdl.tensor(activations, requires_grad=True)
    assert ae.kl_sparsity_penalty(codes, target=rho, weight=0.5).item() == pytest.approx(expected)
    at_target = tinygdl.tensor(np.full((4, 3), rho))
    assert ae.kl_sparsity_penalty(at_target, target=rho).item() == pytest.approx(0.0, abs=1e-12)
    gradcheck(lambda h: ae.kl_sparsity_penalty(h, target=rho, weight=0.5), [codes])


def test_sparse_autoencoder_adds_its_penalty():
    for penalty in ("kl", "l1"):
        model = ae.sparse_autoencoder((1, 8, 8), hidden=(16, 12), penalty=penalty)
        codes = model.encode(images(4, (1, 8, 8)))
        assert ((codes.numpy() > 0) & (codes.numpy() < 1)).all()  # sigmoid codings
        assert model.penalty(codes).item() > 0
    assert ae.stacked_autoencoder().penalty(None) == 0.0
    with pytest.raises(ValueError, match="penalty"):
        ae.sparse_autoencoder(penalty="l2")


def test_kl_penalty_makes_codings_sparse():
    """Trained with the KL penalty (a strong weight, for a short run), the mean activation of the
    codings moves to the target."""
    tinygdl.manual_seed(0)
    model = ae.sparse_autoencoder((1, 8, 8), hidden=(32, 64), penalty="kl", target=0.1, weight=0.05)
    optimizer = Adam(model.parameters(), lr=2e-2, eps_convention="keras")
    x = tinygdl.tensor(digits(64, size=8))
    start = model.encode(x).numpy().mean()
    for _ in range(40):
        optimizer.zero_grad()
        codes = model.encode(x)
        (losses.mse_loss(model.decode(codes), x) + model.penalty(codes)).backward()
        optimizer.step()
    end = model.encode(x).numpy().mean()
    assert start > 0.3 and abs(end - 0.1) < 0.05, (start, end)


# --------------------------------------------------------------------------- greedy layer-wise training


def test_greedy_layerwise_training_stacks_shallow_autoencoders():
    tinygdl.manual_seed(0)
    x = digits(200, size=8)
    model, histories = ae.train_greedy_layerwise(x, hidden=(32, 8), epochs=3, batch_size=32, lr=3e-3)
    assert len(histories) == 2
    for history in histories:  # each phase learned something
        assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    linears = [layer for part in (model.encoder, model.decoder) for layer in part.modules()
               if isinstance(layer, nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linears] == [(64, 32), (32, 8), (8, 32), (32, 64)]
    assert model(tinygdl.tensor(x[:5])).shape == (5, 1, 8, 8)
    stacked_error = losses.mse_loss(model(tinygdl.tensor(x)), tinygdl.tensor(x)).item()
    assert stacked_error < float(np.mean((x - x.mean()) ** 2))  # better than predicting the mean


# --------------------------------------------------------------------------- linear autoencoder = PCA


def three_d_data(n=200, seed=4):
    """HOML's 3-D cloud: points near a tilted plane, with clearly ordered variances."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3)) * np.array([3.0, 1.0, 0.1])
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return (latent @ rotation.T + np.array([1.0, -2.0, 0.5])).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 5])
def test_linear_autoencoder_recovers_the_principal_subspace(seed):
    tinygdl.manual_seed(seed)
    data = three_d_data()
    model, history = ae.train_linear_autoencoder(data, 2)
    pca = principal_subspace(data, 2)
    angles = principal_angles(model.decoder[0].weight.numpy().T, pca)  # the rows of W_d span the subspace
    assert angles.max() < 0.005, angles
    # and it reconstructs as well as PCA's projection onto that subspace
    centred = data - data.mean(axis=0)
    pca_error = np.mean((centred - centred @ pca @ pca.T) ** 2)
    assert history[-1] == pytest.approx(pca_error, rel=0.02)
    assert history[-1] < 0.01 * history[0]
