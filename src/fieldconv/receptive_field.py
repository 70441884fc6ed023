"""Receptive fields: which input pixels one output pixel depends on.

Convention (API.md section 3): pixel centres sit at integer coordinates; the input itself has
size 1, jump 1, start 0 per axis. A sliding-window layer with kernel k, dilation d, stride s and
leading (top/left) padding p maps a field (r, j, start) to
    r' = r + (k - 1) * d * j,   j' = j * s,   start' = start + ((k - 1) * d / 2 - p) * j.

The first input row of output 0's field, start - (r - 1) / 2, is always a whole number: it starts
at 0 and each layer subtracts p * j from it. We keep that number exactly (a Python int, however
deep the stack) and derive start from it, so input_region never rounds a float; start itself is
a multiple of 1/2 (a half-integer for an even field, as for an even kernel).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Tuple

from . import _params


@dataclass(frozen=True, eq=False)
class ReceptiveField:
    """Immutable per-axis (rows, cols) receptive field of an output pixel.

    ``ReceptiveField(size, jump, start)``: ``size`` and ``jump`` are positive integers, ``start``
    the input coordinate of the centre of output (0, 0)'s field; each is given per axis as
    ``(rows, cols)`` (a single number applies to both axes). Pixel centres are at integer
    coordinates, so ``start - (size - 1) / 2`` must be a whole number (``start`` is a whole
    number for an odd size, a half-integer for an even size).
    """

    size: Tuple[int, int]
    jump: Tuple[int, int]
    start: Tuple[float, float]
    # Not a field: self._first, the exact first input row/col of output (0, 0)'s field,
    # start - (size - 1) / 2, set in __post_init__. Equality and hashing use it (with size and
    # jump) rather than the float start, which it determines.

    def __eq__(self, other):
        if not isinstance(other, ReceptiveField):
            return NotImplemented
        return (self.size, self.jump, self._first) == (other.size, other.jump, other._first)

    def __hash__(self):
        return hash((ReceptiveField, self.size, self.jump, self._first))

    def __post_init__(self):
        size = _params.rf_extent_pair(self.size, "size")
        jump = _params.rf_extent_pair(self.jump, "jump")
        start_exact = _params.rf_start_pair(self.start, "start")
        first = []
        for axis in range(2):
            offset = start_exact[axis] - Fraction(size[axis] - 1, 2)
            if offset.denominator != 1:
                raise ValueError(
                    f"start[{axis}] = {float(start_exact[axis])!r} does not fit size[{axis}] = {size[axis]}: pixel "
                    "centres are at integer coordinates, so start - (size - 1) / 2 must be a whole number "
                    f"(start must be a {'whole number' if size[axis] % 2 else 'half-integer such as 0.5'} "
                    f"for a size of {size[axis]})"
                )
            first.append(int(offset))
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "jump", jump)
        object.__setattr__(self, "start", tuple(float(v) for v in start_exact))
        object.__setattr__(self, "_first", tuple(first))

    @classmethod
    def _exact(cls, size, jump, first) -> "ReceptiveField":
        """Field from exact integers: the first input row/col of output (0, 0) instead of start."""
        start = tuple(Fraction(f) + Fraction(r - 1, 2) for r, f in zip(size, first))
        return cls(tuple(size), tuple(jump), start)

    @classmethod
    def identity(cls) -> "ReceptiveField":
        """The field of the input itself (and of pointwise layers such as ReLU)."""
        return cls((1, 1), (1, 1), (0.0, 0.0))

    @property
    def padding(self) -> Tuple[int, int]:
        """Effective leading (top, left) padding of the whole stack."""
        return (-self._first[0], -self._first[1])

    def then_window(self, kernel_size, stride, dilation, leading_padding) -> "ReceptiveField":
        """The field after one more sliding-window layer (each argument a (rows, cols) pair)."""
        size, jump, first = [], [], []
        for axis in range(2):
            k, s, d, p = (int(v[axis]) for v in (kernel_size, stride, dilation, leading_padding))
            j = self.jump[axis]
            size.append(self.size[axis] + (k - 1) * d * j)
            jump.append(j * s)
            first.append(self._first[axis] - p * j)
        return ReceptiveField._exact(size, jump, first)

    def then(self, other: "ReceptiveField") -> "ReceptiveField":
        """The field of this stack followed by a stack whose own field is other."""
        if not isinstance(other, ReceptiveField):
            raise TypeError(f"other must be a ReceptiveField, got {type(other).__name__}")
        size, jump, first = [], [], []
        for axis in range(2):
            j = self.jump[axis]
            size.append(self.size[axis] + (other.size[axis] - 1) * j)
            jump.append(j * other.jump[axis])
            first.append(self._first[axis] + other._first[axis] * j)
        return ReceptiveField._exact(size, jump, first)

    def center(self, i: int, j: int) -> Tuple[float, float]:
        """Input coordinates (row, col) of the centre of output (i, j)'s field."""
        i = _params.output_index(i, "i")
        j = _params.output_index(j, "j")
        return tuple(
            float(self._first[axis] + index * self.jump[axis] + Fraction(self.size[axis] - 1, 2))
            for axis, index in enumerate((i, j))
        )

    def input_region(self, i: int, j: int):
        """Half-open ((y0, y1), (x0, x1)) input rows/cols output (i, j) sees, not clipped.

        y0 = start_y + i * jump_y - (size_y - 1) / 2 (a whole number), y1 = y0 + size_y; likewise
        for columns. Output indices count from 0; a negative index raises ValueError.
        """
        i = _params.output_index(i, "i")
        j = _params.output_index(j, "j")
        region = []
        for axis, index in enumerate((i, j)):
            first = self._first[axis] + index * self.jump[axis]
            region.append((first, first + self.size[axis]))
        return tuple(region)


def window_receptive_field(kernel_size, stride, dilation, leading_padding) -> ReceptiveField:
    """Field of a single sliding-window layer (conv or pool), each argument a (rows, cols) pair."""
    return ReceptiveField.identity().then_window(kernel_size, stride, dilation, leading_padding)


def _field_of(layer, where: str) -> ReceptiveField:
    if isinstance(layer, type):
        raise TypeError(f"{where} is the class {layer.__name__}, not a layer; did you mean {layer.__name__}(...)?")
    try:
        value = layer.receptive_field
    except AttributeError:
        raise TypeError(
            f"{where} ({type(layer).__name__}) has no receptive_field: expected a layer "
            "(Conv2d, MaxPool2d, AvgPool2d, ReLU, Sequential or an object with the layer protocol)"
        ) from None
    if not isinstance(value, ReceptiveField):
        raise TypeError(
            f"{where} ({type(layer).__name__}).receptive_field must be a fieldconv.ReceptiveField, "
            f"got {type(value).__name__}"
        )
    return value


def receptive_field(layers) -> ReceptiveField:
    """The receptive field of a layer, or of a list/tuple of layers applied in order."""
    if isinstance(layers, (list, tuple)):
        total = ReceptiveField.identity()
        for index, layer in enumerate(layers):
            total = total.then(_field_of(layer, f"layers[{index}]"))
        return total
    return _field_of(layers, "layers")
