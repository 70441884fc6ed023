"""Layer objects: parameters + forward, callable on arrays (the layer protocol)."""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from . import _core, _params
from .functional import relu, run_avg_pool2d, run_conv2d, run_max_pool2d
from .receptive_field import ReceptiveField, _field_of, window_receptive_field


class Conv2d:
    """A convolution layer with fixed weights, as ``fieldconv.conv2d`` with these arguments.

    The weight and bias are copied at construction (later changes to the caller's arrays have
    no effect) and packed once per dtype for the direct kernel. Safe to call from several
    threads at once.
    """

    def __init__(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, algorithm="auto"):
        self._geometry = _params.conv2d_geometry(stride, padding, dilation, groups)
        self.algorithm = _params.conv2d_algorithm(algorithm) and algorithm
        weight_array = _params.conv2d_weight(weight)
        out_channels, in_per_group = weight_array.shape[:2]
        if out_channels % self._geometry.groups:
            raise ValueError(f"groups={self._geometry.groups} must divide out_channels (weight.shape[0] = {out_channels})")
        self.weight = np.array(weight_array, order="C", copy=True)
        self.weight.flags.writeable = False
        bias_array = _params.conv2d_bias(bias, out_channels)
        self.bias = None
        if bias_array is not None:
            # kept in its own dtype (native order) and cast per call, as conv2d casts it: a float64
            # bias with float32 weights must not be rounded to float32 for a float64 input
            self.bias = np.array(bias_array, dtype=bias_array.dtype.newbyteorder("="), copy=True)
            self.bias.flags.writeable = False
        self.in_channels = in_per_group * self._geometry.groups
        self.out_channels = out_channels
        self._packed = {}
        self._lock = threading.Lock()
        self._packed_weights(self.weight.dtype)
        _params.check_conv2d_algorithm(self.algorithm, self.kernel_size, self._geometry)
        self._winograd = {}  # (dtype, tile) -> transformed weights
        self._plans = {}  # (input shape, dtype, isa) -> tile (0: direct)
        for tile in self._construction_tiles():
            self._winograd_weights(self.weight.dtype, tile)

    # Hyper-parameters as given (normalised)
    @property
    def kernel_size(self):
        return tuple(int(v) for v in self.weight.shape[2:])

    @property
    def stride(self):
        return self._geometry.stride

    @property
    def dilation(self):
        return self._geometry.dilation

    @property
    def groups(self):
        return self._geometry.groups

    @property
    def padding(self):
        """(top, bottom, left, right), with "same" resolved."""
        return self._geometry.resolved_padding(self.kernel_size)

    @property
    def parameter_count(self) -> int:
        return int(self.weight.size + (0 if self.bias is None else self.bias.size))

    @property
    def receptive_field(self) -> ReceptiveField:
        top, _, left, _ = self.padding
        return window_receptive_field(self.kernel_size, self.stride, self.dilation, (top, left))

    def _packed_weights(self, dtype):
        dtype = np.dtype(dtype)
        packed = self._packed.get(dtype)
        if packed is None:
            with self._lock:
                packed = self._packed.get(dtype)
                if packed is None:
                    packed = _core.PackedConv2dWeights(_params.contiguous(self.weight, dtype), self.groups)
                    self._packed[dtype] = packed
        return packed

    def _construction_tiles(self):
        """Winograd tiles transformed at construction: the explicit variant, or for "auto" and
        "winograd" the tile the cost model picks for the input size typical of this channel count
        in CNNs (3584 / in_channels pixels wide, as ResNet's 64@56 ... 512@7, clamped to 7..224).
        Any other tile is transformed at its first use, once (each tile costs 1.8x/4x/7.1x the
        weights' memory, so not all are made up front)."""
        if self.algorithm == "direct":
            return set()
        if _params.winograd_problem(self.kernel_size, self.stride, self.dilation) is not None:
            return set()
        size = min(224, max(7, 3584 // self.in_channels))
        shape = (1, self.in_channels, size, size)
        tile = _params.conv2d_plan(self.algorithm, shape, self.weight.shape, self._geometry, self.weight.dtype)
        return {tile} if tile else set()

    def _winograd_weights(self, dtype, tile):
        key = (np.dtype(dtype), tile)
        transformed = self._winograd.get(key)
        if transformed is None:
            with self._lock:
                transformed = self._winograd.get(key)
                if transformed is None:
                    weight = _params.contiguous(self.weight, key[0])
                    transformed = _core.WinogradConv2dWeights(weight, self.groups, tile)
                    self._winograd[key] = transformed
        return transformed if transformed.usable else None  # NaN/Inf/huge weights: direct

    def __call__(self, x):
        call = _params.conv2d_call(x, self.weight, self.bias, self._geometry)
        key = (call.x.shape, call.dtype, _core.get_isa())
        tile = self._plans.get(key)
        if tile is None:  # the plan depends on shape, dtype and kernel family only: cache it
            tile = _params.conv2d_plan(self.algorithm, call.x.shape, self.weight.shape, self._geometry, call.dtype)
            if len(self._plans) < 64:
                self._plans[key] = tile
        winograd = self._winograd_weights(call.dtype, tile) if tile else None
        return run_conv2d(call, self._packed_weights(call.dtype), winograd)

    def output_shape(self, input_shape):
        """Shape of self(x) for x of shape input_shape ((N, C, H, W) or (C, H, W))."""
        shape = tuple(int(v) for v in input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"input_shape must be (N, C, H, W) or (C, H, W), got {input_shape!r}")
        full = shape if len(shape) == 4 else (1,) + shape
        out = _params.conv2d_output_shape(full, self.weight.shape, self._geometry)
        return out if len(shape) == 4 else out[1:]

    def __reduce__(self):
        # Picklable (dask.distributed, multiprocessing): rebuilt from its arguments, so the packed
        # weights (a C++ object) and the lock are made afresh on the other side.
        padding = "same" if self._geometry.padding is None else self._geometry.padding
        return (_rebuild_conv2d, (self.weight, self.bias, self.stride, padding, self.dilation, self.groups,
                                  self.algorithm))

    def __repr__(self):
        return (
            f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
            f"bias={self.bias is not None}, dtype={self.weight.dtype})"
        )


def _rebuild_conv2d(weight, bias, stride, padding, dilation, groups, algorithm):
    """Conv2d.__reduce__'s constructor (algorithm is keyword-only)."""
    return Conv2d(weight, bias, stride, padding, dilation, groups, algorithm=algorithm)


class ReLU:
    """max(x, 0) elementwise as a layer (``fieldconv.relu``); its receptive field is one pixel."""

    @property
    def receptive_field(self) -> ReceptiveField:
        return ReceptiveField.identity()

    def __call__(self, x):
        return relu(x)

    def output_shape(self, input_shape):
        """The input shape itself (any shape)."""
        return _params.shape_tuple(input_shape)

    def __repr__(self):
        return "ReLU()"


# --------------------------------------------------------------------------------------------
# Sequential: a stack of layers with one receptive field and a summary


@dataclass(frozen=True)
class SummaryRow:
    """One layer of ``Sequential.summary``: its output shape, weights, work and the receptive
    field of the network up to and including it."""

    name: str
    output_shape: Tuple[int, ...]
    params: int
    macs: int
    rf_size: Tuple[int, int]
    rf_jump: Tuple[int, int]
    rf_start: Tuple[float, float]


def _check_layer(layer, where: str):
    """TypeError unless layer has the layer protocol: __call__(x), receptive_field, output_shape."""
    if isinstance(layer, type):
        raise TypeError(f"{where} is the class {layer.__name__}, not a layer; did you mean {layer.__name__}(...)?")
    missing = [
        name
        for name, ok in (
            ("__call__(x)", callable(layer)),
            ("receptive_field", hasattr(layer, "receptive_field")),
            ("output_shape(input_shape)", callable(getattr(layer, "output_shape", None))),
        )
        if not ok
    ]
    if missing:
        hint = " (pass the layers as separate arguments: Sequential(*layers))" if isinstance(layer, (list, tuple)) else ""
        raise TypeError(
            f"{where} of type {type(layer).__name__} is not a layer: it lacks {', '.join(missing)}; Sequential accepts "
            f"objects with __call__(x), receptive_field and output_shape(input_shape){hint}"
        )
    _field_of(layer, where)  # the field must be a ReceptiveField
    return layer


def _layer_params(layer) -> int:
    count = getattr(layer, "parameter_count", None)
    if count is not None:
        return int(count)
    total = 0
    for name in ("weight", "bias"):
        value = getattr(layer, name, None)
        if isinstance(value, np.ndarray):
            total += int(value.size)
    return total


def _layer_macs(layer, input_shape, output_shape) -> int:
    """Multiply-accumulates of one call: N * C_out * H_out * W_out * (C_in / groups) * kh * kw
    for a convolution, layer.macs(input_shape) where a layer defines it, else 0."""
    if isinstance(layer, Conv2d):
        batch = output_shape[0] if len(output_shape) == 4 else 1
        out_channels, out_h, out_w = output_shape[-3:]
        kh, kw = layer.kernel_size
        return int(batch * out_channels * out_h * out_w * (layer.in_channels // layer.groups) * kh * kw)
    macs = getattr(layer, "macs", None)
    if callable(macs):
        return int(macs(input_shape))
    return 0


def _reraise_naming(error: Exception, where: str, layer):
    """Re-raise a ValueError/TypeError from a layer with the layer's position and repr in front."""
    if type(error) in (ValueError, TypeError):
        text = f"Sequential of {len(layer)} layers" if isinstance(layer, Sequential) else repr(layer)
        raise type(error)(f"{where} ({text}): {error}") from error
    raise error


class Sequential:
    """Layers applied in order, itself a layer (it can be nested in another Sequential).

    ``Sequential(*layers)`` accepts any object with the layer protocol: ``__call__(x)``, a
    ``receptive_field`` property and ``output_shape(input_shape)``; anything else raises
    TypeError naming its position. Iterable, indexable (a slice gives a Sequential) and sized.
    """

    def __init__(self, *layers):
        for index, layer in enumerate(layers):
            _check_layer(layer, f"layer {index}")
        self._layers = tuple(layers)

    # sequence behaviour
    def __len__(self):
        return len(self._layers)

    def __iter__(self):
        return iter(self._layers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    @property
    def layers(self) -> tuple:
        return self._layers

    # the layer protocol
    @property
    def receptive_field(self) -> ReceptiveField:
        total = ReceptiveField.identity()
        for index, layer in enumerate(self._layers):
            total = total.then(_field_of(layer, f"layer {index}"))
        return total

    def __call__(self, x):
        for index, layer in enumerate(self._layers):
            try:
                x = layer(x)
            except (ValueError, TypeError) as error:
                _reraise_naming(error, f"layer {index}", layer)
        return x

    def output_shape(self, input_shape):
        """Shape of self(x) for x of shape input_shape ((N, C, H, W) or (C, H, W)); an input too
        small for some layer raises ValueError naming that layer."""
        shape = _params.shape_tuple(input_shape)
        for _, _, _, out_shape in self._trace(shape):
            shape = out_shape
        return shape

    @property
    def parameter_count(self) -> int:
        return sum(_layer_params(layer) for layer in self._layers)

    def _leaves(self, prefix: str = ""):
        for index, layer in enumerate(self._layers):
            path = f"{prefix}{index}"
            if isinstance(layer, Sequential):
                yield from layer._leaves(path + ".")
            else:
                yield path, layer

    def _trace(self, shape):
        """(path, layer, input shape, output shape) of every leaf layer, checking that no
        spatial size reaches zero."""
        original = shape
        for path, layer in self._leaves():
            try:
                out_shape = tuple(int(v) for v in layer.output_shape(shape))
            except (ValueError, TypeError) as error:
                _reraise_naming(error, f"input_shape {original} reaches layer {path} as {shape}; layer {path}", layer)
            if len(out_shape) >= 2 and min(out_shape[-2:]) <= 0:
                raise ValueError(
                    f"input_shape {original} is too small: layer {path} ({layer!r}) maps {shape} to {out_shape}, "
                    "an empty output"
                )
            yield path, layer, shape, out_shape
            shape = out_shape

    def summary(self, input_shape, *, file=None, show: bool = True) -> List[SummaryRow]:
        """Per-layer output shape, parameters, multiply-accumulates and cumulative receptive field.

        input_shape: (C, H, W) or (N, C, H, W). Nested Sequentials are expanded (names like
        "1.0 Conv2d"). Prints a table with totals to file (default sys.stdout) unless show=False;
        returns the rows (SummaryRow). An input too small raises ValueError naming the layer.
        """
        shape = _params.shape_tuple(input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"input_shape must be (C, H, W) or (N, C, H, W), got {input_shape!r}")
        rows = []
        field = ReceptiveField.identity()
        for path, layer, in_shape, out_shape in self._trace(shape):
            field = field.then(layer.receptive_field)
            rows.append(
                SummaryRow(
                    name=f"{path} {type(layer).__name__}",
                    output_shape=out_shape,
                    params=_layer_params(layer),
                    macs=_layer_macs(layer, in_shape, out_shape),
                    rf_size=field.size,
                    rf_jump=field.jump,
                    rf_start=field.start,
                )
            )
        if show:
            print(format_summary(rows, shape), file=file if file is not None else sys.stdout)
        return rows

    def __repr__(self):
        if not self._layers:
            return "Sequential()"
        lines = ["Sequential("]
        for index, layer in enumerate(self._layers):
            text = repr(layer).replace("\n", "\n  ")
            lines.append(f"  ({index}): {text}")
        lines.append(")")
        return "\n".join(lines)


def _pair_text(pair, sep="x") -> str:
    return sep.join(f"{v:g}" if isinstance(v, float) else str(v) for v in pair)


def format_summary(rows, input_shape: Optional[Tuple[int, ...]] = None) -> str:
    """The table Sequential.summary prints."""
    header = ("Layer", "Output shape", "Params", "MACs", "RF size", "RF jump", "RF start")
    table = [
        (
            row.name,
            str(tuple(row.output_shape)),
            f"{row.params:,}",
            f"{row.macs:,}",
            _pair_text(row.rf_size),
            _pair_text(row.rf_jump),
            "(" + _pair_text(row.rf_start, ", ") + ")",
        )
        for row in rows
    ]
    if input_shape is not None:
        table.insert(0, ("input", str(tuple(input_shape)), "0", "0", "1x1", "1x1", "(0, 0)"))
    widths = [max(len(line[c]) for line in [header] + table) for c in range(len(header))]
    right = {2, 3}

    def fmt(line):
        return "  ".join(cell.rjust(w) if c in right else cell.ljust(w) for c, (cell, w) in enumerate(zip(line, widths))).rstrip()

    rule = "-" * len(fmt(tuple("-" * w for w in widths)))
    out = [fmt(header), rule] + [fmt(line) for line in table] + [rule]
    total_params = sum(row.params for row in rows)
    total_macs = sum(row.macs for row in rows)
    final = rows[-1] if rows else None
    out.append(f"Total params: {total_params:,}")
    out.append(f"Total MACs: {total_macs:,}")
    if final is not None:
        out.append(f"Output shape: {tuple(final.output_shape)}")
        out.append(
            f"Receptive field: {_pair_text(final.rf_size)}, jump {_pair_text(final.rf_jump)}, "
            f"start ({_pair_text(final.rf_start, ', ')})"
        )
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Pooling layers


class _Pool2d:
    """Shared parts of the pooling layers (hyper-parameters checked at construction)."""

    _geometry: _params.Pool2dGeometry

    @property
    def kernel_size(self):
        return self._geometry.kernel_size

    @property
    def stride(self):
        return self._geometry.stride

    @property
    def padding(self):
        return self._geometry.padding

    @property
    def dilation(self):
        return self._geometry.dilation

    @property
    def ceil_mode(self) -> bool:
        return self._geometry.ceil_mode

    @property
    def receptive_field(self) -> ReceptiveField:
        # ceil_mode changes the number of outputs, not the field
        return window_receptive_field(self.kernel_size, self.stride, self.dilation, self.padding)

    def output_shape(self, input_shape):
        """Shape of self(x) for x of shape input_shape ((N, C, H, W) or (C, H, W))."""
        return self._geometry.output_shape(input_shape)


class MaxPool2d(_Pool2d):
    """Max pooling layer, as ``fieldconv.max_pool2d`` with these arguments (values only)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        self._geometry = _params.pool2d_geometry(kernel_size, stride, padding, dilation, ceil_mode)

    def __call__(self, x):
        return run_max_pool2d(_params.pool2d_call(x, self._geometry), self._geometry)

    def __repr__(self):
        return (
            f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode})"
        )


class AvgPool2d(_Pool2d):
    """Average pooling layer, as ``fieldconv.avg_pool2d`` with these arguments."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        self._geometry = _params.pool2d_geometry(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = _params.as_flag(count_include_pad, "count_include_pad")
        self._divisor = _params.divisor_override_value(divisor_override)

    @property
    def divisor_override(self):
        return self._divisor or None

    def __call__(self, x):
        call = _params.pool2d_call(x, self._geometry)
        return run_avg_pool2d(call, self._geometry, self.count_include_pad, self._divisor)

    def __repr__(self):
        return (
            f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"ceil_mode={self.ceil_mode}, count_include_pad={self.count_include_pad}, "
            f"divisor_override={self.divisor_override})"
        )

