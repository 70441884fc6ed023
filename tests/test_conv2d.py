"""fieldconv.conv2d and fieldconv.Conv2d against the float64 reference and torch.

Every numerical test is run on both kernel families (the ``isa`` fixture) and measured with the
stated error metric (tests/reference.py: conv2d_error): max |y - ref| over an output plane,
divided by the largest conv(|x|, |w|) + |b| of that plane.
"""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fieldconv
from reference import conv2d_error, conv2d_padding, conv2d_reference

try:
    import torch
    import torch.nn.functional as torch_functional
except ImportError:  # torch is a test extra; the reference comparisons still run without it
    torch = None

# Error bounds of the metric above, per result dtype. A direct convolution sums K = taps x
# channels products per output; each rounding is <= eps/2 of the running sum, so the relative
# error is <= K*eps in the worst case and ~sqrt(K)*eps typically. Our sweeps have K <= ~2000.
TOLERANCE = {
    np.dtype(np.float32): 1e-5,  # eps = 1.2e-7: ~80x a typical sqrt(K)*eps, below worst-case K*eps
    np.dtype(np.float64): 1e-13,  # eps = 2.2e-16: same reasoning, K*eps <= 5e-13 worst, ~1e-14 typical
}
FLOAT_TYPES = (np.float32, np.float64)


