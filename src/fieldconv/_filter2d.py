"""The 2-D filter engine shared by fieldconv.signal and fieldconv.ndimage (internal).

Every SciPy drop-in reduces to real 2-D filters of a stack of planes:

    out[p, i, j] = sum_t w[t] * ext[p, i + row_offset + row[t], j + col_offset + col[t]]

with ext the planes extended by a border rule. ``direct`` runs the C++ core
(fieldconv/filter2d.hpp); ``fft`` computes the same sums with numpy.fft on the explicitly
extended planes; ``prefer_fft`` is the "auto" cost model.
"""

from __future__ import annotations

import numpy as np

from . import _core, _filter_args

DBL_EPSILON = float(np.finfo(np.float64).eps)


def direct(stack, kernel, out_hw, row_offset, col_offset, border, fill, accumulator, out_dtype, mask=None, out=None):
    """Runs the C++ core. stack: (P, H, W) of a core dtype; kernel: 2-D, converted to the
    accumulator's dtype; mask: taps to use (default all). Returns a new (P, *out_hw) array, or
    out (C-contiguous, native, not overlapping stack) filled."""
    acc_dtype = _filter_args.ACC_DTYPES[accumulator]
    stack = np.require(stack, requirements=("C", "A"))
    if stack.dtype.byteorder == ">":
        stack = stack.astype(stack.dtype.newbyteorder("="))
    if mask is None:
        rows, cols = np.indices(kernel.shape).reshape(2, -1)
        weights = np.ascontiguousarray(kernel, dtype=acc_dtype).reshape(-1)
    else:
        rows, cols = np.nonzero(mask)
        weights = np.ascontiguousarray(np.asarray(kernel)[rows, cols], dtype=acc_dtype)
    if out is None:
        out = _filter_args.empty_output((stack.shape[0],) + tuple(out_hw), out_dtype)
    fill_array = np.asarray(fill, dtype=acc_dtype).reshape(1)
    _core.filter2d(
        stack,
        out,
        np.ascontiguousarray(rows, dtype=np.int64),
        np.ascontiguousarray(cols, dtype=np.int64),
        weights,
        fill_array,
        accumulator,
        int(row_offset),
        int(col_offset),
        int(border),
    )
    return out


def border_map(border: int, positions: np.ndarray, n: int) -> np.ndarray:
    """Input index of each extended coordinate (-1: fill), as filter_border_index in C++."""
    x = positions.astype(np.int64)
    inside = (x >= 0) & (x < n)
    if border == _filter_args.BORDER_CONSTANT:
        return np.where(inside, x, -1)
    if border == _filter_args.BORDER_NEAREST:
        return np.clip(x, 0, n - 1)
    if border == _filter_args.BORDER_REFLECT:
        k = np.mod(x, 2 * n)
        return np.where(k >= n, 2 * n - 1 - k, k)
    if border == _filter_args.BORDER_MIRROR:
        if n == 1:
            return np.zeros_like(x)
        k = np.mod(x, 2 * n - 2)
        return np.where(k >= n, 2 * n - 2 - k, k)
    return np.mod(x, n)


def _fast_length(n: int) -> int:
    """Smallest 2**a 3**b 5**c >= n (pocketfft's fast sizes)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def extend(stack, out_hw, kernel_shape, row_offset, col_offset, border, fill):
    """The planes extended to (P, H_out + KH - 1, W_out + KW - 1) by the border rule."""
    _, height, width = stack.shape
    ext_h = out_hw[0] + kernel_shape[0] - 1
    ext_w = out_hw[1] + kernel_shape[1] - 1
    rmap = border_map(border, np.arange(ext_h) + row_offset, height) if height else np.full(ext_h, -1)
    cmap = border_map(border, np.arange(ext_w) + col_offset, width) if width else np.full(ext_w, -1)
    if height and width:
        ext = stack[:, np.maximum(rmap, 0)][:, :, np.maximum(cmap, 0)]
    else:
        ext = np.zeros((stack.shape[0], ext_h, ext_w), dtype=stack.dtype)
    if (rmap < 0).any() or (cmap < 0).any():
        ext[:, rmap < 0, :] = fill
        ext[:, :, cmap < 0] = fill
    return ext


def fft(stack, kernel, out_hw, row_offset, col_offset, border, fill):
    """The same sums by FFT (float or complex stack and kernel). Returns (P, *out_hw) in the
    precision of the inputs (complex if either is complex)."""
    kernel = np.asarray(kernel)
    kh, kw = kernel.shape
    ext = extend(stack, out_hw, kernel.shape, row_offset, col_offset, border, fill)
    shape = (_fast_length(ext.shape[1]), _fast_length(ext.shape[2]))
    flipped = kernel[::-1, ::-1]
    rows = slice(kh - 1, kh - 1 + out_hw[0])
    cols = slice(kw - 1, kw - 1 + out_hw[1])
    if ext.dtype.kind == "c" or flipped.dtype.kind == "c":
        spectrum = np.fft.fftn(ext, shape, axes=(1, 2)) * np.fft.fftn(flipped, shape, axes=(0, 1))
        return np.fft.ifftn(spectrum, axes=(1, 2))[:, rows, cols]
    spectrum = np.fft.rfftn(ext, shape, axes=(1, 2)) * np.fft.rfftn(flipped, shape, axes=(0, 1))
    return np.fft.irfftn(spectrum, shape, axes=(1, 2))[:, rows, cols]


# "auto": direct taps per second per thread by kernel family and real itemsize (measured on the
# project machine, 1024^2 float32/float64 images, 9x9..45x45 kernels) against numpy.fft's
# single-threaded cost per point of the padded plane, times log2(points) (1.2-2 ns measured).
_DIRECT_RATE = {"avx512": {4: 5.0e10, 8: 2.5e10}, "avx2": {4: 2.5e10, 8: 1.25e10}, "generic": {4: 6.0e9, 8: 3.0e9}}
_FFT_SECONDS_PER_POINT_LOG = 1.3e-9


def prefer_fft(planes, out_hw, kernel_shape, taps, itemsize) -> bool:
    """True when the FFT path is expected to be faster than the direct one, both on one thread:
    the choice, and so the rounding of the results, never depends on the thread count."""
    if taps < 64:
        return False
    rates = _DIRECT_RATE.get(str(_core.kernel_choice()["filter2d"]), _DIRECT_RATE["generic"])  # the entry that runs
    direct_seconds = planes * out_hw[0] * out_hw[1] * taps / rates.get(itemsize, rates[8])
    points = _fast_length(out_hw[0] + kernel_shape[0] - 1) * _fast_length(out_hw[1] + kernel_shape[1] - 1)
    fft_seconds = planes * points * np.log2(max(points, 2)) * _FFT_SECONDS_PER_POINT_LOG
    return fft_seconds < direct_seconds


def all_finite(*arrays) -> bool:
    return all(bool(np.isfinite(a).all()) for a in arrays)
