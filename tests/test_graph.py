"""Graph layers (BatchNorm2d, ReLU6, Dropout, AdaptiveAvgPool2d, Flatten, Linear), the joins
(Residual, Concat, Graph) and receptive fields over graphs.

NumPy references come from tests/reference.py; tests that compare with torch import it per test.
Tolerances: max|y - ref| divided by the magnitude scale of the computation (the same formula on
|x| and |parameters|), which bounds every rounding error; float32 ops with at most a few terms
per output get 8 u32 (u32 = 2**-24 ~ 6e-8, one rounding per operation), float64 8 u64.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

import fieldconv
from fieldconv import (
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Concat,
    Conv2d,
    Dropout,
    Flatten,
    Graph,
    Linear,
    MaxPool2d,
    ReceptiveField,
    ReLU,
    ReLU6,
    Residual,
    Sequential,
)
from fieldconv.graph import Add, Cat
from fieldconv._receptive_field import NoSingleFieldError, join_receptive_fields, window_receptive_field

from reference import (
    adaptive_avg_pool2d_reference,
    batch_norm2d_reference,
    conv2d_reference,
    linear_reference,
    relu6_reference,
)

ROUNDING = {np.float32: 8 * 2.0**-24, np.float64: 8 * 2.0**-53}
DTYPES = [np.float32, np.float64]


def relative_error(y, ref, scale):
    return float(np.max(np.abs(np.asarray(y, np.float64) - ref)) / max(float(np.max(scale)), 1e-300))


# --------------------------------------------------------------------------------------------
# single layers against NumPy references


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_matches_reference(dtype, affine):
    rng = np.random.default_rng(1601)
    x = rng.standard_normal((3, 5, 7, 6)).astype(dtype)
    weight, bias = (rng.uniform(0.5, 1.5, 5), rng.standard_normal(5)) if affine else (None, None)
    mean, var = rng.standard_normal(5), rng.uniform(0.1, 2.0, 5)
    layer = BatchNorm2d(
        None if weight is None else weight.astype(dtype),
        None if bias is None else bias.astype(dtype),
        mean.astype(dtype),
        var.astype(dtype),
        eps=1e-3,
    )
    y = layer(x)
    assert y.dtype == dtype and y.shape == x.shape and layer.output_shape(x.shape) == x.shape
    cast = [None if v is None else v.astype(dtype) for v in (weight, bias, mean, var)]
    ref = batch_norm2d_reference(x, *cast, eps=1e-3)
    # scale: |x - mean| * |w| / sqrt(var + eps) + |b|, the magnitudes of the formula's terms
    scale = batch_norm2d_reference(
        np.abs(x) + np.abs(cast[2])[:, None, None],
        None if weight is None else np.abs(cast[0]),
        None if bias is None else np.abs(cast[1]),
        np.zeros(5),
        cast[3],
        eps=1e-3,
    )
    assert relative_error(y, ref, scale) <= ROUNDING[dtype]
    assert layer.parameter_count == (10 if affine else 0)
    assert layer.receptive_field == ReceptiveField.identity()


def test_batch_norm_checks_arguments():
    with pytest.raises(ValueError, match="running_var"):
        BatchNorm2d(np.ones(3), np.zeros(3), np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match="running_var must be >= 0"):
        BatchNorm2d(np.ones(2), np.zeros(2), np.zeros(2), -np.ones(2))
    with pytest.raises(TypeError, match="eps"):
        BatchNorm2d(np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), eps="small")
    with pytest.raises(ValueError, match=r"needs 2 channels, got input_shape \(1, 3, 4, 4\)"):
        BatchNorm2d(np.ones(2), np.zeros(2), np.zeros(2), np.ones(2)).output_shape((1, 3, 4, 4))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_folds_into_the_convolution(dtype):
    rng = np.random.default_rng(1602)
    x = rng.standard_normal((2, 4, 9, 8)).astype(dtype)
    weight = rng.standard_normal((6, 2, 3, 3)).astype(dtype)
    conv = Conv2d(weight, rng.standard_normal(6).astype(dtype), stride=2, padding=1, groups=2)
    norm = BatchNorm2d(rng.uniform(0.5, 2, 6), rng.standard_normal(6), rng.standard_normal(6), rng.uniform(0.2, 3, 6))
    folded = norm.fold_into(conv)
    assert folded.weight.dtype == dtype and folded.groups == 2 and folded.stride == (2, 2)
    ref = batch_norm2d_reference(
        conv2d_reference(x, weight, conv.bias, 2, 1, groups=2),
        norm.weight,
        norm.bias,
        norm.running_mean,
        norm.running_var,
    )
    scale_weight, _ = norm.scale_and_shift()
    scale = conv2d_reference(
        np.abs(x),
        np.abs(weight) * np.abs(scale_weight)[:, None, None, None],
        np.abs(conv.bias * scale_weight) + np.abs(norm.scale_and_shift()[1]),
        2,
        1,
        groups=2,
    )
    # K = 18 products per output, rounded once more by the folded weights: 2 * K u
    assert relative_error(folded(x), ref, scale) <= 40 * ROUNDING[dtype] / 8
    sequential = Sequential(conv, norm, ReLU()).fold_batch_norm()
    assert len(sequential) == 2 and isinstance(sequential[0], Conv2d)
    with pytest.raises(ValueError, match="output channels"):
        BatchNorm2d(np.ones(5), np.zeros(5), np.zeros(5), np.ones(5)).fold_into(conv)


def test_relu6_matches_torch_rule_for_nan_and_signed_zero():
    x = np.array([np.nan, -0.0, 0.0, -1.5, 3.0, 6.0, 7.25, np.inf, -np.inf], dtype=np.float32)
    y = ReLU6()(x)
    ref = relu6_reference(x)
    assert np.array_equal(y, ref.astype(np.float32), equal_nan=True)
    assert np.signbit(y[1]) and not np.signbit(y[2])
    assert ReLU6().output_shape((2, 3)) == (2, 3)


def test_dropout_is_the_identity():
    x = np.random.default_rng(1603).standard_normal((2, 3, 4, 4))
    layer = Dropout(0.3)
    assert np.array_equal(layer(x), x) and layer.p == 0.3 and repr(layer) == "Dropout(p=0.3)"
    with pytest.raises(ValueError, match="probability"):
        Dropout(1.5)


@pytest.mark.parametrize(
    "size, out", [((7, 7), 1), ((10, 9), (3, 4)), ((5, 5), 3), ((14, 14), 7), ((2, 3), (7, 5)), ((6, 8), (None, 3))]
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_avg_pool_matches_torch_bin_rule(size, out, dtype):
    rng = np.random.default_rng(1604)
    x = rng.standard_normal((2, 3) + size).astype(dtype)
    layer = AdaptiveAvgPool2d(out)
    y = layer(x)
    want = tuple(s if o is None else o for o, s in zip(out if isinstance(out, tuple) else (out, out), size))
    assert y.shape == (2, 3) + want == layer.output_shape(x.shape) and y.dtype == dtype
    ref = adaptive_avg_pool2d_reference(x, want)
    scale = adaptive_avg_pool2d_reference(np.abs(x), want)
    # a bin of K values: K - 1 additions and one division, K <= 7 * 7 here
    assert relative_error(y, ref, scale) <= 49 * ROUNDING[dtype]


def test_adaptive_avg_pool_field_for_the_input_shape():
    layer = AdaptiveAvgPool2d(1)
    assert layer.field_depends_on_input_size
    with pytest.raises(ValueError, match="receptive_field_for"):
        layer.receptive_field
    whole = layer.receptive_field_for((1, 3, 7, 5))
    assert whole.input_region(0, 0) == ((0, 7), (0, 5))
    # 10 -> 3: bins [0, 4), [3, 7), [6, 10): a window of 4 with stride 3
    expected = window_receptive_field((4, 4), (3, 3), (1, 1), (0, 0))
    assert AdaptiveAvgPool2d(3).receptive_field_for((3, 10, 10)) == expected
    with pytest.raises(NoSingleFieldError, match=r"\[\(0, 2\), \(1, 4\), \(3, 5\)\]"):
        AdaptiveAvgPool2d(3).receptive_field_for((1, 1, 5, 5))


@pytest.mark.parametrize("dtype", DTYPES)
def test_flatten_and_linear_match_reference(dtype):
    rng = np.random.default_rng(1605)
    x = rng.standard_normal((4, 3, 2, 5)).astype(dtype)
    flat = Flatten()(x)
    assert flat.shape == (4, 30) and np.array_equal(flat, x.reshape(4, 30))
    assert Flatten(0).output_shape(x.shape) == (120,) and Flatten(2).output_shape(x.shape) == (4, 3, 10)
    weight, bias = rng.standard_normal((7, 30)).astype(dtype), rng.standard_normal(7).astype(dtype)
    layer = Linear(weight, bias)
    y = layer(flat)
    scale = linear_reference(np.abs(flat), np.abs(weight), np.abs(bias))
    # K = 30 products summed: K u
    assert relative_error(y, linear_reference(flat, weight, bias), scale) <= 30 * ROUNDING[dtype]
    # a 1-d input, leading axes, and more rows than the conv path takes (NumPy's matmul)
    for rows in (rng.standard_normal(30), rng.standard_normal((2, 5, 30)), rng.standard_normal((70, 30))):
        rows = rows.astype(dtype)
        expected = linear_reference(rows.reshape(-1, 30), weight, bias).reshape(rows.shape[:-1] + (7,))
        scale = linear_reference(np.abs(rows.reshape(-1, 30)), np.abs(weight), np.abs(bias)).reshape(expected.shape)
        got = layer(rows)
        assert got.shape == expected.shape and got.dtype == dtype
        assert relative_error(got, expected, scale) <= 30 * ROUNDING[dtype]
    assert layer.parameter_count == 217 and layer.macs((4, 30)) == 4 * 30 * 7
    with pytest.raises(ValueError, match=r"Linear\(30, 7\) needs input_shape \(\.\.\., 30\)"):
        layer.output_shape((4, 31))
    assert Flatten().receptive_field_for((4, 3, 2, 5)).input_region(0, 0) == ((0, 2), (0, 5))
    assert layer.receptive_field_for((4, 30)) == ReceptiveField.identity()


def test_linear_conv_and_blas_paths_agree(monkeypatch):
    # up to 64 rows and 32 MB of weights Linear runs on the conv kernels (made at the first such
    # call), else NumPy's matmul: the same values within float64 rounding
    rng = np.random.default_rng(1606)
    weight, bias = rng.standard_normal((9, 40)), rng.standard_normal(9)
    x = rng.standard_normal((6, 40))
    layer = Linear(weight, bias)
    assert layer._conv is None
    by_conv = layer(x)
    assert layer._conv is not None
    monkeypatch.setattr(fieldconv.layers, "_LINEAR_CONV_WEIGHT_BYTES", 0)
    large = Linear(weight, bias)
    by_blas = large(x)
    assert large._conv is None
    scale = linear_reference(np.abs(x), np.abs(weight), np.abs(bias))
    assert relative_error(by_conv, by_blas, scale) <= 40 * ROUNDING[np.float64]


# --------------------------------------------------------------------------------------------
# joins


def conv_layer(rng, c_in, c_out, k, stride=1, padding=0, dilation=1):
    return Conv2d(rng.standard_normal((c_out, c_in, k, k)), rng.standard_normal(c_out), stride, padding, dilation)


def test_residual_and_concat_compute_their_definitions():
    rng = np.random.default_rng(1606)
    x = rng.standard_normal((2, 4, 11, 10))
    body = Sequential(conv_layer(rng, 4, 4, 3, 2, 1), ReLU(), conv_layer(rng, 4, 6, 3, 1, 1))
    shortcut = conv_layer(rng, 4, 6, 1, 2)
    residual = Residual(body, shortcut)
    assert np.array_equal(residual(x), body(x) + shortcut(x))
    identity = Residual(Sequential(conv_layer(rng, 4, 4, 3, 1, 1), ReLU()))
    assert np.array_equal(identity(x), identity.body(x) + x)
    branches = [conv_layer(rng, 4, 2, 1), conv_layer(rng, 4, 3, 5, 1, 2), MaxPool2d(3, 1, 1)]
    concat = Concat(*branches)
    assert np.array_equal(concat(x), np.concatenate([b(x) for b in branches], axis=1))
    assert concat.output_shape((2, 4, 11, 10)) == (2, 9, 11, 10)
    assert residual.parameter_count == body.parameter_count + shortcut.parameter_count


class CountingLayer:
    """ReLU that counts its calls (to show a bad join raises before anything runs)."""

    def __init__(self):
        self.calls = 0
        self.receptive_field = ReceptiveField.identity()

    def __call__(self, x):
        self.calls += 1
        return x

    def output_shape(self, shape):
        return tuple(shape)


def test_disagreeing_shapes_at_a_join_raise_before_computing():
    rng = np.random.default_rng(1607)
    counter = CountingLayer()
    residual = Residual(Sequential(counter, conv_layer(rng, 3, 5, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"join 'add'.*'body' gives \(1, 5, 8, 8\).*'input' gives \(1, 3, 8, 8\)"):
        residual.output_shape((1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"join 'add'"):
        residual(np.zeros((1, 3, 8, 8)))
    assert counter.calls == 0
    concat = Concat(counter, conv_layer(rng, 3, 2, 3))
    with pytest.raises(ValueError, match=r"join 'cat'.*'0' gives \(1, 3, 8, 8\) and '1' gives \(1, 2, 6, 6\)"):
        concat(np.zeros((1, 3, 8, 8)))
    assert counter.calls == 0


def test_join_fields_union_equal_jumps_and_alignment():
    rng = np.random.default_rng(1608)
    # 3x3 pad 1 (rows -1..1) and a 5x5 dilated pad 4 (rows -4..4): one centre, union is the larger
    aligned = Concat(conv_layer(rng, 2, 2, 3, 1, 1), conv_layer(rng, 2, 2, 5, 1, 4, 2))
    assert aligned.receptive_field.input_region(0, 0) == ((-4, 5), (-4, 5)) and aligned.receptive_field.aligned
    # ResNet-D style shortcut: 2x2/2 average pool (centre 0.5) beside a 3x3/2 pad 1 conv (centre 0)
    body = conv_layer(rng, 2, 2, 3, 2, 1)
    shortcut = Sequential(fieldconv.AvgPool2d(2, 2), conv_layer(rng, 2, 2, 1))
    misaligned = Residual(body, shortcut)
    field = misaligned.receptive_field
    assert not field.aligned and field.input_region(0, 0) == ((-1, 2), (-1, 2)) and field.jump == (2, 2)
    assert "aligned=False" in repr(field)
    # misalignment is kept downstream
    assert not Sequential(misaligned, ReLU(), conv_layer(rng, 2, 2, 3)).receptive_field.aligned
    out = io.StringIO()
    rows = Sequential(misaligned, ReLU()).summary((1, 2, 8, 8), file=out)
    assert [row.aligned for row in rows] == [True, True, True, False, False]
    assert "(0, 0) !" in out.getvalue() and "misaligned" in out.getvalue()
    with pytest.raises(ValueError, match=r"join 'cat': branches '0' \(jump \(1, 1\)\) and '1' \(jump \(2, 2\)\)"):
        Concat(conv_layer(rng, 2, 2, 3, 1, 1), conv_layer(rng, 2, 2, 3, 2, 1))
    with pytest.raises(ValueError, match=r"branches 'a' .* and 'b'"):
        join_receptive_fields([ReceptiveField(3, 1, 1), ReceptiveField(3, 2, 1)], ["a", "b"], "j")


def test_graph_with_shared_branches_and_summary():
    rng = np.random.default_rng(1609)
    stem = conv_layer(rng, 3, 4, 3, 2, 1)
    shared = conv_layer(rng, 4, 4, 3, 1, 1)
    graph = Graph(
        [
            ("stem", stem, "input"),
            ("a", shared, "stem"),
            ("relu", ReLU(), "a"),
            ("b", shared, "relu"),  # the same layer again: its parameters count once
            ("add", Add(), ("b", "stem")),
            ("cat", Cat(), ("add", "stem")),
            ("pool", AdaptiveAvgPool2d(1), "cat"),
            ("flat", Flatten(), "pool"),
            ("fc", Linear(rng.standard_normal((5, 8))), "flat"),
        ],
        input_shape=(2, 3, 12, 12),
    )
    x = rng.standard_normal((2, 3, 12, 12))
    s = stem(x)
    a = shared(ReLU()(shared(s)))
    manual = Linear(graph["fc"].layer.weight)(np.concatenate([a + s, s], 1).mean(axis=(2, 3)))
    assert np.allclose(graph(x), manual, rtol=1e-12, atol=1e-12)
    assert graph.parameter_count == stem.parameter_count + shared.parameter_count + 40
    rows = graph.summary(show=False)
    assert [row.name.split()[0] for row in rows] == [n.name for n in graph.nodes]
    assert sum(row.params for row in rows) == graph.parameter_count
    assert rows[1].macs == 2 * 4 * 6 * 6 * 4 * 9 and rows[-1].macs == 2 * 8 * 5
    fields = graph.fields()
    assert fields["b"].size == (11, 11) and fields["add"] == fields["b"]
    assert fields["fc"].input_region(0, 0) == ((-5, 16), (-5, 16))  # the whole map before pooling, padding included
    with pytest.raises(ValueError, match="receptive_field_for"):
        graph.receptive_field
    assert graph.upto("add").receptive_field == fields["add"]
    with pytest.raises(ValueError, match="reads 'nope'"):
        Graph([("a", ReLU(), "nope")])


def test_graph_fold_batch_norm_keeps_results_and_parameter_count():
    rng = np.random.default_rng(1610)
    conv = conv_layer(rng, 3, 4, 3, 1, 1)
    norm = BatchNorm2d(rng.uniform(0.5, 2, 4), rng.standard_normal(4), rng.standard_normal(4), rng.uniform(0.5, 2, 4))
    graph = Graph(
        [("conv", conv, "input"), ("bn", norm, "conv"), ("relu", ReLU(), "bn"), ("add", Add(), ("relu", "bn"))]
    )
    folded = graph.fold_batch_norm()
    # bn has two readers (relu and add) ... but conv has one: folded
    assert [n.name for n in folded.nodes] == ["conv", "relu", "add"] and folded.parameter_count == graph.parameter_count
    x = rng.standard_normal((2, 3, 6, 6))
    assert np.allclose(folded(x), graph(x), rtol=1e-12, atol=1e-12)


def record_conv_epilogues(monkeypatch):
    """(residual given, activation code) of every conv2d kernel call from now on (a Winograd call
    that declines is followed by its direct call: both are listed)."""
    epilogues = []
    for name in ("conv2d_direct", "conv2d_winograd"):
        core_call = getattr(fieldconv._core, name)

        def recording(*args, core_call=core_call, **kwargs):
            epilogues.append((kwargs.get("residual") is not None, int(kwargs.get("activation", 0))))
            return core_call(*args, **kwargs)

        monkeypatch.setattr(fieldconv._core, name, recording)
    return epilogues


@pytest.mark.parametrize("dtype", DTYPES)
def test_graph_runs_activations_and_adds_in_place_with_the_layers_results(dtype, monkeypatch):
    # A ResNet block's ReLU after a conv, Add + ReLU, a ReLU6, an Add whose input another node
    # still reads, a Dropout aliasing its input: Graph runs some of them in the memory of their
    # inputs (one pass), and must give exactly what the layers give one by one, never touching
    # the input array or a value read later.
    rng = np.random.default_rng(1612)

    def conv(c_in, c_out, k, padding):
        return Conv2d(
            rng.standard_normal((c_out, c_in, k, k)).astype(dtype), rng.standard_normal(c_out).astype(dtype), 1, padding
        )

    conv1, conv2, conv3 = conv(3, 4, 3, 1), conv(4, 4, 3, 1), conv(4, 4, 1, 0)
    graph = Graph(
        [
            ("conv1", conv1, "input"),
            ("relu1", ReLU(), "conv1"),
            ("conv2", conv2, "relu1"),
            ("add", Add(), ("conv2", "relu1")),
            ("relu2", ReLU(), "add"),
            ("drop", Dropout(0.5), "relu2"),
            ("conv3", conv3, "drop"),
            ("six", ReLU6(), "conv3"),
            ("add2", Add(), ("six", "relu2")),  # relu2 (also dropped) is still read here
            ("relu3", ReLU(), "add2"),
        ]
    )
    x = (rng.standard_normal((2, 3, 9, 9)) * 4).astype(dtype)
    x[0, 0, 1, 1] = np.nan
    before = x.copy()
    calls = []
    core_pass = fieldconv._core.add_activation
    monkeypatch.setattr(fieldconv._core, "add_activation", lambda *a: calls.append(a[2]) or core_pass(*a))
    epilogues = record_conv_epilogues(monkeypatch)
    r1 = ReLU()(conv1(x))
    r2 = ReLU()(Add()(conv2(r1), r1))
    expected = ReLU()(Add()(ReLU6()(conv3(Dropout(0.5)(r2))), r2))
    assert epilogues == [(False, 0)] * 3  # the layers one by one: no epilogue
    epilogues.clear()
    ours = graph(x)
    # relu1 in conv1's epilogue; add + relu2 in conv2's (adding relu1's value); six in conv3's;
    # add2 + relu3 in one pass (relu2's value is read by add2 and drop aliases it, so add2
    # writes into six's array)
    assert epilogues == [(False, 1), (True, 1), (False, 2)]
    assert calls == [1]
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(x, before)
    assert np.isnan(ours).any() and ours.dtype == dtype
    upto = graph.upto("relu2")  # its output node is never overwritten
    np.testing.assert_array_equal(upto(x), r2)


@pytest.mark.parametrize("last", ["conv", "flatten"])
def test_graph_reuses_convolution_buffers_but_never_what_a_caller_holds(last, rng):
    """Convolution outputs go back to the graph's buffers once read (for later nodes and calls);
    the returned array, or the buffer it views, never does: an earlier result stays as it was,
    concurrent callers get their own buffers, and the bits equal a fresh graph's."""
    import threading

    def conv(c_in, c_out, k, padding):
        weight = rng.standard_normal((c_out, c_in, k, k)).astype(np.float32)
        return Conv2d(weight, rng.standard_normal(c_out).astype(np.float32), 1, padding)

    def nodes():
        layers = [
            ("conv1", conv1, "input"),
            ("relu1", ReLU(), "conv1"),
            ("conv2", conv2, "relu1"),
            ("add", Add(), ("conv2", "relu1")),
            ("relu2", ReLU(), "add"),
            ("conv3", conv3, "relu2"),
        ]
        return layers + ([("flat", Flatten(), "conv3")] if last == "flatten" else [])

    conv1, conv2, conv3 = conv(3, 8, 3, 1), conv(8, 8, 3, 1), conv(8, 8, 1, 0)
    graph = Graph(nodes())
    x1, x2 = (rng.standard_normal((2, 3, 12, 12)).astype(np.float32) for _ in range(2))
    y1 = graph(x1)
    kept = y1.copy()
    y2 = graph(x2)
    assert graph._buffers.kept_bytes > 0
    for buffers in graph._buffers._free.values():
        assert not any(np.shares_memory(buffer, y1) or np.shares_memory(buffer, y2) for buffer in buffers)
    np.testing.assert_array_equal(y1, kept)
    np.testing.assert_array_equal(y2, Graph(nodes())(x2))  # a fresh graph: new arrays only
    np.testing.assert_array_equal(graph(x1), kept)
    results = []

    def caller():
        results.extend(graph(x1) for _ in range(5))

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20 and all(np.array_equal(result, kept) for result in results)
    copied = pickle.loads(pickle.dumps(graph))  # as dask sends it to a worker: no buffers
    assert copied._buffers.kept_bytes == 0
    np.testing.assert_array_equal(copied(x1), kept)
    graph.release_buffers()
    assert graph._buffers.kept_bytes == 0


