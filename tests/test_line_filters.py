"""fieldconv.ndimage's 1-D and separable filters against scipy.ndimage.

The line-filter core sums in float64 in SciPy's order without fused multiply-adds, so every
result must equal SciPy's bit for bit, on every kernel family, except where input and output
are both float32: there the weighted passes sum in float32 with fused multiply-adds
(docs/scipy-deviations.md) and the result is checked against SciPy's float64 sums to the
documented bound (_check).
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import scipy.ndimage

import fieldconv
from fieldconv import ndimage

# gaussian_gradient_magnitude of integer images takes sqrt of wrapped (negative) sums, as SciPy
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")

MODES = ("reflect", "constant", "nearest", "mirror", "wrap", "grid-wrap", "grid-mirror", "grid-constant")
DTYPES = (np.uint8, np.int16, np.uint16, np.int32, np.float32, np.float64)


def _array(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -5000), min(info.max, 5000) + 1, size=shape).astype(dtype)


def _same(ours, peer, context=""):
    assert ours.dtype == peer.dtype, context
    assert ours.shape == peer.shape, context
    np.testing.assert_array_equal(ours, peer, err_msg=context)


def _abs_filter(name, x, args, kwargs):
    """SciPy's filter `name` of |x| in float64 with every correlate1d weight replaced by its
    absolute value (cval by |cval|): conv(|x|, |w|) through all the passes, the scale of the
    rounding errors of any way of summing. Also the taps of each pass it ran."""
    taps = []
    correlate1d = scipy.ndimage._filters.correlate1d

    def abs_correlate1d(input, weights, *a, **k):
        weights = np.abs(np.asarray(weights, dtype=np.float64))
        taps.append(weights.shape[0])
        return correlate1d(input, weights, *a, **k)

    kwargs = {**kwargs, "output": np.float64}
    if "cval" in kwargs:
        kwargs["cval"] = abs(kwargs["cval"])
    with mock.patch.object(scipy.ndimage._filters, "correlate1d", abs_correlate1d):
        scale = getattr(scipy.ndimage._filters, name)(np.abs(x.astype(np.float64)), *args, **kwargs)
    return scale, taps


def _check(ours, name, x, *args, extra=0, context="", **kwargs):
    """ours == scipy.ndimage.<name>(x, ...) bit for bit, except for float32 input and output
    (float32 sums): then |ours - ref| <= (sum over passes of (taps + 2) + extra) * 2**-24 *
    max(conv(|x|, |w|)), ref being SciPy's float64 result (output=numpy.float64).

    The bound: a pass of k taps summed in float32 (fused multiply-adds, symmetric taps paired)
    errs by at most about k * 2**-24 * sum(|w| * |x|); rounding the float64 weights to float32
    adds 2**-24 of the same, storing the pass' float32 result 2**-24 of its magnitude; each
    pass' error is carried through the later passes by at most the sum of their |w| (what
    conv(|x|, |w|) accounts for). `extra`: further float32 roundings outside the passes (the
    sums of laplace, the squares and root of gaussian_gradient_magnitude). NaN and infinities
    must sit where SciPy's are."""
    peer = getattr(scipy.ndimage, name)(x, *args, **kwargs)
    assert ours.dtype == peer.dtype and ours.shape == peer.shape, context
    if not (x.dtype == np.float32 and ours.dtype == np.float32):
        _same(ours, peer, context)
        return
    ref = getattr(scipy.ndimage, name)(x, *args, **{**kwargs, "output": np.float64})
    scale, taps = _abs_filter(name, x, args, kwargs)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg=context)
    infinite = np.isinf(ref)
    np.testing.assert_array_equal(ours[infinite], ref[infinite], err_msg=context)
    finite = np.isfinite(ref)
    if not finite.any():
        return
    bound = (sum(k + 2 for k in taps) + extra) * 2.0**-24 * np.max(scale[finite])
    error = np.max(np.abs(ours[finite].astype(np.float64) - ref[finite]))
    assert error <= bound, f"{context}: error {error:.3g} > bound {bound:.3g} (taps {taps})"


WEIGHTS = {
    "symmetric5": [0.1, 0.2, 0.4, 0.2, 0.1],
    "antisymmetric3": [-1.0, 0.0, 1.0],
    "general4": [0.3, -0.7, 0.25, 1 / 3],
    "general7": list(np.random.default_rng(7).uniform(-1, 1, 7)),
    "single": [1 / 3],
    "box9": [1 / 9] * 9,
}


