"""Networks that branch and join: Graph (any directed acyclic graph of layers, what from_torch
builds), Residual and Concat (the two joins as nested layers), and the join layers Add and Cat.

A join is a layer like any other (call, output_shape, receptive_field via the graph, parameter
count). Fields compose in receptive_field.py: along a path with ``ReceptiveField.then``, at a
join with ``join_receptive_fields`` (union of the branches' regions, equal jumps required,
misalignment reported).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from . import _core, _params
from .layers import (
    ACTIVATION_CODES,
    FRESH_OUTPUT_LAYERS,
    BatchNorm2d,
    Conv2d,
    SummaryRow,
    _check_layer,
    _layer_params,
    format_summary,
    layer_summary_rows,
    owned_float_array,
)
from ._receptive_field import (
    NoSingleFieldError,
    ReceptiveField,
    _field_of,
    depends_on_input_size,
    field_for_shape,
    join_receptive_fields,
)

__all__ = ["Add", "Cat", "Concat", "Graph", "GraphNode", "Mul", "Residual"]

INPUT = "input"

# Set while fieldconv.dask runs a graph on one tile: joins then crop their branches to the
# outputs they share. Tiles start at multiples of every jump, so output t of each branch is the
# same global output and the extra outputs one branch has at a tile's inner edge are the ones
# the tile throws away anyway.
_crop_joins = contextvars.ContextVar("fieldconv_crop_joins", default=False)


@contextlib.contextmanager
def cropping_joins():
    token = _crop_joins.set(True)
    try:
        yield
    finally:
        _crop_joins.reset(token)


def _join_inputs(inputs):
    """A join's inputs as float arrays, cropped to the outputs they share inside a dask tile."""
    arrays = [_params.float_array(x, f"input {k}") for k, x in enumerate(inputs)]
    return _crop_to_common(arrays) if _crop_joins.get() else arrays


def _crop_to_common(arrays):
    rows = min(a.shape[-2] for a in arrays)
    cols = min(a.shape[-1] for a in arrays)
    return [a[..., :rows, :cols] for a in arrays]


# --------------------------------------------------------------------------------------------
# Join layers: several inputs, one output


class Add:
    """Elementwise sum of its inputs (torch's ``a + b`` and ``+=`` on equal shapes); a join."""

    is_join = True
    parameter_count = 0

    def __call__(self, *inputs) -> np.ndarray:
        arrays = _join_inputs(inputs)
        self.output_shape(*(a.shape for a in arrays))
        total = arrays[0] + arrays[1] if len(arrays) > 1 else arrays[0].copy()
        for array in arrays[2:]:
            total += array
        return total

    def output_shape(
        self, *input_shapes: Sequence[int], names: Optional[Sequence[str]] = None, join: str = "Add"
    ) -> Tuple[int, ...]:
        shapes = [_params.shape_tuple(s) for s in input_shapes]
        names = list(names) if names is not None else [f"input {k}" for k in range(len(shapes))]
        for name, shape in zip(names[1:], shapes[1:]):
            if shape != shapes[0]:
                raise ValueError(
                    f"join {join!r} adds branches of different shapes: {names[0]!r} gives {shapes[0]} and {name!r} "
                    f"gives {shape}; an add needs equal shapes"
                )
        return shapes[0]

    def __repr__(self):
        return "Add()"


class Cat:
    """Concatenation of its inputs along the channel axis (torch.cat(..., dim=1)); a join."""

    is_join = True
    parameter_count = 0

    def __call__(self, *inputs) -> np.ndarray:
        arrays = _join_inputs(inputs)
        self.output_shape(*(a.shape for a in arrays))
        dtype = np.result_type(*arrays)
        return np.concatenate([a.astype(dtype, copy=False) for a in arrays], axis=-3)

    def output_shape(
        self, *input_shapes: Sequence[int], names: Optional[Sequence[str]] = None, join: str = "Cat"
    ) -> Tuple[int, ...]:
        shapes = [_params.shape_tuple(s) for s in input_shapes]
        names = list(names) if names is not None else [f"input {k}" for k in range(len(shapes))]
        for name, shape in zip(names, shapes):
            if len(shape) not in (3, 4):
                raise ValueError(
                    f"join {join!r} concatenates channels of (N, C, H, W) or (C, H, W) arrays; {name!r} gives {shape}"
                )
        for name, shape in zip(names[1:], shapes[1:]):
            if len(shape) != len(shapes[0]) or shape[:-3] != shapes[0][:-3] or shape[-2:] != shapes[0][-2:]:
                raise ValueError(
                    f"join {join!r} concatenates branches whose shapes differ outside the channel axis: "
                    f"{names[0]!r} gives {shapes[0]} and {name!r} gives {shape}"
                )
        return shapes[0][:-3] + (sum(s[-3] for s in shapes),) + shapes[0][-2:]

    def __repr__(self):
        return "Cat(dim=1)"


