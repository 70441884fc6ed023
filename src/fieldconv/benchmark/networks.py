"""Whole-network workloads (ResNet-18, ResNet-50, MobileNet v2 at N=1 and N=8, float32) and their
implementations: fieldconv (the torch model imported with from_torch, batch norm folded), torch
eager and onnxruntime (when installed), all on the same thread count.

The models are the plain-torch definitions of torch_models.py with random weights
(torch_models.initialise); the operation count is 2 x the conv and linear multiply-adds.
"""

from __future__ import annotations

import functools
from typing import Dict

import numpy as np

from .peers import import_torch
from .registry import Implementation, Unavailable, Workload, register_implementation, register_kind, register_workload

MODELS = ("resnet18", "resnet50", "mobilenet_v2")


def network_workload(name, model, batch, size=224, default=False):
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    params = dict(model=model, batch=batch, size=size)
    return Workload(name, "network", f"{model} N={batch} @{size}x{size}, whole network", params, default)


@functools.lru_cache(maxsize=None)
def _torch_model(model: str, size: int):
    import_torch()  # Unavailable when torch is not installed
    from . import torch_models

    build = {
        "resnet18": torch_models.resnet18,
        "resnet50": torch_models.resnet50,
        "mobilenet_v2": torch_models.MobileNetV2,
    }[model]
    return torch_models.initialise(build(), seed=0, input_size=min(size, 64))


def network_flops(params) -> float:
    try:
        model = _torch_model(params["model"], params["size"])
    except Unavailable:
        return None
    from .torch_models import conv_linear_macs

    return 2.0 * conv_linear_macs(model, (params["batch"], 3, params["size"], params["size"]))


def network_arrays(params, dtype, rng) -> Dict[str, np.ndarray]:
    shape = (params["batch"], 3, params["size"], params["size"])
    return {"x": rng.standard_normal(shape, dtype=np.float32).astype(dtype)}


register_kind("network", network_flops, network_arrays)


def prepare_fieldconv_network(workload, arrays, threads):
    import fieldconv

    p = workload.params
    fieldconv.set_num_threads(threads)
    network = fieldconv.from_torch(
        _torch_model(p["model"], p["size"]), (p["batch"], 3, p["size"], p["size"]), fold_batch_norm=True
    )
    x = arrays["x"]
    return lambda: network(x)


def prepare_torch_network(workload, arrays, threads):
    torch = import_torch()
    torch.set_num_threads(threads)
    model = _torch_model(workload.params["model"], workload.params["size"])
    x = torch.from_numpy(arrays["x"])

    def run():
        with torch.inference_mode():
            return model(x)

    return run


def prepare_onnxruntime_network(workload, arrays, threads):
    try:
        import onnxruntime
    except ImportError:
        raise Unavailable("n/a (onnxruntime not installed)") from None
    torch = import_torch()
    import io

    p = workload.params
    model = _torch_model(p["model"], p["size"])
    buffer = io.BytesIO()
    try:
        torch.onnx.export(model, (torch.from_numpy(arrays["x"]),), buffer, input_names=["x"], dynamo=False)
    except Exception as error:  # the exporter needs the onnx package, and may refuse a model
        raise Unavailable(f"n/a (ONNX export failed: {type(error).__name__})") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Without this its threads keep spinning after each run and take the cores from whichever
    # implementation is timed next (fieldconv's MobileNet v2 N=8 ran 1.5x slower right after
    # onnxruntime); onnxruntime itself measured no slower without spinning.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    feed = {"x": arrays["x"]}
    return lambda: session.run(None, feed)


register_implementation("network", Implementation("fieldconv network", prepare_fieldconv_network, ours=True))
register_implementation("network", Implementation("torch eager", prepare_torch_network))
register_implementation("network", Implementation("onnxruntime", prepare_onnxruntime_network))

register_workload(network_workload("resnet18-n1", "resnet18", 1, default=True))
register_workload(network_workload("resnet18-n8", "resnet18", 8))
register_workload(network_workload("resnet50-n1", "resnet50", 1))
register_workload(network_workload("resnet50-n8", "resnet50", 8))
register_workload(network_workload("mobilenet_v2-n1", "mobilenet_v2", 1))
register_workload(network_workload("mobilenet_v2-n8", "mobilenet_v2", 8))