@pytest.mark.parametrize("dtype", DTYPES + (np.bool_,))
@pytest.mark.parametrize("weights", sorted(WEIGHTS))
def test_correlate1d_and_convolve1d_equal_scipy(isa, dtype, weights):
    x = _array(dtype, (13, 41), seed=1)
    w = WEIGHTS[weights]
    for mode in MODES:
        for axis in (0, 1, -1):
            for name in ("correlate1d", "convolve1d"):
                ours = getattr(ndimage, name)(x, w, axis=axis, mode=mode, cval=2.5)
                _check(ours, name, x, w, axis=axis, mode=mode, cval=2.5, context=f"{name} {mode} axis={axis}")


@pytest.mark.parametrize("origin", [-2, -1, 0, 1])
def test_correlate1d_origins_and_3d_axes(isa, origin):
    x = _array(np.float64, (5, 7, 19), seed=2)
    w = WEIGHTS["general4"]
    for axis in range(3):
        for mode in ("reflect", "constant", "wrap"):
            ours = ndimage.correlate1d(x, w, axis=axis, mode=mode, origin=origin)
            peer = scipy.ndimage.correlate1d(x, w, axis=axis, mode=mode, origin=origin)
            _same(ours, peer, f"axis={axis} {mode}")


@pytest.mark.parametrize(
    "out_dtype", [np.uint8, np.int8, np.int16, np.uint32, np.int64, np.uint64, np.float32, np.bool_]
)
def test_correlate1d_output_dtypes_equal_scipy(isa, out_dtype):
    x = _array(np.float64, (9, 33), seed=3)
    for axis in (0, 1):
        ours = ndimage.correlate1d(x, WEIGHTS["general7"], axis=axis, output=out_dtype)
        peer = scipy.ndimage.correlate1d(x, WEIGHTS["general7"], axis=axis, output=out_dtype)
        _same(ours, peer, f"axis={axis}")


