"""Argument checks of receptive fields (``ReceptiveField``) and of the output pixels whose fields
are asked for (``ReceptiveField.input_window``, ``plot_receptive_field``).
"""

from __future__ import annotations

import numbers
from typing import Optional

import numpy as np

from ._params import Pair, _describe


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
            raise ValueError(
                f"{name} must be a positive integer or a pair (rows, cols) of them, got {_describe(value)}"
            )
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
        raise TypeError(
            f"output index {name} must be an integer, got {_describe(value)} of type {type(value).__name__}"
        )
    value = int(value)
    if value < 0 or (count is not None and value >= count):
        valid = f"0 <= {name} <= {count - 1}" if count is not None else f"{name} >= 0"
        raise ValueError(f"output index {name} = {value} is out of range: valid indices are {valid}")
    return value
