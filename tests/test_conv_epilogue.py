"""The conv kernels' epilogue: y = activation(conv + bias + residual) applied as each output value
is stored (fieldconv/epilogue.hpp), in every kernel (blocked direct, pointwise, depthwise,
Winograd F2/F4/F6) and kernel family.

The fused result must have exactly the bits of the convolution followed by the separate passes,
written here in NumPy (y + residual, then torch's relu/relu6 comparisons), so NaN, Inf and -0.0
land where the passes put them; the convolution itself is also held to the stated error bound
against the float64 reference (tests/reference.py)."""

from __future__ import annotations

import numpy as np
import pytest

import fieldconv
from fieldconv import _conv2d_args, _core
from fieldconv.graph import Add
from fieldconv.layers import ReLU6
from reference import conv2d_error

DTYPES = (np.float32, np.float64)
# Relative error bounds of the convolution (tests/test_conv2d.py, tests/test_winograd.py): direct
# sums in the working precision; Winograd F6's transforms lose up to ~2^7 more.
BOUND = {("direct", np.float32): 1e-5, ("direct", np.float64): 1e-13, ("winograd", np.float32): 5e-3}
BOUND[("winograd", np.float64)] = 1e-11

# (batch, in, size, out, kernel, stride, padding, groups): blocked 3x3, 7x7/2 on 3 channels (the
# AVX-512 family's row kernel for rows of 23 outputs, and for rows of 11 in float64), pointwise with a
# ragged last pixel run and several channel chunks, a 1x1 stride 2 downsample, depthwise with a
# multiplier, a map too small for the pointwise kernel.
GEOMETRIES = [
    (2, 5, (11, 13), 7, 3, 1, 1, 1),
    (1, 3, (23, 21), 16, 7, 2, 3, 1),
    (2, 3, (40, 45), 20, 7, 2, 3, 1),
    (2, 600, (17, 19), 20, 1, 1, 0, 1),
    (1, 12, (14, 15), 24, 1, 2, 0, 1),
    (2, 8, (13, 18), 16, 3, 2, 1, 8),
    (1, 16, (5, 6), 40, 1, 1, 0, 1),
]
WINOGRAD_GEOMETRIES = [(2, 10, (15, 17), 18, 3, 1, 1, 1), (1, 40, (12, 12), 36, 3, 1, 0, 2)]


def reference_epilogue(y, residual, activation):
    """The separate passes: the Add layer's sum, then torch's relu / relu6 comparisons."""
    out = y if residual is None else y + residual
    if activation:
        out = np.where(out < 0, np.zeros_like(out), out)  # keeps NaN and -0.0
    if activation == 2:
        out = np.where(out > 6, np.full_like(out, 6), out)
    return out


def run(algorithm, x, w, b, stride, padding, groups, residual=None, activation=0):
    """The kernel call with the epilogue (returns None when Winograd declines)."""
    geometry = _conv2d_args.conv2d_geometry(stride, padding, 1, groups)
    call = _conv2d_args.conv2d_call(x, w, b, geometry)
    y = call.allocate_output()
    if algorithm == "direct":
        packed = _core.PackedConv2dWeights(call.weight, groups)
        _core.conv2d_direct(
            call.x,
            packed,
            call.bias,
            y,
            call.stride,
            call.dilation,
            call.padding,
            residual=residual,
            activation=activation,
        )
        return y
    transformed = _core.WinogradConv2dWeights(call.weight, groups, int(algorithm[-1]))
    done = _core.conv2d_winograd(
        call.x, transformed, call.bias, y, call.padding, residual=residual, activation=activation
    )
    return y if done else None


