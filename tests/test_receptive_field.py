"""Receptive fields (README, "Receptive fields"): the value object, composition, Sequential, summary, relu,
verification against impulses pushed through real networks, and the picture."""

from __future__ import annotations

import dataclasses
import io
import math
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

import fieldconv
from fieldconv import ReceptiveField, ReLU, Sequential
from fieldconv._receptive_field import window_receptive_field

from reference import conv2d_reference

HAVE_POOLS = hasattr(fieldconv, "MaxPool2d") and hasattr(fieldconv, "AvgPool2d")
needs_pools = pytest.mark.skipif(not HAVE_POOLS, reason="fieldconv.MaxPool2d/AvgPool2d not available yet")


def conv(c_out, c_in, kh, kw=None, **kwargs):
    """A Conv2d with positive weights (so every dependence shows up as a positive value)."""
    kw = kh if kw is None else kw
    groups = kwargs.get("groups", 1)
    weight = np.random.default_rng(c_out * 1000 + c_in * 100 + kh * 10 + kw).uniform(
        0.5, 1.5, (c_out, c_in // groups, kh, kw)
    )
    return fieldconv.Conv2d(weight, **kwargs)


# --------------------------------------------------------------------------------------------
# NumPy pooling references (PyTorch's rules) and a duck-typed pooling layer built on them


def _pool_out(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside input or left padding
        out -= 1
    return out


def max_pool2d_np(x, k, s, p, d=(1, 1), ceil_mode=False):
    n, c, h, w = x.shape
    out_h, out_w = _pool_out(h, k[0], s[0], p[0], d[0], ceil_mode), _pool_out(w, k[1], s[1], p[1], d[1], ceil_mode)
    big = np.full((n, c, h + 2 * p[0] + k[0] * d[0] + s[0], w + 2 * p[1] + k[1] * d[1] + s[1]), -np.inf)
    big[:, :, p[0] : p[0] + h, p[1] : p[1] + w] = x
    y = np.full((n, c, out_h, out_w), -np.inf)
    for a in range(k[0]):
        for b in range(k[1]):
            taps = big[
                :,
                :,
                a * d[0] : a * d[0] + s[0] * (out_h - 1) + 1 : s[0],
                b * d[1] : b * d[1] + s[1] * (out_w - 1) + 1 : s[1],
            ]
            y = np.maximum(y, taps)
    return y


def avg_pool2d_np(x, k, s, p, ceil_mode=False, count_include_pad=True):
    n, c, h, w = x.shape
    out_h, out_w = _pool_out(h, k[0], s[0], p[0], 1, ceil_mode), _pool_out(w, k[1], s[1], p[1], 1, ceil_mode)
    y = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            y0, x0 = i * s[0] - p[0], j * s[1] - p[1]
            y1, x1 = min(y0 + k[0], h + p[0]), min(x0 + k[1], w + p[1])
            pool_size = (y1 - y0) * (x1 - x0)
            y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, h), min(x1, w)
            divisor = pool_size if count_include_pad else (y1 - y0) * (x1 - x0)
            y[:, :, i, j] = x[:, :, y0:y1, x0:x1].sum(axis=(2, 3)) / divisor
    return y


class NumpyPool:
    """A pooling layer with the layer protocol, computed by the NumPy references above."""

    def __init__(self, kind, kernel_size, stride, padding, dilation=(1, 1), ceil_mode=False, count_include_pad=True):
        self.kind, self.kernel_size, self.stride, self.padding = kind, kernel_size, stride, padding
        self.dilation, self.ceil_mode, self.count_include_pad = dilation, ceil_mode, count_include_pad

    @property
    def receptive_field(self):
        return window_receptive_field(self.kernel_size, self.stride, self.dilation, self.padding)

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "max":
            return max_pool2d_np(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
        return avg_pool2d_np(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def output_shape(self, shape):
        k, s, p, d = self.kernel_size, self.stride, self.padding, self.dilation
        out = [_pool_out(shape[-2 + a], k[a], s[a], p[a], d[a], self.ceil_mode) for a in range(2)]
        if min(out) < 1 or any(d[a] * (k[a] - 1) + 1 > shape[-2 + a] + 2 * p[a] for a in range(2)):
            raise ValueError(f"input {shape} too small for pooling {self.kernel_size}")
        return tuple(shape[:-2]) + tuple(out)

    def __repr__(self):
        return f"NumpyPool({self.kind}, k={self.kernel_size}, s={self.stride}, p={self.padding}, d={self.dilation})"


def test_numpy_pool_references_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 9, 8))
    for k, s, p, d, ceil in [
        ((3, 2), (2, 1), (1, 1), (1, 2), True),
        ((2, 3), (2, 3), (0, 1), (2, 1), False),
        ((3, 3), (3, 2), (1, 0), (1, 1), True),
    ]:
        expected = torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil_mode=ceil).numpy()
        np.testing.assert_array_equal(max_pool2d_np(x, k, s, p, d, ceil), expected)
        for include in (True, False):
            expected = torch.nn.functional.avg_pool2d(
                torch.from_numpy(x), k, s, p, ceil_mode=ceil, count_include_pad=include
            ).numpy()
            np.testing.assert_allclose(avg_pool2d_np(x, k, s, p, ceil, include), expected, rtol=1e-12)