class Mul:
    """Elementwise product of its inputs with torch's broadcasting (squeeze-excitation gates: an
    (N, C, 1, 1) gate times an (N, C, H, W) map); a join.

    A gate broadcast over H and W gives every output the gate's whole field, which no single
    (size, jump, start) states for all outputs: the join's field is then unknown (summaries
    show '-'); shapes alike give the union of the branches' fields, as Add.
    """

    is_join = True
    parameter_count = 0
    field_depends_on_input_size = True  # whether it broadcasts depends on the shapes

    def __call__(self, *inputs) -> np.ndarray:
        arrays = [_params.float_array(x, f"input {k}") for k, x in enumerate(inputs)]
        if _crop_joins.get():  # pragma: no cover - dask refuses graphs with Mul (input-size dependent)
            arrays = _crop_to_common(arrays)
        self.output_shape(*(a.shape for a in arrays))
        total = arrays[0]
        for array in arrays[1:]:
            total = total * array
        return total if len(arrays) > 1 else total.copy()

    def output_shape(
        self, *input_shapes: Sequence[int], names: Optional[Sequence[str]] = None, join: str = "Mul"
    ) -> Tuple[int, ...]:
        shapes = [_params.shape_tuple(s) for s in input_shapes]
        names = list(names) if names is not None else [f"input {k}" for k in range(len(shapes))]
        try:
            return tuple(int(v) for v in np.broadcast_shapes(*shapes))
        except ValueError:
            raise ValueError(
                f"join {join!r} multiplies branches whose shapes do not broadcast: "
                + ", ".join(f"{n!r} gives {s}" for n, s in zip(names, shapes))
                + " (torch's broadcasting: equal sizes or 1 per axis)"
            ) from None

    def __repr__(self):
        return "Mul()"


def _join_field(node, branch_fields, branch_shapes, output_shape):
    """The field of a join node: the union of its branches' (join_receptive_fields), or no single
    field when a branch is broadcast over H and W (a squeeze-excitation gate)."""
    if branch_shapes is not None and output_shape is not None and len(output_shape) >= 3:
        for name, shape in zip(node.inputs, branch_shapes):
            if tuple(shape[-2:]) != tuple(output_shape[-2:]):
                raise NoSingleFieldError(
                    f"join {node.name!r}: branch {name!r} of shape {tuple(shape)} is broadcast over H and W to "
                    f"{tuple(output_shape)}; every output then sees that branch's whole field, which no single "
                    "(size, jump, start) states"
                )
    return join_receptive_fields(branch_fields, node.inputs, node.name)


# Layers whose outputs a later node may overwrite: those of layers.FRESH_OUTPUT_LAYERS, and Add.
_FRESH_OUTPUT_LAYERS = FRESH_OUTPUT_LAYERS + (Add,)


def _is_join(layer) -> bool:
    return bool(getattr(layer, "is_join", False))


# --------------------------------------------------------------------------------------------
# Graph


