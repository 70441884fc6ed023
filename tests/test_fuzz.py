"""Fuzzing every public function (issue 9, item 3) with hypothesis.

Each test draws shapes (1xN, Nx1, sizes around the kernel size, empty batches, unbatched
inputs), strides, dilations, paddings in every accepted form, groups, dtypes (float32/float64
for the neural-network ops; integer, float, complex and bool where the SciPy drop-ins take them),
memory layouts (C, Fortran, negative strides, strided slices, read-only, unaligned, byte-swapped,
nested lists), thread counts and option combinations, and, with some probability, invalid values
(zero/negative/huge sizes, wrong ndim, bad dtypes, padding too large, bad option values). Valid
draws are compared with tests/reference.py (and with torch / SciPy where installed) at the
tolerances the per-area tests state, on every kernel family the CPU runs; invalid draws must
raise a clean ValueError/TypeError whose message names the argument (SciPy's own exception type
for the drop-ins). Inputs must never be modified, and for the neural-network ops every layout and
thread count must give the result of the contiguous input bit for bit.

Bounded run (part of the normal suite; 50 examples per test, deterministic with derandomize=True;
5-15 s on a shared 2-core machine):

    python -m pytest tests/test_fuzz.py

Long run (FIELDCONV_FUZZ_EXAMPLES examples per test, weighted 0.3x-1.5x by cost, a fresh random
seed each run; hypothesis prints the falsifying example and a @reproduce_failure blob). 10000
(78,000 examples in all) took 3.5 minutes on an idle 2-core machine and 9 on a shared one; scale
the number for a longer run:

    FIELDCONV_FUZZ_EXAMPLES=10000 python -m pytest tests/test_fuzz.py -p no:cacheprovider -q

Replay a given seed with ``--hypothesis-seed=N`` (pytest option of the hypothesis plugin).
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fieldconv
from fieldconv import _core
from fieldconv.functional import conv2d_algorithm_for

from conftest import NDIMAGE_DTYPES, NDIMAGE_MODES, SIGNAL_DTYPES, supported_isas
from reference import (
    avg_pool2d_reference,
    conv2d_error,
    conv2d_padding,
    conv2d_reference,
    correlate2d_reference,
    max_pool2d_reference,
    pool_output_size,
)
from test_conv2d import TOLERANCE as CONV_TOLERANCE
from test_conv2d import torch, torch_conv2d
from test_pool2d import assert_avg_close, avg_scale, each_isa
from test_winograd import BOUNDS as WINOGRAD_BOUNDS

try:
    import scipy.ndimage as scipy_ndimage
    import scipy.signal as scipy_signal
except ImportError:  # the drop-in fuzzers skip; the rest still runs
    scipy_ndimage = scipy_signal = None
else:
    from test_ndimage import assert_same as ndimage_assert_same
    from test_signal import _outcome
    from test_signal import assert_same as signal_assert_same

# --------------------------------------------------------------------------------------------
# settings: one env var for the example count, one profile per kind of run

DEFAULT_EXAMPLES = 50
_ENV_EXAMPLES = os.environ.get("FIELDCONV_FUZZ_EXAMPLES")
EXAMPLES = int(_ENV_EXAMPLES) if _ENV_EXAMPLES else DEFAULT_EXAMPLES
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "fieldconv-fuzz",
    max_examples=DEFAULT_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_HEALTH,
    print_blob=True,
)
settings.register_profile(
    "fieldconv-fuzz-long", settings.get_profile("fieldconv-fuzz"), max_examples=EXAMPLES, derandomize=False
)
_PROFILE = settings.get_profile("fieldconv-fuzz-long" if _ENV_EXAMPLES else "fieldconv-fuzz")


def fuzz(weight: float = 1.0):
    """The profile's settings with weight x the example count (cheap tests run more examples)."""
    return settings(_PROFILE, max_examples=max(1, round(EXAMPLES * weight)))


ALL_ISAS = supported_isas()
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
HUGE = st.sampled_from([2**31, 2**31 + 1, 2**40, 2**62, 2**63, 2**64 + 3])


def each_kernel_family():
    """Every kernel family this CPU runs (the previous one restored afterwards)."""
    previous = _core.get_isa()
    try:
        for name in ALL_ISAS:
            _core.set_isa(name)
            yield name
    finally:
        _core.set_isa(previous)


def check_raises(problems, call):
    """call() must raise one of problems [(exception type, words the message contains)]."""
    with pytest.raises((ValueError, TypeError, RuntimeError)) as info:
        call()
    message = str(info.value)
    for error_type, words in problems:
        if type(info.value) is error_type and all(word in message for word in words):
            return info.value
    raise AssertionError(f"raised {type(info.value).__name__}({message!r}); expected one of {problems}")


# --------------------------------------------------------------------------------------------
# memory layouts: the same values, laid out differently

LAYOUTS = ("C", "C", "F", "reversed", "strided", "readonly", "unaligned", "swapped", "list")


def with_layout(array: np.ndarray, layout: str):
    """array's values in another memory layout (dtype kept, except for a Python list)."""
    array = np.asarray(array)
    if array.ndim == 0 or layout == "C" or (array.dtype.kind == "O" and layout in ("unaligned", "swapped")):
        return np.array(array, copy=True)
    if layout == "F":
        return np.asfortranarray(array.copy())
    if layout == "reversed":  # negative strides on every axis
        flip = (slice(None, None, -1),) * array.ndim
        return np.ascontiguousarray(array[flip])[flip]
    if layout == "strided":  # a view every other element of a larger array
        big = np.zeros(tuple(2 * s + 1 for s in array.shape), dtype=array.dtype)
        view = big[(slice(1, None, 2),) * array.ndim]
        view[...] = array
        return view
    if layout == "readonly":
        copy = array.copy()
        copy.flags.writeable = False
        return copy
    if layout == "unaligned":
        buffer = np.zeros(array.nbytes + 1, dtype=np.uint8)
        view = buffer[1 : 1 + array.nbytes].view(array.dtype).reshape(array.shape)
        view[...] = array
        return view
    if layout == "swapped":
        return array.astype(array.dtype.newbyteorder())
    if layout == "list":
        if array.dtype in (np.float64, np.int64, np.complex128, np.bool_) and 0 < array.size <= 400:
            return array.tolist()
        return array.copy()
    raise AssertionError(layout)


def snapshot(value):
    """A copy of a writable input array (read-only and broadcast arrays cannot change)."""
    if isinstance(value, np.ndarray) and value.flags.writeable:
        return np.array(value, copy=True)
    return None


def assert_unchanged(value, copy):
    """Inputs are never modified (bit for bit, NaN payloads included)."""
    if copy is not None:
        assert value.dtype == copy.dtype and value.shape == copy.shape
        assert np.ascontiguousarray(value).tobytes() == np.ascontiguousarray(copy).tobytes(), "input modified"


def sprinkle(rng, array: np.ndarray, count: int) -> np.ndarray:
    """array with count elements set to NaN, +Inf or -Inf at random positions."""
    flat = array.reshape(-1)
    if flat.size:
        for _ in range(count):
            flat[rng.integers(flat.size)] = rng.choice([np.nan, np.inf, -np.inf])
    return array


@st.composite
def int_or_pair(draw, values):
    """(value as passed, (rows, cols)): an int, tuple, list or NumPy pair."""
    a = draw(values)
    form = draw(st.sampled_from(["int", "int", "tuple", "list", "numpy"]))
    if form == "int":
        return (np.int64(a) if draw(st.booleans()) and a < 2**63 else a), (a, a)
    b = draw(values)
    if form == "tuple":
        return (a, b), (a, b)
    if form == "list":
        return [a, b], (a, b)
    return np.array([a, b]), (a, b)


# --------------------------------------------------------------------------------------------
# conv2d and Conv2d

CONV_ALGORITHMS = ["auto", "auto", "direct", "direct", "winograd", "winograd_f2", "winograd_f4", "winograd_f6"]
CONV_INVALID = [
    "stride_zero",
    "stride_type",
    "stride_len",
    "dilation_zero",
    "groups_zero",
    "groups_type",
    "groups_mismatch",
    "padding_negative",
    "padding_form",
    "padding_type",
    "huge_stride",
    "huge_padding",
    "huge_dilation",
    "x_ndim",
    "x_dtype",
    "weight_dtype",
    "weight_ndim",
    "weight_empty",
    "channels",
    "bias_shape",
    "bias_dtype",
    "zero_height",
    "algorithm_name",
    "huge_input",
    "ragged_list",
]
BAD_DTYPES = [np.int32, np.int64, np.float16, np.complex64, np.complex128, np.bool_, object, np.uint8]


