"""pytest-benchmark suites on the workloads of ``python -m fieldconv bench``.

    python -m pytest bench --benchmark-group-by=param:workload            # every workload
    python -m pytest bench -k "default" --benchmark-compare                # the default subset

Workload definitions and implementations come from fieldconv.benchmark (one registry), so the
command and these suites time the same problems the same way. Threads: FIELDCONV_BENCH_THREADS
(default 2) for fieldconv and torch alike.
"""
from __future__ import annotations

import os

import pytest

from fieldconv import benchmark

THREADS = int(os.environ.get("FIELDCONV_BENCH_THREADS", "2"))
CONV_WORKLOADS = [w for w in benchmark.WORKLOADS.values() if w.kind == "conv2d"]
IMPLEMENTATIONS = {i.name: i for i in benchmark.IMPLEMENTATIONS["conv2d"]}


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
    benchmark_fixture.extra_info.update(gflop=workload.flops() / 1e9, threads=THREADS)
    result = benchmark_fixture(function)
    assert result is not None


@pytest.mark.parametrize("workload", CONV_WORKLOADS, ids=_id)
def test_fieldconv_direct(benchmark, workload, arrays_by_workload):
    _run(benchmark, workload, "fieldconv direct", arrays_by_workload)


@pytest.mark.parametrize("workload", CONV_WORKLOADS, ids=_id)
def test_torch(benchmark, workload, arrays_by_workload):
    pytest.importorskip("torch")
    _run(benchmark, workload, "torch", arrays_by_workload)
