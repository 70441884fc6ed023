"""Receptive fields: which input pixels one output pixel depends on.

Convention (API.md section 3): pixel centres sit at integer coordinates; the input itself has
size 1, jump 1, start 0 per axis. A sliding-window layer with kernel k, dilation d, stride s and
leading (top/left) padding p maps a field (r, j, start) to
    r' = r + (k - 1) * d * j,   j' = j * s,   start' = start + ((k - 1) * d / 2 - p) * j.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class ReceptiveField:
    """Immutable per-axis (rows, cols) receptive field of an output pixel."""

    size: Tuple[int, int]
    jump: Tuple[int, int]
    start: Tuple[float, float]

    def __post_init__(self):
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        object.__setattr__(self, "jump", tuple(int(v) for v in self.jump))
        object.__setattr__(self, "start", tuple(float(v) for v in self.start))

    @classmethod
    def identity(cls) -> "ReceptiveField":
        return cls((1, 1), (1, 1), (0.0, 0.0))

    @property
    def padding(self) -> Tuple[int, int]:
        """Effective leading (top, left) padding of the whole stack."""
        return tuple(int(round((r - 1) / 2 - s)) for r, s in zip(self.size, self.start))

    def then_window(self, kernel_size, stride, dilation, leading_padding) -> "ReceptiveField":
        """The field after one more sliding-window layer (each argument a (rows, cols) pair)."""
        size, jump, start = [], [], []
        for axis in range(2):
            k, s, d, p = kernel_size[axis], stride[axis], dilation[axis], leading_padding[axis]
            j = self.jump[axis]
            size.append(self.size[axis] + (k - 1) * d * j)
            jump.append(j * s)
            start.append(self.start[axis] + ((k - 1) * d / 2 - p) * j)
        return ReceptiveField(tuple(size), tuple(jump), tuple(start))

    def then(self, other: "ReceptiveField") -> "ReceptiveField":
        """The field of this stack followed by a stack whose own field is other."""
        size, jump, start = [], [], []
        for axis in range(2):
            j = self.jump[axis]
            size.append(self.size[axis] + (other.size[axis] - 1) * j)
            jump.append(j * other.jump[axis])
            start.append(self.start[axis] + other.start[axis] * j)
        return ReceptiveField(tuple(size), tuple(jump), tuple(start))

    def input_region(self, i: int, j: int):
        """Half-open ((y0, y1), (x0, x1)) input rows/cols output (i, j) sees, not clipped."""
        region = []
        for axis, index in enumerate((i, j)):
            first = self.start[axis] + index * self.jump[axis] - (self.size[axis] - 1) / 2
            first = int(round(first))
            region.append((first, first + self.size[axis]))
        return tuple(region)


def window_receptive_field(kernel_size, stride, dilation, leading_padding) -> ReceptiveField:
    """Field of a single sliding-window layer (conv or pool), each argument a (rows, cols) pair."""
    return ReceptiveField.identity().then_window(kernel_size, stride, dilation, leading_padding)
