"""Drop-in workloads beyond the 2-D filters: scipy.ndimage with N-D weights, gaussian_filter and
numpy.convolve, each against the function it replaces (and scipy.signal.oaconvolve for long
kernels). bench/test_bench_numeric.py and bench/test_bench_line_filters.py time the same calls
under pytest-benchmark."""

from __future__ import annotations

import importlib.util
import math
from typing import Dict

import numpy as np
from .peers import SCIPY_LIMIT_SECONDS
from .registry import Implementation, Unavailable, Workload, register_implementation, register_kind, register_workload


def _need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise Unavailable("not installed")


def _runner(function):
    """prepare(workload, arrays, threads) for a function of (params, arrays)."""

    def prepare(workload, arrays, threads):
        import fieldconv

        fieldconv.set_num_threads(threads)
        return function(workload.params, arrays)

    return prepare


# --------------------------------------------------------------------------------------------
# ndimage-nd: scipy.ndimage.correlate with weights of as many axes as the volume (reflect mode)


def nd_workload(size: int, kernel: int, dtype: str, ndim: int = 3, default: bool = False) -> Workload:
    shape = "x".join([str(kernel)] * ndim)
    params = dict(shape=[size] * ndim, kernel=[kernel] * ndim)
    return Workload(
        f"ndimage-{size}^{ndim}-{shape}-{dtype}",
        "ndimage-nd",
        f"ndimage.correlate, a {size}^{ndim} {dtype} volume, {shape} weights",
        params,
        default,
        dtype,
    )


def nd_arrays(params, dtype, rng) -> Dict[str, np.ndarray]:
    return {
        "volume": rng.standard_normal(params["shape"]).astype(dtype),
        "weights": rng.standard_normal(params["kernel"]).astype(dtype),
    }


def _fieldconv_nd(params, arrays):
    import fieldconv.ndimage

    return lambda: fieldconv.ndimage.correlate(arrays["volume"], arrays["weights"])


def _scipy_nd(params, arrays):
    _need("scipy")
    from scipy import ndimage

    return lambda: ndimage.correlate(arrays["volume"], arrays["weights"])


register_kind("ndimage-nd", lambda p: 2.0 * math.prod(p["shape"]) * math.prod(p["kernel"]), nd_arrays)
register_implementation("ndimage-nd", Implementation("fieldconv ndimage", _runner(_fieldconv_nd), ours=True))
register_implementation(
    "ndimage-nd",
    Implementation("scipy ndimage", _runner(_scipy_nd), max_rounds=3, max_seconds=SCIPY_LIMIT_SECONDS),
)

# --------------------------------------------------------------------------------------------
# gaussian: scipy.ndimage.gaussian_filter (truncate 4: 2 * ceil(4 sigma) + 1 taps per axis)


def gaussian_workload(size: int, ndim: int, sigma: float, dtype: str, default: bool = False) -> Workload:
    return Workload(
        f"gaussian-{size}^{ndim}-{dtype}",
        "gaussian",
        f"ndimage.gaussian_filter, a {size}^{ndim} {dtype} array, sigma {sigma:g}",
        dict(shape=[size] * ndim, sigma=sigma),
        default,
        dtype,
    )


def gaussian_arrays(params, dtype, rng) -> Dict[str, np.ndarray]:
    return {"input": rng.standard_normal(params["shape"]).astype(dtype)}


def _gaussian_flops(params) -> float:
    taps = 2 * math.ceil(4.0 * params["sigma"]) + 1
    return 2.0 * math.prod(params["shape"]) * taps * len(params["shape"])


def _fieldconv_gaussian(params, arrays):
    import fieldconv.ndimage

    return lambda: fieldconv.ndimage.gaussian_filter(arrays["input"], params["sigma"])


def _scipy_gaussian(params, arrays):
    _need("scipy")
    from scipy import ndimage

    return lambda: ndimage.gaussian_filter(arrays["input"], params["sigma"])


register_kind("gaussian", _gaussian_flops, gaussian_arrays)
register_implementation("gaussian", Implementation("fieldconv ndimage", _runner(_fieldconv_gaussian), ours=True))
register_implementation(
    "gaussian",
    Implementation("scipy ndimage", _runner(_scipy_gaussian), max_rounds=3, max_seconds=SCIPY_LIMIT_SECONDS),
)

# --------------------------------------------------------------------------------------------
# convolve: numpy.convolve(a, v) ("full") of a long signal


def convolve_workload(samples: int, taps: int, dtype: str = "float64", default: bool = False) -> Workload:
    return Workload(
        f"convolve-{samples:.0e}x{taps}-{dtype}".replace("+0", ""),
        "convolve",
        f"numpy.convolve, {samples} {dtype} samples, {taps} taps, mode 'full' (GFLOP/s and % peak count "
        "the direct sums' 2 x samples x taps: an FFT's is an equivalent rate, and may pass 100 %)",
        dict(samples=samples, taps=taps),
        default,
        dtype,
    )


def convolve_arrays(params, dtype, rng) -> Dict[str, np.ndarray]:
    return {
        "a": rng.standard_normal(params["samples"]).astype(dtype),
        "v": rng.standard_normal(params["taps"]).astype(dtype),
    }


def _fieldconv_convolve(params, arrays):
    import fieldconv

    return lambda: fieldconv.convolve(arrays["a"], arrays["v"])


def _fieldconv_convolve_direct(params, arrays):
    import fieldconv

    return lambda: fieldconv.convolve(arrays["a"], arrays["v"], method="direct")


def _numpy_convolve(params, arrays):
    return lambda: np.convolve(arrays["a"], arrays["v"])


def _scipy_oaconvolve(params, arrays):
    _need("scipy")
    from scipy import signal

    return lambda: signal.oaconvolve(arrays["a"], arrays["v"])


register_kind("convolve", lambda p: 2.0 * p["samples"] * p["taps"], convolve_arrays)
register_implementation("convolve", Implementation("fieldconv convolve", _runner(_fieldconv_convolve), ours=True))
# the direct sums too, where "auto" takes an FFT: what the cost model's choice gains in the same run
register_implementation(
    "convolve", Implementation("fieldconv convolve direct", _runner(_fieldconv_convolve_direct), ours=True)
)
register_implementation(
    "convolve",
    Implementation("numpy convolve", _runner(_numpy_convolve), max_rounds=3, max_seconds=SCIPY_LIMIT_SECONDS),
)
register_implementation("convolve", Implementation("scipy oaconvolve", _runner(_scipy_oaconvolve)))

# The drop-in speed bars: 128^3 volumes with 3x3x3 and 5x5x5 weights, gaussian_filter (sigma 2)
# of a 2048^2 float32 image and a 128^3 float64 volume, numpy.convolve of 10^6 float64 samples
# with 101 and 10^4 taps.
for _dtype in ("float32", "float64"):
    for _kernel in (3, 5):
        register_workload(nd_workload(128, _kernel, _dtype))
register_workload(gaussian_workload(2048, 2, 2.0, "float32"))
register_workload(gaussian_workload(128, 3, 2.0, "float64"))
register_workload(convolve_workload(10**6, 101))
register_workload(convolve_workload(10**6, 10**4))
