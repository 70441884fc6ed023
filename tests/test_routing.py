"""fieldconv.drop_in(): SciPy's and NumPy's names swapped for fieldconv's within a block, restored
after it; a program that looks the names up at call time (scikit-image) runs fieldconv and gets
the same results."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import fieldconv
import fieldconv.ndimage
from fieldconv.routing import ROUTES

scipy_ndimage = pytest.importorskip("scipy.ndimage")  # every test here swaps SciPy's names
import scipy.signal  # noqa: E402


def _current(module_name: str, name: str):
    module = {"scipy.ndimage": scipy.ndimage, "scipy.signal": scipy.signal, "numpy": np}[module_name]
    return getattr(module, name)


def _is_fieldconv(function) -> bool:
    return getattr(function, "__module__", "").startswith("fieldconv")


def test_every_route_is_swapped_and_restored():
    originals = {key: _current(*key) for key in ROUTES}
    assert not any(_is_fieldconv(f) for f in originals.values())
    with fieldconv.drop_in() as replaced:
        assert sorted(replaced) == sorted(f"{m}.{n}" for m, n in ROUTES)
        for (module_name, name), target in ROUTES.items():
            function = _current(module_name, name)
            assert _is_fieldconv(function), (module_name, name)
            assert f"{function.__module__}:{function.__name__}" == target
    for key, original in originals.items():
        assert _current(*key) is original, key


def test_restored_when_the_block_raises_and_nested_blocks_restore_once():
    original = scipy.ndimage.gaussian_filter
    with pytest.raises(RuntimeError, match="inside"):
        with fieldconv.drop_in():
            with fieldconv.drop_in() as inner:
                assert inner and scipy.ndimage.gaussian_filter is fieldconv.ndimage.gaussian_filter
            assert scipy.ndimage.gaussian_filter is fieldconv.ndimage.gaussian_filter  # outer still on
            raise RuntimeError("inside")
    assert scipy.ndimage.gaussian_filter is original


def test_scipy_only_leaves_numpy_alone():
    original = np.convolve
    with fieldconv.drop_in(numpy=False) as replaced:
        assert np.convolve is original
        assert all(name.startswith("scipy.") for name in replaced)
        assert scipy.signal.convolve2d is fieldconv.convolve2d
    with pytest.raises(TypeError, match="scipy and numpy must be True or False"):
        with fieldconv.drop_in(scipy="yes"):
            pass


def test_numpy_fallbacks_reach_numpy_not_themselves():
    # bool and float16 are handed to NumPy itself: with NumPy's name swapped they must not recurse
    a, v = np.array([True, False, True]), np.array([True, True])
    expected = np.convolve(a, v)
    with fieldconv.drop_in():
        np.testing.assert_array_equal(np.convolve(a, v), expected)
        np.testing.assert_array_equal(np.correlate(a, v, "full"), np.array([1, 1, 1, 1]))
        with pytest.raises(ValueError):
            np.convolve([], [1.0])  # NumPy's own error, through fieldconv


def test_routed_calls_equal_scipys_bit_for_bit_on_integers(rng):
    image = rng.integers(0, 256, (64, 80)).astype(np.uint8)
    expected = (
        scipy.ndimage.gaussian_filter(image, 2),
        scipy.ndimage.sobel(image, 0),
        scipy.signal.convolve2d(image.astype(np.int32), np.ones((3, 3), np.int32), mode="same"),
        np.convolve(np.arange(50, dtype=np.int64), np.arange(7, dtype=np.int64)),
    )
    with fieldconv.drop_in():
        got = (
            scipy.ndimage.gaussian_filter(image, 2),
            scipy.ndimage.sobel(image, 0),
            scipy.signal.convolve2d(image.astype(np.int32), np.ones((3, 3), np.int32), mode="same"),
            np.convolve(np.arange(50, dtype=np.int64), np.arange(7, dtype=np.int64)),
        )
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


def test_other_threads_see_the_swap_while_the_block_runs():
    seen = []
    with fieldconv.drop_in():
        thread = threading.Thread(target=lambda: seen.append(scipy.ndimage.uniform_filter))
        thread.start()
        thread.join()
    assert seen == [fieldconv.ndimage.uniform_filter]


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_scikit_image_filters_route_to_fieldconv_with_scipys_results(dtype, rng, monkeypatch):
    """scikit-image calls ``ndi.gaussian_filter`` etc. through the module: routed, its gaussian,
    sobel and canny run fieldconv and return what they return on SciPy, bit for bit, except
    for float32 images, which skimage keeps float32 (float32 output): fieldconv sums those in
    float32 (docs/scipy-deviations.md). sobel goes through ``ndi.convolve``: within
    taps * 2**-24 * sum(|w| |x|) = 9 * 2**-24 * 2 for its 3x3 kernels on values in [0, 1].
    gaussian is two correlate1d passes of 17 taps (sigma 2): within (17 + 2) * 2**-24 per pass
    times conv(|x|, |w|) <= 1 (positive weights summing to 1, values in [0, 1])."""
    skimage_filters = pytest.importorskip("skimage.filters")
    skimage_feature = pytest.importorskip("skimage.feature")
    image = rng.integers(0, 256, (96, 128)).astype(dtype)
    if dtype != np.uint8:
        image = image / 255.0
    expected = (
        skimage_filters.gaussian(image, sigma=2, preserve_range=True),
        skimage_filters.sobel(image),
        skimage_feature.canny(image.astype(np.float64), sigma=1.5),
    )

    calls = []
    for name in ("gaussian_filter", "correlate1d", "convolve", "correlate"):
        function = getattr(fieldconv.ndimage, name)
        monkeypatch.setattr(
            fieldconv.ndimage, name, lambda *a, _f=function, _n=name, **k: calls.append(_n) or _f(*a, **k)
        )
    with fieldconv.drop_in():
        got = (
            skimage_filters.gaussian(image, sigma=2, preserve_range=True),
            skimage_filters.sobel(image),
            skimage_feature.canny(image.astype(np.float64), sigma=1.5),
        )
    assert calls, "scikit-image never reached fieldconv"
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
    np.testing.assert_array_equal(got[2], expected[2])
    if dtype == np.float32:
        np.testing.assert_allclose(got[0], expected[0], rtol=0, atol=2 * (17 + 2) * 2.0**-24)
        np.testing.assert_allclose(got[1], expected[1], rtol=0, atol=9 * 2.0**-24 * 2)
    else:
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