def special_residual(rng, shape, dtype):
    """Random values around 0 (so relu clamps about half), with -0.0, NaN, +-Inf and values
    above 6 sprinkled in."""
    residual = (rng.standard_normal(shape) * 4).astype(dtype)
    flat = residual.reshape(-1)
    flat[::13] = -0.0
    flat[5::97] = np.nan
    flat[7::89] = np.inf
    flat[11::83] = -np.inf
    flat[3::7] += 9
    return residual


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_direct_epilogue_has_the_bits_of_the_separate_passes(isa, rng, dtype, geometry):
    batch, c_in, (h, w_), c_out, k, stride, padding, groups = geometry
    x = rng.standard_normal((batch, c_in, h, w_)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups, k, k)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    plain = run("direct", x, w, b, stride, padding, groups)
    assert (
        conv2d_error(plain, x, w, b, stride=(stride, stride), padding=(padding,) * 4, groups=groups)
        <= BOUND[("direct", dtype)]
    )
    residual = special_residual(rng, plain.shape, dtype)
    x_before, residual_before = x.copy(), residual.copy()
    for activation in (0, 1, 2):
        for given in (None, residual):
            fused = run("direct", x, w, b, stride, padding, groups, given, activation)
            expected = reference_epilogue(plain, given, activation)
            assert same_bits(fused, expected), (activation, given is None)
    assert same_bits(x, x_before) and same_bits(residual, residual_before)  # only read


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tile", (2, 4, 6))
@pytest.mark.parametrize("geometry", WINOGRAD_GEOMETRIES)
def test_winograd_epilogue_has_the_bits_of_the_separate_passes(isa, rng, dtype, tile, geometry):
    batch, c_in, (h, w_), c_out, _, _, padding, groups = geometry
    x = rng.standard_normal((batch, c_in, h, w_)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups, 3, 3)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    algorithm = f"winograd_f{tile}"
    plain = run(algorithm, x, w, b, 1, padding, groups)
    assert plain is not None
    assert conv2d_error(plain, x, w, b, padding=(padding,) * 4, groups=groups) <= BOUND[("winograd", dtype)]
    # finite residuals (with -0.0 and values above 6): Winograd keeps them
    residual = special_residual(rng, plain.shape, dtype)
    residual[~np.isfinite(residual)] = 1.5
    for activation in (0, 1, 2):
        for given in (None, residual):
            fused = run(algorithm, x, w, b, 1, padding, groups, given, activation)
            assert fused is not None
            assert same_bits(fused, reference_epilogue(plain, given, activation)), (activation, given is None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_winograd_declines_residuals_that_could_overflow_and_direct_then_matches(isa, dtype):
    # A NaN/Inf residual or a sum beyond half the largest value could land differently from
    # direct convolution's: Winograd declines (leaving the residual alone), and conv2d's direct
    # fallback then gives the passes' bits.
    rng = np.random.default_rng(77)
    x = rng.standard_normal((1, 6, 9, 10)).astype(dtype)
    w = rng.standard_normal((8, 6, 3, 3)).astype(dtype)
    plain = run("winograd_f4", x, w, None, 1, 1, 1)
    for value in (np.nan, np.inf, np.finfo(dtype).max * 0.75):
        residual = np.zeros(plain.shape, dtype)
        residual[0, 3, 4, 5] = value
        before = residual.copy()
        assert run("winograd_f4", x, w, None, 1, 1, 1, residual, 1) is None
        assert same_bits(residual, before)
        direct = run("direct", x, w, None, 1, 1, 1)
        fused = run("direct", x, w, None, 1, 1, 1, residual, 1)
        assert same_bits(fused, reference_epilogue(direct, residual, 1))


def test_epilogue_arguments_are_checked():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    geometry = _conv2d_args.conv2d_geometry(1, 1, 1, 1)
    call = _conv2d_args.conv2d_call(x, w, None, geometry)
    packed = _core.PackedConv2dWeights(call.weight, 1)
    transformed = _core.WinogradConv2dWeights(call.weight, 1, 2)
    y = call.allocate_output()
    args = (call.x, packed, None, y, call.stride, call.dilation, call.padding)
    with pytest.raises(ValueError, match="output and residual must not overlap"):
        _core.conv2d_direct(*args, residual=y, activation=1)
    with pytest.raises(ValueError, match="output and residual must not overlap"):
        _core.conv2d_winograd(call.x, transformed, None, y, call.padding, residual=y)
    with pytest.raises(ValueError, match=r"activation must be none \(0\), relu \(1\) or relu6 \(2\), got 3"):
        _core.conv2d_direct(*args, activation=3)
    with pytest.raises(ValueError, match="residual must have the output's shape"):
        _core.conv2d_direct(*args, residual=np.zeros((1, 3, 6, 5)))
    with pytest.raises(TypeError, match="residual"):
        _core.conv2d_direct(*args, residual=np.zeros((1, 3, 6, 6), np.float32))
    # the input may be read as the residual too (same shape: 2 -> 2 channels)
    square = rng.standard_normal((2, 2, 3, 3))
    y2 = np.empty_like(x)
    _core.conv2d_direct(x, _core.PackedConv2dWeights(square, 1), None, y2, (1, 1), (1, 1), (1, 1, 1, 1), residual=x)
    expected = fieldconv.conv2d(x, square, padding=1, algorithm="direct") + x
    assert same_bits(y2, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_networks_fuse_with_the_layers_bits_batched_and_unbatched(dtype):
    # A residual block whose Add reads the network's input, and a bottleneck with a strided 1x1
    # shortcut, which is computed last and so adds the block's output in its epilogue.
    rng = np.random.default_rng(9)

    def conv(c_in, c_out, k, stride=1):
        weight = rng.standard_normal((c_out, c_in, k, k)).astype(dtype) / np.sqrt(c_in * k * k)
        return fieldconv.Conv2d(weight, rng.standard_normal(c_out).astype(dtype), stride, k // 2)

    a, b, c, shortcut = conv(8, 8, 3), conv(8, 16, 3, 2), conv(16, 16, 1), conv(8, 16, 1, 2)
    graph = fieldconv.Graph(
        [
            ("a", a, "input"),
            ("add", Add(), ("a", "input")),
            ("relu", fieldconv.ReLU(), "add"),
            ("b", b, "relu"),
            ("b_relu", ReLU6(), "b"),
            ("c", c, "b_relu"),
            ("short", shortcut, "relu"),
            ("add2", Add(), ("c", "short")),
            ("out", fieldconv.ReLU(), "add2"),
        ]
    )
    assert set(graph._conv_epilogue) == {"a", "b", "short"}
    for x in (rng.standard_normal((2, 8, 12, 11)).astype(dtype), rng.standard_normal((8, 12, 11)).astype(dtype)):
        r = fieldconv.relu(a(x) + x)
        expected = fieldconv.relu(c(ReLU6()(b(r))) + shortcut(r))
        assert same_bits(graph(x), expected)


def test_graph_adds_itself_when_the_residual_does_not_fit_the_epilogue():
    # float64 weights on a float32 input give a float64 conv output, and the Add's other input
    # (the network's input) is float32: no fusion, the Add promotes as NumPy does.
    rng = np.random.default_rng(10)
    conv = fieldconv.Conv2d(rng.standard_normal((3, 3, 3, 3)), None, 1, 1)
    graph = fieldconv.Graph(
        [("conv", conv, "input"), ("add", Add(), ("conv", "input")), ("relu", fieldconv.ReLU(), "add")]
    )
    x = rng.standard_normal((1, 3, 7, 8)).astype(np.float32)
    ours = graph(x)
    assert ours.dtype == np.float64
    assert same_bits(ours, fieldconv.relu(conv(x) + x))
