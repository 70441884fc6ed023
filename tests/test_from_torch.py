"""fieldconv.from_torch on reference CNNs written in torch (tests/torch_models.py) and on the
patterns torch.fx tracing produces.

Tolerance of whole networks. The composed magnitude scale (every layer on |x| with |weights|)
is vacuous for deep random networks: it grows like sqrt(K) per layer (about 1e20 for ResNet-18),
so it bounds nothing. The models are initialised so that activations stay of order 1 (He
weights, batch norm calibrated on a random batch), and each of the L convolution/linear layers
adds a rounding error of order sqrt(K) * u relative to its output (K products per output,
random-walk accumulation: Higham, Accuracy and Stability, 2nd ed., section 3.4); batch-normed
layers pass relative errors on with gain about 1. So max|y - torch| <= L * sqrt(K_max) * u *
max|torch|, with u = 2**-24 (float32) or 2**-53 (float64): 2.2e-4 for ResNet-50 in float32,
while the measured errors are 1e-6 to 2e-5.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import fieldconv  # noqa: E402
from fieldconv import Graph  # noqa: E402

import torch_models  # noqa: E402
from torch_models import check_fields_against_nan, conv_linear_macs, initialise  # noqa: E402

UNIT_ROUNDOFF = {np.float32: 2.0**-24, np.float64: 2.0**-53}

MODELS = {
    # name: (builder, test image size)
    "resnet18": (torch_models.resnet18, 64),
    "resnet50": (torch_models.resnet50, 64),
    "vgg16": (torch_models.vgg16, 32),
    "mobilenet_v2": (torch_models.MobileNetV2, 64),
    "googlenet": (torch_models.GoogLeNetStack, 64),
}


@pytest.fixture(scope="module")
def converted():
    """name -> (torch model, fieldconv graph, image size), built once per module."""
    cache = {}

    def get(name):
        if name not in cache:
            builder, size = MODELS[name]
            torch.manual_seed(16)
            model = initialise(builder(), 16, size)
            cache[name] = (model, fieldconv.from_torch(model, (1, 3, size, size)), size)
        return cache[name]

    return get


def error_bound(model, dtype):
    """L * sqrt(K_max) * u (module docstring) for the model's convolution and linear layers."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    products = max(m.in_features if isinstance(m, nn.Linear) else m.weight[0].numel() for m in layers)
    return len(layers) * math.sqrt(products) * UNIT_ROUNDOFF[dtype]


@pytest.mark.parametrize("name", list(MODELS))
def test_reference_models_match_torch_at_batch_1_and_8(name, converted):
    model, graph, size = converted(name)
    bound = error_bound(model, np.float32)
    folded = graph.fold_batch_norm()
    assert len(folded.nodes) < len(graph.nodes) or name == "vgg16"
    for batch in (1, 8):
        x = np.random.default_rng(batch).standard_normal((batch, 3, size, size)).astype(np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        for network in (graph, folded):
            y = network(x)
            assert y.shape == expected.shape == (batch, 1000) and y.dtype == np.float32
            assert np.max(np.abs(y - expected)) <= bound * np.max(np.abs(expected))
        if batch == 8:  # the outputs really depend on the input
            assert np.std(expected, axis=0).mean() > 1e-2 * np.abs(expected).max()


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "googlenet"])
def test_reference_models_in_float64(name):
    builder, size = MODELS[name]
    torch.manual_seed(17)
    model = initialise(builder(), 17, size).double()
    graph = fieldconv.from_torch(model, (3, size, size))
    x = np.random.default_rng(17).standard_normal((2, 3, size, size))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    y = graph(x)
    assert y.dtype == np.float64
    assert np.max(np.abs(y - expected)) <= error_bound(model, np.float64) * np.max(np.abs(expected))


@pytest.mark.parametrize("name", list(MODELS))
def test_parameter_count_and_macs_are_torchs(name, converted):
    model, graph, size = converted(name)
    torch_count = sum(p.numel() for p in model.parameters())
    assert graph.parameter_count == torch_count
    assert graph.fold_batch_norm().parameter_count == torch_count
    rows = graph.summary(show=False)
    assert sum(row.params for row in rows) == torch_count
    assert sum(row.macs for row in rows) == conv_linear_macs(model, (1, 3, size, size))
    assert len(rows) == len(graph.nodes)


