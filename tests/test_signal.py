"""fieldconv.correlate2d / convolve2d against scipy.signal (the specification) and reference.py."""

from __future__ import annotations

import threading
import warnings
import zlib

import numpy as np
import pytest

import fieldconv
from fieldconv import _core

from conftest import SIGNAL_DTYPES, fork_child_starts_threads
from reference import correlate2d_reference

signal = pytest.importorskip("scipy.signal")

FUNCS = ["correlate2d", "convolve2d"]
MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]
DTYPES = SIGNAL_DTYPES
SHAPES = [
    ((7, 9), (3, 3)),
    ((6, 8), (2, 4)),
    ((5, 6), (4, 2)),
    ((1, 10), (1, 3)),
    ((10, 1), (3, 1)),
    ((3, 4), (5, 7)),
    ((2, 2), (9, 8)),
    ((1, 1), (1, 1)),
    ((33, 70), (6, 5)),
    ((4, 37), (3, 3)),
    ((3, 600), (1, 7)),
    ((4, 530), (2, 3)),
]  # the last two span several column tiles


def random_array(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -120), min(info.max, 120), size=shape, endpoint=True).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def tolerance(dtype, kernel_size):
    real = np.dtype(dtype).char.lower()
    eps = np.finfo(real).eps if real in "fd" else 0
    return 8 * eps * max(1, kernel_size)


def assert_same(ours, theirs, dtype, kernel_size, what):
    assert ours.dtype == theirs.dtype, what
    assert ours.shape == theirs.shape, what
    if np.dtype(dtype).kind in "iu":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
    else:
        scale = max(1.0, float(np.max(np.abs(theirs), initial=0)))
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=tolerance(dtype, kernel_size) * scale * 4, err_msg=what)


@pytest.mark.parametrize("dtype", DTYPES)
def test_grid_matches_scipy(isa, dtype):
    rng = np.random.default_rng(zlib.crc32(np.dtype(dtype).str.encode()))
    fill = 3 if np.dtype(dtype).kind in "iu" else 1.5
    for image_shape, kernel_shape in SHAPES:
        image = random_array(rng, image_shape, dtype)
        kernel = random_array(rng, kernel_shape, dtype)
        for func in FUNCS:
            for mode in MODES:
                for boundary in BOUNDARIES:
                    what = f"{isa} {func} {dtype} {image_shape} {kernel_shape} {mode} {boundary}"
                    theirs = getattr(signal, func)(image, kernel, mode, boundary, fill)
                    ours = getattr(fieldconv, func)(image, kernel, mode, boundary, fill, method="direct")
                    assert_same(ours, theirs, dtype, kernel.size, what)


@pytest.mark.parametrize("func", FUNCS)
def test_valid_mode_swaps_the_larger_input(isa, func):
    rng = np.random.default_rng(1)
    small = random_array(rng, (2, 3), "complex128")
    large = random_array(rng, (5, 6), "complex128")
    theirs = getattr(signal, func)(small, large, "valid")
    ours = getattr(fieldconv, func)(small, large, "valid")
    assert_same(ours, theirs, "complex128", 30, func)


def test_matches_reference_float64(isa):
    rng = np.random.default_rng(2)
    image = rng.standard_normal((5, 7))
    kernel = rng.standard_normal((4, 3))
    for boundary, ref_mode in (("fill", "constant"), ("wrap", "wrap"), ("symm", "reflect")):
        ours = fieldconv.correlate2d(image, kernel, "full", boundary, fillvalue=0.5)
        expected = correlate2d_reference(image, kernel, (8, 9), -3, -2, ref_mode, 0.5)
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
        ours = fieldconv.convolve2d(image, kernel, "same", boundary, fillvalue=0.5)
        expected = correlate2d_reference(image, kernel[::-1, ::-1], (5, 7), -2, -1, ref_mode, 0.5)
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


def test_integer_sums_wrap_in_the_result_dtype(isa):
    image = np.full((3, 3), 100, dtype=np.int8)
    kernel = np.full((2, 2), 3, dtype=np.int8)
    np.testing.assert_array_equal(fieldconv.correlate2d(image, kernel), signal.correlate2d(image, kernel))
    big = np.array([[2**62, 2**62], [2**62, 3]], dtype=np.int64)
    np.testing.assert_array_equal(fieldconv.convolve2d(big, big), signal.convolve2d(big, big))
    mixed = fieldconv.correlate2d(np.array([[200]], np.uint8), np.array([[-3]], np.int8))
    assert mixed.dtype == np.int16 and mixed[0, 0] == -600
    unsigned = np.array([[2**64 - 1, 5]], dtype=np.uint64)
    np.testing.assert_array_equal(
        fieldconv.correlate2d(unsigned, unsigned, "same", "wrap"),
        signal.correlate2d(unsigned, unsigned, "same", "wrap"),
    )


