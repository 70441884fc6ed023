"""Type stubs of fieldconv._core, the compiled module (internal: use the fieldconv package).

Arguments reaching these functions were already checked and normalised by the Python layer
(fieldconv._params and each area's checks: _conv2d_args, _pool2d_args, _filter_args):
arrays are C-contiguous, native float32 or float64, integers are plain ints.
"""

from typing import Any, Dict, Optional, Tuple

import numpy as np
import numpy.typing as npt

Pair = Tuple[int, int]
Quad = Tuple[int, int, int, int]  # (top, bottom, left, right)

max_extent: int  # 2**31 - 1: largest size, stride, dilation or padding along an axis
max_element_count: int  # 2**48: largest number of elements of any array

# runtime
max_num_threads: int  # largest count set_num_threads accepts

def get_num_threads() -> int: ...  # 1 in a single-threaded fork child
def set_num_threads(n: int, source: str = "set_num_threads") -> None: ...  # ValueError outside 1..max_num_threads
def num_threads_source() -> str: ...  # "OMP_NUM_THREADS", "CPU affinity", "cgroup CPU quota", or who set it
def get_num_threads_setting() -> int: ...  # the configured count
def threads_for_work(work_ns: float) -> int: ...  # threads a call of that much single-thread work gets now
def cgroup_cpu_limit(proc_self_cgroup: str, cgroup_root: str) -> int: ...  # 0: no quota
def affinity_cpu_count() -> int: ...
def team_statistics(
    reset: bool = False,
) -> Dict[str, int]: ...  # peak_active_threads, peak_helpers, teams, caller_alone_windows
def fma_peak_gflops(threads: int, seconds: float = 0.2) -> float: ...  # measured FMA throughput
def get_isa() -> str: ...  # "avx512", "avx2" or "generic"
def set_isa(name: str) -> None: ...  # for tests; ValueError if this CPU/build lacks it
def kernel_list() -> "list[Dict[str, Any]]": ...  # family, isa, isa_rank, compiled, cpu_supported (kernel_list.inc)
def kernel_choice() -> Dict[str, str]: ...  # family -> ISA of the entry the active ISA runs
def kernel_constants() -> Dict[str, float]: ...  # vector, panel and block sizes and budgets of the active kernels
def openmp_description() -> str: ...
def compiler_description() -> str: ...

# conv2d
def conv2d_output_shape(
    batch: int,
    in_channels: int,
    in_height: int,
    in_width: int,
    out_channels: int,
    kernel_height: int,
    kernel_width: int,
    stride: Pair,
    dilation: Pair,
    padding: Quad,
    groups: int,
) -> Pair: ...  # (out_height, out_width); ValueError for an invalid geometry (shapes.hpp)

class PackedConv2dWeights:
    """Weights (C_out, C_in // groups, kH, kW) reordered once for the direct kernel."""

    def __init__(self, weight: npt.NDArray[np.floating], groups: int) -> None: ...
    @property
    def dtype(self) -> np.dtype: ...
    @property
    def shape(self) -> Quad: ...
    @property
    def groups(self) -> int: ...

def conv2d_direct(
    input: npt.NDArray[np.floating],
    weight: PackedConv2dWeights,
    bias: Optional[npt.NDArray[np.floating]],
    output: npt.NDArray[np.floating],
    stride: Pair,
    dilation: Pair,
    padding: Quad,
) -> None: ...  # writes conv2d(input, weight) + bias into output (N, C_out, H_out, W_out)

# pooling (max_pool2d, avg_pool2d); padding is (rows, cols) on both sides
def pool2d_output_shape(
    batch: int,
    channels: int,
    in_height: int,
    in_width: int,
    kernel_size: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    ceil_mode: bool,
) -> Pair: ...  # (out_height, out_width); ValueError for an invalid geometry (shapes.hpp)
def max_pool2d(
    input: npt.NDArray[np.floating],
    output: npt.NDArray[np.floating],
    indices: Optional[npt.NDArray[np.int64]],
    kernel_size: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    ceil_mode: bool,
) -> None: ...  # writes values (and PyTorch's flat indices, if given) into (N, C, H_out, W_out) arrays
def avg_pool2d(
    input: npt.NDArray[np.floating],
    output: npt.NDArray[np.floating],
    kernel_size: Pair,
    stride: Pair,
    padding: Pair,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int,  # 0: none
) -> None: ...

