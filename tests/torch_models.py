"""Reference CNNs for the from_torch tests (defined in fieldconv.benchmark.torch_models, which
the whole-network benchmark uses too) and the tests' measurements on them: NaN reach, dependency
boxes. Imported only by tests that need torch.
"""

from __future__ import annotations

from fieldconv.benchmark.torch_models import (  # noqa: F401  (the tests import the models from here)
    BasicBlock,
    BasicConv2d,
    Bottleneck,
    ConvBNReLU,
    GoogLeNetStack,
    Inception,
    InvertedResidual,
    MobileNetV2,
    ResNet,
    VGG,
    conv_linear_macs,
    initialise,
    resnet18,
    resnet50,
    vgg16,
)

# --------------------------------------------------------------------------------------------
# Measurements


def nan_reach(model, input_shape, nan_masks, seed=0):
    """Which outputs of every fx node become NaN when the input pixels of one mask (all channels)
    are NaN.

    nan_masks: bool (S, H, W), one mask per sample. Returns {fx node name: bool array (S, H_out,
    W_out)} (a flat (N, F) output counts as a 1x1 map). NaN propagates through convolution, batch
    norm, ReLU, max and average pooling and sums in torch, so these are the exact dependency sets
    (gradients would miss what ReLU and max pooling block)."""
    import torch.fx

    channels = input_shape[-3]
    masks = torch.as_tensor(nan_masks)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((masks.shape[0], channels) + tuple(masks.shape[1:]), generator=generator)
    x[masks[:, None].expand_as(x)] = float("nan")
    record = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, node):
            result = super().run_node(node)
            if isinstance(result, torch.Tensor) and node.op != "placeholder" and result.dim() in (2, 4):
                nan = torch.isnan(result)
                mask = nan.any(dim=1) if result.dim() == 4 else nan.any(dim=1)[:, None, None]
                record[node.name] = mask.numpy().copy()
            return result

    with torch.no_grad():
        Recorder(torch.fx.symbolic_trace(model.eval())).run(x)
    return record


def _measured_extent(reach, positions):
    """reach: bool (S, n_out); positions: the input row (or col) of each sample. Per output: the
    first and one-past-last position that reaches it, and whether none does."""
    import numpy as np

    positions = np.asarray(positions)[:, None]
    big = np.iinfo(np.int64).max
    low = np.where(reach, positions, big).min(axis=0)
    high = np.where(reach, positions + 1, -big).max(axis=0)
    return low, high, ~reach.any(axis=0)


def _extent_matches(measured, want_low, want_high, length, hole_free):
    """Per output, whether the measured dependency extent fits the field's rows [want_low,
    want_high) (unclipped). A side inside the image must be met exactly (the field's extreme taps
    are real); a side beyond the image is cut at the border, exactly so when the network has no
    holes at its field's edges (no dilation, no stride larger than its window there)."""
    import numpy as np

    low, high, empty = measured
    clipped_empty = np.maximum(want_low, 0) >= np.minimum(want_high, length)
    low_ok = np.where(want_low >= 0, low == want_low, (low == 0) | (not hole_free))
    high_ok = np.where(want_high <= length, high == want_high, (high == length) | (not hole_free))
    filled = ~empty & ~clipped_empty & low_ok & high_ok & (low >= 0) & (high <= length)
    return np.where(empty, clipped_empty | (not hole_free), filled)


def check_fields_against_nan(graph, model, input_shape, per_pixel=True, hole_free=True):
    """Every node's field must be the box of what torch's NaN reach says each output depends on.

    A field is a box: dilation and strides larger than the kernel leave holes inside it, never
    beyond it, and its extreme rows and columns are always read. per_pixel: one sample per input
    pixel, extents per output (i, j); otherwise one sample per input row and one per column
    (H + W samples instead of H * W), extents per output row and column. hole_free: the network
    has no dilation or stride beyond its window, so the clipped field is the measured box exactly.
    Returns (nodes checked, nodes without a single field)."""
    import numpy as np

    height, width = input_shape[-2:]
    fields = graph.fields(input_shape)
    pixels = height * width
    if per_pixel:
        masks = np.zeros((pixels, height, width), dtype=bool)
        masks[np.arange(pixels), np.arange(pixels) // width, np.arange(pixels) % width] = True
    else:
        masks = np.zeros((height + width, height, width), dtype=bool)
        masks[np.arange(height), np.arange(height), :] = True
        masks[height + np.arange(width), :, np.arange(width)] = True
    reach = nan_reach(model, input_shape, masks)
    checked, unknown = 0, 0
    for name, field in fields.items():
        measured = reach[graph.traced_from[name]]
        if field is None:
            unknown += 1
            continue
        (y0, y1), (x0, x1) = field.input_region(0, 0)
        out_h, out_w = measured.shape[1:]
        row_low = y0 + field.jump[0] * np.arange(out_h)
        col_low = x0 + field.jump[1] * np.arange(out_w)
        if per_pixel:
            flat = measured.reshape(pixels, out_h * out_w)
            row_low2 = np.repeat(row_low, out_w)
            col_low2 = np.tile(col_low, out_h)
            ok = _extent_matches(
                _measured_extent(flat, np.arange(pixels) // width), row_low2, row_low2 + y1 - y0, height, hole_free
            ) & _extent_matches(
                _measured_extent(flat, np.arange(pixels) % width), col_low2, col_low2 + x1 - x0, width, hole_free
            )
        else:
            ok = np.concatenate(
                [
                    _extent_matches(
                        _measured_extent(measured[:height].any(axis=2), np.arange(height)),
                        row_low,
                        row_low + y1 - y0,
                        height,
                        hole_free,
                    ),
                    _extent_matches(
                        _measured_extent(measured[height:].any(axis=1), np.arange(width)),
                        col_low,
                        col_low + x1 - x0,
                        width,
                        hole_free,
                    ),
                ]
            )
        if not ok.all():
            raise AssertionError(
                f"node {name}: field {field} is not the box of torch's NaN reach for outputs "
                f"{np.flatnonzero(~ok)[:8].tolist()} (flattened)"
            )
        checked += 1
    return checked, unknown
