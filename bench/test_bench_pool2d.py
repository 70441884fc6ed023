"""Pooling benchmarks: fieldconv vs PyTorch (float32, NCHW) on the workloads of the performance bar.

Run: python -m pytest bench/test_bench_pool2d.py --benchmark-group-by=param:workload
Threads: FIELDCONV_BENCH_THREADS (default 2) for both libraries. PyTorch is skipped if absent.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import fieldconv

pytest.importorskip("pytest_benchmark")

THREADS = int(os.environ.get("FIELDCONV_BENCH_THREADS", "2"))

# name: (input shape, op, keyword arguments)
WORKLOADS = {
    "max3x3s2p1-1x64x112": ((1, 64, 112, 112), "max", dict(kernel_size=3, stride=2, padding=1)),
    "max3x3s2p1-8x64x112": ((8, 64, 112, 112), "max", dict(kernel_size=3, stride=2, padding=1)),
    "max3x3s2p1-indices-1x64x112": ((1, 64, 112, 112), "max", dict(kernel_size=3, stride=2, padding=1,
                                                                   return_indices=True)),
    "avg2x2s2-8x128x56": ((8, 128, 56, 56), "avg", dict(kernel_size=2, stride=2)),
    "avg3x3s1p1-8x64x56": ((8, 64, 56, 56), "avg", dict(kernel_size=3, stride=1, padding=1)),
}


@pytest.fixture(scope="module")
def threads():
    previous = fieldconv.get_num_threads()
    fieldconv.set_num_threads(THREADS)
    yield THREADS
    fieldconv.set_num_threads(previous)


def make_call(library, workload):
    shape, op, kwargs = WORKLOADS[workload]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    if library == "fieldconv":
        function = fieldconv.max_pool2d if op == "max" else fieldconv.avg_pool2d
        return lambda: function(x, **kwargs)
    torch = pytest.importorskip("torch")
    torch.set_num_threads(THREADS)
    t = torch.from_numpy(x)
    function = torch.nn.functional.max_pool2d if op == "max" else torch.nn.functional.avg_pool2d
    return lambda: function(t, **kwargs)


@pytest.mark.parametrize("library", ["fieldconv", "torch"])
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_pool2d(benchmark, threads, library, workload):
    call = make_call(library, workload)
    benchmark.group = workload
    benchmark.extra_info.update(library=library, threads=threads)
    result = benchmark(call)
    assert result is not None
