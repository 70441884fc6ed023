"""conv2d workloads (ResNet-18's 3x3 layers, the stem, a 1x1, a depthwise, VGG) and their implementations: fieldconv's algorithms, torch, NumPy im2col, SciPy."""

from __future__ import annotations

import importlib.util
import math
from typing import Dict

import numpy as np
from .peers import SCIPY_LIMIT_SECONDS, import_torch
from .registry import (
    BLAS_SPIN_SECONDS,
    Implementation,
    Unavailable,
    Workload,
    register_implementation,
    register_kind,
    register_workload,
)

# --------------------------------------------------------------------------------------------
# conv2d: geometry, operation count, inputs


def conv_workload(
    name,
    batch,
    in_channels,
    size,
    out_channels,
    kernel,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    bias=True,
    default=False,
    description="",
):
    """A conv2d workload on a square (size x size) NCHW input with a square kernel."""
    params = dict(
        batch=batch,
        in_channels=in_channels,
        height=size,
        width=size,
        out_channels=out_channels,
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
    )
    text = description or (
        f"N={batch} {in_channels}->{out_channels} @{size}x{size} {kernel}x{kernel}"
        f"/{stride} pad {padding}"
        + (f" dil {dilation}" if dilation != 1 else "")
        + (f" groups {groups}" if groups != 1 else "")
    )
    return Workload(name, "conv2d", text, params, default)


