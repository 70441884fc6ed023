"""pytest-benchmark suite for the 1-D / separable ndimage drop-ins (2 threads by default).

Run: python -m pytest bench/test_bench_line_filters.py --benchmark-group-by=param:workload
The issue's workloads: gaussian_filter sigma 2 on 2048^2 float32 and on 128^3 float64, plus
uniform_filter and sobel. Compare fieldconv with scipy.ndimage in the same run (the machine may
be shared).
"""

from __future__ import annotations

import numpy as np
import pytest

import fieldconv

WORKLOADS = {
    "gaussian-2048sq-f32": (lambda nd, x: nd.gaussian_filter(x, 2.0), (2048, 2048), np.float32),
    "gaussian-128cube-f64": (lambda nd, x: nd.gaussian_filter(x, 2.0), (128, 128, 128), np.float64),
    "uniform5-2048sq-f32": (lambda nd, x: nd.uniform_filter(x, 5), (2048, 2048), np.float32),
    "sobel-2048sq-u8": (lambda nd, x: nd.sobel(x), (2048, 2048), np.uint8),
}


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    previous = fieldconv.get_num_threads()
    fieldconv.set_num_threads(2)
    yield
    fieldconv.set_num_threads(previous)


def _data(shape, dtype):
    rng = np.random.default_rng(15)
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, 256, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@pytest.mark.parametrize("impl", ["fieldconv", "scipy"])
def test_line_filters(benchmark, impl, workload):
    call, shape, dtype = WORKLOADS[workload]
    x = _data(shape, dtype)
    if impl == "scipy":
        ndimage = pytest.importorskip("scipy.ndimage")
        benchmark.pedantic(call, (ndimage, x), rounds=3, iterations=1)
    else:
        benchmark(call, fieldconv.ndimage, x)
