"""The one place for argument normalisation, checking and shape arithmetic.

Every public function turns its arguments into plain ints and C-contiguous arrays here, with
errors that name the argument, the value and what is accepted, before any C++ runs. Output
shapes come from the C++ header shapes.hpp through ``_core`` (one implementation).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from . import _core

MAX_EXTENT = int(_core.max_extent)  # 2**31 - 1: largest size, stride, dilation or padding
MAX_ELEMENTS = int(_core.max_element_count)  # 2**48: largest number of elements of any array
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

Pair = Tuple[int, int]
Quad = Tuple[int, int, int, int]


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def as_int(value, name: str, minimum: int = 0, maximum: int = MAX_EXTENT) -> int:
    """An integer in [minimum, maximum]; bools, floats and strings are refused with TypeError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_describe(value)} of type {type(value).__name__}")
    value = int(value)
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be an integer between {minimum} and {maximum}, got {value}")
    return value


def as_pair(value, name: str, minimum: int = 0) -> Pair:
    """An int or a (rows, cols) pair of ints."""
    if isinstance(value, (tuple, list, np.ndarray)):
        items = list(value)
        if len(items) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {_describe(value)}")
        return (as_int(items[0], f"{name}[0]", minimum), as_int(items[1], f"{name}[1]", minimum))
    number = as_int(value, name, minimum)
    return (number, number)


