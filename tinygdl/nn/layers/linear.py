"""Fully connected layers: ``Linear`` (Keras's ``Dense``) and the ``Embedding`` lookup table."""

from __future__ import annotations

from ...ops.neural import embedding
from ...ops.shape import reshape
from .. import init as initializers
from ..module import Module, Parameter

__all__ = ["Linear", "Embedding"]


class Linear(Module):
    """``y = x·W + b`` on the last axis of ``x``: (N, in) -> (N, out), (N, T, in) -> (N, T, out), ...

    **Weight layout.**  ``weight`` is stored **(in_features, out_features)**, Keras's Dense layout:
    ``x @ W`` needs no transpose, and ``init.fans`` reads the shape directly as (fan_in, fan_out).
    ``torch.nn.Linear`` stores the transpose, (out, in); to copy one in, take ``weight.T``.

    Defaults are Keras's (the book's models are Keras models): a ``glorot_uniform`` kernel and a
    zero bias.  ``init`` is an initializer or its name (see ``tinygdl.nn.init``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init="glorot_uniform"):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(initializers.get(init)((in_features, out_features), kind="dense"))
        self.bias = Parameter(initializers.zeros((out_features,))) if bias else None

    def forward(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected an input whose last axis has {self.in_features} features, "
                             f"got shape {x.shape}")
        if x.ndim > 2:
            # One (N·T, in) @ (in, out) product: a batched matmul would make its weight gradient a
            # stack of N (in, out) matrices summed afterwards.
            y = reshape(reshape(x, (-1, self.in_features)) @ self.weight, x.shape[:-1] + (self.out_features,))
        else:
            y = x @ self.weight
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


KERAS_EMBEDDING_INIT = initializers.uniform(-0.05, 0.05)


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of size ``embedding_dim``; integer ids of any
    shape (N, T) -> (N, T, embedding_dim).  The gradient of each row is the sum of the gradients of
    the positions that looked it up.

    ``weight`` has shape (num_embeddings, embedding_dim), as in Keras and PyTorch.  The default
    initializer is Keras's, ``U(−0.05, 0.05)`` (PyTorch draws N(0, 1)).
    """

    integer_input = True  # ids, not values: Module's dtype check does not apply

    def __init__(self, num_embeddings: int, embedding_dim: int, init=KERAS_EMBEDDING_INIT):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(initializers.get(init)((num_embeddings, embedding_dim), kind="dense"))

    def forward(self, ids):
        try:
            return embedding(ids, self.weight)
        except (TypeError, IndexError) as error:
            raise type(error)(f"{self!r}: {error}") from None

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
