"""fieldconv.dask.apply (docs: "Larger than memory"): networks over chunked dask arrays, tile by tile.

The reference is the network run on the whole computed array (Sequential(*layers)(x.compute())):
the direct convolution computes each output pixel the same way wherever it sits in the image, so
tiles must match it bitwise. Pooling is tested with fieldconv's pools when present and always
with duck-typed stand-ins that call torch (the specification of the pools' border behaviour).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import fieldconv  # noqa: E402
import fieldconv.dask  # noqa: E402
from fieldconv import Conv2d, ReLU, Sequential  # noqa: E402
from fieldconv.dask import axis_steps, output_bounds  # noqa: E402
from fieldconv._receptive_field import window_receptive_field  # noqa: E402

HAVE_POOLS = hasattr(fieldconv, "MaxPool2d") and hasattr(fieldconv, "AvgPool2d")
needs_pools = pytest.mark.skipif(not HAVE_POOLS, reason="fieldconv.MaxPool2d/AvgPool2d not merged yet")


def _supported_isas():
    previous, found = fieldconv.get_isa(), []
    for name in ("generic", "avx2", "avx512"):
        try:
            fieldconv._core.set_isa(name)
            found.append(name)
        except ValueError:
            pass
    fieldconv._core.set_isa(previous)
    return found


@pytest.fixture(params=_supported_isas())
def isa(request):
    previous = fieldconv.get_isa()
    fieldconv._core.set_isa(request.param)
    yield request.param
    fieldconv._core.set_isa(previous)


@pytest.fixture(autouse=True)
def threaded_scheduler():
    with dask.config.set(scheduler="threads"):
        yield


def conv(rng, c_out, c_in, k, dtype=np.float32, bias=True, **kwargs):
    kh, kw = (k, k) if isinstance(k, int) else k
    weight = rng.standard_normal((c_out, c_in, kh, kw)).astype(dtype)
    return Conv2d(weight, rng.standard_normal(c_out).astype(dtype) if bias else None, **kwargs)


# --------------------------------------------------------------------------------------------
# Pool stand-ins: the layer protocol and fieldconv's attribute names, computed by torch


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class TorchMaxPool2d:
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        self.kernel_size = _pair(kernel_size)
        self.stride = self.kernel_size if stride is None else _pair(stride)
        self.padding, self.dilation, self.ceil_mode = _pair(padding), _pair(dilation), ceil_mode

    @property
    def receptive_field(self):
        return window_receptive_field(self.kernel_size, self.stride, self.dilation, self.padding)

    def _run(self, x):
        torch = pytest.importorskip("torch")
        return torch.nn.functional.max_pool2d(
            torch.from_numpy(np.ascontiguousarray(x)),
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
        ).numpy()

    def __call__(self, x):
        return self._run(x)

    def output_shape(self, shape):
        return shape[:2] + self._run(np.zeros((1, 1) + tuple(shape[2:]), np.float32)).shape[2:]

    def __repr__(self):
        return f"TorchMaxPool2d({self.kernel_size}, {self.stride}, {self.padding}, {self.dilation}, {self.ceil_mode})"


class TorchAvgPool2d(TorchMaxPool2d):
    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
    ):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def _run(self, x):
        torch = pytest.importorskip("torch")
        return torch.nn.functional.avg_pool2d(
            torch.from_numpy(np.ascontiguousarray(x)),
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        ).numpy()

    def __repr__(self):
        return (
            f"TorchAvgPool2d({self.kernel_size}, {self.stride}, {self.padding}, {self.ceil_mode}, "
            f"{self.count_include_pad}, {self.divisor_override})"
        )


POOL_KINDS = ["torch"] + (["fieldconv"] if HAVE_POOLS else [])


def pools(kind):
    if kind == "torch":
        pytest.importorskip("torch")
        return TorchMaxPool2d, TorchAvgPool2d
    return fieldconv.MaxPool2d, fieldconv.AvgPool2d


def check(layers, x, chunks, exact=True):
    """apply(layers, x chunked as chunks) equals the network on the whole array."""
    dx = da.from_array(x, chunks=chunks)
    y = fieldconv.dask.apply(layers, dx)
    expected = Sequential(*layers)(x) if isinstance(layers, (list, tuple)) else layers(x)
    assert isinstance(y, da.Array)
    assert y.shape == expected.shape and y.dtype == expected.dtype
    got = y.compute()
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if exact:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    return y


# --------------------------------------------------------------------------------------------
# Equality with the whole-array network


CHUNKINGS = [(1, -1, 7, 9), (2, 2, 11, 5), (1, 1, 4, 3), (-1, -1, 100, 100), (1, -1, 13, 6)]


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_stride_one_network_all_paddings(chunks):
    rng = np.random.default_rng(1)
    layers = [
        conv(rng, 4, 3, 3, padding=1),
        ReLU(),
        conv(rng, 5, 4, 3, padding="valid"),
        conv(rng, 4, 5, (2, 4), padding="same"),  # even kernel: extra row/col at the bottom/right
        conv(rng, 3, 4, 3, padding=(2, 0, 1, 3), dilation=(1, 2)),
        ReLU(),
    ]
    x = rng.standard_normal((2, 3, 31, 26)).astype(np.float32)
    check(layers, x, chunks)


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_strided_network(chunks):
    rng = np.random.default_rng(2)
    layers = [
        conv(rng, 4, 3, 3, stride=2, padding=(1, 0, 0, 2)),
        ReLU(),
        conv(rng, 6, 4, (3, 2), stride=(1, 3), padding=(0, 1, 1, 1)),
        conv(rng, 3, 6, 3, stride=2, padding=1, dilation=2),
    ]
    x = rng.standard_normal((2, 3, 47, 53)).astype(np.float32)
    check(layers, x, chunks)


def test_random_networks(isa):
    """Random conv stacks (stride, padding, dilation, groups) over random chunkings, each ISA."""
    rng = np.random.default_rng(3)
    for trial in range(12):
        channels = int(rng.integers(1, 5))
        layers = []
        for _ in range(int(rng.integers(1, 5))):
            out = int(rng.integers(1, 5))
            k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
            stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            pad = tuple(int(v) for v in rng.integers(0, 3, size=4))
            dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
            groups = int(np.gcd(channels, out)) if rng.random() < 0.3 else 1
            weight = rng.standard_normal((out, channels // groups) + k)
            layers.append(Conv2d(weight, rng.standard_normal(out), stride, pad, dilation, groups))
            if rng.random() < 0.5:
                layers.append(ReLU())
            channels = out
        h, w = (int(v) for v in rng.integers(20, 60, size=2))
        x = rng.standard_normal((int(rng.integers(1, 3)), layers[0].in_channels, h, w))
        try:
            Sequential(*layers).output_shape(x.shape)
        except ValueError:
            continue  # image too small for this stack
        chunks = (int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(3, 25)), int(rng.integers(3, 25)))
        check(layers, x, chunks)


@pytest.mark.parametrize("kind", POOL_KINDS)
@pytest.mark.parametrize("chunks", [(1, -1, 5, 7), (1, 2, 9, 4), (2, -1, 17, 13)])
def test_pooled_network(kind, chunks):
    MaxPool2d, AvgPool2d = pools(kind)
    rng = np.random.default_rng(4)
    layers = [
        conv(rng, 4, 3, 3, padding=1),
        ReLU(),
        MaxPool2d(2),
        conv(rng, 4, 4, 3, padding=(1, 0, 2, 1)),
        MaxPool2d(3, stride=2, padding=1, ceil_mode=True),  # -inf padding, ceil_mode's last windows
        AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        conv(rng, 2, 4, 1),
    ]
    x = rng.standard_normal((2, 3, 45, 38)).astype(np.float32)
    check(layers, x, chunks)


@pytest.mark.parametrize("kind", POOL_KINDS)
def test_pool_border_rules(kind):
    """Each pooling border rule alone, with negative inputs (so -inf vs zero padding matters)."""
    MaxPool2d, AvgPool2d = pools(kind)
    rng = np.random.default_rng(5)
    x = -np.abs(rng.standard_normal((1, 2, 23, 19))).astype(np.float32) - 1
    cases = [
        MaxPool2d(3, stride=2, padding=1),
        MaxPool2d((2, 3), stride=(2, 1), padding=(1, 1), dilation=(2, 1), ceil_mode=True),
        MaxPool2d(4, stride=3, padding=2, ceil_mode=True),
        AvgPool2d(3, stride=2, padding=1),
        AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        AvgPool2d(4, stride=3, padding=2, ceil_mode=True),
        AvgPool2d(4, stride=3, padding=2, ceil_mode=True, count_include_pad=False),
        AvgPool2d(3, stride=2, padding=1, ceil_mode=True, divisor_override=5),
        AvgPool2d(2, stride=1, padding=1, divisor_override=-3),
    ]
    for layer in cases:
        for chunks in [(1, 1, 4, 5), (1, -1, 7, 3), (1, -1, 23, 19)]:
            check([layer], x, chunks)


@pytest.mark.parametrize("kind", POOL_KINDS)
def test_random_pooled_networks(kind):
    """Random conv/pool stacks (pool padding up to k // 2, dilation, ceil_mode, divisors)."""
    MaxPool2d, AvgPool2d = pools(kind)
    rng = np.random.default_rng(15)
    tested = 0
    while tested < 10:
        layers = [conv(rng, 3, 2, int(rng.integers(1, 4)), padding=tuple(int(v) for v in rng.integers(0, 2, 4)))]
        for _ in range(int(rng.integers(1, 4))):
            k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
            stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            pad = (int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1)))
            ceil = bool(rng.random() < 0.5)
            if rng.random() < 0.5:
                layers.append(MaxPool2d(k, stride, pad, (int(rng.integers(1, 3)), 1), ceil))
            else:
                divisor = [None, None, 3, -2][int(rng.integers(0, 4))]
                layers.append(AvgPool2d(k, stride, pad, ceil, bool(rng.random() < 0.5), divisor))
            if rng.random() < 0.5:
                layers.append(conv(rng, 3, 3, 2, padding=(1, 0, 0, 1)))
        x = rng.standard_normal((1, 2) + tuple(int(v) for v in rng.integers(15, 40, 2))).astype(np.float32)
        try:
            Sequential(*layers).output_shape(x.shape)
        except (ValueError, RuntimeError):
            continue
        check(layers, x, (1, 1, int(rng.integers(2, 12)), int(rng.integers(2, 12))))
        tested += 1


