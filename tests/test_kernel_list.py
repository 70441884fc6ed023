"""Every entry of the kernel list (csrc/kernels/kernel_list.inc, seen through _core.kernel_list())
against the plain NumPy references, on CPUs that can run it.

Each entry is made the one that runs (by selecting its ISA, under which the table picks it) and
checked on small problems that reach its code paths. The end of the test run reports which
entries ran and which were skipped for lack of CPU support (conftest.py).

Tolerances are the ones each family's own test module states and justifies: the normalised
error max|y - ref| / max(conv(|x|, |w|) + |b|) per output plane (reference.conv2d_error).
Pooling and integer filters are exact: max/avg of a few values and integer-valued sums of small
integers have one correct float answer.
"""

from __future__ import annotations

import numpy as np
import pytest

import fieldconv
from fieldconv import _core
from fieldconv import ndimage as fc_ndimage
from reference import avg_pool2d_reference, conv2d_error, correlate2d_reference, max_pool2d_reference

ENTRIES = _core.kernel_list()
FAMILIES = sorted({entry["family"] for entry in ENTRIES})
ISAS = [isa for _, isa in sorted({(entry["isa_rank"], entry["isa"]) for entry in ENTRIES})]  # portable first

# Normalised error bounds (test_conv2d.py: direct sums of K <= ~2000 products; test_winograd.py
# for the Winograd variants: the transforms' constants grow with the tile).
DIRECT_BOUND = {np.float32: 1e-5, np.float64: 1e-13}
WINOGRAD_BOUND = {
    (np.float32, "winograd_f2"): 1e-6,
    (np.float32, "winograd_f4"): 2e-5,
    (np.float32, "winograd_f6"): 5e-5,
    (np.float64, "winograd_f2"): 1e-12,
    (np.float64, "winograd_f4"): 1e-12,
    (np.float64, "winograd_f6"): 1e-12,
}


def _entry_id(entry) -> str:
    return f"{entry['family']}-{entry['isa']}"


