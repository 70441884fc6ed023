"""Drop-ins for numpy.convolve and numpy.correlate (NumPy 2 semantics).

Modes by name ("valid", "same", "full") or number (0, 1, 2); result dtype the common dtype of
the two inputs (so a Python float gives float64); convolve's swap when `v` is longer;
correlate's conjugation of `v` for complex inputs and its reversal when `v` is longer; NumPy's
errors for empty, multi-dimensional or unsupported inputs. Integer results are NumPy's bit for
bit (sums wrap in the result type); float and complex results differ from NumPy's only by
rounding order (and, on the FFT path, by the FFT's error bound). Inputs of other dtypes (bool,
float16, long double, object, ...) and invalid calls go to NumPy itself, so they behave exactly
as NumPy's.

Computed by fieldconv's 2-D filter core on a one-row image (threaded SIMD direct sums), by
fieldconv's own overlap-save FFTs (real inputs, up to about 4,000 taps: threaded, SIMD) or by
numpy.fft's overlap-add, chosen by a cost model of the same kind as the 2-D drop-ins': never
an FFT for integers, and with method="auto" NaN/Inf in the inputs (or an FFT overflow) end up
summed directly, where NumPy puts them.
"""

from __future__ import annotations

import operator

import numpy as np

from . import _core, _filter2d, _filter_args, signal

__all__ = ["convolve", "correlate"]

# What a call costs beyond its outputs, in the cost model's one-thread seconds (measured on AMD
# EPYC Zen 4 with 1,000-3,000 samples): the C++ FFT path (the filter's spectrum, at least one
# whole batch of blocks, the Python around it) 6-9 us; the direct path's Python and 2-D
# machinery 12-19 us; numpy.fft's overlap-add about 50 us.
_LINE_FFT_CALL_SECONDS = 10e-6
_DIRECT_CALL_SECONDS = 15e-6
_NUMPY_FFT_CALL_SECONDS = 40e-6

# dtypes computed here; every other one is NumPy's own business
_FAST_KINDS = frozenset("bBhHiIlLqQfdFD")
_MODES = {"valid": 0, "same": 1, "full": 2}
# NumPy's own functions, taken at import: fieldconv.drop_in() may put ours in their place, and the
# fallbacks below must still reach NumPy.
_numpy_convolve = np.convolve
_numpy_correlate = np.correlate


def convolve(a, v, mode="full", *, method: str = "auto") -> np.ndarray:
    """Discrete linear convolution of two 1-D sequences, as ``numpy.convolve``.

    method: "auto", "direct" or "fft" (keyword only); "auto" takes the FFT only for float or
    complex inputs without NaN/Inf where it is expected to be faster.
    """
    method = _filter_args.filter_method(method)
    try:
        x, y = np.array(a, copy=None, ndmin=1), np.array(v, copy=None, ndmin=1)
    except (TypeError, ValueError):
        x = y = None
    number = _mode_number(mode)
    dtype = None if x is None else _fast_dtype(x, y)
    if number is None or dtype is None or x.ndim != 1 or y.ndim != 1 or x.size == 0 or y.size == 0:
        return _numpy_convolve(a, v, mode)  # NumPy's result or NumPy's exception
    if y.size > x.size:
        x, y = y, x
    return _correlate_core(x, y[::-1], number, dtype, method, "convolve")


def correlate(a, v, mode="valid", *, method: str = "auto") -> np.ndarray:
    """Cross-correlation of two 1-D sequences, as ``numpy.correlate``:
    ``c[k] = sum_n a[n + k] * conj(v[n])``. method as for convolve."""
    method = _filter_args.filter_method(method)
    try:  # no ndmin here: NumPy's correlate refuses 0-d inputs
        x, y = np.asarray(a), np.asarray(v)
    except (TypeError, ValueError):
        x = y = None
    number = _mode_number(mode)
    dtype = None if x is None else _fast_dtype(x, y)
    if number is None or dtype is None or x.ndim != 1 or y.ndim != 1 or x.size == 0 or y.size == 0:
        return _numpy_correlate(a, v, mode)  # NumPy's result or NumPy's exception
    if y.dtype.kind == "c" or dtype.kind == "c":
        y = np.conj(y.astype(dtype, copy=False))
    if x.size < y.size:  # NumPy computes correlate(v, a) and reverses it
        return _correlate_core(y, x, number, dtype, method, "correlate")[::-1].copy()
    return _correlate_core(x, y, number, dtype, method, "correlate")