def test_conv2d_reference_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 9, 7))
    w = rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(6)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 1), (0, 3)))
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(padded), torch.from_numpy(w), torch.from_numpy(b), stride=(2, 1), dilation=(1, 2), groups=2
    ).numpy()
    got = conv2d_reference(x, w, b, stride=(2, 1), padding=(2, 1, 0, 3), dilation=(1, 2), groups=2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------------
# the value object


def test_value_object_fields_equality_hash_repr():
    field = ReceptiveField((5, 3), (2, 1), (1.0, 0.0))
    assert field.size == (5, 3) and field.jump == (2, 1) and field.start == (1.0, 0.0)
    assert all(type(v) is int for v in field.size + field.jump) and all(type(v) is float for v in field.start)
    assert field.padding == (1, 1)
    assert field == ReceptiveField([5, 3], np.array([2, 1]), (1, 0)) and hash(field) == hash(
        ReceptiveField((5, 3), (2, 1), (1, 0))
    )
    assert field != ReceptiveField((5, 3), (2, 1), (2.0, 0.0))
    assert len({field, ReceptiveField((5, 3), (2, 1), (1.0, 0.0)), ReceptiveField.identity()}) == 2
    assert ReceptiveField(3, 2, 1) == ReceptiveField((3, 3), (2, 2), (1.0, 1.0))  # one number: both axes
    assert repr(field) == "ReceptiveField(size=(5, 3), jump=(2, 1), start=(1.0, 0.0))"
    assert pickle.loads(pickle.dumps(field)) == field and dataclasses.asdict(field) == {
        "size": (5, 3),
        "jump": (2, 1),
        "start": (1.0, 0.0),
    }
    assert field != (5, 3) and field != ReceptiveField((5, 3), (1, 1), (1.0, 0.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        field.size = (1, 1)
    with pytest.raises(AttributeError):
        field.jump = (1, 1)


@pytest.mark.parametrize(
    "args, error, words",
    [
        (((0, 1), 1, 0), ValueError, "size[0]"),
        ((1, (1, -2), 0), ValueError, "jump[1]"),
        ((1.5, 1, 0), TypeError, "size"),
        ((True, 1, 0), TypeError, "size"),
        (("3", 1, 0), TypeError, "size"),
        (((1, 2, 3), 1, 0), ValueError, "size"),
        ((1, 1, "0"), TypeError, "start"),
        ((1, 1, None), TypeError, "start"),
        ((1, 1, math.inf), ValueError, "start"),
        ((1, 1, math.nan), ValueError, "start"),
        ((3, 1, 0.5), ValueError, "whole number"),  # odd size: start must be a pixel centre
        ((2, 1, 0), ValueError, "half-integer"),  # even size: start between two pixel centres
        ((2, 1, 0.25), ValueError, "start[0]"),
    ],
)
def test_value_object_validation(args, error, words):
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        ReceptiveField(*args)


def test_even_kernel_has_fractional_start_and_integer_region():
    field = window_receptive_field((2, 4), (1, 2), (1, 1), (0, 1))
    assert field.size == (2, 4) and field.start == (0.5, 0.5)
    (y0, y1), (x0, x1) = field.input_region(3, 2)
    assert (y0, y1, x0, x1) == (3, 5, 2 * 2 - 1, 2 * 2 - 1 + 4)
    assert all(type(v) is int for v in (y0, y1, x0, x1))
    assert field.padding == (0, 1)
    assert field.center(3, 2) == (3.5, 4.5)


def test_input_region_is_exact_for_huge_stacks():
    # 40 layers of stride 3 kernel 4 padding 1: sizes far beyond float precision, still exact
    field = ReceptiveField.identity()
    for _ in range(40):
        field = field.then_window((4, 4), (3, 3), (1, 1), (1, 1))
    assert field.jump[0] == 3**40
    assert field.size[0] == 1 + sum(3 * 3**n for n in range(40))
    assert field.padding[0] == sum(3**n for n in range(40))
    (y0, y1), _ = field.input_region(5, 0)
    assert y0 == 5 * 3**40 - field.padding[0] and y1 - y0 == field.size[0]


def test_input_region_rejects_bad_indices():
    field = ReceptiveField(3, 1, 1)
    assert field.input_region(0, 0) == ((0, 3), (0, 3))
    assert field.input_region(np.int64(2), 1) == ((2, 5), (1, 4))
    with pytest.raises(ValueError, match=r"i = -1 .*i >= 0"):
        field.input_region(-1, 0)
    with pytest.raises(ValueError, match=r"j = -3"):
        field.input_region(0, -3)
    with pytest.raises(TypeError, match="integer"):
        field.input_region(1.0, 0)


@pytest.mark.parametrize("seed", range(20))
def test_composition_follows_the_api_formulas(seed):
    """Window by window, the documented recurrences computed here independently with floats."""
    rng = np.random.default_rng(seed)
    r, j, start = [1, 1], [1, 1], [0.0, 0.0]
    field = ReceptiveField.identity()
    for _ in range(rng.integers(1, 6)):
        k, s, d, p = rng.integers(1, 6, 2), rng.integers(1, 4, 2), rng.integers(1, 4, 2), rng.integers(0, 3, 2)
        for a in range(2):
            start[a] = start[a] + ((k[a] - 1) * d[a] / 2 - p[a]) * j[a]
            r[a] = r[a] + (k[a] - 1) * d[a] * j[a]
            j[a] = j[a] * s[a]
        field = field.then_window(k, s, d, p)
        assert field.size == tuple(r) and field.jump == tuple(j) and field.start == tuple(start)
    for i in range(3):
        expected_y0 = start[0] + i * j[0] - (r[0] - 1) / 2
        assert expected_y0 == int(expected_y0)
        assert field.input_region(i, 0)[0] == (int(expected_y0), int(expected_y0) + r[0])


def test_then_is_associative():
    a = window_receptive_field((3, 2), (2, 1), (1, 2), (1, 0))
    b = window_receptive_field((2, 5), (1, 3), (2, 1), (0, 2))
    c = window_receptive_field((4, 1), (3, 2), (1, 1), (2, 0))
    assert a.then(b).then(c) == a.then(b.then(c))
    assert a.then(ReceptiveField.identity()) == a == ReceptiveField.identity().then(a)
    with pytest.raises(TypeError):
        a.then((3, 3))


# --------------------------------------------------------------------------------------------
# layers, receptive_field(), Sequential


def test_conv2d_field_with_padding_forms():
    w = np.ones((1, 1, 3, 4))
    assert fieldconv.Conv2d(w).receptive_field == ReceptiveField((3, 4), 1, (1.0, 1.5))
    # "same": total padding (2, 3), leading (top/left) gets the smaller half (1, 1)
    same = fieldconv.Conv2d(w, padding="same")
    assert same.receptive_field.padding == (1, 1) and same.receptive_field.start == (0.0, 0.5)
    four = fieldconv.Conv2d(w, padding=(2, 0, 1, 3), dilation=(2, 3))
    assert four.receptive_field == ReceptiveField((5, 10), 1, (0.0, 3.5))
    assert four.receptive_field.input_region(0, 0) == ((-2, 3), (-1, 9))


def test_receptive_field_function_accepts_layers_lists_and_tuples():
    assert callable(fieldconv.receptive_field)
    a, b = conv(1, 1, 3), conv(1, 1, 2, stride=2)
    assert fieldconv.receptive_field(a) == a.receptive_field
    assert fieldconv.receptive_field([a, ReLU(), b]) == a.receptive_field.then(b.receptive_field)
    assert fieldconv.receptive_field((a, b)) == Sequential(a, b).receptive_field
    assert fieldconv.receptive_field([]) == ReceptiveField.identity()
    assert fieldconv.receptive_field(ReLU()) == ReceptiveField.identity()
    with pytest.raises(TypeError, match=r"layers\[1\] \(int\)"):
        fieldconv.receptive_field([a, 3])
    with pytest.raises(TypeError, match="layers"):
        fieldconv.receptive_field("conv")


def test_nested_sequential_equals_flat():
    layers = [
        conv(2, 1, 3, padding=1),
        ReLU(),
        conv(3, 2, 2, stride=2),
        ReLU(),
        conv(1, 3, 5, dilation=2, padding="same"),
    ]
    flat = Sequential(*layers)
    nested = Sequential(layers[0], Sequential(layers[1], Sequential(layers[2], layers[3])), layers[4])
    assert flat.receptive_field == nested.receptive_field
    x = np.random.default_rng(0).standard_normal((2, 1, 17, 15))
    np.testing.assert_array_equal(flat(x), nested(x))
    assert flat.output_shape(x.shape) == nested.output_shape(x.shape) == flat(x).shape
    assert flat.output_shape((1, 17, 15)) == flat(x[0]).shape
    assert len(nested) == 3 and isinstance(nested[1], Sequential) and nested[-1] is layers[4]
    assert list(flat) == layers
    sliced = flat[1:3]
    assert isinstance(sliced, Sequential) and list(sliced) == layers[1:3]
    assert "Sequential(" in repr(nested) and "(1): Sequential(" in repr(nested) and "    (0): ReLU()" in repr(nested)
    assert Sequential()(x) is x and Sequential().receptive_field == ReceptiveField.identity()


class _Callable:
    def __call__(self, x):
        return x


class _NoField(_Callable):
    def output_shape(self, shape):
        return shape


class _BadField(_NoField):
    receptive_field = (3, 3)


@pytest.mark.parametrize(
    "bad, words",
    [
        (3, r"layer 1 of type int is not a layer"),
        (np.ones(3), r"layer 1 of type ndarray"),
        (_Callable(), r"lacks receptive_field, output_shape"),
        (_NoField(), r"lacks receptive_field"),
        (_BadField(), r"must be a fieldconv.ReceptiveField"),
        ([ReLU()], r"Sequential\(\*layers\)"),
        (ReLU, r"class ReLU, not a layer"),
        (lambda x: x, r"layer 1 of type function"),
    ],
)
def test_sequential_refuses_objects_without_the_layer_protocol(bad, words):
    with pytest.raises(TypeError, match=words):
        Sequential(ReLU(), bad)


def test_sequential_accepts_duck_typed_layers():
    pool = NumpyPool("max", (2, 2), (2, 2), (0, 0))
    net = Sequential(conv(1, 1, 3), pool)
    x = np.random.default_rng(1).standard_normal((1, 1, 10, 10))
    expected = max_pool2d_np(conv2d_reference(x, net[0].weight), (2, 2), (2, 2), (0, 0))
    np.testing.assert_allclose(net(x), expected, rtol=1e-12)
    assert net.receptive_field == ReceptiveField(4, 2, 1.5)


def test_sequential_names_the_failing_layer_on_call():
    net = Sequential(conv(2, 1, 3), ReLU(), conv(2, 3, 3))
    with pytest.raises(ValueError, match=r"layer 2 \(Conv2d\(3, 2.*3 channels|layer 2 \(Conv2d.*channels"):
        net(np.zeros((1, 1, 8, 8)))


# --------------------------------------------------------------------------------------------
# relu and ReLU


def test_relu_semantics_as_torch():
    torch = pytest.importorskip("torch")
    values = np.array([-0.0, 0.0, np.nan, -1.5, 2.0, -np.inf, np.inf, 1e-310, -1e-310])
    for dtype in (np.float32, np.float64):
        x = values.astype(dtype)
        got = fieldconv.relu(x)
        expected = torch.relu(torch.from_numpy(x)).numpy()
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))  # -0.0 stays -0.0
    assert np.isnan(fieldconv.relu(np.float64(np.nan)))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float16, np.complex64, object, bool])