def test_padding_multiplies_the_fill_value(isa):
    image = np.array([[np.inf, 1.0], [2.0, np.nan]])
    kernel = np.array([[0.0, 1.0], [1.0, 0.0]])
    for mode in MODES:
        for boundary in BOUNDARIES:
            theirs = signal.correlate2d(image, kernel, mode, boundary)
            ours = fieldconv.correlate2d(image, kernel, mode, boundary, method="auto")
            np.testing.assert_array_equal(ours, theirs)  # NaN where SciPy has NaN (0 * inf), same infs
    ones = np.ones((4, 4))
    np.testing.assert_array_equal(
        fieldconv.correlate2d(ones, np.full((2, 2), np.inf), fillvalue=0),
        signal.correlate2d(ones, np.full((2, 2), np.inf), fillvalue=0),
    )


def test_complex_conjugation_and_fill(isa):
    rng = np.random.default_rng(3)
    image = random_array(rng, (6, 5), "complex128")
    kernel = random_array(rng, (3, 2), "complex128")
    for func in FUNCS:
        theirs = getattr(signal, func)(image, kernel, "full", "fill", 1 - 2j)
        ours = getattr(fieldconv, func)(image, kernel, "full", "fill", 1 - 2j)
        assert_same(ours, theirs, "complex128", 6, func)
    # a real image with a complex kernel promotes to complex
    ours = fieldconv.correlate2d(image.real, kernel)
    assert ours.dtype == np.complex128
    assert_same(ours, signal.correlate2d(image.real, kernel), "complex128", 6, "real x complex")


@pytest.mark.parametrize("shapes", [((40, 50), (13, 11)), ((5, 4), (9, 12))])
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_fft_method_matches_within_tolerance(dtype, shapes):
    rng = np.random.default_rng(4)
    image = random_array(rng, shapes[0], dtype)
    kernel = random_array(rng, shapes[1], dtype)
    for func in FUNCS:
        for mode in MODES:
            for boundary in BOUNDARIES:
                theirs = getattr(signal, func)(image, kernel, mode, boundary, 0.25)
                ours = getattr(fieldconv, func)(image, kernel, mode, boundary, 0.25, method="fft")
                assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
                scale = np.abs(image).max() * np.abs(kernel).sum()
                eps = np.finfo(np.dtype(dtype).char.lower()).eps
                np.testing.assert_allclose(ours, theirs, rtol=0, atol=50 * eps * scale)


def test_auto_never_uses_fft_for_integers_or_non_finite():
    rng = np.random.default_rng(5)
    image = rng.integers(-1000, 1000, (300, 300)).astype(np.int64)
    kernel = rng.integers(-1000, 1000, (21, 21)).astype(np.int64)
    np.testing.assert_array_equal(
        fieldconv.correlate2d(image, kernel, "same"), signal.correlate2d(image, kernel, "same")
    )
    image = rng.standard_normal((300, 300))
    image[5, 7] = np.inf
    kernel = rng.standard_normal((21, 21))
    ours = fieldconv.correlate2d(image, kernel, "same")
    theirs = signal.correlate2d(image, kernel, "same")
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
    with pytest.raises(ValueError, match="method='fft'"):
        fieldconv.correlate2d(np.ones((3, 3), int), np.ones((2, 2), int), method="fft")
    with pytest.raises(ValueError, match="method"):
        fieldconv.correlate2d(np.ones((3, 3)), np.ones((2, 2)), method="winograd")


