"""The neural-network entries of the op table (tinygdl/checks/ops_nn.py) on CuPy (device "cuda")
against the NumPy results, forward and backward, with ``test_ops_gpu.py``'s check of the core ops.
Marked ``gpu``: skipped unless CuPy sees a CUDA device."""

from __future__ import annotations

import pytest
from test_ops_gpu import test_cuda_matches_cpu as cuda_matches_cpu  # tests/ops is on sys.path (pytest's default)

from tinygdl.checks.ops import SPEC_BY_ID

NN_GPU_SPECS = [
    "pad-reflect(1,2,2,0)", "pad-circular(-1,2,1,-2)", "pad-replicate(2,1)", "pad-crop-constant",
    "conv2d-groups2", "conv2d-depthwise", "conv_transpose2d-groups2", "conv1d-same", "conv_transpose1d-groups",
    "max_pool2d-k3s2p1-dilation2-ceil", "max_pool2d-k2-ceil-indices", "max_pool2d-int64", "max_unpool2d",
    "avg_pool2d-k3s2p1-ceil-includeFalse", "adaptive_avg_pool2d-(3,5)", "interpolate-nearest-scale1.7",
    "interpolate-nearest-scale(2,3)", "interpolate-bilinear-size(5,13)-cornersTrue", "pixel_shuffle",
    "pixel_unshuffle", "cross_entropy-weightTrue-smoothing0.15-mean", "cross_entropy-ignore_index2-weightTrue",
    "cross_entropy-probabilities-weightTrue", "nll_loss-none", "binary_cross_entropy_with_logits-pos_weight",
    "smooth_l1_loss-beta0.5", "huber_loss-delta2.0-none", "kl_div-batchmean", "kl_div-log_target-sum",
    "cosine_similarity", "normalize-p3.0-dim0", "scaled_dot_product_attention-causal-scale",
    "scaled_dot_product_attention-bool-mask", "scaled_dot_product_attention-additive-mask",
]


def test_nn_gpu_specs_exist():
    assert set(NN_GPU_SPECS) <= set(SPEC_BY_ID)


@pytest.mark.gpu
@pytest.mark.parametrize("spec_id", NN_GPU_SPECS)
def test_cuda_matches_cpu(spec_id):
    cuda_matches_cpu(spec_id)
