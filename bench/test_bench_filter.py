"""pytest-benchmark suite for the SciPy drop-ins (float32 images, 2 threads by default).

Run: python -m pytest bench/test_bench_filter.py --benchmark-group-by=param:size,param:k
Peers (scipy.signal, scipy.ndimage, cv2.filter2D) run when installed. The machine may be shared:
compare fieldconv with the peer in the same run (min and median), not across runs.
"""

from __future__ import annotations

import numpy as np
import pytest

import fieldconv

SIZES = [512, 2048]
KERNELS = [3, 5, 7, 15]


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    previous = fieldconv.get_num_threads()
    fieldconv.set_num_threads(2)
    yield
    fieldconv.set_num_threads(previous)


def _data(size, k):
    rng = np.random.default_rng(size * 100 + k)
    return rng.standard_normal((size, size)).astype(np.float32), rng.standard_normal((k, k)).astype(np.float32)


def _slow_peer_allowed(size, k):
    # scipy.signal's scalar loop takes seconds on 2048^2 with large kernels; keep the suite short
    return size * size * k * k <= 2048 * 2048 * 49


@pytest.mark.parametrize("k", KERNELS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("impl", ["fieldconv", "fieldconv-direct", "scipy"])
def test_correlate2d_same(benchmark, impl, size, k):
    image, kernel = _data(size, k)
    if impl == "scipy":
        signal = pytest.importorskip("scipy.signal")
        if not _slow_peer_allowed(size, k):
            pytest.skip("scipy.signal.correlate2d too slow for this size")
        benchmark.pedantic(signal.correlate2d, (image, kernel, "same"), rounds=3, iterations=1)
    else:
        method = "direct" if impl.endswith("direct") else "auto"
        benchmark(fieldconv.correlate2d, image, kernel, "same", method=method)


@pytest.mark.parametrize("k", KERNELS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("mode", ["reflect", "constant"])
@pytest.mark.parametrize("impl", ["fieldconv", "scipy", "cv2"])
def test_ndimage_correlate(benchmark, impl, mode, size, k):
    image, kernel = _data(size, k)
    if impl == "scipy":
        ndimage = pytest.importorskip("scipy.ndimage")
        benchmark.pedantic(ndimage.correlate, (image, kernel), {"mode": mode}, rounds=3, iterations=1)
    elif impl == "cv2":
        cv2 = pytest.importorskip("cv2")
        if mode != "constant":
            pytest.skip("cv2 compared on BORDER_CONSTANT")
        # filter2D correlates and anchors at the centre, as ndimage (odd kernels)
        benchmark(cv2.filter2D, image, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    else:
        benchmark(fieldconv.ndimage.correlate, image, kernel, mode=mode)