def test_correlate1d_long_lines_and_wide_rows(isa):
    # lines longer than a vector block and rows wider than a tile, with threads
    fieldconv.set_num_threads(2)
    x = _array(np.float32, (300, 1100), seed=4)
    w = np.exp(-0.5 * (np.arange(-8, 9) / 2.0) ** 2)
    w /= w.sum()
    for axis in (0, 1):
        _check(ndimage.correlate1d(x, w, axis=axis), "correlate1d", x, w, axis=axis, context=f"axis={axis}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_uniform_filters_equal_scipy(isa, dtype, size):
    x = _array(dtype, (11, 37), seed=5)
    for mode in MODES:
        for axis in (0, 1):
            for origin in sorted({-(size // 2), 0, (size - 1) // 2}):
                ours = ndimage.uniform_filter1d(x, size, axis=axis, mode=mode, cval=1.5, origin=origin)
                peer = scipy.ndimage.uniform_filter1d(x, size, axis=axis, mode=mode, cval=1.5, origin=origin)
                _same(ours, peer, f"uniform_filter1d {mode} axis={axis} origin={origin}")
        _same(ndimage.uniform_filter(x, size, mode=mode), scipy.ndimage.uniform_filter(x, size, mode=mode), mode)
    _same(ndimage.uniform_filter(x, (size, 3)), scipy.ndimage.uniform_filter(x, (size, 3)), "per-axis size")


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_filters_equal_scipy(isa, dtype):
    x = _array(dtype, (17, 29), seed=6)
    for sigma in (0.7, 2.0, (1.0, 3.0)):
        for order in (0, 1, 2, (0, 1)):
            for mode in ("reflect", "constant", "nearest", "mirror", "wrap"):
                ours = ndimage.gaussian_filter(x, sigma, order=order, mode=mode, cval=0.5)
                _check(
                    ours,
                    "gaussian_filter",
                    x,
                    sigma,
                    order=order,
                    mode=mode,
                    cval=0.5,
                    context=f"sigma={sigma} order={order} {mode}",
                )
    _check(ndimage.gaussian_filter(x, 1.5, truncate=2.0), "gaussian_filter", x, 1.5, truncate=2.0)
    _check(ndimage.gaussian_filter(x, 1.5, radius=(2, 5)), "gaussian_filter", x, 1.5, radius=(2, 5))
    _check(
        ndimage.gaussian_filter(x, 1.5, mode=("wrap", "constant")), "gaussian_filter", x, 1.5, mode=("wrap", "constant")
    )
    _check(ndimage.gaussian_filter1d(x, 2.5, axis=0, order=3), "gaussian_filter1d", x, 2.5, axis=0, order=3)
    # a float64 output: SciPy's float64 sums, bit for bit, whatever the input
    _same(ndimage.gaussian_filter(x, 2, output=np.float64), scipy.ndimage.gaussian_filter(x, 2, output=np.float64))


def test_gaussian_filter_axes_on_a_volume(isa):
    x = _array(np.uint8, (6, 20, 24), seed=8)
    for axes in (None, (1, 2), (0,), (2, 0)):
        _same(ndimage.gaussian_filter(x, 1.3, axes=axes), scipy.ndimage.gaussian_filter(x, 1.3, axes=axes), f"{axes}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_derivative_filters_equal_scipy(isa, dtype):
    x = _array(dtype, (15, 23), seed=9)
    for mode in ("reflect", "constant", "nearest", "mirror", "wrap"):
        for axis in (0, 1):
            _check(ndimage.sobel(x, axis, mode=mode), "sobel", x, axis, mode=mode, context=f"sobel {mode}")
            _check(ndimage.prewitt(x, axis, mode=mode), "prewitt", x, axis, mode=mode, context=f"prewitt {mode}")
        # laplace and gaussian_laplace add one float32 rounding per axis summed in
        _check(ndimage.laplace(x, mode=mode), "laplace", x, mode=mode, extra=2, context=f"laplace {mode}")
        _check(ndimage.gaussian_laplace(x, 1.2, mode=mode), "gaussian_laplace", x, 1.2, mode=mode, extra=2)
        # ... and gaussian_gradient_magnitude squares, sums and takes the root
        _check(
            ndimage.gaussian_gradient_magnitude(x, 1.2, mode=mode),
            "gaussian_gradient_magnitude",
            x,
            1.2,
            mode=mode,
            extra=4,
        )
    volume = _array(dtype, (4, 9, 11), seed=10)
    _check(ndimage.sobel(volume, 1), "sobel", volume, 1)
    _check(ndimage.laplace(volume, axes=(0, 2)), "laplace", volume, axes=(0, 2), extra=2)
    _check(ndimage.gaussian_laplace(volume, 1.0, axes=(1, 2)), "gaussian_laplace", volume, 1.0, axes=(1, 2), extra=2)


def test_complex_inputs_and_weights_equal_scipy():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 21)) + 1j * rng.standard_normal((8, 21))
    w = np.array([0.5 + 1j, 1.0, -0.25j])
    for xi, wi in ((x, w), (x.real, w), (x, w.real)):
        _same(ndimage.correlate1d(xi, wi, axis=0), scipy.ndimage.correlate1d(xi, wi, axis=0))
        _same(
            ndimage.convolve1d(xi, wi, mode="constant", cval=1.0),
            scipy.ndimage.convolve1d(xi, wi, mode="constant", cval=1.0),
        )
    _same(ndimage.uniform_filter(x, 3), scipy.ndimage.uniform_filter(x, 3))
    _same(
        ndimage.uniform_filter1d(x.astype(np.complex64), 4), scipy.ndimage.uniform_filter1d(x.astype(np.complex64), 4)
    )


def test_outputs_in_place_and_non_contiguous(isa):
    x = _array(np.float64, (16, 30), seed=12)
    peer = scipy.ndimage.gaussian_filter(x, 2.0)
    y = x.copy()
    assert ndimage.gaussian_filter(y, 2.0, output=y) is y
    _same(y, peer)
    out = np.zeros((30, 16)).T  # Fortran-ordered output
    ndimage.gaussian_filter(x, 2.0, output=out)
    _same(out, peer)
    strided = x[::2, ::-1]
    _same(ndimage.correlate1d(strided, [1, 2, 3.5]), scipy.ndimage.correlate1d(strided, [1, 2, 3.5]))
    swapped = x.astype(">f8")
    _same(ndimage.sobel(swapped), scipy.ndimage.sobel(swapped))
    x_before = x.copy()
    ndimage.uniform_filter(x, 5)
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda m: m.correlate1d(np.ones(5), []), RuntimeError),
        (lambda m: m.correlate1d(np.ones(5), np.ones((2, 2))), RuntimeError),
        (lambda m: m.correlate1d(np.ones(5), [1, 2, 3], origin=2), ValueError),
        (lambda m: m.correlate1d(np.ones(5), [1, 2, 3], axis=1), np.exceptions.AxisError),
        (lambda m: m.correlate1d(np.ones(5), [1, 2, 3], mode="bogus"), RuntimeError),
        (lambda m: m.correlate1d(np.ones(5, np.float16), [1, 2, 3]), RuntimeError),
        (lambda m: m.correlate1d(np.ones(5), [1, 2, 3], output=np.empty(4)), RuntimeError),
        (lambda m: m.uniform_filter1d(np.ones(5), 0), RuntimeError),
        (lambda m: m.uniform_filter1d(np.ones(5), 3, origin=2), ValueError),
        (lambda m: m.uniform_filter(np.ones((5, 5)), (3, 3, 3)), RuntimeError),
        (lambda m: m.gaussian_filter1d(np.ones(5), 1.0, radius=-1), ValueError),
        (lambda m: m.gaussian_filter1d(np.ones(5), 1.0, radius=1.5), ValueError),
        (lambda m: m.gaussian_filter(np.ones(5), 1.0, order=-1), ValueError),
        (lambda m: m.gaussian_filter(np.ones((5, 5)), [1.0, 2.0, 3.0]), RuntimeError),
        (lambda m: m.gaussian_filter(np.ones(5, np.float16), 1.0), RuntimeError),
        (lambda m: m.sobel(np.ones((4, 4)), axis=2), np.exceptions.AxisError),
        (lambda m: m.correlate1d(np.ones(5), [1.0], cval=1j), TypeError),
    ],
)
def test_errors_are_scipys(call, error):
    with pytest.raises(error):
        call(scipy.ndimage)
    with pytest.raises(error):
        call(ndimage)


