"""Which algorithm conv2d's "auto" and "winograd" run: direct or Winograd F(m x m, 3 x 3),
m = 2, 4, 6 (README "Winograd", docs/algorithms.md "The auto rule").

The kernels' own sizes come from ``_core``: the vector widths, the weight panel width, the V
budgets, the largest tile block and the microkernel rows of the active kernels
(``_core.kernel_constants()``) and which ISA's entry of each family runs
(``_core.kernel_choice()``), read at each call since ``_core.set_isa`` switches them. Only the
constants calibrated on timings live here.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from . import _core
from ._conv2d_args import WINOGRAD_TILES, Conv2dGeometry, winograd_problem


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
_WINOGRAD_MIN_CHANNELS = 8  # "auto": direct below 8 input or output channels per group


def winograd_cost(
    tile: int,
    batch: int,
    in_per_group: int,
    out_per_group: int,
    groups: int,
    out_h: int,
    out_w: int,
    itemsize: int,
    isa: str,
    constants: Mapping[str, float],
) -> float:
    """Cycles of the Winograd kernel entry of ISA `isa` ("generic" is costed as "avx2"), whose
    _core.kernel_constants() are `constants`."""
    wide = isa == "avx512"
    lanes = int(constants["winograd_vector_bytes"]) // itemsize
    alpha2 = (tile + 2) ** 2
    total = batch * _ceil_div(out_h, tile) * _ceil_div(out_w, tile)
    if total == 0:
        return 0.0
    cin_vectors = _ceil_div(in_per_group, lanes)
    panel = int(constants["winograd_panel_bytes"]) // itemsize
    cout = _ceil_div(out_per_group, panel) * panel
    # tile blocks as the kernel sizes them: V within its budget, whole microkernel calls of gemm_rows tiles
    budget_min = int(constants["winograd_v_budget_min_bytes"])
    budget_max = int(constants["winograd_v_budget_max_bytes"])
    max_block_tiles = int(constants["winograd_max_block_tiles"])
    gemm_rows = int(constants["winograd_gemm_rows"])
    budget = max(budget_min, min(budget_max, alpha2 * in_per_group * cout * itemsize // 8))
    block = max(1, min(max_block_tiles, budget // (alpha2 * cin_vectors * lanes * itemsize)))
    block = max(1, block // gemm_rows * gemm_rows) if block >= gemm_rows else block
    blocks = _ceil_div(total, block)
    block = _ceil_div(total, blocks)
    block = _ceil_div(block, gemm_rows) * gemm_rows if block > gemm_rows else block
    blocks = _ceil_div(total, block)
    rows = (blocks - 1) * block + _ceil_div(total - (blocks - 1) * block, gemm_rows) * gemm_rows  # microkernel rows
    weight_bytes = alpha2 * in_per_group * cout * itemsize
    if wide:
        gemm = rows * alpha2 * in_per_group * cout / (2 * lanes) / _WINOGRAD_AVX512_GEMM_EFFICIENCY
        transforms = total * (
            cin_vectors * _WINOGRAD_AVX512_INPUT_CYCLES[tile]
            + _ceil_div(out_per_group, lanes) * _WINOGRAD_AVX512_OUTPUT_CYCLES[tile]
        )
        per_byte = _WEIGHT_AVX512_CYCLES_PER_BYTE[weight_bytes * groups >= _WEIGHT_L3_BYTES]
    else:
        gemm = rows * alpha2 * in_per_group * cout / (2 * lanes)
        transforms = total * (
            cin_vectors * _WINOGRAD_INPUT_CYCLES[tile] + _ceil_div(out_per_group, lanes) * _WINOGRAD_OUTPUT_CYCLES[tile]
        )
        per_byte = _WEIGHT_CYCLES_PER_BYTE[weight_bytes * groups >= _WEIGHT_L3_BYTES]
    return groups * (gemm + transforms + blocks * weight_bytes * per_byte)


def direct_cost(
    batch: int,
    in_per_group: int,
    out_per_group: int,
    groups: int,
    out_h: int,
    out_w: int,
    kernel_area: int,
    itemsize: int,
    isa: str,
    constants: Mapping[str, float],
) -> float:
    """Direct convolution in the same cycles, by the direct kernel entry of ISA `isa`, whose
    _core.kernel_constants() are `constants`."""
    lanes = int(constants["conv2d_vector_bytes"]) // itemsize
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
    choice, constants = _core.kernel_choice(), _core.kernel_constants()
    costs = {
        tile: winograd_cost(tile, *args, itemsize, choice["winograd"], constants)
        for tile in WINOGRAD_TILES_FOR_DTYPE[np.dtype(dtype)]
    }
    if algorithm == "auto":
        costs[0] = direct_cost(*args, 9, itemsize, choice["conv2d_direct"], constants)
    return min(costs, key=lambda tile: (costs[tile], tile))
