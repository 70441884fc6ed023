"""Drop-ins for scipy.ndimage's linear filters (SciPy 1.17 semantics).

correlate / convolve: sums are formed in float64 as SciPy's (float32 in, float32 out: in
float32, see the README) and converted to the output dtype as SciPy's C cast does on x86-64.
Weights with |w| <= DBL_EPSILON (and NaN weights) are skipped, as SciPy skips them.

correlate1d and everything built on it (convolve1d, uniform_filter1d, uniform_filter,
gaussian_filter1d, gaussian_filter, sobel, prewitt, laplace, gaussian_laplace,
gaussian_gradient_magnitude) run on one C++ line-filter core with SciPy's sums in SciPy's order
(float64, no FMA), so their results equal SciPy's bit for bit for every dtype, except weighted
passes with float32 input and float32 output, which sum in float32 with FMA (docs/
scipy-deviations.md; ``output=numpy.float64`` gives SciPy's sums); separable filters convert to
the output dtype after every pass, as SciPy does.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

from . import _core, _filter1d, _filter2d, _filter_args

try:
    from numpy.lib.array_utils import normalize_axis_index as _normalize_axis_index
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import normalize_axis_index as _normalize_axis_index

__all__ = [
    "correlate",
    "convolve",
    "correlate1d",
    "convolve1d",
    "uniform_filter1d",
    "uniform_filter",
    "gaussian_filter1d",
    "gaussian_filter",
    "sobel",
    "prewitt",
    "laplace",
    "gaussian_laplace",
    "gaussian_gradient_magnitude",
]


def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, method="auto"):
    """Correlation with a 2-D kernel, as ``scipy.ndimage.correlate``.

    input: 2-D, or N-D with ``axes`` naming the two filtered axes (every 2-D slice along the
    others is filtered alike, in one threaded call). mode: "reflect", "constant", "nearest",
    "mirror", "wrap" and the grid-* aliases; cval; origin: int or per-axis; output: array or
    dtype. method: "auto", "direct" or "fft" (keyword only).
    """
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, False, axes, method)


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, method="auto"):
    """Convolution with a 2-D kernel, as ``scipy.ndimage.convolve`` (see correlate)."""
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, True, axes, method)


def _correlate_or_convolve(input, weights, output, mode, cval, origin, convolution, axes, method):
    method = _filter_args.filter_method(method)
    input = np.asarray(input)
    weights = np.asarray(weights)
    name = "convolve" if convolution else "correlate"
    _filter_args.filter_extents(name, "input", input.shape)
    _filter_args.filter_extents(name, "weights", weights.shape)
    complex_input = input.dtype.kind == "c"
    complex_weights = weights.dtype.kind == "c"
    if complex_input or complex_weights:
        if complex_weights and not convolution:
            weights = weights.conj()  # as numpy.correlate: conjugate the weights, not the input
        output = _filter_args.ndimage_output(output, input, complex_output=True)
        kwargs = dict(mode=mode, origin=origin, convolution=convolution, axes=axes, method=method)
        return _complex_via_real_components(input, weights, output, cval, **kwargs)

    axes = _filter_args.ndimage_axes(axes, input.ndim)
    weights = np.asarray(weights, dtype=np.float64)
    if len(axes) < input.ndim:
        if weights.ndim != len(axes):
            raise RuntimeError(f"weights.ndim ({weights.ndim}) must match len(axes) ({len(axes)})")
        weights = np.expand_dims(weights, tuple(ax for ax in range(input.ndim) if ax not in axes))
    origins = _filter_args.ndimage_sequence(origin, len(axes), "origin")
    if len(axes) < input.ndim:
        expanded = [0] * input.ndim
        for o, ax in zip(origins, axes):
            expanded[ax] = o
        origins = expanded
    wshape = [n for n in weights.shape if n > 0]
    if len(wshape) != input.ndim:
        raise RuntimeError(f"weights.ndim ({len(wshape)}) must match len(axes) ({len(axes)})")
    if convolution:
        weights = weights[(slice(None, None, -1),) * weights.ndim]
        for i in range(len(origins)):
            try:
                origins[i] = -origins[i]
            except TypeError:  # SciPy's type, with the argument named
                _filter_args.ndimage_origin_int(origins[i])
                raise
            if not weights.shape[i] & 1:
                origins[i] -= 1
    for o, n in zip(origins, wshape):
        _filter_args.ndimage_check_origin(o, n)
    fresh = output is None
    output = (
        _filter_args.empty_output(input.shape, input.dtype.name)
        if fresh
        else _filter_args.ndimage_output(output, input)
    )
    border = _filter_args.ndimage_mode(mode)
    _filter_args.ndimage_check_writeable(output)  # in SciPy's order: output, cval, origins, then dtypes
    cval = _filter_args.ndimage_cval(cval)
    origins = [_filter_args.ndimage_origin_int(o) for o in origins]
    _filter_args.ndimage_check_io(input, output)
    # After every check SciPy makes before its C filter (which returns an arbitrary array for an
    # empty kernel), so that a call SciPy refuses raises SciPy's exception, not this one.
    if weights.size == 0 or weights.ndim != input.ndim:
        raise ValueError(
            f"weights is empty (shape {weights.shape}); it needs at least one element "
            "(SciPy returns an arbitrary zero array here)"
        )
    if input.size == 0:
        return output
    # Written in place when the output's memory can be the kernel's (the common case), else copied.
    target = output if fresh or _writable_in_place(output, input) else None
    result = _filter(input, weights, output.dtype, border, cval, origins, method, target)
    if result is not output:
        output[...] = result
    return output


def _writable_in_place(output, input) -> bool:
    return (
        output.flags.c_contiguous
        and output.flags.aligned
        and output.dtype.isnative
        and not np.may_share_memory(input, output)
    )


def _complex_via_real_components(input, weights, output, cval, **kwargs):
    """As SciPy: complex filtering as a combination of real ones."""
    func = _correlate_or_convolve
    conv, method = kwargs.pop("convolution"), kwargs.pop("method")
    mode, origin, axes = kwargs["mode"], kwargs["origin"], kwargs["axes"]

    def run(x, w, out, c):
        return func(x, w, out, mode, c, origin, conv, axes, method)

    if input.dtype.kind == "c" and weights.dtype.kind == "c":
        run(input.real, weights.real, output.real, np.real(cval))
        output.real -= run(input.imag, weights.imag, None, np.imag(cval))
        run(input.real, weights.imag, output.imag, np.real(cval))
        output.imag += run(input.imag, weights.real, None, np.imag(cval))
    elif input.dtype.kind == "c":
        run(input.real, weights, output.real, np.real(cval))
        run(input.imag, weights, output.imag, np.imag(cval))
    else:
        if np.iscomplexobj(cval):
            raise ValueError("Cannot provide a complex-valued cval when the input is real.")
        run(input, weights.real, output.real, cval)
        run(input, weights.imag, output.imag, cval)
    return output


def _filter(input, weights, out_dtype, border, cval, origins, method, target=None):
    """The filtered array (shape of input, dtype out_dtype); weights has input.ndim axes.
    target: an array (C-contiguous, native, not overlapping input) to fill if the layout allows."""
    out_dtype = out_dtype.newbyteorder("=")
    x, w = input, weights
    if x.ndim < 2:  # 0-d and 1-d: a 2-D filter with leading size-1 axes
        extra = 2 - x.ndim
        x = x.reshape((1,) * extra + x.shape)
        w = w.reshape((1,) * extra + w.shape)
        origins = [0] * extra + list(origins)
    big = [ax for ax in range(x.ndim) if w.shape[ax] > 1]
    if len(big) > 2:
        result = _filter_nd(x, w, out_dtype, border, cval, origins, target)
        return result if result.shape == input.shape else result.reshape(input.shape)
    if x.ndim == 2:  # the common case, without the axis bookkeeping
        a0, a1 = 0, 1
        lead_shape = ()
        height, width = x.shape
        stack = x.reshape((1, height, width))
        kernel = w
    else:
        a0, a1 = sorted(big + [ax for ax in range(x.ndim - 1, -1, -1) if ax not in big][: 2 - len(big)])
        moved = np.moveaxis(x, (a0, a1), (-2, -1))
        lead_shape = moved.shape[:-2]
        height, width = moved.shape[-2:]
        stack = moved.reshape((int(np.prod(lead_shape, dtype=np.int64)), height, width))
        kernel = np.moveaxis(w, (a0, a1), (-2, -1)).reshape(w.shape[a0], w.shape[a1])
    kh, kw = kernel.shape
    row_offset = -(kh // 2 + origins[a0])
    col_offset = -(kw // 2 + origins[a1])
    mask = np.abs(kernel) > _filter2d.DBL_EPSILON  # SciPy skips these weights (NaN included)
    out_hw = (height, width)
    use_fft = method == "fft"
    if method == "auto" and kernel.size >= 64 and x.dtype.kind == "f" and out_dtype.kind == "f" and stack.size:
        taps = int(mask.sum())
        use_fft = _filter2d.prefer_fft(stack.shape[0], out_hw, kernel.shape, taps, x.dtype.itemsize)
        if use_fft:
            used = [stack, kernel[mask]] + ([np.float64(cval)] if border == _filter_args.BORDER_CONSTANT else [])
            use_fft = _filter2d.all_finite(*used)
    if use_fft and stack.size:
        # float32 sums only for float32 in and out, as the direct path (and SciPy's float64 sums
        # for everything else): a float64 output of a float32 input gets float64 accuracy
        single = stack.dtype == np.float32 and out_dtype == np.float32
        source = stack.astype(np.float32 if single else np.float64, copy=False)
        fill = np.asarray(cval, dtype=source.dtype)
        out = _filter2d.fft(
            source, np.where(mask, kernel, 0.0).astype(source.dtype), out_hw, row_offset, col_offset, border, fill
        ).real
        if out_dtype.kind == "f":
            out = out.astype(out_dtype)
        else:  # SciPy's x86-64 conversion, through the core with a 1x1 identity kernel
            out = _filter2d.direct(
                np.ascontiguousarray(out, dtype=np.float64),
                np.ones((1, 1)),
                out_hw,
                0,
                0,
                _filter_args.BORDER_CONSTANT,
                0.0,
                _filter_args.ACC_FLOAT64,
                out_dtype,
            )
    else:
        if x.dtype == np.float32 and out_dtype == np.float32:
            accumulator = _filter_args.ACC_FLOAT32
        else:
            accumulator = _filter_args.ACC_FLOAT64
        buffer = None
        if target is not None and (a0, a1) == (x.ndim - 2, x.ndim - 1):
            buffer = target.reshape(stack.shape)
        out = _filter2d.direct(
            stack, kernel, out_hw, row_offset, col_offset, border, cval, accumulator, out_dtype, mask=mask, out=buffer
        )
        if buffer is not None:
            return target
    out = out.reshape(lead_shape + out_hw)
    return np.moveaxis(out, (-2, -1), (a0, a1)).reshape(input.shape)


def _filter_nd(x, w, out_dtype, border, cval, origins, target=None):
    """More than two filtered axes, on the C++ N-D core (fieldconv/filter2d.hpp, filter_nd): the
    last two axes are filtered as planes, the leading ones choose which planes each tap reads.
    Taps are listed in C order of the weights, skipping |w| <= DBL_EPSILON (NaN included) as
    SciPy does, so sums that go to integer outputs are SciPy's bit for bit (float64, no FMA);
    float32 input and output get float32 sums, as the 2-D path."""
    if x.dtype.kind not in "biuf" or x.dtype.itemsize > 8 or x.dtype == np.float16:
        x = x.astype(np.float64)
    source = np.require(x, dtype=x.dtype.newbyteorder("="), requirements=("C", "A"))
    if x.dtype == np.float32 and out_dtype == np.float32:
        accumulator = _filter_args.ACC_FLOAT32
    else:
        accumulator = _filter_args.ACC_FLOAT64
    acc_dtype = _filter_args.ACC_DTYPES[accumulator]
    coords = np.argwhere(np.abs(w) > _filter2d.DBL_EPSILON)  # C order
    weights = np.ascontiguousarray(w[tuple(coords.T)], dtype=acc_dtype)
    offsets = np.array([-(k // 2 + o) for k, o in zip(w.shape, origins)], dtype=np.int64)
    out = target if target is not None else _filter_args.empty_output(x.shape, out_dtype)
    _core.filter_nd(
        source,
        out,
        np.ascontiguousarray(coords, dtype=np.int64).reshape(-1, x.ndim),
        weights,
        np.asarray(cval, dtype=acc_dtype).reshape(1),
        accumulator,
        offsets,
        border,
    )
    return out


# ---- 1-D and separable filters -------------------------------------------------------------


def _complex_parts(func, input, weights, output, cval, **kwargs):
    """As SciPy: a complex 1-D filter as real filters of the real and imaginary parts."""
    if input.dtype.kind == "c" and weights.dtype.kind == "c":
        func(input.real, weights.real, output=output.real, cval=np.real(cval), **kwargs)
        output.real -= func(input.imag, weights.imag, output=None, cval=np.imag(cval), **kwargs)
        func(input.real, weights.imag, output=output.imag, cval=np.real(cval), **kwargs)
        output.imag += func(input.imag, weights.real, output=None, cval=np.imag(cval), **kwargs)
    elif input.dtype.kind == "c":
        func(input.real, weights, output=output.real, cval=np.real(cval), **kwargs)
        func(input.imag, weights, output=output.imag, cval=np.imag(cval), **kwargs)
    else:
        if np.iscomplexobj(cval):
            raise ValueError("Cannot provide a complex-valued cval when the input is real.")
        func(input, weights.real, output=output.real, cval=cval, **kwargs)
        func(input, weights.imag, output=output.imag, cval=cval, **kwargs)
    return output


def correlate1d(
    input, weights, axis: int = -1, output=None, mode: str = "reflect", cval: float = 0.0, origin: int = 0
) -> np.ndarray:
    """One-dimensional correlation along `axis`, as ``scipy.ndimage.correlate1d``.

    Sums in float64 in SciPy's order (symmetric and antisymmetric odd kernels pair their taps),
    so every result equals SciPy's bit for bit; float32 input with float32 output sums in float32
    with FMA instead (error about ``taps * 2**-24 * sum(|w| * |x|)``, docs/scipy-deviations.md).
    Complex input or weights as SciPy (weights conjugated).
    """
    input = np.asarray(input)
    weights = np.asarray(weights)
    if input.dtype.kind == "c" or weights.dtype.kind == "c":
        if weights.dtype.kind == "c":
            weights = weights.conj().astype(np.complex128, copy=False)
        output = _filter_args.ndimage_output(output, input, complex_output=True, empty=True)
        return _complex_parts(correlate1d, input, weights, output, cval, axis=axis, mode=mode, origin=origin)
    output = _filter_args.ndimage_output(output, input, empty=True)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or weights.shape[0] < 1:
        raise RuntimeError(
            f"no filter weights given: weights must be a non-empty 1-D sequence, got shape {weights.shape}"
        )
    axis = _normalize_axis_index(axis, input.ndim)
    size = weights.shape[0]
    if (origin < -(size // 2)) or (origin > (size - 1) // 2):
        raise ValueError(
            f"Invalid origin; origin must satisfy -(len(weights) // 2) <= origin <= "
            f"(len(weights)-1) // 2, got origin={origin!r} for {size} weights"
        )
    border = _filter_args.ndimage_mode(mode)
    _filter_args.ndimage_check_writeable(output)
    cval = _filter_args.ndimage_cval(cval)
    origin = _filter_args.ndimage_origin_int(origin)
    return _filter1d.run(input, output, axis, weights, size, origin, border, cval, _filter1d.KIND_WEIGHTS)


def convolve1d(
    input, weights, axis: int = -1, output=None, mode: str = "reflect", cval: float = 0.0, origin: int = 0
) -> np.ndarray:
    """One-dimensional convolution along `axis`, as ``scipy.ndimage.convolve1d``."""
    weights = np.asarray(weights)
    weights = weights[::-1]
    origin = -origin
    if not weights.shape[0] & 1:
        origin -= 1
    if weights.dtype.kind == "c":
        weights = weights.conj()  # undone by correlate1d's conjugation
    return correlate1d(input, weights, axis, output, mode, cval, origin)


def uniform_filter1d(
    input, size: int, axis: int = -1, output=None, mode: str = "reflect", cval: float = 0.0, origin: int = 0
) -> np.ndarray:
    """Mean over `size` consecutive elements along `axis`, as ``scipy.ndimage.uniform_filter1d``
    (SciPy's running sum, so results equal SciPy's bit for bit)."""
    input = np.asarray(input)
    axis = _normalize_axis_index(axis, input.ndim)
    if size < 1:
        raise RuntimeError(f"incorrect filter size: size must be at least 1, got {size!r}")
    complex_output = input.dtype.kind == "c"
    output = _filter_args.ndimage_output(output, input, complex_output=complex_output, empty=True)
    if (size // 2 + origin < 0) or (size // 2 + origin >= size):
        raise ValueError(
            f"invalid origin: origin must satisfy -(size // 2) <= origin <= (size - 1) // 2, "
            f"got origin={origin!r} for size {size!r}"
        )
    border = _filter_args.ndimage_mode(mode)
    size = operator.index(size)
    origin = _filter_args.ndimage_origin_int(origin)
    _filter_args.ndimage_check_writeable(output)
    if not complex_output:
        cval = _filter_args.ndimage_cval(cval)
        return _filter1d.run(input, output, axis, None, size, origin, border, cval, _filter1d.KIND_UNIFORM)
    _filter1d.run(
        input.real, output.real, axis, None, size, origin, border, float(np.real(cval)), _filter1d.KIND_UNIFORM
    )
    _filter1d.run(
        input.imag, output.imag, axis, None, size, origin, border, float(np.imag(cval)), _filter1d.KIND_UNIFORM
    )
    return output


def uniform_filter(input, size=3, output=None, mode="reflect", cval: float = 0.0, origin=0, *, axes=None) -> np.ndarray:
    """Multidimensional mean filter, as ``scipy.ndimage.uniform_filter`` (one uniform_filter1d
    per axis, converting to the output dtype after each)."""
    input = np.asarray(input)
    output = _filter_args.ndimage_output(output, input, complex_output=input.dtype.kind == "c", empty=True)
    axes = _filter_args.ndimage_axes(axes, input.ndim)
    sizes = _filter_args.ndimage_sequence(size, len(axes), "size")
    origins = _filter_args.ndimage_sequence(origin, len(axes), "origin")
    modes = _filter_args.ndimage_sequence(mode, len(axes), "mode")
    passes = [(axes[i], sizes[i], origins[i], modes[i]) for i in range(len(axes)) if sizes[i] > 1]
    if not passes:
        output[...] = input[...]
        return output
    for axis, size, origin, mode in passes:
        uniform_filter1d(input, int(size), axis, output, mode, cval, origin)
        input = output
    return output


def gaussian_filter1d(
    input,
    sigma: float,
    axis: int = -1,
    order: int = 0,
    output=None,
    mode: str = "reflect",
    cval: float = 0.0,
    truncate: float = 4.0,
    *,
    radius=None,
) -> np.ndarray:
    """One-dimensional Gaussian filter (or its derivative of `order`), as
    ``scipy.ndimage.gaussian_filter1d``: SciPy's weights and sums, bit for bit (float32 in and
    out: float32 sums, as correlate1d)."""
    half_width = int(truncate * float(sigma) + 0.5)
    if radius is not None:
        half_width = radius
    if not isinstance(half_width, numbers.Integral) or half_width < 0:
        raise ValueError(f"Radius must be a nonnegative integer, got radius={half_width!r}")
    weights = _filter1d.gaussian_kernel1d(sigma, order, half_width)[::-1]
    return correlate1d(input, weights, axis, output, mode, cval, 0)


def gaussian_filter(
    input,
    sigma,
    order=0,
    output=None,
    mode="reflect",
    cval: float = 0.0,
    truncate: float = 4.0,
    *,
    radius=None,
    axes=None,
) -> np.ndarray:
    """Multidimensional Gaussian filter, as ``scipy.ndimage.gaussian_filter`` (per-axis sigma,
    order, mode and radius; one gaussian_filter1d per axis with sigma > 1e-15, converting to the
    output dtype after each)."""
    input = np.asarray(input)
    output = _filter_args.ndimage_output(output, input, empty=True)
    axes = _filter_args.ndimage_axes(axes, input.ndim)
    count = len(axes)
    orders = _filter_args.ndimage_sequence(order, count, "order")
    sigmas = _filter_args.ndimage_sequence(sigma, count, "sigma")
    modes = _filter_args.ndimage_sequence(mode, count, "mode")
    radii = _filter_args.ndimage_sequence(radius, count, "radius")
    passes = [(axes[i], sigmas[i], orders[i], modes[i], radii[i]) for i in range(count) if sigmas[i] > 1e-15]
    if not passes:
        output[...] = input[...]
        return output
    fused = _fusable_tail(input, output, [axis for axis, *_ in passes], modes=[p[3] for p in passes])
    for index, (axis, sigma_, order_, mode_, radius_) in enumerate(passes):
        if fused and index == len(passes) - fused:
            try:  # the last passes in one sweep, where their arguments are plain
                tail = [_gaussian_taps(*p[1:3], truncate, p[4]) for p in passes[-fused:]]
            except Exception:  # noqa: BLE001 - the separate calls raise SciPy's exception
                tail = None
            if tail is not None:
                _run_fused(input, output, tail, [p[3] for p in passes[-fused:]], cval)
                return output
        gaussian_filter1d(input, sigma_, axis, order_, output, mode_, cval, truncate, radius=radius_)
        input = output
    return output


def _gaussian_taps(sigma, order, truncate, radius) -> np.ndarray:
    """gaussian_filter1d's weights (reversed for correlate1d), raising where it raises."""
    half_width = int(truncate * float(sigma) + 0.5)
    if radius is not None:
        half_width = radius
    if not isinstance(half_width, numbers.Integral) or half_width < 0:
        raise ValueError(f"Radius must be a nonnegative integer, got radius={half_width!r}")
    return _filter1d.gaussian_kernel1d(sigma, order, half_width)[::-1]


