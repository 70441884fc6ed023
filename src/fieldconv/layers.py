"""Layer objects: parameters + forward, callable on arrays (the layer protocol)."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple, Union

ArrayLike = Any  # anything numpy.asarray accepts

import numpy as np

from . import _conv2d_args, _conv2d_planner, _core, _params, _pool2d_args
from .functional import relu, run_avg_pool2d, run_conv2d, run_max_pool2d
from ._receptive_field import (
    NoSingleFieldError,
    ReceptiveField,
    _field_of,
    depends_on_input_size,
    field_for_shape,
    window_receptive_field,
)


class Conv2d:
    """A convolution layer with fixed weights, as ``fieldconv.conv2d`` with these arguments.

    The weight and bias are copied at construction (later changes to the caller's arrays have
    no effect) and packed once per dtype for the direct kernel. Safe to call from several
    threads at once.
    """

    def __init__(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, algorithm="auto"):
        self._geometry = _conv2d_args.conv2d_geometry(stride, padding, dilation, groups)
        self.algorithm = _conv2d_args.conv2d_algorithm(algorithm) and algorithm
        weight_array = _conv2d_args.conv2d_weight(weight)
        out_channels, in_per_group = weight_array.shape[:2]
        if out_channels % self._geometry.groups:
            raise ValueError(
                f"groups={self._geometry.groups} must divide out_channels (weight.shape[0] = {out_channels})"
            )
        self.weight = np.array(weight_array, order="C", copy=True)
        self.weight.flags.writeable = False
        bias_array = _conv2d_args.conv2d_bias(bias, out_channels)
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
        _conv2d_args.check_conv2d_algorithm(self.algorithm, self.kernel_size, self._geometry)
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
        if _conv2d_args.winograd_problem(self.kernel_size, self.stride, self.dilation) is not None:
            return set()
        size = min(224, max(7, 3584 // self.in_channels))
        shape = (1, self.in_channels, size, size)
        tile = _conv2d_planner.conv2d_plan(self.algorithm, shape, self.weight.shape, self._geometry, self.weight.dtype)
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
        return self._forward(x)[0]

    def _forward(self, x, residual=None, activation: int = 0, allocate=None):
        """(y, fused): y = self(x), with activation(y + residual) applied in the kernels'
        epilogue (the same bits as the separate passes; Graph and Sequential fuse the ReLU or
        residual Add after a convolution this way). activation: 0 none, 1 relu, 2 relu6. fused
        is False, and y the plain convolution, when residual (if given) is not a C-contiguous
        array of y's dtype and shape: the caller then runs the Add and activation itself.
        allocate: see functional.run_conv2d (Graph's recycled output buffers)."""
        call = _conv2d_args.conv2d_call(x, self.weight, self.bias, self._geometry)
        fused = True
        if residual is not None:
            expected = call.output_shape[1:] if call.unbatched else call.output_shape
            if (
                isinstance(residual, np.ndarray)
                and residual.dtype == call.dtype
                and residual.shape == expected
                and residual.flags.c_contiguous
            ):
                residual = residual.reshape(call.output_shape)
            else:
                residual, activation, fused = None, 0, False
        key = (call.x.shape, call.dtype, _core.get_isa())
        tile = self._plans.get(key)
        if tile is None:  # the plan depends on shape, dtype and kernel family only: cache it
            tile = _conv2d_planner.conv2d_plan(
                self.algorithm, call.x.shape, self.weight.shape, self._geometry, call.dtype
            )
            if len(self._plans) < 64:
                self._plans[key] = tile
        winograd = self._winograd_weights(call.dtype, tile) if tile else None
        y = run_conv2d(call, self._packed_weights(call.dtype), winograd, residual, activation, allocate)
        return y, fused

    def algorithm_for(self, input_shape, dtype=None) -> str:
        """The algorithm a call on an input of this shape ((N, C, H, W) or (C, H, W)) and dtype
        (default: the weights') runs: "direct", "winograd_f2", "winograd_f4" or "winograd_f6".
        For "auto" it is the cost model's choice for this kernel family. (A Winograd call hands
        inputs holding NaN/Inf, or magnitudes near overflow, to direct convolution.)"""
        from .functional import conv2d_algorithm_for

        self.output_shape(input_shape)  # checks the shape against the weights
        dtype = self.weight.dtype if dtype is None else np.result_type(np.dtype(dtype), self.weight.dtype)
        padding = self._geometry.padding if self._geometry.padding is not None else "same"
        return conv2d_algorithm_for(
            input_shape,
            self.weight.shape,
            self.stride,
            padding,
            self.dilation,
            self.groups,
            algorithm=self.algorithm,
            dtype=dtype,
        )

    def output_shape(self, input_shape):
        """Shape of self(x) for x of shape input_shape ((N, C, H, W) or (C, H, W))."""
        shape = tuple(int(v) for v in input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"input_shape must be (N, C, H, W) or (C, H, W), got {input_shape!r}")
        full = shape if len(shape) == 4 else (1,) + shape
        out = _conv2d_args.conv2d_output_shape(full, self.weight.shape, self._geometry)
        return out if len(shape) == 4 else out[1:]

    def __reduce__(self):
        # Picklable (dask.distributed, multiprocessing): rebuilt from its arguments, so the packed
        # weights (a C++ object) and the lock are made afresh on the other side.
        padding = "same" if self._geometry.padding is None else self._geometry.padding
        return (
            _rebuild_conv2d,
            (self.weight, self.bias, self.stride, padding, self.dilation, self.groups, self.algorithm),
        )

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
    """One layer of a summary (``Sequential.summary``, ``Graph.summary``): its output shape,
    weights, work (multiply-adds of convolutions and Linear layers) and the receptive field of the
    network up to and including it (None where no single field describes it, see
    NoSingleFieldError)."""

    name: str
    output_shape: Tuple[int, ...]
    params: int
    macs: int
    rf_size: Tuple[int, int]
    rf_jump: Tuple[int, int]
    rf_start: Tuple[float, float]
    aligned: bool = True  # False: a join upstream had branches with different field centres


def _has_field(layer) -> bool:
    """A receptive_field (without evaluating it: shape-dependent layers raise there) or a
    receptive_field_for(input_shape)."""
    return (
        hasattr(type(layer), "receptive_field")
        or "receptive_field" in getattr(layer, "__dict__", {})
        or callable(getattr(layer, "receptive_field_for", None))
    )


def _check_layer(layer, where: str):
    """TypeError unless layer has the layer protocol: __call__(x), receptive_field (or
    receptive_field_for(input_shape) for fields that depend on the input size), output_shape."""
    if isinstance(layer, type):
        raise TypeError(f"{where} is the class {layer.__name__}, not a layer; did you mean {layer.__name__}(...)?")
    missing = [
        name
        for name, ok in (
            ("__call__(x)", callable(layer)),
            ("receptive_field", _has_field(layer)),
            ("output_shape(input_shape)", callable(getattr(layer, "output_shape", None))),
        )
        if not ok
    ]
    if missing:
        hint = (
            " (pass the layers as separate arguments: Sequential(*layers))" if isinstance(layer, (list, tuple)) else ""
        )
        raise TypeError(
            f"{where} of type {type(layer).__name__} is not a layer: it lacks {', '.join(missing)}; Sequential accepts "
            f"objects with __call__(x), receptive_field and output_shape(input_shape){hint}"
        )
    if not depends_on_input_size(layer):
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
        fused_next = False
        for index, layer in enumerate(self._layers):
            if fused_next:  # applied by the convolution before it
                fused_next = False
                continue
            # A ReLU after a layer whose output is a new array of its own runs in place on it:
            # one threaded pass, no new array (the same comparisons as the layer).
            if index > 0 and activation_in_place(layer, self._layers[index - 1], x):
                continue
            try:
                # A ReLU after a convolution runs in its epilogue, as each value is stored.
                following = self._layers[index + 1] if index + 1 < len(self._layers) else None
                code = fused_activation_code(layer, following)
                if code:
                    x, fused_next = layer._forward(x, None, code)
                else:
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

    def receptive_field_for(self, input_shape: Sequence[int]) -> ReceptiveField:
        """The field for an input of input_shape: the same as receptive_field unless a layer's field
        depends on the input size (global or adaptive pooling, Flatten, Linear)."""
        shape = _params.shape_tuple(input_shape)
        total = ReceptiveField.identity()
        for path, layer, in_shape, _ in self._trace(shape):
            total = total.then(field_for_shape(layer, in_shape, f"layer {path}"))
        return total

    @property
    def field_depends_on_input_size(self) -> bool:
        return any(depends_on_input_size(layer) for layer in self._layers)

    def fold_batch_norm(self) -> "Sequential":
        """A copy with every BatchNorm2d that directly follows a Conv2d folded into it (see
        BatchNorm2d.fold_into); nested networks are folded too. parameter_count then drops the
        batch norms' parameters."""
        layers = []
        for layer in self._layers:
            if isinstance(layer, BatchNorm2d) and layers and isinstance(layers[-1], Conv2d):
                layers[-1] = layer.fold_into(layers[-1])
            else:
                fold = getattr(layer, "fold_batch_norm", None)
                layers.append(fold() if callable(fold) else layer)
        return Sequential(*layers)

    def _summary_rows(self, prefix: str, input_shape, field):
        """(rows, output shape, output field) of this network fed input_shape, downstream of field."""
        rows = []
        shape = input_shape
        for index, layer in enumerate(self._layers):
            more, shape, field = layer_summary_rows(layer, f"{prefix}{index}", shape, field)
            rows.extend(more)
        return rows, shape, field

    def summary(self, input_shape, *, file=None, show: bool = True) -> List[SummaryRow]:
        """Per-layer output shape, parameters, multiply-accumulates and cumulative receptive field.

        input_shape: (C, H, W) or (N, C, H, W). Nested Sequentials and graphs are expanded (names
        like "1.0 Conv2d"). Prints a table with totals to file (default sys.stdout) unless
        show=False; returns the rows (SummaryRow). An input too small raises ValueError naming the
        layer.
        """
        shape = _params.shape_tuple(input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"input_shape must be (C, H, W) or (N, C, H, W), got {input_shape!r}")
        self.output_shape(shape)  # errors name the layer that refuses the shape
        rows, _, _ = self._summary_rows("", shape, ReceptiveField.identity())
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


def layer_summary_rows(layer, path: str, input_shape, field, params: Optional[int] = None):
    """(rows, output shape, output field) of one layer at path: networks (Sequential, Graph)
    expand into their own rows, any other layer gives one row. field is the network's field
    before the layer (None when unknown); params overrides the layer's own count."""
    expand = getattr(layer, "_summary_rows", None)
    if callable(expand):
        return expand(path + ".", input_shape, field)
    output_shape = tuple(int(v) for v in layer.output_shape(input_shape))
    if field is not None:
        try:
            field = field.then(field_for_shape(layer, input_shape, path))
        except NoSingleFieldError:
            field = None
    row = SummaryRow(
        name=f"{path} {type(layer).__name__}",
        output_shape=output_shape,
        params=_layer_params(layer) if params is None else int(params),
        macs=_layer_macs(layer, input_shape, output_shape),
        rf_size=None if field is None else field.size,
        rf_jump=None if field is None else field.jump,
        rf_start=None if field is None else field.start,
        aligned=True if field is None else field.aligned,
    )
    return [row], output_shape, field


MISALIGNED_MARK = "!"


def _pair_text(pair, sep="x") -> str:
    if pair is None:
        return "-"
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
            ("-" if row.rf_start is None else "(" + _pair_text(row.rf_start, ", ") + ")")
            + ("" if getattr(row, "aligned", True) else " " + MISALIGNED_MARK),
        )
        for row in rows
    ]
    if input_shape is not None:
        table.insert(0, ("input", str(tuple(input_shape)), "0", "0", "1x1", "1x1", "(0, 0)"))
    widths = [max(len(line[c]) for line in [header] + table) for c in range(len(header))]
    right = {2, 3}

    def fmt(line):
        return "  ".join(
            cell.rjust(w) if c in right else cell.ljust(w) for c, (cell, w) in enumerate(zip(line, widths))
        ).rstrip()

    rule = "-" * len(fmt(tuple("-" * w for w in widths)))
    out = [fmt(header), rule] + [fmt(line) for line in table] + [rule]
    total_params = sum(row.params for row in rows)
    total_macs = sum(row.macs for row in rows)
    final = rows[-1] if rows else None
    out.append(f"Total params: {total_params:,}")
    out.append(f"Total MACs: {total_macs:,}")
    if final is not None:
        out.append(f"Output shape: {tuple(final.output_shape)}")
        if final.rf_size is None:
            out.append("Receptive field: - (no single field for this input shape)")
        else:
            out.append(
                f"Receptive field: {_pair_text(final.rf_size)}, jump {_pair_text(final.rf_jump)}, "
                f"start ({_pair_text(final.rf_start, ', ')})"
            )
    if any(not getattr(row, "aligned", True) for row in rows):
        out.append(
            f"{MISALIGNED_MARK} misaligned: a join upstream has branches whose field centres differ; the field "
            "shown is the union of their regions"
        )
    if any(row.rf_size is None for row in rows):
        out.append(
            "- no single (size, jump, start) describes every output (adaptive pooling bins that are not one "
            "sliding window)"
        )
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Pooling layers


