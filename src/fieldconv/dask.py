"""Networks over larger-than-memory images: ``fieldconv.dask.apply(layers, x)``.

The result is a lazy dask array equal to ``Sequential(*layers)(x.compute())``, computed output
tile by output tile. Each task receives exactly the input rows/columns its tile's receptive
field covers (its input chunk plus a halo, sliced out of the neighbouring chunks by small
getitem tasks) and runs the layers one after the other on it.

The scheme, per spatial axis (rows and columns are independent):

1. Output tiles. Output ``o``'s field is ``[o*J + f, o*J + f + R)`` in input coordinates (R, J, f:
   size, jump and first row of the whole network's receptive field). Output ``o`` belongs to the
   input chunk holding its field's centre row ``o*J + f + (R - 1)//2``, so tile boundaries sit
   at whole multiples of the jump: every output is computed once and none is lost, whatever the
   chunk sizes.
2. Walk the layers backwards. A layer with window size r, stride s and first row f (= minus its
   leading padding) needs input rows ``[o0*s + f, (o1 - 1)*s + f + r)`` for outputs
   ``[o0, o1)``. The tile handed to it starts at ``a`` = 0 where that range reaches the top
   border, else at that range's first row rounded down to a multiple of s (so tile output t is
   global output ``t + a/s``), and ends at ``b`` = min(range end, layer input size).
3. Run each layer on its tile as is and keep outputs ``[o0 - a/s, o1 - a/s)``. Where the tile
   touches the real border (a = 0 or b = input size), the layer pads exactly as it does on the
   whole image (zeros for convolution, -inf for max pooling, PyTorch's divisors for average
   pooling, ceil_mode's last windows), because there the tile border *is* the image border.
   Where the tile edge is inside the image the layer pads too, but every output whose window
   reaches that fake padding lies outside ``[o0, o1)`` and is cut away. No dask boundary padding
   of the input is involved.

Any layer with the layer protocol whose output ``o`` depends only on the input window its
``receptive_field`` names (convolution, pooling, pointwise layers, nested Sequentials) works.

Graphs (Residual, Concat, from_torch's Graph) are one layer of the walk, with the graph's whole
field as their window (the union of their branches' fields, so the halo covers every branch).
A tile starts at a multiple of the graph's jump, hence of every jump inside it, so output t of
every branch on the tile is the same global output; joins run in a cropping mode that keeps the
outputs the branches share (a branch may have an extra output at a tile's inner edge, which the
tile throws away anyway). Layers whose field depends on the input size (global or adaptive
pooling, Flatten, Linear) have no fixed halo and are refused.
"""

from __future__ import annotations

try:
    import dask  # noqa: F401  (the top-level package first: a clearer error without it)
    import dask.array as _da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
except ImportError as error:  # pragma: no cover - exercised in a subprocess without dask
    raise ImportError(
        "fieldconv.dask needs dask (dask.array), an optional extra: pip install fieldconv[dask] "
        f"(import failed: {error})"
    ) from error

import math
import operator
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from .graph import cropping_joins
from .layers import Sequential
from ._receptive_field import depends_on_input_size

__all__ = ["apply"]


# --------------------------------------------------------------------------------------------
# Geometry: per-axis windows of each layer and the backward walk


@dataclass(frozen=True)
class _Window:
    """One layer along one axis: output o reads input [o*stride + first, o*stride + first + size)."""

    size: int
    stride: int
    first: int


@dataclass(frozen=True)
class _Step:
    """One layer of one tile along one axis: the layer's input rows [start, stop) (its own
    coordinates, clipped to the image) and the slice [keep_start, keep_stop) of its output kept."""

    start: int
    stop: int
    keep_start: int
    keep_stop: int


def _windows(layer) -> Tuple[_Window, _Window]:
    field = layer.receptive_field
    region = field.input_region(0, 0)
    return tuple(_Window(hi - lo, int(jump), int(lo)) for (lo, hi), jump in zip(region, field.jump))