def _fusable_tail(input: np.ndarray, output, axes, modes) -> int:
    """How many of the last correlate1d passes (along `axes`) can run in one sweep: 3 for the
    last three axes in order, 2 for the last two, else 0; real arrays of the core's dtypes and
    plain modes only."""
    if len(axes) < 2 or input.ndim < 2 or not isinstance(output, np.ndarray):
        return 0
    if input.dtype.kind not in "biuf" or output.dtype.kind not in "biuf":
        return 0
    if input.dtype.char not in _filter_args.NDIMAGE_IO_KINDS or output.dtype.char not in _filter_args.NDIMAGE_IO_KINDS:
        return 0
    if output.shape != input.shape or not output.flags.writeable:
        return 0
    tail = [axis % input.ndim for axis in axes]
    ndim = input.ndim
    for count in (3, 2):
        if len(tail) >= count and ndim >= count and tail[-count:] == list(range(ndim - count, ndim)):
            if all(isinstance(mode, str) and mode in _filter_args.NDIMAGE_MODES for mode in modes[-count:]):
                return count
    return 0


def _run_fused(input, output, taps, modes, cval) -> np.ndarray:
    """The last two or three correlate1d passes (origin 0) in one sweep (see _fusable_tail)."""
    if len(taps) == 2:
        return _run_then_last(input, output, taps[0], modes[0], taps[1], modes[1], cval)
    cval = _filter_args.ndimage_cval(cval)
    return _filter1d.run_then_last_two(
        input,
        output,
        [np.asarray(t, dtype=np.float64) for t in taps],
        [_filter_args.ndimage_mode(m) for m in modes],
        cval,
    )


