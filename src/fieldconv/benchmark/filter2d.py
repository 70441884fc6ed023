"""filter2d workloads: the SciPy drop-ins on single float32 images, against SciPy and OpenCV."""

from __future__ import annotations

import importlib.util
from typing import Dict

import numpy as np
from .peers import SCIPY_LIMIT_SECONDS
from .registry import Implementation, Unavailable, Workload, register_implementation, register_kind, register_workload

# --------------------------------------------------------------------------------------------
# filter2d: the SciPy drop-ins on single float32 images (bench/test_bench_filter.py runs the
# same grid under pytest-benchmark). border "constant" (zero fill) or "reflect" (edge repeated:
# ndimage "reflect" = signal "symm" = cv2 BORDER_REFLECT); odd kernels, centred.


def filter_workload(size, kernel, border, default=False):
    params = dict(size=size, kernel=kernel, border=border)
    return Workload(
        f"filter-{size}-{kernel}x{kernel}-{border}",
        "filter2d",
        f"one {size}x{size} image, {kernel}x{kernel} kernel, {border} border",
        params,
        default,
    )


def filter_arrays(params, dtype, rng) -> Dict[str, np.ndarray]:
    size, kernel = params["size"], params["kernel"]
    return {
        "image": rng.standard_normal((size, size), dtype=np.float32).astype(dtype),
        "kernel": rng.standard_normal((kernel, kernel), dtype=np.float32).astype(dtype),
    }


def _filter_runner(function):
    def prepare(workload, arrays, threads):
        import fieldconv

        fieldconv.set_num_threads(threads)
        return function(workload.params["border"], arrays["image"], arrays["kernel"])

    return prepare


def _fieldconv_ndimage(border, image, kernel):
    import fieldconv.ndimage

    return lambda: fieldconv.ndimage.correlate(image, kernel, mode=border)


def _fieldconv_signal(border, image, kernel):
    import fieldconv

    boundary = "fill" if border == "constant" else "symm"
    return lambda: fieldconv.correlate2d(image, kernel, "same", boundary)


def _scipy_ndimage(border, image, kernel):
    if importlib.util.find_spec("scipy") is None:
        raise Unavailable("not installed")
    from scipy import ndimage

    return lambda: ndimage.correlate(image, kernel, mode=border)


def _scipy_signal(border, image, kernel):
    if importlib.util.find_spec("scipy") is None:
        raise Unavailable("not installed")
    from scipy import signal

    boundary = "fill" if border == "constant" else "symm"
    return lambda: signal.correlate2d(image, kernel, "same", boundary)


def _cv2_filter2d(border, image, kernel):
    if importlib.util.find_spec("cv2") is None:
        raise Unavailable("not installed")
    import cv2

    border_type = cv2.BORDER_CONSTANT if border == "constant" else cv2.BORDER_REFLECT
    return lambda: cv2.filter2D(image, -1, kernel, borderType=border_type)


register_kind("filter2d", lambda p: 2.0 * p["size"] ** 2 * p["kernel"] ** 2, filter_arrays)
register_implementation("filter2d", Implementation("fieldconv ndimage", _filter_runner(_fieldconv_ndimage), ours=True))
register_implementation(
    "filter2d", Implementation("fieldconv correlate2d", _filter_runner(_fieldconv_signal), ours=True)
)
register_implementation(
    "filter2d",
    Implementation("scipy ndimage", _filter_runner(_scipy_ndimage), max_rounds=3, max_seconds=SCIPY_LIMIT_SECONDS),
)
register_implementation(
    "filter2d",
    Implementation("scipy correlate2d", _filter_runner(_scipy_signal), max_rounds=3, max_seconds=SCIPY_LIMIT_SECONDS),
)
register_implementation("filter2d", Implementation("cv2 filter2D", _filter_runner(_cv2_filter2d)))
for _size in (512, 2048):
    for _kernel in (3, 5, 7, 15):
        for _border in ("constant", "reflect"):
            register_workload(
                filter_workload(
                    _size, _kernel, _border, default=(_size, _kernel) in ((512, 3), (2048, 7)) and _border == "constant"
                )
            )
