"""pytest-benchmark suite for fieldconv.convolve against numpy.convolve and scipy.signal.oaconvolve.

Run: python -m pytest bench/test_bench_numeric.py --benchmark-group-by=param:workload
The issue's workloads: 10^6 float64 samples with 101 taps (direct path) and with 10^4 taps
(FFT path). Compare with the peers in the same run (the machine may be shared).
"""

from __future__ import annotations

import numpy as np
import pytest

import fieldconv

WORKLOADS = {"1e6-101taps": (10**6, 101), "1e6-10000taps": (10**6, 10**4)}


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    previous = fieldconv.get_num_threads()
    fieldconv.set_num_threads(2)
    yield
    fieldconv.set_num_threads(previous)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@pytest.mark.parametrize("impl", ["fieldconv", "numpy", "oaconvolve"])
def test_convolve(benchmark, impl, workload):
    n, taps = WORKLOADS[workload]
    rng = np.random.default_rng(15)
    a, v = rng.standard_normal(n), rng.standard_normal(taps)
    if impl == "numpy":
        if taps > 1000:
            pytest.skip("numpy.convolve takes seconds here")
        benchmark.pedantic(np.convolve, (a, v), rounds=3, iterations=1)
    elif impl == "oaconvolve":
        signal = pytest.importorskip("scipy.signal")
        benchmark.pedantic(signal.oaconvolve, (a, v), rounds=3, iterations=1)
    else:
        benchmark(fieldconv.convolve, a, v)
