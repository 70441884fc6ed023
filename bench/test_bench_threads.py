"""pytest-benchmark suite of the threading scenario of ``python -m fieldconv bench --contention``:
every op of the threading bar at 1 thread and at FIELDCONV_BENCH_THREADS (default 2), with a
competing busy process on one core for the whole module (started and stopped here).

    python -m pytest bench/test_bench_threads.py --benchmark-group-by=param:op

Compare each op's two rows: the bar is time at 1 thread / time at 2 threads >= 0.9.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import THREADS

import fieldconv
from fieldconv.benchmark import contention

OPS = contention.operations(np.random.default_rng(0))


@pytest.fixture(scope="module")
def competing_process():
    with contention.CompetingProcess() as competitor:
        yield competitor


@pytest.mark.parametrize("threads", sorted({1, THREADS}))
@pytest.mark.parametrize("op", list(OPS))
def test_op_under_contention(benchmark, competing_process, op, threads):
    benchmark.group = op
    benchmark.extra_info["threads"] = threads
    benchmark.extra_info["competing_cpu"] = competing_process.cpu
    with fieldconv.threads(threads):
        assert benchmark(OPS[op]) is not None