def test_published_mac_figures_at_224():
    """conv and linear multiply-adds: ResNet-50 about 4.1 G, ResNet-18 1.8 G, MobileNet v2 0.30 G,
    VGG-16 15.5 G, from shapes only (summary uses output_shape; nothing is computed)."""
    expected = {"resnet50": 4.1e9, "resnet18": 1.8e9, "mobilenet_v2": 0.30e9, "vgg16": 15.5e9}
    for name, figure in expected.items():
        builder = MODELS[name][0]
        model = builder(num_classes=1000, hidden=64) if name == "vgg16" else builder()
        graph = fieldconv.from_torch(model.eval(), (1, 3, 224, 224))
        macs = sum(row.macs for row in graph.summary(show=False))
        assert macs == conv_linear_macs(model, (1, 3, 224, 224))
        # VGG-16 is built with 64 hidden units (not 4096) to stay light; add the difference back
        hidden_correction = (
            0 if name != "vgg16" else ((25088 * 4096 + 4096 * 4096 + 4096 * 1000) - (25088 * 64 + 64 * 64 + 64 * 1000))
        )
        assert round((macs + hidden_correction) / figure, 2) == pytest.approx(1.0, abs=0.02), (name, macs)


def test_summary_names_rows_by_module_path(converted):
    model, graph, size = converted("resnet18")
    out = io.StringIO()
    rows = graph.summary(file=out)
    names = [row.name for row in rows]
    assert names[0] == "conv1 Conv2d" and "layer1.0.relu@1 ReLU" in names and "layer1.0.add Add" in names
    assert "layer2.0.downsample.0 Conv2d" in names and names[-1] == "fc Linear"
    text = out.getvalue()
    assert f"Total params: {graph.parameter_count:,}" in text and "RF size" in text
    fields = graph.fields()
    assert fields["layer4.1.relu@1"].jump == (32, 32) and fields["layer4.1.relu@1"].size == (435, 435)
    assert all(field.aligned for field in fields.values())
    # the whole input after global pooling
    (y0, y1), (x0, x1) = fields["fc"].input_region(0, 0)
    assert y0 <= 0 and y1 >= size and x0 <= 0 and x1 >= size


@pytest.mark.parametrize(
    "name, size", [("resnet18", 32), ("resnet50", 32), ("vgg16", 32), ("mobilenet_v2", 32), ("googlenet", 32)]
)
def test_every_node_field_matches_torch_nan_reach(name, size, converted):
    model, _, _ = converted(name)
    graph = fieldconv.from_torch(model, (1, 3, size, size))
    checked, unknown = check_fields_against_nan(graph, model, (1, 3, size, size), per_pixel=False)
    assert checked + unknown == len(graph.nodes)
    # VGG at 32x32: features end at 1x1 and the (7, 7) adaptive pool repeats that pixel: no
    # single field from there on (avgpool, view and the 7 classifier nodes)
    assert unknown == (9 if name == "vgg16" else 0)


def test_misaligned_shortcut_is_marked():
    class Block(nn.Module):  # ResNet-D: the shortcut averages 2x2 before its 1x1 convolution
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, 2, 1)
            self.pool = nn.AvgPool2d(2, 2)
            self.proj = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return self.conv(x) + self.proj(self.pool(x))

    graph = fieldconv.from_torch(Block(), (1, 4, 8, 8))
    fields = graph.fields()
    assert fields["conv"].aligned and not fields["add"].aligned
    assert fields["add"].input_region(0, 0) == ((-1, 2), (-1, 2))
    out = io.StringIO()
    graph.summary(file=out)
    assert "add Add" in out.getvalue() and " !" in out.getvalue() and "misaligned" in out.getvalue()


# --------------------------------------------------------------------------------------------
# what tracing produces