def test_float64_and_mixed_dtypes():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 2, 20, 17))
    check([conv(rng, 3, 2, 3, dtype=np.float64, padding=1), ReLU()], x, (1, 1, 6, 6))
    # float32 input, float64 weights: float64 result, as the network itself
    y = check([conv(rng, 3, 2, 3, dtype=np.float64, padding=1)], x.astype(np.float32), (1, 1, 6, 6))
    assert y.dtype == np.float64


def test_layer_sequential_nested_and_empty():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 2, 19, 21)).astype(np.float32)
    single = conv(rng, 3, 2, 3, stride=2, padding=1)
    check(single, x, (1, 1, 5, 8))
    inner = Sequential(conv(rng, 3, 3, 3, padding=1), ReLU())
    check(Sequential(single, inner, Sequential(inner, conv(rng, 2, 3, 2))), x, (1, 1, 5, 8))
    check((single, ReLU()), x, (1, 1, 5, 8))  # a tuple of layers
    dx = da.from_array(x, chunks=5)
    assert fieldconv.dask.apply([], dx) is dx


def test_result_is_lazy_and_keeps_batch_chunks():
    rng = np.random.default_rng(8)
    calls = []

    def source(block):
        calls.append(block.shape)
        return block

    x = rng.standard_normal((3, 4, 16, 16)).astype(np.float32)
    dx = da.from_array(x, chunks=(2, 2, 8, 8)).map_blocks(source, dtype=x.dtype)
    y = fieldconv.dask.apply([conv(rng, 2, 4, 3, padding=1)], dx)
    assert calls == [] or all(0 in shape or shape[-1] <= 1 for shape in calls)  # nothing computed (meta only)
    assert y.chunks[0] == (2, 1) and y.chunks[1] == (2,)
    assert y.numblocks == (2, 1, 2, 2)


