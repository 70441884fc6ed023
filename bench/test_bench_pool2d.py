"""pytest-benchmark suite of the pooling workloads of ``python -m fieldconv bench``.

    python -m pytest bench/test_bench_pool2d.py --benchmark-group-by=param:workload

Workloads (ResNet-18's 3x3/2 max pooling at 1x and 8x64x112^2, with indices; 2x2/2 and 3x3/1
average pooling) and implementations (fieldconv, torch) come from fieldconv.benchmark, so the
command and this suite time the same problems. Threads: FIELDCONV_BENCH_THREADS (default 2) for
fieldconv and torch alike; torch is skipped when it is not installed.
"""

from __future__ import annotations

import pytest
from conftest import run_registered, workload_id

from fieldconv import benchmark

POOL_WORKLOADS = [w for w in benchmark.WORKLOADS.values() if w.kind == "pool2d"]


@pytest.mark.parametrize("workload", POOL_WORKLOADS, ids=workload_id)
def test_fieldconv_pool(benchmark, workload, arrays_by_workload):
    run_registered(benchmark, workload, "fieldconv pool", arrays_by_workload)


@pytest.mark.parametrize("workload", POOL_WORKLOADS, ids=workload_id)
def test_torch(benchmark, workload, arrays_by_workload):
    pytest.importorskip("torch")
    run_registered(benchmark, workload, "torch", arrays_by_workload)