def _mode_number(mode):
    """NumPy's mode converter, or None where NumPy would raise (NumPy then raises it)."""
    if isinstance(mode, str):
        return _MODES.get(mode)
    try:
        number = operator.index(mode)
    except TypeError:
        return None
    return number if 0 <= number <= 2 else None


def _fast_dtype(x: np.ndarray, y: np.ndarray):
    """The result dtype (NumPy's common dtype of the two inputs), if computed here, else None."""
    try:
        dtype = np.result_type(x, y)
    except TypeError:
        return None
    if dtype.char not in _FAST_KINDS:
        return None
    return dtype.newbyteorder("=")


def _correlate_core(x: np.ndarray, y: np.ndarray, mode: int, dtype: np.dtype, method: str, name: str):
    """out[i] = sum_j x[i + j - left] * y[j] (zero outside x), len(x) >= len(y), as NumPy's
    _pyarray_correlate: "valid" n1 - n2 + 1 outputs from left 0, "same" n1 from left n2 // 2,
    "full" n1 + n2 - 1 from left n2 - 1."""
    n1, n2 = x.size, y.size
    if mode == 0:
        length, left = n1 - n2 + 1, 0
    elif mode == 1:
        length, left = n1, n2 // 2
    else:
        length, left = n1 + n2 - 1, n2 - 1
    if dtype.kind in "iu" and method == "fft":
        raise ValueError(
            f"method='fft' cannot give {name}'s exact (wrapping) integer sums for dtype {dtype}; "
            "use method='direct' or 'auto', or convert the inputs to float"
        )
    _filter_args.filter_extents(name, "a", (1, n1))
    _filter_args.filter_extents(name, "output", (1, length))
    if dtype.kind in "fc":
        path = _fastest_path(length, n2, dtype, fft_only=method == "fft") if method != "direct" else "direct"
        if path == "line_fft":
            out, finite = _correlate_line_fft(x, y, length, left, dtype)
            if finite or method == "fft":
                return out
        elif path == "numpy_fft" and (method == "fft" or _filter2d.all_finite(x, y)):
            return _overlap_add(x.astype(dtype, copy=False), y.astype(dtype, copy=False), length, left, dtype)
    stack = np.ascontiguousarray(x, dtype=dtype).reshape(1, 1, n1)
    kernel = np.ascontiguousarray(y, dtype=dtype).reshape(1, n2)
    fill = np.zeros((), dtype=dtype)
    out = signal._compute(stack, kernel, (1, length), (0, -left), _filter_args.BORDER_CONSTANT, fill, dtype, "direct")
    return out.reshape(length)


def _correlate_line_fft(x: np.ndarray, y: np.ndarray, length: int, left: int, dtype: np.dtype):
    """(out, finite): the sums by the C++ overlap-save FFTs (real float32/float64), into a
    vector-aligned output (stored past the caches). finite is False when an output is not finite
    (NaN/Inf in the input, or an overflow): "auto" then computes directly, so that NaN and Inf
    land where NumPy's sums put them (an FFT spreads them over a block)."""
    x = np.ascontiguousarray(x, dtype=dtype)
    y = np.ascontiguousarray(y, dtype=dtype)
    out = _aligned_empty(length, dtype)
    return out, _core.correlate_line_fft(x, y, out, left)


def _aligned_empty(length: int, dtype: np.dtype) -> np.ndarray:
    """An uninitialised 1-D array whose data starts on a 64-byte boundary."""
    spare = 64 // dtype.itemsize
    buffer = np.empty(length + spare, dtype=dtype)
    start = (-buffer.ctypes.data % 64) // dtype.itemsize
    return buffer[start : start + length]