class _OutputBuffers:
    """Convolution outputs of earlier calls, kept for the next ones: a new large array's pages
    are zeroed by the kernel on first touch, which on these virtual machines cost 5-25 ms per
    38.5 MB (MobileNet v2's widest tensor at N=8) against 1.2 ms to overwrite a kept one. A buffer
    comes back when its last reader has run and nothing else refers to it (reference counts:
    never an array a caller can still see, such as the output or a view of a buffer). Concurrent
    calls never share one (a lock around the free lists). Bounded: at most max_bytes kept."""

    max_bytes = 1 << 30

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: Dict[Tuple[Tuple[int, ...], str], List[np.ndarray]] = {}
        self._bytes = 0

    def take(self, shape, dtype, owned: Dict[int, np.ndarray]) -> np.ndarray:
        key = (tuple(shape), np.dtype(dtype).str)
        with self._lock:
            kept = self._free.get(key)
            buffer = kept.pop() if kept else None
            if buffer is not None:
                self._bytes -= buffer.nbytes
        if buffer is None:
            buffer = np.empty(shape, dtype=dtype)
        owned[id(buffer)] = buffer
        return buffer

    def give_back(self, buffer: np.ndarray) -> None:
        with self._lock:
            if self._bytes + buffer.nbytes <= self.max_bytes:
                self._free.setdefault((buffer.shape, buffer.dtype.str), []).append(buffer)
                self._bytes += buffer.nbytes

    def clear(self) -> None:
        with self._lock:
            self._free.clear()
            self._bytes = 0

    # A pickled or copied graph (dask sends graphs to its workers) starts with no buffers.
    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    @property
    def kept_bytes(self) -> int:
        return self._bytes


def _owned_references(owned: Dict[int, np.ndarray], value) -> Tuple[int, int]:
    """(id(value), the reference count of value if it is one of this call's buffers, else -1),
    counted after the caller's own reference (an argument: `value` popped from the values)."""
    key = id(value)
    buffer = owned.get(key)
    del value
    return key, (-1 if buffer is None else sys.getrefcount(buffer))


def _unreferenced_count() -> int:
    """What _owned_references counts for a buffer nothing else refers to (`owned`, its local
    and getrefcount's argument, and whatever this Python version holds for a call), measured
    the way __call__ asks rather than assumed."""
    probe = np.empty(1)
    owned = {id(probe): probe}
    holder = {"value": probe}
    del probe
    return _owned_references(owned, holder.pop("value"))[1]


_UNREFERENCED = _unreferenced_count()


def _recycle(buffers: _OutputBuffers, owned: Dict[int, np.ndarray], key: int, references: int) -> None:
    if references == _UNREFERENCED:
        buffers.give_back(owned.pop(key))


@dataclass(frozen=True)
class GraphNode:
    """One node of a Graph: the layer, the names of the nodes feeding it (``"input"`` for the
    network's input) and the parameters it adds to the network's total (a layer used by several
    nodes counts once; a batch norm folded into a convolution keeps its count)."""

    name: str
    layer: object
    inputs: Tuple[str, ...]
    parameter_count: int