class _Pool2d:
    """Shared parts of the pooling layers (hyper-parameters checked at construction)."""

    _geometry: _pool2d_args.Pool2dGeometry

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
        self._geometry = _pool2d_args.pool2d_geometry(kernel_size, stride, padding, dilation, ceil_mode)

    def __call__(self, x):
        return run_max_pool2d(_pool2d_args.pool2d_call(x, self._geometry), self._geometry)

    def __repr__(self):
        return (
            f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode})"
        )


class AvgPool2d(_Pool2d):
    """Average pooling layer, as ``fieldconv.avg_pool2d`` with these arguments."""

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
    ):
        self._geometry = _pool2d_args.pool2d_geometry(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = _params.as_flag(count_include_pad, "count_include_pad")
        self._divisor = _pool2d_args.divisor_override_value(divisor_override)

    @property
    def divisor_override(self):
        return self._divisor or None

    def __call__(self, x):
        call = _pool2d_args.pool2d_call(x, self._geometry)
        return run_avg_pool2d(call, self._geometry, self.count_include_pad, self._divisor)

    def __repr__(self):
        return (
            f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"ceil_mode={self.ceil_mode}, count_include_pad={self.count_include_pad}, "
            f"divisor_override={self.divisor_override})"
        )


# --------------------------------------------------------------------------------------------
# Layers of real CNNs beyond convolution and pooling: batch norm, clamps, classifier heads


def _spatial_input_shape(input_shape, layer: str) -> Tuple[int, ...]:
    shape = _params.shape_tuple(input_shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"{layer}: input_shape must be (N, C, H, W) or (C, H, W), got {input_shape!r}")
    return shape


def _vector(value, name: str, length: Optional[int] = None) -> np.ndarray:
    array = _params.float_array(value, name)
    if array.ndim != 1 or (length is not None and array.shape[0] != length):
        wanted = f"({length},)" if length is not None else "1-D"
        raise ValueError(f"{name} must have shape {wanted}, got {array.shape}")
    copy = np.array(array, order="C", copy=True)
    copy.flags.writeable = False
    return copy


class BatchNorm2d:
    """Batch normalisation at inference (running statistics), as ``torch.nn.BatchNorm2d`` in eval mode:
    y = (x - running_mean) / sqrt(running_var + eps) * weight + bias, per channel (axis 1).

    weight and bias may be None (torch's affine=False: scale 1, shift 0). The arrays are copied at
    construction. ``fold_into(conv)`` returns the Conv2d that computes conv followed by this layer.
    parameter_count is torch's: weight and bias (the running statistics are buffers).
    """

    def __init__(
        self,
        weight: Optional[ArrayLike],
        bias: Optional[ArrayLike],
        running_mean: ArrayLike,
        running_var: ArrayLike,
        eps: float = 1e-5,
    ):
        self.running_mean = _vector(running_mean, "running_mean")
        channels = self.running_mean.shape[0]
        self.running_var = _vector(running_var, "running_var", channels)
        if np.any(self.running_var < 0):
            raise ValueError(f"running_var must be >= 0, got a minimum of {float(self.running_var.min())}")
        self.weight = None if weight is None else _vector(weight, "weight", channels)
        self.bias = None if bias is None else _vector(bias, "bias", channels)
        if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.floating, np.integer)):
            raise TypeError(f"eps must be a non-negative number, got {eps!r}")
        if not (float(eps) >= 0):
            raise ValueError(f"eps must be a non-negative number, got {eps!r}")
        self.eps = float(eps)
        self.num_features = channels

    field_depends_on_input_size = False

    def scale_and_shift(self, dtype=np.float64) -> Tuple[np.ndarray, np.ndarray]:
        """(scale, shift) with y = x * scale + shift per channel, computed in float64 then cast."""
        scale = 1.0 / np.sqrt(self.running_var.astype(np.float64) + self.eps)
        if self.weight is not None:
            scale = scale * self.weight.astype(np.float64)
        shift = -self.running_mean.astype(np.float64) * scale
        if self.bias is not None:
            shift = shift + self.bias.astype(np.float64)
        return scale.astype(dtype), shift.astype(dtype)

    @property
    def parameter_count(self) -> int:
        return sum(0 if v is None else int(v.size) for v in (self.weight, self.bias))

    @property
    def receptive_field(self) -> ReceptiveField:
        return ReceptiveField.identity()

    def __call__(self, x) -> np.ndarray:
        array = _params.float_array(x, "x")
        if array.ndim not in (3, 4) or array.shape[-3] != self.num_features:
            raise ValueError(
                f"x must be (N, {self.num_features}, H, W) or ({self.num_features}, H, W) for "
                f"BatchNorm2d({self.num_features}), got shape {array.shape}"
            )
        dtype = np.result_type(array, self.running_mean)
        scale, shift = self.scale_and_shift(dtype)
        y = np.multiply(array, scale[:, None, None], dtype=dtype)
        y += shift[:, None, None]  # in place: one pass less over the activations
        return y

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        shape = _spatial_input_shape(input_shape, "BatchNorm2d")
        if shape[-3] != self.num_features:
            raise ValueError(
                f"BatchNorm2d({self.num_features}) needs {self.num_features} channels, got input_shape {shape}"
            )
        return shape

    def fold_into(self, conv: "Conv2d") -> "Conv2d":
        """The Conv2d computing ``self(conv(x))``: weights scaled per output channel, bias shifted.
        Folding is done in float64 and cast to the conv's weight dtype (so it may differ from the
        two-step result by rounding)."""
        if not isinstance(conv, Conv2d):
            raise TypeError(f"conv must be a fieldconv.Conv2d, got {type(conv).__name__}")
        if conv.out_channels != self.num_features:
            raise ValueError(f"conv has {conv.out_channels} output channels but BatchNorm2d has {self.num_features}")
        scale, shift = self.scale_and_shift(np.float64)
        weight = (conv.weight.astype(np.float64) * scale[:, None, None, None]).astype(conv.weight.dtype)
        bias = shift if conv.bias is None else conv.bias.astype(np.float64) * scale + shift
        bias_dtype = conv.weight.dtype if conv.bias is None else conv.bias.dtype
        padding = "same" if conv._geometry.padding is None else conv._geometry.padding
        return Conv2d(
            weight, bias.astype(bias_dtype), conv.stride, padding, conv.dilation, conv.groups, algorithm=conv.algorithm
        )

    def __repr__(self):
        return f"BatchNorm2d({self.num_features}, eps={self.eps:g}, affine={self.weight is not None})"