def float_array(value, name: str) -> np.ndarray:
    """value as a NumPy array (no copy) of dtype float32 or float64; other dtypes: TypeError."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of float32 or float64, got {_describe(value)}: {error}") from None
    if array.dtype.newbyteorder("=") not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {array.dtype}")
    if not array.dtype.isnative:  # byte-swapped floats are float32/64 too: work in native order
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def contiguous(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """C-contiguous, aligned, native-order copy of array in dtype, or array itself if it already is."""
    return np.require(array, dtype=dtype, requirements=("C", "A"))


# --------------------------------------------------------------------------------------------
# conv2d


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
# conv2d algorithm selection: direct or Winograd F(m x m, 3 x 3), m = 2, 4, 6 (README "Winograd")

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


# Cost model for "auto" and "winograd", in cycles of one core (2 FMAs per cycle of 32 bytes with
# the AVX2 kernels, 64 bytes with the AVX-512 ones), from the kernels' structure and calibrated on
# single-thread timings of the ResNet/VGG layers (README "Winograd"), per kernel family. It
# depends on the shape, the dtype and the kernel family only, never on the thread count, so
# results do not depend on the number of threads.
def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# per tile and vector of channels: input transform (gather/transpose, B^T d B, range check, store)
# and output transform (A^T M A, bias, transpose, store), cycles
_WINOGRAD_INPUT_CYCLES = {2: 70.0, 4: 155.0, 6: 290.0}
_WINOGRAD_OUTPUT_CYCLES = {2: 35.0, 4: 90.0, 6: 190.0}
# transformed weights streamed once per tile block: from L3 while they fit in half of a 32 MiB L3,
# from memory beyond (measured: 256@14 N=8 F4 re-reads 9.4 MB five times for ~0.4 ms)
_WEIGHT_CYCLES_PER_BYTE = (1.0 / 24, 1.0 / 8)
_WEIGHT_L3_BYTES = 16 << 20
# The AVX-512 family (winograd_avx512.cpp): transforms per tile and vector of 64 bytes of
# channels (16 float), fitted to one-thread timings of the nine benchmark layers with the GEMM
# at 90 % of the 512-bit FMA peak and split input:output as the AVX2 constants. (One thread
# streams 8-16 MB of weights at nearly memory speed, but two threads, as benchmarked, do not:
# 256@14 F4 with 9.4 MB beats F2 by 10 % there, so the L3 threshold stays that of AVX2.)
_WINOGRAD_AVX512_INPUT_CYCLES = {2: 220.0, 4: 705.0, 6: 1435.0}
_WINOGRAD_AVX512_OUTPUT_CYCLES = {2: 110.0, 4: 410.0, 6: 940.0}
_WINOGRAD_AVX512_GEMM_EFFICIENCY = 0.9
_WEIGHT_AVX512_CYCLES_PER_BYTE = (1.0 / 32, 1.0 / 8)
_BLOCK_BUDGET_BYTES = (1 << 20, 4 << 20)  # winograd_impl.hpp: v_budget_*_bytes, max_block_tiles
_MAX_BLOCK_TILES = 96
_WINOGRAD_MIN_CHANNELS = 8  # "auto": direct below 8 input or output channels per group


def winograd_cost(tile: int, batch: int, in_per_group: int, out_per_group: int, groups: int, out_h: int,
                  out_w: int, itemsize: int, isa: str = "avx2") -> float:
    """Cycles of the Winograd kernel of family `isa` ("generic" is costed as "avx2")."""
    wide = isa == "avx512"
    lanes = (64 if wide else 32) // itemsize
    alpha2 = (tile + 2) ** 2
    total = batch * _ceil_div(out_h, tile) * _ceil_div(out_w, tile)
    if total == 0:
        return 0.0
    cin_vectors = _ceil_div(in_per_group, lanes)
    panel = 64 // itemsize  # weight panel: 64 bytes of out-channels in every family
    cout = _ceil_div(out_per_group, panel) * panel
    budget = max(_BLOCK_BUDGET_BYTES[0], min(_BLOCK_BUDGET_BYTES[1], alpha2 * in_per_group * cout * itemsize // 8))
    block = max(1, min(_MAX_BLOCK_TILES, budget // (alpha2 * cin_vectors * lanes * itemsize)))
    block = max(1, block // 6 * 6) if block >= 6 else block
    blocks = _ceil_div(total, block)
    block = _ceil_div(total, blocks)
    block = _ceil_div(block, 6) * 6 if block > 6 else block
    blocks = _ceil_div(total, block)
    rows = (blocks - 1) * block + _ceil_div(total - (blocks - 1) * block, 6) * 6  # microkernel rows, in 6s
    weight_bytes = alpha2 * in_per_group * cout * itemsize
    if wide:
        gemm = rows * alpha2 * in_per_group * cout / (2 * lanes) / _WINOGRAD_AVX512_GEMM_EFFICIENCY
        transforms = total * (cin_vectors * _WINOGRAD_AVX512_INPUT_CYCLES[tile]
                              + _ceil_div(out_per_group, lanes) * _WINOGRAD_AVX512_OUTPUT_CYCLES[tile])
        per_byte = _WEIGHT_AVX512_CYCLES_PER_BYTE[weight_bytes * groups >= _WEIGHT_L3_BYTES]
    else:
        gemm = rows * alpha2 * in_per_group * cout / (2 * lanes)
        transforms = total * (cin_vectors * _WINOGRAD_INPUT_CYCLES[tile]
                              + _ceil_div(out_per_group, lanes) * _WINOGRAD_OUTPUT_CYCLES[tile])
        per_byte = _WEIGHT_CYCLES_PER_BYTE[weight_bytes * groups >= _WEIGHT_L3_BYTES]
    return groups * (gemm + transforms + blocks * weight_bytes * per_byte)


def direct_cost(batch: int, in_per_group: int, out_per_group: int, groups: int, out_h: int, out_w: int,
                kernel_area: int, itemsize: int, isa: str = "avx2") -> float:
    """Direct convolution in the same cycles; the avx512 family's direct kernel has vectors twice
    as wide."""
    lanes = (64 if isa == "avx512" else 32) // itemsize
    cout = _ceil_div(out_per_group, lanes) * lanes
    pixels = out_h * out_w
    if isa == "avx512":
        # measured on the ResNet layers, one Zen 5 core: 0.8 from 14x14 up, 0.6-0.7 at 7x7; with
        # few input channels per group the per-pixel overhead shows (8 -> 16 channels: 0.36,
        # 16 -> 16: 0.54, 32 -> 32: 0.8)
        efficiency = (0.8 if pixels >= 196 else 0.65) * min(1.0, (in_per_group + 8) / 40)
    else:
        efficiency = 0.92 if pixels >= 196 else 0.75  # small maps leave lanes and loops idle
    return batch * groups * pixels * in_per_group * kernel_area * cout / (2 * lanes) / efficiency


# Largest tile whose error stays within the bound of each dtype (tests/test_winograd.py):
# float32 F2 <= 1e-6, F4 <= 2e-5, F6 <= 5e-5 (normalised error), float64 all <= 1e-12.
WINOGRAD_TILES_FOR_DTYPE = {np.dtype(np.float32): (2, 4, 6), np.dtype(np.float64): (2, 4, 6)}


def conv2d_plan(algorithm: str, x_shape, weight_shape, geometry: Conv2dGeometry, dtype) -> int:
    """Winograd tile (2, 4, 6) to use, or 0 for direct convolution. algorithm: a checked name."""
    if algorithm == "direct":
        return 0
    if algorithm in WINOGRAD_TILES:
        return WINOGRAD_TILES[algorithm]
    kernel_size = tuple(int(v) for v in weight_shape[2:])
    if winograd_problem(kernel_size, geometry.stride, geometry.dilation) is not None:
        return 0  # "auto" ("winograd" was refused by check_conv2d_algorithm)
    n, c, h, w = (int(v) for v in x_shape)
    out_channels, in_per_group = int(weight_shape[0]), int(weight_shape[1])
    groups = geometry.groups
    if algorithm == "auto" and min(in_per_group, out_channels // groups) < _WINOGRAD_MIN_CHANNELS:
        return 0  # ncnn's rule: too few channels per group to amortise the transforms
    top, bottom, left, right = geometry.resolved_padding(kernel_size)
    out_h, out_w = h + top + bottom - 2, w + left + right - 2
    itemsize = np.dtype(dtype).itemsize
    args = (n, in_per_group, out_channels // groups, groups, out_h, out_w)
    isa = _core.get_isa()
    costs = {tile: winograd_cost(tile, *args, itemsize, isa) for tile in WINOGRAD_TILES_FOR_DTYPE[np.dtype(dtype)]}
    if algorithm == "auto":
        costs[0] = direct_cost(*args, 9, itemsize, isa)
    return min(costs, key=lambda tile: (costs[tile], tile))


# --------------------------------------------------------------------------------------------
# runtime


def thread_count(n) -> int:
    return as_int(n, "n", minimum=1, maximum=_core.max_num_threads)


# --------------------------------------------------------------------------------------------
# receptive fields and layer stacks


def _rf_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {_describe(value)} of type {type(value).__name__}")
    if int(value) < 1:
        raise ValueError(f"{name} must be a positive integer (1 or more), got {int(value)}")
    return int(value)


def rf_extent_pair(value, name: str) -> Pair:
    """Receptive-field size or jump: a positive int or a (rows, cols) pair of them (no upper
    limit: composed stacks may exceed the per-layer limits)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a positive integer or a pair (rows, cols) of them, got {value!r}")
    if isinstance(value, (tuple, list, np.ndarray)):
        items = list(np.asarray(value, dtype=object).ravel()) if isinstance(value, np.ndarray) else list(value)
        if len(items) != 2 or (isinstance(value, np.ndarray) and value.ndim != 1):
            raise ValueError(f"{name} must be a positive integer or a pair (rows, cols) of them, got {_describe(value)}")
        return (_rf_int(items[0], f"{name}[0]"), _rf_int(items[1], f"{name}[1]"))
    number = _rf_int(value, name)
    return (number, number)