# --------------------------------------------------------------------------------------------
# Tiling geometry


def test_output_bounds_follow_chunks_at_the_jump():
    # valid 3x3 conv: output o's field centre is input row o + 1
    window = fieldconv.dask._Window(size=3, stride=1, first=0)
    assert output_bounds(window, (10, 10, 10), 28) == [0, 9, 19, 28]
    # jump 4, field 16 starting at -6 (centre row 4*o + 1): tiles of 10-row chunks
    window = fieldconv.dask._Window(size=16, stride=4, first=-6)
    assert output_bounds(window, (10, 10, 10), 8) == [0, 3, 5, 8]
    # chunks smaller than the jump: empty tiles are dropped, no output lost
    assert output_bounds(window, (1,) * 30, 8) == [0, 1, 2, 3, 4, 5, 6, 7, 8]


def test_axis_steps_worked_example():
    """The README's worked example: conv 3x3 pad 1, max pool 2, conv 3x3 pad 1 over 32 rows."""
    windows = [fieldconv.dask._Window(3, 1, -1), fieldconv.dask._Window(2, 2, 0), fieldconv.dask._Window(3, 1, -1)]
    lengths = [32, 32, 16, 16]
    steps = axis_steps(windows, lengths, 5, 11)
    # conv 2: outputs 5..10 need pool outputs 4..11; pool outputs 4..11 need conv 1 outputs 8..23
    # conv 1: outputs 8..23 need input rows 7..24
    assert [(s.start, s.stop, s.keep_start, s.keep_stop) for s in steps] == [
        (7, 25, 1, 17),
        (8, 24, 0, 8),
        (4, 12, 1, 7),
    ]
    # at the top border the tile starts at 0 and the layers pad themselves
    steps = axis_steps(windows, lengths, 0, 3)
    assert [(s.start, s.stop, s.keep_start, s.keep_stop) for s in steps] == [(0, 9, 0, 8), (0, 8, 0, 4), (0, 4, 0, 3)]
    # at the bottom the tile stops at the image's last row
    steps = axis_steps(windows, lengths, 14, 16)
    assert [(s.start, s.stop) for s in steps] == [(25, 32), (26, 32), (13, 16)]


