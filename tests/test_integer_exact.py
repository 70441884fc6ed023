"""Integer and bool outputs equal SciPy's bit for bit, on every kernel family (ISA).

Weights that are not exactly representable (1/9, 1/25, Gaussian weights) make the float64 sum
depend on its order and on fused multiply-adds; SciPy's ndimage adds w * x tap by tap in C order
of the kept weights without FMA, and the conversion to the integer output truncates, so a single
ulp of difference shows up as an off-by-one pixel. These tests compare with exact equality.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

import fieldconv
from fieldconv import ndimage

MODES = ("reflect", "constant", "nearest", "mirror", "wrap", "grid-wrap", "grid-mirror", "grid-constant")


def _gaussian_2d(size: int, sigma: float) -> np.ndarray:
    x = np.arange(size) - size // 2
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g)


KERNELS = {
    "box3": np.full((3, 3), 1 / 9),
    "box5": np.full((5, 5), 1 / 25),
    "gauss5": _gaussian_2d(5, 1.0),
    "gauss7x3": _gaussian_2d(7, 1.5)[:, 2:5] / _gaussian_2d(7, 1.5)[:, 2:5].sum(),
    "random4x6": np.random.default_rng(15).uniform(-0.3, 0.5, (4, 6)),
}


def _image(dtype, shape=(37, 141), seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    info = np.iinfo(dtype)
    low, high = max(info.min, -3000), min(info.max, 3000) if np.dtype(dtype).itemsize > 1 else info.max
    return rng.integers(low, int(high) + 1, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.bool_])
@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("convolution", [False, True])
def test_ndimage_integer_images_equal_scipy(isa, dtype, kernel, convolution):
    image = _image(dtype)
    weights = KERNELS[kernel]
    ours_fn = ndimage.convolve if convolution else ndimage.correlate
    peer_fn = scipy.ndimage.convolve if convolution else scipy.ndimage.correlate
    for mode in MODES:
        ours = ours_fn(image, weights, mode=mode, cval=3.0)
        peer = peer_fn(image, weights, mode=mode, cval=3.0)
        assert ours.dtype == peer.dtype
        np.testing.assert_array_equal(ours, peer, err_msg=f"mode={mode}")


@pytest.mark.parametrize("out_dtype", [np.uint8, np.int16, np.int32, np.uint32, np.int64, np.bool_])
def test_ndimage_float_inputs_to_integer_outputs_equal_scipy(isa, out_dtype):
    rng = np.random.default_rng(150)
    image32 = (rng.random((29, 203)) * 255).astype(np.float32)
    image64 = rng.random((29, 203)) * 255
    for image in (image32, image64):
        for name, weights in KERNELS.items():
            ours = ndimage.correlate(image, weights, output=out_dtype, mode="mirror")
            peer = scipy.ndimage.correlate(image, weights, output=out_dtype, mode="mirror")
            np.testing.assert_array_equal(ours, peer, err_msg=f"{image.dtype} {name}")


def test_ndimage_stacks_along_axes_equal_scipy(isa):
    rng = np.random.default_rng(151)
    volume = rng.integers(0, 256, size=(3, 40, 70), dtype=np.uint8)
    weights = KERNELS["box3"]
    for axes in [(1, 2), (0, 2), (0, 1)]:
        ours = ndimage.convolve(volume, weights, axes=axes)
        peer = scipy.ndimage.convolve(volume, weights, axes=axes)
        np.testing.assert_array_equal(ours, peer, err_msg=f"axes={axes}")


def test_readme_box_blur_uint8_equals_scipy(isa):
    rng = np.random.default_rng(152)
    image = rng.integers(0, 256, size=(256, 256), dtype=np.uint8)
    box = np.full((3, 3), 1 / 9)
    np.testing.assert_array_equal(ndimage.convolve(image, box), scipy.ndimage.convolve(image, box))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.uint16])
@pytest.mark.parametrize("boundary", ["fill", "symm", "wrap"])
def test_signal_integer_images_equal_scipy(isa, dtype, boundary):
    # scipy.signal sums integers in the integer type (wrapping), so any order is exact; checked
    # here for every family with smoothing-style integer kernels.
    image = _image(dtype, shape=(23, 77), seed=3)
    for kernel in (
        np.ones((3, 3), dtype=dtype),
        np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=dtype),
        np.ones((5, 5), dtype=dtype),
    ):
        for mode in ("full", "same", "valid"):
            for ours_fn, peer_fn in (
                (fieldconv.convolve2d, scipy.signal.convolve2d),
                (fieldconv.correlate2d, scipy.signal.correlate2d),
            ):
                ours = ours_fn(image, kernel, mode=mode, boundary=boundary, fillvalue=2)
                peer = peer_fn(image, kernel, mode=mode, boundary=boundary, fillvalue=2)
                assert ours.dtype == peer.dtype
                np.testing.assert_array_equal(ours, peer, err_msg=f"{mode} {kernel.shape}")


def _gaussian_3d(size: int, sigma: float) -> np.ndarray:
    x = np.arange(size) - size // 2
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    return g[:, None, None] * g[None, :, None] * g[None, None, :]


ND_KERNELS = {
    "box3": np.full((3, 3, 3), 1 / 27),
    "gauss5": _gaussian_3d(5, 1.0),
    "random2x3x4": np.random.default_rng(16).uniform(-0.4, 0.6, (2, 3, 4)),
    "sparse4d": np.where(np.random.default_rng(17).random((3, 2, 3, 3)) < 0.5, 0.0, 1 / 7),
}


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.bool_, np.float32, np.float64])
@pytest.mark.parametrize("kernel", sorted(ND_KERNELS))
def test_ndimage_nd_weights_equal_scipy(isa, dtype, kernel):
    # weights with more than two axes longer than 1 (the N-D path): integer and bool outputs
    # bit-identical, float outputs within rounding of SciPy's float64 sums
    weights = ND_KERNELS[kernel]
    shape = (7, 9, 11) if weights.ndim == 3 else (4, 5, 6, 7)
    image = (
        _image(dtype, shape=shape, seed=4)
        if dtype not in (np.float32, np.float64)
        else (np.random.default_rng(4).random(shape) * 100).astype(dtype)
    )
    for mode in MODES:
        for ours_fn, peer_fn in (
            (ndimage.correlate, scipy.ndimage.correlate),
            (ndimage.convolve, scipy.ndimage.convolve),
        ):
            ours = ours_fn(image, weights, mode=mode, cval=2.5)
            peer = peer_fn(image, weights, mode=mode, cval=2.5)
            assert ours.dtype == peer.dtype
            if peer.dtype.kind == "f":
                np.testing.assert_allclose(
                    ours, peer, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-3, err_msg=f"mode={mode}"
                )
            else:
                np.testing.assert_array_equal(ours, peer, err_msg=f"mode={mode}")
    origin = [1 if n > 2 else 0 for n in weights.shape]
    np.testing.assert_array_equal(
        ndimage.correlate(image, weights, output=np.int32, origin=origin),
        scipy.ndimage.correlate(image, weights, output=np.int32, origin=origin),
    )