class ReLU6:
    """min(max(x, 0), 6) elementwise, as ``torch.nn.ReLU6`` (= hardtanh(x, 0, 6)): NaN stays NaN
    and -0.0 stays -0.0, as in torch. Any shape; its field is one pixel."""

    field_depends_on_input_size = False

    @property
    def receptive_field(self) -> ReceptiveField:
        return ReceptiveField.identity()

    def __call__(self, x) -> np.ndarray:
        array = _params.float_array(x, "x")
        # np.clip keeps NaN and -0.0 (only values beyond a bound are replaced), as torch does, in
        # one pass (masked copies took five times longer)
        return np.clip(array, array.dtype.type(0), array.dtype.type(6), out=np.empty(array.shape, array.dtype))

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        return _params.shape_tuple(input_shape)

    def __repr__(self):
        return "ReLU6()"


class Identity:
    """Returns its input unchanged (torch.nn.Identity); the base of Dropout."""

    field_depends_on_input_size = False

    @property
    def receptive_field(self) -> ReceptiveField:
        return ReceptiveField.identity()

    def __call__(self, x) -> np.ndarray:
        return _params.float_array(x, "x")

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        return _params.shape_tuple(input_shape)

    def __repr__(self):
        return "Identity()"


class Dropout(Identity):
    """Dropout at inference: the identity (torch's eval mode). p is kept for the record only."""

    def __init__(self, p: float = 0.5):
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.floating, np.integer)):
            raise TypeError(f"p must be a probability (a number in [0, 1]), got {p!r}")
        if not 0 <= float(p) <= 1:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)

    def __repr__(self):
        return f"Dropout(p={self.p:g})"


