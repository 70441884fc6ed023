"""Argument normalisation shared by every area: integers, pairs, flags, shapes and float arrays.

Every public function turns its arguments into plain ints and C-contiguous arrays, with errors
that name the argument, the value and what is accepted, before any C++ runs. The checks of each
area build on these and live beside it: ``_conv2d_args``, ``_pool2d_args``, ``_filter_args``
(signal, ndimage, numeric) and ``_receptive_field_args``; ``_conv2d_planner`` picks the conv2d
algorithm.
"""

from __future__ import annotations

import numbers
from typing import Tuple

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


def thread_count(n) -> int:
    return as_int(n, "n", minimum=1, maximum=_core.max_num_threads)


def shape_tuple(value, name: str = "input_shape") -> Tuple[int, ...]:
    """A shape: a sequence of non-negative ints."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray)):
        raise TypeError(f"{name} must be a tuple of ints such as (N, C, H, W) or (C, H, W), got {_describe(value)}")
    return tuple(as_int(v, f"{name}[{i}]", minimum=0, maximum=2**63 - 1) for i, v in enumerate(value))


def as_flag(value, name: str) -> bool:
    """A bool (or numpy bool, or the integers 0 and 1)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {_describe(value)} of type {type(value).__name__}")
