"""pytest-benchmark suite of the pooling workloads of ``python -m fieldconv bench``.

    python -m pytest bench/test_bench_pool2d.py --benchmark-group-by=param:workload

Workloads (ResNet-18's 3x3/2 max pooling at 1x and 8x64x112^2, with indices; 2x2/2 and 3x3/1
average pooling) and implementations (fieldconv, torch) come from fieldconv.benchmark, so the
command and this suite time the same problems. Threads: FIELDCONV_BENCH_THREADS (default 2) for
fieldconv and torch alike; torch is skipped when it is not installed.
"""
from __future__ import annotations

import os

import pytest

from fieldconv import benchmark

THREADS = int(os.environ.get("FIELDCONV_BENCH_THREADS", "2"))
POOL_WORKLOADS = [w for w in benchmark.WORKLOADS.values() if w.kind == "pool2d"]
IMPLEMENTATIONS = {i.name: i for i in benchmark.IMPLEMENTATIONS["pool2d"]}


def _id(workload):
    return workload.name + ("-default" if workload.default else "")


@pytest.fixture(scope="module")
def arrays_by_workload():
    cache = {}

    def get(workload):
        if workload.name not in cache:
            cache[workload.name] = workload.make_arrays()
        return cache[workload.name]

    return get


def _run(benchmark_fixture, workload, implementation_name, arrays_by_workload):
    implementation = IMPLEMENTATIONS[implementation_name]
    try:
        function = implementation.prepare(workload, arrays_by_workload(workload), THREADS)
    except benchmark.Unavailable as reason:
        pytest.skip(f"{implementation_name}: {reason}")
    benchmark_fixture.group = workload.name
    benchmark_fixture.extra_info.update(threads=THREADS)
    result = benchmark_fixture(function)
    assert result is not None


@pytest.mark.parametrize("workload", POOL_WORKLOADS, ids=_id)
def test_fieldconv_pool(benchmark, workload, arrays_by_workload):
    _run(benchmark, workload, "fieldconv pool", arrays_by_workload)


@pytest.mark.parametrize("workload", POOL_WORKLOADS, ids=_id)
def test_torch(benchmark, workload, arrays_by_workload):
    pytest.importorskip("torch")
    _run(benchmark, workload, "torch", arrays_by_workload)