def test_any_layout_gives_the_same_result(isa):
    rng = np.random.default_rng(6)
    base = rng.standard_normal((12, 14))
    kernel = rng.standard_normal((3, 4))
    expected = fieldconv.correlate2d(base, kernel, "same", "symm")
    readonly = base.copy()
    readonly.setflags(write=False)
    variants = [
        base.tolist(),
        np.asfortranarray(base),
        base[::-1, ::-1][::-1, ::-1],
        readonly,
        np.pad(base, 1)[1:-1, 1:-1],
        base.astype(">f8"),
    ]
    for variant in variants:
        np.testing.assert_array_equal(fieldconv.correlate2d(variant, kernel, "same", "symm"), expected)
    strided = np.zeros((24, 28))
    strided[::2, ::2] = base
    np.testing.assert_array_equal(
        fieldconv.correlate2d(strided[::2, ::2], kernel[::-1][::-1], "same", "symm"), expected
    )
    copy = base.copy()
    fieldconv.correlate2d(base, kernel)
    np.testing.assert_array_equal(base, copy)  # inputs never modified


def _outcome(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ("ok", call())
        except Exception as error:  # noqa: BLE001 - comparing exception types with SciPy
            return ("error", type(error))


BAD_CALLS = [
    (np.ones(3), np.ones((2, 2)), {}),
    (np.ones((2, 2, 2)), np.ones((2, 2)), {}),
    (np.ones((3, 5)), np.ones((4, 2)), {"mode": "valid"}),
    (np.ones((3, 3)), np.ones((2, 2)), {"mode": "xx"}),
    (np.ones((3, 3)), np.ones((2, 2)), {"mode": None}),
    (np.ones((3, 3)), np.ones((2, 2)), {"boundary": "reflect"}),
    (np.ones((3, 3)), np.ones((2, 2)), {"boundary": "xx"}),
    (np.ones((3, 3), bool), np.ones((2, 2), bool), {}),
    (np.ones((3, 3), np.float16), np.ones((2, 2), np.float16), {}),
    (np.ones((3, 3), object), np.ones((2, 2)), {}),
    (np.zeros((3, 3), "M8[s]"), np.ones((2, 2)), {}),
    (np.ones((3, 3)), np.ones((2, 2)), {"fillvalue": [1, 2]}),
    (np.ones((3, 3)), np.ones((2, 2)), {"fillvalue": []}),
    (np.ones((3, 3)), np.ones((2, 2)), {"fillvalue": 1j}),
    (np.ones((3, 3)), np.ones((2, 2)), {"fillvalue": "a"}),
    (np.ones((3, 3)), np.ones((2, 2)), {"fillvalue": object()}),
    (np.ones((3, 3), int), np.ones((2, 2), int), {"fillvalue": np.nan}),
    (np.ones((3, 3), np.int8), np.ones((2, 2), np.int8), {"fillvalue": 300}),
    (np.ones((3, 3), np.uint8), np.ones((2, 2), np.uint8), {"fillvalue": -1}),
    (np.ones((3, 3), int), np.ones((2, 2), int), {"fillvalue": np.array([1.5])}),
]


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("index", range(len(BAD_CALLS)))
def test_exceptions_match_scipy(func, index):
    in1, in2, kwargs = BAD_CALLS[index]
    theirs = _outcome(lambda: getattr(signal, func)(in1, in2, **kwargs))
    ours = _outcome(lambda: getattr(fieldconv, func)(in1, in2, **kwargs))
    assert theirs[0] == "error"
    assert ours == theirs


FILLS = [
    np.float64(1.5),
    np.int64(3),
    np.float32(2.5),
    [1.5],
    np.array(3),
    np.array(3.5),
    1.5,
    300,
    2**63,
    True,
    np.uint8(200),
    np.int8(-3),
    "3",
    "1.5",
    1j,
    np.complex64(1),
    None,
    [[2]],
    (2,),
    np.nan,
    np.inf,
    -1,
    1e300,
    np.array([2], dtype=np.uint8),
    2**40,
    np.array([1j]),
    [None],
]


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int64", "uint64", "float32", "float64", "complex64"])
def test_fillvalue_conversion_matches_scipy(dtype):
    image = np.ones((3, 3), dtype)
    kernel = np.ones((2, 2), dtype)
    for fill in FILLS:
        theirs = _outcome(lambda: signal.correlate2d(image, kernel, fillvalue=fill))
        ours = _outcome(lambda: fieldconv.correlate2d(image, kernel, fillvalue=fill))
        assert ours[0] == theirs[0], (dtype, fill)
        if ours[0] == "ok":
            np.testing.assert_array_equal(ours[1], theirs[1], err_msg=f"{dtype} {fill!r}")
        else:
            assert ours[1] == theirs[1], (dtype, fill)


def test_fillvalue_ignored_for_wrap_and_symm():
    image = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(
        fieldconv.correlate2d(image, np.ones((2, 2)), boundary="wrap", fillvalue="zz"),
        signal.correlate2d(image, np.ones((2, 2)), boundary="wrap", fillvalue="zz"),
    )


def test_long_double_supported():
    image = np.arange(12, dtype=np.longdouble).reshape(3, 4)
    kernel = np.ones((2, 2), dtype=np.longdouble)
    ours = fieldconv.convolve2d(image, kernel, "same", "symm")
    theirs = signal.convolve2d(image, kernel, "same", "symm")
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_documented_deviations_raise_value_error():
    with pytest.raises(ValueError, match="kernel is empty"):
        fieldconv.correlate2d(np.ones((3, 5)), np.ones((0, 2)))
    with pytest.raises(ValueError, match="kernel is empty"):
        fieldconv.convolve2d(np.ones((0, 0)), np.ones((0, 0)), "same")
    for boundary in ("wrap", "symm"):
        with pytest.raises(ValueError, match="non-empty input"):
            fieldconv.correlate2d(np.ones((0, 5)), np.ones((2, 2)), boundary=boundary)
    # an empty input with boundary="fill" is well defined: every product meets the fill value
    np.testing.assert_array_equal(
        fieldconv.correlate2d(np.ones((0, 5)), np.ones((2, 2)), fillvalue=2),
        signal.correlate2d(np.ones((0, 5)), np.ones((2, 2)), fillvalue=2),
    )
    assert fieldconv.correlate2d(np.ones((0, 5)), np.ones((2, 2)), "same").shape == (0, 5)


def test_threads_give_identical_results():
    rng = np.random.default_rng(7)
    image = rng.standard_normal((300, 400)).astype(np.float32)  # enough work for 3 threads
    kernel = rng.standard_normal((5, 5)).astype(np.float32)
    previous = fieldconv.get_num_threads()
    try:
        fieldconv.set_num_threads(1)
        one = fieldconv.correlate2d(image, kernel, "same", method="direct")
        fieldconv.set_num_threads(3)
        three = fieldconv.correlate2d(image, kernel, "same", method="direct")
    finally:
        fieldconv.set_num_threads(previous)
    np.testing.assert_array_equal(one, three)
    results = [None] * 4

    def work(slot):
        results[slot] = fieldconv.correlate2d(image, kernel, "same", method="direct")

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for result in results:
        np.testing.assert_array_equal(result, one)


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(0, 9),
    w=st.integers(1, 9),
    kh=st.integers(1, 6),
    kw=st.integers(1, 6),
    mode=st.sampled_from(MODES),
    boundary=st.sampled_from(BOUNDARIES),
    func=st.sampled_from(FUNCS),
    dtype=st.sampled_from(["int16", "uint32", "int64", "float32", "float64", "complex128"]),
    seed=st.integers(0, 2**16),
)
def test_property_matches_scipy(h, w, kh, kw, mode, boundary, func, dtype, seed):
    rng = np.random.default_rng(seed)
    image = random_array(rng, (h, w), dtype)
    kernel = random_array(rng, (kh, kw), dtype)
    ours = _outcome(lambda: getattr(fieldconv, func)(image, kernel, mode, boundary, 2))
    if h == 0 and boundary != "fill":
        assert ours == ("error", ValueError)  # documented deviation (SciPy crashes: do not call it)
        return
    theirs = _outcome(lambda: getattr(signal, func)(image, kernel, mode, boundary, 2))
    if h == 0 and mode == "valid" and theirs[0] == "ok":
        assert ours == ("error", ValueError)  # documented deviation: "valid" swaps the empty input in as the kernel
        return
    assert ours[0] == theirs[0]
    if ours[0] == "ok":
        assert_same(ours[1], theirs[1], dtype, kh * kw, f"{func} {dtype} {mode} {boundary}")
    else:
        assert ours[1] == theirs[1]