def _run_then_last(input, output, weights, mode, weights2, mode2, cval) -> np.ndarray:
    """correlate1d(input, weights, ndim - 2, output, mode, cval) then correlate1d(output,
    weights2, ndim - 1, output, mode2, cval), in one sweep (checked by _fusable_tail)."""
    weights = np.asarray(weights, dtype=np.float64)
    weights2 = np.asarray(weights2, dtype=np.float64)
    cval = _filter_args.ndimage_cval(cval)
    return _filter1d.run_then_last(
        input,
        output,
        weights,
        0,
        _filter_args.ndimage_mode(mode),
        cval,
        weights2,
        0,
        _filter_args.ndimage_mode(mode2),
        cval,
    )


def _derivative_then_smooth(input, axis, output, mode, cval, derivative, smooth) -> np.ndarray:
    input = np.asarray(input)
    axis = _normalize_axis_index(axis, input.ndim)
    output = _filter_args.ndimage_output(output, input, empty=True)
    modes = _filter_args.ndimage_sequence(mode, input.ndim, "mode")
    passes = [(axis, derivative)] + [(other, smooth) for other in range(input.ndim) if other != axis]
    pass_modes = [modes[ax] for ax, _ in passes]
    fused = 0 if np.iscomplexobj(cval) else _fusable_tail(input, output, [ax for ax, _ in passes], pass_modes)
    source = input
    for index, (ax, taps) in enumerate(passes):
        if fused and index == len(passes) - fused:
            _run_fused(source, output, [t for _, t in passes[-fused:]], pass_modes[-fused:], cval)
            return output
        correlate1d(source, taps, ax, output, modes[ax], cval, 0)
        source = output
    return output