def test_relu_refuses_other_dtypes(dtype):
    with pytest.raises(TypeError, match="float32 or float64"):
        fieldconv.relu(np.zeros(3, dtype=dtype))


def test_relu_array_likes_and_input_untouched():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((2, 3, 6, 5))
    expected = np.where(base < 0, 0, base)
    frozen = base.copy()
    frozen.flags.writeable = False
    for variant in (
        base,
        base.tolist(),
        np.asfortranarray(base),
        base[:, :, ::-1][:, :, ::-1],
        frozen,
        base.astype(">f8"),
    ):
        before = np.array(variant, copy=True)
        got = fieldconv.relu(variant)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.asarray(variant), before)
    view = base[:, :, ::2, ::-1]
    np.testing.assert_array_equal(fieldconv.relu(view), np.ascontiguousarray(expected[:, :, ::2, ::-1]))
    layer = ReLU()
    np.testing.assert_array_equal(layer(base), expected)
    assert layer.output_shape((2, 3, 6, 5)) == (2, 3, 6, 5) and repr(layer) == "ReLU()"


# --------------------------------------------------------------------------------------------
# the classic teaching examples


def test_two_and_three_stacked_3x3_convs_see_5x5_and_7x7():
    assert fieldconv.receptive_field([conv(1, 1, 3)] * 2).size == (5, 5)
    assert fieldconv.receptive_field([conv(1, 1, 3)] * 3).size == (7, 7)
    assert Sequential(conv(1, 1, 3), ReLU(), conv(1, 1, 3), ReLU(), conv(1, 1, 3)).receptive_field == ReceptiveField(
        7, 1, 3
    )