def test_core_entry_point_checks_its_arguments():
    """The C++ entry point (fieldconv/filter2d.hpp) refuses bad arguments instead of crashing."""
    image = np.ones((1, 4, 5))
    out = np.empty((1, 4, 5))
    rows = np.zeros(1, np.int64)
    weights = np.ones(1)
    fill = np.zeros(1)
    _core.filter2d(image, out, rows, rows, weights, fill, 1, 0, 0, 0)
    np.testing.assert_array_equal(out, image)
    with pytest.raises(ValueError, match="tap row"):
        _core.filter2d(image, out, np.array([-1]), rows, weights, fill, 1, 0, 0, 0)
    with pytest.raises(ValueError, match="empty input"):
        _core.filter2d(np.ones((1, 0, 5)), out, rows, rows, weights, fill, 1, 0, 0, 4)
    with pytest.raises(ValueError, match="border"):
        _core.filter2d(image, out, rows, rows, weights, fill, 1, 0, 0, 9)
    with pytest.raises(ValueError, match="wrapping"):
        _core.filter2d(image, out, rows, rows, np.ones(1, np.uint32), np.zeros(1, np.uint32), 2, 0, 0, 0)
    with pytest.raises(ValueError, match="offset"):
        _core.filter2d(image, out, rows, rows, weights, fill, 1, 2**40, 0, 0)
    with pytest.raises(TypeError):
        _core.filter2d(image.astype(np.float16), out, rows, rows, weights, fill, 1, 0, 0, 0)


