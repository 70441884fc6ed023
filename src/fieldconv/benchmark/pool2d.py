"""pool2d workloads (ResNet's max pooling, average pooling) and their implementations: fieldconv, torch."""

from __future__ import annotations

from typing import Dict

import numpy as np
from .peers import import_torch
from .registry import Implementation, Workload, register_implementation, register_kind, register_workload

# --------------------------------------------------------------------------------------------
# pool2d: max and average pooling (memory-bound: no flop count)


def pool_workload(
    name,
    op,
    batch,
    channels,
    size,
    kernel,
    stride=None,
    padding=0,
    ceil_mode=False,
    return_indices=False,
    default=False,
):
    """A max_pool2d or avg_pool2d workload on a square NCHW input with a square window."""
    params = dict(
        op=op,
        batch=batch,
        channels=channels,
        height=size,
        width=size,
        kernel=kernel,
        stride=kernel if stride is None else stride,
        padding=padding,
        ceil_mode=ceil_mode,
        return_indices=return_indices,
    )
    text = (
        f"{op}_pool2d N={batch} C={channels} @{size}x{size} {kernel}x{kernel}/{params['stride']} pad {padding}"
        + (" ceil" if ceil_mode else "")
        + (" with indices" if return_indices else "")
    )
    return Workload(name, "pool2d", text, params, default)


def pool_arrays(params, dtype, rng) -> Dict[str, np.ndarray]:
    p = params
    x = rng.standard_normal((p["batch"], p["channels"], p["height"], p["width"]), dtype=np.float32).astype(dtype)
    return {"x": x}


def _pool_args(params):
    args = dict(
        kernel_size=params["kernel"], stride=params["stride"], padding=params["padding"], ceil_mode=params["ceil_mode"]
    )
    if params["op"] == "max" and params["return_indices"]:
        args["return_indices"] = True
    return args


register_kind("pool2d", lambda params: None, pool_arrays)


def prepare_fieldconv_pool(workload, arrays, threads):
    import fieldconv

    fieldconv.set_num_threads(threads)
    function = fieldconv.max_pool2d if workload.params["op"] == "max" else fieldconv.avg_pool2d
    x, args = arrays["x"], _pool_args(workload.params)
    return lambda: function(x, **args)


def prepare_torch_pool(workload, arrays, threads):
    torch = import_torch()
    torch.set_num_threads(threads)
    F = torch.nn.functional
    function = F.max_pool2d if workload.params["op"] == "max" else F.avg_pool2d
    x, args = torch.from_numpy(arrays["x"]), _pool_args(workload.params)

    def run():
        with torch.inference_mode():
            return function(x, **args)

    return run


register_implementation("pool2d", Implementation("fieldconv pool", prepare_fieldconv_pool, ours=True))
register_implementation("pool2d", Implementation("torch", prepare_torch_pool))

# ResNet-18's stem max pooling (3x3/2, pad 1) and a 2x2/2 average pooling (the pair the peers' figures are usually quoted for).
register_workload(pool_workload("maxpool-3x3s2p1-64@112", "max", 1, 64, 112, 3, 2, 1, default=True))
register_workload(pool_workload("maxpool-3x3s2p1-64@112-n8", "max", 8, 64, 112, 3, 2, 1))
register_workload(pool_workload("maxpool-3x3s2p1-64@112-indices", "max", 1, 64, 112, 3, 2, 1, return_indices=True))
register_workload(pool_workload("avgpool-2x2s2-128@56-n8", "avg", 8, 128, 56, 2, default=True))
register_workload(pool_workload("avgpool-3x3s1p1-64@56-n8", "avg", 8, 64, 56, 3, 1, 1))