def test_worked_example_task_receives_rows_9_to_26():
    """The same network through apply: the middle tile's task gets input rows [9, 27) (18 rows)."""
    MaxPool2d, _ = pools(POOL_KINDS[-1])
    rng = np.random.default_rng(16)
    layers = [conv(rng, 2, 1, 3, padding=1), MaxPool2d(2), conv(rng, 1, 2, 3, padding=1)]
    x = rng.standard_normal((1, 1, 32, 32)).astype(np.float32)
    y = check(layers, x, (1, 1, (12, 12, 8), 32))
    assert y.chunks[2] == (6, 6, 4)
    rows = {key[3]: sum(shape[2] for shape in shapes) for key, shapes in _task_inputs(y)}
    assert rows == {0: 15, 1: 18, 2: 11}


def _task_inputs(y):
    """For every tile task of y: (output block shape, [shapes of the arrays it receives])."""
    graph = dict(y.__dask_graph__())
    from dask.core import get_dependencies

    result = []
    for key in dask.core.flatten(y.__dask_keys__()):
        deps = [d for d in get_dependencies(graph, key) if not str(d).startswith("fieldconv-network-")]
        values = dask.get(graph, deps, scheduler="sync") if deps else []
        result.append((key, [v.shape for v in values]))
    return result


def test_each_task_receives_only_its_tile_plus_halo():
    """Inspect the graph: every task's inputs add up to its output tile's receptive field, no
    whole neighbouring chunk is shipped, and each input chunk feeds the tiles around it only."""
    rng = np.random.default_rng(9)
    layers = [conv(rng, 4, 3, 3, padding=1), ReLU(), conv(rng, 4, 4, 3, stride=2, padding=1), conv(rng, 2, 4, 5)]
    field = Sequential(*layers).receptive_field  # size 3 + 2 = 5, then 5 + 4 * 2 = 13; jump 2
    assert field.size == (13, 13) and field.jump == (2, 2)
    x = rng.standard_normal((1, 3, 96, 80)).astype(np.float32)
    dx = da.from_array(x, chunks=(1, 3, 32, 40))
    y = fieldconv.dask.apply(layers, dx)
    block_rows, block_cols = y.chunks[2], y.chunks[3]
    inputs = _task_inputs(y)
    assert len(inputs) == 3 * 2
    for key, shapes in inputs:
        _, _, _, tile_row, tile_col = key
        rows, cols = block_rows[tile_row], block_cols[tile_col]
        # bound: the tile's field, plus at most jump - 1 rows of stride alignment
        max_rows = (rows - 1) * 2 + 13 + 1
        max_cols = (cols - 1) * 2 + 13 + 1
        total = sum(int(np.prod(s)) for s in shapes)
        assert total <= 3 * max_rows * max_cols, (key, shapes)
        # pieces other than the tile's own chunk are thin halo strips, never whole chunks
        assert sum(1 for s in shapes if s[2:] == (32, 40)) <= 1
        for s in shapes:
            assert s[2] <= 32 and s[3] <= 40
            assert s[2:] == (32, 40) or min(s[2], s[3]) <= 13
    assert np.array_equal(y.compute(), Sequential(*layers)(x))


