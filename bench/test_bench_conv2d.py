"""pytest-benchmark suites on the workloads of ``python -m fieldconv bench``.

    python -m pytest bench --benchmark-group-by=param:workload            # every workload
    python -m pytest bench -k "default" --benchmark-compare                # the default subset

Workload definitions and implementations come from fieldconv.benchmark (one registry), so the
command and these suites time the same problems the same way. Threads: FIELDCONV_BENCH_THREADS
(default 2) for fieldconv and torch alike.
"""

from __future__ import annotations

import pytest
from conftest import run_registered, workload_id

from fieldconv import benchmark

CONV_WORKLOADS = [w for w in benchmark.WORKLOADS.values() if w.kind == "conv2d"]


@pytest.mark.parametrize("workload", CONV_WORKLOADS, ids=workload_id)
def test_fieldconv_direct(benchmark, workload, arrays_by_workload):
    run_registered(benchmark, workload, "fieldconv direct", arrays_by_workload)


@pytest.mark.parametrize("workload", CONV_WORKLOADS, ids=workload_id)
def test_torch(benchmark, workload, arrays_by_workload):
    pytest.importorskip("torch")
    run_registered(benchmark, workload, "torch", arrays_by_workload)
