"""Argument checks of the SciPy drop-ins (fieldconv.signal, fieldconv.ndimage, fieldconv.numeric):
argument rules exactly as SciPy 1.17, with SciPy's exception types and clearer messages, and the
border and accumulator codes the C++ filters take.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Iterable

import numpy as np

from ._params import MAX_ELEMENTS, MAX_EXTENT, _describe

FILTER_METHODS = ("auto", "direct", "fft")
# FilterBorder codes of fieldconv/filter2d.hpp
BORDER_CONSTANT, BORDER_NEAREST, BORDER_REFLECT, BORDER_MIRROR, BORDER_WRAP = range(5)
# FilterAccumulator codes
ACC_FLOAT32, ACC_FLOAT64, ACC_WRAP32, ACC_WRAP64 = range(4)
ACC_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint32), np.dtype(np.uint64))


def filter_method(method) -> str:
    if not isinstance(method, str) or method not in FILTER_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, FILTER_METHODS))}, got {_describe(method)}")
    return method


SIGNAL_MODES = {"valid": 0, "same": 1, "full": 2}
SIGNAL_BOUNDARIES = {
    "fill": BORDER_CONSTANT,
    "pad": BORDER_CONSTANT,
    "wrap": BORDER_WRAP,
    "circular": BORDER_WRAP,
    "symm": BORDER_REFLECT,
    "symmetric": BORDER_REFLECT,
}


def signal_mode(mode) -> str:
    if not isinstance(mode, str) or mode not in SIGNAL_MODES:
        raise ValueError(f"mode must be 'valid', 'same' or 'full' (as scipy.signal), got {_describe(mode)}")
    return mode


def signal_boundary(boundary) -> int:
    if isinstance(boundary, str) and boundary == "reflect":
        # scipy.signal's table knows the name but its C core refuses it
        raise ValueError(
            "boundary='reflect' is not supported by scipy.signal.correlate2d/convolve2d; "
            "use 'fill', 'wrap' (or 'circular') or 'symm' (or 'symmetric')"
        )
    if not isinstance(boundary, str) or boundary not in SIGNAL_BOUNDARIES:
        raise ValueError(
            "boundary must be 'fill' (or 'pad'), 'wrap' (or 'circular') or 'symm' "
            f"(or 'symmetric'), got {_describe(boundary)}"
        )
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
            raise ValueError(
                f"For 'valid' mode, one must be at least as large as the other in every dimension "
                f"(in1.shape={a.shape}, in2.shape={b.shape})"
            )
        swapped = not ok1
    return a, b, swapped


def filter_extents(name: str, what: str, shape) -> None:
    """A filter's input, kernel or output shape within the per-axis and element-count limits,
    checked before the kernel's taps or the output are built (a broadcast view can be huge
    without memory behind it)."""
    if any(n > MAX_EXTENT for n in shape):
        raise ValueError(
            f"{name}: {what} shape {tuple(shape)} exceeds the limit of {MAX_EXTENT} (2**31 - 1) elements along an axis"
        )
    if math.prod(shape) > MAX_ELEMENTS:
        raise ValueError(
            f"{name}: {what} shape {tuple(shape)} has {math.prod(shape)} elements, more than the limit of 2**48"
        )


def signal_dtype(a: np.ndarray, b: np.ndarray) -> np.dtype:
    """The computation and result dtype: NumPy's promotion of both inputs, as SciPy's C core."""
    try:
        return np.promote_types(a.dtype, b.dtype)
    except TypeError:
        raise ValueError(
            f"in1 and in2 have no common numeric dtype ({a.dtype} and {b.dtype}); "
            "accepted: integer, float32/64, longdouble and complex dtypes"
        ) from None


def signal_check_dtype(dtype: np.dtype, name: str) -> None:
    if dtype.kind in "iu" or dtype.char in "fdgFDG":
        return
    raise ValueError(
        f"{name} not available for dtype {dtype} (as scipy.signal: bool, float16, object and "
        "non-numeric dtypes are refused); accepted: integer, float32/64, longdouble, complex"
    )


def signal_fillvalue(fillvalue, dtype: np.dtype) -> np.ndarray:
    """fillvalue as a 0-d array of dtype, with SciPy's conversion rules: arrays must cast safely,
    NumPy scalars and Python objects convert as numpy.array(value, dtype) does."""
    try:
        if isinstance(fillvalue, np.ndarray):
            if not np.can_cast(fillvalue.dtype, dtype, "safe"):
                raise TypeError("unsafe cast")
            value = fillvalue.astype(dtype)
        elif isinstance(fillvalue, np.generic):  # NumPy scalars convert unsafely, as in SciPy
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = np.asarray(fillvalue).astype(dtype)
        else:
            value = np.array(fillvalue, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        try:
            np.asarray(fillvalue, dtype=np.complex128)  # SciPy's fallback: its exception type propagates
        except (TypeError, ValueError) as error:
            raise type(error)(f"fillvalue must be a number, got {_describe(fillvalue)} ({error})") from None
        raise ValueError(
            "could not cast `fillvalue` directly to the output type (it was first converted to "
            f"complex): fillvalue {_describe(fillvalue)} is not representable in the result dtype "
            f"{dtype} without an unsafe cast"
        ) from None
    if value.size != 1:
        if value.size == 0:
            raise ValueError(f"`fillvalue` cannot be an empty array (got shape {value.shape}).")
        raise ValueError(f"`fillvalue` must be scalar or an array with one element; got shape {value.shape}")
    return value.reshape(())


NDIMAGE_MODES = {
    "nearest": BORDER_NEAREST,
    "wrap": BORDER_WRAP,
    "grid-wrap": BORDER_WRAP,
    "reflect": BORDER_REFLECT,
    "grid-mirror": BORDER_REFLECT,
    "mirror": BORDER_MIRROR,
    "constant": BORDER_CONSTANT,
    "grid-constant": BORDER_CONSTANT,
}
NDIMAGE_IO_KINDS = frozenset("?bBhHiIlLqQfd")


def ndimage_mode(mode) -> int:
    if not isinstance(mode, str) and isinstance(mode, Iterable):
        raise RuntimeError("A sequence of modes is not supported (mode must be one string)")
    if not isinstance(mode, str) or mode not in NDIMAGE_MODES:
        raise RuntimeError(
            f"boundary mode not supported: mode must be one of {', '.join(map(repr, NDIMAGE_MODES))}, "
            f"got {_describe(mode)}"
        )
    return NDIMAGE_MODES[mode]


def ndimage_axes(axes, ndim: int) -> tuple:
    """scipy.ndimage's _check_axes."""
    if axes is None:
        return tuple(range(ndim))
    if np.isscalar(axes):
        axes = (_axis_index(axes, axes),)
    elif isinstance(axes, Iterable):
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
        return operator.index(axis)
    except TypeError as error:  # SciPy's exception and message, with the argument named
        raise TypeError(f"{error}: axes must be an integer or a sequence of integers, got {_describe(axes)}") from None