def _rf_real(value, name: str):
    from fractions import Fraction

    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Rational, numbers.Real)):
        raise TypeError(f"{name} must be a real number, got {_describe(value)} of type {type(value).__name__}")
    if isinstance(value, numbers.Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return Fraction(value)


def rf_start_pair(value, name: str):
    """Receptive-field start: a real number or a (rows, cols) pair, as exact Fractions."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number or a pair (rows, cols) of numbers, got {value!r}")
    if isinstance(value, (tuple, list, np.ndarray)):
        items = list(np.asarray(value, dtype=object).ravel()) if isinstance(value, np.ndarray) else list(value)
        if len(items) != 2 or (isinstance(value, np.ndarray) and value.ndim != 1):
            raise ValueError(f"{name} must be a number or a pair (rows, cols) of numbers, got {_describe(value)}")
        return (_rf_real(items[0], f"{name}[0]"), _rf_real(items[1], f"{name}[1]"))
    number = _rf_real(value, name)
    return (number, number)


def output_index(value, name: str, count: Optional[int] = None) -> int:
    """An output row/col index: an int in [0, count) (count None: any int >= 0)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"output index {name} must be an integer, got {_describe(value)} of type {type(value).__name__}")
    value = int(value)
    if value < 0 or (count is not None and value >= count):
        valid = f"0 <= {name} <= {count - 1}" if count is not None else f"{name} >= 0"
        raise ValueError(f"output index {name} = {value} is out of range: valid indices are {valid}")
    return value


