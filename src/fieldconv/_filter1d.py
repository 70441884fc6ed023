"""The 1-D line-filter engine under fieldconv.ndimage's correlate1d family (internal).

``run`` filters along one axis of an N-D array with the C++ core (fieldconv/correlate1d.hpp):
SciPy's sums in SciPy's order (float64, no FMA), so results equal scipy.ndimage's bit for bit
(float32 input and output with weights: float32 sums with FMA, docs/scipy-deviations.md);
``gaussian_kernel1d`` gives the same weights as scipy.ndimage's Gaussian kernels.
"""

from __future__ import annotations

import numpy as np

from . import _core, _filter_args

KIND_WEIGHTS, KIND_UNIFORM = 0, 1


def _in_place_target(output: np.ndarray) -> bool:
    return output.flags.c_contiguous and output.flags.aligned and output.dtype.isnative and output.flags.writeable


def _prepare(input: np.ndarray, output: np.ndarray):
    """The C-contiguous native source and target arrays (the target is output itself where it
    can be written in place; the source is a copy where it overlaps a different target)."""
    source = input
    if not (source.flags.c_contiguous and source.flags.aligned and source.dtype.isnative):
        source = np.ascontiguousarray(source, dtype=source.dtype.newbyteorder("="))
    target = output if _in_place_target(output) else np.empty(output.shape, output.dtype.newbyteorder("="))
    if np.may_share_memory(source, target):
        same = (
            source.dtype == target.dtype
            and source.__array_interface__["data"][0] == target.__array_interface__["data"][0]
        )
        if not same:  # only the very same array can be filtered in place, line by line
            source = source.copy()
    return source, target


def run(
    input: np.ndarray,
    output: np.ndarray,
    axis: int,
    weights,
    size: int,
    origin: int,
    border: int,
    cval: float,
    kind: int,
) -> np.ndarray:
    """Filters `input` along `axis` into `output` (same shape; checked by the caller). weights:
    float64 taps for KIND_WEIGHTS (None for KIND_UNIFORM, whose window is `size`)."""
    _filter_args.ndimage_check_io(input, output)
    if input.size == 0:
        return output
    source, target = _prepare(input, output)
    shape = source.shape
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    view = (outer, shape[axis], inner)
    taps = np.ascontiguousarray(weights if weights is not None else np.zeros(0), dtype=np.float64)
    _core.correlate1d(
        source.reshape(view), target.reshape(view), taps, int(size), int(origin), int(border), float(cval), int(kind)
    )
    if target is not output:
        output[...] = target
    return output


def run_then_last(
    input: np.ndarray,
    output: np.ndarray,
    weights,
    origin: int,
    border: int,
    cval: float,
    weights2,
    origin2: int,
    border2: int,
    cval2: float,
) -> np.ndarray:
    """correlate1d along axis ndim - 2 into output, then along the last axis of output in place
    (each pass as `run` with KIND_WEIGHTS), in one sweep over memory where the rows fit."""
    _filter_args.ndimage_check_io(input, output)
    if input.size == 0:
        return output
    source, target = _prepare(input, output)
    shape = source.shape
    view = (int(np.prod(shape[:-2], dtype=np.int64)), shape[-2], shape[-1])
    _core.correlate1d_then_last(
        source.reshape(view),
        target.reshape(view),
        np.ascontiguousarray(weights, dtype=np.float64),
        int(origin),
        int(border),
        float(cval),
        np.ascontiguousarray(weights2, dtype=np.float64),
        int(origin2),
        int(border2),
        float(cval2),
    )
    if target is not output:
        output[...] = target
    return output


def run_then_last_two(input: np.ndarray, output: np.ndarray, taps, borders, cval: float) -> np.ndarray:
    """correlate1d along axes ndim - 3, ndim - 2 and ndim - 1 in turn (origin 0, into output,
    then in place), in one sweep over memory where whole planes fit."""
    _filter_args.ndimage_check_io(input, output)
    if input.size == 0:
        return output
    source, target = _prepare(input, output)
    shape = source.shape
    view = (int(np.prod(shape[:-3], dtype=np.int64)), shape[-3], shape[-2] * shape[-1])
    w1, w2, w3 = (np.ascontiguousarray(t, dtype=np.float64) for t in taps)
    _core.correlate1d_then_last_two(
        source.reshape(view),
        target.reshape(view),
        int(shape[-2]),
        w1,
        int(borders[0]),
        w2,
        int(borders[1]),
        w3,
        int(borders[2]),
        float(cval),
    )
    if target is not output:
        output[...] = target
    return output


def gaussian_kernel1d(sigma: float, order: int, radius: int) -> np.ndarray:
    """Weights of the Gaussian (order 0) or its order-th derivative on -radius..radius, computed
    with the same floating-point operations as scipy.ndimage (so the filters agree bit for bit)."""
    if order < 0:
        raise ValueError(f"order must be non-negative, got {order}")
    x = np.arange(-radius, radius + 1)
    variance = sigma * sigma
    phi = np.exp(-0.5 / variance * x**2)
    phi = phi / phi.sum()
    if order == 0:
        return phi
    # The derivative is q(x) * phi(x) with q a polynomial: q_{n+1} = q_n' - q_n * x / variance,
    # applied to q's coefficient vector as one matrix (derivative plus shift).
    powers = np.arange(order + 1)
    step = np.diag(powers[1:], 1) + np.diag(np.ones(order) / -variance, -1)
    coefficients = np.zeros(order + 1)
    coefficients[0] = 1
    for _ in range(order):
        coefficients = step.dot(coefficients)
    return (x[:, None] ** powers).dot(coefficients) * phi