@st.composite
def conv2d_cases(draw):
    wide = draw(st.integers(0, 4)) == 0  # enough channels for "auto" to consider Winograd
    groups_kind = draw(st.sampled_from(["1", "1", "1", "2", "3", "depthwise"]))
    if wide:
        in_per_group, out_per_group = draw(st.integers(8, 20)), draw(st.integers(8, 20))
        groups = 1 if groups_kind in ("1", "depthwise") else int(groups_kind)
    elif groups_kind == "depthwise":
        groups = draw(st.integers(2, 5))
        in_per_group, out_per_group = 1, draw(st.integers(1, 2))
    else:
        groups = int(groups_kind)
        in_per_group, out_per_group = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    three = wide or draw(st.booleans())
    kernel = (3, 3) if three and draw(st.integers(0, 3)) else (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    plain = draw(st.booleans())
    stride, stride_pair = (1, (1, 1)) if plain else draw(int_or_pair(st.integers(1, 3)))
    dilation, dilation_pair = (1, (1, 1)) if plain or draw(st.booleans()) else draw(int_or_pair(st.integers(1, 3)))
    padding_kind = draw(st.sampled_from(["int", "pair", "quad", "valid", "same", "default"]))
    if padding_kind == "int":
        padding = draw(st.integers(0, 3))
    elif padding_kind == "pair":
        padding = draw(st.sampled_from([tuple, list]))(draw(st.lists(st.integers(0, 3), min_size=2, max_size=2)))
    elif padding_kind == "quad":
        padding = draw(st.sampled_from([tuple, list]))(draw(st.lists(st.integers(0, 4), min_size=4, max_size=4)))
    elif padding_kind == "default":
        padding = 0
    else:
        padding = padding_kind
    top, bottom, left, right = conv2d_padding(padding, kernel, dilation_pair)
    sizes = []
    for k, d, pad in zip(kernel, dilation_pair, (top + bottom, left + right)):
        minimum = max(1, d * (k - 1) + 1 - pad)
        extra = draw(st.sampled_from([0, 0, 1, 2, 3, 5, 8, 13] + ([-1] if minimum > 1 else [])))
        if draw(st.integers(0, 15)) == 0:
            extra += draw(st.integers(20, 60))  # several tiles / column blocks
        sizes.append(minimum + extra)
    batch = draw(st.sampled_from([None, None, 1, 1, 2, 0, 3]))  # None: unbatched (C, H, W)
    case = dict(
        groups=groups,
        in_per_group=in_per_group,
        out_per_group=out_per_group,
        kernel=kernel,
        stride=stride,
        stride_pair=stride_pair,
        dilation=dilation,
        dilation_pair=dilation_pair,
        padding=padding,
        padding_quad=(top, bottom, left, right),
        height=sizes[0],
        width=sizes[1],
        batch=batch,
        groups_arg=groups if draw(st.booleans()) or groups > 1 else None,
        x_dtype=draw(st.sampled_from(FLOATS)),
        w_dtype=draw(st.sampled_from(FLOATS)),
        bias=draw(st.sampled_from([None, "float32", "float64", "int64", "list"])),
        algorithm=draw(st.sampled_from(CONV_ALGORITHMS)),
        x_layout=draw(st.sampled_from(LAYOUTS)),
        w_layout=draw(st.sampled_from(LAYOUTS)),
        threads=draw(st.integers(1, 3)),
        other_threads=draw(st.integers(1, 3)),
        specials=draw(st.sampled_from([None, None, None, "x", "weight", "bias", "all"])),
        magnitude=draw(st.sampled_from([1.0, 1.0, 1e-3, 1e3])),
        seed=draw(st.integers(0, 2**32 - 1)),
        invalid=draw(st.sampled_from(CONV_INVALID)) if draw(st.integers(0, 3)) == 0 else None,
        invalid_value=draw(st.integers(0, 2**16)),
        huge=draw(HUGE),
    )
    return case


def conv2d_problems(case):
    """The errors a conv2d call with this case may raise [(type, words)], [] if it is valid."""
    problems = []
    kh, kw = case["kernel"]
    if case["padding"] == "same" and case["stride_pair"] != (1, 1):
        problems.append((ValueError, ["padding", "same", "stride"]))
    top, bottom, left, right = case["padding_quad"]
    dh, dw = case["dilation_pair"]
    for size, k, d, pad, what in (
        (case["height"], kh, dh, top + bottom, "height"),
        (case["width"], kw, dw, left + right, "width"),
    ):
        if size + pad < d * (k - 1) + 1:
            problems.append((ValueError, ["kernel", what, "padding"]))
    if case["algorithm"].startswith("winograd") and not (
        case["kernel"] == (3, 3) and case["stride_pair"] == (1, 1) and case["dilation_pair"] == (1, 1)
    ):
        problems.append((ValueError, ["algorithm", case["algorithm"], "3x3"]))
    return problems


def make_conv2d_arrays(case, rng):
    groups = case["groups"]
    c_in, c_out = case["in_per_group"] * groups, case["out_per_group"] * groups
    spatial = (case["height"], case["width"])
    x_shape = (c_in,) + spatial if case["batch"] is None else (case["batch"], c_in) + spatial
    m = case["magnitude"]
    x = (rng.uniform(-1, 1, x_shape) * m).astype(case["x_dtype"])
    weight = rng.uniform(-1, 1, (c_out, case["in_per_group"]) + case["kernel"]).astype(case["w_dtype"])
    bias = None
    if case["bias"] == "int64":
        bias = rng.integers(-3, 4, c_out)
    elif case["bias"] == "list":
        bias = rng.uniform(-1, 1, c_out).tolist()
    elif case["bias"] is not None:
        bias = rng.uniform(-1, 1, c_out).astype(case["bias"])
    specials = case["specials"]
    if specials in ("x", "all"):
        sprinkle(rng, x, int(rng.integers(1, 4)))
    if specials in ("weight", "all"):
        sprinkle(rng, weight, 1)
    if specials in ("bias", "all") and isinstance(bias, np.ndarray) and bias.dtype.kind == "f":
        sprinkle(rng, bias, 1)
    return x, weight, bias


def apply_conv2d_invalid(case, x, weight, bias, kwargs):
    """Makes the call invalid in one way; returns the (type, words) it must raise."""
    kind, v = case["invalid"], case["invalid_value"]
    if kind == "stride_zero":
        kwargs["stride"] = [0, -1, (1, 0), (-3, 1)][v % 4]
        return x, weight, bias, (ValueError, ["stride"])
    if kind == "stride_type":
        kwargs["stride"] = [1.0, "2", None, True, (1, 2.5)][v % 5]
        return x, weight, bias, (TypeError, ["stride"])
    if kind == "stride_len":
        kwargs["stride"] = [(1, 1, 1), (), [2]][v % 3]
        return x, weight, bias, (ValueError, ["stride"])
    if kind == "dilation_zero":
        kwargs["dilation"] = [0, -2, (0, 1)][v % 3]
        return x, weight, bias, (ValueError, ["dilation"])
    if kind == "groups_zero":
        kwargs["groups"] = [0, -1][v % 2]
        return x, weight, bias, (ValueError, ["groups"])
    if kind == "groups_type":
        kwargs["groups"] = [1.0, "1", None][v % 3]
        return x, weight, bias, (TypeError, ["groups"])
    if kind == "groups_mismatch":
        kwargs["groups"] = case["groups"] + 1 + v % 3
        return x, weight, bias, (ValueError, ["groups"])
    if kind == "padding_negative":
        kwargs["padding"] = [-1, (0, -1), (0, 0, -2, 0)][v % 3]
        return x, weight, bias, (ValueError, ["padding"])
    if kind == "padding_form":
        kwargs["padding"] = [(1, 1, 1), "full", "SAME", (), [[1, 1]], (1, 2, 3, 4, 5)][v % 6]
        return x, weight, bias, (ValueError, ["padding"])
    if kind == "padding_type":
        kwargs["padding"] = [1.5, None, (1, "a"), b"same"][v % 4]
        return x, weight, bias, (TypeError, ["padding"])
    if kind == "huge_stride":
        kwargs["stride"] = case["huge"]
        return x, weight, bias, (ValueError, ["stride", str(case["huge"])])
    if kind == "huge_padding":
        # beyond the limits (2**31 - 1 per output axis, 2**48 elements): legal sizes just too large
        # for memory would be allocated (MemoryError, which the API allows) or worse, computed
        # (2**26 per side: each output axis below 2**31 even with stride 3, their product over 2**48)
        kwargs["padding"] = [case["huge"], 2**26 + v, (case["huge"], 0), (0, 0, 0, case["huge"])][v % 4]
        return x, weight, bias, (ValueError, ["padding"])
    if kind == "huge_dilation":
        # 2**30 dilates a kernel taller or wider than 1 past any input; a 1x1 kernel ignores it
        # ("same" pads by the dilated size: only a dilation beyond the limit is wrong there)
        dilatable = max(case["kernel"]) > 1 and case["padding"] != "same"
        kwargs["dilation"] = [case["huge"], 2**30 + v][v % 2] if dilatable else case["huge"]
        return x, weight, bias, (ValueError, ["dilation"])
    if kind == "x_ndim":
        flat = x.reshape(x.shape[:1] + (-1,)) if x.size else x[..., 0, 0]
        x = [x.reshape(-1), flat, x[np.newaxis, np.newaxis]][v % 3]
        return x, weight, bias, (ValueError, ["x", "shape"])
    if kind == "x_dtype":
        with np.errstate(invalid="ignore"):
            x = x.astype(BAD_DTYPES[v % len(BAD_DTYPES)])
        return x, weight, bias, (TypeError, ["x", "dtype"])
    if kind == "weight_dtype":
        with np.errstate(invalid="ignore"):
            weight = weight.astype(BAD_DTYPES[v % len(BAD_DTYPES)])
        return x, weight, bias, (TypeError, ["weight", "dtype"])
    if kind == "weight_ndim":
        weight = [weight[0], weight[np.newaxis], weight.reshape(-1)][v % 3]
        return x, weight, bias, (ValueError, ["weight"])
    if kind == "weight_empty":
        axis = v % 4
        weight = np.take(weight, [], axis=axis)
        return x, weight, bias, (ValueError, ["weight"])
    if kind == "channels":
        axis = 0 if x.ndim == 3 else 1
        x = np.concatenate([x, np.take(x, [0], axis=axis)], axis=axis)
        return x, weight, bias, (ValueError, ["channels"])
    if kind == "bias_shape":
        bias = [np.zeros(weight.shape[0] + 1), np.zeros((weight.shape[0], 1)), np.float64(1.0), np.zeros(0)][v % 4]
        return x, weight, bias, (ValueError, ["bias", "shape"])
    if kind == "bias_dtype":
        bias = [
            np.zeros(weight.shape[0], np.complex128),
            np.array(["a"] * weight.shape[0]),
            np.zeros(weight.shape[0], object),
            np.zeros(weight.shape[0], bool),
        ][v % 4]
        return x, weight, bias, (TypeError, ["bias"])
    if kind == "zero_height":
        x = x[..., :0, :] if v % 2 else x[..., :, :0]
        return x, weight, bias, (ValueError, ["height" if v % 2 else "width"])
    if kind == "algorithm_name":
        kwargs["algorithm"] = ["fft", "Winograd", None, "winograd_f3", 3][v % 5]
        return x, weight, bias, (ValueError, ["algorithm"])
    if kind == "huge_input":
        c = weight.shape[1] * case["groups"]
        shape = [(1, c, 2**31, 1), (2**20, c, 2**20, 2**10), (1, c, 1, 2**40)][v % 3]
        x = np.broadcast_to(np.zeros((), case["x_dtype"]), shape)
        return x, weight, bias, (ValueError, ["x"])
    if kind == "ragged_list":
        x = [[[1.0, 2.0], [3.0]]]
        return x, weight, bias, (TypeError, ["x"])
    raise AssertionError(kind)


def conv2d_kwargs(case):
    kwargs = dict(
        stride=case["stride"], padding=case["padding"], dilation=case["dilation"], algorithm=case["algorithm"]
    )
    if case["groups_arg"] is not None:
        kwargs["groups"] = case["groups_arg"]
    if case["padding"] == 0 and case["invalid"] is None and case["seed"] % 2:
        del kwargs["padding"]  # the default
    return kwargs


def reference_args(case):
    return dict(
        stride=case["stride_pair"], padding=case["padding_quad"], dilation=case["dilation_pair"], groups=case["groups"]
    )


def check_against_torch(y, x, weight, bias, tolerance, args):
    if torch is None or y.size == 0:
        return
    expected = torch_conv2d(x, weight, bias, **args)
    assert expected.shape == y.shape
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected), err_msg="NaN positions differ from torch")
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(y[~finite], expected[~finite], err_msg="Inf positions differ from torch")
    scale = conv2d_reference(
        np.abs(np.asarray(x, np.float64)),
        np.abs(np.asarray(weight, np.float64)),
        None if bias is None else np.abs(np.asarray(bias, np.float64)),
        **args,
    )
    bound = tolerance * max(float(np.max(np.where(np.isfinite(scale), scale, 0), initial=0)), 1e-300)
    assert np.max(np.abs(y[finite] - expected[finite]), initial=0) <= bound