def shape_tuple(value, name: str = "input_shape") -> Tuple[int, ...]:
    """A shape: a sequence of non-negative ints."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray)):
        raise TypeError(f"{name} must be a tuple of ints such as (N, C, H, W) or (C, H, W), got {_describe(value)}")
    return tuple(as_int(v, f"{name}[{i}]", minimum=0, maximum=2**63 - 1) for i, v in enumerate(value))


# --------------------------------------------------------------------------------------------
# pooling (max_pool2d, avg_pool2d)


def as_flag(value, name: str) -> bool:
    """A bool (or numpy bool, or the integers 0 and 1)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {_describe(value)} of type {type(value).__name__}")


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
# SciPy drop-ins (fieldconv.signal, fieldconv.ndimage): argument rules exactly as SciPy 1.17,
# with SciPy's exception types and clearer messages.

import operator as _operator  # noqa: E402
import warnings as _warnings  # noqa: E402
from collections.abc import Iterable as _Iterable  # noqa: E402

FILTER_METHODS = ("auto", "direct", "fft")
# FilterBorder codes of fieldconv/filter2d.hpp
BORDER_CONSTANT, BORDER_NEAREST, BORDER_REFLECT, BORDER_MIRROR, BORDER_WRAP = range(5)
# FilterAccumulator codes
ACC_FLOAT32, ACC_FLOAT64, ACC_WRAP32, ACC_WRAP64 = range(4)
ACC_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint32), np.dtype(np.uint64))
FILTER_KERNEL_DTYPES = frozenset("?bBhHiIlLqQfd")  # dtype.char the C++ core reads and writes


def filter_method(method) -> str:
    if not isinstance(method, str) or method not in FILTER_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, FILTER_METHODS))}, got {_describe(method)}")
    return method


SIGNAL_MODES = {"valid": 0, "same": 1, "full": 2}
SIGNAL_BOUNDARIES = {"fill": BORDER_CONSTANT, "pad": BORDER_CONSTANT, "wrap": BORDER_WRAP,
                     "circular": BORDER_WRAP, "symm": BORDER_REFLECT, "symmetric": BORDER_REFLECT}


def signal_mode(mode) -> str:
    if not isinstance(mode, str) or mode not in SIGNAL_MODES:
        raise ValueError(f"mode must be 'valid', 'same' or 'full' (as scipy.signal), got {_describe(mode)}")
    return mode


def signal_boundary(boundary) -> int:
    if isinstance(boundary, str) and boundary == "reflect":
        # scipy.signal's table knows the name but its C core refuses it
        raise ValueError("boundary='reflect' is not supported by scipy.signal.correlate2d/convolve2d; "
                         "use 'fill', 'wrap' (or 'circular') or 'symm' (or 'symmetric')")
    if not isinstance(boundary, str) or boundary not in SIGNAL_BOUNDARIES:
        raise ValueError("boundary must be 'fill' (or 'pad'), 'wrap' (or 'circular') or 'symm' "
                         f"(or 'symmetric'), got {_describe(boundary)}")
    return SIGNAL_BOUNDARIES[boundary]


def signal_inputs(in1, in2, mode: str, name: str):
    """in1, in2 as arrays, 2-D checked, swapped in 'valid' mode as SciPy does. -> (in1, in2, swapped)."""
    a = np.asarray(in1)
    b = np.asarray(in2)
    if not a.ndim == b.ndim == 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays, got in1.ndim={a.ndim} and in2.ndim={b.ndim}")
    swapped = False
    if mode == "valid":
        ok1 = all(a.shape[i] >= b.shape[i] for i in range(2))
        ok2 = all(b.shape[i] >= a.shape[i] for i in range(2))
        if not (ok1 or ok2):
            raise ValueError(f"For 'valid' mode, one must be at least as large as the other in every dimension "
                             f"(in1.shape={a.shape}, in2.shape={b.shape})")
        swapped = not ok1
    return a, b, swapped