def sobel(input, axis: int = -1, output=None, mode="reflect", cval: float = 0.0) -> np.ndarray:
    """Sobel filter along `axis`, as ``scipy.ndimage.sobel``."""
    return _derivative_then_smooth(input, axis, output, mode, cval, [-1, 0, 1], [1, 2, 1])


def prewitt(input, axis: int = -1, output=None, mode="reflect", cval: float = 0.0) -> np.ndarray:
    """Prewitt filter along `axis`, as ``scipy.ndimage.prewitt``."""
    return _derivative_then_smooth(input, axis, output, mode, cval, [-1, 0, 1], [1, 1, 1])


def _generic_laplace(input, derivative2, output, mode, cval, axes, extra=()) -> np.ndarray:
    input = np.asarray(input)
    output = _filter_args.ndimage_output(output, input, empty=True)
    axes = _filter_args.ndimage_axes(axes, input.ndim)
    if not axes:
        output[...] = input[...]
        return output
    modes = _filter_args.ndimage_sequence(mode, len(axes), "mode")
    derivative2(input, axes[0], output, modes[0], cval, *extra)
    for i in range(1, len(axes)):
        output += derivative2(input, axes[i], output.dtype, modes[i], cval, *extra)
    return output


def laplace(input, output=None, mode="reflect", cval: float = 0.0, *, axes=None) -> np.ndarray:
    """Laplace filter from second differences [1, -2, 1], as ``scipy.ndimage.laplace``."""

    def second_difference(x, axis, out, mode_, cval_):
        return correlate1d(x, [1, -2, 1], axis, out, mode_, cval_, 0)

    return _generic_laplace(input, second_difference, output, mode, cval, axes)


