"""max_pool2d, avg_pool2d, MaxPool2d, AvgPool2d against tests/reference.py and PyTorch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fieldconv
from fieldconv import _core

from conftest import supported_isas
from reference import avg_pool2d_reference, max_pool2d_reference, pool_output_size

# the ISAs with pooling kernels of their own (AVX-512 CPUs run the AVX2 ones)
POOL_ISAS = supported_isas("pool2d")
DTYPES = [np.float32, np.float64]
# avg pooling: |result - reference| <= RTOL * (the average of |x| over the same window)
RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-14}


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny inputs: threads only add noise on a shared machine
    yield torch
    torch.set_num_threads(threads)


def each_isa():
    """Runs the loop body once per kernel family (the reference is computed once outside)."""
    previous = _core.get_isa()
    try:
        for name in POOL_ISAS:
            _core.set_isa(name)
            yield name
    finally:
        _core.set_isa(previous)


def random_input(shape, dtype, seed=0, specials=False, ties=False):
    rng = np.random.default_rng(seed)
    if ties:  # few distinct values: many equal maxima in a window
        x = rng.integers(-2, 3, size=shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    if specials:
        flat = x.reshape(-1)
        for value, fraction in ((np.nan, 0.05), (np.inf, 0.03), (-np.inf, 0.08)):
            flat[rng.random(flat.size) < fraction] = value
    return x


def avg_scale(x, *avg_args):
    """The average of |x| over each window: the scale of the rounding error of a sum of x."""
    return avg_pool2d_reference(np.abs(x), *avg_args).astype(np.float64)


def assert_avg_close(result, expected, x, scale):
    assert result.shape == expected.shape and result.dtype == expected.dtype
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isnan(result), np.isnan(expected))
    np.testing.assert_array_equal(result[~finite & ~np.isnan(expected)], expected[~finite & ~np.isnan(expected)])
    error = np.abs(result[finite].astype(np.float64) - expected[finite].astype(np.float64))
    bound = RTOL[np.dtype(x.dtype)] * np.abs(scale[finite]) + np.finfo(x.dtype).tiny
    assert np.all(error <= bound), f"max error {error.max()}, bound {bound[np.argmax(error - bound)]}"


# (input shape, kernel_size, stride, padding, dilation, ceil_mode): remainders of the vector
# width, windows hanging over padding, ceil-mode last windows, strides 1/2/3, dilation.
MAX_CASES = [
    ((2, 3, 9, 11), 3, 2, 1, 1, False),
    ((2, 3, 9, 11), 3, 2, 1, 1, True),
    ((1, 2, 17, 35), 2, 2, 0, 1, True),
    ((1, 2, 17, 35), 2, None, 1, 1, True),
    ((1, 2, 16, 40), 3, 1, 1, 1, False),
    ((1, 2, 13, 37), (3, 5), (2, 3), (1, 2), 1, True),
    ((1, 2, 13, 37), (2, 3), (1, 2), (1, 1), (3, 2), False),
    ((1, 2, 12, 29), 5, 3, 2, 2, True),
    ((1, 1, 7, 50), (1, 4), (1, 4), (0, 2), 1, True),
    ((1, 2, 6, 6), 6, 1, 3, 1, False),
    ((1, 2, 5, 5), 5, 5, 0, 1, True),
    ((1, 1, 4, 3), (2, 2), 1, (1, 1), (3, 3), False),  # windows holding padding only
    ((3, 1, 8, 8), 1, 1, 0, 1, False),
    ((1, 2, 10, 70), (2, 7), (3, 1), (1, 3), (2, 1), True),
]

AVG_CASES = [
    ((2, 3, 9, 11), 3, 2, 1, False),
    ((2, 3, 9, 11), 3, 2, 1, True),
    ((1, 2, 17, 35), 2, 2, 0, True),
    ((1, 2, 17, 35), 2, None, 1, True),
    ((1, 2, 16, 40), 3, 1, 1, False),
    ((1, 2, 13, 37), (3, 5), (2, 3), (1, 2), True),
    ((1, 2, 12, 29), 5, 3, 2, True),
    ((1, 1, 7, 50), (1, 4), (1, 4), (0, 2), True),
    ((1, 2, 6, 6), 6, 1, 3, False),
    ((1, 2, 10, 70), (2, 7), (3, 1), (1, 3), True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_matches_reference(dtype, case):
    shape, kernel, stride, padding, dilation, ceil_mode = case
    for seed, specials, ties in ((0, False, False), (1, True, True)):
        x = random_input(shape, dtype, seed, specials, ties)
        expected, expected_indices = max_pool2d_reference(x, kernel, stride, padding, dilation, ceil_mode)
        for _ in each_isa():
            values, indices = fieldconv.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, True)
            assert values.dtype == dtype and indices.dtype == np.int64
            np.testing.assert_array_equal(values, expected)
            np.testing.assert_array_equal(indices, expected_indices)
            np.testing.assert_array_equal(
                fieldconv.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode), expected
            )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_matches_reference(dtype, case):
    shape, kernel, stride, padding, ceil_mode = case
    x = random_input(shape, dtype, seed=4)
    for count_include_pad, divisor_override in ((True, None), (False, None), (True, 3), (False, -2)):
        avg_args = (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
        expected = avg_pool2d_reference(x, *avg_args)
        scale = avg_scale(x, *avg_args)
        for _ in each_isa():
            assert_avg_close(fieldconv.avg_pool2d(x, *avg_args), expected, x, scale)


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_nan_and_inf(isa, dtype):
    x = random_input((2, 2, 11, 19), dtype, seed=5, specials=True)
    for kernel, stride, padding, ceil_mode in ((3, 2, 1, True), (2, 1, 0, False), ((2, 4), (2, 3), (1, 2), True)):
        expected = avg_pool2d_reference(x, kernel, stride, padding, ceil_mode)
        result = fieldconv.avg_pool2d(x, kernel, stride, padding, ceil_mode)
        np.testing.assert_array_equal(np.isnan(result), np.isnan(expected))
        np.testing.assert_array_equal(np.isinf(result), np.isinf(expected))
        np.testing.assert_array_equal(result[np.isinf(expected)], expected[np.isinf(expected)])


def test_max_pool2d_nan_rules(isa):
    nan, inf = np.nan, np.inf
    x = np.array([[[1.0, nan, 3.0, nan, 2.0, 1.0]]], dtype=np.float32)
    values, indices = fieldconv.max_pool2d(x, (1, 6), return_indices=True)
    assert np.isnan(values[0, 0, 0]) and indices[0, 0, 0] == 3  # the last NaN, as PyTorch
    x = np.array([[[-inf, -inf, -inf, -inf]]])
    values, indices = fieldconv.max_pool2d(x, (1, 2), padding=(0, 1), return_indices=True)
    np.testing.assert_array_equal(values, [[[-inf, -inf, -inf]]])
    np.testing.assert_array_equal(indices, [[[0, 1, 3]]])
    x = np.array([[[5.0, 5.0, 7.0, 7.0, inf, 2.0]]])
    values, indices = fieldconv.max_pool2d(x, (1, 2), stride=1, return_indices=True)
    np.testing.assert_array_equal(values, [[[5.0, 7.0, 7.0, inf, inf]]])
    np.testing.assert_array_equal(indices, [[[0, 2, 2, 4, 4]]])  # first maximum wins


def signed_zeros_and_nans(shape, dtype, seed):
    """+0, -0, +-1 and quiet NaNs with different signs and payloads: ties and NaNs whose bits differ."""
    rng = np.random.default_rng(seed)
    bits = np.uint32 if dtype == np.float32 else np.uint64
    nan_bits = (
        [0x7FC00000, 0xFFC00000, 0x7FC00123, 0xFFC00456]
        if dtype == np.float32
        else [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF8000000000123, 0xFFF8000000000456]
    )
    pool = np.array([0.0, -0.0, 0.0, -0.0, -1.0, 1.0], dtype=dtype)
    x = rng.choice(pool, size=shape)
    nan_at = rng.random(shape) < 0.1
    x.view(bits)[nan_at] = rng.choice(np.array(nan_bits, dtype=bits), size=int(nan_at.sum()))
    return x


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_values_are_the_chosen_elements_bit_for_bit(dtype):
    bits = np.uint32 if dtype == np.float32 else np.uint64
    x = signed_zeros_and_nans((2, 3, 13, 37), dtype, seed=20)
    for kernel, stride, padding, dilation, ceil_mode in (
        (3, 2, 1, 1, False),
        (2, 1, 0, 1, True),
        ((3, 4), (1, 2), (1, 2), (2, 1), True),
    ):
        expected, _ = max_pool2d_reference(x, kernel, stride, padding, dilation, ceil_mode)
        for _ in each_isa():
            values, _ = fieldconv.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
            np.testing.assert_array_equal(values.view(bits), expected.view(bits))
            values = fieldconv.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
            np.testing.assert_array_equal(values.view(bits), expected.view(bits))


@pytest.mark.parametrize("dtype", DTYPES)
def test_against_torch(dtype, torch):
    F = torch.nn.functional
    x = random_input((2, 3, 15, 42), dtype, seed=6)
    x_special = random_input((2, 3, 15, 42), dtype, seed=7, specials=True)
    x_ties = random_input((2, 3, 15, 42), dtype, seed=8, ties=True)
    x_zeros = signed_zeros_and_nans((2, 3, 15, 42), dtype, seed=9)
    bits = np.uint32 if dtype == np.float32 else np.uint64
    cases = [
        (2, None, 0, 1, False),
        (2, None, 1, 1, True),
        (3, 2, 1, 1, False),
        (3, 2, 1, 1, True),
        (3, 1, 1, 2, False),
        (3, (2, 3), 0, 2, True),
        ((2, 5), 1, 1, 1, True),
        ((2, 5), (2, 3), (1, 2), (2, 1), True),
        ((2, 5), None, 0, 2, False),
        (3, 1, 0, 1, True),
    ]
    for kernel, stride, padding, dilation, ceil_mode in cases:
        for data in (x, x_special, x_ties, x_zeros):
            expected, expected_indices = F.max_pool2d(
                torch.from_numpy(data), kernel, stride, padding, dilation, ceil_mode, return_indices=True
            )
            expected_values = F.max_pool2d(torch.from_numpy(data), kernel, stride, padding, dilation, ceil_mode)
            for _ in each_isa():
                values, indices = fieldconv.max_pool2d(data, kernel, stride, padding, dilation, ceil_mode, True)
                np.testing.assert_array_equal(values, expected.numpy())
                np.testing.assert_array_equal(indices, expected_indices.numpy())
                values = fieldconv.max_pool2d(data, kernel, stride, padding, dilation, ceil_mode)
                np.testing.assert_array_equal(values.view(bits), expected_values.numpy().view(bits))  # +-0, NaN bits
        if dilation == 1:
            for count_include_pad, divisor_override in ((True, None), (False, None), (False, 5)):
                avg_args = (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
                for data in (x, x_special):
                    expected = F.avg_pool2d(torch.from_numpy(data), *avg_args).numpy()
                    for _ in each_isa():  # the same summation order as PyTorch: the same bits
                        np.testing.assert_array_equal(fieldconv.avg_pool2d(data, *avg_args), expected)


def test_torch_empty_dilated_windows(torch):
    # windows that hold padding only: PyTorch reports -inf and an index past the window's rows
    x = np.arange(4.0).reshape(1, 2, 2)
    expected, expected_indices = torch.nn.functional.max_pool2d(
        torch.from_numpy(x), (2, 1), 1, (1, 0), (3, 1), return_indices=True
    )
    values, indices = fieldconv.max_pool2d(x, (2, 1), 1, (1, 0), (3, 1), return_indices=True)
    np.testing.assert_array_equal(values, expected.numpy())
    np.testing.assert_array_equal(indices, expected_indices.numpy())


def test_unbatched_input(isa):
    x = random_input((3, 10, 13), np.float32, seed=9)
    values, indices = fieldconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    batched_values, batched_indices = fieldconv.max_pool2d(x[np.newaxis], 3, 2, 1, return_indices=True)
    assert values.shape == (3, 5, 7) and indices.shape == (3, 5, 7)
    np.testing.assert_array_equal(values, batched_values[0])
    np.testing.assert_array_equal(indices, batched_indices[0])
    average = fieldconv.avg_pool2d(x, 2, ceil_mode=True)
    assert average.shape == (3, 5, 7)
    np.testing.assert_array_equal(average, fieldconv.avg_pool2d(x[np.newaxis], 2, ceil_mode=True)[0])


def test_empty_batch():
    x = np.zeros((0, 3, 8, 8), np.float32)
    assert fieldconv.max_pool2d(x, 2).shape == (0, 3, 4, 4)
    values, indices = fieldconv.max_pool2d(x, 2, return_indices=True)
    assert values.shape == indices.shape == (0, 3, 4, 4)
    assert fieldconv.avg_pool2d(x, 3, 1, 1).shape == (0, 3, 8, 8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_and_scalar_paths(dtype):
    # wider than one column tile (4096 outputs)
    x = random_input((1, 1, 2, 4111), dtype, seed=10, specials=True, ties=True)
    expected, expected_indices = max_pool2d_reference(x, (1, 3), 1, (0, 1))
    expected_avg = avg_pool2d_reference(x, (1, 3), 1, (0, 1))
    for _ in each_isa():
        values, indices = fieldconv.max_pool2d(x, (1, 3), 1, (0, 1), return_indices=True)
        np.testing.assert_array_equal(values, expected)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_array_equal(fieldconv.max_pool2d(x, (1, 3), 1, (0, 1)), expected)
        average = fieldconv.avg_pool2d(x, (1, 3), 1, (0, 1))
        np.testing.assert_array_equal(np.isnan(average), np.isnan(expected_avg))
        np.testing.assert_allclose(average, expected_avg, rtol=1e-6)
    # windows taller than 64 rows; a dilated window whose rows do not all fit the row cache
    for shape, kernel, stride, padding, dilation in (
        ((1, 2, 75, 9), (70, 2), (3, 1), (2, 1), 1),
        ((1, 1, 1003, 600), (2, 3), (1, 2), (1, 1), (1000, 1)),
    ):
        x = random_input(shape, dtype, seed=12, specials=True, ties=True)
        expected, expected_indices = max_pool2d_reference(x, kernel, stride, padding, dilation, True)
        for _ in each_isa():
            values, indices = fieldconv.max_pool2d(x, kernel, stride, padding, dilation, True, return_indices=True)
            np.testing.assert_array_equal(values, expected)
            np.testing.assert_array_equal(indices, expected_indices)
            np.testing.assert_array_equal(fieldconv.max_pool2d(x, kernel, stride, padding, dilation, True), expected)
    # a stride beyond the row buffer: the scalar path
    x = random_input((2, 2, 5, 7), dtype, seed=11, specials=True)
    kernel, stride = (2, 3), (1, 2**21)
    expected, expected_indices = max_pool2d_reference(x, kernel, stride, (1, 1), 1, True)
    x_abs = np.abs(x)
    expected_avg = avg_pool2d_reference(x_abs, kernel, stride, (1, 1), True, False)
    for _ in each_isa():
        values, indices = fieldconv.max_pool2d(x, kernel, stride, (1, 1), 1, True, return_indices=True)
        np.testing.assert_array_equal(values, expected)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_array_equal(fieldconv.max_pool2d(x, kernel, stride, (1, 1), 1, True), expected)
        np.testing.assert_allclose(
            fieldconv.avg_pool2d(x_abs, kernel, stride, (1, 1), True, False), expected_avg, rtol=RTOL[np.dtype(dtype)]
        )


def test_results_do_not_depend_on_thread_count():
    x = random_input((1, 3, 40, 33), np.float32, seed=12, specials=True)
    threads = fieldconv.get_num_threads()
    try:
        fieldconv.set_num_threads(1)
        one = (fieldconv.max_pool2d(x, 3, 2, 1, return_indices=True), fieldconv.avg_pool2d(x, 3, 2, 1))
        fieldconv.set_num_threads(3)
        three = (fieldconv.max_pool2d(x, 3, 2, 1, return_indices=True), fieldconv.avg_pool2d(x, 3, 2, 1))
    finally:
        fieldconv.set_num_threads(threads)
    np.testing.assert_array_equal(one[0][0], three[0][0])
    np.testing.assert_array_equal(one[0][1], three[0][1])
    np.testing.assert_array_equal(one[1], three[1])


def test_any_array_like_gives_the_same_result(isa):
    base = random_input((2, 3, 12, 14), np.float64, seed=13)
    expected_max = fieldconv.max_pool2d(base, 3, 2, 1, return_indices=True)
    expected_avg = fieldconv.avg_pool2d(base, 3, 2, 1, count_include_pad=False)
    read_only = base.copy()
    read_only.flags.writeable = False
    wide = np.zeros((2, 3, 12, 28))
    wide[..., ::2] = base
    variants = [
        base.tolist(),
        np.asfortranarray(base),
        base[:, :, ::-1, ::-1].copy()[:, :, ::-1, ::-1],  # negative strides
        wide[..., ::2],  # non-contiguous
        read_only,
        base.astype(base.dtype.newbyteorder()),  # byte-swapped
    ]
    for variant in variants:
        snapshot = np.array(variant, copy=True)
        values, indices = fieldconv.max_pool2d(variant, 3, 2, 1, return_indices=True)
        np.testing.assert_array_equal(values, expected_max[0])
        np.testing.assert_array_equal(indices, expected_max[1])
        np.testing.assert_array_equal(fieldconv.avg_pool2d(variant, 3, 2, 1, count_include_pad=False), expected_avg)
        np.testing.assert_array_equal(np.asarray(variant), snapshot)  # not modified
    layer_input = base[:, :, ::-1, :]
    np.testing.assert_array_equal(fieldconv.MaxPool2d(2)(layer_input), fieldconv.max_pool2d(layer_input.copy(), 2))


def test_layers():
    x = random_input((2, 4, 19, 23), np.float32, seed=14)
    layer = fieldconv.MaxPool2d(3, 2, 1, 1, ceil_mode=True)
    np.testing.assert_array_equal(layer(x), fieldconv.max_pool2d(x, 3, 2, 1, 1, True))
    assert layer.output_shape(x.shape) == layer(x).shape == (2, 4, 10, 12)
    assert layer.output_shape((4, 19, 23)) == (4, 10, 12)
    assert layer.kernel_size == (3, 3) and layer.stride == (2, 2) and layer.padding == (1, 1)
    assert "MaxPool2d" in repr(layer)
    field = layer.receptive_field
    assert field == fieldconv.MaxPool2d(3, 2, 1).receptive_field  # ceil_mode does not change the field
    assert field.size == (3, 3) and field.jump == (2, 2) and field.start == (0.0, 0.0)
    dilated = fieldconv.MaxPool2d((3, 2), (1, 2), (1, 0), (2, 3)).receptive_field
    assert dilated.size == (5, 4) and dilated.jump == (1, 2) and dilated.start == (1.0, 1.5)

    average = fieldconv.AvgPool2d((2, 3), None, (1, 1), False, False, None)
    np.testing.assert_array_equal(average(x), fieldconv.avg_pool2d(x, (2, 3), None, (1, 1), False, False))
    assert average.output_shape(x.shape) == average(x).shape
    assert average.stride == (2, 3) and average.divisor_override is None and not average.count_include_pad
    assert average.receptive_field.size == (2, 3) and average.receptive_field.jump == (2, 3)
    assert average.receptive_field.start == (-0.5, 0.0)
    override = fieldconv.AvgPool2d(2, divisor_override=3)
    np.testing.assert_array_equal(override(x), fieldconv.avg_pool2d(x, 2, divisor_override=3))
    assert "divisor_override=3" in repr(override)
    with pytest.raises(ValueError, match="output width"):
        fieldconv.MaxPool2d(5).output_shape((1, 1, 8, 4))
    # in a stack: LeNet-style conv 5x5, ReLU, 2x2 average pool, 3x3/2 max pool
    weight = random_input((6, 4, 5, 5), np.float32, seed=15)
    stack = fieldconv.Sequential(
        fieldconv.Conv2d(weight), fieldconv.ReLU(), fieldconv.AvgPool2d(2), fieldconv.MaxPool2d(3, 2, 1)
    )
    expected = fieldconv.max_pool2d(fieldconv.avg_pool2d(fieldconv.relu(fieldconv.conv2d(x, weight)), 2), 3, 2, 1)
    np.testing.assert_array_equal(stack(x), expected)
    assert stack.output_shape(x.shape) == expected.shape
    field = stack.receptive_field
    assert field.size == (5 + 1 + 2 * 2, 5 + 1 + 2 * 2) and field.jump == (4, 4)
    with pytest.raises(ValueError, match="padding"):
        fieldconv.AvgPool2d(2, padding=2)


def test_output_size_rule_matches_reference():
    for size, kernel, stride, padding, dilation, ceil_mode in itertools.product(
        range(1, 9), range(1, 5), range(1, 4), range(0, 3), (1, 2), (False, True)
    ):
        if padding > kernel // 2:
            continue
        expected = pool_output_size(size, kernel, stride, padding, dilation, ceil_mode)
        if expected < 1:
            with pytest.raises(ValueError, match="kernel_size"):
                _core.pool2d_output_shape(
                    1, 1, size, 5, (kernel, 1), (stride, 1), (padding, 0), (dilation, 1), ceil_mode
                )
        else:
            out = _core.pool2d_output_shape(
                1, 1, size, 5, (kernel, 1), (stride, 1), (padding, 0), (dilation, 1), ceil_mode
            )
            assert out == (expected, 5)


BAD_ARGUMENTS = [
    # (function, args, kwargs, exception, words the message must contain)
    ("max", (np.zeros((1, 1, 4, 4), np.int32), 2), {}, TypeError, ["x", "int32"]),
    ("avg", (np.zeros((1, 1, 4, 4), np.float16), 2), {}, TypeError, ["x", "float16"]),
    ("max", (np.zeros((1, 1, 4, 4), np.complex64), 2), {}, TypeError, ["x", "complex64"]),
    ("max", (np.zeros((4, 4), np.float32), 2), {}, ValueError, ["x", "(4, 4)"]),
    ("avg", (np.zeros((1, 1, 1, 4, 4), np.float32), 2), {}, ValueError, ["x", "(1, 1, 1, 4, 4)"]),
    ("max", (np.zeros((1, 0, 4, 4), np.float32), 2), {}, ValueError, ["channels", "0"]),
    ("max", (np.zeros((1, 1, 0, 4), np.float32), 2), {}, ValueError, ["height", "0"]),
    ("max", (np.zeros((1, 4, 4), np.float32), 0), {}, ValueError, ["kernel_size", "0"]),
    ("avg", (np.zeros((1, 4, 4), np.float32), -1), {}, ValueError, ["kernel_size", "-1"]),
    ("max", (np.zeros((1, 4, 4), np.float32), 2.5), {}, TypeError, ["kernel_size", "2.5"]),
    ("max", (np.zeros((1, 4, 4), np.float32), (2, 2, 2)), {}, ValueError, ["kernel_size", "(2, 2, 2)"]),
    ("max", (np.zeros((1, 4, 4), np.float32), 2), {"stride": 0}, ValueError, ["stride", "0"]),
    ("avg", (np.zeros((1, 4, 4), np.float32), 2), {"stride": (1, -2)}, ValueError, ["stride[1]", "-2"]),
    ("max", (np.zeros((1, 4, 4), np.float32), 2), {"dilation": 0}, ValueError, ["dilation", "0"]),
    ("max", (np.zeros((1, 4, 4), np.float32), 2), {"padding": 2}, ValueError, ["padding", "2", "kernel_size"]),
    ("avg", (np.zeros((1, 4, 4), np.float32), (3, 4)), {"padding": (2, 0)}, ValueError, ["padding[0]", "2"]),
    ("max", (np.zeros((1, 4, 4), np.float32), 2), {"padding": -1}, ValueError, ["padding", "-1"]),
    ("max", (np.zeros((1, 3, 3), np.float32), 5), {}, ValueError, ["kernel_size", "5", "height"]),
    ("max", (np.zeros((1, 3, 9), np.float32), 3), {"dilation": (2, 1)}, ValueError, ["dilation", "height"]),
    ("avg", (np.zeros((1, 4, 4), np.float32), 2), {"divisor_override": 0}, ValueError, ["divisor_override", "0"]),
    ("avg", (np.zeros((1, 4, 4), np.float32), 2), {"divisor_override": 1.5}, TypeError, ["divisor_override"]),
    ("max", (np.zeros((1, 4, 4), np.float32), 2**31), {}, ValueError, ["kernel_size", str(2**31)]),
    ("max", (np.zeros((1, 4, 4), np.float32), 2**62), {}, ValueError, ["kernel_size", str(2**62)]),
    ("avg", (np.zeros((1, 4, 4), np.float32), 2), {"stride": 2**62}, ValueError, ["stride", str(2**62)]),
    ("max", (np.zeros((1, 4, 4), np.float32), 2), {"ceil_mode": "yes"}, TypeError, ["ceil_mode", "yes"]),
    ("max", (np.zeros((1, 4, 4), np.float32), 2), {"return_indices": None}, TypeError, ["return_indices"]),
    ("avg", (np.zeros((1, 4, 4), np.float32), 2), {"count_include_pad": 2}, TypeError, ["count_include_pad"]),
    ("max", ([[[1.0, 2.0], [3.0]]], 1), {}, TypeError, ["x"]),
    ("max", (np.broadcast_to(np.float32(0), (2**25, 2**25, 1, 1)), 1), {}, ValueError, ["input size", "2**48"]),
    ("avg", (np.broadcast_to(np.float32(0), (1, 1, 2, 2**32)), 1), {}, ValueError, ["width", str(2**32)]),
]


@pytest.mark.parametrize("function, args, kwargs, exception, words", BAD_ARGUMENTS)
def test_bad_arguments(function, args, kwargs, exception, words):
    op = fieldconv.max_pool2d if function == "max" else fieldconv.avg_pool2d
    with pytest.raises(exception) as info:
        op(*args, **kwargs)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"


def test_layer_constructors_check_arguments():
    with pytest.raises(ValueError, match="kernel_size"):
        fieldconv.MaxPool2d(0)
    with pytest.raises(ValueError, match="divisor_override"):
        fieldconv.AvgPool2d(2, divisor_override=0)
    with pytest.raises(TypeError, match="x"):
        fieldconv.AvgPool2d(2)(np.zeros((1, 4, 4), np.int64))


@st.composite
def pool_problems(draw):
    """Random geometries: kernel, stride, padding (<= kernel // 2), dilation, ceil mode, sizes that fit."""
    axes = []
    for _ in range(2):
        kernel = draw(st.integers(1, 5))
        stride = draw(st.integers(1, 4))
        padding = draw(st.integers(0, kernel // 2))
        dilation = draw(st.integers(1, 3))
        minimum = max(1, dilation * (kernel - 1) + 1 - 2 * padding)
        size = draw(st.integers(minimum, minimum + 20))
        axes.append((kernel, stride, padding, dilation, size))
    ceil_mode = draw(st.booleans())
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**31))
    return tuple(zip(*axes)), ceil_mode, dtype, seed


@settings(max_examples=40, deadline=None)
@given(problem=pool_problems())
def test_property_matches_reference(problem):
    (kernel, stride, padding, dilation, size), ceil_mode, dtype, seed = problem
    x = random_input((1, 2) + size, dtype, seed % 1000, specials=seed % 2 == 0, ties=seed % 3 == 0)
    expected, expected_indices = max_pool2d_reference(x, kernel, stride, padding, dilation, ceil_mode)
    positive = np.abs(np.nan_to_num(x, nan=1.0, posinf=1.0, neginf=1.0))
    expected_avg = avg_pool2d_reference(positive, kernel, stride, padding, ceil_mode, False)
    for _ in each_isa():
        values, indices = fieldconv.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
        np.testing.assert_array_equal(values, expected)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_array_equal(fieldconv.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode), expected)
        average = fieldconv.avg_pool2d(positive, kernel, stride, padding, ceil_mode, False)
        np.testing.assert_allclose(average, expected_avg, rtol=RTOL[np.dtype(dtype)])
