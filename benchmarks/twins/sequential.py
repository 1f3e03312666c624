"""A tinygdl ``nn.Sequential`` of Keras-style layers -> a ``torch.nn.Sequential`` with the same weights.

The chapter 2–4 models (the classifiers, the autoencoders, the GANs) are plain stacks of the layers
below, so one translator gives all of them their PyTorch twin.  Two Keras details make the twin the
book's model rather than PyTorch's defaults:

* a Keras-"same" convolution pads ``max(k − s, 0)`` cells per axis on an even input size, any odd
  cell at the end (3×3 stride 2: 0 before, 1 after).  Even totals become PyTorch's symmetric
  ``padding``; odd ones an explicit ``ZeroPad2d`` first;
* a Keras-"same" transposed convolution crops its full ``(n − 1)·s + k`` output by the same amounts,
  the odd one at the end: symmetric crops are PyTorch's ``padding``; an odd one is cropped by slicing.

tinygdl's ``Linear`` stores its kernel (in, out), PyTorch's (out, in): it is transposed on the way.
"""

from __future__ import annotations

KERAS_EPS = 1e-7  # Keras's ε: Adam's, and the clipping bound of probabilities in cross-entropies


def keras_same(kernel: int, stride: int) -> tuple[int, int]:
    """Keras "same" on an even size: the (before, after) padding of a convolution, or the crop of a
    transposed one."""
    total = max(kernel - stride, 0)
    return total // 2, total - total // 2


def _numeric_padding(layer, transposed: bool):
    """``((top, bottom), (left, right))`` of a tinygdl conv layer (its crop, when transposed)."""
    padding = layer.padding
    if padding == "same":
        return tuple(keras_same(k, s) for k, s in zip(layer.kernel_size, layer.stride))
    if padding == "valid":
        return ((0, 0), (0, 0))
    if isinstance(padding, int):
        return ((padding, padding),) * 2
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)


def torch_sequential(torch, model):
    """``model`` (a tinygdl ``nn.Sequential``) as a ``torch.nn.Sequential``, weights copied."""
    return torch.nn.Sequential(*(torch_layer(torch, layer) for layer in model.children()))


def torch_layer(torch, layer):
    """One tinygdl layer as a torch module with the same weights."""
    tnn = torch.nn
    kind = type(layer).__name__
    if kind in ("Conv2d", "ConvTranspose2d"):
        return _torch_conv(torch, layer, transposed=kind == "ConvTranspose2d")
    if kind == "Linear":
        twin = tnn.Linear(*layer.weight.shape, bias=layer.bias is not None)
        copy_parameters(torch, twin, weight=layer.weight.numpy().T, bias=_array(layer.bias))
        return twin
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        twin = getattr(tnn, kind)(layer.num_features, eps=layer.eps, momentum=layer.new_value_weight)
        copy_parameters(torch, twin, weight=_array(layer.weight), bias=_array(layer.bias))
        return twin
    if kind == "Reshape":
        return tnn.Unflatten(1, layer.shape)
    simple = {"LeakyReLU": lambda: tnn.LeakyReLU(layer.negative_slope), "Dropout": lambda: tnn.Dropout(layer.p),
              "Softmax": lambda: tnn.Softmax(dim=-1), "Flatten": tnn.Flatten, "ReLU": tnn.ReLU, "Tanh": tnn.Tanh,
              "Sigmoid": tnn.Sigmoid}
    if kind not in simple:
        raise TypeError(f"torch_layer: no PyTorch twin for {kind}")
    return simple[kind]()


class _Crop:
    """Drop the last ``rows``/``cols`` cells of an image batch (an odd Keras "same" crop)."""

    def __init__(self, rows: int, cols: int):
        self.rows, self.cols = rows, cols

    def __call__(self, module, inputs, output):
        return output[..., :output.shape[-2] - self.rows, :output.shape[-1] - self.cols]


def _torch_conv(torch, layer, transposed: bool):
    tnn = torch.nn
    (top, bottom), (left, right) = _numeric_padding(layer, transposed)
    kind = tnn.ConvTranspose2d if transposed else tnn.Conv2d
    twin = kind(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                padding=(top, left), bias=layer.bias is not None)
    copy_parameters(torch, twin, weight=layer.weight.numpy(), bias=_array(layer.bias))
    if (top, left) == (bottom, right):
        return twin
    if transposed:  # crop the extra end cells after PyTorch's symmetric crop of (top, left)
        twin.register_forward_hook(_Crop(bottom - top, right - left))
        return twin
    twin.padding = (0, 0)
    return tnn.Sequential(tnn.ZeroPad2d((left, right, top, bottom)), twin)


def _array(parameter):
    return None if parameter is None else parameter.numpy()


def copy_parameters(torch, module, **arrays) -> None:
    """``module.<name>.copy_(array)`` for every array given (None: skipped); the module takes the
    arrays' float type (a float64 tinygdl model gets a float64 twin)."""
    with torch.no_grad():
        for name, array in arrays.items():
            if array is not None:
                module.to(getattr(torch, array.dtype.name))
                getattr(module, name).copy_(torch.from_numpy(array.copy()))
