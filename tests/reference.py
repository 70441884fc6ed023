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
    scale = conv2d_reference(
        np.abs(np.asarray(x, np.float64)),
        np.abs(np.asarray(weight, np.float64)),
        None if bias is None else np.abs(np.asarray(bias, np.float64)),
        **conv_args,
    )
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
        ratio = np.where(
            plane_scale > 0,
            plane_error / np.where(plane_scale > 0, plane_scale, 1.0),
            np.where(plane_error > 0, np.inf, 0.0),
        )
    return float(ratio.max())


# ============================================================================================
# pooling (max_pool2d, avg_pool2d), as PyTorch


def pool_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's pooling_output_shape for one axis."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        outputs = -(-span // stride) + 1  # ceil division
        if (outputs - 1) * stride >= size + padding:  # the last window must start inside the input or left padding
            outputs -= 1
    else:
        outputs = span // stride + 1
    return outputs


def _window_positions(out_index, size, kernel, stride, padding, dilation):
    """Input positions of one window along an axis, the padding ones left out."""
    start = out_index * stride - padding
    return [start + k * dilation for k in range(kernel) if 0 <= start + k * dilation < size]


def _first_in_range(out_index, stride, padding, dilation):
    """PyTorch's `while (start < 0) start += dilation`: the window's first position at or after 0."""
    start = out_index * stride - padding
    while start < 0:
        start += dilation
    return start