def gaussian_laplace(
    input, sigma, output=None, mode="reflect", cval: float = 0.0, *, axes=None, **kwargs
) -> np.ndarray:
    """Laplace filter from Gaussian second derivatives, as ``scipy.ndimage.gaussian_laplace``
    (extra keywords go to gaussian_filter)."""
    input = np.asarray(input)

    def second_derivative(x, axis, out, mode_, cval_, sigma_):
        order = [0] * x.ndim
        order[axis] = 2
        return gaussian_filter(x, sigma_, order, out, mode_, cval_, **kwargs)

    checked = _filter_args.ndimage_axes(axes, input.ndim)
    sigmas = _filter_args.ndimage_sequence(sigma, len(checked), "sigma")
    if len(checked) < input.ndim:  # sigma 0 (no smoothing) along the axes not filtered
        full = [0] * input.ndim
        for s, ax in zip(sigmas, checked):
            full[ax] = s
        sigmas = full
    return _generic_laplace(input, second_derivative, output, mode, cval, axes, (sigmas,))


def gaussian_gradient_magnitude(
    input, sigma, output=None, mode="reflect", cval: float = 0.0, *, axes=None, **kwargs
) -> np.ndarray:
    """Gradient magnitude from Gaussian first derivatives, as
    ``scipy.ndimage.gaussian_gradient_magnitude`` (extra keywords go to gaussian_filter)."""
    input = np.asarray(input)
    output = _filter_args.ndimage_output(output, input, empty=True)
    axes = _filter_args.ndimage_axes(axes, input.ndim)
    if not axes:
        output[...] = input[...]
        return output

    def first_derivative(axis, out, mode_):
        order = [0] * input.ndim
        order[axis] = 1
        return gaussian_filter(input, sigma, order, out, mode_, cval, **kwargs)

    modes = _filter_args.ndimage_sequence(mode, len(axes), "mode")
    first_derivative(axes[0], output, modes[0])
    np.multiply(output, output, output)
    for i in range(1, len(axes)):
        term = first_derivative(axes[i], output.dtype, modes[i])
        np.multiply(term, term, term)
        output += term
    np.sqrt(output, output, casting="unsafe")
    return output
