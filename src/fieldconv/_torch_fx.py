"""fieldconv.from_torch: a torch.nn.Module traced with torch.fx, translated node by node into a
fieldconv Graph. This module only translates (which layer, which arguments, which name); every
number is computed by the layers themselves. torch is imported inside from_torch only.
"""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING, Dict, List, Sequence, Tuple

if TYPE_CHECKING:  # torch stays optional: imported inside from_torch only
    import torch

from . import _params
from .graph import INPUT, Add, Cat, Graph, Mul
from .layers import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Hardsigmoid,
    Hardswish,
    Identity,
    Linear,
    MaxPool2d,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Upsample,
)

SUPPORTED = (
    "modules Conv2d, BatchNorm2d, ReLU, ReLU6, Hardtanh(0, 6), MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Linear, "
    "Flatten, Dropout, Dropout2d, Identity; functions F.conv2d, F.batch_norm, F.linear, F.relu/torch.relu, "
    "F.relu6, F.hardtanh(x, 0, 6), torch.clamp(x, 0, 6), F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, "
    "torch.flatten, operator.add/torch.add (a + b, +=), torch.cat(..., dim=1), F.dropout (eval); methods "
    "relu, clamp, add, flatten, view/reshape(x.size(0), -1), contiguous, size; and Sigmoid, SiLU, Hardswish, "
    "Hardsigmoid, Upsample/F.interpolate (nearest, bilinear), products (a * b, torch.mul, broadcasting) and "
    "x.mean((2, 3), keepdim=True) as modules, functions or methods"
)


class _Unsupported(TypeError):
    pass


def _unsupported(node, what: str):
    raise _Unsupported(
        f"from_torch: node {node.name!r} (op {node.op}, target {_target_text(node)}) is not supported: {what}. "
        f"Supported: {SUPPORTED}"
    )


def _target_text(node) -> str:
    """The fx target as a user writes it: "layer1.0.conv1", "torch.tanh", "operator.sub"."""
    target = node.target
    if isinstance(target, str):
        return target
    name = getattr(target, "__name__", None) or repr(target)
    qualified = getattr(target, "__qualname__", "") or ""
    module = getattr(target, "__module__", None)
    if qualified.startswith("_VariableFunctionsClass") or module is None:
        return f"torch.{name}"  # torch's builtins (torch.tanh, torch.cat) report no module
    if module in ("_operator", "operator"):
        return f"operator.{name}"
    return f"{module}.{name}"


def _bind(node, names: Tuple[str, ...], defaults: Dict[str, object]) -> Dict[str, object]:
    """node's args and kwargs by parameter name (torch's builtins have no inspectable signature)."""
    if len(node.args) > len(names):
        _unsupported(node, f"too many positional arguments ({len(node.args)}) for ({', '.join(names)})")
    bound = dict(defaults)
    bound.update(zip(names, node.args))
    for key, value in node.kwargs.items():
        if key not in names:
            _unsupported(node, f"unexpected keyword argument {key!r}")
        bound[key] = value
    missing = [n for n in names if n not in bound]
    if missing:
        _unsupported(node, f"missing arguments {missing}")
    return bound


