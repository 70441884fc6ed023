"""Argument checks of max_pool2d, avg_pool2d and their layers: geometry, divisor override and
input, normalised before any C++ runs. Output shapes come from shapes.hpp through ``_core``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from . import _core
from ._params import MAX_EXTENT, Pair, as_flag, as_int, as_pair, contiguous, float_array, shape_tuple


@dataclass(frozen=True)
class Pool2dGeometry:
    """Checked hyper-parameters of a pooling (everything but the input)."""

    kernel_size: Pair
    stride: Pair
    padding: Pair  # (rows, cols), on both sides
    dilation: Pair
    ceil_mode: bool

    def output_shape(self, input_shape) -> Tuple[int, ...]:
        """Shape of the result for an (N, C, H, W) or (C, H, W) input shape; ValueError with the reason."""
        shape = shape_tuple(input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"input must be (N, C, H, W) or unbatched (C, H, W), got shape {tuple(input_shape)}")
        n, c, h, w = shape if len(shape) == 4 else (1,) + shape
        for value, what, minimum in ((n, "batch size", 0), (c, "channels", 1), (h, "height", 1), (w, "width", 1)):
            if not minimum <= value <= MAX_EXTENT:
                raise ValueError(
                    f"input {what} must be between {minimum} and {MAX_EXTENT}, got {value} (input shape {shape})"
                )
        out_h, out_w = _core.pool2d_output_shape(
            n, c, h, w, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )
        return (n, c, out_h, out_w) if len(shape) == 4 else (c, out_h, out_w)


def pool2d_geometry(kernel_size, stride, padding, dilation, ceil_mode) -> Pool2dGeometry:
    """Normalises and checks pooling hyper-parameters (stride None = kernel_size, as PyTorch)."""
    kernel = as_pair(kernel_size, "kernel_size", minimum=1)
    stride_pair = kernel if stride is None else as_pair(stride, "stride", minimum=1)
    padding_pair = as_pair(padding, "padding", minimum=0)
    dilation_pair = as_pair(dilation, "dilation", minimum=1)
    for axis, what in ((0, "height"), (1, "width")):
        if padding_pair[axis] > kernel[axis] // 2:
            raise ValueError(
                f"padding must be at most half the kernel size (PyTorch's rule): padding[{axis}] ({what}) is "
                f"{padding_pair[axis]} but kernel_size[{axis}] // 2 is {kernel[axis] // 2}"
            )
    return Pool2dGeometry(kernel, stride_pair, padding_pair, dilation_pair, as_flag(ceil_mode, "ceil_mode"))


def divisor_override_value(divisor_override) -> int:
    """None -> 0 (no override); otherwise a non-zero integer (PyTorch allows negative ones)."""
    if divisor_override is None:
        return 0
    value = as_int(divisor_override, "divisor_override", minimum=-MAX_EXTENT, maximum=MAX_EXTENT)
    if value == 0:
        raise ValueError("divisor_override must be None or a non-zero integer, got 0")
    return value


@dataclass(frozen=True)
class Pool2dCall:
    """A checked pooling call: contiguous (N, C, H, W) input and the output shape."""

    x: np.ndarray
    output_shape: Tuple[int, int, int, int]
    unbatched: bool

    def allocate_output(self, dtype=None) -> np.ndarray:
        return np.empty(self.output_shape, dtype=self.x.dtype if dtype is None else dtype)

    def finish(self, y: np.ndarray) -> np.ndarray:
        return y[0] if self.unbatched else y


def pool2d_call(x, geometry: Pool2dGeometry) -> Pool2dCall:
    array = float_array(x, "x")
    if array.ndim not in (3, 4):
        raise ValueError(f"x must be (N, C, H, W) or unbatched (C, H, W), got shape {array.shape}")
    output_shape = geometry.output_shape(array.shape)
    unbatched = array.ndim == 3
    if unbatched:
        array = array[np.newaxis]
        output_shape = (1,) + output_shape
    return Pool2dCall(x=contiguous(array, array.dtype), output_shape=output_shape, unbatched=unbatched)