def _check_conv2d_direct(rng) -> None:
    # blocked (3x3, 5x5 strided and dilated), pointwise 1x1, grouped and depthwise layers
    cases = [
        dict(n=2, c=5, oc=7, h=13, w=11, k=3, groups=1, stride=1, padding=1, dilation=1),
        dict(n=1, c=6, oc=40, h=17, w=19, k=5, groups=1, stride=2, padding=2, dilation=1),
        dict(n=1, c=4, oc=9, h=15, w=14, k=3, groups=1, stride=1, padding=0, dilation=2),
        dict(n=2, c=24, oc=33, h=9, w=10, k=1, groups=1, stride=1, padding=0, dilation=1),
        dict(n=1, c=6, oc=9, h=12, w=13, k=3, groups=3, stride=1, padding=1, dilation=1),
        dict(n=2, c=8, oc=8, h=14, w=15, k=3, groups=8, stride=1, padding=1, dilation=1),
        dict(n=1, c=4, oc=12, h=11, w=9, k=5, groups=4, stride=2, padding=2, dilation=1),
    ]
    for dtype in (np.float32, np.float64):
        for case in cases:
            x = rng.standard_normal((case["n"], case["c"], case["h"], case["w"])).astype(dtype)
            w = rng.standard_normal((case["oc"], case["c"] // case["groups"], case["k"], case["k"])).astype(dtype)
            b = rng.standard_normal(case["oc"]).astype(dtype)
            args = dict(
                stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"]
            )
            y = fieldconv.conv2d(x, w, b, algorithm="direct", **args)
            assert y.dtype == dtype
            error = conv2d_error(y, x, w, b, **args)
            assert error <= DIRECT_BOUND[dtype], (case, dtype, error)


def _check_winograd(rng) -> None:
    for dtype in (np.float32, np.float64):
        for algorithm in ("winograd_f2", "winograd_f4", "winograd_f6"):
            for n, c, oc, h, w, groups in [(1, 5, 7, 13, 11, 1), (2, 19, 37, 10, 9, 1), (1, 8, 8, 9, 12, 8)]:
                x = rng.standard_normal((n, c, h, w)).astype(dtype)
                wt = rng.standard_normal((oc, c // groups, 3, 3)).astype(dtype)
                b = rng.standard_normal(oc).astype(dtype)
                y = fieldconv.conv2d(x, wt, b, padding=1, groups=groups, algorithm=algorithm)
                error = conv2d_error(y, x, wt, b, padding=1, groups=groups)
                assert error <= WINOGRAD_BOUND[(dtype, algorithm)], (algorithm, dtype, error)


def _check_pool2d(rng) -> None:
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((2, 3, 23, 21)).astype(dtype)
        x[0, 1, 4, 5] = np.nan
        for kernel, stride, padding, dilation, ceil_mode in [
            (2, 2, 0, 1, False),
            (3, 2, 1, 1, True),
            (3, 1, 1, 2, False),
            (5, 3, 2, 1, True),
        ]:
            got, got_indices = fieldconv.max_pool2d(
                x, kernel, stride, padding, dilation, ceil_mode, return_indices=True
            )
            expected, expected_indices = max_pool2d_reference(x, kernel, stride, padding, dilation, ceil_mode)
            np.testing.assert_array_equal(got, expected.astype(dtype))
            np.testing.assert_array_equal(got_indices, expected_indices)
            np.testing.assert_array_equal(fieldconv.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode), got)
        for kernel, stride, padding, ceil_mode in [(2, 2, 0, False), (3, 2, 1, True), (3, 1, 1, False)]:
            got = fieldconv.avg_pool2d(x, kernel, stride, padding, ceil_mode)
            expected = avg_pool2d_reference(x, kernel, stride, padding, ceil_mode)
            # a mean of at most 9 values: within a few roundings of the float64 reference
            np.testing.assert_allclose(got, expected, rtol=8 * np.finfo(dtype).eps, atol=8 * np.finfo(dtype).eps)


def _check_filter2d(rng) -> None:
    # float and integer images, several borders; integer-valued weights keep integer sums exact
    for dtype in (np.float32, np.float64, np.uint8, np.int16, np.int32):
        if np.dtype(dtype).kind == "f":
            image = rng.standard_normal((19, 23)).astype(dtype)
            weights = rng.standard_normal((4, 5))
        else:
            image = rng.integers(0, 50, size=(19, 23)).astype(dtype)
            weights = rng.integers(-2, 3, size=(4, 5)).astype(np.float64)
        for mode in ("constant", "nearest", "reflect", "mirror", "wrap"):
            got = fc_ndimage.correlate(image, weights, mode=mode)
            assert got.dtype == image.dtype
            expected = correlate2d_reference(image.astype(np.float64), weights, image.shape, -2, -2, mode)
            if np.dtype(dtype).kind == "f":
                scale = correlate2d_reference(
                    np.abs(image.astype(np.float64)), np.abs(weights), image.shape, -2, -2, mode
                )
                assert np.max(np.abs(got - expected)) <= DIRECT_BOUND[dtype] * np.max(scale), (dtype, mode)
            else:
                np.testing.assert_array_equal(got, expected.astype(dtype), err_msg=f"{dtype} {mode}")


def _check_correlate1d(rng) -> None:
    for dtype in (np.float32, np.float64, np.uint8, np.int32):
        if np.dtype(dtype).kind == "f":
            image = rng.standard_normal((17, 29)).astype(dtype)
            weights = rng.standard_normal(7)
        else:
            image = rng.integers(0, 50, size=(17, 29)).astype(dtype)
            weights = rng.integers(-2, 3, size=7).astype(np.float64)
        for axis in (0, 1):
            for mode in ("constant", "nearest", "reflect", "mirror", "wrap"):
                got = fc_ndimage.correlate1d(image, weights, axis=axis, mode=mode)
                kernel = weights[:, None] if axis == 0 else weights[None, :]
                offsets = (-3, 0) if axis == 0 else (0, -3)
                expected = correlate2d_reference(image.astype(np.float64), kernel, image.shape, *offsets, mode)
                if np.dtype(dtype).kind == "f":
                    scale = correlate2d_reference(
                        np.abs(image.astype(np.float64)), np.abs(kernel), image.shape, *offsets, mode
                    )
                    assert np.max(np.abs(got - expected)) <= DIRECT_BOUND[dtype] * np.max(scale), (dtype, axis, mode)
                else:
                    np.testing.assert_array_equal(got, expected.astype(dtype), err_msg=f"{dtype} {axis} {mode}")
        # the running-sum path (uniform filter): sums of small integers are exact, and SciPy
        # truncates sum / size towards zero when it stores an integer
        if np.dtype(dtype).kind != "f":
            got = fc_ndimage.uniform_filter1d(image, 5, axis=1, mode="nearest")
            expected = correlate2d_reference(image.astype(np.float64), np.ones((1, 5)), image.shape, 0, -2, "nearest")
            np.testing.assert_array_equal(got, np.trunc(expected / 5).astype(dtype))


def _check_fft_correlate(rng) -> None:
    # overlap-save FFT correlation against a plain float64 correlation; bound: 8 * log2(N) * eps
    # of the dtype times the largest sum(|a| * |v|) (tests/test_numeric.py)
    for dtype in (np.float32, np.float64):
        for n1, n2, left in [(5000, 101, 100), (333, 40, 0), (70, 7, 3)]:
            a, v = rng.standard_normal(n1).astype(dtype), rng.standard_normal(n2).astype(dtype)
            out = np.empty(n1 + n2 - 1, dtype)
            assert _core.correlate_line_fft(a, v, out, left)
            padded = np.concatenate([np.zeros(left), a.astype(np.float64), np.zeros(n1 + n2)])
            expected = np.array([padded[i : i + n2] @ v.astype(np.float64) for i in range(out.size)])
            magnitude = np.convolve(np.abs(a).astype(np.float64), np.abs(v).astype(np.float64)).max()
            log2_size = _core.fft_correlate_plan(n2, dtype == np.float32)[0]
            assert np.abs(out - expected).max() <= 8 * log2_size * np.finfo(dtype).eps * magnitude


FAMILY_CHECKS = {
    "conv2d_direct": _check_conv2d_direct,
    "winograd": _check_winograd,
    "pool2d": _check_pool2d,
    "filter2d": _check_filter2d,
    "correlate1d": _check_correlate1d,
    "fft_correlate": _check_fft_correlate,
}


def test_every_family_has_a_check_and_a_portable_entry():
    assert set(FAMILIES) == set(FAMILY_CHECKS)
    for family in FAMILIES:
        portable = [e for e in ENTRIES if e["family"] == family and e["isa"] == "generic"]
        assert portable and portable[0]["compiled"] and portable[0]["cpu_supported"], family


@pytest.mark.parametrize("entry", ENTRIES, ids=_entry_id)
def test_entry_matches_reference(entry, rng):
    if not entry["compiled"]:
        pytest.skip(f"{_entry_id(entry)}: not built for this architecture")
    if not entry["cpu_supported"]:
        pytest.skip(f"{_entry_id(entry)}: this CPU lacks {entry['isa']}")
    previous = _core.get_isa()
    _core.set_isa(entry["isa"])
    try:
        # selecting the entry's ISA makes the entry the one that runs
        assert _core.kernel_choice()[entry["family"]] == entry["isa"]
        FAMILY_CHECKS[entry["family"]](rng)
    finally:
        _core.set_isa(previous)


def test_fallbacks_take_the_nearest_entry_below():
    previous = _core.get_isa()
    try:
        for rank, isa in enumerate(ISAS):
            try:
                _core.set_isa(isa)
            except ValueError:
                continue
            choice = _core.kernel_choice()
            for family in FAMILIES:
                below = [(e["isa_rank"], e["isa"]) for e in ENTRIES if e["family"] == family and e["isa_rank"] <= rank]
                assert choice[family] == max(below)[1], (isa, family, choice[family])
    finally:
        _core.set_isa(previous)


def test_show_config_names_the_kernel_of_every_op():
    import io

    out = io.StringIO()
    fieldconv.show_config(file=out)
    text = out.getvalue()
    choice = _core.kernel_choice()
    for family, isa in choice.items():
        assert f"{family} {isa}" in text, (family, isa, text)
