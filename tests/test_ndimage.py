"""fieldconv.ndimage.correlate / convolve against scipy.ndimage (the specification) and reference.py."""

from __future__ import annotations

import functools
import warnings
import zlib

import numpy as np
import pytest

import fieldconv
import fieldconv.ndimage as fnd

from conftest import NDIMAGE_DTYPES, NDIMAGE_MODES
from reference import correlate2d_reference, correlate_nd_reference

ndi = pytest.importorskip("scipy.ndimage")

FUNCS = ["correlate", "convolve"]
MODES = NDIMAGE_MODES
DTYPES = NDIMAGE_DTYPES
# (image shape, kernel shape); kernels larger than the image included. Kernels more than twice
# the image size are checked against reference.py instead (SciPy's reflect mode reads outside
# the array there, see the README).
SHAPES = [
    ((7, 9), (3, 3)),
    ((6, 8), (2, 4)),
    ((5, 6), (4, 1)),
    ((1, 10), (1, 3)),
    ((10, 1), (3, 1)),
    ((3, 4), (5, 7)),
    ((1, 1), (2, 2)),
    ((33, 70), (6, 5)),
    ((4, 37), (3, 3)),
    ((3, 600), (1, 7)),
]


def random_array(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) > 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -120), min(info.max, 120), size=shape, endpoint=True).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def assert_same(ours, theirs, what, atol=None):
    assert ours.dtype == theirs.dtype, what
    assert ours.shape == theirs.shape, what
    if theirs.dtype == bool:
        np.testing.assert_array_equal(ours.view(np.uint8), theirs.view(np.uint8), err_msg=what)
    elif theirs.dtype.kind in "iu":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
    else:
        real = theirs.dtype.char.lower()
        scale = max(1.0, float(np.max(np.abs(theirs), initial=0)))
        tol = atol if atol is not None else 64 * np.finfo(real).eps * scale
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=tol, err_msg=what)