def filter_extents(name: str, what: str, shape) -> None:
    """A filter's input, kernel or output shape within the per-axis and element-count limits,
    checked before the kernel's taps or the output are built (a broadcast view can be huge
    without memory behind it)."""
    if any(n > MAX_EXTENT for n in shape):
        raise ValueError(f"{name}: {what} shape {tuple(shape)} exceeds the limit of {MAX_EXTENT} "
                         "(2**31 - 1) elements along an axis")
    if math.prod(shape) > MAX_ELEMENTS:
        raise ValueError(f"{name}: {what} shape {tuple(shape)} has {math.prod(shape)} elements, more than the "
                         "limit of 2**48")


def signal_dtype(a: np.ndarray, b: np.ndarray) -> np.dtype:
    """The computation and result dtype: NumPy's promotion of both inputs, as SciPy's C core."""
    try:
        return np.promote_types(a.dtype, b.dtype)
    except TypeError:
        raise ValueError(f"in1 and in2 have no common numeric dtype ({a.dtype} and {b.dtype}); "
                         "accepted: integer, float32/64, longdouble and complex dtypes") from None


def signal_check_dtype(dtype: np.dtype, name: str) -> None:
    if dtype.kind in "iu" or dtype.char in "fdgFDG":
        return
    raise ValueError(f"{name} not available for dtype {dtype} (as scipy.signal: bool, float16, object and "
                     "non-numeric dtypes are refused); accepted: integer, float32/64, longdouble, complex")