@fuzz(1.5)
@given(case=conv2d_cases())
def test_conv2d(case):
    rng = np.random.default_rng(case["seed"])
    x, weight, bias = make_conv2d_arrays(case, rng)
    kwargs = conv2d_kwargs(case)
    problems = conv2d_problems(case)
    if case["invalid"] is not None:
        x, weight, bias, problem = apply_conv2d_invalid(case, x, weight, bias, kwargs)
        problems.append(problem)
    x_arg = with_layout(x, case["x_layout"]) if isinstance(x, np.ndarray) and x.strides != (0,) * x.ndim else x
    w_arg = with_layout(weight, case["w_layout"]) if isinstance(weight, np.ndarray) else weight
    copies = [(value, snapshot(value)) for value in (x_arg, w_arg, bias)]
    fieldconv.set_num_threads(case["threads"])
    if problems:
        check_raises(problems, lambda: fieldconv.conv2d(x_arg, w_arg, bias, **kwargs))
        if case["invalid"] is None:  # the layer refuses it too (at construction or on call)
            check_raises(problems, lambda: fieldconv.Conv2d(w_arg, bias, **kwargs)(x_arg))
        for value, copy in copies:
            assert_unchanged(value, copy)
        return

    dtype = np.result_type(case["x_dtype"], case["w_dtype"])
    args = reference_args(case)
    results = []
    for isa in each_kernel_family():
        algorithm = conv2d_algorithm_for(
            np.shape(x),
            weight.shape,
            case["stride"],
            case["padding"],
            case["dilation"],
            case["groups"],
            algorithm=case["algorithm"],
            dtype=dtype,
        )
        tolerance = (
            CONV_TOLERANCE[dtype]
            if algorithm == "direct"
            else max(CONV_TOLERANCE[dtype], WINOGRAD_BOUNDS[(dtype.type, algorithm)])
        )
        y = fieldconv.conv2d(x_arg, w_arg, bias, **kwargs)
        assert y.dtype == dtype and isinstance(y, np.ndarray)
        error = conv2d_error(y, x, weight, bias, **args)  # also: NaN/Inf exactly where the reference has them
        assert error <= tolerance, f"{isa} {algorithm}: error {error:.3g} > {tolerance:.1e}"
        # the contiguous input, another thread count: the same bits
        fieldconv.set_num_threads(case["other_threads"])
        np.testing.assert_array_equal(
            fieldconv.conv2d(np.ascontiguousarray(x), np.ascontiguousarray(weight), bias, **kwargs), y
        )
        fieldconv.set_num_threads(case["threads"])
        results.append((isa, algorithm, y, tolerance))
    isa, algorithm, y, tolerance = results[-1]
    check_against_torch(y, x, weight, bias, tolerance, args)

    # the layer: same bits as the function (on the last family), output_shape and field
    layer = fieldconv.Conv2d(w_arg, bias, **kwargs)
    if isinstance(w_arg, np.ndarray) and w_arg.flags.writeable:
        w_arg[...] = 7  # the layer copied its weight at construction
    previous = _core.get_isa()
    _core.set_isa(isa)
    try:
        np.testing.assert_array_equal(layer(x_arg), y)
    finally:
        _core.set_isa(previous)
    if isinstance(w_arg, np.ndarray) and w_arg.flags.writeable:
        copies = [(value, copy) for value, copy in copies if value is not w_arg]
    assert layer.output_shape(np.shape(x)) == y.shape
    top, _, left, _ = case["padding_quad"]
    (kh, kw), (sh, sw), (dh, dw) = case["kernel"], case["stride_pair"], case["dilation_pair"]
    expected_field = fieldconv.ReceptiveField(
        ((kh - 1) * dh + 1, (kw - 1) * dw + 1), (sh, sw), ((kh - 1) * dh / 2 - top, (kw - 1) * dw / 2 - left)
    )
    assert layer.receptive_field == expected_field
    assert layer.padding == case["padding_quad"]
    for value, copy in copies:
        assert_unchanged(value, copy)


# --------------------------------------------------------------------------------------------
# relu and ReLU


