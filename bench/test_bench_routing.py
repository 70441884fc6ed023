"""pytest-benchmark suite: scikit-image's filters on SciPy, and routed to fieldconv by
``fieldconv.drop_in()`` (2 threads), in the same run.

Run: python -m pytest bench/test_bench_routing.py --benchmark-group-by=param:workload
Needs scikit-image (skipped without it).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import fieldconv

skimage_filters = pytest.importorskip("skimage.filters")
skimage_feature = pytest.importorskip("skimage.feature")

WORKLOADS = {
    "gaussian-s2-1024sq-u8": (lambda x: skimage_filters.gaussian(x, sigma=2, preserve_range=True), np.uint8),
    "gaussian-s2-1024sq-f64": (lambda x: skimage_filters.gaussian(x, sigma=2), np.float64),
    "sobel-1024sq-f64": (lambda x: skimage_filters.sobel(x), np.float64),
    "canny-s1.5-1024sq-f64": (lambda x: skimage_feature.canny(x, sigma=1.5), np.float64),
}


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    previous = fieldconv.get_num_threads()
    fieldconv.set_num_threads(2)
    yield
    fieldconv.set_num_threads(previous)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@pytest.mark.parametrize("backend", ["scipy", "fieldconv"])
def test_scikit_image(benchmark, backend, workload):
    call, dtype = WORKLOADS[workload]
    image = np.random.default_rng(16).integers(0, 256, size=(1024, 1024)).astype(np.uint8)
    x = image if dtype == np.uint8 else image / 255.0
    with fieldconv.drop_in() if backend == "fieldconv" else contextlib.nullcontext():
        benchmark(call, x)