def torch_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d in float64, with any padding form (explicit F.pad for 4-sided)."""
    kernel_size = np.shape(weight)[2:]
    top, bottom, left, right = conv2d_padding(padding, kernel_size, dilation)
    xt = torch.from_numpy(np.array(x, dtype=np.float64))
    unbatched = xt.ndim == 3
    if unbatched:
        xt = xt[None]
    xt = torch_functional.pad(xt, (left, right, top, bottom))  # zeros, really multiplied as ours
    wt = torch.from_numpy(np.array(weight, dtype=np.float64))
    bt = None if bias is None else torch.from_numpy(np.array(bias, dtype=np.float64))
    y = torch_functional.conv2d(xt, wt, bt, stride=stride, dilation=dilation, groups=groups).numpy()
    return y[0] if unbatched else y


def check_conv2d(x, weight, bias=None, **args):
    """Runs fieldconv.conv2d; checks dtype, shape and error against the reference (and torch)."""
    y = fieldconv.conv2d(x, weight, bias, **args)
    args.pop("algorithm", None)
    dtype = np.result_type(np.asarray(x).dtype, np.asarray(weight).dtype)
    assert y.dtype == dtype
    reference = conv2d_reference(x, weight, bias, **args)
    assert y.shape == reference.shape
    error = conv2d_error(y, x, weight, bias, **args)
    assert error <= TOLERANCE[dtype], f"error {error:.3g} > {TOLERANCE[dtype]:.0e} ({dtype})"
    if torch is not None and y.size:
        expected = torch_conv2d(x, weight, bias, **args)
        assert expected.shape == y.shape
        scale = conv2d_reference(np.abs(x), np.abs(weight), None if bias is None else np.abs(bias), **args)
        assert np.max(np.abs(y - expected)) <= TOLERANCE[dtype] * max(np.max(scale), 1e-300)
    return y


def random_case(rng, dtype, n, c_in, h, w, c_out, kernel, groups=1, bias=True):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.uniform(-1, 1, (n, c_in, h, w)).astype(dtype)
    weight = rng.uniform(-1, 1, (c_out, c_in // groups, kh, kw)).astype(dtype)
    b = rng.uniform(-1, 1, c_out).astype(dtype) if bias else None
    return x, weight, b


# --------------------------------------------------------------------------------------------
# The edge sweep. Blocked kernel: 6 output pixels x (8 or 16) float32 / (4 or 8) float64 output
# channels per microkernel call, input channels in cache chunks of ~56 for 3x3 (32 KiB of
# weights per block), tiles of <= 512 pixels and <= 256 columns, a compact window for dilated
# kernels wider than 64 when there is padding. Depthwise kernel: 4 vectors, 1 vector and scalar
# tails along each output row, stride phases.

# (n, c_in, h, w, c_out, kernel, groups, keyword arguments)
SWEEP = {
    "1x1-image-1x1-kernel": (1, 3, 1, 1, 5, 1, 1, {}),
    "1x1-image-padded-3x3": (2, 4, 1, 1, 7, 3, 1, {"padding": 1}),
    "odd-sizes": (2, 3, 7, 5, 9, 3, 1, {}),
    "cout-1": (1, 5, 8, 9, 1, 3, 1, {"padding": 1}),
    "cout-7": (1, 3, 6, 7, 7, 3, 1, {}),
    "cout-9": (1, 3, 6, 7, 9, (3, 2), 1, {}),
    "cout-17": (1, 2, 5, 8, 17, 3, 1, {"padding": (1, 0)}),
    "cout-33": (2, 3, 5, 5, 33, 3, 1, {"stride": 2, "padding": 1}),
    "cin-1": (3, 1, 9, 10, 8, 5, 1, {}),
    "cin-57-chunks": (1, 57, 6, 5, 16, 3, 1, {"padding": 1}),
    "cin-130-chunks": (1, 130, 5, 4, 20, 3, 1, {}),
    "strip-budget-halves-chunk": (1, 60, 3, 260, 9, 3, 1, {"padding": 1}),
    "cout-130-oc-splits": (1, 3, 24, 24, 130, 3, 1, {"padding": 1}),
    "pixels-49": (1, 8, 9, 9, 16, 3, 1, {}),
    "pixels-25-1x1": (2, 16, 5, 5, 24, 1, 1, {}),
    "wide-300-cols": (1, 2, 3, 300, 10, 1, 1, {}),
    "tall-many-tiles": (1, 2, 70, 20, 8, 3, 1, {"padding": 1}),
    "batch-0": (0, 3, 5, 5, 4, 3, 1, {}),
    "kernel-as-large-as-padded": (2, 3, 5, 6, 5, (7, 8), 1, {"padding": 1}),
    "kernel-as-large-as-input": (1, 4, 6, 5, 9, (6, 5), 1, {}),
    "stride-2": (1, 3, 9, 8, 10, 3, 1, {"stride": 2}),
    "stride-3-padded": (2, 3, 10, 11, 17, 3, 1, {"stride": 3, "padding": 2}),
    "stride-2x3": (1, 2, 11, 13, 8, (2, 3), 1, {"stride": (2, 3), "padding": (0, 1)}),
    "dilation-2": (1, 3, 9, 9, 8, 3, 1, {"dilation": 2}),
    "dilation-3-padded": (1, 3, 8, 9, 9, 3, 1, {"dilation": 3, "padding": 3}),
    "dilation-1x2-stride-2": (1, 2, 12, 12, 7, 3, 1, {"dilation": (1, 2), "stride": 2, "padding": 1}),
    "dilation-40-compact": (1, 3, 12, 10, 9, 3, 1, {"dilation": 40, "padding": 40}),
    "dilation-40-one-axis": (1, 2, 6, 10, 8, 3, 1, {"dilation": (1, 40), "padding": (1, 40)}),
    "dilation-40-unpadded": (1, 2, 82, 83, 5, 3, 1, {"dilation": 40}),
    "dilation-33-stride-2": (1, 2, 5, 7, 16, 3, 1, {"dilation": 33, "stride": (2, 3), "padding": (33, 34, 35, 33)}),
    "padding-int": (1, 3, 6, 6, 8, 3, 1, {"padding": 2}),
    "padding-pair": (1, 3, 6, 6, 8, 3, 1, {"padding": (0, 2)}),
    "padding-4-sided": (1, 3, 6, 7, 8, 3, 1, {"padding": (0, 2, 3, 1)}),
    "padding-valid": (1, 3, 6, 6, 8, 3, 1, {"padding": "valid"}),
    "padding-same-odd-kernel": (1, 3, 6, 7, 8, 3, 1, {"padding": "same"}),
    "padding-same-even-kernel": (1, 3, 6, 7, 8, (4, 2), 1, {"padding": "same"}),
    "padding-same-dilated": (1, 3, 9, 8, 8, (2, 3), 1, {"padding": "same", "dilation": (3, 2)}),
    "groups-2": (2, 6, 7, 7, 4, 3, 2, {"padding": 1}),
    "groups-3-cout-9": (1, 6, 6, 5, 9, 3, 3, {}),
    "groups-2-wide-blocks": (1, 8, 5, 6, 40, 3, 2, {"padding": 1}),
    "depthwise": (2, 5, 9, 8, 5, 3, 5, {"padding": 1}),
    "depthwise-wide": (1, 3, 5, 45, 3, 3, 3, {"padding": 1}),
    "depthwise-multiplier-2": (1, 4, 8, 9, 8, 3, 4, {"padding": 1}),
    "depthwise-stride-2": (1, 3, 11, 39, 3, 3, 3, {"stride": 2, "padding": 1}),
    "depthwise-stride-3-dilated": (1, 2, 13, 40, 4, 3, 2, {"stride": 3, "dilation": 2, "padding": (1, 2, 3, 0)}),
    "depthwise-dilation-40": (1, 2, 7, 9, 2, 3, 2, {"dilation": 40, "padding": 40}),
    "depthwise-5x5-same": (1, 4, 10, 70, 4, 5, 4, {"padding": "same"}),
    "depthwise-large-kernel": (1, 2, 4, 5, 2, (6, 7), 2, {"padding": 1}),
    "depthwise-tall-row-tiles": (1, 2, 300, 200, 2, 3, 2, {"padding": 1}),
    "depthwise-1030-cols": (2, 1, 3, 1030, 1, 3, 1, {"padding": 1, "stride": (1, 2)}),
}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("dtype", FLOAT_TYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", SWEEP.values(), ids=SWEEP.keys())
def test_sweep(isa, rng, case, dtype, bias):
    n, c_in, h, w, c_out, kernel, groups, args = case
    x, weight, b = random_case(rng, dtype, n, c_in, h, w, c_out, kernel, groups, bias)
    y = check_conv2d(x, weight, b, groups=groups, **args)
    if n == 0:
        assert y.shape[:2] == (0, c_out)


@pytest.mark.parametrize(
    "x_type, w_type, b_type",
    [
        (np.float32, np.float64, np.float32),
        (np.float64, np.float32, np.float32),
        (np.float32, np.float32, np.float64),
        (np.float64, np.float64, np.float32),
    ],
)
def test_mixed_dtypes_follow_result_type(isa, rng, x_type, w_type, b_type):
    x = rng.standard_normal((2, 3, 6, 5)).astype(x_type)
    weight = rng.standard_normal((4, 3, 3, 3)).astype(w_type)
    bias = rng.standard_normal(4).astype(b_type)
    y = check_conv2d(x, weight, bias, padding=1)
    assert y.dtype == np.result_type(x_type, w_type)  # bias is cast, it does not promote


def test_unbatched_chw(isa, rng):
    x, weight, bias = random_case(rng, np.float32, 1, 3, 7, 6, 5, 3)
    y = check_conv2d(x[0], weight, bias, padding=1, stride=2)
    assert y.ndim == 3
    np.testing.assert_array_equal(y, fieldconv.conv2d(x, weight, bias, padding=1, stride=2)[0])
    layer = fieldconv.Conv2d(weight, bias, padding=1, stride=2)
    np.testing.assert_array_equal(layer(x[0]), y)
    assert layer.output_shape(x[0].shape) == y.shape


def test_algorithm_direct_and_auto_agree(isa, rng):
    # 32 -> 32 channels at 28x28: "auto" picks Winograd (asserted), so two algorithms meet here;
    # both within their bounds of the reference (check_conv2d: 1e-5 covers Winograd F4/F6)
    x, weight, bias = random_case(rng, np.float32, 1, 32, 28, 28, 32, 3)
    layer = fieldconv.Conv2d(weight, bias, padding=1)
    assert layer.algorithm_for(x.shape).startswith("winograd_f")
    assert fieldconv.conv2d_algorithm_for(x.shape, weight.shape, padding=1) == layer.algorithm_for(x.shape)
    direct = check_conv2d(x, weight, bias, padding=1, algorithm="direct")
    auto = check_conv2d(x, weight, bias, padding=1, algorithm="auto")
    np.testing.assert_array_equal(layer(x), auto)
    assert not np.array_equal(auto, direct)  # really another algorithm


# --------------------------------------------------------------------------------------------
# Array-likes and input safety


def _variants(array):
    """(name, array-like) pairs equal in value to array but differently laid out."""
    reversed_copy = np.ascontiguousarray(array[..., ::-1])
    read_only = array.copy()
    read_only.flags.writeable = False
    doubled = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), array.dtype)
    doubled[..., ::2] = array
    return [
        ("list", array.tolist()),
        ("non-contiguous", doubled[..., ::2]),
        ("negative-strides", reversed_copy[..., ::-1]),
        ("fortran", np.asfortranarray(array)),
        ("read-only", read_only),
        ("big-endian", array.astype(array.dtype.newbyteorder(">"))),
    ]


@pytest.mark.parametrize("dtype", FLOAT_TYPES, ids=["f32", "f64"])
def test_array_likes_give_the_contiguous_result(isa, rng, dtype):
    x, weight, bias = random_case(rng, dtype, 2, 3, 6, 7, 5, 3)
    args = dict(stride=(1, 2), padding=(1, 0, 2, 1))
    expected = fieldconv.conv2d(x, weight, bias, **args)
    for name, variant in _variants(x):
        got = fieldconv.conv2d(variant, weight, bias, **args)
        if name == "list":  # a list of Python floats is float64
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, err_msg=name)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=f"x {name}")
    for name, variant in _variants(weight):
        if name != "list":
            np.testing.assert_array_equal(
                fieldconv.conv2d(x, variant, bias, **args), expected, err_msg=f"weight {name}"
            )
            np.testing.assert_array_equal(
                fieldconv.Conv2d(variant, bias, **args)(x), expected, err_msg=f"Conv2d {name}"
            )
    for name, variant in _variants(bias):
        if name != "list":
            np.testing.assert_array_equal(
                fieldconv.conv2d(x, weight, variant, **args), expected, err_msg=f"bias {name}"
            )


def test_lists_everywhere(isa):
    x = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]
    weight = [[[[1.0, 0.0], [0.0, -1.0]]]]
    y = fieldconv.conv2d(x, weight, [0.5])
    assert y.dtype == np.float64 and y.shape == (1, 2, 2)
    np.testing.assert_array_equal(y, [[[1 - 5 + 0.5, 2 - 6 + 0.5], [4 - 8 + 0.5, 5 - 9 + 0.5]]])


def test_inputs_are_never_modified(isa, rng):
    x, weight, bias = random_case(rng, np.float32, 2, 4, 6, 6, 8, 3)
    copies = [a.copy() for a in (x, weight, bias)]
    fieldconv.conv2d(x, weight, bias, padding=1)
    fieldconv.conv2d(x.astype(np.float64), weight, bias, padding="same")
    layer = fieldconv.Conv2d(weight, bias, padding=1)
    layer(x)
    for original, copy in zip((x, weight, bias), copies):
        np.testing.assert_array_equal(original, copy)


def test_conv2d_layer_copies_its_weights(isa, rng):
    x, weight, bias = random_case(rng, np.float32, 1, 4, 7, 7, 8, 3)
    expected = fieldconv.conv2d(x, weight, bias, padding=1, stride=2)
    layer = fieldconv.Conv2d(weight, bias, padding=1, stride=2)
    weight[...] = 7.0  # the caller's arrays change after construction: no effect on the layer
    bias[...] = -3.0
    np.testing.assert_array_equal(layer(x), expected)
    np.testing.assert_array_equal(
        layer(x.astype(np.float64)),
        fieldconv.conv2d(x.astype(np.float64), layer.weight, layer.bias, padding=1, stride=2),
    )
    assert layer.output_shape(x.shape) == expected.shape


@pytest.mark.parametrize(
    "args",
    [
        dict(),
        dict(padding="same", dilation=2),
        dict(stride=2, padding=(1, 0, 2, 1), groups=2),
        dict(groups=4, padding=1),
    ],
    ids=["plain", "same-dilated", "strided-grouped", "depthwise"],
)
def test_conv2d_layer_equals_functional(isa, rng, args):
    groups = args.get("groups", 1)
    x, weight, bias = random_case(rng, np.float32, 2, 4, 9, 8, 8, 3, groups)
    layer = fieldconv.Conv2d(weight, bias, **args)
    np.testing.assert_array_equal(layer(x), fieldconv.conv2d(x, weight, bias, **args))
    check_conv2d(x, weight, bias, **args)


# --------------------------------------------------------------------------------------------
# Property test


@st.composite
def conv_problems(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 5))
    c_out = groups * draw(st.integers(1, 7))
    if draw(st.booleans()):  # depthwise (any multiplier)
        c_in = groups
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    same = draw(st.integers(0, 4)) == 0
    stride = (1, 1) if same else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = "same" if same else tuple(draw(st.integers(0, 3)) for _ in range(4))
    pads = conv2d_padding(padding, (kh, kw), dilation)
    # input at least as large as the dilated kernel minus the padding
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - pads[0] - pads[1]), 12))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - pads[2] - pads[3]), 12))
    n = draw(st.integers(0, 2))
    dtype = draw(st.sampled_from(FLOAT_TYPES))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return (
        n,
        c_in,
        h,
        w,
        c_out,
        (kh, kw),
        groups,
        dtype,
        bias,
        seed,
        dict(stride=stride, padding=padding, dilation=dilation, groups=groups),
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problem=conv_problems())
def test_property_matches_reference(isa, problem):
    n, c_in, h, w, c_out, kernel, groups, dtype, bias, seed, args = problem
    x, weight, b = random_case(np.random.default_rng(seed), dtype, n, c_in, h, w, c_out, kernel, groups, bias)
    check_conv2d(x, weight, b, **args)


# --------------------------------------------------------------------------------------------
# NaN and Inf: exactly where torch (float64) has them


def test_nan_and_inf_propagate_as_torch(isa, rng):
    pytest.importorskip("torch")
    x, weight, bias = random_case(rng, np.float64, 2, 4, 7, 8, 9, 3)
    x[0, 1, 2, 3] = np.nan
    x[0, 2, 5, 6] = np.inf
    x[1, 0, 0, 0] = -np.inf
    x[1, 3, 6, 7] = np.inf
    weight[4, 1, 0, 0] = np.inf  # meets the zero padding: NaN along the border, as torch
    weight[7, 2, 2, 2] = -np.inf
    bias[8] = np.nan
    for dtype in FLOAT_TYPES:
        for args in (dict(padding=1), dict(padding=(2, 0, 1, 3), stride=2), dict(padding="same", dilation=2)):
            xd, wd, bd = x.astype(dtype), weight.astype(dtype), bias.astype(dtype)
            y = fieldconv.conv2d(xd, wd, bd, **args)
            expected = torch_conv2d(xd, wd, bd, **args)
            assert np.array_equal(np.isnan(y), np.isnan(expected)), args
            assert np.array_equal(np.isposinf(y), np.isposinf(expected)), args
            assert np.array_equal(np.isneginf(y), np.isneginf(expected)), args
            finite = np.isfinite(expected)
            assert finite.any() and (~finite).any()
            finite_abs = [np.where(np.isfinite(a), np.abs(a), 0.0) for a in (xd, wd)]
            scale = conv2d_reference(*finite_abs, **args).max()
            assert np.max(np.abs(y[finite] - expected[finite])) <= TOLERANCE[np.dtype(dtype)] * (scale + 1)


def test_inf_weight_meeting_padding_gives_nan(isa):
    x = np.ones((1, 1, 3, 3), np.float32)
    weight = np.zeros((1, 1, 3, 3), np.float32)
    weight[0, 0, 0, 0] = np.inf
    y = fieldconv.conv2d(x, weight, padding=1)
    # output (0, *) and (*, 0) read the top-left tap in the padding: 0 * inf = NaN
    expected = np.array([[np.nan, np.nan, np.nan], [np.nan, np.inf, np.inf], [np.nan, np.inf, np.inf]])
    np.testing.assert_array_equal(y[0, 0], expected)
    # depthwise kernel, same rule
    y = fieldconv.conv2d(
        np.ones((1, 2, 3, 3)), np.concatenate([weight, weight]).astype(np.float64), padding=1, groups=2
    )
    np.testing.assert_array_equal(y[0, 1], expected)


# --------------------------------------------------------------------------------------------
# Threads


@pytest.mark.parametrize(
    "args",
    [
        dict(c_in=24, c_out=40, kernel=3, padding=1, groups=1),
        dict(c_in=8, c_out=16, kernel=3, padding=1, groups=8),
        dict(c_in=3, c_out=70, kernel=5, padding=2, groups=1),
    ],
    ids=["blocked", "depthwise", "many-blocks"],
)
def test_thread_count_does_not_change_results(isa, rng, args):
    x, weight, bias = random_case(
        rng, np.float32, 2, args["c_in"], 21, 19, args["c_out"], args["kernel"], args["groups"]
    )
    results = []
    for threads in (1, 2, 3):
        fieldconv.set_num_threads(threads)
        assert fieldconv.get_num_threads() == threads
        results.append(fieldconv.conv2d(x, weight, bias, padding=args["padding"], groups=args["groups"]))
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


def test_concurrent_python_threads_match_serial(isa, rng):
    fieldconv.set_num_threads(2)
    problems = [random_case(rng, dtype, 2, 6, 17, 15, 12, 3) for dtype in (np.float32, np.float64) * 2]
    layers = [fieldconv.Conv2d(w, b, padding=1) for _, w, b in problems]
    shared = fieldconv.Conv2d(problems[0][1], problems[0][2], padding=1)  # one layer, four threads
    serial = [layer(x) for layer, (x, _, _) in zip(layers, problems)]
    serial_shared = shared(problems[0][0])
    results = [None] * 4
    errors = []
    barrier = threading.Barrier(4)

    def work(index):
        try:
            barrier.wait()
            for _ in range(5):
                own = layers[index](problems[index][0])
                both = shared(problems[0][0])
                assert np.array_equal(own, serial[index]) and np.array_equal(both, serial_shared)
            results[index] = own
        except BaseException as error:  # reported below, in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    for got, expected in zip(results, serial):
        np.testing.assert_array_equal(got, expected)


# --------------------------------------------------------------------------------------------
# Bad input: the exception type and the argument's name in the message

X = np.ones((1, 4, 6, 6), np.float32)
W = np.ones((8, 4, 3, 3), np.float32)

BAD_INPUTS = {
    "x-2d": (lambda: fieldconv.conv2d(np.ones((6, 6), np.float32), W), ValueError, ["x", "(6, 6)"]),
    "x-5d": (lambda: fieldconv.conv2d(np.ones((1, 1, 4, 6, 6), np.float32), W), ValueError, ["x"]),
    "weight-3d": (lambda: fieldconv.conv2d(X, np.ones((8, 4, 3), np.float32)), ValueError, ["weight"]),
    "weight-empty": (lambda: fieldconv.conv2d(X, np.ones((0, 4, 3, 3), np.float32)), ValueError, ["weight"]),
    "channel-mismatch": (
        lambda: fieldconv.conv2d(X, np.ones((8, 3, 3, 3), np.float32)),
        ValueError,
        ["x", "weight", "4"],
    ),
    "groups-vs-in-channels": (
        lambda: fieldconv.conv2d(X, np.ones((6, 2, 3, 3), np.float32), groups=3),
        ValueError,
        ["groups"],
    ),
    "groups-vs-out-channels": (
        lambda: fieldconv.conv2d(X, np.ones((3, 2, 3, 3), np.float32), groups=2),
        ValueError,
        ["groups", "out_channels"],
    ),
    "groups-0": (lambda: fieldconv.conv2d(X, W, groups=0), ValueError, ["groups"]),
    "groups-float": (lambda: fieldconv.conv2d(X, W, groups=1.0), TypeError, ["groups"]),
    "bias-length": (lambda: fieldconv.conv2d(X, W, np.ones(7, np.float32)), ValueError, ["bias", "(7,)"]),
    "bias-2d": (lambda: fieldconv.conv2d(X, W, np.ones((8, 1), np.float32)), ValueError, ["bias"]),
    "bias-complex": (lambda: fieldconv.conv2d(X, W, np.ones(8, complex)), TypeError, ["bias"]),
    "stride-0": (lambda: fieldconv.conv2d(X, W, stride=0), ValueError, ["stride", "0"]),
    "stride-negative": (lambda: fieldconv.conv2d(X, W, stride=(1, -2)), ValueError, ["stride", "-2"]),
    "stride-float": (lambda: fieldconv.conv2d(X, W, stride=1.5), TypeError, ["stride", "1.5"]),
    "stride-triple": (lambda: fieldconv.conv2d(X, W, stride=(1, 1, 1)), ValueError, ["stride"]),
    "dilation-0": (lambda: fieldconv.conv2d(X, W, dilation=0), ValueError, ["dilation"]),
    "dilation-negative": (lambda: fieldconv.conv2d(X, W, dilation=(-1, 1)), ValueError, ["dilation"]),
    "padding-negative": (lambda: fieldconv.conv2d(X, W, padding=-1), ValueError, ["padding", "-1"]),
    "padding-4-negative": (lambda: fieldconv.conv2d(X, W, padding=(0, 0, 0, -1)), ValueError, ["padding"]),
    "padding-3-tuple": (lambda: fieldconv.conv2d(X, W, padding=(1, 1, 1)), ValueError, ["padding"]),
    "padding-unknown-string": (lambda: fieldconv.conv2d(X, W, padding="full"), ValueError, ["padding", "full"]),
    "same-with-stride": (lambda: fieldconv.conv2d(X, W, padding="same", stride=2), ValueError, ["same", "stride"]),
    "kernel-larger-than-padded": (
        lambda: fieldconv.conv2d(X, np.ones((8, 4, 9, 3), np.float32), padding=1),
        ValueError,
        ["kernel", "padding"],
    ),
    "dilated-kernel-too-large": (lambda: fieldconv.conv2d(X, W, dilation=(1, 4)), ValueError, ["kernel", "dilat"]),
    "unknown-algorithm": (lambda: fieldconv.conv2d(X, W, algorithm="fft"), ValueError, ["algorithm", "fft"]),
    "x-int": (lambda: fieldconv.conv2d(X.astype(np.int64), W), TypeError, ["x", "int64"]),
    "weight-int": (lambda: fieldconv.conv2d(X, W.astype(np.int32)), TypeError, ["weight", "int32"]),
    "x-complex": (lambda: fieldconv.conv2d(X.astype(np.complex64), W), TypeError, ["x", "complex"]),
    "x-object": (lambda: fieldconv.conv2d(X.astype(object), W), TypeError, ["x", "object"]),
    "x-float16": (lambda: fieldconv.conv2d(X.astype(np.float16), W), TypeError, ["x", "float16"]),
    "weight-float16": (lambda: fieldconv.conv2d(X, W.astype(np.float16)), TypeError, ["weight", "float16"]),
    "x-bool": (lambda: fieldconv.conv2d(X.astype(bool), W), TypeError, ["x", "bool"]),
    "x-ragged-list": (lambda: fieldconv.conv2d([[[1.0, 2.0], [1.0]]], W), TypeError, ["x"]),
    "layer-weight-3d": (lambda: fieldconv.Conv2d(np.ones((8, 4, 3), np.float32)), ValueError, ["weight"]),
    "layer-channel-mismatch": (
        lambda: fieldconv.Conv2d(W)(np.ones((1, 3, 6, 6), np.float32)),
        ValueError,
        ["x", "weight"],
    ),
    "layer-x-int": (lambda: fieldconv.Conv2d(W)(X.astype(np.int16)), TypeError, ["x"]),
    "layer-unknown-algorithm": (lambda: fieldconv.Conv2d(W, algorithm="gemm"), ValueError, ["algorithm"]),
}


@pytest.mark.parametrize("call, error, words", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


HUGE = {
    "stride-2**31": (dict(stride=2**31), "stride"),
    "stride-2**62": (dict(stride=(1, 2**62)), "stride"),
    "padding-2**31": (dict(padding=2**31), "padding"),
    "padding-2**62": (dict(padding=(0, 2**62, 0, 0)), "padding"),
    "padding-2**31-1": (dict(padding=2**31 - 1), "padding"),  # legal extent, output > 2**48 elements
    "padding-2**30-rows": (dict(padding=(2**30, 2**30, 0, 0), stride=(1, 1)), "padding"),  # 2**31 output rows
    "dilation-2**31": (dict(dilation=2**31), "dilation"),
    "dilation-2**62": (dict(dilation=(2**62, 1)), "dilation"),
    "dilation-2**30": (dict(dilation=2**30), "dilat"),
}


@pytest.mark.parametrize("args, word", HUGE.values(), ids=HUGE.keys())
def test_huge_geometry_raises_quickly_without_allocating(args, word):
    tracemalloc.start()  # NumPy reports its array allocations to tracemalloc
    try:
        start = time.perf_counter()
        with pytest.raises(ValueError) as info:
            fieldconv.conv2d(X, W, **args)
        elapsed = time.perf_counter() - start
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5, "took too long: something was allocated or computed"
    assert peak_bytes < 1 << 20, f"{peak_bytes} bytes allocated before the error"
    assert word in str(info.value), str(info.value)


def test_zero_height_or_width_refused_as_torch():
    # found by tests/test_fuzz.py: padding made room for an output from an empty image; PyTorch
    # refuses any empty dimension but the batch ("Only zero batch or zero channel inputs")
    weight = np.ones((1, 2, 1, 1))
    for shape, what in (((1, 2, 0, 3), "height"), ((2, 3, 0), "width")):
        with pytest.raises(ValueError, match=f"x {what} must be at least 1"):
            fieldconv.conv2d(np.zeros(shape), weight, padding=1)
        with pytest.raises(ValueError, match=f"x {what} must be at least 1"):
            fieldconv.Conv2d(weight, padding=1)(np.zeros(shape))
    assert fieldconv.conv2d(np.zeros((0, 2, 3, 3)), weight, padding=1).shape == (0, 1, 5, 5)  # empty batch: fine


def test_layer_bias_is_cast_per_call_as_the_function_does():
    # found by tests/test_fuzz.py: Conv2d stored a float64 bias in its float32 weights' dtype, so a
    # float64 input got a bias rounded to float32 (conv2d casts the bias to the result dtype)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 4, 4))
    weight = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(3) + 1e-3
    layer = fieldconv.Conv2d(weight, bias, padding=1)
    np.testing.assert_array_equal(layer(x), fieldconv.conv2d(x, weight, bias, padding=1))
    np.testing.assert_array_equal(
        layer(x.astype(np.float32)), fieldconv.conv2d(x.astype(np.float32), weight, bias, padding=1)
    )


# --------------------------------------------------------------------------------------------
# Pointwise kernel (1x1, stride 1, no padding, maps of >= 256 pixels): pixels vectorised, 8 (or
# 4) out-channels x 3 vectors per microkernel, runs of 3 vectors packed per chunk of ~85 float32
# / ~42 float64 input channels, 192 pixels x 64 out-channels per item. The edges: pixel tails of
# every length (and 1 or 2 vectors), out-channel counts off the 8/4 grid, several channel chunks,
# groups, no bias, float64; compared with the reference (and torch).


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "n, c_in, h, w, c_out, groups",
    [
        (1, 16, 16, 16, 8, 1),  # 256 pixels: whole runs only
        (1, 7, 17, 19, 5, 1),  # 323 pixels: a tail, out-channels off the grid
        (2, 600, 16, 17, 70, 1),  # several channel chunks (48 KiB X panels), 70 = 64 + 6 rows
        (1, 12, 20, 13, 9, 3),  # groups
        (1, 3, 1, 300, 130, 1),  # one row, 3 row items
        (1, 4, 16, 31, 1, 1),  # one out-channel
    ],
)
def test_pointwise_edges(isa, rng, dtype, n, c_in, h, w, c_out, groups):
    x, weight, bias = random_case(rng, dtype, n, c_in, h, w, c_out, 1, groups=groups)
    check_conv2d(x, weight, bias, groups=groups, algorithm="direct")
    check_conv2d(x, weight, None, groups=groups, algorithm="direct")


# The row kernel (AVX-512 family; at most 4 input channels, groups 1, no dilation, output rows at
# least a vector wide): stride phases, partial last vectors, row and column tiles, out-channels
# off the grid of 4. Narrower rows (float32's 16 lanes), and every case in the other families,
# go to the blocked kernel.
@pytest.mark.parametrize("dtype", FLOAT_TYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    "n, c_in, h, w, c_out, kernel, args",
    [
        (1, 3, 45, 47, 64, 7, {"stride": 2, "padding": 3}),  # an RGB stem, odd sizes
        (2, 1, 20, 33, 5, 3, {"padding": 1}),
        (1, 4, 12, 100, 9, (2, 5), {"stride": (1, 3), "padding": (0, 1, 2, 0)}),
        (1, 2, 300, 17, 3, 3, {}),  # many row tiles; 15 columns
        (1, 3, 3, 2100, 6, (1, 3), {"padding": (0, 1)}),  # 3 column tiles of 700
        (1, 3, 9, 40, 7, 4, {"stride": 3}),
        (2, 2, 6, 35, 4, 1, {"stride": 2}),  # 1x1 with stride: not the pointwise kernel
    ],
)
def test_row_kernel_edges(isa, rng, dtype, n, c_in, h, w, c_out, kernel, args):
    x, weight, bias = random_case(rng, dtype, n, c_in, h, w, c_out, kernel)
    check_conv2d(x, weight, bias, algorithm="direct", **args)
    check_conv2d(x, weight, None, algorithm="direct", **args)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_pointwise_results_do_not_depend_on_threads(rng, threads):
    x, weight, bias = random_case(rng, np.float32, 2, 100, 20, 20, 72, 1)
    fieldconv.set_num_threads(1)
    expected = fieldconv.conv2d(x, weight, bias)
    fieldconv.set_num_threads(threads)
    np.testing.assert_array_equal(fieldconv.conv2d(x, weight, bias), expected)