def test_threads_bands_and_in_place_equal_scipy():
    # row bands (not in place), column tiles (in place) and the side buffer of rows an in-place
    # filter would overwrite before reading them (wrap / reflect near the end)
    fieldconv.set_num_threads(2)
    rng = np.random.default_rng(13)
    for shape in [(300, 700), (40, 50, 60), (1000, 9), (30000, 5), (3, 20000), (50001,)]:
        x = rng.random(shape) * 100
        for mode in ("reflect", "wrap", "mirror", "constant", "nearest"):
            for k in (1, 2, 5, 17):
                w = rng.random(k)
                for axis in range(len(shape)):
                    peer = scipy.ndimage.correlate1d(x, w, axis=axis, mode=mode)
                    _same(ndimage.correlate1d(x, w, axis=axis, mode=mode), peer, f"{shape} {mode} {k} {axis}")
                    y = x.copy()
                    ndimage.correlate1d(y, w, axis=axis, mode=mode, output=y)
                    _same(y, peer, f"in place {shape} {mode} {k} {axis}")
                    y = x.copy()
                    ndimage.uniform_filter1d(y, k, axis=axis, mode=mode, output=y)
                    _same(y, scipy.ndimage.uniform_filter1d(x, k, axis=axis, mode=mode), f"uniform {shape} {mode}")


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_fused_last_two_passes_equal_scipy(isa, dtype):
    # gaussian_filter / sobel / prewitt run their last two passes (axes ndim-2, ndim-1) in one
    # sweep; the result must still be SciPy's, with the output dtype's conversion in between
    fieldconv.set_num_threads(2)
    for shape in [(37, 61), (5, 23, 40), (2, 3, 9, 17)]:
        x = _array(dtype, shape, seed=14)
        for mode in ("reflect", "wrap", ("nearest", "constant") if len(shape) == 2 else "mirror"):
            _check(
                ndimage.gaussian_filter(x, 1.7, mode=mode, cval=3.0),
                "gaussian_filter",
                x,
                1.7,
                mode=mode,
                cval=3.0,
                context=f"{shape} {mode}",
            )
            _check(ndimage.gaussian_filter(x, 1.2, order=1, mode=mode), "gaussian_filter", x, 1.2, order=1, mode=mode)
            for axis in range(len(shape)):
                _check(ndimage.sobel(x, axis, mode=mode), "sobel", x, axis, mode=mode, context=f"sobel {axis}")
                _check(ndimage.prewitt(x, axis, mode=mode), "prewitt", x, axis, mode=mode)
        y = x.copy()
        ndimage.gaussian_filter(y, 2.0, output=y)
        _check(y, "gaussian_filter", x, 2.0, context="in place")
        _same(ndimage.gaussian_filter(x, 2.0, output=np.uint8), scipy.ndimage.gaussian_filter(x, 2.0, output=np.uint8))