def _block_length(n1: int, n2: int) -> int:
    """FFT length of the overlap-add blocks: a fast length of about 8 kernel lengths (the
    FFT's cost per output grows with log N, the wasted overlap shrinks as 1 / N), at most what
    a single transform of everything needs."""
    return _filter2d._fast_length(min(max(8 * n2, 1024), n1 + n2 - 1))


def _fastest_path(length: int, n2: int, dtype: np.dtype, fft_only: bool = False) -> str:
    """The cost model of "auto" (and of "fft": the faster FFT): "direct" (multiply-adds at the
    measured rate of the kernel family), "line_fft" (fieldconv's overlap-save FFTs, real inputs
    and taps they take: their own estimate per output) or "numpy_fft" (numpy.fft's overlap-add at
    numpy.fft's measured cost per point and log2(points)). Costs are for one thread, so that the
    choice, and with it the rounding of the results, never depends on the thread count."""
    complex_ = dtype.kind == "c"
    itemsize = dtype.itemsize // (2 if complex_ else 1)
    size = _block_length(length, n2)
    blocks = -(-(length + n2 - 1) // (size - n2 + 1))
    # three transforms (two of the blocks' length, one of the kernel), real ones at half cost
    numpy_points = (2 * blocks + 1) * size * np.log2(max(size, 2))
    costs = {
        "numpy_fft": _NUMPY_FFT_CALL_SECONDS
        + numpy_points * _filter2d._FFT_SECONDS_PER_POINT_LOG * (1.0 if complex_ else 0.5)
    }
    if not complex_:
        log2_size, ns_per_output = _core.fft_correlate_plan(n2, itemsize == 4)
        if log2_size:
            costs["line_fft"] = _LINE_FFT_CALL_SECONDS + length * ns_per_output * 1e-9
    if not fft_only:
        if n2 < 64:  # direct sums are more accurate, and about as fast here
            return "direct"
        rates = _filter2d._DIRECT_RATE.get(str(_core.kernel_choice()["filter2d"]), _filter2d._DIRECT_RATE["generic"])
        costs["direct"] = _DIRECT_CALL_SECONDS + length * n2 * (4 if complex_ else 1) / rates.get(itemsize, rates[8])
    return min(costs, key=costs.__getitem__)


def _prefer_fft(length: int, n2: int, dtype: np.dtype) -> bool:
    """True where "auto" takes an FFT."""
    return _fastest_path(length, n2, dtype) != "direct"


def _overlap_add(x: np.ndarray, y: np.ndarray, length: int, left: int, dtype: np.dtype) -> np.ndarray:
    """The same sums by overlap-add FFT convolution of x with y reversed (blocks of x transformed
    together by numpy.fft)."""
    n1, n2 = x.size, y.size
    size = _block_length(n1, n2)
    step = size - n2 + 1  # new samples per block; the last n2 - 1 outputs spill into the next
    blocks = -(-n1 // step)
    padded = np.zeros(blocks * step, dtype=x.dtype)
    padded[:n1] = x
    segments = padded.reshape(blocks, step)
    complex_ = dtype.kind == "c"
    forward, inverse = (np.fft.fft, np.fft.ifft) if complex_ else (np.fft.rfft, np.fft.irfft)
    spectrum = forward(segments, size, axis=1) * forward(y[::-1], size)
    pieces = inverse(spectrum, size, axis=1)  # (blocks, size): each block's full convolution
    head = pieces[:, :step].copy()
    if n2 > 1:
        head[1:, : n2 - 1] += pieces[:-1, step:]
    full = np.concatenate([head.reshape(-1), pieces[-1, step:]])  # convolution, >= n1 + n2 - 1 long
    start = n2 - 1 - left
    out = full[start : start + length]
    return out.astype(dtype, copy=False) if complex_ else out.real.astype(dtype, copy=False)
