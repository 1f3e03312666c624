"""Autograd by hand: a two-layer network trained with nothing but tensors, backward() and an optimizer.

No zoo, no Trainer, no layers: the weights are plain tensors that require gradients, the forward
pass is written out, ``loss.backward()`` fills every ``.grad``, and a few of those gradients are
printed next to their finite-difference estimates, so you can see that backward computes what
calculus says it should.  Then the graph that backward walks is printed, and an SGD loop trains
the network on the two-moons data.

    python examples/00_autograd.py            (a few seconds; prints everything, writes no file)
"""

from __future__ import annotations

import numpy as np

import tinygdl as tg
from tinygdl import viz
from tinygdl.data import make_moons
from tinygdl.optim import SGD


def forward(params: dict, x: tg.Tensor) -> tg.Tensor:
    """Logits of a 2 -> 16 -> 1 network with a tanh hidden layer."""
    hidden = (x @ params["w1"] + params["b1"]).tanh()
    return hidden @ params["w2"] + params["b2"]


def loss_fn(params: dict, x: tg.Tensor, y: tg.Tensor) -> tg.Tensor:
    """Binary cross-entropy on logits z: mean of softplus(z) - y·z (stable for large |z|)."""
    z = forward(params, x).reshape(-1)
    return (tg.softplus(z) - y * z).mean()


def finite_difference(params: dict, name: str, index: tuple, x, y, eps: float = 1e-6) -> float:
    """(L(θ + ε) − L(θ − ε)) / 2ε for one element of one weight: what the gradient should be."""
    values = []
    for sign in (1, -1):
        shifted = {k: v.detach() for k, v in params.items()}
        array = shifted[name].numpy().copy()
        array[index] += sign * eps
        shifted[name] = tg.tensor(array)
        values.append(loss_fn(shifted, x, y).item())
    return (values[0] - values[1]) / (2 * eps)


def main() -> None:
    tg.manual_seed(0)
    points, labels = make_moons(512, noise=0.1, seed=0)
    with tg.default_dtype(np.float64):  # float64, so finite differences are accurate to ~1e-9
        x, y = tg.tensor(points), tg.tensor(labels.astype(np.float64))
        params = {
            "w1": (tg.randn(2, 16) * 0.5).requires_grad_(),
            "b1": tg.zeros(16).requires_grad_(),
            "w2": (tg.randn(16, 1) * 0.5).requires_grad_(),
            "b2": tg.zeros(1).requires_grad_(),
        }

        loss = loss_fn(params, x, y)
        print("The graph backward will walk (output first, leaves last):")
        print(viz.graph(loss, names={**params, "x": x, "y": y}))
        loss.backward()
        print("\nGradients from backward() next to finite differences:")
        for name, index in (("w1", (0, 3)), ("w1", (1, 7)), ("b1", (5,)), ("w2", (2, 0)), ("b2", (0,))):
            analytic = params[name].grad.numpy()[index]
            numeric = finite_difference(params, name, index, x, y)
            print(f"  dL/d{name}{list(index)}: backward {analytic:+.9f}   finite difference {numeric:+.9f}")

        optimizer = SGD(list(params.values()), lr=0.5)
        print("\nTraining with SGD (lr 0.5), full batch:")
        for step in range(301):
            optimizer.zero_grad()
            loss = loss_fn(params, x, y)
            loss.backward()
            optimizer.step()
            if step % 50 == 0:
                with tg.no_grad():
                    accuracy = ((forward(params, x).reshape(-1) > 0).numpy() == labels).mean()
                print(f"  step {step:3d}  loss {loss.item():.4f}  accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