class Graph:
    """A network whose layers form a directed acyclic graph with one input and one output.

    ``Graph(nodes, output=None, *, input_shape=None)``: nodes in an order where every node comes
    after the nodes feeding it, each ``(name, layer, inputs)`` (optionally with a fourth item, the
    node's parameter count), inputs naming earlier nodes or ``"input"``. Single-input layers take
    one input; joins (Add, Cat) take several. output names the result node (default: the last).
    input_shape, when given, is the shape ``summary()`` and ``fields()`` use by default.

    A Graph is itself a layer (callable, ``output_shape``, ``receptive_field`` /
    ``receptive_field_for``, ``parameter_count``), so it nests in a Sequential or another Graph.
    """

    def __init__(
        self, nodes: Sequence[tuple], output: Optional[str] = None, *, input_shape: Optional[Sequence[int]] = None
    ):
        built: List[GraphNode] = []
        known = {INPUT}
        counted = set()
        for position, item in enumerate(nodes):
            if not isinstance(item, (tuple, list)) or len(item) not in (3, 4):
                raise TypeError(
                    f"nodes[{position}] must be (name, layer, inputs) or (name, layer, inputs, "
                    f"parameter_count), got {item!r}"
                )
            name, layer, inputs = item[:3]
            if not isinstance(name, str) or not name:
                raise TypeError(f"nodes[{position}]: the name must be a non-empty str, got {name!r}")
            if name in known:
                raise ValueError(
                    f"nodes[{position}]: the name {name!r} is already used (names are unique, "
                    f"and {INPUT!r} is the network's input)"
                )
            inputs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
            for source in inputs:
                if source not in known:
                    raise ValueError(
                        f"node {name!r} reads {source!r}, which is not {INPUT!r} nor an earlier node; "
                        "list nodes after the nodes feeding them"
                    )
            if _is_join(layer):
                if not inputs:
                    raise ValueError(f"join node {name!r} needs at least one input")
            else:
                if len(inputs) != 1:
                    raise ValueError(
                        f"node {name!r} ({type(layer).__name__}) takes one input, got {len(inputs)}: {inputs}"
                    )
                _check_layer(layer, f"node {name!r}")
            if len(item) == 4:
                count = _params.as_int(item[3], f"parameter_count of node {name!r}", minimum=0, maximum=2**62)
            else:
                count = 0 if id(layer) in counted else _layer_params(layer)
            counted.add(id(layer))
            built.append(GraphNode(name, layer, inputs, count))
            known.add(name)
        if not built:
            raise ValueError("a Graph needs at least one node")
        output = built[-1].name if output is None else output
        if output not in known or output == INPUT:
            raise ValueError(f"output must name a node, got {output!r}")
        self._nodes = tuple(built)
        self._by_name = {node.name: node for node in built}
        self.output = output
        self.input_shape = None if input_shape is None else _params.shape_tuple(input_shape)
        # Free each activation after its last reader.
        self._last_use: Dict[str, int] = {}
        readers: Dict[str, int] = {}
        for index, node in enumerate(built):
            for source in node.inputs:
                self._last_use[source] = index
                readers[source] = readers.get(source, 0) + 1
        # An Add read only by the ReLU/ReLU6 node after it: both run as one pass (see __call__).
        self._fused_activation: Dict[str, int] = {}
        for index, node in enumerate(built[:-1]):
            after = built[index + 1]
            code = ACTIVATION_CODES.get(type(after.layer))
            if (
                type(node.layer) is Add
                and code is not None
                and after.inputs == (node.name,)
                and readers.get(node.name) == 1
                and node.name != output
            ):
                self._fused_activation[node.name] = code
        self._plan_conv_epilogues(readers)
        self._buffers = _OutputBuffers()

    def release_buffers(self) -> None:
        """Frees the convolution outputs kept for the next calls (see __call__)."""
        self._buffers.clear()

    def _plan_conv_epilogues(self, readers: Dict[str, int]) -> None:
        """Which joins and activations run in a convolution's epilogue (Conv2d._forward), as each
        value is stored, instead of as passes over memory:
        - a residual Add of two values whose later one is a Conv2d node read by nothing else: that
          convolution adds the other value (and applies the ReLU/ReLU6 fused with the Add);
        - an activation whose input is a Conv2d node read by nothing else.
        _conv_epilogue: conv node -> (residual node or None, activation code, absorbed nodes);
        _absorbed: absorbed node -> the node whose value it takes (when the fusion ran)."""
        self._conv_epilogue: Dict[str, Tuple[Optional[str], int, Tuple[str, ...]]] = {}
        self._absorbed: Dict[str, str] = {}
        position = {node.name: index for index, node in enumerate(self._nodes)}
        position[INPUT] = -1

        def fusable_conv(name: str) -> bool:
            return (
                name != INPUT
                and type(self._by_name[name].layer) is Conv2d
                and readers.get(name) == 1
                and name != self.output
                and name not in self._conv_epilogue
            )

        for index, node in enumerate(self._nodes):
            if type(node.layer) is Add and len(node.inputs) == 2 and node.inputs[0] != node.inputs[1]:
                later, earlier = sorted(node.inputs, key=position.__getitem__, reverse=True)
                if not fusable_conv(later):
                    continue
                absorbed = (node.name,)
                code = self._fused_activation.get(node.name, 0)
                if code:
                    absorbed += (self._nodes[index + 1].name,)
                    self._absorbed[self._nodes[index + 1].name] = node.name
                self._conv_epilogue[later] = (earlier, code, absorbed)
                self._absorbed[node.name] = later
            elif type(node.layer) in ACTIVATION_CODES and fusable_conv(node.inputs[0]):
                self._conv_epilogue[node.inputs[0]] = (None, ACTIVATION_CODES[type(node.layer)], (node.name,))
                self._absorbed[node.name] = node.inputs[0]

    # ---- structure
    @property
    def nodes(self) -> Tuple[GraphNode, ...]:
        return self._nodes

    def __len__(self):
        return len(self._nodes)

    def __iter__(self) -> Iterator[GraphNode]:
        return iter(self._nodes)

    def __getitem__(self, name: str) -> GraphNode:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no node named {name!r}; nodes: {', '.join(self._by_name)}") from None

    @property
    def in_channels(self) -> Optional[int]:
        if self.input_shape is not None and len(self.input_shape) >= 3:
            return self.input_shape[-3]
        for node in self._nodes:
            if INPUT in node.inputs and isinstance(node.layer, Conv2d):
                return node.layer.in_channels
        return None

    def upto(self, name: str) -> "Graph":
        """The sub-network computing node name (its ancestors only), e.g. to draw its field."""
        wanted = {self[name].name}
        for node in reversed(self._nodes):
            if node.name in wanted:
                wanted.update(node.inputs)
        kept = [(n.name, n.layer, n.inputs, n.parameter_count) for n in self._nodes if n.name in wanted]
        return Graph(kept, output=name, input_shape=self.input_shape)

    # ---- the layer protocol
    @property
    def parameter_count(self) -> int:
        return sum(node.parameter_count for node in self._nodes)

    @property
    def field_depends_on_input_size(self) -> bool:
        return any(depends_on_input_size(node.layer) for node in self._nodes)

    def _shapes(self, input_shape) -> Dict[str, Tuple[int, ...]]:
        """Every node's output shape; a join of disagreeing shapes raises ValueError naming it."""
        shapes = {INPUT: _params.shape_tuple(input_shape)}
        for node in self._nodes:
            sources = [shapes[s] for s in node.inputs]
            try:
                if _is_join(node.layer):
                    shape = node.layer.output_shape(*sources, names=node.inputs, join=node.name)
                else:
                    shape = node.layer.output_shape(sources[0])
            except (ValueError, TypeError) as error:
                if _is_join(node.layer):
                    raise
                raise type(error)(f"node {node.name!r} ({node.layer!r}) fed {sources[0]}: {error}") from error
            shape = tuple(int(v) for v in shape)
            if len(shape) >= 3 and min(shape[-2:]) <= 0:
                raise ValueError(
                    f"input_shape {shapes[INPUT]} is too small: node {node.name!r} ({node.layer!r}) "
                    f"maps {sources[0]} to {shape}, an empty output"
                )
            shapes[node.name] = shape
        return shapes

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        """Shape of self(x) for x of shape input_shape; ValueError naming the node (or join and both
        branch shapes) that refuses it."""
        return self._shapes(input_shape)[self.output]

    def __call__(self, x) -> np.ndarray:
        cropping = _crop_joins.get()
        if not cropping:
            self.output_shape(np.shape(x))  # shapes disagreeing at a join: raise before computing
        values = {INPUT: x}
        activated = set()  # Add nodes whose following activation already ran with them
        fused = set()  # nodes an epilogue computed: their value is that of _absorbed[node]
        # Convolution outputs go into buffers kept from earlier calls (_OutputBuffers), and each
        # goes back once its last reader has run, for the nodes after it and the next call.
        owned: Dict[int, np.ndarray] = {}
        buffers = self._buffers
        allocate = None if cropping else (lambda shape, dtype: buffers.take(shape, dtype, owned))
        for index, node in enumerate(self._nodes):
            sources = [values[s] for s in node.inputs]
            try:
                if node.name in fused:
                    values[node.name] = values[self._absorbed[node.name]]
                elif not cropping and node.name in self._conv_epilogue:
                    residual_name, code, absorbed = self._conv_epilogue[node.name]
                    residual = None if residual_name is None else values[residual_name]
                    values[node.name], done = node.layer._forward(sources[0], residual, code, allocate)
                    residual = None
                    if done:
                        fused.update(absorbed)
                elif allocate is not None and type(node.layer) is Conv2d:  # (a subclass may change __call__)
                    values[node.name] = node.layer._forward(sources[0], None, 0, allocate)[0]
                else:
                    result = None if cropping else self._in_place(index, node, sources, values, activated)
                    values[node.name] = node.layer(*sources) if result is None else result
                    result = None
            except (ValueError, TypeError) as error:
                raise type(error)(f"node {node.name!r} ({node.layer!r}): {error}") from error
            sources = None
            for source in node.inputs:
                if self._last_use.get(source) == index and source != self.output:
                    _recycle(buffers, owned, *_owned_references(owned, values.pop(source, None)))
        output = values[self.output]
        for name in list(values):
            if name != self.output:
                _recycle(buffers, owned, *_owned_references(owned, values.pop(name)))
        return output

    def _in_place(self, index, node, sources, values, activated) -> Optional[np.ndarray]:
        """The node's output computed in the memory of an input that nothing reads afterwards
        (a ReLU after a convolution, a residual Add, an Add and the ReLU after it in one pass:
        one threaded pass over memory, no new array), or None where that does not apply. Results
        are those of the layers themselves: the same additions and comparisons."""
        layer_type = type(node.layer)
        if layer_type in ACTIVATION_CODES and len(sources) == 1:
            if node.inputs[0] in activated:  # applied with the Add before it
                return sources[0]
            if self._exclusive(node.inputs[0], index, values):
                _core.add_activation(sources[0], None, ACTIVATION_CODES[layer_type])
                return sources[0]
            return None
        if layer_type is not Add or len(sources) != 2:
            return None
        a, b = sources
        if not (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and a.dtype in (np.float32, np.float64)
            and a.flags.c_contiguous
            and b.flags.c_contiguous
            and not np.may_share_memory(a, b)
        ):
            return None
        for target, other, name in ((a, b, node.inputs[0]), (b, a, node.inputs[1])):
            if self._exclusive(name, index, values):
                code = self._fused_activation.get(node.name, 0)
                _core.add_activation(target, other, code)
                if code:
                    activated.add(node.name)
                return target
        return None

    def _exclusive(self, name, index, values) -> bool:
        """True when the value of node `name` is a float array of its own that no node reads
        after `index` and no other live value shares (not the network's input, not a view)."""
        array = values.get(name)
        if (
            name == INPUT
            or type(self._by_name[name].layer) not in _FRESH_OUTPUT_LAYERS
            or name == self.output
            or self._last_use.get(name) != index
            or not owned_float_array(array)
        ):
            return False
        for other_name, other in values.items():
            if other_name != name and isinstance(other, np.ndarray) and (other is array or other.base is array):
                return False
        return True

    def _node_fields(self, input_shape, *, unknown_as_none: bool) -> Dict[str, Optional[ReceptiveField]]:
        """Every node's field relative to the network's input (input_shape None: shape-free fields)."""
        shapes = None if input_shape is None else self._shapes(input_shape)
        fields: Dict[str, Optional[ReceptiveField]] = {INPUT: ReceptiveField.identity()}
        for node in self._nodes:
            sources = [fields[s] for s in node.inputs]
            if any(f is None for f in sources):
                fields[node.name] = None
            elif _is_join(node.layer):
                try:
                    fields[node.name] = _join_field(
                        node,
                        sources,
                        None if shapes is None else [shapes[s] for s in node.inputs],
                        None if shapes is None else shapes[node.name],
                    )
                except NoSingleFieldError:
                    if not unknown_as_none:
                        raise
                    fields[node.name] = None
            else:
                where = f"node {node.name!r}"
                try:
                    own = (
                        _field_of(node.layer, where)
                        if shapes is None
                        else field_for_shape(node.layer, shapes[node.inputs[0]], where)
                    )
                except NoSingleFieldError:
                    if not unknown_as_none:
                        raise
                    own = None
                fields[node.name] = None if own is None else sources[0].then(own)
        return fields

    @property
    def receptive_field(self) -> ReceptiveField:
        if self.field_depends_on_input_size:
            names = [n.name for n in self._nodes if depends_on_input_size(n.layer)]
            raise ValueError(
                f"this graph's field depends on the input size (nodes {', '.join(names)}); use "
                "receptive_field_for(input_shape)"
            )
        return self._node_fields(None, unknown_as_none=False)[self.output]

    def receptive_field_for(self, input_shape: Sequence[int]) -> ReceptiveField:
        return self._node_fields(input_shape, unknown_as_none=False)[self.output]

    def fields(self, input_shape: Optional[Sequence[int]] = None) -> Dict[str, Optional[ReceptiveField]]:
        """The field of every node (by name) relative to the network's input, for input_shape
        (default: the input_shape given at construction). None for a node no single field
        describes (adaptive pooling with uneven bins, and what follows it)."""
        shape = self._default_shape(input_shape)
        fields = self._node_fields(shape, unknown_as_none=True)
        fields.pop(INPUT)
        return fields

    def _default_shape(self, input_shape):
        if input_shape is None:
            if self.input_shape is None:
                raise ValueError("input_shape is needed: this Graph was built without one")
            return self.input_shape
        return _params.shape_tuple(input_shape)

    # ---- summary
    def _summary_rows(self, prefix: str, input_shape, field):
        shapes = {INPUT: _params.shape_tuple(input_shape)}
        fields = {INPUT: field}
        rows: List[SummaryRow] = []
        for node in self._nodes:
            sources = [shapes[s] for s in node.inputs]
            if _is_join(node.layer):
                shape = tuple(int(v) for v in node.layer.output_shape(*sources, names=node.inputs, join=node.name))
                branch_fields = [fields[s] for s in node.inputs]
                try:
                    joined = (
                        None
                        if any(f is None for f in branch_fields)
                        else _join_field(node, branch_fields, sources, shape)
                    )
                except NoSingleFieldError:
                    joined = None
                rows.append(
                    SummaryRow(
                        name=f"{prefix}{node.name} {type(node.layer).__name__}",
                        output_shape=shape,
                        params=node.parameter_count,
                        macs=0,
                        rf_size=None if joined is None else joined.size,
                        rf_jump=None if joined is None else joined.jump,
                        rf_start=None if joined is None else joined.start,
                        aligned=True if joined is None else joined.aligned,
                    )
                )
                shapes[node.name], fields[node.name] = shape, joined
                continue
            own_rows, shape, out_field = layer_summary_rows(
                node.layer,
                f"{prefix}{node.name}",
                sources[0],
                fields[node.inputs[0]],
                params=None if callable(getattr(node.layer, "_summary_rows", None)) else node.parameter_count,
            )
            rows.extend(own_rows)
            shapes[node.name], fields[node.name] = shape, out_field
        return rows, shapes[self.output], fields[self.output]

    def summary(self, input_shape: Optional[Sequence[int]] = None, *, file=None, show: bool = True) -> List[SummaryRow]:
        """One row per node (nested networks expanded): name and layer type, output shape,
        parameters, multiply-adds (convolutions and Linear) and the field of the network up to
        that node, with a marker where a join upstream is misaligned. input_shape defaults to the
        one given at construction. Prints the table and totals unless show=False; returns the rows."""
        shape = self._default_shape(input_shape)
        self.output_shape(shape)
        rows, _, _ = self._summary_rows("", shape, ReceptiveField.identity())
        if show:
            print(format_summary(rows, shape), file=file if file is not None else sys.stdout)
        return rows

    # ---- batch-norm folding
    def fold_batch_norm(self) -> "Graph":
        """A copy where every BatchNorm2d whose only input is a Conv2d node read by nothing else is
        folded into that convolution (BatchNorm2d.fold_into). The folded node keeps both nodes'
        parameter counts, so parameter_count and summary totals are unchanged."""
        readers: Dict[str, int] = {}
        for node in self._nodes:
            for source in node.inputs:
                readers[source] = readers.get(source, 0) + 1
        replaced: Dict[str, str] = {}  # folded batch-norm node -> the conv node now computing it
        kept: Dict[str, list] = {}
        order: List[str] = []
        for node in self._nodes:
            inputs = tuple(replaced.get(s, s) for s in node.inputs)
            source = kept.get(inputs[0]) if len(inputs) == 1 else None
            if (
                isinstance(node.layer, BatchNorm2d)
                and source is not None
                and isinstance(source[1], Conv2d)
                and readers.get(node.inputs[0]) == 1
                and node.inputs[0] != self.output
            ):
                source[1] = node.layer.fold_into(source[1])
                source[3] += node.parameter_count
                replaced[node.name] = inputs[0]
                continue
            layer = node.layer
            fold = getattr(layer, "fold_batch_norm", None)
            if callable(fold):
                layer = fold()
            kept[node.name] = [node.name, layer, inputs, node.parameter_count]
            order.append(node.name)
        return Graph(
            [tuple(kept[name]) for name in order],
            output=replaced.get(self.output, self.output),
            input_shape=self.input_shape,
        )

    def __repr__(self):
        lines = [f"Graph({len(self._nodes)} nodes, output={self.output!r}"]
        for node in self._nodes:
            text = repr(node.layer).replace("\n", "\n    ")
            lines.append(f"  {node.name} <- {', '.join(node.inputs)}: {text}")
        return "\n".join(lines) + "\n)"