def test_strided_3x3_then_2x2_sees_5_pixels_with_jump_2():
    field = fieldconv.receptive_field([conv(1, 1, 3, stride=2), conv(1, 1, 2)])
    assert field.size == (5, 5) and field.jump == (2, 2)
    assert field.input_region(1, 0) == ((2, 7), (0, 5))


def test_one_neuron_of_a_5x5_filter_on_3_channels_has_75_weights():
    layer = conv(1, 3, 5)
    assert layer.weight[0].size == 5 * 5 * 3 == 75
    assert layer.parameter_count == 75


def test_6x6_correlated_with_3x3_gives_4x4():
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    w = np.ones((1, 1, 3, 3))
    y = fieldconv.conv2d(x, w)
    assert y.shape == (1, 1, 4, 4) == fieldconv.Conv2d(w).output_shape(x.shape)
    assert y[0, 0, 0, 0] == x[0, 0, :3, :3].sum()


def test_lenet5_feature_extractor_sees_16x16_with_jump_4():
    pool = (lambda: fieldconv.MaxPool2d(2)) if HAVE_POOLS else (lambda: NumpyPool("max", (2, 2), (2, 2), (0, 0)))
    features = Sequential(conv(6, 1, 5), ReLU(), pool(), conv(16, 6, 5), ReLU(), pool())
    field = features.receptive_field
    assert field.size == (16, 16) and field.jump == (4, 4) and field.start == (7.5, 7.5)
    assert features.output_shape((1, 32, 32)) == (16, 5, 5)
    rows = features.summary((1, 32, 32), show=False)
    assert [row.output_shape for row in rows] == [
        (6, 28, 28),
        (6, 28, 28),
        (6, 14, 14),
        (16, 10, 10),
        (16, 10, 10),
        (16, 5, 5),
    ]
    assert sum(row.params for row in rows) == 6 * 1 * 25 + 16 * 6 * 25  # weights only (no bias here)