class RecordingReLU(ReLU):
    """ReLU that records the shape of every tile it sees (tasks run in threads)."""

    def __init__(self):
        self.seen = []

    def __call__(self, x):
        self.seen.append(tuple(x.shape))
        return super().__call__(x)

    def __reduce__(self):
        return (RecordingReLU, ())


def test_intermediate_activations_are_tile_sized():
    rng = np.random.default_rng(10)
    first, middle, last = RecordingReLU(), RecordingReLU(), RecordingReLU()
    layers = [
        first,
        conv(rng, 4, 3, 3, padding=1),
        middle,
        conv(rng, 4, 4, 3, stride=2, padding=1),
        conv(rng, 4, 4, 3, stride=2),
        last,
    ]
    x = rng.standard_normal((1, 3, 200, 150)).astype(np.float32)
    expected = Sequential(*layers)(x)
    for recorder in (first, middle, last):
        recorder.seen.clear()
    y = fieldconv.dask.apply(layers, da.from_array(x, chunks=(1, 3, 50, 50)))
    np.testing.assert_array_equal(y.compute(), expected)
    assert len(first.seen) == 1 + y.npartitions  # the dtype probe, then once per tile
    tile = (max(y.chunks[2]), max(y.chunks[3]))
    # bound at a layer: (tile - 1) * jump + size of the rest of the network, + jump - 1 alignment
    for recorder, start in ((first, 0), (middle, 2)):
        rest = Sequential(*layers[start:]).receptive_field
        for shape in recorder.seen[1:]:  # [0] is the dtype probe
            for axis in (0, 1):
                bound = (tile[axis] - 1) * rest.jump[axis] + rest.size[axis] + rest.jump[axis] - 1
                assert shape[2 + axis] <= bound
                assert shape[2 + axis] < x.shape[2 + axis] // 2
    assert max(s[2] for s in last.seen) <= tile[0] + 1  # the last layer sees its output tile (+1 of padding)


# --------------------------------------------------------------------------------------------
# Schedulers


def test_distributed_local_cluster():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(11)
    layers = [conv(rng, 4, 3, 3, padding=1), ReLU(), conv(rng, 2, 4, 3, stride=2, padding=(1, 0, 0, 1))]
    if HAVE_POOLS:  # the graph is pickled to the scheduler even in-process: layers must pickle
        layers += [fieldconv.MaxPool2d(3, 2, 1, ceil_mode=True), fieldconv.AvgPool2d(2, count_include_pad=False)]
    x = rng.standard_normal((2, 3, 40, 36)).astype(np.float32)
    y = fieldconv.dask.apply(layers, da.from_array(x, chunks=(1, 3, 15, 12)))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            got = client.compute(y).result()
    np.testing.assert_array_equal(got, Sequential(*layers)(x))


def test_conv2d_pickles():
    rng = np.random.default_rng(12)
    for layer in (
        conv(rng, 2, 3, 3, padding="same"),
        conv(rng, 2, 4, (2, 3), stride=2, padding=(1, 0, 2, 1), groups=2),
    ):
        clone = pickle.loads(pickle.dumps(layer))
        x = rng.standard_normal((1, layer.in_channels, 9, 8)).astype(np.float32)
        assert repr(clone) == repr(layer)
        np.testing.assert_array_equal(clone(x), layer(x))