class WinogradConv2dWeights:
    """3x3 weights (C_out, C_in // groups, 3, 3) transformed once for Winograd F(tile x tile, 3x3)."""

    def __init__(self, weight: npt.NDArray[np.floating], groups: int, tile: int) -> None: ...  # tile 2, 4, 6
    @property
    def dtype(self) -> np.dtype: ...
    @property
    def usable(self) -> bool: ...  # False for NaN/Inf/overflowing transformed weights: use direct
    @property
    def size_bytes(self) -> int: ...
    @property
    def shape(self) -> Quad: ...
    @property
    def groups(self) -> int: ...
    @property
    def tile(self) -> int: ...

def conv2d_winograd(
    input: npt.NDArray[np.floating],
    weight: WinogradConv2dWeights,
    bias: Optional[npt.NDArray[np.floating]],
    output: npt.NDArray[np.floating],
    padding: Quad,
) -> bool: ...  # False: values non-finite or could overflow, output unspecified; run conv2d_direct

# filters (fieldconv/filter2d.hpp, fieldconv/correlate1d.hpp); arrays C-contiguous and native,
# dtypes bool, int8..uint64, float32, float64
def filter2d(
    input: npt.NDArray,  # (planes, H, W)
    output: npt.NDArray,  # (planes, H_out, W_out), written
    tap_rows: npt.NDArray[np.int64],
    tap_cols: npt.NDArray[np.int64],
    weights: npt.NDArray,  # the accumulator's dtype
    fill: npt.NDArray,  # one accumulator value
    accumulator: int,  # 0 float32, 1 float64, 2 wrapping uint32, 3 wrapping uint64
    row_offset: int,
    col_offset: int,
    border: int,  # 0 constant, 1 nearest, 2 reflect, 3 mirror, 4 wrap
) -> None: ...
def filter_nd(
    input: npt.NDArray,  # any shape, C-contiguous
    output: npt.NDArray,  # same shape, written
    coords: npt.NDArray[np.int64],  # (taps, ndim) tap coordinates, summed in this order
    weights: npt.NDArray,  # the accumulator's dtype
    fill: npt.NDArray,  # one accumulator value
    accumulator: int,
    offsets: npt.NDArray[np.int64],  # (ndim,): output i, tap t read extended input i + t + offsets
    border: int,
) -> None: ...
def correlate_line_fft(
    input: np.ndarray, taps: np.ndarray, output: np.ndarray, left: int, log2_size: int = 0
) -> bool: ...  # output[i] = sum_j input[i + j - left] * taps[j] by FFTs; False: an output is not finite
def fft_correlate_plan(
    taps: int, float32: bool
) -> Tuple[int, float]: ...  # (log2 FFT length, 0: too many taps; ns per output)
def correlate1d(
    input: npt.NDArray,  # (outer, length, inner); filtered along the middle axis
    output: npt.NDArray,  # same shape, written; may be input itself
    weights: npt.NDArray[np.float64],
    size: int,
    origin: int,
    border: int,
    cval: float,
    kind: int,  # 0 weights, 1 uniform (running sum over `size`)
) -> None: ...
def correlate1d_then_last(
    input: npt.NDArray,  # (outer, length, inner): the middle axis, then the last (inner) axis
    output: npt.NDArray,
    weights: npt.NDArray[np.float64],
    origin: int,
    border: int,
    cval: float,
    weights2: npt.NDArray[np.float64],
    origin2: int,
    border2: int,
    cval2: float,
) -> None: ...
def correlate1d_then_last_two(
    input: npt.NDArray,  # (outer, length, plane_rows * width)
    output: npt.NDArray,
    plane_rows: int,
    weights1: npt.NDArray[np.float64],
    border1: int,
    weights2: npt.NDArray[np.float64],
    border2: int,
    weights3: npt.NDArray[np.float64],
    border3: int,
    cval: float,
) -> None: ...