def test_conv_with_6_filters_of_5x5_on_28x28x1_gives_24x24x6_and_156_parameters():
    layer = fieldconv.Conv2d(np.ones((6, 1, 5, 5)), np.zeros(6))
    assert layer.output_shape((1, 28, 28)) == (6, 24, 24)
    assert layer(np.zeros((1, 28, 28))).shape == (6, 24, 24)
    assert layer.parameter_count == 156
    (row,) = Sequential(layer).summary((1, 28, 28), show=False)
    assert row.params == 156 and row.macs == 6 * 24 * 24 * 25


# --------------------------------------------------------------------------------------------
# summary


def test_summary_rows_table_and_totals(capsys):
    net = Sequential(
        fieldconv.Conv2d(np.ones((8, 2, 3, 3)), np.zeros(8), padding=1, groups=2),
        ReLU(),
        Sequential(fieldconv.Conv2d(np.ones((6, 8, 2, 2)), stride=2), ReLU()),
    )
    rows = net.summary((5, 4, 12, 10))
    printed = capsys.readouterr().out
    assert [row.name for row in rows] == ["0 Conv2d", "1 ReLU", "2.0 Conv2d", "2.1 ReLU"]
    assert rows[0] == fieldconv.SummaryRow(
        "0 Conv2d", (5, 8, 12, 10), 8 * 2 * 9 + 8, 5 * 8 * 12 * 10 * 2 * 9, (3, 3), (1, 1), (0.0, 0.0)
    )
    assert (
        rows[2].output_shape == (5, 6, 6, 5) and rows[2].macs == 5 * 6 * 6 * 5 * 8 * 4 and rows[2].params == 6 * 8 * 4
    )
    assert rows[3].rf_size == (4, 4) and rows[3].rf_jump == (2, 2) and rows[3].rf_start == (0.5, 0.5)
    assert rows[1].params == rows[1].macs == rows[3].params == rows[3].macs == 0
    total_macs = sum(row.macs for row in rows)
    assert "2.0 Conv2d" in printed and f"Total MACs: {total_macs:,}" in printed and "Total params: 344" in printed
    assert printed.strip().splitlines()[-1].startswith("Receptive field: 4x4, jump 2x2")
    assert net.summary((4, 12, 10), show=False)[0].output_shape == (8, 12, 10)
    assert capsys.readouterr().out == ""
    buffer = io.StringIO()
    net.summary((4, 12, 10), file=buffer)
    assert "Total params: 344" in buffer.getvalue() and capsys.readouterr().out == ""