def test_rows_too_wide_to_fuse_equal_scipy():
    x = _array(np.float32, (3, 60001), seed=15)
    _check(ndimage.gaussian_filter(x, 2.0), "gaussian_filter", x, 2.0)
    _same(ndimage.gaussian_filter(x, 2.0, output=np.float64), scipy.ndimage.gaussian_filter(x, 2.0, output=np.float64))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_fused_three_passes_per_axis_modes_equal_scipy(isa, dtype):
    fieldconv.set_num_threads(2)
    x = _array(dtype, (19, 33, 47), seed=16)
    modes = ("wrap", "constant", "nearest")
    _check(
        ndimage.gaussian_filter(x, (1.0, 2.0, 0.8), mode=modes, cval=7.0),
        "gaussian_filter",
        x,
        (1.0, 2.0, 0.8),
        mode=modes,
        cval=7.0,
    )
    _check(ndimage.gaussian_filter(x, 1.5, order=(1, 0, 2)), "gaussian_filter", x, 1.5, order=(1, 0, 2))
    _check(ndimage.sobel(x, 0, mode=modes), "sobel", x, 0, mode=modes)
    _same(ndimage.gaussian_filter(x, 2.0, output=np.int16), scipy.ndimage.gaussian_filter(x, 2.0, output=np.int16))


def test_float32_sums_only_for_float32_in_and_out(isa):
    # float32 input and output: float32 sums (results differ from SciPy's rounded float64 sums
    # in many elements, within _check's bound); any other pairing: SciPy's bits
    rng = np.random.default_rng(17)
    x = (rng.standard_normal((64, 300)) * 100).astype(np.float32)
    ours = ndimage.gaussian_filter(x, 2.0)
    assert ours.dtype == np.float32
    assert not np.array_equal(ours, scipy.ndimage.gaussian_filter(x, 2.0)), "float32 sums expected"
    _check(ours, "gaussian_filter", x, 2.0)
    for axis in (0, 1):
        ours = ndimage.correlate1d(x, WEIGHTS["general7"], axis=axis)
        assert not np.array_equal(ours, scipy.ndimage.correlate1d(x, WEIGHTS["general7"], axis=axis))
    # float32 in, float64 out (and float64 in, float32 out; uint8 in and out): exact
    for out in (np.float64, np.int32, np.uint8):
        _same(ndimage.gaussian_filter(x, 2.0, output=out), scipy.ndimage.gaussian_filter(x, 2.0, output=out))
        _same(
            ndimage.correlate1d(x, WEIGHTS["general7"], output=out),
            scipy.ndimage.correlate1d(x, WEIGHTS["general7"], output=out),
        )
    x64 = x.astype(np.float64)
    _same(
        ndimage.gaussian_filter(x64, 2.0, output=np.float32), scipy.ndimage.gaussian_filter(x64, 2.0, output=np.float32)
    )
    u8 = rng.integers(0, 256, (40, 70)).astype(np.uint8)
    _same(ndimage.gaussian_filter(u8, 2.0), scipy.ndimage.gaussian_filter(u8, 2.0))
    _same(
        ndimage.gaussian_filter(u8, 2.0, output=np.float32), scipy.ndimage.gaussian_filter(u8, 2.0, output=np.float32)
    )
    # the running sums of uniform filters stay SciPy's for float32 too (float64, exact)
    _same(ndimage.uniform_filter(x, 5), scipy.ndimage.uniform_filter(x, 5))


def test_float32_sums_propagate_nan_and_inf_as_scipy(isa):
    rng = np.random.default_rng(18)
    x = (rng.standard_normal((40, 90)) * 10).astype(np.float32)
    x[5, 7] = np.nan
    x[20, 40] = np.inf
    x[30, 80] = -np.inf
    x[33, 10:12] = [np.inf, -np.inf]
    for order in (0, 1):
        _check(ndimage.gaussian_filter(x, 1.5, order=order), "gaussian_filter", x, 1.5, order=order)
    for axis in (0, 1):
        _check(ndimage.sobel(x, axis), "sobel", x, axis)
        _check(ndimage.correlate1d(x, WEIGHTS["general4"], axis=axis), "correlate1d", x, WEIGHTS["general4"], axis=axis)


def test_float32_weights_below_float32_range_keep_float64_sums():
    # a weight that would round to 0 (or a subnormal) in float32 keeps SciPy's float64 sums: inf * w
    x = np.ones((6, 40), np.float32)
    x[2, 9] = np.inf
    w = [1e-300, 1.0, 1e-300]
    for axis in (0, 1):
        _same(ndimage.correlate1d(x, w, axis=axis), scipy.ndimage.correlate1d(x, w, axis=axis))
