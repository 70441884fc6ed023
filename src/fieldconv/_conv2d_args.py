"""Argument checks of conv2d, Conv2d and Winograd: geometry, weights, bias, input and the
algorithm name, normalised to plain ints and C-contiguous arrays before any C++ runs. Output
shapes come from the C++ header shapes.hpp through ``_core`` (one implementation); which
algorithm "auto" and "winograd" run is decided by ``_conv2d_planner``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from . import _core
from ._params import MAX_EXTENT, Pair, Quad, _describe, as_int, as_pair, contiguous, float_array


@dataclass(frozen=True)
class Conv2dGeometry:
    """Checked hyper-parameters of a convolution (everything but the arrays)."""

    stride: Pair
    dilation: Pair
    padding: Optional[Quad]  # None for "same": resolved against the kernel size
    groups: int

    def resolved_padding(self, kernel_size: Pair) -> Quad:
        if self.padding is not None:
            return self.padding
        # "same" (stride 1): total = dilation * (k - 1); the odd one goes bottom/right, as PyTorch.
        total_h = self.dilation[0] * (kernel_size[0] - 1)
        total_w = self.dilation[1] * (kernel_size[1] - 1)
        return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)


def conv2d_geometry(stride, padding, dilation, groups) -> Conv2dGeometry:
    stride_pair = as_pair(stride, "stride", minimum=1)
    dilation_pair = as_pair(dilation, "dilation", minimum=1)
    groups_int = as_int(groups, "groups", minimum=1)
    if isinstance(padding, str):
        if padding == "valid":
            padding_quad: Optional[Quad] = (0, 0, 0, 0)
        elif padding == "same":
            if stride_pair != (1, 1):
                raise ValueError(
                    f"padding='same' needs stride 1 (as PyTorch), got stride={stride_pair}; "
                    "use explicit padding for strided convolutions"
                )
            padding_quad = None
        else:
            raise ValueError(
                f"padding must be an int, (h, w), (top, bottom, left, right), 'valid' or 'same', got {padding!r}"
            )
    elif isinstance(padding, (tuple, list, np.ndarray)) and np.ndim(padding) == 1 and len(padding) == 4:
        padding_quad = tuple(as_int(p, f"padding[{i}]") for i, p in enumerate(padding))  # type: ignore[assignment]
    else:
        if isinstance(padding, (tuple, list, np.ndarray)) and not (np.ndim(padding) == 1 and len(padding) == 2):
            raise ValueError(
                f"padding must be an int, (h, w), (top, bottom, left, right), 'valid' or 'same', got {_describe(padding)}"
            )
        ph, pw = as_pair(padding, "padding", minimum=0)
        padding_quad = (ph, ph, pw, pw)
    return Conv2dGeometry(stride_pair, dilation_pair, padding_quad, groups_int)


def conv2d_weight(weight, name: str = "weight") -> np.ndarray:
    array = float_array(weight, name)
    if array.ndim != 4:
        raise ValueError(
            f"{name} must be 4-d (out_channels, in_channels // groups, kernel_height, kernel_width), "
            f"got shape {array.shape}"
        )
    for axis, what in ((0, "out_channels"), (1, "in_channels // groups"), (2, "kernel height"), (3, "kernel width")):
        if array.shape[axis] == 0:
            raise ValueError(f"{name} has {what} = 0 (shape {array.shape}); every dimension must be at least 1")
        if array.shape[axis] > MAX_EXTENT:
            raise ValueError(f"{name} dimension {axis} is {array.shape[axis]}, larger than the limit {MAX_EXTENT}")
    return array


def conv2d_bias(bias, out_channels: int, name: str = "bias") -> Optional[np.ndarray]:
    if bias is None:
        return None
    try:
        array = np.asarray(bias)
    except (ValueError, TypeError):
        raise TypeError(f"{name} must be None or a 1-d array of {out_channels} floats, got {_describe(bias)}") from None
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real-valued array (cast to the result dtype), got dtype {array.dtype}")
    if array.shape != (out_channels,):
        raise ValueError(f"{name} must have shape ({out_channels},) (one value per output channel), got {array.shape}")
    return array


@dataclass(frozen=True)
class Conv2dCall:
    """Everything the kernel needs: contiguous arrays in the result dtype and plain ints."""

    x: np.ndarray  # (N, C, H, W)
    weight: np.ndarray
    bias: Optional[np.ndarray]
    stride: Pair
    dilation: Pair
    padding: Quad
    groups: int
    output_shape: Tuple[int, int, int, int]
    unbatched: bool
    dtype: np.dtype

    def allocate_output(self) -> np.ndarray:
        return np.empty(self.output_shape, dtype=self.dtype)

    def finish(self, y: np.ndarray) -> np.ndarray:
        return y[0] if self.unbatched else y


def conv2d_input(x, name: str = "x") -> np.ndarray:
    array = float_array(x, name)
    if array.ndim not in (3, 4):
        raise ValueError(f"{name} must be (N, C, H, W) or unbatched (C, H, W), got shape {array.shape}")
    return array


def conv2d_output_shape(input_shape, weight_shape, geometry: Conv2dGeometry) -> Tuple[int, int, int, int]:
    """(N, C_out, H_out, W_out) for an (N, C, H, W) input; raises ValueError with the reason."""
    n, c, h, w = (int(v) for v in input_shape)
    out_channels, in_per_group, kh, kw = (int(v) for v in weight_shape)
    groups = geometry.groups
    if in_per_group * groups != c:
        raise ValueError(
            f"x has {c} channels but weight expects in_channels = weight.shape[1] * groups = "
            f"{in_per_group} * {groups} = {in_per_group * groups}"
        )
    if out_channels % groups != 0:
        raise ValueError(f"groups={groups} must divide out_channels (weight.shape[0] = {out_channels})")
    for value, what in ((n, "batch size"), (h, "input height"), (w, "input width")):
        if value > MAX_EXTENT:
            raise ValueError(f"x {what} {value} exceeds the limit {MAX_EXTENT}")
    for value, what in ((h, "height"), (w, "width")):
        if value < 1:  # as PyTorch: only the batch may be empty, even when padding would make room
            raise ValueError(
                f"x {what} must be at least 1 (only the batch may be empty, as PyTorch), got {value} "
                f"(x shape {tuple(input_shape)})"
            )
    padding = geometry.resolved_padding((kh, kw))
    context = (
        f"x shape {tuple(input_shape)}, weight shape {tuple(weight_shape)}, stride={geometry.stride}, "
        f"padding={padding} (top, bottom, left, right), dilation={geometry.dilation}"
    )
    try:
        out_h, out_w = _core.conv2d_output_shape(
            n, c, h, w, out_channels, kh, kw, geometry.stride, geometry.dilation, padding, groups
        )
    except ValueError as error:  # shapes.hpp names the quantity; add the arguments it came from
        raise ValueError(f"{error} ({context})") from None
    return (n, out_channels, out_h, out_w)


ALGORITHMS = ("auto", "direct", "winograd", "winograd_f2", "winograd_f4", "winograd_f6")


def conv2d_algorithm(algorithm) -> str:
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(map(repr, ALGORITHMS))}, got {algorithm!r}")
    return algorithm


def conv2d_call(x, weight, bias, geometry: Conv2dGeometry) -> Conv2dCall:
    x_array = conv2d_input(x)
    weight_array = conv2d_weight(weight)
    bias_array = conv2d_bias(bias, weight_array.shape[0])
    unbatched = x_array.ndim == 3
    if unbatched:
        x_array = x_array[np.newaxis]
    output_shape = conv2d_output_shape(x_array.shape, weight_array.shape, geometry)
    dtype = np.result_type(x_array.dtype, weight_array.dtype)
    return Conv2dCall(
        x=contiguous(x_array, dtype),
        weight=contiguous(weight_array, dtype),
        bias=None if bias_array is None else contiguous(bias_array, dtype),
        stride=geometry.stride,
        dilation=geometry.dilation,
        padding=geometry.resolved_padding(weight_array.shape[2:]),
        groups=geometry.groups,
        output_shape=output_shape,
        unbatched=unbatched,
        dtype=dtype,
    )


# --------------------------------------------------------------------------------------------
# Winograd F(m x m, 3 x 3), m = 2, 4, 6 (README "Winograd"): the tile of each algorithm name and
# the convolutions it can compute

WINOGRAD_TILES = {"winograd_f2": 2, "winograd_f4": 4, "winograd_f6": 6}


def winograd_problem(kernel_size, stride: Pair, dilation: Pair) -> Optional[str]:
    """Why Winograd cannot compute this convolution (None if it can)."""
    if tuple(kernel_size) != (3, 3):
        return f"needs a 3x3 kernel, got kernel_size={tuple(int(k) for k in kernel_size)}"
    if tuple(stride) != (1, 1):
        return f"needs stride 1, got stride={tuple(stride)}"
    if tuple(dilation) != (1, 1):
        return f"needs dilation 1, got dilation={tuple(dilation)}"
    return None


def check_conv2d_algorithm(algorithm: str, kernel_size, geometry: Conv2dGeometry) -> None:
    """ValueError when a Winograd algorithm is asked for a convolution it cannot compute."""
    if algorithm.startswith("winograd"):
        problem = winograd_problem(kernel_size, geometry.stride, geometry.dilation)
        if problem is not None:
            raise ValueError(
                f"algorithm={algorithm!r} {problem}; Winograd computes 3x3 convolutions with stride 1 and "
                "dilation 1 only (use algorithm='auto' or 'direct')"
            )
