"""Winograd F(m x m, 3 x 3) convolution: accuracy bounds, padding/groups, errors, NaN/Inf, threads."""

import zlib

import numpy as np
import pytest

import fieldconv
from fieldconv.functional import conv2d_algorithm_for

VARIANTS = ["winograd_f2", "winograd_f4", "winograd_f6"]
# Normalised error bounds: max|y - ref| / max over the output plane of conv(|x|, |w|) + |b|.
BOUNDS = {
    (np.float32, "winograd_f2"): 1e-6,
    (np.float32, "winograd_f4"): 2e-5,
    (np.float32, "winograd_f6"): 5e-5,
    (np.float64, "winograd_f2"): 1e-12,
    (np.float64, "winograd_f4"): 1e-12,
    (np.float64, "winograd_f6"): 1e-12,
}


def _conv2d_reference(x, w, b=None, padding=(0, 0, 0, 0), groups=1):
    """Plain float64 cross-correlation, stride 1, dilation 1, (top, bottom, left, right) padding."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    top, bottom, left, right = padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c, h, wd = xp.shape
    oc, icg, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    ocg = oc // groups
    y = np.zeros((n, oc, oh, ow))
    for g in range(groups):
        xs = xp[:, g * icg : (g + 1) * icg]
        ws = w[g * ocg : (g + 1) * ocg]
        for i in range(kh):
            for j in range(kw):
                y[:, g * ocg : (g + 1) * ocg] += np.einsum(
                    "nchw,oc->nohw", xs[:, :, i : i + oh, j : j + ow], ws[:, :, i, j]
                )
    if b is not None:
        y += np.asarray(b, dtype=np.float64)[None, :, None, None]
    return y


def normalised_error(y, x, w, b, padding, groups):
    ref = _conv2d_reference(x, w, b, padding, groups)
    scale = _conv2d_reference(np.abs(x), np.abs(w), None if b is None else np.abs(b), padding, groups)
    scale = scale.max(axis=(2, 3), keepdims=True)
    scale[scale == 0] = 1
    return float((np.abs(y - ref) / scale).max())


# `isa` (tests/conftest.py) runs a test on every kernel family the CPU has (generic, avx2,
# avx512: each has its own Winograd kernels).


def random_problem(rng, n, c, oc, h, w, groups, dtype, varying=False):
    x = rng.standard_normal((n, c, h, w))
    if varying:
        # magnitude changing strongly from tile to tile: 10**U(-4, 4) per 3x3 block of pixels
        blocks = 10.0 ** rng.uniform(-4, 4, size=(n, c, -(-h // 3), -(-w // 3)))
        x *= np.repeat(np.repeat(blocks, 3, axis=2), 3, axis=3)[:, :, :h, :w]
    wt = rng.standard_normal((oc, c // groups, 3, 3))
    b = rng.standard_normal(oc)
    return x.astype(dtype), wt.astype(dtype), b.astype(dtype)


SHAPES = [  # n, c_in, c_out, h, w, groups
    (1, 1, 1, 5, 5, 1),
    (2, 3, 5, 7, 9, 1),
    (1, 16, 24, 13, 11, 1),
    (1, 64, 64, 20, 17, 1),
    (1, 512, 512, 6, 7, 1),
    (2, 12, 18, 9, 10, 3),  # grouped
    (1, 8, 8, 11, 12, 8),  # depthwise
    (1, 4, 12, 8, 9, 4),  # depthwise, channel multiplier 3
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", VARIANTS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("varying", [False, True])
def test_accuracy_bound(isa, dtype, algorithm, shape, varying):
    rng = np.random.default_rng(zlib.crc32(repr((shape, varying)).encode()))
    n, c, oc, h, w, groups = shape
    x, wt, b = random_problem(rng, n, c, oc, h, w, groups, dtype, varying)
    y = fieldconv.conv2d(x, wt, b, padding=1, groups=groups, algorithm=algorithm)
    assert y.dtype == dtype and y.shape == (n, oc, h, w)
    err = normalised_error(y, x, wt, b, (1, 1, 1, 1), groups)
    assert err <= BOUNDS[(dtype, algorithm)], err
    # the layer (weights transformed once) gives bit-identical results
    layer = fieldconv.Conv2d(wt, b, padding=1, groups=groups, algorithm=algorithm)
    np.testing.assert_array_equal(layer(x), y)


# Out-channel panels per group 1..9 (the AVX-512 GEMM takes 4 panels per call: every remainder
# 1..3 and chunks of 4+), partial last panels, input channels below / across one 16-channel
# vector, and tile counts leaving row remainders 1..5 of the 6-row microkernels.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", VARIANTS)
@pytest.mark.parametrize("channels", [(5, 16), (17, 33), (40, 48), (9, 72), (24, 100), (33, 144)])
def test_gemm_panel_and_row_remainders(isa, dtype, algorithm, channels):
    in_channels, out_channels = channels
    rng = np.random.default_rng(in_channels * 1000 + out_channels)
    for n, h, w in ((1, 1, 1), (1, 5, 7), (2, 9, 13), (3, 14, 11), (5, 3, 9)):
        x, wt, b = random_problem(rng, n, in_channels, out_channels, h, w, 1, dtype)
        y = fieldconv.conv2d(x, wt, b, padding=1, algorithm=algorithm)
        assert normalised_error(y, x, wt, b, (1, 1, 1, 1), 1) <= BOUNDS[(dtype, algorithm)]


@pytest.mark.parametrize("padding", [0, 1, 2, (0, 1), (1, 0, 2, 3), (0, 2, 1, 0), "same", "valid"])
@pytest.mark.parametrize("algorithm", ["winograd", "auto"] + VARIANTS)
def test_padding(isa, padding, algorithm):
    rng = np.random.default_rng(7)
    # 32 channels: enough for "auto" to pick Winograd (asserted), so it is really compared
    x, wt, b = random_problem(rng, 2, 32, 32, 10, 13, 1, np.float64)
    assert conv2d_algorithm_for(x.shape, wt.shape, padding=padding, algorithm=algorithm, dtype=x.dtype).startswith(
        "winograd_f"
    )
    y = fieldconv.conv2d(x, wt, b, padding=padding, algorithm=algorithm)
    d = fieldconv.conv2d(x, wt, b, padding=padding, algorithm="direct")
    assert y.shape == d.shape
    np.testing.assert_allclose(y, d, rtol=0, atol=1e-12 * np.abs(d).max())


def test_matches_torch(isa):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, wt, b = random_problem(rng, 2, 32, 48, 15, 14, 1, np.float32)
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b), padding=1
    ).numpy()
    for algorithm in VARIANTS + ["auto"]:
        y = fieldconv.conv2d(x, wt, b, padding=1, algorithm=algorithm)
        np.testing.assert_allclose(y, expected, rtol=0, atol=5e-5 * np.abs(expected).max())


@pytest.mark.parametrize("algorithm", ["winograd"] + VARIANTS)
def test_invalid_geometry_raises(algorithm):
    x = np.zeros((1, 2, 9, 9), np.float32)
    with pytest.raises(ValueError, match=rf"{algorithm}.*3x3.*kernel_size=\(5, 5\)"):
        fieldconv.conv2d(x, np.zeros((2, 2, 5, 5), np.float32), algorithm=algorithm)
    with pytest.raises(ValueError, match=rf"{algorithm}.*3x3.*kernel_size=\(1, 3\)"):
        fieldconv.conv2d(x, np.zeros((2, 2, 1, 3), np.float32), algorithm=algorithm)
    w = np.zeros((2, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match=rf"{algorithm}.*stride 1.*stride=\(2, 2\)"):
        fieldconv.conv2d(x, w, stride=2, algorithm=algorithm)
    with pytest.raises(ValueError, match=rf"{algorithm}.*dilation 1.*dilation=\(1, 2\)"):
        fieldconv.conv2d(x, w, dilation=(1, 2), algorithm=algorithm)
    with pytest.raises(ValueError, match=rf"{algorithm}.*stride=\(1, 3\)"):
        fieldconv.Conv2d(w, stride=(1, 3), algorithm=algorithm)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        fieldconv.conv2d(x, w, algorithm="winograd_f8")


def test_auto_elsewhere_uses_direct(isa):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 3, 12, 12))
    w = rng.standard_normal((4, 3, 5, 5))
    y = fieldconv.conv2d(x, w, stride=2, algorithm="auto")
    np.testing.assert_array_equal(y, fieldconv.conv2d(x, w, stride=2, algorithm="direct"))
    assert conv2d_algorithm_for(x.shape, w.shape, stride=2) == "direct"
    assert conv2d_algorithm_for((1, 64, 56, 56), (64, 64, 3, 3), padding=1, algorithm="winograd_f4") == "winograd_f4"
    assert conv2d_algorithm_for((1, 64, 56, 56), (64, 64, 3, 3), padding=1, algorithm="winograd").startswith(
        "winograd_f"
    )
    # ResNet's 64@56 layer: Winograd (F6 on AVX2 and generic, F4 on AVX-512, by the cost model)
    expected = "winograd_f4" if fieldconv.get_isa() == "avx512" else "winograd_f6"
    assert conv2d_algorithm_for((1, 64, 56, 56), (64, 64, 3, 3), padding=1) == expected
    assert fieldconv.Conv2d(np.zeros((64, 64, 3, 3)), padding=1).algorithm_for((64, 56, 56)) == expected
    assert fieldconv.Conv2d(np.zeros((4, 3, 5, 5)), stride=2).algorithm_for((1, 3, 12, 12)) == "direct"


def _nonfinite_problem(rng, dtype, c=6, oc=5):
    x = rng.standard_normal((2, c, 14, 15)).astype(dtype)
    w = rng.standard_normal((oc, c, 3, 3)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    return x, w, b


def _assert_same_nonfinite(y, d):
    """Non-finite inputs, weights or bias, or magnitudes near overflow, send the call to direct
    convolution: the result is direct's, bit for bit (NaN where direct has NaN)."""
    np.testing.assert_array_equal(y, d)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ["auto", "winograd"] + VARIANTS)