@fuzz(0.5)
@given(
    shape=st.lists(st.integers(0, 5), min_size=0, max_size=5),
    dtype=st.sampled_from(FLOATS + (None,)),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
    bad=st.sampled_from(BAD_DTYPES),
)
def test_relu(shape, dtype, layout, seed, bad):
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-2.5, -0.0, 0.0, 1.5, np.nan, np.inf, -np.inf, -1e-30, 3e38]), size=tuple(shape))
    if dtype is None:  # other dtypes: TypeError naming x
        with np.errstate(invalid="ignore", over="ignore"):
            x = x.astype(bad)
        for call in (fieldconv.relu, fieldconv.ReLU()):
            check_raises([(TypeError, ["x", "dtype"])], lambda: call(with_layout(x, layout)))
        return
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    x_arg = with_layout(x, layout)
    copy = snapshot(x_arg)
    y = fieldconv.relu(x_arg)
    expected = np.where(x < 0, dtype.type(0), x)  # -0.0 and NaN kept, as torch.relu
    assert y.dtype == dtype and y.shape == x.shape
    assert y.tobytes() == expected.astype(dtype).tobytes()
    layer = fieldconv.ReLU()
    assert layer(x_arg).tobytes() == y.tobytes()
    assert layer.output_shape(tuple(shape)) == tuple(shape)
    assert layer.receptive_field == fieldconv.ReceptiveField.identity()
    assert_unchanged(x_arg, copy)


# --------------------------------------------------------------------------------------------
# max_pool2d / avg_pool2d and their layers

POOL_INVALID = [
    "kernel_zero",
    "kernel_type",
    "kernel_huge",
    "stride_zero",
    "stride_type",
    "padding_large",
    "padding_negative",
    "dilation_zero",
    "ceil_type",
    "flag_type",
    "x_ndim",
    "x_dtype",
    "zero_height",
    "zero_channels",
    "divisor_zero",
    "divisor_type",
    "kernel_len",
]