def axis_steps(windows: Sequence[_Window], lengths: Sequence[int], out_start: int, out_stop: int) -> List[_Step]:
    """The per-layer steps computing outputs [out_start, out_stop) of the last layer along one axis.

    windows[l]: layer l's window along this axis; lengths[l]: layer l's input length (lengths[-1]
    is the network's output length).
    """
    steps = []
    o0, o1 = out_start, out_stop
    for layer_index in reversed(range(len(windows))):
        window = windows[layer_index]
        low = o0 * window.stride + window.first
        high = (o1 - 1) * window.stride + window.first + window.size
        length = lengths[layer_index]
        start = 0 if low <= 0 else (low // window.stride) * window.stride
        # Outputs whose windows lie wholly in the padding (a 1x1 conv with padding 2, ceil_mode's
        # last window) still need one real row to run the layer on.
        start = min(start, (length - 1) // window.stride * window.stride)
        stop = min(length, max(high, start + 1))
        shift = start // window.stride
        steps.append(_Step(start, stop, o0 - shift, o1 - shift))
        o0, o1 = start, stop
    return steps[::-1]


def output_bounds(total: _Window, input_chunks: Sequence[int], out_length: int) -> List[int]:
    """Output tile boundaries along one axis: output o goes with the input chunk holding its field's
    centre row o*jump + first + (size - 1)//2. Empty tiles are dropped."""
    bounds = [0]
    edge = 0
    centre = total.first + (total.size - 1) // 2
    for chunk in input_chunks[:-1]:
        edge += chunk
        bound = min(out_length, max(0, -((centre - edge) // total.stride)))  # ceil((edge - centre) / jump)
        if bound > bounds[-1]:
            bounds.append(bound)
    if out_length > bounds[-1]:
        bounds.append(out_length)
    return bounds


# --------------------------------------------------------------------------------------------
# What runs inside a task


class _Network:
    """The flattened layers, one graph value (shipped once per worker, not once per task)."""

    def __init__(self, layers):
        self.layers = tuple(layers)


class _Tile:
    """The steps of one output tile (rows, cols) per layer; an opaque object to dask."""

    def __init__(self, row_steps, col_steps):
        self.row_steps = tuple(row_steps)
        self.col_steps = tuple(col_steps)

    def __repr__(self):
        rows, cols = self.row_steps[0], self.col_steps[0]
        return f"_Tile(input rows {rows.start}:{rows.stop}, cols {cols.start}:{cols.stop})"


def run_tile(network: _Network, tile: _Tile, pieces) -> np.ndarray:
    """Assemble the input tile from its pieces (nested lists: rows of column pieces) and run the
    layers on it, keeping after each layer only the outputs the next one needs."""
    if len(pieces) == 1 and len(pieces[0]) == 1:
        x = pieces[0][0]
    else:
        x = np.concatenate([np.concatenate(row, axis=3) for row in pieces], axis=2)
    for index, (layer, rows, cols) in enumerate(zip(network.layers, tile.row_steps, tile.col_steps)):
        expected = (rows.stop - rows.start, cols.stop - cols.start)
        if tuple(x.shape[2:]) != expected:  # pragma: no cover - internal invariant
            raise AssertionError(f"layer {index}: input tile {x.shape} but the plan says {expected}")
        with cropping_joins():
            y = layer(x)
        if y.ndim != 4 or y.shape[2] < rows.keep_stop or y.shape[3] < cols.keep_stop:
            raise ValueError(
                f"layer {index} ({layer!r}) maps a tile of shape {x.shape} to {y.shape}, fewer outputs than its "
                f"receptive_field promises ({rows.keep_stop} x {cols.keep_stop}); fieldconv.dask.apply needs layers "
                "whose output o depends only on the input window named by their receptive_field"
            )
        x = y[:, :, rows.keep_start : rows.keep_stop, cols.keep_start : cols.keep_stop]
    if x.base is not None and not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)  # do not keep the uncropped activation alive with the result
    elif x.base is not None and x.base.size > x.size:
        x = x.copy()
    return x


# --------------------------------------------------------------------------------------------
# The public function


def _leaves(layers):
    for layer in layers:
        if isinstance(layer, Sequential):
            yield from _leaves(layer)
        else:
            yield layer


def _as_layers(layers) -> List:
    if isinstance(layers, Sequential):
        network = layers
    elif isinstance(layers, (list, tuple)):
        network = Sequential(*layers)  # TypeError naming the position of anything not a layer
    else:
        network = Sequential(layers)
    return list(_leaves(network))


def _check_input(x):
    if isinstance(x, np.ndarray) or (not isinstance(x, _da.Array) and hasattr(x, "__array__")):
        raise TypeError(
            f"x must be a dask.array.Array, got {type(x).__name__} of shape {getattr(x, 'shape', '?')}; wrap it "
            "with dask.array.from_array(x, chunks=(1, -1, 512, 512)), or call the network directly on arrays "
            "that fit in memory"
        )
    if not isinstance(x, _da.Array):
        raise TypeError(f"x must be a dask.array.Array of shape (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        hint = " (add a batch axis with x[None])" if x.ndim == 3 else ""
        raise ValueError(f"x must be a 4-D dask array (N, C, H, W), got shape {x.shape} ({x.ndim}-D){hint}")
    if any(math.isnan(c) for axis in x.chunks for c in axis):
        raise ValueError(f"x has unknown chunk sizes {x.chunks}; call x.compute_chunk_sizes() first")


def _trace_lengths(layers, shape):
    """Input shape of every layer, then the output shape; ValueError naming the layer that refuses."""
    shapes = [tuple(shape)]
    for index, layer in enumerate(layers):
        try:
            out = tuple(int(v) for v in layer.output_shape(shapes[-1]))
        except (ValueError, TypeError) as error:
            raise type(error)(
                f"x of shape {tuple(shape)} does not fit the network: it reaches layer {index} ({layer!r}) as "
                f"{shapes[-1]}: {error}"
            ) from error
        if len(out) != 4 or min(out[2:]) <= 0:
            raise ValueError(
                f"x of shape {tuple(shape)} is too small for the network: layer {index} ({layer!r}) maps "
                f"{shapes[-1]} to {out}"
            )
        shapes.append(out)
    return shapes


def apply(layers, x):
    """Run ``layers`` (a layer, a Sequential or a list of layers) over the dask array ``x``
    (N, C, H, W), tile by tile; returns a lazy dask array equal to ``Sequential(*layers)(x.compute())``.

    The C axis is rechunked whole; N keeps its chunks; the output's rows and columns follow x's
    chunks (one output tile per input chunk, boundaries at multiples of the network's jump). Each
    task holds its input tile plus halo, that tile's activations and its output tile.
    """
    _check_input(x)
    leaves = _as_layers(layers)
    if not leaves:
        return x
    for index, layer in enumerate(leaves):
        if depends_on_input_size(layer):
            raise ValueError(
                f"fieldconv.dask.apply cannot tile layer {index} ({type(layer).__name__}): its receptive field depends "
                "on the input size (global or adaptive pooling, Flatten, Linear), so every output tile would need the "
                "whole image; apply the convolutional part with dask and run the head on the computed result"
            )
    first_channels = getattr(leaves[0], "in_channels", None)
    if isinstance(first_channels, int) and x.shape[1] != first_channels:
        raise ValueError(
            f"x has {x.shape[1]} channels (shape {x.shape}) but layer 0 ({leaves[0]!r}) expects {first_channels}"
        )
    shapes = _trace_lengths(leaves, x.shape)
    windows = [_windows(layer) for layer in leaves]
    total_field = Sequential(*leaves).receptive_field
    totals = _windows(_Probe(total_field))

    if len(x.chunks[1]) > 1:
        x = x.rechunk({1: -1})
    out_shape = shapes[-1]

    # Per axis: output tile boundaries and each tile's steps.
    axis_plans = []
    for axis in (0, 1):
        lengths = [s[2 + axis] for s in shapes]
        bounds = output_bounds(totals[axis], x.chunks[2 + axis], lengths[-1])
        tiles = [axis_steps([w[axis] for w in windows], lengths, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
        axis_plans.append((bounds, tiles))

    # Dtype (and a check that the layers run) on the smallest tile: output (0, 0) alone.
    probe_rows = axis_steps([w[0] for w in windows], [s[2] for s in shapes], 0, 1)
    probe_cols = axis_steps([w[1] for w in windows], [s[3] for s in shapes], 0, 1)
    probe = np.zeros((1, x.shape[1], probe_rows[0].stop, probe_cols[0].stop), dtype=x.dtype)
    try:
        dtype = run_tile(_Network(leaves), _Tile(probe_rows, probe_cols), [[probe]]).dtype
    except (ValueError, TypeError) as error:
        raise type(error)(f"the network cannot run on x (dtype {x.dtype}, shape {x.shape}): {error}") from error

    token = tokenize(x, _network_token(leaves))
    name = f"fieldconv-apply-{token}"
    halo_name = f"fieldconv-halo-{token}"
    network_key = f"fieldconv-network-{token}"
    dsk = {network_key: _Network(leaves)}
    row_edges = np.cumsum((0,) + x.chunks[2])
    col_edges = np.cumsum((0,) + x.chunks[3])
    for n_index in range(len(x.chunks[0])):
        for tile_row, row_steps in enumerate(axis_plans[0][1]):
            for tile_col, col_steps in enumerate(axis_plans[1][1]):
                pieces = []
                for i, row_slice in _pieces(row_edges, row_steps[0]):
                    line = []
                    for j, col_slice in _pieces(col_edges, col_steps[0]):
                        source = (x.name, n_index, 0, i, j)
                        if row_slice is None and col_slice is None:
                            line.append(source)
                        else:
                            key = (halo_name, n_index, tile_row, tile_col, i, j)
                            index = (slice(None), slice(None), row_slice or slice(None), col_slice or slice(None))
                            dsk[key] = (operator.getitem, source, index)
                            line.append(key)
                    pieces.append(line)
                dsk[(name, n_index, 0, tile_row, tile_col)] = (
                    run_tile,
                    network_key,
                    _Tile(row_steps, col_steps),
                    pieces,
                )
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[x])
    chunks = (
        x.chunks[0],
        (out_shape[1],),
        tuple(np.diff(axis_plans[0][0]).tolist()),
        tuple(np.diff(axis_plans[1][0]).tolist()),
    )
    return _da.Array(graph, name, chunks, dtype=dtype)


class _Probe:
    """A stand-in with only a receptive_field, for _windows of the whole network."""

    def __init__(self, field):
        self.receptive_field = field


def _pieces(edges, step: _Step):
    """(chunk index, slice within the chunk or None for the whole chunk) covering [start, stop)."""
    for index in range(len(edges) - 1):
        lo, hi = int(edges[index]), int(edges[index + 1])
        start, stop = max(lo, step.start), min(hi, step.stop)
        if start >= stop:
            continue
        yield index, (None if (start, stop) == (lo, hi) else slice(start - lo, stop - lo))


def _network_token(leaves):
    """What names the graph: each layer's type, repr (hyper-parameters), identity and the hash of
    its arrays (weights), so two networks never share keys and a changed weight changes them."""
    parts = []
    for layer in leaves:
        arrays = {k: v for k, v in getattr(layer, "__dict__", {}).items() if isinstance(v, np.ndarray)}
        parts.append((type(layer).__qualname__, repr(layer), id(layer), tokenize(arrays) if arrays else None))
    return parts