class Patterns(nn.Module):
    """+=, a reused module, F.* and torch functions, methods, and the flatten idioms."""

    def __init__(self, flatten: str):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, groups=1)
        self.grouped = nn.Conv2d(4, 4, 3, padding=1, groups=2, bias=False)
        self.weight = nn.Parameter(torch.randn(4, 4, 1, 1))
        self.bn_weight = nn.Parameter(torch.rand(4) + 0.5)
        self.bn_bias = nn.Parameter(torch.randn(4))
        self.register_buffer("mean", torch.randn(4))
        self.register_buffer("var", torch.rand(4) + 0.5)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.3)
        self.fc_weight = nn.Parameter(torch.randn(5, 4 * 2 * 2 * 2))
        self.flatten = flatten

    def forward(self, x):
        y = self.act(self.conv(x))
        y = self.act(self.grouped(y))  # the same ReLU again
        z = F.conv2d(y, self.weight, None, 1, 0)
        z = F.batch_norm(z, self.mean, self.var, self.bn_weight, self.bn_bias, False, 0.1, 1e-3)
        z += y
        z = F.hardtanh(z, 0.0, 6.0)
        z = torch.clamp(z, 0, 6).relu().contiguous()
        z = z.add(F.relu6(y))
        z = F.max_pool2d(z, 2, ceil_mode=True)
        z = F.avg_pool2d(z, 3, 2, 1, count_include_pad=False)
        z = torch.cat([z, F.adaptive_avg_pool2d(z, 2)], 1)
        z = F.dropout(self.drop(z), 0.5, self.training)
        if self.flatten == "view":
            z = z.view(z.size(0), -1)
        elif self.flatten == "reshape":
            z = z.reshape(z.shape[0], -1)
        elif self.flatten == "method":
            z = z.flatten(1)
        else:
            z = torch.flatten(z, 1)
        return F.linear(z, self.fc_weight)


@pytest.mark.parametrize("flatten", ["view", "reshape", "method", "function"])
def test_traced_patterns_convert_and_match(flatten):
    torch.manual_seed(18)
    model = Patterns(flatten).train()  # from_torch traces in eval mode and restores the flags
    graph = fieldconv.from_torch(model, (3, 7, 7))
    assert model.training and model.drop.training
    names = [node.name for node in graph.nodes]
    assert "act" in names and "act@1" in names and "add" in names and "add@1" in names
    assert sum(isinstance(node.layer, fieldconv.ReLU) for node in graph.nodes) == 3
    assert graph.parameter_count == sum(p.numel() for p in model.parameters())
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 7, 7)).astype(np.float32)
        with torch.no_grad():
            expected = model.eval()(torch.from_numpy(x)).numpy()
        y = graph(x)
        assert y.shape == expected.shape == (batch, 5)
        assert np.max(np.abs(y - expected)) <= 1e-5 * np.max(np.abs(expected))


def test_flatten_default_start_dim_is_zero():
    class FlattenAll(nn.Module):
        def forward(self, x):
            return torch.flatten(F.relu(x))

    graph = fieldconv.from_torch(FlattenAll(), (2, 3, 4, 4))
    x = np.random.default_rng(19).standard_normal((2, 3, 4, 4)).astype(np.float32)
    assert graph(x).shape == (96,) == tuple(torch.flatten(torch.from_numpy(x)).shape)


def test_unsupported_nodes_are_named():
    class WithTanh(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = nn.Tanh()

        def forward(self, x):
            return self.gate(x)

    with pytest.raises(TypeError, match=r"node 'gate' \(op call_module, target gate\).*module type Tanh"):
        fieldconv.from_torch(WithTanh(), (1, 3, 4, 4))

    class Difference(nn.Module):
        def forward(self, x):
            return x - torch.tanh(x)

    with pytest.raises(TypeError, match=r"node 'tanh' \(op call_function, target torch.tanh\)"):
        fieldconv.from_torch(Difference(), (1, 3, 4, 4))

    class Scaled(nn.Module):
        def forward(self, x):
            return x * 2

    with pytest.raises(TypeError, match=r"node 'mul' \(op call_function, target operator.mul\).*the constant 2"):
        fieldconv.from_torch(Scaled(), (1, 3, 4, 4))

    class BatchCat(nn.Module):
        def forward(self, x):
            return torch.cat([x, x])

    with pytest.raises(ValueError, match="dim=0 is not supported"):
        fieldconv.from_torch(BatchCat(), (1, 3, 4, 4))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        fieldconv.from_torch(lambda x: x, (1, 3, 4, 4))
    with pytest.raises(ValueError, match="input_shape"):
        fieldconv.from_torch(nn.ReLU(), (3, 4))


def test_dask_apply_on_a_converted_trunk_and_refusal_of_the_head():
    da = pytest.importorskip("dask.array")
    from fieldconv.dask import apply

    torch.manual_seed(20)
    model = initialise(torch_models.resnet18(), 20, 32)
    trunk = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2)
    graph = fieldconv.from_torch(trunk, (1, 3, 64, 64))
    x = np.random.default_rng(20).standard_normal((1, 3, 72, 56)).astype(np.float32)
    expected = graph(x)
    got = apply(graph, da.from_array(x, chunks=(1, 3, 40, 24))).compute()
    assert np.array_equal(got, expected)
    with pytest.raises(ValueError, match="depends on the input size"):
        apply(fieldconv.from_torch(model, (1, 3, 32, 32)), da.from_array(x))