def ndimage_origin_int(origin) -> int:
    """One origin as an int: TypeError (SciPy's type) naming the argument for anything else."""
    try:
        return operator.index(origin)
    except TypeError:
        raise TypeError(
            f"origin must be an integer or a sequence of integers (one per filtered axis), got {_describe(origin)}"
        ) from None


def ndimage_sequence(value, rank: int, name: str) -> list:
    if not isinstance(value, str) and np.iterable(value):
        items = list(value)
        if len(items) != rank:
            raise RuntimeError(
                f"sequence argument must have length equal to input rank: {name} has "
                f"{len(items)} entries for {rank} filtered axes"
            )
        return items
    return [value] * rank


def ndimage_check_origin(origin, size: int) -> int:
    try:
        invalid = (origin < -(size // 2)) or (origin > (size - 1) // 2)
    except TypeError:  # str, None, ...: SciPy's comparison raises TypeError too
        ndimage_origin_int(origin)
        raise
    if invalid:
        raise ValueError(
            f"Invalid origin {origin!r} for a weights axis of length {size}; origin must satisfy "
            "-(weights.shape[k] // 2) <= origin[k] <= (weights.shape[k]-1) // 2"
        )
    return origin


# New outputs this large start on a cache line: the C++ filters write large outputs whose rows
# start on cache lines with streaming stores (numpy.empty gives 16-byte alignment).
ALIGNED_OUTPUT_BYTES = 1 << 20


def empty_output(shape, dtype) -> np.ndarray:
    """numpy.empty(shape, dtype), 64-byte aligned when it holds ALIGNED_OUTPUT_BYTES or more
    (then a view of a slightly larger buffer)."""
    dtype = np.dtype(dtype)
    size = math.prod(shape) * dtype.itemsize
    if size < ALIGNED_OUTPUT_BYTES:
        return np.empty(shape, dtype=dtype)
    raw = np.empty(size + 64, dtype=np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + size].view(dtype).reshape(shape)


def ndimage_output(output, input: np.ndarray, complex_output: bool = False, empty: bool = False) -> np.ndarray:
    """scipy.ndimage's _get_output (RuntimeError for a wrong shape or dtype). empty: a new array
    is left uninitialised (the caller writes every element): np.zeros' fresh zeroed pages cost
    about 0.7 ms per 16 MB call on 2 threads (gaussian_filter of 2048^2 float32: 4.1 -> 3.4 ms)."""
    shape = input.shape
    new = np.empty if empty else np.zeros
    if output is None:
        dtype = np.promote_types(input.dtype, np.complex64) if complex_output else input.dtype.name
        return new(shape, dtype=dtype)
    if isinstance(output, (type, np.dtype)):
        if complex_output and np.dtype(output).kind != "c":
            warnings.warn("promoting specified output dtype to complex", stacklevel=4)
            output = np.promote_types(output, np.complex64)
        return new(shape, dtype=output)
    if isinstance(output, str):
        dtype = np.dtype(output)
        if complex_output and dtype.kind != "c":
            raise RuntimeError(f"output must have complex dtype for complex input or weights, got {output!r}")
        if not issubclass(dtype.type, np.number):
            raise RuntimeError(f"output must have numeric dtype, got {output!r}")
        return new(shape, dtype=dtype)
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
            raise RuntimeError(
                f"array type not supported: {what} dtype {array.dtype} (scipy.ndimage accepts bool, "
                "integer, float32 and float64; complex through real and imaginary parts)"
            )


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