@st.composite
def pool_cases(draw, average: bool):
    kernel_arg, kernel = draw(int_or_pair(st.integers(1, 5)))
    stride_arg, stride = (None, kernel) if draw(st.integers(0, 3)) == 0 else draw(int_or_pair(st.integers(1, 4)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    padding_arg = padding if padding[0] != padding[1] or draw(st.booleans()) else padding[0]
    if average:
        dilation_arg, dilation = 1, (1, 1)
    else:
        dilation_arg, dilation = (1, (1, 1)) if draw(st.booleans()) else draw(int_or_pair(st.integers(1, 3)))
    sizes = []
    for k, p, d in zip(kernel, padding, dilation):
        minimum = max(1, d * (k - 1) + 1 - 2 * p)
        extra = draw(st.sampled_from([0, 0, 1, 2, 3, 4, 7, 11] + ([-1] if minimum > 1 else [])))
        if draw(st.integers(0, 15)) == 0:
            extra += draw(st.integers(20, 80))  # vector-width remainders, several column blocks
        sizes.append(minimum + extra)
    return dict(
        kernel_arg=kernel_arg,
        kernel=kernel,
        stride_arg=stride_arg,
        stride=stride,
        padding_arg=padding_arg,
        padding=padding,
        dilation_arg=dilation_arg,
        dilation=dilation,
        height=sizes[0],
        width=sizes[1],
        batch=draw(st.sampled_from([None, None, 1, 2, 0])),
        channels=draw(st.integers(1, 3)),
        ceil_mode=draw(st.sampled_from([False, True, np.True_, 0, 1])),
        return_indices=draw(st.sampled_from([False, True, True])),
        count_include_pad=draw(st.sampled_from([True, False, np.False_])),
        divisor_override=draw(st.sampled_from([None, None, None, 1, 3, 7, -2, np.int32(5)])),
        dtype=draw(st.sampled_from(FLOATS)),
        layout=draw(st.sampled_from(LAYOUTS)),
        values=draw(st.sampled_from(["normal", "normal", "ties", "specials", "specials_ties", "large"])),
        threads=draw(st.integers(1, 3)),
        other_threads=draw(st.integers(1, 3)),
        seed=draw(st.integers(0, 2**32 - 1)),
        invalid=draw(st.sampled_from(POOL_INVALID)) if draw(st.integers(0, 3)) == 0 else None,
        invalid_value=draw(st.integers(0, 2**16)),
        huge=draw(HUGE),
    )


def pool_input(case):
    rng = np.random.default_rng(case["seed"])
    spatial = (case["height"], case["width"])
    shape = (case["channels"],) + spatial if case["batch"] is None else (case["batch"], case["channels"]) + spatial
    kind = case["values"]
    if "ties" in kind:
        x = rng.integers(-2, 3, size=shape).astype(case["dtype"])
    else:
        x = rng.standard_normal(shape).astype(case["dtype"])
    if kind == "large":
        with np.errstate(over="ignore"):
            x *= np.finfo(case["dtype"]).max / 4  # sums that overflow to Inf
    if "specials" in kind:
        flat = x.reshape(-1)
        for value, fraction in ((np.nan, 0.05), (np.inf, 0.03), (-np.inf, 0.08)):
            flat[rng.random(flat.size) < fraction] = value
    return x


def pool_problems(case, average):
    problems = []
    for size, k, s, p, d, what in zip(
        (case["height"], case["width"]),
        case["kernel"],
        case["stride"],
        case["padding"],
        case["dilation"],
        ("height", "width"),
    ):
        if pool_output_size(size, k, s, p, d, bool(case["ceil_mode"])) < 1:
            problems.append((ValueError, [what]))
    return problems


def apply_pool_invalid(case, x, args, average):
    kind, v = case["invalid"], case["invalid_value"]
    if kind == "kernel_zero":
        args["kernel_size"] = [0, -1, (2, 0)][v % 3]
        return x, (ValueError, ["kernel_size"])
    if kind == "kernel_type":
        args["kernel_size"] = [2.0, "2", None, (2, 1.5), True][v % 5]
        return x, (TypeError, ["kernel_size"])
    if kind == "kernel_len":
        args["kernel_size"] = [(2, 2, 2), (), [3]][v % 3]
        return x, (ValueError, ["kernel_size"])
    if kind == "kernel_huge":
        args["kernel_size"] = case["huge"]
        return x, (ValueError, ["kernel_size", str(case["huge"])])
    if kind == "stride_zero":
        args["stride"] = [0, (1, -1), case["huge"]][v % 3]
        return x, (ValueError, ["stride"])
    if kind == "stride_type":
        args["stride"] = [1.5, "1", (1, None)][v % 3]
        return x, (TypeError, ["stride"])
    if kind == "padding_large":
        k = case["kernel"]
        args["padding"] = [(k[0] // 2 + 1, 0), (0, k[1] // 2 + 1 + v % 3), case["huge"]][v % 3]
        return x, (ValueError, ["padding"])
    if kind == "padding_negative":
        args["padding"] = [-1, (0, -1)][v % 2]
        return x, (ValueError, ["padding"])
    if kind == "dilation_zero":
        if average:
            return x, None
        args["dilation"] = [0, (1, -1), case["huge"]][v % 3]
        return x, (ValueError, ["dilation"])
    if kind == "ceil_type":
        args["ceil_mode"] = ["yes", None, 2, 0.5][v % 4]
        return x, (TypeError, ["ceil_mode"])
    if kind == "flag_type":
        name = "count_include_pad" if average else "return_indices"
        args[name] = ["no", None, 2, 1.0][v % 4]
        return x, (TypeError, [name])
    if kind == "x_ndim":
        x = [x.reshape(-1), x[np.newaxis, np.newaxis], np.float64(1.0)][v % 3]
        return x, (ValueError, ["x", "shape"])
    if kind == "x_dtype":
        with np.errstate(invalid="ignore"):
            return x.astype(BAD_DTYPES[v % len(BAD_DTYPES)]), (TypeError, ["x", "dtype"])
    if kind == "zero_height":
        return (x[..., :0, :] if v % 2 else x[..., :, :0]), (ValueError, ["height" if v % 2 else "width"])
    if kind == "zero_channels":
        return x[..., :0, :, :], (ValueError, ["channels"])
    if kind == "divisor_zero":
        if not average:
            return x, None
        args["divisor_override"] = [0, case["huge"]][v % 2]
        return x, (ValueError, ["divisor_override"])
    if kind == "divisor_type":
        if not average:
            return x, None
        args["divisor_override"] = [1.5, "2", True][v % 3]
        return x, (TypeError, ["divisor_override"])
    raise AssertionError(kind)


def pool_call_args(case, average):
    args = dict(
        kernel_size=case["kernel_arg"],
        stride=case["stride_arg"],
        padding=case["padding_arg"],
        ceil_mode=case["ceil_mode"],
    )
    if average:
        args.update(count_include_pad=case["count_include_pad"], divisor_override=case["divisor_override"])
    else:
        args.update(dilation=case["dilation_arg"], return_indices=case["return_indices"])
    return args


def check_pool_torch(x, case, values, indices, average, divisor):
    if torch is None or values.size == 0 or x.shape[-3] == 0:
        return
    F = torch.nn.functional
    xt = torch.from_numpy(np.ascontiguousarray(x))
    if average:
        expected = F.avg_pool2d(
            xt,
            case["kernel"],
            case["stride"],
            case["padding"],
            bool(case["ceil_mode"]),
            bool(case["count_include_pad"]),
            divisor,
        ).numpy()
        # Both sum each window row by row, left to right, in the input's dtype: the same bits,
        # overflowing windows included.
        np.testing.assert_array_equal(values, expected)
    else:
        expected, expected_indices = F.max_pool2d(
            xt,
            case["kernel"],
            case["stride"],
            case["padding"],
            case["dilation"],
            bool(case["ceil_mode"]),
            return_indices=True,
        )
        np.testing.assert_array_equal(values, expected.numpy())
        if indices is not None:
            np.testing.assert_array_equal(indices, expected_indices.numpy())


@np.errstate(over="ignore")  # "large" values: the float64 references' sums overflow too
def run_pool_fuzz(case, average):
    x = pool_input(case)
    args = pool_call_args(case, average)
    problems = pool_problems(case, average)
    if case["invalid"] is not None:
        x, problem = apply_pool_invalid(case, x, args, average)
        if problem is not None:
            problems.append(problem)
    x_arg = with_layout(x, case["layout"]) if isinstance(x, np.ndarray) else x
    copy = snapshot(x_arg)
    function = fieldconv.avg_pool2d if average else fieldconv.max_pool2d
    fieldconv.set_num_threads(case["threads"])
    if problems:
        check_raises(problems, lambda: function(x_arg, **args))
        if case["invalid"] is None:
            layer_args = {k: v for k, v in args.items() if k != "return_indices"}
            layer_class = fieldconv.AvgPool2d if average else fieldconv.MaxPool2d
            check_raises(problems, lambda: layer_class(**layer_args)(x_arg))
        assert_unchanged(x_arg, copy)
        return

    kernel, stride, padding, dilation = case["kernel"], case["stride"], case["padding"], case["dilation"]
    ceil_mode = bool(case["ceil_mode"])
    divisor = None if case["divisor_override"] is None else int(case["divisor_override"])
    include_pad = bool(case["count_include_pad"])
    if average:
        expected = avg_pool2d_reference(x, kernel, stride, padding, ceil_mode, include_pad, divisor)
        scale = avg_scale(x, kernel, stride, padding, ceil_mode, include_pad, divisor)
        # windows whose float32/64 sum may overflow midway, depending on the order of the terms:
        # not comparable with the float64 reference (check_pool_torch compares them with torch)
        finite_part = np.where(np.isfinite(x), np.abs(x), 0).astype(np.float64)
        with np.errstate(over="ignore"):
            window_sum = avg_pool2d_reference(finite_part, kernel, stride, padding, ceil_mode, True, 1)
        order_dependent = window_sum > np.finfo(x.dtype).max  # Inf included
    else:
        expected, expected_indices = max_pool2d_reference(x, kernel, stride, padding, dilation, ceil_mode)
    out_h = pool_output_size(case["height"], kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    out_w = pool_output_size(case["width"], kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    assert expected.shape[-2:] == (out_h, out_w)
    for _ in each_isa():
        result = function(x_arg, **args)
        if average:
            assert_avg_close(result, np.where(order_dependent, result, expected), x, scale)
            values, indices = result, None
        elif case["return_indices"]:
            values, indices = result
            np.testing.assert_array_equal(values, expected)
            assert indices.dtype == np.int64
            np.testing.assert_array_equal(indices, expected_indices)
        else:
            values, indices = result, None
            np.testing.assert_array_equal(values, expected)
        assert values.dtype == case["dtype"]
        fieldconv.set_num_threads(case["other_threads"])
        again = function(np.ascontiguousarray(x), **args)
        fieldconv.set_num_threads(case["threads"])
        if indices is not None:
            np.testing.assert_array_equal(again[1], indices)
            again = again[0]
        assert again.tobytes() == values.tobytes()
    check_pool_torch(x, case, values, indices, average, divisor)
    # the layer: same values, output_shape, receptive field (ceil_mode changes the count only)
    if average:
        layer = fieldconv.AvgPool2d(
            kernel_size=args["kernel_size"],
            stride=args["stride"],
            padding=args["padding"],
            ceil_mode=args["ceil_mode"],
            count_include_pad=args["count_include_pad"],
            divisor_override=args["divisor_override"],
        )
    else:
        layer = fieldconv.MaxPool2d(
            args["kernel_size"], args["stride"], args["padding"], args["dilation"], args["ceil_mode"]
        )
    assert layer(x_arg).tobytes() == values.tobytes()
    assert layer.output_shape(x.shape) == values.shape
    assert layer.receptive_field == fieldconv.ReceptiveField(
        tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation)),
        stride,
        tuple((k - 1) * d / 2 - p for k, d, p in zip(kernel, dilation, padding)),
    )
    assert_unchanged(x_arg, copy)


@fuzz()
@given(case=pool_cases(average=False))
def test_max_pool2d(case):
    run_pool_fuzz(case, average=False)


@fuzz()
@given(case=pool_cases(average=True))
def test_avg_pool2d(case):
    run_pool_fuzz(case, average=True)


def test_avg_pool2d_overflow_order_matches_torch():
    if torch is None:
        pytest.skip("torch not installed")
    big = np.finfo(np.float32).max * 0.75
    x = np.array([[[big, -big], [big, 0.0]]], dtype=np.float32)  # row by row (torch): finite; by columns: Inf
    expected = torch.nn.functional.avg_pool2d(torch.from_numpy(x), 2).numpy()
    for _ in each_isa():
        np.testing.assert_array_equal(fieldconv.avg_pool2d(x, 2), expected)


# --------------------------------------------------------------------------------------------
# Sequential: call, output_shape, summary and receptive field of random stacks


@st.composite
def layer_specs(draw, channels):
    kind = draw(st.sampled_from(["conv", "conv", "relu", "max", "avg", "nested"]))
    if kind == "conv":
        out = draw(st.integers(1, 4))
        kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        stride = draw(st.sampled_from([1, 1, 2, (1, 2)]))
        dilation = draw(st.sampled_from([1, 1, 2, (2, 1)]))
        padding = draw(st.sampled_from([0, 1, (1, 0), (0, 1, 2, 0), "valid"] + (["same"] if stride == 1 else [])))
        return (
            "conv",
            dict(
                out=out,
                kernel=(kh, kw),
                stride=stride,
                dilation=dilation,
                padding=padding,
                algorithm=draw(st.sampled_from(["auto", "direct"])),
                bias=draw(st.booleans()),
            ),
        ), out
    if kind == "max":
        k = draw(st.integers(1, 3))
        return (
            "max",
            dict(
                kernel_size=k,
                stride=draw(st.sampled_from([None, 1, 2])),
                padding=draw(st.integers(0, k // 2)),
                dilation=draw(st.sampled_from([1, 1, 2])),
                ceil_mode=draw(st.booleans()),
            ),
        ), channels
    if kind == "avg":
        k = draw(st.integers(1, 3))
        return (
            "avg",
            dict(
                kernel_size=k,
                stride=draw(st.sampled_from([None, 1, 2])),
                padding=draw(st.integers(0, k // 2)),
                ceil_mode=draw(st.booleans()),
                count_include_pad=draw(st.booleans()),
            ),
        ), channels
    if kind == "nested":
        inner, channels = draw(layer_stacks(channels, max_layers=2))
        return ("nested", inner), channels
    return ("relu", {}), channels


@st.composite
def layer_stacks(draw, channels, max_layers=4):
    specs = []
    for _ in range(draw(st.integers(0 if max_layers > 2 else 1, max_layers))):
        spec, channels = draw(layer_specs(channels))
        specs.append(spec)
    return specs, channels


def build_layers(specs, rng, channels, dtype=np.float64):
    layers = []
    for kind, params in specs:
        if kind == "conv":
            weight = rng.uniform(0.5, 1.5, (params["out"], channels) + params["kernel"]).astype(dtype)
            bias = rng.uniform(-1, 1, params["out"]) if params["bias"] else None
            layers.append(
                fieldconv.Conv2d(
                    weight, bias, params["stride"], params["padding"], params["dilation"], algorithm=params["algorithm"]
                )
            )
            channels = params["out"]
        elif kind == "max":
            layers.append(fieldconv.MaxPool2d(**params))
        elif kind == "avg":
            layers.append(fieldconv.AvgPool2d(**params))
        elif kind == "relu":
            layers.append(fieldconv.ReLU())
        else:
            inner, channels = build_layers(params, rng, channels, dtype)
            layers.append(fieldconv.Sequential(*inner))
    return layers, channels


def formula_field(layers, field=(1, 1, Fraction(0)), axis=0):
    """(size, jump, start) per the documented composition rule, from each leaf layer's hyper-parameters."""
    size, jump, start = field
    for layer in layers:
        if isinstance(layer, fieldconv.Sequential):
            size, jump, start = formula_field(layer, (size, jump, start), axis)
            continue
        if isinstance(layer, fieldconv.ReLU):
            continue
        k, s, d = layer.kernel_size[axis], layer.stride[axis], layer.dilation[axis]
        p = layer.padding[2 * axis] if isinstance(layer, fieldconv.Conv2d) else layer.padding[axis]
        start = start + (Fraction((k - 1) * d, 2) - p) * jump
        size = size + (k - 1) * d * jump
        jump = jump * s
    return size, jump, start


@fuzz(0.5)
@given(
    stack=layer_stacks(2),
    height=st.integers(1, 24),
    width=st.integers(1, 24),
    batched=st.booleans(),
    dtype=st.sampled_from(FLOATS),
    seed=st.integers(0, 2**32 - 1),
    bad=st.sampled_from([None, None, None, 3, "relu", [fieldconv.ReLU()], fieldconv.ReLU, object()]),
)
def test_sequential(stack, height, width, batched, dtype, seed, bad):
    specs, _ = stack
    rng = np.random.default_rng(seed)
    layers, _ = build_layers(specs, rng, 2, dtype)
    if bad is not None:  # not a layer: TypeError naming its position
        position = int(rng.integers(0, len(layers) + 1))
        check_raises(
            [(TypeError, [f"layer {position}"])],
            lambda: fieldconv.Sequential(*layers[:position], bad, *layers[position:]),
        )
        check_raises(
            [(TypeError, [f"layers[{position}]"])],
            lambda: fieldconv.receptive_field(layers[:position] + [bad] + layers[position:]),
        )
        return
    model = fieldconv.Sequential(*layers)
    shape = (3, 2, height, width) if batched else (2, height, width)
    x = rng.standard_normal(shape).astype(dtype)
    field = model.receptive_field
    assert field == fieldconv.receptive_field(layers) == fieldconv.receptive_field(tuple(layers))
    assert field == fieldconv.receptive_field(model)
    for axis in range(2):
        size, jump, start = formula_field(layers, axis=axis)
        assert (field.size[axis], field.jump[axis], Fraction(field.start[axis])) == (size, jump, start)
    try:
        out_shape = model.output_shape(shape)
    except ValueError as error:  # too small somewhere: the call fails too, naming a layer
        assert "layer" in str(error)
        check_raises([(ValueError, ["layer"])], lambda: model(x))
        check_raises([(ValueError, ["layer"])], lambda: model.summary(shape, show=False))
        return
    y = model(x)
    assert y.shape == out_shape and y.dtype == dtype
    chained = x
    for layer in layers:
        chained = layer(chained)
    assert chained.tobytes() == y.tobytes()
    rows = model.summary(shape, show=False)
    if rows:
        assert tuple(rows[-1].output_shape) == out_shape
        assert (rows[-1].rf_size, rows[-1].rf_jump, rows[-1].rf_start) == (field.size, field.jump, field.start)
        out = io.StringIO()
        model.summary(shape, file=out)
        assert "Receptive field" in out.getvalue()
    # a NaN at one input pixel reaches only outputs whose input_region holds it
    py, px = int(rng.integers(height)), int(rng.integers(width))
    probe = x.copy()
    probe[..., py, px] = np.nan
    reached = np.isnan(model(probe)).reshape((-1,) + y.shape[-2:]).any(axis=0)
    for i, j in zip(*np.nonzero(reached)):
        (y0, y1), (x0, x1) = field.input_region(int(i), int(j))
        assert y0 <= py < y1 and x0 <= px < x1, (i, j, field, py, px)


# --------------------------------------------------------------------------------------------
# ReceptiveField: the value object and its composition

NUMBERS = st.one_of(st.integers(1, 40), st.integers(1, 2**70))
FIRSTS = st.one_of(st.integers(-60, 60), st.integers(-(2**70), 2**70))


@st.composite
def fields(draw):
    size = (draw(NUMBERS), draw(NUMBERS))
    jump = (draw(NUMBERS), draw(NUMBERS))
    first = (draw(FIRSTS), draw(FIRSTS))
    start = tuple(Fraction(f) + Fraction(s - 1, 2) for f, s in zip(first, size))
    return size, jump, first, start


def as_given(start, form):
    """start in a form the constructor takes: floats (when exact), Fractions, NumPy floats."""
    if form == "fraction":
        return start
    if all(abs(s) < 2**52 for s in start):
        return tuple(float(s) for s in start) if form == "float" else np.array([float(s) for s in start])
    return start


@fuzz(1)
@given(
    a=fields(),
    b=fields(),
    c=fields(),
    form=st.sampled_from(["float", "fraction", "numpy"]),
    i=st.one_of(st.integers(0, 50), st.integers(0, 2**66)),
    j=st.integers(0, 50),
    bad=st.sampled_from(
        [
            None,
            None,
            "size0",
            "size_neg",
            "size_type",
            "jump0",
            "jump_type",
            "start_parity",
            "start_nan",
            "start_type",
            "pair_len",
            "index_neg",
            "index_type",
        ]
    ),
)
def test_receptive_field(a, b, c, form, i, j, bad):
    size, jump, first, start = a
    if bad is not None:
        args = dict(size=size, jump=jump, start=as_given(start, "fraction"))
        problems = {
            "size0": ("size", 0, ValueError),
            "size_neg": ("size", (1, -3), ValueError),
            "size_type": ("size", (1.5, 2), TypeError),
            "jump0": ("jump", (0, 1), ValueError),
            "jump_type": ("jump", "2", TypeError),
            "start_nan": ("start", (float("nan"), 0), ValueError),
            "start_type": ("start", (None, 0), TypeError),
            "pair_len": ("size", (1, 2, 3), ValueError),
            "start_parity": ("start", (start[0] + Fraction(1, 2), start[1]), ValueError),
        }
        if bad in problems:
            name, value, error = problems[bad]
            args[name] = value
            words = [name] if bad != "start_nan" else ["start"]
            check_raises([(error, words)], lambda: fieldconv.ReceptiveField(**args))
        else:
            field = fieldconv.ReceptiveField(size, jump, start)
            index = (-1 - i, j) if bad == "index_neg" else (float(i), j)
            error = ValueError if bad == "index_neg" else TypeError
            check_raises([(error, ["i"])], lambda: field.input_region(*index))
            check_raises([(error, ["j"])], lambda: field.input_region(j, index[0]))
        return
    field = fieldconv.ReceptiveField(size, jump, as_given(start, form))
    assert field.size == size and field.jump == jump
    assert field.start == tuple(float(s) for s in start)
    assert field.padding == (-first[0], -first[1])
    assert field.input_region(i, j) == (
        (first[0] + i * jump[0], first[0] + i * jump[0] + size[0]),
        (first[1] + j * jump[1], first[1] + j * jump[1] + size[1]),
    )
    jump_array = np.array(jump) if max(jump) < 2**62 else jump  # NumPy turns larger ints into floats
    same = fieldconv.ReceptiveField(list(size), jump_array, start)
    assert same == field and hash(same) == hash(field)
    with pytest.raises(dataclasses.FrozenInstanceError):
        field.size = (1, 1)
    fa, fb, fc = (fieldconv.ReceptiveField(s, jmp, st_) for s, jmp, _, st_ in (a, b, c))
    identity = fieldconv.ReceptiveField.identity()
    assert identity.then(fa) == fa == fa.then(identity)
    assert fa.then(fb).then(fc) == fa.then(fb.then(fc))
    composed = fa.then(fb)
    for axis in range(2):  # the documented rule: a stack's field being its (k - 1) d = size - 1, d = 1
        assert composed.size[axis] == a[0][axis] + (b[0][axis] - 1) * a[1][axis]
        assert composed.jump[axis] == a[1][axis] * b[1][axis]
        assert composed.input_region(0, 0)[axis][0] == a[2][axis] + b[2][axis] * a[1][axis]
    check_raises([(TypeError, ["ReceptiveField"])], lambda: fa.then((1, 1)))


# --------------------------------------------------------------------------------------------
# runtime


@fuzz(0.3)
@given(
    n=st.one_of(
        st.integers(1, 8),
        st.integers(4097, 2**70),
        st.integers(-5, 0),
        st.sampled_from([1.0, "2", None, True, np.int64(2), np.int32(3)]),
    )
)
def test_runtime(n):
    before = fieldconv.get_num_threads()
    valid = not isinstance(n, (bool, float, str, type(None))) and 1 <= int(n) <= 4096
    if valid:
        fieldconv.set_num_threads(n)
        assert fieldconv.get_num_threads() == int(n)
    else:
        error = TypeError if isinstance(n, (bool, float, str, type(None))) else ValueError
        check_raises([(error, ["n"])], lambda: fieldconv.set_num_threads(n))
        assert fieldconv.get_num_threads() == before
    assert fieldconv.get_isa() in ("generic", "avx2", "avx512")
    out = io.StringIO()
    fieldconv.show_config(file=out)
    assert fieldconv.__version__ in out.getvalue() and fieldconv.get_isa() in out.getvalue()
    assert os.path.isfile(os.path.join(fieldconv.get_include(), "fieldconv", "conv2d.hpp"))
    assert isinstance(fieldconv.get_cmake_dir(), str)
    fieldconv.set_num_threads(before)


# --------------------------------------------------------------------------------------------
# SciPy drop-ins: fieldconv.correlate2d / convolve2d and fieldconv.ndimage.correlate / convolve

needs_scipy = pytest.mark.skipif(scipy_signal is None, reason="scipy not installed")
SIGNAL_BAD_DTYPES = ["bool", "float16", "object"]
SIGNAL_FILLS = [0, 2, -1, 1.5, np.nan, 300, 1j, "a", [1, 2], np.float32(2.5), np.array(3), np.int8(-3), 2**63, None]


def random_values(rng, shape, dtype, specials=False):
    """Random values of dtype (integers within +-120, floats standard normal, bool)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) > 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -120), min(info.max, 120), size=shape, endpoint=True).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.kind == "O":
        return rng.standard_normal(shape).astype(object)
    values = rng.standard_normal(shape).astype(dtype)
    if specials:
        sprinkle(rng, values, int(rng.integers(1, 3)))
    return values


def outcome_and_message(call):
    """("ok", result) or ("error", exception type), and the exception's message ("" if none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ("ok", call()), ""
        except Exception as error:  # noqa: BLE001 - comparing exception types with SciPy
            return ("error", type(error)), str(error)


SIGNAL_ARGUMENT_NAMES = ("in1", "in2", "inputs", "mode", "boundary", "fillvalue", "method", "dtype", "kernel")
NDIMAGE_ARGUMENT_NAMES = ("input", "weights", "output", "mode", "cval", "origin", "axes", "axis", "method", "dtype")


def assert_names_an_argument(message, names):
    """An error message must say which argument is wrong."""
    assert any(name in message for name in names), f"message names no argument: {message!r}"


def assert_same_nonfinite(assert_same, ours, theirs, *args):
    """assert_same on the finite values (its scale from them) after NaN/Inf positions match exactly."""
    if theirs.dtype.kind == "c" and not np.isfinite(theirs).all():  # part by part
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        for part in (np.real, np.imag):
            assert_same_nonfinite(
                assert_same, np.ascontiguousarray(part(ours)), np.ascontiguousarray(part(theirs)), *args
            )
        return
    if theirs.dtype.kind == "f" and not np.isfinite(theirs).all():
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        finite = np.isfinite(theirs)
        np.testing.assert_array_equal(ours[~finite & ~np.isnan(theirs)], theirs[~finite & ~np.isnan(theirs)])
        ours, theirs = ours[finite], theirs[finite]
    assert_same(ours, theirs, *args)


@st.composite
def signal_cases(draw):
    def shape():
        kind = draw(st.sampled_from(["any", "any", "row", "col", "empty"]))
        if kind == "row":
            return (1, draw(st.integers(1, 9)))
        if kind == "col":
            return (draw(st.integers(1, 9)), 1)
        if kind == "empty":
            return draw(st.sampled_from([(0, 3), (2, 0), (0, 0)]))
        return (draw(st.integers(1, 9)), draw(st.integers(1, 9)))

    in1, in2 = shape(), shape()
    if draw(st.integers(0, 15)) == 0:
        in1 = draw(st.sampled_from([(5,), (2, 2, 2), (3, 40), (2, 300)]))
    bad = draw(st.integers(0, 9)) == 0
    dtypes = SIGNAL_DTYPES + SIGNAL_BAD_DTYPES if bad else SIGNAL_DTYPES
    d1 = draw(st.sampled_from(dtypes))
    d2 = d1 if draw(st.booleans()) else draw(st.sampled_from(dtypes))
    return dict(
        func=draw(st.sampled_from(["correlate2d", "convolve2d"])),
        shape1=in1,
        shape2=in2,
        dtype1=d1,
        dtype2=d2,
        mode=draw(st.sampled_from(["full", "same", "valid", "full", "same", "valid"] + (["xx", None] if bad else []))),
        boundary=draw(
            st.sampled_from(
                ["fill", "wrap", "symm", "pad", "circular", "symmetric"] + (["reflect", "xx"] if bad else [])
            )
        ),
        fillvalue=draw(st.sampled_from(SIGNAL_FILLS)) if draw(st.booleans()) else 0,
        method=draw(st.sampled_from(["auto", "auto", "direct", "fft"] + (["xx"] if bad else []))),
        layout1=draw(st.sampled_from(LAYOUTS)),
        layout2=draw(st.sampled_from(LAYOUTS)),
        specials=draw(st.integers(0, 4)) == 0,
        threads=draw(st.integers(1, 3)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@needs_scipy
@fuzz(1)
@given(case=signal_cases())
def test_signal_drop_ins(case):
    rng = np.random.default_rng(case["seed"])
    fft = case["method"] == "fft"
    in1 = random_values(rng, case["shape1"], case["dtype1"], case["specials"] and not fft)
    in2 = random_values(rng, case["shape2"], case["dtype2"], case["specials"] and not fft)
    a1, a2 = with_layout(in1, case["layout1"]), with_layout(in2, case["layout2"])
    copies = [(value, snapshot(value)) for value in (a1, a2)]
    ours_func, theirs_func = getattr(fieldconv, case["func"]), getattr(scipy_signal, case["func"])
    fillvalue = case["fillvalue"]
    if fft and (fillvalue is None or isinstance(fillvalue, float) and not np.isfinite(fillvalue)):  # None: NaN
        fillvalue = 0.5  # an FFT spreads a NaN over the whole result ("auto" never takes it then)
    args = (case["mode"], case["boundary"], fillvalue)
    fieldconv.set_num_threads(case["threads"])
    outcomes = []
    for _ in each_kernel_family():
        outcome, message = outcome_and_message(lambda: ours_func(a1, a2, *args, method=case["method"]))
        if outcome[0] == "error":
            assert_names_an_argument(message, SIGNAL_ARGUMENT_NAMES)
        outcomes.append(outcome)
    ours = outcomes[0]
    for other in outcomes[1:]:
        assert other[0] == ours[0]
    for value, copy in copies:
        assert_unchanged(value, copy)
    if case["method"] not in ("auto", "direct", "fft"):
        assert ours == ("error", ValueError)
        return
    empty = in1.size == 0 or in2.size == 0
    wrap_or_symm = case["boundary"] in ("wrap", "symm", "circular", "symmetric")
    if empty and wrap_or_symm and in1.ndim == in2.ndim == 2 and case["mode"] in ("full", "same", "valid"):
        # documented deviation: SciPy 1.17 dies with a floating-point exception; do not call it
        if np.promote_types(in1.dtype, in2.dtype).kind in "iufc" and in1.dtype.kind != "b":
            assert ours[0] == "error" and ours[1] is ValueError
        return
    theirs = _outcome(lambda: theirs_func(in1, in2, *args))
    dtype = theirs[1].dtype if theirs[0] == "ok" else None
    if ours[0] == "error" and theirs[0] == "ok":
        # allowed deviations: an empty kernel, and method="fft" for integer sums
        assert ours[1] is ValueError
        swapped = case["mode"] == "valid" and not all(s1 >= s2 for s1, s2 in zip(in1.shape, in2.shape))
        kernel = in1 if swapped else in2
        assert kernel.size == 0 or (fft and dtype.kind in "iu"), (case, theirs[1])
        return
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "error":
        assert ours[1] is theirs[1]
        return
    kernel_size = max(1, in2.size if in1.size >= in2.size else in1.size)
    for result in (outcome[1] for outcome in outcomes):
        if fft and dtype.kind in "fc":
            assert result.dtype == dtype and result.shape == theirs[1].shape
            eps = np.finfo(dtype.char.lower()).eps
            fill = 0.0
            if case["boundary"] in ("fill", "pad"):
                fill = float(np.abs(np.asarray(fillvalue, dtype=dtype)).max())  # SciPy accepted it
            scale = max(1.0, max(float(np.abs(in1).max(initial=0)), fill) * float(np.abs(in2).sum()))
            np.testing.assert_allclose(result, theirs[1], rtol=0, atol=50 * eps * scale)
        else:
            assert_same_nonfinite(signal_assert_same, result, theirs[1], dtype, kernel_size, str(case))


NDIMAGE_OUTPUTS = [None, None, None, np.int16, np.float32, np.uint64, "f8", np.complex128, bool, "array", "in_place"]


@st.composite
def ndimage_cases(draw):
    bad = draw(st.integers(0, 7)) == 0
    ndim = draw(st.sampled_from([2, 2, 2, 2, 3, 1] if not bad else [0, 1, 2, 3, 4]))
    shape = tuple(draw(st.sampled_from([1, 1, 2, 3, 4, 5, 6, 7, 9, 12])) for _ in range(ndim))
    if ndim == 2 and draw(st.integers(0, 9)) == 0:
        shape = draw(st.sampled_from([(3, 40), (2, 300), (0, 4), (40, 3)]))
    axes = None
    if ndim > 2 or (bad and draw(st.booleans())):
        axes = draw(st.sampled_from([(0, 1), (1, 2), (-1, 0), (2, 0)] + ([(1, 1), (0, 5), 1, (0.0, 1)] if bad else [])))
    kernel = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    if bad and draw(st.booleans()):
        kernel = draw(st.sampled_from([(0, 3), (3,), (2, 2, 2), (3, 0)]))
    dtype = draw(st.sampled_from(NDIMAGE_DTYPES + (["float16", "object"] if bad else [])))
    origin = 0
    if draw(st.booleans()) and len(kernel) == 2:
        fraction = draw(st.floats(0, 1))
        origin = tuple(int(-(k // 2) + fraction * max(k - 1, 0)) for k in kernel)
        if draw(st.booleans()):
            origin = origin[0]
    if bad and draw(st.booleans()):
        origin = draw(st.sampled_from([(0, 9), -9, 0.5, "1", [1], None, (0, 1, 0)]))
    return dict(
        func=draw(st.sampled_from(["correlate", "convolve"])),
        shape=shape,
        axes=axes,
        kernel=kernel,
        dtype=dtype,
        weights_dtype=draw(
            st.sampled_from(["float64", "float64", "float64", "float32", "int64", "complex128", "bool"])
        ),
        mode=draw(st.sampled_from(NDIMAGE_MODES + (["symm", None, ["reflect", "reflect"]] if bad else []))),
        cval=draw(st.sampled_from([0.0, 2.5, -1, np.nan, np.float32(1.5)] + ([1j, "1", None] if bad else []))),
        origin=origin,
        output=draw(st.sampled_from(NDIMAGE_OUTPUTS + ([np.float16, "U3", "wrong_shape", "readonly"] if bad else []))),
        method=draw(st.sampled_from(["auto", "auto", "direct", "fft"] + (["xx"] if bad else []))),
        layout=draw(st.sampled_from(LAYOUTS)),
        specials=draw(st.integers(0, 4)) == 0,
        nan_weight=draw(st.integers(0, 6)) == 0,
        threads=draw(st.integers(1, 3)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def ndimage_output_arg(case, image, for_scipy):
    output = case["output"]
    image = np.asarray(image)
    if output == "array":
        return np.zeros(image.shape, dtype=np.complex128 if image.dtype.kind == "c" else np.float64)
    if output == "wrong_shape":
        return np.zeros(image.shape + (1,))
    if output == "readonly":
        array = np.zeros(image.shape)
        array.flags.writeable = False
        return array
    if output == "in_place":  # the input itself as the output: read before it is written
        return image
    return output


@needs_scipy
@fuzz(1)
@given(case=ndimage_cases())
def test_ndimage_drop_ins(case):
    rng = np.random.default_rng(case["seed"])
    fft = case["method"] == "fft"
    image = random_values(rng, case["shape"], case["dtype"], case["specials"] and not fft)
    weights = np.round(rng.standard_normal(case["kernel"]) * 8) / 8  # exact sums: integer outputs agree
    if case["weights_dtype"] == "bool":
        weights = weights > 0
    elif case["weights_dtype"] == "complex128":
        weights = weights + 1j * np.round(rng.standard_normal(case["kernel"]) * 8) / 8
    else:
        weights = weights.astype(case["weights_dtype"])
    if case["nan_weight"] and weights.dtype.kind == "f" and weights.size and not fft:
        weights.reshape(-1)[rng.integers(weights.size)] = rng.choice([np.nan, np.inf, 1e-17])
    cval = case["cval"]
    if fft and isinstance(cval, float) and np.isnan(cval):
        cval = 0.5  # an FFT spreads a NaN over the whole result ("auto" never takes it then)
    kwargs = dict(mode=case["mode"], cval=cval, origin=case["origin"])
    if case["axes"] is not None:
        kwargs["axes"] = case["axes"]
    ours_func = getattr(fieldconv.ndimage, case["func"])
    theirs_func = getattr(scipy_ndimage, case["func"])
    fieldconv.set_num_threads(case["threads"])

    image_arg = with_layout(image, case["layout"])
    ours_image = image_arg if case["output"] != "in_place" else np.array(image_arg, copy=True)
    copies = [(ours_image, snapshot(ours_image)), (weights, snapshot(weights))]
    outcomes = []
    for _ in each_kernel_family():
        input_copy = np.array(ours_image, copy=True) if case["output"] == "in_place" else ours_image
        output = ndimage_output_arg(case, input_copy, False)
        outcome, message = outcome_and_message(
            lambda: ours_func(input_copy, weights, output=output, method=case["method"], **kwargs)
        )
        if outcome[0] == "error":
            assert_names_an_argument(message, NDIMAGE_ARGUMENT_NAMES)
        if outcome[0] == "ok" and isinstance(output, np.ndarray):
            assert outcome[1] is output  # the given output array is filled and returned
        outcomes.append(outcome)
    if case["output"] != "in_place":
        for value, copy in copies:
            assert_unchanged(value, copy)
    ours = outcomes[0]
    for other in outcomes[1:]:
        assert other[0] == ours[0]
    if case["method"] not in ("auto", "direct", "fft"):
        assert ours == ("error", ValueError)
        return

    axes = (case["axes"],) if isinstance(case["axes"], int) else case["axes"]
    h_w = [
        case["shape"][ax]
        for ax in (range(len(case["shape"])) if axes is None else axes)
        if isinstance(ax, int) and -len(case["shape"]) <= ax < len(case["shape"])
    ]
    misread = (
        case["mode"] in ("reflect", "grid-mirror")
        and len(case["kernel"]) == 2
        and len(h_w) == 2
        and any(k > 2 * n for k, n in zip(case["kernel"], h_w))
    )
    theirs_image = np.array(image_arg, copy=True)  # the same layout (byte order) for in-place outputs
    theirs = _outcome(
        lambda: theirs_func(theirs_image, weights, output=ndimage_output_arg(case, theirs_image, True), **kwargs)
    )
    if ours[0] == "error" and theirs[0] == "ok":
        if case["output"] == "in_place" and case["layout"] == "swapped":
            # SciPy 1.17 bug: writing back a byte-swapped in-place output on deallocation swallows
            # the error of its C filter ("Exception ignored in: 'array_dealloc'") and returns garbage
            return
        assert ours[1] is ValueError and weights.size == 0, (case, ours)  # documented: an empty kernel
        return
    if misread:  # SciPy reads outside the array here (README): reference.py for plain 2-D float cases
        if (
            ours[0] == "ok"
            and image.ndim == 2
            and image.dtype.kind == "f"
            and weights.dtype.kind == "f"
            and case["output"] in (None, "f8")
            and np.isfinite(weights).all()
            and np.isfinite(image).all()
        ):
            kh, kw = weights.shape
            o = case["origin"] if isinstance(case["origin"], tuple) else (case["origin"], case["origin"])
            w = weights[::-1, ::-1] if case["func"] == "convolve" else weights
            if case["func"] == "convolve":
                o = (-o[0] - (1 - kh % 2), -o[1] - (1 - kw % 2))
            expected = correlate2d_reference(
                image, w, image.shape, -(kh // 2 + o[0]), -(kw // 2 + o[1]), "reflect", float(cval)
            )
            for outcome in outcomes:
                eps = np.finfo(outcome[1].dtype).eps
                np.testing.assert_allclose(
                    outcome[1],
                    expected,
                    rtol=0,
                    atol=64 * eps * max(1.0, np.abs(image).max(initial=0) * np.abs(weights).sum()),
                )
        return
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "error":
        assert ours[1] is theirs[1], (ours, theirs)
        return
    expected = theirs[1]
    # SciPy (and we) compute the imag*imag term of complex64 x complex weights into a float32 array
    # (output=None), which we sum in float32 (README: float32 in and out): float32 accuracy
    single_term = image.dtype == np.complex64 and weights.dtype.kind == "c" and expected.dtype.kind == "c"
    for outcome in outcomes:
        result = outcome[1]
        if fft:
            assert result.dtype == expected.dtype and result.shape == expected.shape
            if expected.dtype.kind in "fc":
                eps = np.finfo(np.float32 if single_term else expected.dtype.char.lower()).eps
                scale = max(1.0, float(np.abs(image).max(initial=0)) * float(np.abs(weights).sum()))
                np.testing.assert_allclose(result, expected, rtol=0, atol=50 * eps * scale)
        elif single_term:
            scale = max(1.0, float(np.abs(image).max(initial=0)) * float(np.abs(weights).sum()))
            assert_same_nonfinite(
                ndimage_assert_same, result, expected, str(case), 64 * np.finfo(np.float32).eps * scale
            )
        else:
            assert_same_nonfinite(ndimage_assert_same, result, expected, str(case))