def signal_fillvalue(fillvalue, dtype: np.dtype) -> np.ndarray:
    """fillvalue as a 0-d array of dtype, with SciPy's conversion rules: arrays must cast safely,
    NumPy scalars and Python objects convert as numpy.array(value, dtype) does."""
    try:
        if isinstance(fillvalue, np.ndarray):
            if not np.can_cast(fillvalue.dtype, dtype, "safe"):
                raise TypeError("unsafe cast")
            value = fillvalue.astype(dtype)
        elif isinstance(fillvalue, np.generic):  # NumPy scalars convert unsafely, as in SciPy
            with np.errstate(all="ignore"), _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                value = np.asarray(fillvalue).astype(dtype)
        else:
            value = np.array(fillvalue, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        try:
            np.asarray(fillvalue, dtype=np.complex128)  # SciPy's fallback: its exception type propagates
        except (TypeError, ValueError) as error:
            raise type(error)(f"fillvalue must be a number, got {_describe(fillvalue)} ({error})") from None
        raise ValueError("could not cast `fillvalue` directly to the output type (it was first converted to "
                         f"complex): fillvalue {_describe(fillvalue)} is not representable in the result dtype "
                         f"{dtype} without an unsafe cast") from None
    if value.size != 1:
        if value.size == 0:
            raise ValueError(f"`fillvalue` cannot be an empty array (got shape {value.shape}).")
        raise ValueError(f"`fillvalue` must be scalar or an array with one element; got shape {value.shape}")
    return value.reshape(())


NDIMAGE_MODES = {"nearest": BORDER_NEAREST, "wrap": BORDER_WRAP, "grid-wrap": BORDER_WRAP,
                 "reflect": BORDER_REFLECT, "grid-mirror": BORDER_REFLECT, "mirror": BORDER_MIRROR,
                 "constant": BORDER_CONSTANT, "grid-constant": BORDER_CONSTANT}
NDIMAGE_IO_KINDS = frozenset("?bBhHiIlLqQfd")


def ndimage_mode(mode) -> int:
    if not isinstance(mode, str) and isinstance(mode, _Iterable):
        raise RuntimeError("A sequence of modes is not supported (mode must be one string)")
    if not isinstance(mode, str) or mode not in NDIMAGE_MODES:
        raise RuntimeError(f"boundary mode not supported: mode must be one of {', '.join(map(repr, NDIMAGE_MODES))}, "
                           f"got {_describe(mode)}")
    return NDIMAGE_MODES[mode]


def ndimage_axes(axes, ndim: int) -> tuple:
    """scipy.ndimage's _check_axes."""
    if axes is None:
        return tuple(range(ndim))
    if np.isscalar(axes):
        axes = (_axis_index(axes, axes),)
    elif isinstance(axes, _Iterable):
        axes = tuple(_axis_index(ax, axes) for ax in list(axes))
        for ax in axes:
            if ax < -ndim or ax > ndim - 1:
                raise ValueError(f"specified axis: {ax} is out of range for an input with {ndim} dimensions")
        axes = tuple(ax % ndim if ax < 0 else ax for ax in axes)
    else:
        raise ValueError(f"axes must be an integer, iterable of integers, or None, got {_describe(axes)}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"axes must be unique, got {axes}")
    return axes


def _axis_index(axis, axes) -> int:
    try:
        return _operator.index(axis)
    except TypeError as error:  # SciPy's exception and message, with the argument named
        raise TypeError(f"{error}: axes must be an integer or a sequence of integers, got {_describe(axes)}") from None


def ndimage_origin_int(origin) -> int:
    """One origin as an int: TypeError (SciPy's type) naming the argument for anything else."""
    try:
        return _operator.index(origin)
    except TypeError:
        raise TypeError(f"origin must be an integer or a sequence of integers (one per filtered axis), "
                        f"got {_describe(origin)}") from None


def ndimage_sequence(value, rank: int, name: str) -> list:
    if not isinstance(value, str) and np.iterable(value):
        items = list(value)
        if len(items) != rank:
            raise RuntimeError(f"sequence argument must have length equal to input rank: {name} has "
                               f"{len(items)} entries for {rank} filtered axes")
        return items
    return [value] * rank


def ndimage_check_origin(origin, size: int) -> int:
    try:
        invalid = (origin < -(size // 2)) or (origin > (size - 1) // 2)
    except TypeError:  # str, None, ...: SciPy's comparison raises TypeError too
        ndimage_origin_int(origin)
        raise
    if invalid:
        raise ValueError(f"Invalid origin {origin!r} for a weights axis of length {size}; origin must satisfy "
                         "-(weights.shape[k] // 2) <= origin[k] <= (weights.shape[k]-1) // 2")
    return origin


def ndimage_output(output, input: np.ndarray, complex_output: bool = False) -> np.ndarray:
    """scipy.ndimage's _get_output (RuntimeError for a wrong shape or dtype)."""
    shape = input.shape
    if output is None:
        dtype = np.promote_types(input.dtype, np.complex64) if complex_output else input.dtype.name
        return np.zeros(shape, dtype=dtype)
    if isinstance(output, (type, np.dtype)):
        if complex_output and np.dtype(output).kind != "c":
            _warnings.warn("promoting specified output dtype to complex", stacklevel=4)
            output = np.promote_types(output, np.complex64)
        return np.zeros(shape, dtype=output)
    if isinstance(output, str):
        dtype = np.dtype(output)
        if complex_output and dtype.kind != "c":
            raise RuntimeError(f"output must have complex dtype for complex input or weights, got {output!r}")
        if not issubclass(dtype.type, np.number):
            raise RuntimeError(f"output must have numeric dtype, got {output!r}")
        return np.zeros(shape, dtype=dtype)
    array = np.asarray(output)
    if array.shape != shape:
        raise RuntimeError(f"output shape not correct: got {array.shape}, the input has shape {shape}")
    if complex_output and array.dtype.kind != "c":
        raise RuntimeError(f"output must have complex dtype for complex input or weights, got {array.dtype}")
    return array


def ndimage_check_writeable(output: np.ndarray) -> None:
    """SciPy's argument parsing: checked before cval and origin are converted."""
    if not output.flags.writeable:
        raise ValueError("output array is read-only.")


def ndimage_check_io(input: np.ndarray, output: np.ndarray) -> None:
    ndimage_check_writeable(output)
    if input.size == 0:  # SciPy's C filter checks dtypes per line: an empty input passes any dtype
        return
    for array, what in ((input, "input"), (output, "output")):
        if array.dtype.char not in NDIMAGE_IO_KINDS:
            raise RuntimeError(f"array type not supported: {what} dtype {array.dtype} (scipy.ndimage accepts bool, "
                               "integer, float32 and float64; complex through real and imaginary parts)")


def ndimage_cval(cval) -> float:
    return float(np.float64(cval)) if isinstance(cval, np.floating) else _real_number(cval)


def _real_number(value) -> float:
    if isinstance(value, (complex, np.complexfloating)) or isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"cval must be a real number, not {type(value).__name__}")
    if isinstance(value, np.ndarray) and value.ndim != 0:
        raise TypeError("only 0-dimensional arrays can be converted to Python scalars (cval must be a real number)")
    try:
        return float(value)
    except (TypeError, ValueError) as error:  # SciPy's exception type, with the argument named
        raise type(error)(f"cval must be a real number, got {_describe(value)} ({error})") from None
