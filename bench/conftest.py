"""Shared by the suites that time the registry of ``python -m fieldconv bench``
(test_bench_conv2d.py, test_bench_pool2d.py): thread count, workload ids, arrays made once per
workload, and one timed run of a registered implementation."""

from __future__ import annotations

import os

import pytest

from fieldconv import benchmark

# Threads for fieldconv and torch alike.
THREADS = int(os.environ.get("FIELDCONV_BENCH_THREADS", "2"))


def workload_id(workload) -> str:
    return workload.name + ("-default" if workload.default else "")


@pytest.fixture(scope="session")
def arrays_by_workload():
    cache = {}

    def get(workload):
        if workload.name not in cache:
            cache[workload.name] = workload.make_arrays()
        return cache[workload.name]

    return get


def run_registered(benchmark_fixture, workload, implementation_name, arrays_by_workload):
    """Times the implementation registered under implementation_name for the workload's kind,
    skipping when it is unavailable (not installed, or not applicable to the workload)."""
    implementation = {i.name: i for i in benchmark.IMPLEMENTATIONS[workload.kind]}[implementation_name]
    try:
        function = implementation.prepare(workload, arrays_by_workload(workload), THREADS)
    except benchmark.Unavailable as reason:
        pytest.skip(f"{implementation_name}: {reason}")
    benchmark_fixture.group = workload.name
    benchmark_fixture.extra_info["threads"] = THREADS
    flops = workload.flops()
    if flops is not None:
        benchmark_fixture.extra_info["gflop"] = flops / 1e9
    assert benchmark_fixture(function) is not None