def max_pool2d_reference(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Returns (values, indices) as torch.nn.functional.max_pool2d(..., return_indices=True).

    Each window is scanned row by row; the result is the first maximum, or the last NaN if the
    window holds one; a window whose elements are all -inf (or that holds none) reports -inf and
    the index of its first in-range row and column.
    """
    x = np.asarray(x)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[np.newaxis]
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    n, c, h, w = x.shape
    out_h = pool_output_size(h, kh, sh, ph, dh, ceil_mode)
    out_w = pool_output_size(w, kw, sw, pw, dw, ceil_mode)
    values = np.empty((n, c, out_h, out_w), dtype=x.dtype)
    indices = np.empty((n, c, out_h, out_w), dtype=np.int64)
    for oh in range(out_h):
        rows = _window_positions(oh, h, kh, sh, ph, dh)
        for ow in range(out_w):
            cols = _window_positions(ow, w, kw, sw, pw, dw)
            if not rows or not cols:  # the window holds padding only (possible with dilation)
                values[:, :, oh, ow] = -np.inf
                indices[:, :, oh, ow] = _first_in_range(oh, sh, ph, dh) * w + _first_in_range(ow, sw, pw, dw)
                continue
            # the window's elements in scan order (rows, then columns) and their flat indices
            window = x[:, :, rows, :][:, :, :, cols].reshape(n, c, len(rows) * len(cols))  # n may be 0
            flat = (np.array(rows)[:, None] * w + np.array(cols)[None, :]).reshape(-1)
            is_nan = np.isnan(window)
            last_nan = window.shape[-1] - 1 - np.argmax(is_nan[..., ::-1], axis=-1)
            first_max = np.argmax(np.where(is_nan, -np.inf, window), axis=-1)  # first occurrence
            chosen = np.where(is_nan.any(axis=-1), last_nan, first_max)
            values[:, :, oh, ow] = np.take_along_axis(window, chosen[..., np.newaxis], axis=-1)[..., 0]
            indices[:, :, oh, ow] = flat[chosen]
    if unbatched:
        return values[0], indices[0]
    return values, indices


def avg_pool2d_reference(
    x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """As torch.nn.functional.avg_pool2d, summing in float64 (result in x's dtype)."""
    x = np.asarray(x)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[np.newaxis]
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    n, c, h, w = x.shape
    out_h = pool_output_size(h, kh, sh, ph, 1, ceil_mode)
    out_w = pool_output_size(w, kw, sw, pw, 1, ceil_mode)
    result = np.empty((n, c, out_h, out_w), dtype=x.dtype)
    for oh in range(out_h):
        for ow in range(out_w):
            row0, col0 = oh * sh - ph, ow * sw - pw
            # the window clipped to the padded input (count_include_pad) or to the input
            row1, col1 = min(row0 + kh, h + ph), min(col0 + kw, w + pw)
            inside = x[:, :, max(row0, 0) : min(row1, h), max(col0, 0) : min(col1, w)].astype(np.float64)
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:
                divisor = (row1 - row0) * (col1 - col0)
            else:
                divisor = inside.shape[2] * inside.shape[3]
            with np.errstate(invalid="ignore"):  # inf - inf is NaN, as intended
                result[:, :, oh, ow] = inside.sum(axis=(2, 3)) / divisor
    return result[0] if unbatched else result


# --------------------------------------------------------------------------------------------
# SciPy drop-ins: 2-D filtering with border rules, float64 (complex128) sums.


def border_index(mode: str, x: int, n: int) -> int:
    """Input index of coordinate x along an axis of length n, or -1 for the fill value.
    mode: 'constant', 'nearest', 'reflect' (edge repeated, scipy.signal 'symm'), 'mirror', 'wrap'."""
    if 0 <= x < n:
        return x
    if mode == "constant":
        return -1
    if mode == "nearest":
        return 0 if x < 0 else n - 1
    if mode == "wrap":
        return x % n
    if mode == "reflect":
        k = x % (2 * n)
        return 2 * n - 1 - k if k >= n else k
    if mode == "mirror":
        if n == 1:
            return 0
        k = x % (2 * n - 2)
        return 2 * n - 2 - k if k >= n else k
    raise ValueError(mode)


def correlate2d_reference(image, kernel, out_shape, row_offset, col_offset, mode="constant", fill=0.0):
    """out[i, j] = sum_{r, c} kernel[r, c] * ext[i + row_offset + r, j + col_offset + c]."""
    image = np.asarray(image)
    kernel = np.asarray(kernel)
    dtype = np.complex128 if (image.dtype.kind == "c" or kernel.dtype.kind == "c") else np.float64
    out = np.zeros(out_shape, dtype=dtype)
    height, width = image.shape
    for i in range(out_shape[0]):
        for j in range(out_shape[1]):
            total = dtype(0)
            for r in range(kernel.shape[0]):
                y = border_index(mode, i + row_offset + r, height)
                for c in range(kernel.shape[1]):
                    x = border_index(mode, j + col_offset + c, width)
                    value = fill if (y < 0 or x < 0) else image[y, x]
                    total += kernel[r, c] * value
            out[i, j] = total
    return out


def correlate_nd_reference(image, kernel, offsets, mode="constant", fill=0.0):
    """out[i] = sum_t kernel[t] * ext[i + offsets + t] over every N-D tap t (i, offsets and t
    vectors of coordinates; ext reads border_index along each axis), in float64."""
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    out = np.zeros(image.shape)
    for tap in np.ndindex(kernel.shape):
        index = [
            np.array([border_index(mode, i + o + t, n) for i in range(n)], dtype=np.int64)
            for n, o, t in zip(image.shape, offsets, tap)
        ]
        values = image[np.ix_(*[np.maximum(ix, 0) for ix in index])]
        outside = np.zeros(image.shape, dtype=bool)
        for axis, ix in enumerate(index):
            shape = [1] * image.ndim
            shape[axis] = -1
            outside |= (ix < 0).reshape(shape)
        out += kernel[tap] * np.where(outside, fill, values)
    return out


# ============================================================================================
# graph layers: batch norm, adaptive average pooling, linear, clamps


def batch_norm2d_reference(x, weight, bias, running_mean, running_var, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (axis -3), in float64, as the
    formula in torch.nn.BatchNorm2d's documentation (eval mode); weight/bias None: 1 and 0."""
    x = np.asarray(x, dtype=np.float64)
    channels = x.shape[-3]
    weight = np.ones(channels) if weight is None else np.asarray(weight, dtype=np.float64)
    bias = np.zeros(channels) if bias is None else np.asarray(bias, dtype=np.float64)
    out = np.empty_like(x)
    for c in range(channels):
        denominator = np.sqrt(float(running_var[c]) + eps)
        out[..., c, :, :] = (x[..., c, :, :] - float(running_mean[c])) / denominator * weight[c] + bias[c]
    return out


def adaptive_avg_pool2d_reference(x, output_size):
    """torch's adaptive average pooling, bin by bin: output i averages input rows
    [floor(i * H / out), ceil((i + 1) * H / out)), likewise columns; float64."""
    x = np.asarray(x, dtype=np.float64)
    height, width = x.shape[-2:]
    out_h, out_w = _pair(output_size)
    out = np.empty(x.shape[:-2] + (out_h, out_w))
    for i in range(out_h):
        y0, y1 = (i * height) // out_h, -((-(i + 1) * height) // out_h)
        for j in range(out_w):
            x0, x1 = (j * width) // out_w, -((-(j + 1) * width) // out_w)
            out[..., i, j] = x[..., y0:y1, x0:x1].sum(axis=(-2, -1)) / ((y1 - y0) * (x1 - x0))
    return out


def linear_reference(x, weight, bias=None):
    """y[..., o] = sum_i x[..., i] * weight[o, i] + bias[o], one output at a time, float64."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    out = np.empty(x.shape[:-1] + (weight.shape[0],))
    for o in range(weight.shape[0]):
        out[..., o] = (x * weight[o]).sum(axis=-1) + (0.0 if bias is None else float(bias[o]))
    return out


def relu6_reference(x):
    """min(max(x, 0), 6) elementwise, NaN kept, -0.0 kept (values are replaced only when below 0
    or above 6), as torch.nn.ReLU6."""
    x = np.array(x, dtype=np.float64)
    flat = x.reshape(-1)
    for k, value in enumerate(flat):
        if value < 0:
            flat[k] = 0.0
        elif value > 6:
            flat[k] = 6.0
    return x