def test_graph_adds_a_strided_branch_without_the_in_place_pass():
    # one input of the Add is a view with strides (a layer that slices): the Add is the layer's
    rng = np.random.default_rng(1614)

    class EveryOtherRow:
        receptive_field = ReceptiveField.identity()
        parameter_count = 0

        def __call__(self, x):
            return x[..., ::2, :]

        def output_shape(self, shape):
            return tuple(shape[:-2]) + ((shape[-2] + 1) // 2, shape[-1])

    conv = conv_layer(rng, 2, 2, 3, 1, 1)
    rows_by_two = Conv2d(rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(2), (2, 1), 1)
    graph = Graph(
        [
            ("conv", conv, "input"),
            ("half", EveryOtherRow(), "conv"),
            ("c2", rows_by_two, "input"),
            ("add", Add(), ("half", "c2")),  # the strided view first
        ]
    )
    x = rng.standard_normal((1, 2, 6, 5))
    np.testing.assert_array_equal(graph(x), rows_by_two(x) + conv(x)[..., ::2, :])


def test_sequential_runs_activations_in_place_only_on_fresh_outputs(monkeypatch):
    rng = np.random.default_rng(1613)
    conv = conv_layer(rng, 3, 4, 3, 1, 1)
    network = Sequential(ReLU(), conv, ReLU6(), Dropout(0.1), ReLU(), conv_layer(rng, 4, 2, 1), ReLU())
    x = rng.standard_normal((2, 3, 7, 7)) * 5
    before = x.copy()
    calls = []
    core_pass = fieldconv._core.add_activation
    monkeypatch.setattr(fieldconv._core, "add_activation", lambda *a: calls.append(a[2]) or core_pass(*a))
    epilogues = record_conv_epilogues(monkeypatch)
    ours = network(x)
    assert epilogues == [(False, 2), (False, 1)]  # in each conv's epilogue
    assert calls == []  # not on the input, not after the Dropout
    expected = x
    for layer in network:
        expected = layer(expected)
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(x, before)
    unbatched = network(x[0])  # the conv's output is then a view: computed by the layers
    np.testing.assert_array_equal(unbatched, expected[0])


def test_add_activation_core_keeps_nan_and_negative_zero_and_refuses_overlap():
    from fieldconv import _core

    y = np.array([-1.0, -0.0, np.nan, 3.0, 7.0, np.inf, -np.inf])
    _core.add_activation(y, None, 2)
    np.testing.assert_array_equal(y, [0.0, -0.0, np.nan, 3.0, 6.0, 6.0, 0.0])
    assert np.signbit(y[1])
    y = np.array([-1.0, 2.0, -3.0], np.float32)
    _core.add_activation(y, np.array([0.5, -4.0, 1.0], np.float32), 1)
    np.testing.assert_array_equal(y, [0.0, 0.0, 0.0])
    big = np.arange(300_000, dtype=np.float64) - 150_000  # several threaded chunks
    _core.add_activation(big, np.ones_like(big), 0)
    np.testing.assert_array_equal(big, np.arange(300_000) - 149_999.0)
    with pytest.raises(ValueError, match="overlap"):
        _core.add_activation(big, big, 1)
    with pytest.raises(ValueError, match="activation"):
        _core.add_activation(big, None, 3)
    with pytest.raises(TypeError):
        _core.add_activation(big, np.ones(3), 1)


def test_dask_apply_runs_graphs_and_refuses_global_operations():
    da = pytest.importorskip("dask.array")
    from fieldconv.dask import apply

    rng = np.random.default_rng(1611)
    network = Sequential(
        conv_layer(rng, 2, 4, 3, 1, 1),
        Residual(
            Sequential(conv_layer(rng, 4, 4, 3, 2, 1), ReLU(), conv_layer(rng, 4, 4, 3, 1, 1)),
            conv_layer(rng, 4, 4, 1, 2),
        ),
        Concat(conv_layer(rng, 4, 3, 1), conv_layer(rng, 4, 3, 5, 1, 2), MaxPool2d(3, 1, 1)),
        MaxPool2d(2, 2, ceil_mode=True),
        Residual(Sequential(fieldconv.AvgPool2d(2, 2), conv_layer(rng, 10, 10, 1)), conv_layer(rng, 10, 10, 3, 2, 1)),
    )
    x = rng.standard_normal((2, 2, 61, 47))
    expected = network(x)
    for chunks in [(1, 2, 9, 11), (2, 2, 30, 47), (1, 1, 61, 6)]:
        got = apply(network, da.from_array(x, chunks=chunks)).compute()
        assert got.shape == expected.shape and np.array_equal(got, expected)
    with pytest.raises(ValueError, match="layer 1 \\(AdaptiveAvgPool2d\\).*depends on the input size"):
        apply(Sequential(conv_layer(rng, 2, 2, 3), AdaptiveAvgPool2d(1)), da.from_array(x))


# --------------------------------------------------------------------------------------------
# random graphs against torch: outputs and NaN dependency sets of every node


def _random_torch_branch(nn, rng, channels):
    layers = []
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.choice(["conv", "conv", "max", "avg", "bn", "relu", "relu6"])
        if kind == "conv":
            k = int(rng.choice([1, 2, 3, 5]))
            d = int(rng.choice([1, 2])) if k > 1 else 1
            stride, padding = int(rng.choice([1, 1, 2])), int(rng.integers(0, d * (k - 1) // 2 + 2))
            layers.append(nn.Conv2d(channels, channels, k, stride, padding, d))
        elif kind in ("max", "avg"):
            k = int(rng.choice([2, 3]))
            stride, padding, ceil = int(rng.choice([1, 2])), int(rng.integers(0, k // 2 + 1)), bool(rng.integers(2))
            if kind == "max":
                layers.append(nn.MaxPool2d(k, stride, padding, int(rng.choice([1, 2])), ceil_mode=ceil))
            else:
                layers.append(nn.AvgPool2d(k, stride, padding, ceil_mode=ceil, count_include_pad=bool(rng.integers(2))))
        elif kind == "bn":
            layers.append(nn.BatchNorm2d(channels))
        else:
            layers.append(nn.ReLU() if kind == "relu" else nn.ReLU6())
    return nn.Sequential(*layers)


def random_torch_graph(seed, channels=3, size=16):
    """A random stack of chains, residual adds and channel concatenations (branches drawn until
    their output shapes agree), sometimes ending with a global-pooling head."""
    import torch
    import torch.nn as nn

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)

    class AddBlock(nn.Module):
        def __init__(self, a, b):
            super().__init__()
            self.a, self.b = a, b

        def forward(self, x):
            out = self.a(x)
            out += self.b(x)
            return out

    class CatBlock(nn.Module):
        def __init__(self, branches):
            super().__init__()
            self.branches = nn.ModuleList(branches)

        def forward(self, x):
            return torch.cat([b(x) for b in self.branches], 1)

    def jump(branch):
        total = 1
        for layer in branch:
            stride = getattr(layer, "stride", 1)
            total *= stride[0] if isinstance(stride, tuple) else stride
        return total

    def out_shape(module, shape):
        try:
            with torch.no_grad():
                return tuple(module.eval()(torch.zeros(shape)).shape)
        except RuntimeError:
            return None

    blocks, shape = [], (1, channels, size, size)
    for _ in range(int(rng.integers(2, 5))):
        kind = rng.choice(["chain", "add", "cat"])
        first = _random_torch_branch(nn, rng, shape[1])
        target = out_shape(first, shape)
        if target is None or min(target[2:]) < 2:
            continue
        if kind == "chain":
            block = first
        else:
            others = []
            for _ in range(40):
                candidate = _random_torch_branch(nn, rng, shape[1])
                if out_shape(candidate, shape) == target and jump(candidate) == jump(first):
                    others.append(candidate)
                    if kind == "add" or len(others) == 2:
                        break
            if not others:
                continue
            block = AddBlock(first, others[0]) if kind == "add" else CatBlock([first] + others)
        blocks.append(block)
        shape = out_shape(block, shape)
        if shape[1] > 6:
            blocks.append(nn.Conv2d(shape[1], channels, 1))
            shape = (1, channels) + shape[2:]
    if rng.integers(3) == 0:
        blocks += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(shape[1], 4)]
    model = nn.Sequential(*blocks).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return model


@pytest.mark.parametrize("seed", range(12))
def test_random_graph_fields_match_torch_nan_reach(seed):
    torch = pytest.importorskip("torch")
    from torch_models import check_fields_against_nan

    size = 16
    model = random_torch_graph(1700 + seed, size=size)
    graph = fieldconv.from_torch(model, (1, 3, size, size))
    x = np.random.default_rng(seed).standard_normal((2, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = graph(x)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(expected).max())))
    checked, unknown = check_fields_against_nan(graph, model, (1, 3, size, size), per_pixel=True, hole_free=False)
    assert checked == len(graph.nodes) and unknown == 0


def test_sequential_with_a_classifier_head_reports_fields_for_the_input_shape():
    rng = np.random.default_rng(1612)
    network = Sequential(
        conv_layer(rng, 3, 4, 3, 2, 1), ReLU(), AdaptiveAvgPool2d(1), Flatten(), Linear(rng.standard_normal((2, 4)))
    )
    assert network.field_depends_on_input_size
    with pytest.raises(ValueError, match="receptive_field_for"):
        network.receptive_field
    field = network.receptive_field_for((1, 3, 10, 10))
    assert field.input_region(0, 0) == ((-1, 10), (-1, 10))  # every pooled position: the whole image
    assert network.output_shape((5, 3, 10, 10)) == (5, 2)
    assert network(rng.standard_normal((5, 3, 10, 10))).shape == (5, 2)
    # uneven adaptive bins: no single field from there on, shown as "-"
    uneven = Sequential(conv_layer(rng, 3, 4, 3), AdaptiveAvgPool2d(3), ReLU())
    out = io.StringIO()
    rows = uneven.summary((1, 3, 7, 7), file=out)
    assert rows[0].rf_size == (3, 3) and rows[1].rf_size is None and rows[2].rf_size is None
    assert "no single" in out.getvalue()
    with pytest.raises(NoSingleFieldError):
        uneven.receptive_field_for((1, 3, 7, 7))


@pytest.mark.parametrize("dtype", DTYPES)
def test_smooth_activations_match_their_formulas(dtype):
    x = np.concatenate([np.linspace(-40, 40, 161), [0.0, -0.0, 1e-8, -1e-8]]).astype(dtype)
    wide = x.astype(np.float64)
    sigmoid = 1 / (1 + np.exp(-wide))
    references = {
        fieldconv.Sigmoid: sigmoid,
        fieldconv.SiLU: wide * sigmoid,
        fieldconv.Hardsigmoid: np.minimum(np.maximum(wide + 3, 0), 6) / 6,
        fieldconv.Hardswish: wide * np.minimum(np.maximum(wide + 3, 0), 6) / 6,
    }
    for layer_type, reference in references.items():
        y = layer_type()(x)
        assert y.dtype == dtype and y.shape == x.shape
        # a few roundings of values of size |x| (silu, hardswish) or 1 (sigmoid): 4 u relative to |result| + u
        assert np.all(np.abs(y - reference) <= 4 * ROUNDING[dtype] / 8 * (np.abs(reference) + 1)), layer_type


def test_upsample_matches_torch_index_rules():
    x = np.arange(12, dtype=np.float64).reshape(1, 1, 3, 4)
    nearest = fieldconv.Upsample(scale_factor=2)(x)
    assert np.array_equal(nearest[0, 0], np.repeat(np.repeat(x[0, 0], 2, 0), 2, 1))
    corners = fieldconv.Upsample(size=(5, 7), mode="bilinear", align_corners=True)(x)
    assert np.allclose(corners[0, 0, :, 0], [0, 2, 4, 6, 8]) and np.allclose(corners[0, 0, 0], np.linspace(0, 3, 7))
    half = fieldconv.Upsample(scale_factor=2, mode="bilinear")(x)
    # align_corners=False: output 1 reads source (1 + 0.5) / 2 - 0.5 = 0.25
    assert np.isclose(half[0, 0, 0, 1], 0.25) and np.isclose(half[0, 0, 0, 0], 0.0)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        fieldconv.Upsample()
    with pytest.raises(NoSingleFieldError):
        fieldconv.Upsample(scale_factor=2).receptive_field_for((1, 1, 3, 4))


def test_linear_over_a_spatial_axis_has_no_single_field_but_runs_and_summarises():
    rng = np.random.default_rng(1613)
    network = Sequential(conv_layer(rng, 2, 3, 3, 1, 1), Linear(rng.standard_normal((4, 6))))
    x = rng.standard_normal((1, 2, 5, 6))
    assert np.allclose(network(x), linear_reference(network[0](x), network[1].weight), rtol=1e-12, atol=1e-12)
    rows = network.summary((1, 2, 5, 6), show=False)
    assert rows[0].rf_size == (3, 3) and rows[1].rf_size is None and rows[1].output_shape == (1, 3, 5, 4)
    with pytest.raises(NoSingleFieldError, match="mixes the last spatial axis"):
        network.receptive_field_for((1, 2, 5, 6))


@pytest.mark.parametrize("seed", range(8))
def test_dask_apply_on_random_graphs_equals_the_whole_image(seed):
    pytest.importorskip("torch")
    da = pytest.importorskip("dask.array")
    from fieldconv.dask import apply

    model = random_torch_graph(1800 + seed, size=16)
    graph = fieldconv.from_torch(model, (1, 3, 16, 16))
    if graph.field_depends_on_input_size:  # a classifier head: tile only the trunk before it
        pools = [i for i, node in enumerate(graph.nodes) if isinstance(node.layer, AdaptiveAvgPool2d)]
        graph = graph.upto(graph.nodes[pools[0] - 1].name)
        with pytest.raises(ValueError, match="depends on the input size"):
            apply(fieldconv.from_torch(model, (1, 3, 16, 16)), da.from_array(np.zeros((1, 3, 16, 16))))
    rng = np.random.default_rng(seed)
    # branches that agree at 16x16 may disagree at other sizes (as in torch): take a size they accept
    sizes = [(h, w) for h, w in [(45, 38), (48, 40), (64, 48), (48, 48), (64, 64)] if _runs(graph, (2, 3, h, w))]
    assert sizes, "no test size fits this graph"
    x = rng.standard_normal((2, 3) + sizes[0])
    expected = graph(x)
    for _ in range(3):
        chunks = (1, 3, int(rng.integers(5, 30)), int(rng.integers(5, 30)))
        got = apply(graph, da.from_array(x, chunks=chunks)).compute()
        assert got.shape == expected.shape
        # float64 input, float32 weights: float64 arithmetic; tiles may pick other algorithms
        assert np.allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max()), chunks


def _runs(graph, shape) -> bool:
    try:
        graph.output_shape(shape)
    except ValueError:
        return False
    return True