# --------------------------------------------------------------------------------------------
# The two joins as nested layers


class Residual(Graph):
    """``body(x) + shortcut(x)``, or ``body(x) + x`` when shortcut is None (ResNet's blocks).

    body and shortcut are layers (a Sequential for several). Their outputs must have equal shapes
    (ValueError naming the join and both shapes at output_shape or call, before computing) and
    their fields equal jumps (ValueError at construction).
    """

    def __init__(self, body: object, shortcut: Optional[object] = None):
        _check_layer(body, "body")
        nodes = [("body", body, (INPUT,))]
        if shortcut is not None:
            _check_layer(shortcut, "shortcut")
            nodes.append(("shortcut", shortcut, (INPUT,)))
        nodes.append(("add", Add(), ("body", "shortcut" if shortcut is not None else INPUT)))
        super().__init__(nodes)
        self.body = body
        self.shortcut = shortcut
        if not self.field_depends_on_input_size:
            self.receptive_field  # unequal jumps at the join: ValueError now, not at first use

    def fold_batch_norm(self) -> "Residual":
        fold = [getattr(layer, "fold_batch_norm", None) for layer in (self.body, self.shortcut)]
        body = fold[0]() if callable(fold[0]) else self.body
        shortcut = fold[1]() if callable(fold[1]) else self.shortcut
        return Residual(body, shortcut)

    def __repr__(self):
        body = repr(self.body).replace("\n", "\n  ")
        shortcut = repr(self.shortcut).replace("\n", "\n  ")
        return f"Residual(\n  body={body},\n  shortcut={shortcut}\n)"


