"""``python -m fieldconv bench``: fieldconv against its peers, measured in the same process.

Design
------
A *workload* (``Workload``) is one problem: an operation kind (``"conv2d"``), its shapes and
hyper-parameters, and whether the default run includes it. An *implementation*
(``Implementation``) knows how to run one kind: ``prepare(workload, arrays, threads)`` returns a
zero-argument callable (set-up such as weight packing happens there, outside the timing) or
raises ``Unavailable`` with the reason shown in the table. ``WORKLOADS`` and ``IMPLEMENTATIONS``
are registries: later work adds pooling or filter workloads (a new kind with its own
implementations) or a Winograd implementation next to the direct one by adding entries, e.g.::

    register_workload(conv_workload("vgg-3x3-64@224-winograd", ...))
    register_implementation("conv2d", Implementation("fieldconv winograd", prepare_winograd, ours=True))

Measurement: every implementation of a workload is warmed up, then all are timed in
interleaved rounds (round r times each implementation once, in turn, starting with a different
one each round), so slow drifts of this
shared, noisy machine hit all of them alike; a round repeats fast calls until ~5 ms have passed
and records the time per call, after a 20 ms pause that lets the previous implementation's
spinning thread pool go idle. The table shows the median over rounds, GFLOP/s from the
workload's nominal operation count, the percentage of the machine's FMA peak for the
instruction set of fieldconv's active kernels (derivation printed with the table) and each implementation's time relative to the first "ours" entry.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

# --------------------------------------------------------------------------------------------
# Registries


class Unavailable(Exception):
    """An implementation cannot run this workload here; the message goes into the table."""


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # key into IMPLEMENTATIONS
    description: str
    params: dict  # kind-specific, plain values (json-serialisable)
    default: bool = False  # part of the default (< 60 s) run
    dtype: str = "float32"

    def flops(self) -> Optional[float]:
        """Nominal floating-point operations per call (None for kinds without a meaningful count)."""
        return FLOP_COUNTS[self.kind](self.params)

    def make_arrays(self, seed: int = 0) -> Dict[str, np.ndarray]:
        return ARRAY_FACTORIES[self.kind](self.params, np.dtype(self.dtype), np.random.default_rng(seed))


@dataclass(frozen=True)
class Implementation:
    name: str
    prepare: Callable[[Workload, Dict[str, np.ndarray], int], Callable[[], object]]
    ours: bool = False  # fieldconv's own; the first one is the baseline of the ratios
    max_rounds: Optional[int] = None  # slow peers: time them in the first rounds only
    max_seconds: Optional[float] = None  # skipped when the warm-up call takes longer


WORKLOADS: Dict[str, Workload] = {}
IMPLEMENTATIONS: Dict[str, List[Implementation]] = {}
FLOP_COUNTS: Dict[str, Callable[[dict], Optional[float]]] = {}
ARRAY_FACTORIES: Dict[str, Callable[[dict, np.dtype, np.random.Generator], Dict[str, np.ndarray]]] = {}


def register_workload(workload: Workload) -> Workload:
    if workload.kind not in IMPLEMENTATIONS:
        raise ValueError(f"workload kind {workload.kind!r} has no implementations registered")
    WORKLOADS[workload.name] = workload
    return workload


def register_implementation(kind: str, implementation: Implementation) -> None:
    IMPLEMENTATIONS.setdefault(kind, []).append(implementation)


def register_kind(kind: str, flops: Callable[[dict], float], arrays) -> None:
    FLOP_COUNTS[kind] = flops
    ARRAY_FACTORIES[kind] = arrays
    IMPLEMENTATIONS.setdefault(kind, [])


# --------------------------------------------------------------------------------------------
# conv2d: geometry, operation count, inputs


def conv_workload(name, batch, in_channels, size, out_channels, kernel, stride=1, padding=0, dilation=1,
                  groups=1, bias=True, default=False, description=""):
    """A conv2d workload on a square (size x size) NCHW input with a square kernel."""
    params = dict(batch=batch, in_channels=in_channels, height=size, width=size, out_channels=out_channels,
                  kernel=kernel, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    text = description or (f"N={batch} {in_channels}->{out_channels} @{size}x{size} {kernel}x{kernel}"
                           f"/{stride} pad {padding}" + (f" dil {dilation}" if dilation != 1 else "")
                           + (f" groups {groups}" if groups != 1 else ""))
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
    weight = (rng.standard_normal((p["out_channels"], p["in_channels"] // p["groups"], p["kernel"], p["kernel"]),
                                  dtype=np.float32) / math.sqrt(fan_in)).astype(dtype)
    bias = rng.standard_normal(p["out_channels"], dtype=np.float32).astype(dtype) if p["bias"] else None
    return {"x": x, "weight": weight, "bias": bias}


register_kind("conv2d", conv_flops, conv_arrays)


def _conv_args(params):
    return dict(stride=params["stride"], padding=params["padding"], dilation=params["dilation"], groups=params["groups"])


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
            padded[image], shape=(c_in, kh, kw, out_h, out_w),
            strides=(s_c, s_h * dilation, s_w * dilation, s_h * stride, s_w * stride), writeable=False)
        columns = windows.reshape(groups, c_group * kh * kw, out_h * out_w)  # the im2col copy
        np.matmul(w_matrix, columns, out=y[image].reshape(groups, c_out // groups, out_h * out_w))
    if bias is not None:
        y += bias[None, :, None, None]
    return y


def prepare_numpy_im2col(workload, arrays, threads):
    x, weight, bias = arrays["x"], arrays["weight"], arrays["bias"]
    args = _conv_args(workload.params)
    return lambda: im2col_conv2d(x, weight, bias, **args)


SCIPY_LIMIT_SECONDS = 2.0
SCIPY_MODEL_FLOPS_PER_SECOND = 1.0e9  # scalar, single-threaded: 0.4-2.8 GFLOP/s measured (PERFORMANCE.md)
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


register_implementation("conv2d", Implementation("fieldconv direct", prepare_fieldconv_direct, ours=True))
register_implementation("conv2d", Implementation("torch", prepare_torch))
register_implementation("conv2d", Implementation("numpy im2col", prepare_numpy_im2col))
register_implementation("conv2d", Implementation("scipy correlate2d", prepare_scipy, max_rounds=3,
                                                  max_seconds=SCIPY_LIMIT_SECONDS))

# ResNet-18 3x3 body layers, its 7x7/2 stem, a bottleneck-style 1x1, a MobileNet-style depthwise
# 3x3 and the widest VGG layer.
for _channels, _size in ((64, 56), (128, 28), (256, 14), (512, 7)):
    register_workload(conv_workload(f"resnet18-3x3-{_channels}@{_size}", 1, _channels, _size, _channels, 3,
                                    padding=1, default=_channels != 128))
    register_workload(conv_workload(f"resnet18-3x3-{_channels}@{_size}-n8", 8, _channels, _size, _channels, 3,
                                    padding=1, default=_channels == 128))
register_workload(conv_workload("stem-7x7s2-3to64@224", 1, 3, 224, 64, 7, stride=2, padding=3, default=True))
register_workload(conv_workload("1x1-256to64@56", 1, 256, 56, 64, 1, default=True))
register_workload(conv_workload("depthwise-3x3-128@56", 1, 128, 56, 128, 3, padding=1, groups=128, default=True))
register_workload(conv_workload("vgg-3x3-64@224", 1, 64, 224, 64, 3, padding=1))


# Winograd (issue 4): "auto" and each tile next to direct, built by the same layer. The name of
# the algorithm "auto" runs is fieldconv.functional.conv2d_algorithm_for(x.shape, weight.shape, ...).
def prepare_fieldconv_algorithm(algorithm: str):
    def prepare(workload, arrays, threads):
        import fieldconv

        fieldconv.set_num_threads(threads)
        try:
            layer = fieldconv.Conv2d(arrays["weight"], arrays["bias"], algorithm=algorithm,
                                     **_conv_args(workload.params))
        except ValueError:  # Winograd takes 3x3, stride 1, dilation 1 only
            raise Unavailable("n/a (3x3, stride 1 only)") from None
        x = arrays["x"]
        return lambda: layer(x)

    return prepare


for _algorithm in ("auto", "winograd_f2", "winograd_f4", "winograd_f6"):
    register_implementation("conv2d", Implementation(f"fieldconv {_algorithm}", prepare_fieldconv_algorithm(_algorithm),
                                                      ours=True))


# --------------------------------------------------------------------------------------------
# pool2d: max and average pooling (memory-bound: no flop count)


def pool_workload(name, op, batch, channels, size, kernel, stride=None, padding=0, ceil_mode=False,
                  return_indices=False, default=False):
    """A max_pool2d or avg_pool2d workload on a square NCHW input with a square window."""
    params = dict(op=op, batch=batch, channels=channels, height=size, width=size, kernel=kernel,
                  stride=kernel if stride is None else stride, padding=padding, ceil_mode=ceil_mode,
                  return_indices=return_indices)
    text = (f"{op}_pool2d N={batch} C={channels} @{size}x{size} {kernel}x{kernel}/{params['stride']} pad {padding}"
            + (" ceil" if ceil_mode else "") + (" with indices" if return_indices else ""))
    return Workload(name, "pool2d", text, params, default)


def pool_arrays(params, dtype, rng) -> Dict[str, np.ndarray]:
    p = params
    x = rng.standard_normal((p["batch"], p["channels"], p["height"], p["width"]), dtype=np.float32).astype(dtype)
    return {"x": x}


def _pool_args(params):
    args = dict(kernel_size=params["kernel"], stride=params["stride"], padding=params["padding"],
                ceil_mode=params["ceil_mode"])
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

# ResNet-18's stem max pooling (3x3/2, pad 1) and a 2x2/2 average pooling (PERFORMANCE.md's pair).
register_workload(pool_workload("maxpool-3x3s2p1-64@112", "max", 1, 64, 112, 3, 2, 1, default=True))
register_workload(pool_workload("maxpool-3x3s2p1-64@112-n8", "max", 8, 64, 112, 3, 2, 1))
register_workload(pool_workload("maxpool-3x3s2p1-64@112-indices", "max", 1, 64, 112, 3, 2, 1, return_indices=True))
register_workload(pool_workload("avgpool-2x2s2-128@56-n8", "avg", 8, 128, 56, 2, default=True))
register_workload(pool_workload("avgpool-3x3s1p1-64@56-n8", "avg", 8, 64, 56, 3, 1, 1))


# --------------------------------------------------------------------------------------------
# Peers' import (torch's ISA must be chosen before its first import)

_TORCH_ISA = "native"


def configure_torch_isa(choice: str) -> None:
    """"avx2": cap oneDNN and ATen at AVX2; must run before torch is imported."""
    global _TORCH_ISA
    if choice not in ("native", "avx2"):
        raise ValueError(f"torch_isa must be 'native' or 'avx2', got {choice!r}")
    if choice == "avx2":
        if "torch" in sys.modules and _TORCH_ISA != "avx2":
            raise RuntimeError("torch is already imported; --torch-isa avx2 must be applied before")
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        os.environ["ATEN_CPU_CAPABILITY"] = "avx2"
    _TORCH_ISA = choice


def import_torch():
    try:
        import torch
    except ImportError:
        raise Unavailable("n/a (not installed)") from None
    return torch


def torch_description() -> str:
    try:
        torch = import_torch()
    except Unavailable:
        return "torch: not installed"
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: "?")()
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA", "default (all the CPU has)")
    return f"torch {torch.__version__}: ATen CPU capability {capability}, oneDNN max ISA {onednn}"


# --------------------------------------------------------------------------------------------
# The machine's peak


# float32 lanes of one FMA per kernel family; "generic" is measured against the AVX2 peak
# (what the CPU could do with the portable code's work), which it is not expected to reach.
FMA_LANES = {"avx512": 16, "avx2": 8, "generic": 8}
FMA_PIPES = 2  # two FMA units per core on the x86-64 cores of this class (Zen 3-5, Skylake-SP and later)


@dataclass
class Peak:
    """The "% peak" denominator: the float32 FMA rate of the active kernel family on `threads`
    threads, measured (fieldconv._core.fma_peak_gflops: independent FMA chains on every thread
    at once, so turbo clocks count) or, with --ghz, computed from a given clock."""

    peak_gflops: float
    source: str
    threads: int
    blas_gflops: Optional[float]
    isa: str = "avx2"

    def describe(self) -> str:
        lines = [f"% peak = GFLOP/s / {self.isa} FMA peak on {self.threads} threads = {self.peak_gflops:.0f} GFLOP/s "
                 f"({self.source})"]
        if self.blas_gflops is not None:
            lines.append(
                f"practical ceiling for comparison: NumPy float32 matmul 2048^3 (BLAS, its own thread count, "
                f"may use AVX-512) = {self.blas_gflops:.0f} GFLOP/s = "
                f"{100 * self.blas_gflops / self.peak_gflops:.0f} % of that peak"
            )
        return "\n".join(lines)


def measure_peak(threads: int, blas: bool = True, ghz: Optional[float] = None, isa: str = "avx2") -> Peak:
    peak_isa = isa if isa in FMA_LANES else "avx2"
    if ghz:
        lanes = FMA_LANES[peak_isa]
        peak = FMA_PIPES * lanes * 2 * ghz * threads
        source = f"--ghz: {FMA_PIPES} FMA pipes x {lanes} fp32 lanes x 2 flop x {ghz:.2f} GHz x {threads} threads"
    else:
        from . import _core

        peak = float(_core.fma_peak_gflops(threads))
        source = "measured now: independent float32 FMA chains of these kernels on every thread at once"
    blas_gflops = None
    if blas:
        a = np.random.default_rng(1).standard_normal((2048, 2048), dtype=np.float32)
        b = a.T.copy()
        a @ b  # warm-up
        times = []
        for _ in range(3):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
        blas_gflops = 2 * 2048**3 / min(times) / 1e9
    return Peak(peak, source, threads, blas_gflops, peak_isa)


def load_warning(threads: int) -> Optional[str]:
    """A warning when other processes keep the CPUs busy (1-minute load average)."""
    try:
        with open("/proc/loadavg") as handle:
            load = float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load + threads > cpus + 0.5:
        return (f"WARNING: load average {load:.1f} on {cpus} CPUs before this run: other processes compete for "
                f"the cores, so multi-threaded times (of every implementation) are unreliable; compare the "
                f"ratios, rerun on a quiet machine, use --threads 1, or set OMP_WAIT_POLICY=PASSIVE (spin-waiting "
                f"OpenMP threads of every library lose their time slices to the other processes)")
    return None


# --------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Result:
    workload: str
    implementation: str
    ours: bool = False
    status: str = "ok"  # or the reason it did not run
    seconds: List[float] = field(default_factory=list)  # per call, one per round
    median_seconds: Optional[float] = None
    gflops: Optional[float] = None
    peak_percent: Optional[float] = None
    ratio: Optional[float] = None  # this time / the baseline's time (> 1: slower than fieldconv)


MIN_ROUND_SECONDS = 0.005
# Pause before each timed block: thread pools (OpenMP, BLAS) spin-wait for a while after their
# last parallel region; with 2 cores that spinning would be charged to whoever runs next.
SETTLE_SECONDS = 0.02


def time_call(function, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def run_workload(workload: Workload, threads: int, repeats: int, peak: Peak) -> List[Result]:
    arrays = workload.make_arrays()
    flops = workload.flops()
    entries = []  # (implementation, result, function, calls per round)
    for implementation in IMPLEMENTATIONS[workload.kind]:
        result = Result(workload.name, implementation.name, implementation.ours)
        function = None
        try:
            function = implementation.prepare(workload, arrays, threads)
            first = time_call(function, 1)  # warm-up (first calls may build plans, caches)
            if first < 0.5:
                first = min(first, time_call(function, 1))  # a warm call sizes the rounds
            if implementation.max_seconds is not None and first > implementation.max_seconds:
                raise Unavailable(f"skipped ({first:.1f} s per call)")
        except Unavailable as reason:
            result.status = str(reason)
            function = None
        calls = max(1, int(MIN_ROUND_SECONDS / max(first, 1e-7))) if function is not None else 0
        entries.append((implementation, result, function, calls))

    for round_index in range(repeats):
        # rotate who goes first, so no implementation always follows the same neighbour
        shift = round_index % max(1, len(entries))
        for implementation, result, function, calls in entries[shift:] + entries[:shift]:
            if function is None:
                continue
            if implementation.max_rounds is not None and round_index >= implementation.max_rounds:
                continue
            time.sleep(SETTLE_SECONDS)
            result.seconds.append(time_call(function, calls))

    baseline = None
    for implementation, result, _, _ in entries:
        if result.seconds:
            result.median_seconds = statistics.median(result.seconds)
            if flops is not None:
                result.gflops = flops / result.median_seconds / 1e9
                result.peak_percent = 100 * result.gflops / peak.peak_gflops
            if implementation.ours and baseline is None:
                baseline = result.median_seconds
    for _, result, _, _ in entries:
        if result.median_seconds is not None and baseline is not None:
            result.ratio = result.median_seconds / baseline
    return [result for _, result, _, _ in entries]


# --------------------------------------------------------------------------------------------
# Output


def _format_time(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _baseline(results: Sequence[Result]) -> Optional[Result]:
    return next((r for r in results if r.ours and r.median_seconds is not None), None)


def format_workload_table(workload: Workload, results: Sequence[Result]) -> str:
    flops = workload.flops()
    header = f"{workload.name}: {workload.description}" + (
        f"  ({flops / 1e9:.3f} GFLOP per call)" if flops is not None else "")
    baseline = _baseline(results)
    rows = [("implementation", "median time", "best", "GFLOP/s", "% peak",
             f"time / {baseline.implementation}" if baseline else "time ratio")]
    for result in results:
        if result.median_seconds is None:
            rows.append((result.implementation, result.status, "", "", "", ""))
            continue
        ratio = "1 (baseline)" if result is baseline else (f"{result.ratio:.2f}x" if result.ratio is not None else "")
        rows.append((result.implementation, _format_time(result.median_seconds), _format_time(min(result.seconds)),
                     "" if result.gflops is None else f"{result.gflops:.1f}",
                     "" if result.peak_percent is None else f"{result.peak_percent:.0f} %", ratio))
    return header + "\n" + _table(rows)


def format_summary(results_by_workload: Dict[str, List[Result]], implementations: Sequence[str]) -> str:
    """One row per workload: fieldconv's implementation, time, GFLOP/s and % peak, then each peer
    that ran on it as "name ratio" (peer time / ours: > 1, fieldconv is faster) or its status.
    One peers column serves workloads of every kind (conv, pooling, filters)."""
    rows = [("workload", "ours", "time", "GFLOP/s", "% peak", "peers (peer time / ours)")]
    for name, results in results_by_workload.items():
        base = _baseline(results)
        peers = []
        for result in results:
            if result is base or result.implementation not in implementations:
                continue
            if result.ratio is not None:
                peers.append(f"{result.implementation} {result.ratio:.2f}x")
            elif result.status != "ok":
                peers.append(f"{result.implementation} {result.status}")
        rows.append((
            name,
            base.implementation if base else "",
            _format_time(base.median_seconds) if base else "",
            f"{base.gflops:.1f}" if base and base.gflops is not None else "",
            f"{base.peak_percent:.0f} %" if base and base.peak_percent is not None else "",
            ", ".join(peers),
        ))
    return _table(rows)


def _table(rows) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line


def select_workloads(choice: str) -> List[Workload]:
    if choice == "default":
        return [w for w in WORKLOADS.values() if w.default]
    if choice == "all":
        return list(WORKLOADS.values())
    names = [name.strip() for name in choice.split(",") if name.strip()]
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {', '.join(unknown)}; choose from default, all, "
                         + ", ".join(WORKLOADS))
    return [WORKLOADS[name] for name in names]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=2, help="threads for fieldconv and torch (default 2)")
    parser.add_argument("--workload", default="default",
                        help="default (a representative subset, < 60 s), all, or comma-separated names "
                             "(--list shows them)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds per workload (default 7)")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement to PATH as JSON")
    parser.add_argument("--torch-isa", choices=("native", "avx2"), default="native",
                        help="avx2: cap torch (oneDNN, ATen) at AVX2 (compare with --isa avx2); "
                             "native: whatever the CPU has (AVX-512, if present)")
    parser.add_argument("--isa", choices=("auto", "generic", "avx2", "avx512"), default="auto",
                        help="fieldconv's kernel family (default: the best this CPU supports)")
    parser.add_argument("--no-blas-peak", action="store_true", help="skip the NumPy matmul peak probe")
    parser.add_argument("--ghz", type=float, default=None,
                        help="compute the FMA peak from this clock (2 pipes x lanes x 2 x GHz x threads) "
                             "instead of measuring it")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument("--contention", action="store_true",
                        help="instead of the peers: fieldconv at 1 thread against --threads, quiet, beside a "
                             "competing busy process, beside other libraries' thread pools, and under dask's "
                             "threaded scheduler")


def run(args: argparse.Namespace, out=None) -> Dict[str, List[Result]]:
    out = out or sys.stdout
    if args.list:
        for workload in WORKLOADS.values():
            print(f"{workload.name:28s} {'default' if workload.default else '       '}  {workload.description}", file=out)
        return {}
    if args.threads < 1 or args.repeats < 1:
        raise SystemExit("--threads and --repeats must be at least 1")
    if getattr(args, "contention", False):
        from . import _threads_bench

        _threads_bench.run(threads=args.threads, rounds=args.repeats, out=out)
        return {}
    configure_torch_isa(args.torch_isa)  # before anything imports torch
    import fieldconv

    workloads = select_workloads(args.workload)
    fieldconv.set_num_threads(args.threads)
    if getattr(args, "isa", "auto") != "auto":
        from . import _core

        try:
            _core.set_isa(args.isa)
        except ValueError as error:
            raise SystemExit(f"--isa {args.isa}: {error}") from None
    peak = measure_peak(args.threads, blas=not args.no_blas_peak, ghz=args.ghz, isa=fieldconv.get_isa())
    print(f"fieldconv {fieldconv.__version__} ({fieldconv.get_isa()} kernels, {args.threads} threads); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", file=out)
    print(torch_description(), file=out)
    print(f"times: median (and best) of {args.repeats} interleaved rounds (scipy: at most 3), float32 NCHW; "
          f"GFLOP/s, % peak and ratios from the median", file=out)
    print(peak.describe(), file=out)
    warning = load_warning(args.threads)
    if warning:
        print(warning, file=out)
    print(file=out)

    results: Dict[str, List[Result]] = {}
    implementations: List[str] = []
    for workload in workloads:
        results[workload.name] = run_workload(workload, args.threads, args.repeats, peak)
        for result in results[workload.name]:
            if result.implementation not in implementations:
                implementations.append(result.implementation)
        print(format_workload_table(workload, results[workload.name]), file=out)
        print(file=out, flush=True)
    print("summary (peer time / fieldconv time: > 1 means fieldconv is faster)", file=out)
    print(format_summary(results, implementations), file=out)

    if args.json:
        document = {
            "fieldconv_version": fieldconv.__version__,
            "isa": fieldconv.get_isa(),
            "threads": args.threads,
            "repeats": args.repeats,
            "torch_isa": args.torch_isa,
            "torch": torch_description(),
            "peak": asdict(peak),
            "workloads": {w.name: asdict(w) for w in workloads},
            "results": [asdict(r) for rs in results.values() for r in rs],
        }
        with open(args.json, "w") as handle:
            json.dump(document, handle, indent=2)
        print(f"\nwrote {args.json}", file=out)
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fieldconv bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    run(parser.parse_args(argv))
    return 0


# --------------------------------------------------------------------------------------------
# filter2d: the SciPy drop-ins on single float32 images (bench/test_bench_filter.py runs the
# same grid under pytest-benchmark). border "constant" (zero fill) or "reflect" (edge repeated:
# ndimage "reflect" = signal "symm" = cv2 BORDER_REFLECT); odd kernels, centred.


def filter_workload(size, kernel, border, default=False):
    params = dict(size=size, kernel=kernel, border=border)
    return Workload(f"filter-{size}-{kernel}x{kernel}-{border}", "filter2d",
                    f"one {size}x{size} image, {kernel}x{kernel} kernel, {border} border", params, default)


def filter_arrays(params, dtype, rng) -> Dict[str, np.ndarray]:
    size, kernel = params["size"], params["kernel"]
    return {"image": rng.standard_normal((size, size), dtype=np.float32).astype(dtype),
            "kernel": rng.standard_normal((kernel, kernel), dtype=np.float32).astype(dtype)}


def _filter_runner(function):
    def prepare(workload, arrays, threads):
        import fieldconv

        fieldconv.set_num_threads(threads)
        return function(workload.params["border"], arrays["image"], arrays["kernel"])
    return prepare


def _fieldconv_ndimage(border, image, kernel):
    import fieldconv.ndimage

    return lambda: fieldconv.ndimage.correlate(image, kernel, mode=border)


def _fieldconv_signal(border, image, kernel):
    import fieldconv

    boundary = "fill" if border == "constant" else "symm"
    return lambda: fieldconv.correlate2d(image, kernel, "same", boundary)


def _scipy_ndimage(border, image, kernel):
    if importlib.util.find_spec("scipy") is None:
        raise Unavailable("not installed")
    from scipy import ndimage

    return lambda: ndimage.correlate(image, kernel, mode=border)


def _scipy_signal(border, image, kernel):
    if importlib.util.find_spec("scipy") is None:
        raise Unavailable("not installed")
    from scipy import signal

    boundary = "fill" if border == "constant" else "symm"
    return lambda: signal.correlate2d(image, kernel, "same", boundary)


def _cv2_filter2d(border, image, kernel):
    if importlib.util.find_spec("cv2") is None:
        raise Unavailable("not installed")
    import cv2

    border_type = cv2.BORDER_CONSTANT if border == "constant" else cv2.BORDER_REFLECT
    return lambda: cv2.filter2D(image, -1, kernel, borderType=border_type)


register_kind("filter2d", lambda p: 2.0 * p["size"] ** 2 * p["kernel"] ** 2, filter_arrays)
register_implementation("filter2d", Implementation("fieldconv ndimage", _filter_runner(_fieldconv_ndimage), ours=True))
register_implementation("filter2d", Implementation("fieldconv correlate2d", _filter_runner(_fieldconv_signal), ours=True))
register_implementation("filter2d", Implementation("scipy ndimage", _filter_runner(_scipy_ndimage), max_rounds=3,
                                                   max_seconds=SCIPY_LIMIT_SECONDS))
register_implementation("filter2d", Implementation("scipy correlate2d", _filter_runner(_scipy_signal), max_rounds=3,
                                                   max_seconds=SCIPY_LIMIT_SECONDS))
register_implementation("filter2d", Implementation("cv2 filter2D", _filter_runner(_cv2_filter2d)))
for _size in (512, 2048):
    for _kernel in (3, 5, 7, 15):
        for _border in ("constant", "reflect"):
            register_workload(filter_workload(_size, _kernel, _border,
                                              default=(_size, _kernel) in ((512, 3), (2048, 7)) and _border == "constant"))