def test_graph_is_a_layer_inside_a_sequential():
    torch.manual_seed(21)
    block = torch_models.BasicBlock(4, 4).eval()
    graph = fieldconv.from_torch(block, (1, 4, 8, 8))
    assert isinstance(graph, Graph) and graph.receptive_field.size == (5, 5)
    network = fieldconv.Sequential(graph, fieldconv.ReLU(), graph)
    x = np.random.default_rng(21).standard_normal((2, 4, 8, 8)).astype(np.float32)
    with torch.no_grad():
        expected = block(torch.relu(block(torch.from_numpy(x)))).numpy()
    assert np.max(np.abs(network(x) - expected)) <= 1e-5 * np.max(np.abs(expected))
    rows = network.summary((2, 4, 8, 8), show=False)
    assert rows[0].name == "0.conv1 Conv2d" and rows[-1].rf_size == (9, 9)


# --------------------------------------------------------------------------------------------
# beyond the five: ResNeXt, squeeze-excitation with SiLU/Hardswish/sigmoid, upsampling


class ResNeXtBlock(nn.Module):
    """ResNeXt-50's 32x4d bottleneck: a grouped 3x3 convolution (32 groups)."""

    def __init__(self, channels=64, width=128, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=32, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x
        return self.relu(out)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, squeezed, gate):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        self.gate = gate

    def forward(self, x):
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = self.gate(self.fc2(F.relu(self.fc1(scale))))
        return x * scale