def _whole_input_field(height: int, width: int) -> ReceptiveField:
    """The field of a layer with a single output that sees its whole input: a window as large as
    the input (its jump, never used by a single output, taken equal to the size)."""
    return window_receptive_field((height, width), (height, width), (1, 1), (0, 0))


def adaptive_bins(input_size: int, output_size: int) -> List[Tuple[int, int]]:
    """torch's adaptive pooling bins: output i averages [floor(i*H/out), ceil((i+1)*H/out))."""
    return [((i * input_size) // output_size, -((-(i + 1) * input_size) // output_size)) for i in range(output_size)]


class AdaptiveAvgPool2d:
    """Adaptive average pooling as ``torch.nn.AdaptiveAvgPool2d``: output (i, j) averages the input
    rows [floor(i*H/oh), ceil((i+1)*H/oh)) and likewise columns. output_size: an int, an (oh, ow)
    pair, None in a pair keeping that input size; 1 is global average pooling.

    Its field depends on the input size: ``receptive_field_for(input_shape)`` gives it (the whole
    input for global pooling; a sliding window where torch's bins are one, else
    NoSingleFieldError); the ``receptive_field`` property raises ValueError.
    """

    field_depends_on_input_size = True

    def __init__(self, output_size: Union[int, None, Tuple[Optional[int], Optional[int]]]):
        items = list(output_size) if isinstance(output_size, (tuple, list)) else [output_size, output_size]
        if len(items) != 2:
            raise ValueError(f"output_size must be an int or an (oh, ow) pair, got {output_size!r}")
        self.output_size = tuple(
            None if v is None else _params.as_int(v, f"output_size[{i}]", minimum=1, maximum=2**31 - 1)
            for i, v in enumerate(items)
        )

    def _out_size(self, height: int, width: int) -> Tuple[int, int]:
        return tuple(size if want is None else want for want, size in zip(self.output_size, (height, width)))

    @property
    def receptive_field(self) -> ReceptiveField:
        raise ValueError(
            "AdaptiveAvgPool2d's receptive field depends on the input size; use receptive_field_for(input_shape)"
        )

    def receptive_field_for(self, input_shape: Sequence[int]) -> ReceptiveField:
        shape = _spatial_input_shape(input_shape, "AdaptiveAvgPool2d")
        sizes, strides = [], []
        for axis, (length, out) in enumerate(zip(shape[-2:], self._out_size(*shape[-2:]))):
            bins = adaptive_bins(length, out)
            widths = {hi - lo for lo, hi in bins}
            steps = {bins[k + 1][0] - bins[k][0] for k in range(out - 1)}
            if out == 1:
                sizes.append(length), strides.append(length)
            elif len(widths) == 1 and len(steps) == 1 and min(steps) > 0:
                sizes.append(widths.pop()), strides.append(steps.pop())
            else:
                raise NoSingleFieldError(
                    f"AdaptiveAvgPool2d({self.output_size}) on input_shape {shape}: torch's bins along "
                    f"{'rows' if axis == 0 else 'columns'} are {bins}, not one sliding window, so no single "
                    "receptive field describes every output (an input size divisible by the output size gives one)"
                )
        return window_receptive_field(tuple(sizes), tuple(strides), (1, 1), (0, 0))

    def __call__(self, x) -> np.ndarray:
        array = _params.float_array(x, "x")
        if array.ndim not in (3, 4):
            raise ValueError(f"x must be (N, C, H, W) or (C, H, W), got shape {array.shape}")
        height, width = array.shape[-2:]
        if height == 0 or width == 0:
            raise ValueError(f"x must not be empty along H and W, got shape {array.shape}")
        out_h, out_w = self._out_size(height, width)
        y = np.empty(array.shape[:-2] + (out_h, out_w), dtype=array.dtype)
        for i, (y0, y1) in enumerate(adaptive_bins(height, out_h)):
            for j, (x0, x1) in enumerate(adaptive_bins(width, out_w)):
                y[..., i, j] = array[..., y0:y1, x0:x1].mean(axis=(-2, -1), dtype=array.dtype)
        return y

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        shape = _spatial_input_shape(input_shape, "AdaptiveAvgPool2d")
        if min(shape[-2:]) <= 0:
            raise ValueError(f"AdaptiveAvgPool2d: input_shape {shape} is empty along H or W")
        return shape[:-2] + self._out_size(*shape[-2:])

    def __repr__(self):
        return f"AdaptiveAvgPool2d(output_size={self.output_size})"


class Flatten:
    """Flattens axes start_dim..end_dim into one, as ``torch.nn.Flatten`` (default start_dim=1:
    (N, C, H, W) -> (N, C*H*W)). Its field: each output sees the whole spatial input, reported
    for a given input shape by ``receptive_field_for``."""

    field_depends_on_input_size = True

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim = _params.as_int(start_dim, "start_dim", minimum=-64, maximum=64)
        self.end_dim = _params.as_int(end_dim, "end_dim", minimum=-64, maximum=64)

    def _axes(self, ndim: int) -> Tuple[int, int]:
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not (0 <= start < max(ndim, 1) and 0 <= end < max(ndim, 1)) or start > end:
            raise ValueError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) does not fit an input of "
                f"{ndim} dimensions (start_dim <= end_dim, both within the dimensions)"
            )
        return start, end

    @property
    def receptive_field(self) -> ReceptiveField:
        raise ValueError("Flatten's receptive field depends on the input size; use receptive_field_for(input_shape)")

    def receptive_field_for(self, input_shape: Sequence[int]) -> ReceptiveField:
        shape = _params.shape_tuple(input_shape)
        if len(shape) <= 2:  # (N, F) or (F,): no spatial axes, one "pixel"
            return ReceptiveField.identity()
        start, end = self._axes(len(shape))
        if end < len(shape) - 1 and len(shape) >= 3:
            raise NoSingleFieldError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) on {shape} keeps "
                "the last axis: fields are defined only when the spatial axes are flattened"
            )
        return _whole_input_field(*(shape[-2:] if len(shape) >= 3 else (1, shape[-1])))

    def __call__(self, x) -> np.ndarray:
        array = _params.float_array(x, "x")
        return array.reshape(self.output_shape(array.shape))

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        shape = _params.shape_tuple(input_shape)
        if not shape:
            return (1,)
        start, end = self._axes(len(shape))
        merged = 1
        for v in shape[start : end + 1]:
            merged *= v
        return shape[:start] + (merged,) + shape[end + 1 :]

    def __repr__(self):
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"