def origins_for(kernel_shape):
    kh, kw = kernel_shape
    return [0, (-(kh // 2), (kw - 1) // 2), ((kh - 1) // 2, -(kw // 2))]


@pytest.mark.parametrize("dtype", DTYPES)
def test_grid_matches_scipy(isa, dtype):
    rng = np.random.default_rng(zlib.crc32(np.dtype(dtype).str.encode()))
    for image_shape, kernel_shape in SHAPES:
        image = random_array(rng, image_shape, dtype)
        weights = rng.standard_normal(kernel_shape) * 2
        if dtype.startswith("complex"):
            weights = weights + 0.5j
        # integers: weights exactly representable so float32 / float64 sums agree to the bit
        if np.dtype(dtype).kind in "biu":
            weights = np.round(weights * 4) / 4
        for func in FUNCS:
            for mode in MODES:
                for origin in origins_for(kernel_shape):
                    what = f"{isa} {func} {dtype} {image_shape} {kernel_shape} {mode} {origin}"
                    theirs = getattr(ndi, func)(image, weights, mode=mode, cval=1.25, origin=origin)
                    ours = getattr(fnd, func)(image, weights, mode=mode, cval=1.25, origin=origin, method="direct")
                    assert_same(ours, theirs, what)


@pytest.mark.parametrize(
    "mode,ref_mode",
    [("reflect", "reflect"), ("mirror", "mirror"), ("wrap", "wrap"), ("nearest", "nearest"), ("constant", "constant")],
)
def test_kernels_much_larger_than_the_image_match_reference(isa, mode, ref_mode):
    rng = np.random.default_rng(11)
    image = rng.standard_normal((2, 3))
    weights = rng.standard_normal((9, 8))
    for origin in origins_for(weights.shape):
        ours = fnd.correlate(image, weights, mode=mode, cval=0.5, origin=origin)
        o = origin if isinstance(origin, tuple) else (origin, origin)
        expected = correlate2d_reference(image, weights, image.shape, -(9 // 2 + o[0]), -(8 // 2 + o[1]), ref_mode, 0.5)
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


OUTPUT_VALUES = [
    300.7,
    -1.5,
    -0.5,
    1e10,
    np.nan,
    -1e10,
    2.0**31 + 5,
    -(2.0**31) - 5,
    1e19,
    -1e19,
    1e30,
    -1e30,
    2.0**63,
    2.0**64,
    -(2.0**63) - 4096,
    2.0**63 - 1024,
    np.inf,
    -np.inf,
    255.9,
    65535.5,
    -128.7,
    3.0,
]
OUTPUT_DTYPES = [
    bool,
    np.uint8,
    np.int8,
    np.int16,
    np.uint16,
    np.int32,
    np.uint32,
    np.int64,
    np.uint64,
    np.float32,
    np.float64,
]


@pytest.mark.parametrize("output", OUTPUT_DTYPES)
def test_output_conversion_matches_scipy_bitwise(isa, output):
    values = np.array([OUTPUT_VALUES])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ndi.correlate(values, np.array([[1.0]]), output=output)
    ours = fnd.correlate(values, np.array([[1.0]]), output=output)
    assert_same(ours, theirs, str(output), atol=0)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int64", "uint64", "float32"])
def test_output_dtype_other_than_input(isa, dtype):
    rng = np.random.default_rng(12)
    image = random_array(rng, (9, 11), dtype)
    weights = rng.standard_normal((3, 4)) * 50
    for output in OUTPUT_DTYPES + ["f4", "i2", np.dtype("u4"), int, float]:
        theirs = ndi.correlate(image, weights, output=output, mode="mirror")
        ours = fnd.correlate(image, weights, output=output, mode="mirror")
        if theirs.dtype.kind in "biu" and image.dtype == np.float32:
            # SciPy sums float32 inputs in float64; we do too unless the output is float32
            pass
        assert_same(ours, theirs, f"{dtype} -> {output}")


def test_small_and_nan_weights_are_skipped_as_scipy_does(isa):
    image = np.array([[np.inf, 1.0, 2.0], [3.0, np.nan, 5.0], [6.0, 7.0, 8.0]])
    weights = np.array([[1e-17, 0.0, np.nan], [2.0, 1.0, -0.0], [0.5, 2e-16, 1.0]])
    for mode in MODES:
        for func in FUNCS:
            theirs = getattr(ndi, func)(image, weights, mode=mode)
            ours = getattr(fnd, func)(image, weights, mode=mode)
            np.testing.assert_array_equal(ours, theirs)
    # padded positions meeting an Inf/NaN cval follow the same rule
    ones = np.ones((4, 4))
    np.testing.assert_array_equal(
        fnd.correlate(ones, np.ones((3, 3)), mode="constant", cval=np.inf),
        ndi.correlate(ones, np.ones((3, 3)), mode="constant", cval=np.inf),
    )


@pytest.mark.parametrize("axes", [(1, 2), (0, 2), (2, 0), (-1, -2), (0, 1)])
def test_axes_filter_every_slice(isa, axes):
    rng = np.random.default_rng(13)
    image = rng.standard_normal((3, 8, 9)).astype(np.float32)
    weights = rng.standard_normal((3, 2))
    for func in FUNCS:
        for origin in [(1, 0), (0, -1), 0]:
            theirs = _outcome(lambda: getattr(ndi, func)(image, weights, axes=axes, origin=origin, mode="wrap"))
            ours = _outcome(lambda: getattr(fnd, func)(image, weights, axes=axes, origin=origin, mode="wrap"))
            assert ours[0] == theirs[0]
            if ours[0] == "ok":
                assert_same(ours[1], theirs[1], f"{func} {axes} {origin}")
            else:
                assert ours[1] == theirs[1]
    stack = rng.integers(0, 255, (2, 3, 7, 6)).astype(np.uint8)
    theirs = ndi.convolve(stack, weights, axes=(-2, -1))
    ours = fnd.convolve(stack, weights, axes=(-2, -1))
    assert_same(ours, theirs, "uint8 stack")


def test_other_dimensionalities(isa):
    rng = np.random.default_rng(14)
    line = rng.standard_normal(17)
    assert_same(fnd.correlate(line, [1.0, -2.0, 0.5]), ndi.correlate(line, [1.0, -2.0, 0.5]), "1-d")
    assert_same(fnd.correlate(np.float64(3), np.ones(())), ndi.correlate(np.float64(3), np.ones(())), "0-d")
    volume = rng.standard_normal((4, 5, 6))
    flat = rng.standard_normal((3, 1, 2))
    assert_same(fnd.correlate(volume, flat, mode="nearest"), ndi.correlate(volume, flat, mode="nearest"), "3-d flat")
    full = rng.standard_normal((2, 3, 2))
    assert_same(fnd.convolve(volume, full, mode="mirror"), ndi.convolve(volume, full, mode="mirror"), "3-d")


ND_CASES = {
    # image shape, weights shape, origin
    "3x3x3 on a volume": ((6, 7, 19), (3, 3, 3), 0),
    "5x5x5, origins": ((7, 6, 18), (5, 5, 5), (1, -2, 2)),
    "kernel longer than the array": ((2, 3, 4), (5, 7, 9), (-1, 2, 0)),
    "4-d, a size-1 kernel axis in front": ((3, 4, 5, 6), (1, 3, 2, 3), 0),
    "4-d, size-1 plane axes": ((3, 4, 5, 6), (2, 3, 1, 1), 0),
    "sparse 3-d (skipped taps)": ((5, 6, 33), (3, 4, 3), 0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
@pytest.mark.parametrize("case", sorted(ND_CASES))
def test_nd_weights_match_reference(isa, case, mode, dtype):
    # The N-D core against a plain float64 reference. Bound: max|y - ref| over the largest
    # conv(|x|, |w|) + |cval| term; float64 sums (taps + 1 roundings) stay within taps * 2**-52,
    # float32 sums within (taps + 2) * 2**-24 (the weights and the output are rounded too).
    shape, wshape, origin = ND_CASES[case]
    rng = np.random.default_rng(zlib.crc32(f"{case}{mode}".encode()))
    image = rng.standard_normal(shape).astype(dtype)
    weights = rng.standard_normal(wshape)
    if case.startswith("sparse"):
        weights[rng.random(wshape) < 0.5] = 0.0
    origins = origin if isinstance(origin, tuple) else (origin,) * len(shape)
    offsets = [-(k // 2 + o) for k, o in zip(wshape, origins)]
    ours = fnd.correlate(image, weights, mode=mode, cval=0.75, origin=origin)
    assert ours.dtype == dtype and ours.shape == image.shape
    expected = correlate_nd_reference(image, weights, offsets, mode, 0.75)
    scale = correlate_nd_reference(np.abs(image), np.abs(weights), offsets, mode, 0.75).max()
    taps = np.count_nonzero(weights)
    bound = taps * 2.0**-52 if dtype == np.float64 else (taps + 2) * 2.0**-24
    assert np.abs(ours - expected).max() / scale <= bound
    if all(k % 2 for k in wshape) and origin == 0:  # convolve = correlate with flipped weights
        flipped = weights[(slice(None, None, -1),) * weights.ndim]
        np.testing.assert_array_equal(
            fnd.convolve(image, flipped, mode=mode, cval=0.75), fnd.correlate(image, weights, mode=mode, cval=0.75)
        )


@functools.lru_cache(maxsize=4)
def _large_case(shape, wshape, dtype):
    rng = np.random.default_rng(len(shape))
    image = rng.standard_normal(shape).astype(dtype)
    weights = rng.standard_normal(wshape)
    offsets = [-(k // 2) for k in wshape]
    expected = correlate_nd_reference(image, weights, offsets, "reflect", 0.0)
    scale = correlate_nd_reference(np.abs(image), np.abs(weights), offsets, "reflect", 0.0).max()
    return image, weights, expected, scale


@pytest.mark.parametrize("shape, wshape", [((128, 128, 128), (3, 3, 3)), ((1024, 2048), (5, 5))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_outputs_streamed_match_reference(isa, shape, wshape, dtype):
    # Float outputs of 8 MiB and more whose rows start on cache lines are written with streaming
    # stores (csrc/kernels/filter2d_impl.hpp). A fresh output is allocated aligned (streamed); a
    # given output 8 bytes off a cache line is written with ordinary stores. Bounds as in
    # test_nd_weights_match_reference.
    image, weights, expected, scale = _large_case(shape, wshape, dtype)
    taps = weights.size
    bound = taps * 2.0**-52 if dtype == np.float64 else (taps + 2) * 2.0**-24
    fresh = fnd.correlate(image, weights)
    assert fresh.ctypes.data % 64 == 0 and fresh.dtype == dtype
    assert np.abs(fresh - expected).max() / scale <= bound
    raw = np.empty(image.size * image.itemsize + 128, dtype=np.uint8)
    start = -raw.ctypes.data % 64 + 8
    given = raw[start : start + image.size * image.itemsize].view(dtype).reshape(shape)
    assert fnd.correlate(image, weights, output=given) is given
    np.testing.assert_array_equal(given, fresh)


def test_nd_weights_propagate_nan_and_inf_as_scipy(isa):
    volume = np.random.default_rng(3).standard_normal((5, 6, 20))
    volume[2, 3, 7] = np.nan
    volume[4, 0, 15] = np.inf
    weights = np.ones((3, 3, 3))
    weights[0, 0, 0] = 0.0  # skipped: NaN from that tap must not appear
    for mode in ("reflect", "constant"):
        ours = fnd.correlate(volume, weights, mode=mode)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(ndi.correlate(volume, weights, mode=mode)))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(ndi.correlate(volume, weights, mode=mode)))


def test_nd_weights_leave_the_input_alone_and_fill_a_given_output(isa):
    volume = np.random.default_rng(5).integers(0, 255, (6, 7, 8)).astype(np.uint8)
    before = volume.copy()
    weights = np.full((3, 3, 3), 1 / 27)
    out = np.empty((6, 7, 8), dtype=np.int16)  # integer outputs: SciPy's sums bit for bit
    result = fnd.correlate(volume, weights, output=out)
    assert result is out
    np.testing.assert_array_equal(volume, before)
    np.testing.assert_array_equal(out, ndi.correlate(volume, weights, output=np.int16))
    strided = np.asfortranarray(volume.astype(np.int16))[:, ::-1]
    np.testing.assert_array_equal(fnd.correlate(strided, weights), ndi.correlate(strided, weights))


def test_output_arrays(isa):
    rng = np.random.default_rng(15)
    image = rng.standard_normal((10, 12))
    weights = rng.standard_normal((3, 3))
    expected = ndi.correlate(image, weights)
    out = np.zeros((10, 12))
    assert fnd.correlate(image, weights, output=out) is out
    np.testing.assert_allclose(out, expected, atol=1e-12)
    big = np.zeros((10, 24), dtype=np.float32)
    view = big[:, ::2]
    assert fnd.correlate(image, weights, output=view) is view
    np.testing.assert_array_equal(view, ndi.correlate(image, weights, output=np.float32))
    assert not big[:, 1::2].any()
    in_place = image.copy()
    fnd.correlate(in_place, weights, output=in_place)
    np.testing.assert_allclose(in_place, expected, atol=1e-12)
    swapped = np.zeros((10, 12), dtype=">f8")
    fnd.correlate(image, weights, output=swapped)
    np.testing.assert_allclose(swapped, expected, atol=1e-12)
    complex_out = fnd.correlate(image + 1j, weights, output=np.zeros((10, 12), np.complex64))
    assert complex_out.dtype == np.complex64


def test_any_layout_gives_the_same_result(isa):
    rng = np.random.default_rng(16)
    base = rng.standard_normal((12, 14)).astype(np.float32)
    weights = rng.standard_normal((4, 3))
    expected = fnd.correlate(base, weights)
    readonly = base.copy()
    readonly.setflags(write=False)
    for variant in (base.tolist(), np.asfortranarray(base), readonly, np.pad(base, 2)[2:-2, 2:-2], base.astype(">f4")):
        result = fnd.correlate(variant, weights)
        np.testing.assert_allclose(result, expected.astype(result.dtype), rtol=1e-6, atol=1e-6)
    copy = base.copy()
    fnd.convolve(base, weights)
    np.testing.assert_array_equal(base, copy)


@pytest.mark.parametrize("shapes", [((40, 50), (13, 12)), ((6, 7), (9, 11))])
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_fft_method_matches_within_tolerance(dtype, shapes):
    rng = np.random.default_rng(17)
    image = random_array(rng, shapes[0], dtype)
    weights = rng.standard_normal(shapes[1])
    for func in FUNCS:
        for mode in MODES:
            theirs = getattr(ndi, func)(image, weights, mode=mode, cval=0.5, origin=(2, -3))
            ours = getattr(fnd, func)(image, weights, mode=mode, cval=0.5, origin=(2, -3), method="fft")
            eps = np.finfo(np.dtype(dtype).char.lower()).eps
            assert_same(ours, theirs, f"{func} {mode}", atol=50 * eps * np.abs(image).max() * np.abs(weights).sum())


def test_auto_never_uses_fft_for_integers_or_non_finite():
    rng = np.random.default_rng(18)
    image = rng.integers(0, 255, (300, 300)).astype(np.uint8)
    weights = rng.standard_normal((21, 21))
    assert_same(fnd.correlate(image, weights), ndi.correlate(image, weights), "uint8 auto")
    image = rng.standard_normal((300, 300))
    image[10, 20] = np.nan
    ours = fnd.correlate(image, weights, mode="constant")
    theirs = ndi.correlate(image, weights, mode="constant")
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))


def _outcome(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ("ok", call())
        except Exception as error:  # noqa: BLE001 - comparing exception types with SciPy
            return ("error", type(error))


X = np.arange(20.0).reshape(4, 5)
W = np.ones((3, 2))
_READONLY = np.zeros((4, 5))
_READONLY.setflags(write=False)
BAD_CALLS = [
    (X, W, dict(origin=(0, 1))),
    (X, W, dict(origin=0.5)),
    (X, np.ones((3, 3)), dict(origin=(1.0, 0))),
    (X, W, dict(origin="1")),
    (X, W, dict(origin=[1])),
    (X, W, dict(origin=None)),
    (X, W, dict(cval=1j)),
    (X, W, dict(cval="1")),
    (X, W, dict(cval=None)),
    (X, W, dict(cval=np.array([1.0]))),
    (X, W, dict(mode="symm")),
    (X, W, dict(mode=["reflect", "reflect"])),
    (X, W, dict(mode=None)),
    (X, np.ones(3), {}),
    (X, np.ones((3, 3, 2)), {}),
    (X, np.ones((0, 3)), {}),
    (X.astype(np.float16), W, {}),
    (X.astype(object), W, {}),
    (X.astype(np.longdouble), W, {}),
    (X, W, dict(output=np.float16)),
    (X, W, dict(output="U3")),
    (X, W, dict(output="c8")),
    (X, W, dict(output=np.zeros((3, 3)))),
    (X * 1j, W, dict(output="f8")),
    (X * 1j, W, dict(output=np.zeros((4, 5)))),
    (X, W, dict(output=_READONLY)),
    (X, np.ones((2, 2)) * 1j, dict(cval=1j)),
    (np.ones((2, 4, 5)), W, {}),
    (np.ones((2, 4, 5)), W, dict(axes=(1, 1))),
    (np.ones((2, 4, 5)), W, dict(axes=(1, 3))),
    (np.ones((2, 4, 5)), W, dict(axes=(1.0, 2))),
    (np.ones((2, 4, 5)), W, dict(axes=1)),
]


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("index", range(len(BAD_CALLS)))
def test_exceptions_match_scipy(func, index):
    image, weights, kwargs = BAD_CALLS[index]
    theirs = _outcome(lambda: getattr(ndi, func)(image, weights, **kwargs))
    ours = _outcome(lambda: getattr(fnd, func)(image, weights, **kwargs))
    assert ours[0] == "error"
    assert ours == theirs


def test_documented_deviations_raise_value_error():
    with pytest.raises(ValueError, match="weights is empty"):
        fnd.correlate(np.ones((4, 5)), np.ones((3, 3, 0)))
    with pytest.raises(ValueError, match="method"):
        fnd.convolve(np.ones((4, 5)), np.ones((3, 3)), method="xx")
    assert fnd.correlate(np.ones((0, 5)), np.ones((3, 3)), mode="wrap").shape == (0, 5)


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    kh=st.integers(1, 6),
    kw=st.integers(1, 6),
    mode=st.sampled_from(MODES),
    func=st.sampled_from(FUNCS),
    dtype=st.sampled_from(["bool", "uint8", "int32", "float32", "float64", "complex64"]),
    output=st.sampled_from([None, np.int16, np.float32, np.uint64]),
    seed=st.integers(0, 2**16),
    origin_fraction=st.floats(0, 1),
)
def test_property_matches_scipy(h, w, kh, kw, mode, func, dtype, output, seed, origin_fraction):
    if mode in ("reflect", "grid-mirror") and (kh > 2 * h or kw > 2 * w):
        return  # SciPy reads outside the array there (README); covered against reference.py above
    rng = np.random.default_rng(seed)
    image = random_array(rng, (h, w), dtype)
    weights = np.round(rng.standard_normal((kh, kw)) * 8) / 8
    origin = (int(-(kh // 2) + origin_fraction * (kh - 1)), 0)
    if dtype.startswith("complex") and output is not None:
        output = np.complex128
    theirs = _outcome(lambda: getattr(ndi, func)(image, weights, output=output, mode=mode, origin=origin, cval=2.5))
    ours = _outcome(lambda: getattr(fnd, func)(image, weights, output=output, mode=mode, origin=origin, cval=2.5))
    assert ours[0] == theirs[0]
    if ours[0] == "ok":
        assert_same(ours[1], theirs[1], f"{func} {dtype} {mode} {origin} {output}")
    else:
        assert ours[1] == theirs[1]


@pytest.mark.parametrize("border", ["constant", "reflect"])
def test_benchmark_filter_implementations_agree(border):
    from fieldconv import benchmark

    workload = benchmark.filter_workload(33, 5, border)
    arrays = workload.make_arrays()
    expected = ndi.correlate(arrays["image"].astype(np.float64), arrays["kernel"].astype(np.float64), mode=border)
    ran = 0
    previous = fieldconv.get_num_threads()
    try:
        for implementation in benchmark.IMPLEMENTATIONS["filter2d"]:
            try:
                function = implementation.prepare(workload, arrays, 1)  # sets the thread count
            except benchmark.Unavailable:
                continue
            np.testing.assert_allclose(
                np.asarray(function(), dtype=np.float64), expected, rtol=1e-4, atol=1e-4, err_msg=implementation.name
            )
            ran += 1
    finally:
        fieldconv.set_num_threads(previous)
    assert ran >= 2
    assert workload.flops() == 2 * 33 * 33 * 25


def test_empty_kernel_deviation_only_where_scipy_accepts_the_call():
    # found by tests/test_fuzz.py: with an empty kernel and an origin SciPy refuses (TypeError),
    # we raised our empty-kernel ValueError first; the deviation now comes after SciPy's checks
    image, weights = np.ones(4), np.ones((0, 3))
    for kwargs in (dict(origin=0.5), dict(cval="1"), dict(mode="symm"), dict(output=np.float16)):
        theirs = _outcome(lambda: ndi.correlate(image, weights, **kwargs))
        assert theirs[0] == "error"
        assert _outcome(lambda: fnd.correlate(image, weights, **kwargs)) == theirs
    with pytest.raises(ValueError, match="weights is empty"):
        fnd.correlate(image, weights)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(origin="1"), "origin"),
        (dict(origin=None), "origin"),
        (dict(origin=(1.0, 0)), "origin"),
        (dict(axes=(0.0, 1)), "axes"),
    ],
)
@pytest.mark.parametrize("func", FUNCS)
def test_type_errors_name_the_argument(func, kwargs, word):
    # found by tests/test_fuzz.py: Python's own messages ("'<' not supported between instances of
    # 'str' and 'int'") came through; SciPy's exception type is kept, the message names the argument
    image, weights = np.ones((4, 5)), np.ones((3, 3))
    assert (
        _outcome(lambda: getattr(fnd, func)(image, weights, **kwargs))
        == _outcome(lambda: getattr(ndi, func)(image, weights, **kwargs))
        == ("error", TypeError)
    )
    with pytest.raises(TypeError, match=word):
        getattr(fnd, func)(image, weights, **kwargs)


def test_fft_of_float32_input_into_float64_output_has_float64_accuracy():
    # found by tests/test_fuzz.py: the FFT path summed float32 inputs in float32 even for a float64
    # (or complex128) output, where the direct path and SciPy sum in float64
    rng = np.random.default_rng(8)
    image = rng.standard_normal((40, 50)).astype(np.float32)
    weights = rng.standard_normal((9, 9))
    expected = ndi.correlate(image, weights, output=np.float64)
    ours = fnd.correlate(image, weights, output=np.float64, method="fft")
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    complex_image = (image + 1j * image[::-1]).astype(np.complex64)
    expected = ndi.correlate(complex_image, weights, output=np.complex128)
    ours = fnd.correlate(complex_image, weights, output=np.complex128, method="fft")
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize(
    "dtype, output",
    [
        (bool, np.complex128),
        (bool, np.float16),
        (np.float16, None),
        (object, None),
        (object, np.float64),
        (np.longdouble, None),
    ],
)
def test_empty_input_accepts_any_dtype_as_scipy(dtype, output):
    # found by tests/test_fuzz.py: SciPy checks dtypes per line, so an empty input passes any
    # input/output dtype (and returns an empty array); we raised RuntimeError
    image = np.ones((0, 4), dtype)
    theirs = ndi.correlate(image, np.ones((2, 2)), output=output)
    ours = fnd.correlate(image, np.ones((2, 2)), output=output)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape == (0, 4)


def test_read_only_output_is_reported_before_a_bad_cval_as_scipy():
    # found by tests/test_fuzz.py: SciPy's argument parsing checks the output before cval
    readonly = np.zeros((2, 3))
    readonly.flags.writeable = False
    for kwargs in (dict(cval=1j), dict(cval="1"), dict(origin=(1.0, 0))):
        call = dict(output=readonly, **kwargs)
        theirs = _outcome(lambda: ndi.correlate(np.ones((2, 3)), np.ones((1, 1)), **call))
        assert theirs == ("error", ValueError)
        assert _outcome(lambda: fnd.correlate(np.ones((2, 3)), np.ones((1, 1)), **call)) == theirs


def test_unconvertible_cval_names_the_argument():
    # found by tests/test_fuzz.py: a complex input splits cval into parts; np.imag("1") is "",
    # and float("") said "could not convert string to float: ''" (SciPy's type kept)
    image = np.ones((2, 3), np.complex64)
    theirs = _outcome(lambda: ndi.correlate(image, np.ones((1, 1)), cval="1"))
    assert theirs[0] == "error"
    assert _outcome(lambda: fnd.correlate(image, np.ones((1, 1)), cval="1")) == theirs
    with pytest.raises(theirs[1], match="cval"):
        fnd.correlate(image, np.ones((1, 1)), cval="1")