class Concat(Graph):
    """Channel concatenation of the branches' outputs: ``cat([b(x) for b in branches], dim=1)``
    (Inception's blocks). The branches' outputs must agree outside the channel axis (ValueError
    naming the join and both shapes) and their fields have equal jumps (ValueError at
    construction); branches whose field centres differ make a misaligned field (aligned=False).
    """

    def __init__(self, *branches: object):
        if not branches:
            raise ValueError("Concat needs at least one branch")
        for index, branch in enumerate(branches):
            if isinstance(branch, (list, tuple)):
                raise TypeError(
                    f"branch {index} is a {type(branch).__name__}; pass Sequential(*layers) for a branch "
                    "of several layers"
                )
            _check_layer(branch, f"branch {index}")
        names = tuple(str(index) for index in range(len(branches)))
        nodes = [(name, branch, (INPUT,)) for name, branch in zip(names, branches)]
        nodes.append(("cat", Cat(), names))
        super().__init__(nodes)
        self.branches = tuple(branches)
        if not self.field_depends_on_input_size:
            self.receptive_field  # unequal jumps at the join: ValueError now, not at first use

    def fold_batch_norm(self) -> "Concat":
        return Concat(
            *(b.fold_batch_norm() if callable(getattr(b, "fold_batch_norm", None)) else b for b in self.branches)
        )

    def __repr__(self):
        inner = ",\n".join("  " + repr(b).replace("\n", "\n  ") for b in self.branches)
        return f"Concat(\n{inner}\n)"
