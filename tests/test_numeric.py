"""fieldconv.convolve / fieldconv.correlate against numpy.convolve / numpy.correlate.

Integer results must equal NumPy's exactly (sums wrap in the result dtype); float and complex
results within rounding: |ours - numpy| <= 64 * eps * sum(|a| * |v|) per output (both are sums
of the same products in different orders; the FFT path's bound is eps * log2(N) * max|a| *
sum|v| and is checked with a separate tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest

import fieldconv

INTEGERS = (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64)
FLOATS = (np.float32, np.float64, np.complex64, np.complex128)
OTHERS = (np.bool_, np.float16, np.longdouble, object)
MODES = ("valid", "same", "full", 0, 1, 2)
SIZES = [(1, 1), (5, 3), (3, 5), (6, 4), (4, 6), (7, 7), (2, 9), (130, 17), (17, 130), (1000, 64), (64, 1000)]


def _sequence(dtype, n, rng):
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=n, endpoint=True, dtype=dtype)
    if dtype.kind == "b":
        return rng.random(n) < 0.5
    if dtype == object:
        return np.array([float(t) for t in rng.standard_normal(n)], dtype=object)
    return rng.standard_normal(n).astype(dtype)


def _check(ours, peer, a, v, fft=False):
    assert ours.dtype == peer.dtype
    assert ours.shape == peer.shape
    if peer.dtype.kind in "iub" or peer.dtype == object:
        np.testing.assert_array_equal(ours, peer)
        return
    real = np.finfo(peer.dtype).eps
    magnitude = np.convolve(np.abs(a).astype(np.float64), np.abs(v).astype(np.float64)).max()
    bound = (np.log2(a.size + v.size) * 8 if fft else 64) * real * magnitude
    assert np.abs(ours.astype(np.complex128) - peer.astype(np.complex128)).max() <= bound


@pytest.mark.parametrize("dtype", INTEGERS + FLOATS)
def test_same_dtype_every_mode_and_size(isa, dtype):
    rng = np.random.default_rng(20)
    for n1, n2 in SIZES:
        a, v = _sequence(dtype, n1, rng), _sequence(dtype, n2, rng)
        for mode in MODES:
            _check(fieldconv.convolve(a, v, mode), np.convolve(a, v, mode), a, v)
            _check(fieldconv.correlate(a, v, mode), np.correlate(a, v, mode), a, v)


def test_mixed_dtypes_promote_as_numpy():
    rng = np.random.default_rng(21)
    kinds = INTEGERS + FLOATS
    for i, first in enumerate(kinds):
        for second in kinds[i % 3 :: 3]:
            a, v = _sequence(first, 23, rng), _sequence(second, 6, rng)
            for function in ("convolve", "correlate"):
                _check(getattr(fieldconv, function)(a, v, "same"), getattr(np, function)(a, v, "same"), a, v)
    # Python scalars and lists: a Python float gives float64, a Python int the default integer
    for a, v in [
        ([1, 2, 3], [0, 1, 0.5]),
        (np.int8([1, 2, 3]), [2.5]),
        (np.int8([100, 100]), [3]),
        ([5], [1, 2]),
        (np.float32([1, 2, 3]), [1.0, 2.0]),
    ]:
        for function in ("convolve", "correlate"):
            ours, peer = getattr(fieldconv, function)(a, v, "full"), getattr(np, function)(a, v, "full")
            assert ours.dtype == peer.dtype
            np.testing.assert_allclose(ours, peer)


def test_convolve_takes_scalars_as_numpy():
    for a, v in [(5, [1, 2]), (np.int8([1, 2, 3]), 2.5), (3, 4)]:
        ours, peer = fieldconv.convolve(a, v), np.convolve(a, v)
        assert ours.dtype == peer.dtype
        np.testing.assert_array_equal(ours, peer)


def test_integers_wrap_as_numpy():
    a = np.array([100, 100, -128], dtype=np.int8)
    v = np.array([2, 3], dtype=np.int8)
    np.testing.assert_array_equal(fieldconv.convolve(a, v), np.convolve(a, v))
    big = np.array([2**62, -(2**62), 2**63 - 1], dtype=np.int64)
    np.testing.assert_array_equal(fieldconv.correlate(big, big, "full"), np.correlate(big, big, "full"))
    ubig = np.array([2**64 - 1, 2**63], dtype=np.uint64)
    np.testing.assert_array_equal(fieldconv.convolve(ubig, ubig), np.convolve(ubig, ubig))


def test_complex_correlate_conjugates_v_and_reverses_when_v_is_longer():
    x = np.array([1, 2, 3, 4 + 1j])
    y = np.array([-1, -2j, 3 + 1j])
    for first, second in ((x, y), (y, x)):
        for mode in ("valid", "same", "full"):
            np.testing.assert_allclose(
                fieldconv.correlate(first, second, mode), np.correlate(first, second, mode), rtol=1e-14, atol=1e-13
            )
            np.testing.assert_allclose(
                fieldconv.convolve(first, second, mode), np.convolve(first, second, mode), rtol=1e-14, atol=1e-13
            )


@pytest.mark.parametrize("dtype", OTHERS)
def test_other_dtypes_are_numpys(dtype):
    rng = np.random.default_rng(22)
    a, v = _sequence(dtype, 12, rng), _sequence(dtype, 4, rng)
    for mode in ("valid", "same", "full"):
        _check(fieldconv.convolve(a, v, mode), np.convolve(a, v, mode), a, v)
        _check(fieldconv.correlate(a, v, mode), np.correlate(a, v, mode), a, v)


@pytest.mark.parametrize(
    "args",
    [
        ([], [1.0]),
        ([1.0], []),
        ([[1, 2]], [1]),
        ([1, 2], [[1]]),
        (5, [1, 2]),
        ([1, 2], 2.5),
        ([1, [2, 3]], [1]),
        ([1, 2], [1], "x"),
        ([1, 2], [1], "v"),
        ([1, 2], [1], 1.5),
        ([1, 2], [1], 3),
        ([1, 2], [1], -1),
        ([1, 2], [1], None),
    ],
)
def test_errors_are_numpys(args):
    # the same exception type and message where NumPy raises (convolve takes scalars, correlate not)
    for function in ("convolve", "correlate"):
        try:
            expected = getattr(np, function)(*args)
        except Exception as error:  # noqa: BLE001 - whatever NumPy raises, we must raise too
            with pytest.raises(type(error)) as ours:
                getattr(fieldconv, function)(*args)
            assert str(ours.value) == str(error)
        else:
            np.testing.assert_array_equal(getattr(fieldconv, function)(*args), expected)


def test_fft_path_agrees_and_auto_picks_it_for_long_kernels():
    rng = np.random.default_rng(23)
    for dtype in (np.float32, np.float64, np.complex128):
        for n1, n2 in [(5000, 300), (300, 5000), (6000, 700), (777, 777), (100, 1)]:
            a, v = _sequence(dtype, n1, rng), _sequence(dtype, n2, rng)
            for mode in ("valid", "same", "full"):
                _check(fieldconv.convolve(a, v, mode, method="fft"), np.convolve(a, v, mode), a, v, fft=True)
                _check(fieldconv.correlate(a, v, mode, method="fft"), np.correlate(a, v, mode), a, v, fft=True)
                _check(fieldconv.correlate(a, v, mode, method="direct"), np.correlate(a, v, mode), a, v)
    from fieldconv import numeric

    assert numeric._prefer_fft(10**6, 10**4, np.dtype(np.float64))
    assert not numeric._prefer_fft(10**6, 31, np.dtype(np.float64))


def test_nan_and_inf_stay_where_numpy_puts_them():
    a = np.ones(5000)
    a[1000] = np.nan
    a[3000] = np.inf
    v = np.ones(2000)
    ours, peer = fieldconv.convolve(a, v), np.convolve(a, v)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(peer))
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(peer))


def test_integers_refuse_fft_and_bad_method():
    with pytest.raises(ValueError, match="method='fft'"):
        fieldconv.convolve(np.arange(10), np.arange(3), method="fft")
    with pytest.raises(ValueError, match="method"):
        fieldconv.correlate(np.arange(10.0), np.arange(3.0), method="winograd")


def test_inputs_unchanged_and_any_layout():
    rng = np.random.default_rng(24)
    a = rng.standard_normal(301)
    v = rng.standard_normal(40)
    a0, v0 = a.copy(), v.copy()
    np.testing.assert_allclose(
        fieldconv.convolve(a[::-2], v[::3]), np.convolve(a[::-2], v[::3]), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        fieldconv.correlate(a.astype(">f8"), v), np.correlate(a.astype(">f8"), v), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(v, v0)


def test_threads_give_the_same_integers():
    rng = np.random.default_rng(25)
    a = rng.integers(-1000, 1000, 200_000).astype(np.int32)
    v = rng.integers(-1000, 1000, 77).astype(np.int32)
    fieldconv.set_num_threads(2)
    np.testing.assert_array_equal(fieldconv.convolve(a, v, "same"), np.convolve(a, v, "same"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_direct_sums_every_length_and_tap_count(isa, dtype):
    # Long signals through the direct path's sliding-window loop (several column tiles, every
    # tail length), against NumPy's float64 sums: the bound is taps * eps of the dtype times
    # the largest sum(|a| * |v|).
    rng = np.random.default_rng(21)
    for n1, n2 in [(20011, 101), (9000, 1), (4099, 8), (5003, 9), (1234, 33), (777, 17)]:
        a, v = rng.standard_normal(n1).astype(dtype), rng.standard_normal(n2).astype(dtype)
        for mode in ("full", "same", "valid"):
            ours = fieldconv.convolve(a, v, mode, method="direct")
            peer = np.convolve(a.astype(np.float64), v.astype(np.float64), mode)
            magnitude = np.convolve(np.abs(a).astype(np.float64), np.abs(v).astype(np.float64)).max()
            assert ours.dtype == dtype and ours.shape == peer.shape
            assert np.abs(ours - peer).max() <= (n2 + 2) * np.finfo(dtype).eps * magnitude


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fft_line_path_every_isa_mode_and_length(isa, dtype):
    # The C++ overlap-save FFTs (real inputs up to 4081-4093 taps, by vector width), called
    # directly and through convolve(method="fft") (which may take numpy.fft's path for the
    # longest filters): every ISA, partial batches and blocks, every mode, against NumPy's
    # float64 sums. An FFT's rounding error grows with log2(N) of its length N (at most 2**12
    # here): the bound is 8 * log2(N) * eps of the dtype times the largest sum(|a| * |v|)
    # (observed: under 2 eps for float64).
    from fieldconv import _core

    rng = np.random.default_rng(26)
    for n1, n2 in [(20011, 101), (3001, 1), (5000, 64), (777, 700), (30000, 4081), (10, 3), (100, 99)]:
        a, v = rng.standard_normal(n1).astype(dtype), rng.standard_normal(n2).astype(dtype)
        log2_size = _core.fft_correlate_plan(n2, dtype == np.float32)[0]
        # the picked length keeps at least one vector of outputs per block, and is not much longer
        # than the filter needs (at most 8x, or the shortest length, 64)
        lanes = _core.kernel_constants()[
            "fft_correlate_lanes_f32" if dtype == np.float32 else "fft_correlate_lanes_f64"
        ]
        assert 6 <= log2_size <= 12 and 2**log2_size - n2 + 1 >= lanes
        assert 2**log2_size <= max(64, 8 * (n2 + lanes))
        magnitude = np.convolve(np.abs(a).astype(np.float64), np.abs(v).astype(np.float64)).max()
        direct = np.empty(n1 + n2 - 1, dtype)
        assert _core.correlate_line_fft(a, v[::-1].copy(), direct, n2 - 1)
        full = np.convolve(a.astype(np.float64), v.astype(np.float64))
        assert np.abs(direct - full).max() <= 8 * log2_size * np.finfo(dtype).eps * magnitude
        for mode in ("full", "same", "valid"):
            ours = fieldconv.convolve(a, v, mode, method="fft")
            peer = np.convolve(a.astype(np.float64), v.astype(np.float64), mode)
            assert ours.dtype == dtype and ours.shape == peer.shape
            assert np.abs(ours - peer).max() <= 8 * log2_size * np.finfo(dtype).eps * magnitude
    # every FFT length the kernel takes when asked, not only those the picker chooses: each
    # splits its stages into passes of its own (radix 8, 4 and 2, around the fused middle)
    a = rng.standard_normal(3000).astype(dtype)
    for log2_size in range(1, 15):
        for n2 in {1, 2**log2_size - lanes + 1}:
            if n2 < 1 or 2**log2_size - n2 + 1 < lanes:
                continue
            v = rng.standard_normal(n2).astype(dtype)
            out = np.empty(a.size + n2 - 1, dtype)
            assert _core.correlate_line_fft(a, v[::-1].copy(), out, n2 - 1, log2_size)
            magnitude = np.convolve(np.abs(a).astype(np.float64), np.abs(v).astype(np.float64)).max()
            error = np.abs(out - np.convolve(a.astype(np.float64), v.astype(np.float64))).max()
            assert error <= 8 * log2_size * np.finfo(dtype).eps * magnitude, (log2_size, n2)
    # the same sums on one thread and on two, into aligned and unaligned outputs
    a, v = rng.standard_normal(300_000).astype(dtype), rng.standard_normal(101).astype(dtype)
    results = []
    for threads in (1, 2):
        fieldconv.set_num_threads(threads)
        for offset in (0, 1):
            buffer = np.empty(a.size + v.size + 16, dtype)
            out = buffer[offset : offset + a.size + v.size - 1]
            assert _core.correlate_line_fft(a, v[::-1].copy(), out, v.size - 1)
            results.append(out.copy())
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])
    np.testing.assert_allclose(results[0], np.convolve(a, v), rtol=0, atol=1e-3 if dtype == np.float32 else 1e-11)


def test_fft_line_path_chosen_for_long_signals_and_never_spreads_nan_or_overflow():
    from fieldconv import numeric

    if fieldconv.get_isa() != "generic":
        assert numeric._prefer_fft(10**6, 101, np.dtype(np.float64))
    assert not numeric._prefer_fft(10**6, 31, np.dtype(np.float64))
    rng = np.random.default_rng(27)
    v = rng.standard_normal(101)
    for bad in (np.nan, np.inf, -np.inf, 1e308):
        a = rng.standard_normal(200_000)
        a[[7, 150_000]] = bad
        ours, peer = fieldconv.convolve(a, v), np.convolve(a, v)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(peer))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(peer))
        finite = np.isfinite(peer)
        np.testing.assert_allclose(ours[finite], peer[finite], rtol=1e-9, atol=1e-9)


def test_fft_line_path_refuses_bad_arguments():
    from fieldconv import _core

    a, v, out = np.ones(100), np.ones(10), np.empty(109)
    with pytest.raises(ValueError, match="log2_size 3 is too small for 10 taps"):
        _core.correlate_line_fft(a, v, out, 9, 3)
    with pytest.raises(TypeError, match="float32 or all float64"):
        _core.correlate_line_fft(a.astype(np.float32), v, out, 9)
    with pytest.raises(ValueError, match="tap_count 5000 is too long"):
        _core.correlate_line_fft(np.ones(6000), np.ones(5000), np.empty(6000), 0)
    with pytest.raises(ValueError, match="must not overlap"):
        _core.correlate_line_fft(a, v, a, 9)