def conv_output_size(params) -> tuple:
    p = params
    out = []
    for size in (p["height"], p["width"]):
        out.append((size + 2 * p["padding"] - p["dilation"] * (p["kernel"] - 1) - 1) // p["stride"] + 1)
    return tuple(out)


def conv_flops(params) -> float:
    """2 x multiply-adds of the direct algorithm (the usual nominal count; bias not counted)."""
    out_h, out_w = conv_output_size(params)
    p = params
    return 2.0 * p["batch"] * p["out_channels"] * out_h * out_w * (p["in_channels"] // p["groups"]) * p["kernel"] ** 2


def conv_arrays(params, dtype, rng) -> Dict[str, np.ndarray]:
    p = params
    x = rng.standard_normal((p["batch"], p["in_channels"], p["height"], p["width"]), dtype=np.float32).astype(dtype)
    fan_in = p["in_channels"] // p["groups"] * p["kernel"] ** 2
    weight = (
        rng.standard_normal(
            (p["out_channels"], p["in_channels"] // p["groups"], p["kernel"], p["kernel"]), dtype=np.float32
        )
        / math.sqrt(fan_in)
    ).astype(dtype)
    bias = rng.standard_normal(p["out_channels"], dtype=np.float32).astype(dtype) if p["bias"] else None
    return {"x": x, "weight": weight, "bias": bias}


register_kind("conv2d", conv_flops, conv_arrays)


def _conv_args(params):
    return dict(
        stride=params["stride"], padding=params["padding"], dilation=params["dilation"], groups=params["groups"]
    )


def prepare_fieldconv_direct(workload, arrays, threads):
    import fieldconv

    fieldconv.set_num_threads(threads)
    layer = fieldconv.Conv2d(arrays["weight"], arrays["bias"], algorithm="direct", **_conv_args(workload.params))
    x = arrays["x"]
    return lambda: layer(x)


def prepare_torch(workload, arrays, threads):
    torch = import_torch()
    torch.set_num_threads(threads)
    x = torch.from_numpy(arrays["x"])
    weight = torch.from_numpy(arrays["weight"])
    bias = None if arrays["bias"] is None else torch.from_numpy(arrays["bias"])
    args = _conv_args(workload.params)
    conv2d = torch.nn.functional.conv2d

    def run():
        with torch.inference_mode():
            return conv2d(x, weight, bias, **args)

    return run


def im2col_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d as im2col + one batched matrix product per image (NumPy's BLAS), NCHW.

    The columns of one image are (groups, C_in/groups * kh * kw, H_out * W_out), gathered from
    a strided window view of the zero-padded image; weights are (groups, C_out/groups,
    C_in/groups * kh * kw). Per image, so the column buffer stays at one image's size.
    """
    n, c_in, height, width = x.shape
    c_out, c_group, kh, kw = weight.shape
    out_h = (height + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    out_w = (width + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))) if padding else x
    w_matrix = weight.reshape(groups, c_out // groups, c_group * kh * kw)
    y = np.empty((n, c_out, out_h, out_w), dtype=np.result_type(x, weight))
    s_n, s_c, s_h, s_w = padded.strides
    for image in range(n):
        windows = np.lib.stride_tricks.as_strided(
            padded[image],
            shape=(c_in, kh, kw, out_h, out_w),
            strides=(s_c, s_h * dilation, s_w * dilation, s_h * stride, s_w * stride),
            writeable=False,
        )
        columns = windows.reshape(groups, c_group * kh * kw, out_h * out_w)  # the im2col copy
        np.matmul(w_matrix, columns, out=y[image].reshape(groups, c_out // groups, out_h * out_w))
    if bias is not None:
        y += bias[None, :, None, None]
    return y


def prepare_numpy_im2col(workload, arrays, threads):
    x, weight, bias = arrays["x"], arrays["weight"], arrays["bias"]
    args = _conv_args(workload.params)
    return lambda: im2col_conv2d(x, weight, bias, **args)


SCIPY_MODEL_FLOPS_PER_SECOND = 1.0e9  # scalar, single-threaded: 0.4-2.8 GFLOP/s measured on these machines
SCIPY_MODEL_SECONDS_PER_CALL = 5e-6


def scipy_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d as a sum over input channels of scipy.signal.correlate2d(mode="valid") per plane.

    correlate2d has no stride or dilation: the kernel is dilated with zeros and the full-
    resolution result subsampled (as a user of SciPy would do).
    """
    from scipy.signal import correlate2d

    n, c_in, height, width = x.shape
    c_out, c_group, kh, kw = weight.shape
    if dilation != 1:
        dilated = np.zeros((c_out, c_group, dilation * (kh - 1) + 1, dilation * (kw - 1) + 1), weight.dtype)
        dilated[:, :, ::dilation, ::dilation] = weight
        weight = dilated
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))) if padding else x
    out_per_group = c_out // groups
    planes = []
    for image in range(n):
        for o in range(c_out):
            group = o // out_per_group
            total = None
            for c in range(c_group):
                part = correlate2d(padded[image, group * c_group + c], weight[o, c], mode="valid")
                total = part if total is None else total + part
            planes.append(total[::stride, ::stride])
    y = np.stack(planes).reshape((n, c_out) + planes[0].shape) if planes else None
    if bias is not None:
        y = y + bias[None, :, None, None]
    return y


def scipy_estimate_seconds(params) -> float:
    p = params
    full = dict(p, stride=1)  # correlate2d computes every position, then we subsample
    calls = p["batch"] * p["out_channels"] * (p["in_channels"] // p["groups"])
    return conv_flops(full) / SCIPY_MODEL_FLOPS_PER_SECOND + calls * SCIPY_MODEL_SECONDS_PER_CALL


def prepare_scipy(workload, arrays, threads):
    if importlib.util.find_spec("scipy") is None:
        raise Unavailable("n/a (not installed)")
    estimate = scipy_estimate_seconds(workload.params)
    if estimate > SCIPY_LIMIT_SECONDS:
        raise Unavailable(f"skipped (~{estimate:.0f} s per call)")
    x, weight, bias = arrays["x"], arrays["weight"], arrays["bias"]
    args = _conv_args(workload.params)
    return lambda: scipy_conv2d(x, weight, bias, **args)


# fieldconv's algorithms through the layer: "auto" (the baseline) and each Winograd tile next to
# direct. The algorithm "auto" runs is fieldconv.conv2d_algorithm_for(x.shape, weight.shape, ...).
def prepare_fieldconv_algorithm(algorithm: str):
    def prepare(workload, arrays, threads):
        import fieldconv

        fieldconv.set_num_threads(threads)
        try:
            layer = fieldconv.Conv2d(
                arrays["weight"], arrays["bias"], algorithm=algorithm, **_conv_args(workload.params)
            )
        except ValueError:  # Winograd takes 3x3, stride 1, dilation 1 only
            raise Unavailable("n/a (3x3, stride 1 only)") from None
        x = arrays["x"]
        return lambda: layer(x)

    return prepare


# "auto", what users call by default, is the baseline of the ratios (the first "ours" entry).
register_implementation("conv2d", Implementation("fieldconv auto", prepare_fieldconv_algorithm("auto"), ours=True))
register_implementation("conv2d", Implementation("fieldconv direct", prepare_fieldconv_direct, ours=True))
register_implementation("conv2d", Implementation("torch", prepare_torch))
register_implementation(
    "conv2d", Implementation("numpy im2col", prepare_numpy_im2col, spins_after_seconds=BLAS_SPIN_SECONDS)
)
register_implementation(
    "conv2d", Implementation("scipy correlate2d", prepare_scipy, max_rounds=3, max_seconds=SCIPY_LIMIT_SECONDS)
)

# ResNet-18 3x3 body layers, its 7x7/2 stem, a bottleneck-style 1x1, a MobileNet-style depthwise
# 3x3 and the widest VGG layer.
for _channels, _size in ((64, 56), (128, 28), (256, 14), (512, 7)):
    register_workload(
        conv_workload(
            f"resnet18-3x3-{_channels}@{_size}", 1, _channels, _size, _channels, 3, padding=1, default=_channels != 128
        )
    )
    register_workload(
        conv_workload(
            f"resnet18-3x3-{_channels}@{_size}-n8",
            8,
            _channels,
            _size,
            _channels,
            3,
            padding=1,
            default=_channels == 128,
        )
    )
register_workload(conv_workload("stem-7x7s2-3to64@224", 1, 3, 224, 64, 7, stride=2, padding=3, default=True))
register_workload(conv_workload("1x1-256to64@56", 1, 256, 56, 64, 1, default=True))
register_workload(conv_workload("depthwise-3x3-128@56", 1, 128, 56, 128, 3, padding=1, groups=128, default=True))
register_workload(conv_workload("vgg-3x3-64@224", 1, 64, 224, 64, 3, padding=1))

for _algorithm in ("winograd_f2", "winograd_f4", "winograd_f6"):
    register_implementation(
        "conv2d", Implementation(f"fieldconv {_algorithm}", prepare_fieldconv_algorithm(_algorithm), ours=True)
    )