def test_core_nd_entry_point_checks_its_arguments():
    """The N-D entry point (filter_nd in fieldconv/filter2d.hpp) refuses bad arguments."""
    volume = np.arange(60.0).reshape(3, 4, 5)
    out = np.empty_like(volume)
    coords = np.zeros((1, 3), np.int64)
    weights, fill, offsets = np.ones(1), np.zeros(1), np.zeros(3, np.int64)
    _core.filter_nd(volume, out, coords, weights, fill, 1, offsets, 0)
    np.testing.assert_array_equal(out, volume)
    shifted = np.array([[1, 0, 0]], np.int64)  # out[i] = volume[i + 1] along axis 0, fill past the end
    _core.filter_nd(volume, out, shifted, weights, fill, 1, offsets, 0)
    np.testing.assert_array_equal(out[:2], volume[1:])
    np.testing.assert_array_equal(out[2], 0.0)
    with pytest.raises(ValueError, match="tap coordinate"):
        _core.filter_nd(volume, out, -coords - 1, weights, fill, 1, offsets, 0)
    with pytest.raises(ValueError, match="overlap"):
        _core.filter_nd(volume, volume, coords, weights, fill, 1, offsets, 0)
    with pytest.raises(ValueError, match="offset"):
        _core.filter_nd(volume, out, coords, weights, fill, 1, np.array([2**40, 0, 0]), 0)
    with pytest.raises(ValueError, match="border"):
        _core.filter_nd(volume, out, coords, weights, fill, 1, offsets, 7)
    with pytest.raises(ValueError, match="coords"):
        _core.filter_nd(volume, out, np.zeros((1, 2), np.int64), weights, fill, 1, offsets, 0)
    with pytest.raises(ValueError, match="shapes differ"):
        _core.filter_nd(volume, out[:2], coords, weights, fill, 1, offsets, 0)
    with pytest.raises(TypeError):
        _core.filter_nd(volume, out, coords, weights.astype(np.float32), fill, 1, offsets, 0)


@fork_child_starts_threads
def test_fork_child_keeps_working():
    import os

    rng = np.random.default_rng(8)
    image = rng.standard_normal((300, 400))
    kernel = rng.standard_normal((5, 5))
    expected = fieldconv.correlate2d(image, kernel, "same")  # the pool exists before the fork
    expected_nd = fieldconv.ndimage.correlate(image, kernel)
    pid = os.fork()
    if pid == 0:  # child: must not hang or crash; exit status reports the comparison
        try:
            ok = np.array_equal(fieldconv.correlate2d(image, kernel, "same"), expected)
            ok = ok and np.array_equal(fieldconv.ndimage.correlate(image, kernel), expected_nd)
        except BaseException:  # noqa: BLE001
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@pytest.mark.parametrize("fill", ["a", object(), [object()]])
def test_unconvertible_fillvalue_names_the_argument(fill):
    # found by tests/test_fuzz.py: NumPy's "complex() arg is a malformed string" came through as is
    image, kernel = np.ones((3, 3), int), np.ones((2, 2), int)
    theirs = _outcome(lambda: signal.correlate2d(image, kernel, fillvalue=fill))
    assert theirs[0] == "error"
    assert _outcome(lambda: fieldconv.correlate2d(image, kernel, fillvalue=fill)) == theirs
    with pytest.raises(theirs[1], match="fillvalue"):
        fieldconv.correlate2d(image, kernel, fillvalue=fill)