def _function_table(torch):
    """fx call_function targets -> (kind, parameter names, defaults)."""
    F = torch.nn.functional
    table = {}

    def add(kind, functions, names, defaults):
        for function in functions:
            if function is not None:
                table[function] = (kind, names, defaults)

    add(
        "relu",
        [F.relu, torch.relu, getattr(torch, "relu_", None), getattr(F, "relu_", None)],
        ("input", "inplace"),
        {"inplace": False},
    )
    add("relu6", [F.relu6], ("input", "inplace"), {"inplace": False})
    add(
        "hardtanh",
        [F.hardtanh, getattr(F, "hardtanh_", None)],
        ("input", "min_val", "max_val", "inplace"),
        {"min_val": -1.0, "max_val": 1.0, "inplace": False},
    )
    add(
        "clamp",
        [torch.clamp, torch.clip, getattr(torch, "clamp_", None)],
        ("input", "min", "max"),
        {"min": None, "max": None},
    )
    add(
        "max_pool2d",
        [F.max_pool2d, torch.max_pool2d, getattr(F, "_max_pool2d", None)],
        ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
        {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False},
    )
    add(
        "avg_pool2d",
        [F.avg_pool2d],
        ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
        {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True, "divisor_override": None},
    )
    add(
        "adaptive_avg_pool2d",
        [F.adaptive_avg_pool2d, getattr(torch._C._nn, "adaptive_avg_pool2d", None)],
        ("input", "output_size"),
        {},
    )
    add("flatten", [torch.flatten], ("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1})
    add("add", [operator.add, operator.iadd, torch.add], ("input", "other", "alpha"), {"alpha": 1})
    add(
        "cat",
        [torch.cat, getattr(torch, "concat", None), getattr(torch, "concatenate", None)],
        ("tensors", "dim"),
        {"dim": 0},
    )
    add(
        "dropout",
        [F.dropout, F.dropout2d, getattr(F, "dropout1d", None), getattr(F, "alpha_dropout", None)],
        ("input", "p", "training", "inplace"),
        {"p": 0.5, "training": True, "inplace": False},
    )
    add(
        "conv2d",
        [F.conv2d, torch.conv2d],
        ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
        {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1},
    )
    add("linear", [F.linear], ("input", "weight", "bias"), {"bias": None})
    add(
        "batch_norm",
        [F.batch_norm],
        ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"),
        {"weight": None, "bias": None, "training": False, "momentum": 0.1, "eps": 1e-5},
    )
    add("sigmoid", [torch.sigmoid, getattr(F, "sigmoid", None)], ("input",), {})
    add("silu", [F.silu], ("input", "inplace"), {"inplace": False})
    add("hardswish", [F.hardswish], ("input", "inplace"), {"inplace": False})
    add("hardsigmoid", [F.hardsigmoid], ("input", "inplace"), {"inplace": False})
    add(
        "interpolate",
        [F.interpolate, getattr(F, "upsample", None)],
        ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"),
        {
            "size": None,
            "scale_factor": None,
            "mode": "nearest",
            "align_corners": None,
            "recompute_scale_factor": None,
            "antialias": False,
        },
    )
    add("mul", [operator.mul, operator.imul, torch.mul], ("input", "other"), {})
    add("mean", [torch.mean], ("input", "dim", "keepdim", "dtype"), {"keepdim": False, "dtype": None})
    add("getattr", [getattr], ("obj", "name"), {})
    add("getitem", [operator.getitem], ("obj", "index"), {})
    return table


_METHODS = {
    "relu": ("relu", ("input",), {}),
    "relu_": ("relu", ("input",), {}),
    "clamp": ("clamp", ("input", "min", "max"), {"min": None, "max": None}),
    "clamp_": ("clamp", ("input", "min", "max"), {"min": None, "max": None}),
    "clip": ("clamp", ("input", "min", "max"), {"min": None, "max": None}),
    "add": ("add", ("input", "other", "alpha"), {"alpha": 1}),
    "add_": ("add", ("input", "other", "alpha"), {"alpha": 1}),
    "__add__": ("add", ("input", "other"), {}),
    "flatten": ("flatten", ("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1}),
    "contiguous": ("identity", ("input",), {}),
    "size": ("size", ("input", "dim"), {"dim": None}),
    "sigmoid": ("sigmoid", ("input",), {}),
    "sigmoid_": ("sigmoid", ("input",), {}),
    "mul": ("mul", ("input", "other"), {}),
    "mul_": ("mul", ("input", "other"), {}),
    "__mul__": ("mul", ("input", "other"), {}),
    "mean": ("mean", ("input", "dim", "keepdim", "dtype"), {"keepdim": False, "dtype": None}),
}


class _Translator:
    def __init__(self, torch, traced):
        self.torch = torch
        self.traced = traced
        self.functions = _function_table(torch)
        self.nodes: List[tuple] = []
        self.tensor_names: Dict[object, str] = {}  # fx node -> fieldconv node name (tensors)
        self.values: Dict[object, object] = {}  # fx node -> what a non-tensor node holds ("batch", "shape", ...)
        self.layers_by_module: Dict[int, object] = {}
        self.calls_by_module: Dict[str, int] = {}
        self.counted_parameters = set()
        self.used_names = {INPUT}
        self.traced_from: Dict[str, str] = {}  # Graph node name -> the fx node it translates

    # ---- helpers
    def tensor(self, node, value, what: str) -> str:
        if value in self.tensor_names:
            return self.tensor_names[value]
        _unsupported(node, f"{what} must be a tensor computed by the network, got {value!r}")

    def attribute(self, node, value, what: str):
        """A parameter or buffer read through get_attr (F.conv2d(x, self.weight) and the like)."""
        if value is None:
            return None
        if getattr(value, "op", None) != "get_attr":
            _unsupported(node, f"{what} must be a parameter or buffer of the module (get_attr), got {value!r}")
        owner = self.traced
        for part in value.target.split("."):
            owner = getattr(owner, part)
        return owner

    def array(self, tensor):
        return None if tensor is None else tensor.detach().cpu().numpy()

    def parameters(self, tensors) -> int:
        """torch's count of the parameters among tensors not counted before (a module or tensor used
        by several nodes counts once, as in module.parameters())."""
        count = 0
        for tensor in tensors:
            if isinstance(tensor, self.torch.nn.Parameter) and id(tensor) not in self.counted_parameters:
                self.counted_parameters.add(id(tensor))
                count += tensor.numel()
        return count

    def name_of(self, node) -> str:
        """Module calls: the module path, then path@1, path@2 for later calls of the same module
        (torch's own module-stack convention). Functions and methods: the path of the module whose
        forward calls them, a dot and the function's name, with @1, @2 likewise ("layer1.0.add")."""
        if node.op == "call_module":
            key = node.target
        else:
            stack = node.meta.get("nn_module_stack") or {}
            paths = [value[0] if isinstance(value, tuple) else key for key, value in stack.items()]
            scope = paths[-1] if paths else ""
            base = re.sub(r"_\d+$", "", node.name)
            key = f"{scope}.{base}" if scope else base
        index = self.calls_by_module.get(key, 0)
        self.calls_by_module[key] = index + 1
        name = key if index == 0 else f"{key}@{index}"
        if name in self.used_names:  # a module whose path looks like a function's name
            name = f"{name}#{node.name}"
        self.used_names.add(name)
        return name

    def emit(self, node, layer, inputs, parameter_count: int):
        name = self.name_of(node)
        self.nodes.append((name, layer, tuple(inputs), parameter_count))
        self.tensor_names[node] = name
        self.traced_from[name] = node.name

    # ---- translation
    def run(self, input_shape) -> Graph:
        output = None
        placeholders = 0
        for node in self.traced.graph.nodes:
            if node.op == "placeholder":
                placeholders += 1
                if placeholders > 1:
                    _unsupported(node, "the network must take exactly one input tensor")
                self.tensor_names[node] = INPUT
            elif node.op == "get_attr":
                continue  # read where used (F.conv2d's weight, ...)
            elif node.op == "call_module":
                self.module(node)
            elif node.op == "call_function":
                self.function(node)
            elif node.op == "call_method":
                self.method(node)
            elif node.op == "output":
                result = node.args[0]
                if result not in self.tensor_names:
                    _unsupported(node, "the network must return one tensor (not a tuple, dict or constant)")
                output = self.tensor_names[result]
            else:  # pragma: no cover - fx has no other ops
                _unsupported(node, "unknown fx op")
        if output is None or output == INPUT or not self.nodes:
            raise ValueError("from_torch: the traced network computes nothing from its input")
        graph = Graph(self.nodes, output=output, input_shape=input_shape)
        graph.traced_from = dict(self.traced_from)
        return graph

    def module(self, node):
        nn = self.torch.nn
        module = self.traced.get_submodule(node.target)
        source = self.tensor(node, node.args[0] if node.args else None, "its input")
        if len(node.args) != 1 or node.kwargs:
            _unsupported(node, "a module call with more than one argument")
        layer = self.layers_by_module.get(id(module))
        if layer is None:
            layer = self.module_layer(node, module, nn)
            self.layers_by_module[id(module)] = layer
        self.emit(node, layer, [source], self.parameters(module.parameters()))

    def module_layer(self, node, module, nn):
        if type(module) is nn.Conv2d:
            if module.padding_mode != "zeros":
                raise ValueError(
                    f"from_torch: node {node.name!r} (Conv2d {node.target}): padding_mode="
                    f"{module.padding_mode!r} is not supported, only 'zeros'"
                )
            return Conv2d(
                self.array(module.weight),
                self.array(module.bias),
                module.stride,
                module.padding,
                module.dilation,
                module.groups,
            )
        if type(module) is nn.BatchNorm2d:
            if module.running_mean is None or module.running_var is None:
                raise ValueError(
                    f"from_torch: node {node.name!r} (BatchNorm2d {node.target}) has no running "
                    "statistics (track_running_stats=False); inference needs them"
                )
            return BatchNorm2d(
                self.array(module.weight),
                self.array(module.bias),
                self.array(module.running_mean),
                self.array(module.running_var),
                module.eps,
            )
        if type(module) is nn.ReLU:
            return ReLU()
        if type(module) is nn.ReLU6:
            return ReLU6()
        if type(module) is nn.Hardtanh:
            return self.clamp_layer(node, module.min_val, module.max_val)
        if type(module) is nn.MaxPool2d:
            if module.return_indices:
                _unsupported(node, "MaxPool2d(return_indices=True)")
            return MaxPool2d(module.kernel_size, module.stride, module.padding, module.dilation, module.ceil_mode)
        if type(module) is nn.AvgPool2d:
            return AvgPool2d(
                module.kernel_size,
                module.stride,
                module.padding,
                module.ceil_mode,
                module.count_include_pad,
                module.divisor_override,
            )
        if type(module) is nn.AdaptiveAvgPool2d:
            return AdaptiveAvgPool2d(module.output_size)
        if type(module) is nn.Linear:
            return Linear(self.array(module.weight), self.array(module.bias))
        if type(module) is nn.Flatten:
            return Flatten(module.start_dim, module.end_dim)
        if type(module) in (nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.AlphaDropout):
            return Dropout(module.p)
        if type(module) is nn.Identity:
            return Identity()
        simple = {nn.Sigmoid: Sigmoid, nn.SiLU: SiLU, nn.Hardswish: Hardswish, nn.Hardsigmoid: Hardsigmoid}
        if type(module) in simple:
            return simple[type(module)]()
        if type(module) is nn.Upsample:
            return self.upsample_layer(node, module.size, module.scale_factor, module.mode, module.align_corners)
        _unsupported(node, f"module type {type(module).__name__}")

    def clamp_layer(self, node, low, high):
        if low == 0 and high == 6:
            return ReLU6()
        if low == 0 and high is None:
            return ReLU()
        _unsupported(node, f"clamp to [{low}, {high}] (only [0, 6], ReLU6, and [0, inf), ReLU)")

    def upsample_layer(self, node, size, scale_factor, mode, align_corners):
        if mode not in ("nearest", "bilinear"):
            _unsupported(node, f"upsampling mode {mode!r} (nearest and bilinear are)")
        try:
            return Upsample(size, scale_factor, mode, align_corners)
        except ValueError as error:
            raise ValueError(f"from_torch: node {node.name!r} ({_target_text(node)}): {error}") from None

    def function(self, node):
        entry = self.functions.get(node.target)
        if entry is None:
            _unsupported(node, "this function")
        self.translate(node, *entry)

    def method(self, node):
        entry = _METHODS.get(node.target)
        if node.target in ("view", "reshape"):
            self.view(node)
            return
        if entry is None:
            _unsupported(node, "this method")
        self.translate(node, *entry)

    def view(self, node):
        """x.view(x.size(0), -1) / x.reshape(x.shape[0], -1): a Flatten keeping the batch axis."""
        shape = list(node.args[1:])
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = list(shape[0])
        if len(shape) == 2 and self.values.get(shape[0]) == "batch" and shape[1] == -1 and not node.kwargs:
            self.emit(node, Flatten(1), [self.tensor(node, node.args[0], "its input")], 0)
            return
        _unsupported(node, f"{node.target} to {shape}: only (x.size(0), -1), a flatten keeping the batch axis")

    def translate(self, node, kind: str, names, defaults):
        args = _bind(node, names, defaults)
        if kind == "size":
            if args["dim"] == 0:
                self.values[node] = "batch"
                return
            _unsupported(node, "x.size() other than x.size(0) (the batch size, for view/reshape)")
        if kind == "getattr":
            if args["name"] == "shape" and args["obj"] in self.tensor_names:
                self.values[node] = "shape"
                return
            _unsupported(node, f"getattr {args['name']!r} (only x.shape)")
        if kind == "getitem":
            if self.values.get(args["obj"]) == "shape" and args["index"] == 0:
                self.values[node] = "batch"
                return
            _unsupported(node, "indexing other than x.shape[0]")
        if kind == "cat":
            tensors = args["tensors"]
            if not isinstance(tensors, (list, tuple)) or not tensors:
                _unsupported(node, "torch.cat of something other than a list of tensors")
            if args["dim"] not in (1, -3):
                raise ValueError(
                    f"from_torch: node {node.name!r} (torch.cat): dim={args['dim']} is not supported, "
                    "only the channel axis (dim=1; torch.cat's default dim is 0, the batch axis)"
                )
            sources = [self.tensor(node, t, f"tensor {k} of torch.cat") for k, t in enumerate(tensors)]
            self.emit(node, Cat(), sources, 0)
            return
        if kind == "mul":
            other = args["other"]
            if other not in self.tensor_names:
                _unsupported(node, f"a product with the constant {other!r} (products of two tensors are supported)")
            sources = [self.tensor(node, args["input"], "input"), self.tensor(node, other, "other")]
            self.emit(node, Mul(), sources, 0)
            return
        if kind == "add":
            if args.get("alpha", 1) != 1:
                _unsupported(node, f"add with alpha={args['alpha']}")
            sources = [self.tensor(node, args["input"], "input"), self.tensor(node, args["other"], "other")]
            self.emit(node, Add(), sources, 0)
            return
        source = self.tensor(node, args["input"], "input")
        parameters = 0
        if kind == "identity":
            self.tensor_names[node] = source
            return
        if kind == "relu":
            layer = ReLU()
        elif kind == "relu6":
            layer = ReLU6()
        elif kind == "hardtanh":
            layer = self.clamp_layer(node, args["min_val"], args["max_val"])
        elif kind == "clamp":
            layer = self.clamp_layer(node, args["min"], args["max"])
        elif kind == "max_pool2d":
            if args["return_indices"]:
                _unsupported(node, "max_pool2d(return_indices=True)")
            layer = MaxPool2d(
                args["kernel_size"], args["stride"] or None, args["padding"], args["dilation"], args["ceil_mode"]
            )
        elif kind == "avg_pool2d":
            layer = AvgPool2d(
                args["kernel_size"],
                args["stride"] or None,
                args["padding"],
                args["ceil_mode"],
                args["count_include_pad"],
                args["divisor_override"],
            )
        elif kind == "adaptive_avg_pool2d":
            layer = AdaptiveAvgPool2d(args["output_size"])
        elif kind == "flatten":
            layer = Flatten(args["start_dim"], args["end_dim"])
        elif kind in ("sigmoid", "silu", "hardswish", "hardsigmoid"):
            layer = {"sigmoid": Sigmoid, "silu": SiLU, "hardswish": Hardswish, "hardsigmoid": Hardsigmoid}[kind]()
        elif kind == "interpolate":
            if args["antialias"]:
                _unsupported(node, "interpolate(antialias=True)")
            layer = self.upsample_layer(node, args["size"], args["scale_factor"], args["mode"], args["align_corners"])
        elif kind == "mean":
            dims = args["dim"] if isinstance(args["dim"], (tuple, list)) else (args["dim"],)
            if sorted(int(d) % 4 for d in dims) != [2, 3] or not args["keepdim"] or args["dtype"] is not None:
                _unsupported(
                    node,
                    f"mean over {args['dim']} with keepdim={args['keepdim']} (only the global average "
                    "x.mean((2, 3), keepdim=True))",
                )
            layer = AdaptiveAvgPool2d(1)
        elif kind == "dropout":
            if args["training"]:
                raise ValueError(
                    f"from_torch: node {node.name!r} ({_target_text(node)}) has training=True; pass "
                    "training=self.training (from_torch traces in eval mode) or use nn.Dropout"
                )
            layer = Dropout(args["p"])
        elif kind == "conv2d":
            weight = self.attribute(node, args["weight"], "weight")
            bias = self.attribute(node, args["bias"], "bias")
            layer = Conv2d(
                self.array(weight), self.array(bias), args["stride"], args["padding"], args["dilation"], args["groups"]
            )
            parameters = self.parameters([t for t in (weight, bias) if t is not None])
        elif kind == "linear":
            weight = self.attribute(node, args["weight"], "weight")
            bias = self.attribute(node, args["bias"], "bias")
            layer = Linear(self.array(weight), self.array(bias))
            parameters = self.parameters([t for t in (weight, bias) if t is not None])
        elif kind == "batch_norm":
            if args["training"]:
                raise ValueError(
                    f"from_torch: node {node.name!r} (F.batch_norm) has training=True; inference "
                    "uses the running statistics (training=False)"
                )
            tensors = [self.attribute(node, args[k], k) for k in ("weight", "bias", "running_mean", "running_var")]
            layer = BatchNorm2d(*(self.array(t) for t in tensors), eps=args["eps"])
            parameters = self.parameters([t for t in tensors[:2] if t is not None])
        else:  # pragma: no cover - the tables name only the kinds above
            _unsupported(node, f"kind {kind}")
        self.emit(node, layer, [source], parameters)


def from_torch(module: "torch.nn.Module", input_shape: Sequence[int], *, fold_batch_norm: bool = False) -> Graph:
    """A fieldconv Graph computing what ``module`` (a ``torch.nn.Module``) computes in eval mode.

    The module is traced with ``torch.fx.symbolic_trace`` in eval mode (its training flags are
    restored afterwards); each fx node becomes one Graph node named by the torch module path
    (``layer1.0.conv1``; a module called again gets ``@1``, ``@2``, ... as torch's own module
    stack does; functions take their module's path and their name, as ``layer1.0.add``).
    input_shape: (N, C, H, W) or one sample's (C, H, W) (then N = 1), used to check the network, for ``summary()`` and
    ``fields()``; the Graph itself takes any batch size. fold_batch_norm: fold each BatchNorm2d
    into the convolution before it (the parameter count stays torch's count before folding).

    ``graph.traced_from`` maps each node's name to the name of the fx node it was translated from.
    Unsupported nodes raise TypeError naming the node and its op (unsupported argument values:
    ValueError). torch is needed only here (``pip install torch``).
    """
    try:
        import torch
        import torch.fx
    except ImportError:
        raise ImportError("fieldconv.from_torch needs torch (pip install torch)") from None
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    shape = _params.shape_tuple(input_shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"input_shape must be (N, C, H, W) or (C, H, W), got {input_shape!r}")
    if len(shape) == 3:  # one sample's shape: the network is checked and summarised at batch size 1
        shape = (1,) + shape
    modes = {name: sub.training for name, sub in module.named_modules()}
    module.eval()
    try:
        try:
            traced = torch.fx.symbolic_trace(module)
        except Exception as error:  # fx raises many types (TraceError, TypeError, ...) for untraceable code
            raise TypeError(f"from_torch: torch.fx could not trace {type(module).__name__}: {error}") from error
        with torch.no_grad():
            graph = _Translator(torch, traced).run(shape)
    finally:
        for name, sub in module.named_modules():
            sub.training = modes.get(name, sub.training)
    graph.output_shape(shape)  # the shape given must run through the network
    if fold_batch_norm:
        folded = graph.fold_batch_norm()
        folded.traced_from = {name: source for name, source in graph.traced_from.items() if name in folded._by_name}
        return folded
    return graph
