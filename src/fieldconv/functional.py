"""Neural-network ops on NCHW arrays, with PyTorch's semantics."""
from __future__ import annotations

import numpy as np

from . import _core, _params


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, algorithm="auto") -> np.ndarray:
    """2-D convolution (cross-correlation) as ``torch.nn.functional.conv2d``.

    x: (N, C, H, W) or unbatched (C, H, W); weight: (C_out, C // groups, kH, kW); bias: (C_out,)
    or None. stride, dilation: int or (h, w); padding: int, (h, w), (top, bottom, left, right),
    "valid" or "same". Result dtype: numpy.result_type(x, weight) (float32 or float64).
    algorithm: "auto" or "direct". The weights are packed on every call; a Conv2d layer packs
    them once.
    """
    geometry = _params.conv2d_geometry(stride, padding, dilation, groups)
    _params.conv2d_algorithm(algorithm)
    call = _params.conv2d_call(x, weight, bias, geometry)
    packed = _core.PackedConv2dWeights(call.weight, call.groups)
    return run_conv2d(call, packed)


def run_conv2d(call: _params.Conv2dCall, packed) -> np.ndarray:
    """Runs a checked call with packed weights (shared by conv2d and Conv2d)."""
    y = call.allocate_output()
    _core.conv2d_direct(call.x, packed, call.bias, y, call.stride, call.dilation, call.padding)
    return call.finish(y)


def relu(x) -> np.ndarray:
    """max(x, 0) elementwise, as ``torch.relu``: NaN stays NaN and -0.0 stays -0.0.

    x: any array-like of float32 or float64 (any shape); other dtypes raise TypeError. Returns a
    new array of the same dtype and shape; x is never modified.
    """
    array = _params.float_array(x, "x")
    y = np.array(array, dtype=array.dtype, order="C", copy=True)
    # Only values strictly below zero change: -0.0 < 0 and NaN < 0 are False, so both are kept
    # (np.maximum(x, 0) would turn -0.0 into +0.0, unlike PyTorch).
    np.copyto(y, y.dtype.type(0), where=y < 0)
    return y