# --------------------------------------------------------------------------------------------
# Bad input: errors before anything is computed


def _poisoned(shape, chunks):
    def boom(block):
        raise AssertionError("computed")

    return da.zeros(shape, chunks=chunks, dtype=np.float32).map_blocks(boom, dtype=np.float32)


def test_bad_inputs_raise_before_compute():
    rng = np.random.default_rng(13)
    layers = [conv(rng, 2, 3, 3, padding=1)]
    with pytest.raises(TypeError, match="dask.array.from_array"):
        fieldconv.dask.apply(layers, np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(TypeError, match="dask.array.Array"):
        fieldconv.dask.apply(layers, [[1.0]])
    with pytest.raises(ValueError, match=r"4-D.*\(3, 8, 8\).*x\[None\]"):
        fieldconv.dask.apply(layers, _poisoned((3, 8, 8), 4))
    with pytest.raises(ValueError, match="x has 4 channels.*expects 3"):
        fieldconv.dask.apply(layers, _poisoned((1, 4, 8, 8), 4))
    with pytest.raises(ValueError, match="too small|does not fit"):
        fieldconv.dask.apply([conv(rng, 2, 3, 5)], _poisoned((1, 3, 4, 8), 4))
    with pytest.raises(TypeError, match="not a layer"):
        fieldconv.dask.apply([layers[0], "relu"], _poisoned((1, 3, 8, 8), 4))
    with pytest.raises(TypeError, match="float32 or float64"):
        fieldconv.dask.apply(layers, da.zeros((1, 3, 8, 8), chunks=4, dtype=np.int32))
    unknown = da.ones((1, 3, 8, 8), chunks=4, dtype=np.float32)[:, :, da.arange(8) > 2]
    with pytest.raises(ValueError, match="unknown chunk sizes.*compute_chunk_sizes"):
        fieldconv.dask.apply(layers, unknown)
    # a good call builds the graph without computing anything
    y = fieldconv.dask.apply(layers, _poisoned((1, 3, 8, 8), 4))
    with pytest.raises(AssertionError, match="computed"):
        y.compute()


def test_channel_mismatch_in_a_later_layer():
    rng = np.random.default_rng(14)
    with pytest.raises(ValueError, match="layer 1"):
        fieldconv.dask.apply([conv(rng, 2, 3, 3), conv(rng, 2, 5, 1)], _poisoned((1, 3, 8, 8), 4))


# --------------------------------------------------------------------------------------------
# Optional dependency


def _run_python(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)


def test_import_fieldconv_does_not_import_dask():
    done = _run_python(
        """
        import sys, fieldconv
        assert "dask" not in sys.modules, sorted(m for m in sys.modules if m.startswith("dask"))
        print("ok")
        """
    )
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr


def test_import_without_dask_names_the_extra():
    done = _run_python(
        """
        import sys
        sys.modules["dask"] = None  # as if dask were not installed
        import fieldconv
        try:
            import fieldconv.dask
        except ImportError as error:
            print("ImportError:", error)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "ImportError:" in done.stdout and "pip install fieldconv[dask]" in done.stdout


# --------------------------------------------------------------------------------------------
# The benchmark's code paths (tiny sizes)


def test_benchmark_variants_agree():
    from fieldconv import _dask_bench

    threads = fieldconv.get_num_threads()
    try:
        whole = _dask_bench._child("whole", 72, 20, 1)
        tiled = _dask_bench._child("dask", 72, 20, 1)
    finally:
        fieldconv.set_num_threads(threads)
    assert whole["output_shape"] == tiled["output_shape"] == [1, 8, 36, 36]
    assert whole["digest"] == tiled["digest"] and tiled["tasks"] == 16
    assert tiled["peak_rss_mib"] > 0 and whole["seconds"] >= 0
    assert "identical" in _dask_bench.format_table([whole, tiled])
    assert "differ" in _dask_bench.format_table([whole, dict(tiled, digest="0")])
    with pytest.raises(ValueError, match="variants"):
        _dask_bench.run_dask_benchmark(64, 16, variants=("fast",))
