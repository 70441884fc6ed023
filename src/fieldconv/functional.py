"""Neural-network ops on NCHW arrays, with PyTorch's semantics."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _conv2d_args, _conv2d_planner, _core, _params, _pool2d_args

IntOrPair = Union[int, Tuple[int, int]]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, algorithm="auto") -> np.ndarray:
    """2-D convolution (cross-correlation) as ``torch.nn.functional.conv2d``.

    x: (N, C, H, W) or unbatched (C, H, W); weight: (C_out, C // groups, kH, kW); bias: (C_out,)
    or None. stride, dilation: int or (h, w); padding: int, (h, w), (top, bottom, left, right),
    "valid" or "same". Result dtype: numpy.result_type(x, weight) (float32 or float64).
    algorithm: "auto" (the cost model of _conv2d_planner.conv2d_plan picks direct or a Winograd tile),
    "direct", "winograd" (3x3, stride 1, dilation 1 only; the best Winograd tile for the shape) or
    "winograd_f2" / "winograd_f4" / "winograd_f6". The weights are packed (or transformed) on every
    call; a Conv2d layer does it once.
    """
    geometry = _conv2d_args.conv2d_geometry(stride, padding, dilation, groups)
    algorithm = _conv2d_args.conv2d_algorithm(algorithm)
    call = _conv2d_args.conv2d_call(x, weight, bias, geometry)
    _conv2d_args.check_conv2d_algorithm(algorithm, call.weight.shape[2:], geometry)
    tile = _conv2d_planner.conv2d_plan(algorithm, call.x.shape, call.weight.shape, geometry, call.dtype)
    winograd = _core.WinogradConv2dWeights(call.weight, call.groups, tile) if tile else None
    return run_conv2d(call, lambda: _core.PackedConv2dWeights(call.weight, call.groups), winograd)


def run_conv2d(
    call: _conv2d_args.Conv2dCall,
    packed,
    winograd=None,
    residual: Optional[np.ndarray] = None,
    activation: int = 0,
    allocate=None,
) -> np.ndarray:
    """Runs a checked call (shared by conv2d and Conv2d).

    packed: direct-packed weights, or a callable returning them (only called when needed).
    winograd: transformed weights (_core.WinogradConv2dWeights) or None. The Winograd kernel
    declines (returns False) when values are non-finite or could overflow; direct convolution
    then computes the result, so NaN/Inf land exactly where direct puts them.
    residual, activation: the kernels' epilogue, y = activation(conv + bias + residual) as each
    value is stored (residual: None or a C-contiguous array of the output's dtype and 4-d shape,
    not sharing its memory; activation: 0 none, 1 relu, 2 relu6). Same bits as the separate passes.
    allocate: None, or allocate(shape, dtype) giving the output array (C-contiguous, sharing no
    memory with the input or the residual; Graph hands out recycled buffers this way).
    """
    y = call.allocate_output() if allocate is None else allocate(call.output_shape, call.dtype)
    if winograd is not None and _core.conv2d_winograd(
        call.x, winograd, call.bias, y, call.padding, residual=residual, activation=activation
    ):
        return call.finish(y)
    if callable(packed):
        packed = packed()
    _core.conv2d_direct(
        call.x, packed, call.bias, y, call.stride, call.dilation, call.padding, residual=residual, activation=activation
    )
    return call.finish(y)


def relu(x) -> np.ndarray:
    """max(x, 0) elementwise, as ``torch.relu``: NaN stays NaN and -0.0 stays -0.0.

    x: any array-like of float32 or float64 (any shape); other dtypes raise TypeError. Returns a
    new array of the same dtype and shape; x is never modified.
    """
    array = _params.float_array(x, "x")
    # np.clip replaces only values beyond a bound (x < 0 and x > inf are False for -0.0 and NaN),
    # so both are kept, unlike np.maximum(x, 0), which turns -0.0 into +0.0. One pass: the masked
    # copy it replaces took ten times longer, a third of a ResNet-50 forward pass.
    return np.clip(array, array.dtype.type(0), array.dtype.type(np.inf), out=np.empty(array.shape, array.dtype))


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling as ``torch.nn.functional.max_pool2d``.

    x: (N, C, H, W) or unbatched (C, H, W), float32 or float64. kernel_size, stride (default:
    kernel_size), padding, dilation: int or (h, w); padding is -inf and at most kernel_size // 2.
    NaN propagates. With return_indices, returns (values, indices): int64 flat indices into
    each input H*W plane, as PyTorch (first maximum in row-major order, last NaN).
    """
    geometry = _pool2d_args.pool2d_geometry(kernel_size, stride, padding, dilation, ceil_mode)
    with_indices = _params.as_flag(return_indices, "return_indices")
    return run_max_pool2d(_pool2d_args.pool2d_call(x, geometry), geometry, with_indices)


def run_max_pool2d(call: _pool2d_args.Pool2dCall, geometry: _pool2d_args.Pool2dGeometry, with_indices: bool = False):
    y = call.allocate_output()
    indices = call.allocate_output(np.int64) if with_indices else None
    _core.max_pool2d(
        call.x,
        y,
        indices,
        geometry.kernel_size,
        geometry.stride,
        geometry.padding,
        geometry.dilation,
        geometry.ceil_mode,
    )
    if with_indices:
        return call.finish(y), call.finish(indices)
    return call.finish(y)


def avg_pool2d(
    x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
) -> np.ndarray:
    """2-D average pooling as ``torch.nn.functional.avg_pool2d``.

    x: (N, C, H, W) or unbatched (C, H, W), float32 or float64. kernel_size, stride (default:
    kernel_size), padding: int or (h, w); padding (zeros) at most kernel_size // 2. The divisor
    is divisor_override if given (a non-zero int), else the window size, clipped to the padded
    input (count_include_pad) or to the input.
    """
    geometry = _pool2d_args.pool2d_geometry(kernel_size, stride, padding, 1, ceil_mode)
    include_pad = _params.as_flag(count_include_pad, "count_include_pad")
    divisor = _pool2d_args.divisor_override_value(divisor_override)
    return run_avg_pool2d(_pool2d_args.pool2d_call(x, geometry), geometry, include_pad, divisor)


def run_avg_pool2d(
    call: _pool2d_args.Pool2dCall, geometry: _pool2d_args.Pool2dGeometry, count_include_pad: bool, divisor_override: int
) -> np.ndarray:
    y = call.allocate_output()
    _core.avg_pool2d(
        call.x,
        y,
        geometry.kernel_size,
        geometry.stride,
        geometry.padding,
        geometry.ceil_mode,
        count_include_pad,
        divisor_override,
    )
    return call.finish(y)


CONV2D_ALGORITHMS = _conv2d_args.ALGORITHMS


def conv2d_algorithm_for(
    x_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: IntOrPair = 1,
    padding: Union[int, Sequence[int], str] = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    *,
    algorithm: str = "auto",
    dtype: npt.DTypeLike = np.float32,
) -> str:
    """The algorithm conv2d(x, weight, ..., algorithm=algorithm) runs for these shapes: "direct",
    "winograd_f2", "winograd_f4" or "winograd_f6" (benchmarks report it next to the timings).
    Raises ValueError as conv2d would for an algorithm that cannot compute this convolution."""
    geometry = _conv2d_args.conv2d_geometry(stride, padding, dilation, groups)
    algorithm = _conv2d_args.conv2d_algorithm(algorithm)
    x_shape = tuple(int(v) for v in x_shape)
    if len(x_shape) == 3:
        x_shape = (1,) + x_shape
    _conv2d_args.check_conv2d_algorithm(algorithm, tuple(weight_shape)[2:], geometry)
    tile = _conv2d_planner.conv2d_plan(algorithm, x_shape, weight_shape, geometry, np.dtype(dtype))
    return f"winograd_f{tile}" if tile else "direct"