def test_nan_inf_inputs_match_direct(isa, dtype, algorithm):
    rng = np.random.default_rng(11)
    x, w, b = _nonfinite_problem(rng, dtype, 32, 32)  # enough channels for "auto" to pick Winograd
    assert conv2d_algorithm_for(x.shape, w.shape, padding=1, algorithm=algorithm, dtype=dtype).startswith("winograd_f")
    x[0, 1, 3, 4] = np.nan
    x[1, 2, 13, 14] = np.inf
    x[1, 0, 0, 0] = -np.inf
    for layer_call in (False, True):
        if layer_call:
            y = fieldconv.Conv2d(w, b, padding=1, algorithm=algorithm)(x)
        else:
            y = fieldconv.conv2d(x, w, b, padding=1, algorithm=algorithm)
        _assert_same_nonfinite(y, fieldconv.conv2d(x, w, b, padding=1, algorithm="direct"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", VARIANTS)
def test_nonfinite_or_huge_weights_and_bias(isa, dtype, algorithm):
    rng = np.random.default_rng(12)
    x, w, b = _nonfinite_problem(rng, dtype)
    big = np.finfo(dtype).max
    cases = []
    w1 = w.copy()
    w1[2, 3, 1, 1] = np.inf
    cases.append((x, w1, b))
    w2 = w.copy()
    w2[0, 0, 0, 0] = np.nan
    cases.append((x, w2, b))
    w3 = w.copy()
    w3[1] *= big / 4
    cases.append((x, w3, b))  # products overflow
    x4 = x.copy()
    x4[0, :, 5:9, 5:9] *= big / 8
    cases.append((x4, w, b))
    x5 = x.copy()
    x5[1, 2, 7, 7] = big
    cases.append((x5, w, b))  # one huge finite value
    b6 = b.copy()
    b6[3] = np.inf
    b6[4] = big
    cases.append((x, w, b6))
    for xi, wi, bi in cases:
        y = fieldconv.Conv2d(wi, bi, padding=1, algorithm=algorithm)(xi)
        _assert_same_nonfinite(y, fieldconv.conv2d(xi, wi, bi, padding=1, algorithm="direct"))
        y = fieldconv.conv2d(xi, wi, bi, padding=1, algorithm=algorithm)
        _assert_same_nonfinite(y, fieldconv.conv2d(xi, wi, bi, padding=1, algorithm="direct"))


@pytest.mark.parametrize("algorithm", VARIANTS)
def test_huge_inputs_fall_back_exactly(isa, algorithm):
    # beyond the overflow guard the result is direct convolution's, bit for bit
    rng = np.random.default_rng(5)
    x, w, b = _nonfinite_problem(rng, np.float32)
    x *= np.float32(1e33)
    y = fieldconv.conv2d(x, w, b, padding=1, algorithm=algorithm)
    np.testing.assert_array_equal(y, fieldconv.conv2d(x, w, b, padding=1, algorithm="direct"))


@pytest.mark.parametrize("algorithm", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_does_not_change_results(isa, algorithm, dtype):
    rng = np.random.default_rng(9)
    x, w, b = random_problem(rng, 1, 40, 72, 30, 29, 1, dtype)
    layer = fieldconv.Conv2d(w, b, padding=1, algorithm=algorithm)
    previous = fieldconv.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            fieldconv.set_num_threads(threads)
            results.append(layer(x))
    finally:
        fieldconv.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_layer_transforms_once_and_reuses():
    rng = np.random.default_rng(2)
    x, w, b = random_problem(rng, 1, 8, 16, 12, 12, 1, np.float32)
    layer = fieldconv.Conv2d(w, b, padding=1, algorithm="winograd_f4")
    transformed = dict(layer._winograd)
    assert list(transformed) == [(np.dtype(np.float32), 4)]  # at construction
    layer(x)
    layer(x)
    assert layer._winograd == transformed and all(layer._winograd[k] is transformed[k] for k in transformed)
    auto = fieldconv.Conv2d(w, b, padding=1, algorithm="auto")
    assert len(auto._winograd) >= 1  # auto picks Winograd somewhere in 7..224 for 8 -> 16 channels
    w[:] = 0  # the layer copied its weights
    np.testing.assert_array_equal(layer(x), fieldconv.conv2d(x, layer.weight, b, padding=1, algorithm="winograd_f4"))


def test_array_likes_and_inputs_unchanged():
    rng = np.random.default_rng(4)
    x, w, b = random_problem(rng, 2, 6, 4, 11, 10, 1, np.float32)
    expected = fieldconv.conv2d(x, w, b, padding=1, algorithm="winograd_f4")
    views = [
        np.asfortranarray(x),
        x[:, :, ::-1, ::-1][:, :, ::-1, ::-1],
        np.concatenate([x, x], axis=3)[:, :, :, ::2].copy() * 0 + x,
    ]
    x_copy, w_copy = x.copy(), w.copy()
    for v in views:
        np.testing.assert_array_equal(fieldconv.conv2d(v, w, b, padding=1, algorithm="winograd_f4"), expected)
    wide = np.zeros((2, 6, 11, 20), np.float32)
    wide[:, :, :, ::2] = x
    np.testing.assert_array_equal(
        fieldconv.conv2d(wide[:, :, :, ::2], w, b, padding=1, algorithm="winograd_f4"), expected
    )
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(w, w_copy)
    # lists become float64 arrays, as NumPy makes them
    np.testing.assert_array_equal(
        fieldconv.conv2d(x.tolist(), w, b, padding=1, algorithm="winograd_f4"),
        fieldconv.conv2d(x.astype(np.float64), w, b, padding=1, algorithm="winograd_f4"),
    )
    # unbatched
    np.testing.assert_array_equal(fieldconv.conv2d(x[1], w, b, padding=1, algorithm="winograd_f4"), expected[1])


def test_mixed_dtypes_and_empty_batch():
    rng = np.random.default_rng(6)
    x, w, b = random_problem(rng, 1, 3, 4, 9, 9, 1, np.float32)
    y = fieldconv.conv2d(x, w.astype(np.float64), b, padding=1, algorithm="winograd_f2")
    assert y.dtype == np.float64
    assert normalised_error(y, x, w, b, (1, 1, 1, 1), 1) <= 1e-12
    empty = fieldconv.conv2d(np.zeros((0, 3, 9, 9), np.float32), w, b, padding=1, algorithm="winograd_f6")
    assert empty.shape == (0, 4, 9, 9)
