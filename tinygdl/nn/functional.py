"""The function-style API, as ``torch.nn.functional``: ``import tinygdl.nn.functional as F``.

Nothing is defined here: this module gathers the functions of the op library and the losses in
one namespace.  Read them where they are defined (the import lines below say where).
"""

from ..losses import *  # noqa: F401,F403  (mse_loss, binary_cross_entropy, ..., gradient_penalty)
from ..ops.activations import *  # noqa: F401,F403  (selu, celu, relu6, hardtanh, hardswish, mish, glu, prelu ...)
from ..ops.attention import scaled_dot_product_attention  # noqa: F401
from ..ops.conv import *  # noqa: F401,F403  (conv2d, conv_transpose2d, pooling, upsampling)
from ..ops.conv3d import *  # noqa: F401,F403  (conv3d, vol2col, col2vol)
from ..ops.elementwise import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, swish, tanh  # noqa: F401
from ..ops.neural import dropout, embedding, log_softmax, one_hot, softmax  # noqa: F401
from ..ops.norm import *  # noqa: F401,F403  (batch_norm, layer_norm, group_norm, instance_norm)
from ..ops.shape import pad  # noqa: F401,E402  (constant, reflect, replicate and circular padding; negative widths crop)