# Rows up to which Linear multiplies with the conv kernels rather than BLAS (1280 -> 1000,
# measured: about even with OpenBLAS up to 64 rows, half its speed from 128), for weights up to
# _LINEAR_CONV_WEIGHT_BYTES (the conv kernels keep a packed copy of them: a classifier's 5-8 MB,
# not VGG's 400 MB).
_LINEAR_CONV_ROWS = 64
_LINEAR_CONV_WEIGHT_BYTES = 32 << 20


class Linear:
    """Fully connected layer, as ``torch.nn.Linear``: y = x @ weight.T + bias over the last axis.

    weight: (out_features, in_features); bias: (out_features,) or None; copied at construction.
    Result dtype numpy.result_type(x, weight). Its field is defined for (N, in_features) inputs
    (one "pixel" with no spatial extent: the field of the flattened map before it carries over).
    """

    field_depends_on_input_size = True

    def __init__(self, weight: ArrayLike, bias: Optional[ArrayLike] = None):
        array = _params.float_array(weight, "weight")
        if array.ndim != 2:
            raise ValueError(f"weight must be (out_features, in_features), got shape {array.shape}")
        self.weight = np.array(array, order="C", copy=True)
        self.weight.flags.writeable = False
        self.out_features, self.in_features = (int(v) for v in self.weight.shape)
        self.bias = None if bias is None else _vector(bias, "bias", self.out_features)
        # Up to _LINEAR_CONV_ROWS rows (a classifier's batch), the product runs as a 1x1
        # convolution on fieldconv's threads: a BLAS matmul would wake the BLAS library's own
        # threads, which keep spinning for a while after the call and take a core from the
        # convolutions that follow (a MobileNet v2 forward pass ran up to 20 % slower after its
        # classifier's matmul). Longer products go to BLAS, twice as fast there. The Conv2d (and
        # its packed weights) is made at the first such call.
        self._conv = None
        self._conv_applies = 0 < self.weight.size and self.weight.nbytes <= _LINEAR_CONV_WEIGHT_BYTES

    @property
    def parameter_count(self) -> int:
        return int(self.weight.size + (0 if self.bias is None else self.bias.size))

    def macs(self, input_shape: Sequence[int]) -> int:
        """Multiply-adds of one call: in_features * out_features per row of the input."""
        rows = 1
        for v in _params.shape_tuple(input_shape)[:-1]:
            rows *= v
        return rows * self.in_features * self.out_features

    @property
    def receptive_field(self) -> ReceptiveField:
        raise ValueError("Linear's receptive field depends on the input shape; use receptive_field_for(input_shape)")

    def receptive_field_for(self, input_shape: Sequence[int]) -> ReceptiveField:
        shape = self.output_shape(input_shape)
        if len(shape) > 2:
            raise NoSingleFieldError(
                f"Linear on input_shape {tuple(input_shape)} mixes the last spatial axis: fields "
                "are defined for (N, in_features) inputs (put a Flatten before it)"
            )
        return ReceptiveField.identity()

    def __call__(self, x) -> np.ndarray:
        array = _params.float_array(x, "x")
        self.output_shape(array.shape)
        dtype = np.result_type(array, self.weight)
        rows = array.reshape(-1, self.in_features).astype(dtype, copy=False)
        if not (self._conv_applies and 0 < rows.shape[0] <= _LINEAR_CONV_ROWS):
            y = np.matmul(rows, self.weight.T.astype(dtype, copy=False))
            if self.bias is not None:
                y += self.bias.astype(dtype, copy=False)
        else:
            if self._conv is None:  # (two threads may both make one: either serves)
                self._conv = Conv2d(self.weight[:, :, np.newaxis, np.newaxis], self.bias, algorithm="direct")
            # the rows as the pixels of one image: (1, in_features, rows, 1) -> (1, out_features, rows, 1)
            pixels = np.ascontiguousarray(rows.T)[np.newaxis, :, :, np.newaxis]
            y = np.ascontiguousarray(self._conv(pixels)[0, :, :, 0].T)
        return y.reshape(array.shape[:-1] + (self.out_features,))

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        shape = _params.shape_tuple(input_shape)
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) needs input_shape (..., "
                f"{self.in_features}), got {shape}"
            )
        return shape[:-1] + (self.out_features,)

    def __repr__(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None})"