class MobileNetV3Block(nn.Module):
    """Inverted residual with Hardswish and a hard-sigmoid squeeze-excitation gate."""

    def __init__(self, channels=16, expanded=64):
        super().__init__()
        self.expand = nn.Sequential(
            nn.Conv2d(channels, expanded, 1, bias=False), nn.BatchNorm2d(expanded), nn.Hardswish()
        )
        self.depthwise = nn.Sequential(
            nn.Conv2d(expanded, expanded, 5, 1, 2, groups=expanded, bias=False),
            nn.BatchNorm2d(expanded),
            nn.Hardswish(),
        )
        self.se = SqueezeExcitation(expanded, 16, nn.Hardsigmoid())
        self.project = nn.Sequential(nn.Conv2d(expanded, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x):
        return x + self.project(self.se(self.depthwise(self.expand(x))))


class EfficientNetBlock(nn.Module):
    """EfficientNet-B0's MBConv: SiLU, and a sigmoid gate from x.mean((2, 3), keepdim=True)."""

    def __init__(self, channels=16, expanded=96):
        super().__init__()
        self.expand = nn.Conv2d(channels, expanded, 1, bias=False)
        self.bn0 = nn.BatchNorm2d(expanded)
        self.depthwise = nn.Conv2d(expanded, expanded, 3, 1, 1, groups=expanded, bias=False)
        self.bn1 = nn.BatchNorm2d(expanded)
        self.reduce = nn.Conv2d(expanded, 4, 1)
        self.restore = nn.Conv2d(4, expanded, 1)
        self.project = nn.Conv2d(expanded, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.silu(self.bn0(self.expand(x)))
        out = nn.functional.silu(self.bn1(self.depthwise(out)))
        gate = torch.sigmoid(self.restore(F.silu(self.reduce(out.mean((2, 3), keepdim=True)))))
        out = out.mul(gate)
        return self.bn2(self.project(out)) + x


class Upsampling(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        y = self.up(F.relu(self.conv(x)))
        z = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        w = F.interpolate(F.max_pool2d(y, 3), size=(14, 14), mode="bilinear", align_corners=True)
        v = F.interpolate(F.max_pool2d(y, 3), size=(14, 14), mode="nearest")
        return torch.cat([F.max_pool2d(z, 2), w, v], 1)


@pytest.mark.parametrize(
    "build, size", [(ResNeXtBlock, 16), (MobileNetV3Block, 16), (EfficientNetBlock, 16), (Upsampling, 7)]
)
def test_blocks_beyond_the_five_match_torch(build, size):
    torch.manual_seed(22)
    model = build()
    channels = 3 if build is Upsampling else (64 if build is ResNeXtBlock else 16)
    if build is not Upsampling:
        model = initialise(_InputAdapter(model, channels), 22, size).block
    graph = fieldconv.from_torch(model.eval(), (1, channels, size, size))
    assert graph.parameter_count == sum(p.numel() for p in model.parameters())
    for batch in (1, 8):
        x = np.random.default_rng(batch).standard_normal((batch, channels, size, size)).astype(np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        y = graph(x)
        assert y.shape == expected.shape
        # a handful of layers, at most 128 * 9 / 32 + 128 products each: well inside 10 * sqrt(K) * u
        bound = 10 * math.sqrt(1024) * UNIT_ROUNDOFF[np.float32]
        assert np.max(np.abs(y - expected)) <= bound * np.max(np.abs(expected))
    fields = graph.fields()
    if build in (MobileNetV3Block, EfficientNetBlock):  # the gate is broadcast: no single field from the product on
        product = [node.name for node in graph.nodes if isinstance(node.layer, fieldconv.graph.Mul)][0]
        assert fields[product] is None and fields[graph.output] is None
        rows = graph.summary(show=False)
        assert any(row.rf_size is None for row in rows) and rows[0].rf_size == (1, 1)
    if build is Upsampling:
        assert fields["conv"].size == (3, 3) and fields["up"] is None


class _InputAdapter(nn.Module):
    """Wraps a block so initialise() can calibrate it on an input of the block's channel count."""

    def __init__(self, block, channels):
        super().__init__()
        self.block = block
        self.adapt = nn.Conv2d(3, channels, 1)

    def forward(self, x):
        return self.block(self.adapt(x))


def test_fold_batch_norm_at_conversion_keeps_torchs_count(converted):
    model, graph, size = converted("googlenet")
    folded = fieldconv.from_torch(model, (1, 3, size, size), fold_batch_norm=True)
    assert not any(isinstance(node.layer, fieldconv.BatchNorm2d) for node in folded.nodes)
    assert folded.parameter_count == graph.parameter_count == sum(p.numel() for p in model.parameters())
    assert set(folded.traced_from) == {node.name for node in folded.nodes}
    x = np.random.default_rng(23).standard_normal((2, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(folded(x) - expected)) <= error_bound(model, np.float32) * np.max(np.abs(expected))
    assert [row.name for row in folded.summary(show=False)][:2] == ["conv1.conv Conv2d", "conv1.relu ReLU"]


def test_more_module_and_function_spellings():
    class Spellings(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3, padding="same")
            self.clamp = nn.Hardtanh(0.0, 6.0)
            self.keep = nn.Identity()
            self.flat = nn.Flatten()

        def forward(self, x):
            y = self.clamp(self.conv(x))
            return self.flat(torch.add(self.keep(y), torch.relu(y)))

    torch.manual_seed(24)
    model = Spellings().eval()
    graph = fieldconv.from_torch(model, (2, 5, 6))
    assert [type(node.layer).__name__ for node in graph.nodes] == [
        "Conv2d",
        "ReLU6",
        "Identity",
        "ReLU",
        "Add",
        "Flatten",
    ]
    x = np.random.default_rng(24).standard_normal((3, 2, 5, 6)).astype(np.float32) * 4
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(graph(x) - expected)) <= 1e-5 * np.max(np.abs(expected))

    class OtherClamp(nn.Module):
        def __init__(self):
            super().__init__()
            self.clamp = nn.Hardtanh()

        def forward(self, x):
            return self.clamp(x)

    with pytest.raises(TypeError, match=r"node 'clamp' \(op call_module.*clamp to \[-1.0, 1.0\]"):
        fieldconv.from_torch(OtherClamp(), (1, 2, 4, 4))
