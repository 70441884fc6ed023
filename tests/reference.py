"""Plain NumPy references, float64, written for clarity and never for speed.

Each reference is independent of fieldconv (no import of it) so that a bug shared by the package
and its tests cannot hide. Other areas append their own sections below.
"""
from __future__ import annotations

import numpy as np

# ============================================================================================
# conv2d


def _pair(value):
    if isinstance(value, (tuple, list)):
        assert len(value) == 2
        return int(value[0]), int(value[1])
    return int(value), int(value)


def conv2d_padding(padding, kernel_size, dilation=(1, 1)):
    """(top, bottom, left, right) for padding given as an int, (h, w), 4-tuple, "valid" or "same".

    "same" (stride 1): total padding dilation * (k - 1) per axis, the odd extra row/column going
    to the bottom/right, as PyTorch does.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        assert padding == "same"
        dh, dw = _pair(dilation)
        total_h = dh * (kernel_size[0] - 1)
        total_w = dw * (kernel_size[1] - 1)
        return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(int(p) for p in padding)
    ph, pw = _pair(padding)
    return (ph, ph, pw, pw)


def conv2d_reference(x, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """Cross-correlation as torch.nn.functional.conv2d, in float64.

    x: (N, C, H, W) or unbatched (C, H, W); weight: (C_out, C // groups, kH, kW); bias: (C_out,)
    or None. stride, dilation: int or pair; padding: anything conv2d_padding accepts.
    Explicit zero padding, then one tensordot per kernel tap: out[n, o, i, j] +=
    sum_c xpad[n, c, i*sh + a*dh, j*sw + b*dw] * w[o, c, a, b]. Zeros in the padding are really
    multiplied, so an Inf weight meeting padding gives NaN (as the peers do).
    """
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[np.newaxis]
    n, c_in, height, width = x.shape
    c_out, c_in_group, kh, kw = weight.shape
    assert c_in == c_in_group * groups and c_out % groups == 0
    c_out_group = c_out // groups
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    top, bottom, left, right = conv2d_padding(padding, (kh, kw), (dh, dw))

    padded = np.zeros((n, c_in, height + top + bottom, width + left + right))
    padded[:, :, top : top + height, left : left + width] = x
    out_h = (padded.shape[2] - (dh * (kh - 1) + 1)) // sh + 1
    out_w = (padded.shape[3] - (dw * (kw - 1) + 1)) // sw + 1
    assert out_h >= 1 and out_w >= 1, "kernel larger than the padded input"

    out = np.zeros((n, c_out, out_h, out_w))
    for g in range(groups):
        x_group = padded[:, g * c_in_group : (g + 1) * c_in_group]
        w_group = weight[g * c_out_group : (g + 1) * c_out_group]
        for a in range(kh):
            for b in range(kw):
                rows = slice(a * dh, a * dh + sh * (out_h - 1) + 1, sh)
                cols = slice(b * dw, b * dw + sw * (out_w - 1) + 1, sw)
                window = x_group[:, :, rows, cols]  # (n, c_in_group, out_h, out_w)
                # einsum (not BLAS): plain multiply-adds, so 0 * inf = nan exactly where it occurs
                out[:, g * c_out_group : (g + 1) * c_out_group] += np.einsum(
                    "nchw,oc->nohw", window, w_group[:, :, a, b], optimize=False
                )
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[np.newaxis, :, np.newaxis, np.newaxis]
    return out[0] if unbatched else out


def conv2d_error(y, x, weight, bias=None, **conv_args):
    """The stated error metric of a conv2d result y against the float64 reference.

    Per (n, c_out) output plane: max |y - reference| divided by the largest value of
    conv(|x|, |w|) + |b| over that plane (the size of the terms being summed, so the metric is
    the rounding error relative to what the summation can be expected to keep). Returns the
    largest ratio over all planes (0.0 for an empty output). Non-finite values are compared by
    the caller; here they must match exactly.
    """
    reference = conv2d_reference(x, weight, bias, **conv_args)
    scale = conv2d_reference(np.abs(np.asarray(x, np.float64)), np.abs(np.asarray(weight, np.float64)),
                             None if bias is None else np.abs(np.asarray(bias, np.float64)), **conv_args)
    y = np.asarray(y, dtype=np.float64)
    assert y.shape == reference.shape, (y.shape, reference.shape)
    if y.size == 0:
        return 0.0
    if y.ndim == 3:
        y, reference, scale = y[np.newaxis], reference[np.newaxis], scale[np.newaxis]
    finite = np.isfinite(reference)
    assert np.array_equal(np.isnan(y), np.isnan(reference)), "NaN positions differ"
    assert np.array_equal(np.isinf(y) & (y > 0), np.isposinf(reference)), "+Inf positions differ"
    assert np.array_equal(np.isinf(y) & (y < 0), np.isneginf(reference)), "-Inf positions differ"
    difference = np.where(finite, np.abs(y - np.where(finite, reference, 0.0)), 0.0)
    plane_error = difference.max(axis=(2, 3))
    plane_scale = np.where(np.isfinite(scale), scale, 0.0).max(axis=(2, 3))
    # An all-zero plane must be exactly zero: any difference there counts as infinitely large.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(plane_scale > 0, plane_error / np.where(plane_scale > 0, plane_scale, 1.0),
                         np.where(plane_error > 0, np.inf, 0.0))
    return float(ratio.max())