def test_summary_names_the_layer_where_the_input_becomes_too_small():
    net = Sequential(conv(2, 1, 3), ReLU(), Sequential(conv(2, 2, 3, stride=2), conv(2, 2, 3)))
    with pytest.raises(ValueError, match=r"layer 2\.1 \(Conv2d\(2, 2, kernel_size=\(3, 3\)"):
        net.summary((1, 8, 8), show=False)
    with pytest.raises(ValueError, match=r"layer 0 \(Conv2d"):
        net.output_shape((1, 1, 2, 9))
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
        net.summary((8, 8), show=False)
    with pytest.raises(TypeError, match="input_shape"):
        net.summary("1x8x8", show=False)


# --------------------------------------------------------------------------------------------
# verified against reality: impulses through random networks


def _random_network(rng, with_pools, numpy_pools):
    """A random stack (1-4 sliding layers plus ReLUs) as (fieldconv layers, reference steps)."""
    layers, steps = [], []
    channels = in_channels = int(rng.integers(1, 3))
    for _ in range(int(rng.integers(1, 5))):
        kind = rng.choice(["conv", "conv", "max", "avg"]) if with_pools else "conv"
        if kind == "conv":
            k = tuple(int(v) for v in rng.integers(1, 6, 2))
            stride = tuple(int(v) for v in rng.integers(1, 3, 2)) if rng.random() < 0.5 else (1, 1)
            dilation = tuple(int(v) for v in rng.integers(1, 4, 2)) if rng.random() < 0.4 else (1, 1)
            choice = rng.integers(0, 5)
            if choice == 0 and stride == (1, 1):
                padding = "same"
                quad = tuple(
                    v
                    for a in range(2)
                    for v in (dilation[a] * (k[a] - 1) // 2, dilation[a] * (k[a] - 1) - dilation[a] * (k[a] - 1) // 2)
                )
            elif choice == 1:
                padding = tuple(int(v) for v in rng.integers(0, 4, 4))
                quad = padding
            elif choice == 2:
                padding = tuple(int(v) for v in rng.integers(0, 3, 2))
                quad = (padding[0], padding[0], padding[1], padding[1])
            else:
                padding = int(rng.integers(0, 3))
                quad = (padding,) * 4
            out_channels = int(rng.integers(1, 4))
            groups = 2 if channels % 2 == 0 and out_channels % 2 == 0 and rng.random() < 0.5 else 1
            weight = rng.uniform(0.5, 1.5, (out_channels, channels // groups) + k)
            layers.append(fieldconv.Conv2d(weight, stride=stride, padding=padding, dilation=dilation, groups=groups))
            steps.append(
                lambda x, w=weight, s=stride, q=quad, d=dilation, g=groups: conv2d_reference(x, w, None, s, q, d, g)
            )
            channels = out_channels
        else:
            k = tuple(int(v) for v in rng.integers(1, 4, 2))
            stride = tuple(int(v) for v in rng.integers(1, 4, 2))
            padding = tuple(int(rng.integers(0, k[a] // 2 + 1)) for a in range(2))
            ceil_mode = bool(rng.random() < 0.4)
            if kind == "max":
                dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
                reference = NumpyPool("max", k, stride, padding, dilation, ceil_mode)
                layer = reference if numpy_pools else fieldconv.MaxPool2d(k, stride, padding, dilation, ceil_mode)
            else:
                include = bool(rng.random() < 0.5)
                reference = NumpyPool("avg", k, stride, padding, (1, 1), ceil_mode, include)
                layer = reference if numpy_pools else fieldconv.AvgPool2d(k, stride, padding, ceil_mode, include)
            layers.append(layer)
            steps.append(reference)
        if rng.random() < 0.5:
            layers.append(ReLU())
            steps.append(lambda x: np.maximum(x, 0.0))
    return Sequential(*layers), steps, in_channels


def _check_network_against_impulses(seed, with_pools, numpy_pools):
    """Every input pixel gets its own impulse (one batch entry each, all channels 1, weights
    positive, no bias): output (i, j) is positive exactly where it depends on that pixel. The
    dependence set of each output must lie inside input_region(i, j), and for interior outputs
    (region inside the image) its bounding box must be input_region(i, j) exactly."""
    rng = np.random.default_rng(seed)
    for _ in range(50):
        net, steps, channels = _random_network(rng, with_pools, numpy_pools)
        height, width = (int(v) for v in rng.integers(6, 22, 2))
        try:
            out_shape = net.output_shape((height * width, channels, height, width))
        except ValueError:
            continue
        break
    else:
        pytest.skip("no network fits")  # pragma: no cover
    field = net.receptive_field
    x = np.zeros((height * width, channels, height, width))
    x[np.arange(height * width), :, np.arange(height * width) // width, np.arange(height * width) % width] = 1.0
    got = net(x)
    expected = x
    for step in steps:
        expected = step(expected)
    assert got.shape == expected.shape == out_shape
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # depends[pixel, i, j]: output (i, j) changed by the impulse at pixel, in any channel
    for result in (got, expected):
        depends = (result > 0).any(axis=1).reshape(height, width, out_shape[2], out_shape[3])
        interior = 0
        for i in range(out_shape[2]):
            for j in range(out_shape[3]):
                (y0, y1), (x0, x1) = field.input_region(i, j)
                rows, cols = np.nonzero(depends[:, :, i, j])
                if rows.size == 0:  # possible (PyTorch allows padding >= kernel): a field wholly in the padding
                    continue
                assert rows.min() >= y0 and rows.max() < y1 and cols.min() >= x0 and cols.max() < x1, (
                    f"output ({i}, {j}) of {net!r} depends on rows {rows.min()}..{rows.max()}, cols {cols.min()}..{cols.max()}, "
                    f"outside input_region {field.input_region(i, j)}"
                )
                if y0 >= 0 and x0 >= 0 and y1 <= height and x1 <= width:
                    interior += 1
                    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (y0, y1, x0, x1), (
                        f"output ({i}, {j}) of {net!r}: bounding box of the dependence set "
                        f"{((rows.min(), rows.max() + 1), (cols.min(), cols.max() + 1))} != input_region {field.input_region(i, j)}"
                    )
    return interior


@pytest.mark.parametrize("seed", range(12))
def test_random_conv_relu_networks_match_input_region(seed, isa):
    _check_network_against_impulses(seed, with_pools=False, numpy_pools=False)


@pytest.mark.parametrize("seed", range(12))
def test_random_networks_with_numpy_pools_match_input_region(seed):
    _check_network_against_impulses(100 + seed, with_pools=True, numpy_pools=True)


@needs_pools
@pytest.mark.parametrize("seed", range(12))
def test_random_networks_with_fieldconv_pools_match_input_region(seed, isa):
    _check_network_against_impulses(200 + seed, with_pools=True, numpy_pools=False)


def test_impulse_checks_cover_interior_outputs():
    """The checks above are not vacuous: most networks have outputs whose field is inside."""
    interiors = [_check_network_against_impulses(seed, with_pools=False, numpy_pools=False) for seed in range(4)]
    interiors += [_check_network_against_impulses(100 + seed, with_pools=True, numpy_pools=True) for seed in range(4)]
    assert sum(count > 0 for count in interiors) >= 5, interiors


@needs_pools
def test_fieldconv_pools_expose_window_fields():
    assert fieldconv.MaxPool2d(3, 2, 1, 2).receptive_field == window_receptive_field((3, 3), (2, 2), (2, 2), (1, 1))
    assert fieldconv.AvgPool2d((2, 3), 1, (1, 0), ceil_mode=True).receptive_field == ReceptiveField(
        (2, 3), 1, (-0.5, 1.0)
    )
    assert fieldconv.MaxPool2d(2, ceil_mode=True).receptive_field == fieldconv.MaxPool2d(2).receptive_field


# --------------------------------------------------------------------------------------------
# the picture


@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_plot_receptive_field_draws_regions_and_centres(pyplot):
    from matplotlib.patches import Rectangle

    net = Sequential(conv(2, 1, 3, stride=2), ReLU(), conv(1, 2, 3, padding=1))
    image = np.random.default_rng(0).random((15, 13))
    field = net.receptive_field
    _, ax = pyplot.subplots()
    assert fieldconv.plot_receptive_field(image, net, outputs=[(0, 0), (3, 2)], ax=ax) is ax
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(boxes) == 2
    for box, (i, j) in zip(boxes, [(0, 0), (3, 2)]):
        (y0, y1), (x0, x1) = field.input_region(i, j)
        assert box.get_xy() == (x0 - 0.5, y0 - 0.5) and box.get_width() == x1 - x0 and box.get_height() == y1 - y0
    centres = [line for line in ax.lines if line.get_label() == "field centres"][0]
    assert len(centres.get_xdata()) == 7 * 6  # output grid of (15, 13) through the net
    assert min(centres.get_ydata()) == field.start[0] and max(centres.get_xdata()) == field.start[1] + 5 * field.jump[1]
    # regions reaching past the image border (padding) are drawn in full, not clipped
    ax2 = fieldconv.plot_receptive_field(np.zeros((9, 9, 3)), [conv(1, 3, 5, padding=2)], outputs=[(0, 0)])
    (box,) = [p for p in ax2.patches if isinstance(p, Rectangle)]
    assert box.get_xy() == (-2.5, -2.5) and ax2.get_xlim()[0] < -2.5


def test_plot_receptive_field_refuses_out_of_range_outputs(pyplot):
    net = [conv(1, 1, 3)]
    with pytest.raises(ValueError, match=r"valid indices are 0 <= .* <= 7"):
        fieldconv.plot_receptive_field(np.zeros((10, 10)), net, outputs=[(8, 0)])
    with pytest.raises(ValueError, match=r"= -1 is out of range"):
        fieldconv.plot_receptive_field(np.zeros((10, 10)), net, outputs=[(0, -1)])
    with pytest.raises(ValueError, match=r"outputs\[0\]"):
        fieldconv.plot_receptive_field(np.zeros((10, 10)), net, outputs=[(1, 2, 3)])
    with pytest.raises(TypeError, match="layer 1"):
        fieldconv.plot_receptive_field(np.zeros((10, 10)), [conv(1, 1, 3), "relu"])
    with pytest.raises(ValueError, match="image"):
        fieldconv.plot_receptive_field(np.zeros((2, 10, 10)), net)


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install fieldconv\[plot\]"):
        fieldconv.plot_receptive_field(np.zeros((8, 8)), [conv(1, 1, 3)], outputs=[(0, 0)])


def test_import_fieldconv_does_not_import_matplotlib():
    import subprocess

    code = "import sys, fieldconv; print('matplotlib' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


@needs_pools
def test_readme_receptive_field_example_runs(capsys):
    readme = Path(__file__).resolve().parent.parent / "README.md"
    if not readme.exists():
        pytest.skip("README.md not next to the tests")
    section = readme.read_text().split("## Receptive fields", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(code, namespace)
    assert namespace["field"] == ReceptiveField(16, 4, 7.5)
    assert namespace["field"].input_region(1, 2) == ((4, 20), (8, 24))
    assert "Total params: 2,572" in capsys.readouterr().out


def test_receptive_field_is_one_thing():
    """fieldconv.receptive_field is the function; the module behind it is private, so importing
    "fieldconv.receptive_field" as a module fails instead of giving the function."""
    import importlib

    assert callable(fieldconv.receptive_field) and not isinstance(fieldconv.receptive_field, type(importlib))
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("fieldconv.receptive_field")
    assert callable(fieldconv.receptive_field)  # the failed import left the function in place