# --------------------------------------------------------------------------------------------
# Activations of MobileNet v3 / EfficientNet, and upsampling


class _Pointwise:
    """An elementwise function as a layer: any shape, output shape = input shape, field one pixel."""

    field_depends_on_input_size = False

    @property
    def receptive_field(self) -> ReceptiveField:
        return ReceptiveField.identity()

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        return _params.shape_tuple(input_shape)

    def __call__(self, x) -> np.ndarray:
        array = _params.float_array(x, "x")
        with np.errstate(over="ignore"):  # exp overflows to inf for large |x|, which the formulas absorb
            return self._apply(array)

    def __repr__(self):
        return f"{type(self).__name__}()"


def _sigmoid(array: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-x)) for x >= 0 and exp(x) / (1 + exp(x)) below, so exp never overflows where
    # the result is not 0 or 1 anyway and no precision is lost to 1 + tiny.
    negative_part = np.exp(-np.abs(array))
    return np.where(array >= 0, 1 / (1 + negative_part), negative_part / (1 + negative_part)).astype(array.dtype)


class Sigmoid(_Pointwise):
    """1 / (1 + exp(-x)) elementwise, as ``torch.sigmoid``."""

    def _apply(self, array):
        return _sigmoid(array)


class SiLU(_Pointwise):
    """x * sigmoid(x) elementwise (swish), as ``torch.nn.SiLU``."""

    def _apply(self, array):
        return array * _sigmoid(array)


