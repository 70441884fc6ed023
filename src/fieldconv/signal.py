"""Drop-ins for scipy.signal.correlate2d and scipy.signal.convolve2d (SciPy 1.17 semantics)."""

from __future__ import annotations

import numpy as np

from . import _filter2d, _filter_args

__all__ = ["correlate2d", "convolve2d"]


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, method="auto") -> np.ndarray:
    """Cross-correlate two 2-D arrays, as ``scipy.signal.correlate2d``.

    Same result dtype (``numpy.promote_types(in1, in2)``; integer sums wrap in it), shape,
    alignment of even sizes in "same", input swap in "valid" and exceptions as SciPy 1.17.
    ``in2`` is conjugated. method: "auto", "direct" or "fft" (keyword only; "auto" takes the FFT
    only for float/complex inputs without NaN/Inf where it is expected to be faster).
    """
    return _filter_2d(in1, in2, mode, boundary, fillvalue, method, convolve=False, name="correlate2d")


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, method="auto") -> np.ndarray:
    """Convolve two 2-D arrays, as ``scipy.signal.convolve2d`` (see correlate2d)."""
    return _filter_2d(in1, in2, mode, boundary, fillvalue, method, convolve=True, name="convolve2d")


def _filter_2d(in1, in2, mode, boundary, fillvalue, method, convolve, name):
    method = _filter_args.filter_method(method)
    image, kernel, swapped = _filter_args.signal_inputs(in1, in2, mode, name)
    _filter_args.signal_mode(mode)
    border = _filter_args.signal_boundary(boundary)
    dtype = _filter_args.signal_dtype(image, kernel)
    if border == _filter_args.BORDER_CONSTANT:
        fill = _filter_args.signal_fillvalue(fillvalue, dtype)
    else:
        fill = np.zeros((), dtype=dtype)
    _filter_args.signal_check_dtype(dtype, name)
    if swapped:
        image, kernel = kernel, image
    if kernel.size == 0:
        raise ValueError(
            f"{name}: the kernel is empty (shape {kernel.shape}); it needs at least one element "
            "(SciPy returns an arbitrary zero array here)"
        )
    if image.size == 0 and border != _filter_args.BORDER_CONSTANT:
        raise ValueError(
            f"{name}: boundary={boundary!r} needs a non-empty input, got shape {image.shape} "
            "(SciPy crashes here); use boundary='fill'"
        )
    height, width = image.shape
    kh, kw = kernel.shape
    if mode == "full":
        out_hw = (height + kh - 1, width + kw - 1)
        offsets = (-(kh - 1), -(kw - 1))
    elif mode == "same":
        out_hw = (height, width)
        if convolve:  # SciPy centres convolutions of even kernels one sample later than correlations
            offsets = (-(kh - 1 - (kh - 1) // 2), -(kw - 1 - (kw - 1) // 2))
        else:
            offsets = (-((kh - 1) // 2), -((kw - 1) // 2))
    else:
        out_hw = (height - kh + 1, width - kw + 1)
        offsets = (0, 0)
    _filter_args.filter_extents(name, "input", image.shape)
    _filter_args.filter_extents(name, "kernel", kernel.shape)
    _filter_args.filter_extents(name, "output", out_hw)
    taps = kernel[::-1, ::-1] if convolve else kernel.conj()
    if dtype.kind in "iu" and method == "fft":
        raise ValueError(
            f"method='fft' cannot give {name}'s exact (wrapping) integer sums for dtype {dtype}; "
            "use method='direct' or 'auto', or convert the inputs to float"
        )
    image = image.astype(dtype, copy=False)[np.newaxis]
    taps = taps.astype(dtype, copy=False)
    out = _compute(image, taps, out_hw, offsets, border, fill, dtype, method)[0]
    if swapped and not convolve:
        out = out[::-1, ::-1].copy()
    return out


def _compute(stack, kernel, out_hw, offsets, border, fill, dtype, method):
    if dtype.char in "gG":  # long double: no C++ kernel, a plain NumPy loop in that precision
        return _numpy_filter(stack, kernel, out_hw, offsets, border, fill)
    if dtype.kind in "iu":
        accumulator = _filter_args.ACC_WRAP32 if dtype.itemsize <= 4 else _filter_args.ACC_WRAP64
        acc_dtype = _filter_args.ACC_DTYPES[accumulator]
        with np.errstate(all="ignore"):
            kernel_acc = kernel.astype(acc_dtype)
            fill_acc = fill.astype(acc_dtype)
        return _filter2d.direct(stack, kernel_acc, out_hw, offsets[0], offsets[1], border, fill_acc, accumulator, dtype)
    use_fft = method == "fft"
    if method == "auto":
        real_size = dtype.itemsize // (2 if dtype.kind == "c" else 1)
        real_filters = 4 if dtype.kind == "c" else 1  # complex: four real filters
        use_fft = _filter2d.prefer_fft(
            stack.shape[0], out_hw, kernel.shape, kernel.size * real_filters, real_size
        ) and _filter2d.all_finite(stack, kernel, fill)
    if use_fft:
        out = _filter2d.fft(stack, kernel, out_hw, offsets[0], offsets[1], border, fill)
        return out.astype(dtype, copy=False) if dtype.kind == "c" else out.real.astype(dtype, copy=False)
    if dtype.kind == "c":
        # (a + ib)(c + id) = (ac - bd) + i(ad + bc), each a real filter; the fill splits likewise
        real_dtype = np.dtype(dtype.char.lower())
        a, b = stack.real, stack.imag
        c, d = kernel.real, kernel.imag
        fr, fi = fill.real, fill.imag
        out = np.empty((stack.shape[0],) + out_hw, dtype=dtype)
        run = lambda x, k, f: _real_direct(x, k, out_hw, offsets, border, f, real_dtype)  # noqa: E731
        out.real = run(a, c, fr) - run(b, d, fi)
        out.imag = run(a, d, fr) + run(b, c, fi)
        return out
    return _real_direct(stack, kernel, out_hw, offsets, border, fill, dtype)


def _real_direct(stack, kernel, out_hw, offsets, border, fill, dtype):
    accumulator = _filter_args.ACC_FLOAT32 if dtype == np.float32 else _filter_args.ACC_FLOAT64
    return _filter2d.direct(stack, kernel, out_hw, offsets[0], offsets[1], border, fill, accumulator, dtype)


def _numpy_filter(stack, kernel, out_hw, offsets, border, fill):
    ext = _filter2d.extend(stack, out_hw, kernel.shape, offsets[0], offsets[1], border, fill)
    out = np.zeros((stack.shape[0],) + tuple(out_hw), dtype=np.result_type(stack, kernel))
    for r in range(kernel.shape[0]):
        for c in range(kernel.shape[1]):
            out += kernel[r, c] * ext[:, r : r + out_hw[0], c : c + out_hw[1]]
    return out
