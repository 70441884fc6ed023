"""Receptive fields: which input pixels one output pixel depends on, composed here for chains
(``ReceptiveField.then``) and joins (``join_receptive_fields``) alike.

Convention (the README's *Receptive fields*): pixel centres sit at integer coordinates; the input
itself has size 1, jump 1, start 0 per axis. A sliding-window layer with kernel k, dilation d, stride s and
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
from typing import Sequence, Tuple

from . import _receptive_field_args


class NoSingleFieldError(ValueError):
    """No (size, jump, start) describes every output of this layer for this input shape (an
    adaptive pooling whose bins are not one sliding window); summaries show the field as '-'."""


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
    # Not fields: self._first, the exact first input row/col of output (0, 0)'s field,
    # start - (size - 1) / 2, set in __post_init__, and self._aligned (see aligned). Equality and
    # hashing use them (with size and jump) rather than the float start, which _first determines.

    def __eq__(self, other):
        if not isinstance(other, ReceptiveField):
            return NotImplemented
        return (self.size, self.jump, self._first, self._aligned) == (
            other.size,
            other.jump,
            other._first,
            other._aligned,
        )

    def __hash__(self):
        return hash((ReceptiveField, self.size, self.jump, self._first, self._aligned))

    def __repr__(self):
        text = f"ReceptiveField(size={self.size!r}, jump={self.jump!r}, start={self.start!r}"
        return text + (")" if self._aligned else ", aligned=False)")

    @property
    def aligned(self) -> bool:
        """False when, at some join upstream, the branches' fields had different centres: the
        field is then their union (exact as a region), but its centre is no branch's centre."""
        return self._aligned

    def __post_init__(self):
        size = _receptive_field_args.rf_extent_pair(self.size, "size")
        jump = _receptive_field_args.rf_extent_pair(self.jump, "jump")
        start_exact = _receptive_field_args.rf_start_pair(self.start, "start")
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
        object.__setattr__(self, "_aligned", True)

    @classmethod
    def _exact(cls, size, jump, first, aligned: bool = True) -> "ReceptiveField":
        """Field from exact integers: the first input row/col of output (0, 0) instead of start."""
        start = tuple(Fraction(f) + Fraction(r - 1, 2) for r, f in zip(size, first))
        field = cls(tuple(size), tuple(jump), start)
        object.__setattr__(field, "_aligned", bool(aligned))
        return field

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
        return ReceptiveField._exact(size, jump, first, self._aligned)

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
        return ReceptiveField._exact(size, jump, first, self._aligned and other._aligned)

    def center(self, i: int, j: int) -> Tuple[float, float]:
        """Input coordinates (row, col) of the centre of output (i, j)'s field."""
        i = _receptive_field_args.output_index(i, "i")
        j = _receptive_field_args.output_index(j, "j")
        return tuple(
            float(self._first[axis] + index * self.jump[axis] + Fraction(self.size[axis] - 1, 2))
            for axis, index in enumerate((i, j))
        )

    def input_region(self, i: int, j: int):
        """Half-open ((y0, y1), (x0, x1)) input rows/cols output (i, j) sees, not clipped.

        y0 = start_y + i * jump_y - (size_y - 1) / 2 (a whole number), y1 = y0 + size_y; likewise
        for columns. Output indices count from 0; a negative index raises ValueError.
        """
        i = _receptive_field_args.output_index(i, "i")
        j = _receptive_field_args.output_index(j, "j")
        region = []
        for axis, index in enumerate((i, j)):
            first = self._first[axis] + index * self.jump[axis]
            region.append((first, first + self.size[axis]))
        return tuple(region)


def join_receptive_fields(
    fields: Sequence[ReceptiveField], branch_names: Sequence[str], join_name: str
) -> ReceptiveField:
    """The field of a join (residual add, channel concatenation) of branches with these fields.

    After Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks"
    (Distill, 2019): the branches must step through the input alike (equal jumps), else output
    (i, j) of one branch and of another would not be neighbours of the same input grid; the
    join's output (i, j) then sees the union of the branches' regions for (i, j). That union is
    one box (the smallest first row to the largest last row), exact as a dependency box. When
    the branches' centres differ the join is misaligned: reported by aligned=False (and kept
    downstream), never averaged away.
    """
    fields = list(fields)
    names = list(branch_names)
    if not fields:
        raise ValueError(f"join {join_name!r} has no branches")
    for name, field in zip(names, fields):
        if not isinstance(field, ReceptiveField):
            raise TypeError(
                f"join {join_name!r}: the field of branch {name!r} must be a ReceptiveField, got {type(field).__name__}"
            )
    for name, field in zip(names[1:], fields[1:]):
        if field.jump != fields[0].jump:
            raise ValueError(
                f"join {join_name!r}: branches {names[0]!r} (jump {fields[0].jump}) and {name!r} (jump {field.jump}) "
                "have different jumps; a join needs branches that step through the input alike (equal products "
                "of strides), as torch needs equal output shapes"
            )
    size, first = [], []
    for axis in range(2):
        low = min(f._first[axis] for f in fields)
        high = max(f._first[axis] + f.size[axis] for f in fields)
        first.append(low)
        size.append(high - low)
    # Centres compared exactly (twice the centre is an integer).
    centres = {tuple(2 * f._first[a] + f.size[a] - 1 for a in range(2)) for f in fields}
    aligned = len(centres) == 1 and all(f.aligned for f in fields)
    return ReceptiveField._exact(size, fields[0].jump, first, aligned)


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


def depends_on_input_size(layer) -> bool:
    """True for layers whose field is known only for a given input shape (global or adaptive
    pooling, Flatten, Linear and networks holding one)."""
    return bool(getattr(layer, "field_depends_on_input_size", False))


def field_for_shape(layer, input_shape, where: str) -> ReceptiveField:
    """The field of layer for an input of input_shape: receptive_field_for(input_shape) where the
    layer defines it (fields that depend on the input size), else its receptive_field."""
    method = getattr(layer, "receptive_field_for", None)
    if callable(method):
        value = method(input_shape)
        if not isinstance(value, ReceptiveField):
            raise TypeError(
                f"{where} ({type(layer).__name__}).receptive_field_for(input_shape) must return a "
                f"fieldconv.ReceptiveField, got {type(value).__name__}"
            )
        return value
    return _field_of(layer, where)


def receptive_field(layers) -> ReceptiveField:
    """The receptive field of a layer, or of a list/tuple of layers applied in order."""
    if isinstance(layers, (list, tuple)):
        total = ReceptiveField.identity()
        for index, layer in enumerate(layers):
            total = total.then(_field_of(layer, f"layers[{index}]"))
        return total
    return _field_of(layers, "layers")