class Hardsigmoid(_Pointwise):
    """relu6(x + 3) / 6 elementwise, as ``torch.nn.Hardsigmoid``."""

    def _apply(self, array):
        return np.clip(array + array.dtype.type(3), 0, 6) / array.dtype.type(6)


class Hardswish(_Pointwise):
    """x * relu6(x + 3) / 6 elementwise, as ``torch.nn.Hardswish``."""

    def _apply(self, array):
        return array * np.clip(array + array.dtype.type(3), 0, 6) / array.dtype.type(6)


class Upsample:
    """Upsampling of H and W as ``torch.nn.Upsample`` / ``F.interpolate`` with ``mode`` "nearest"
    or "bilinear" (align_corners False or True), by an integer ``scale_factor`` (int or pair) or
    to a ``size``. Source coordinates as torch computes them: with a scale factor, the scale is
    1 / scale_factor; with a size, input / output.

    Its field has a jump below one input pixel, which a ReceptiveField (integer jumps) cannot
    state: ``receptive_field_for`` raises NoSingleFieldError (summaries show '-').
    """

    field_depends_on_input_size = True

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: Optional[bool] = None):
        if (size is None) == (scale_factor is None):
            raise ValueError(
                f"Upsample needs exactly one of size and scale_factor, got size={size!r}, scale_factor={scale_factor!r}"
            )
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"mode must be 'nearest' or 'bilinear', got {mode!r}")
        if align_corners and mode == "nearest":
            raise ValueError("align_corners applies to mode='bilinear' only, as in torch")
        pair = lambda v, name: tuple(
            _params.as_int(item, name, minimum=1, maximum=2**31 - 1)  # noqa: E731
            for item in (v if isinstance(v, (tuple, list)) else (v, v))
        )
        self.size = None if size is None else pair(size, "size")
        if scale_factor is not None:
            items = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
            if any(float(v) != int(float(v)) or float(v) < 1 for v in items):
                raise ValueError(f"scale_factor must be a whole number >= 1 (or a pair of them), got {scale_factor!r}")
            scale_factor = tuple(int(float(v)) for v in items)
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = bool(align_corners)

    @property
    def receptive_field(self) -> ReceptiveField:
        raise ValueError("Upsample has no receptive field with whole-pixel jumps; use receptive_field_for(input_shape)")

    def receptive_field_for(self, input_shape: Sequence[int]) -> ReceptiveField:
        out = self.output_shape(input_shape)
        if tuple(out[-2:]) == tuple(_params.shape_tuple(input_shape)[-2:]):
            return ReceptiveField.identity()
        raise NoSingleFieldError(
            f"{self!r} makes more outputs than inputs: neighbouring outputs are less than one "
            "input pixel apart, a jump a ReceptiveField (whole-pixel jumps) cannot state"
        )

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        shape = _spatial_input_shape(input_shape, "Upsample")
        if self.size is not None:
            return shape[:-2] + self.size
        return shape[:-2] + tuple(s * f for s, f in zip(shape[-2:], self.scale_factor))

    def _sources(self, length: int, out_length: int, factor: Optional[int]):
        """Per output index: (low source, high source, weight of high), as torch's kernels."""
        index = np.arange(out_length, dtype=np.float64)
        if self.mode == "nearest":
            scale = 1.0 / factor if factor else length / out_length
            low = np.minimum(np.floor(index * scale).astype(np.int64), length - 1)
            return low, low, np.zeros(out_length)
        if self.align_corners:
            scale = (length - 1) / (out_length - 1) if out_length > 1 else 0.0
            source = index * scale
        else:
            scale = 1.0 / factor if factor else length / out_length
            source = np.maximum((index + 0.5) * scale - 0.5, 0.0)
        low = np.minimum(np.floor(source).astype(np.int64), length - 1)
        high = np.minimum(low + 1, length - 1)
        return low, high, source - low

    def __call__(self, x) -> np.ndarray:
        array = _params.float_array(x, "x")
        out_shape = self.output_shape(array.shape)
        factors = self.scale_factor or (None, None)
        rows = self._sources(array.shape[-2], out_shape[-2], factors[0])
        cols = self._sources(array.shape[-1], out_shape[-1], factors[1])
        if self.mode == "nearest":
            return np.ascontiguousarray(array[..., rows[0][:, None], cols[0][None, :]])
        dtype = array.dtype
        row_weight = rows[2].astype(dtype)[:, None]
        col_weight = cols[2].astype(dtype)
        top = array[..., rows[0], :] * (1 - row_weight) + array[..., rows[1], :] * row_weight
        return np.ascontiguousarray(top[..., cols[0]] * (1 - col_weight) + top[..., cols[1]] * col_weight)

    def __repr__(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        corners = f", align_corners={self.align_corners}" if self.mode == "bilinear" else ""
        return f"Upsample({what}, mode={self.mode!r}{corners})"


# ---- in-place activations (Sequential and Graph) ----------------------------------------------

# Activation layers and their fieldconv/epilogue.hpp codes.
ACTIVATION_CODES = {ReLU: 1, ReLU6: 2}
# Layers whose outputs are always new arrays of their own (for a batched input), which the
# layer after them may therefore overwrite.
FRESH_OUTPUT_LAYERS = (Conv2d, BatchNorm2d, ReLU, ReLU6)


def owned_float_array(array) -> bool:
    """A writeable C-contiguous float32/float64 array that owns its memory (not a view)."""
    return (
        isinstance(array, np.ndarray)
        and array.base is None
        and array.flags.c_contiguous
        and array.flags.writeable
        and array.dtype in (np.float32, np.float64)
    )


def fused_activation_code(layer, following) -> int:
    """The activation code (1 relu, 2 relu6) when `following` is an activation a Conv2d `layer`
    can apply in its epilogue, else 0."""
    if type(layer) is not Conv2d:
        return 0
    return ACTIVATION_CODES.get(type(following), 0)


def activation_in_place(layer, previous, x) -> bool:
    """Applies `layer` to x in place when it is an activation and x is the fresh output of
    `previous`, which nothing else holds; returns whether it did."""
    code = ACTIVATION_CODES.get(type(layer))
    if code is None or type(previous) not in FRESH_OUTPUT_LAYERS or not owned_float_array(x):
        return False
    _core.add_activation(x, None, code)
    return True
