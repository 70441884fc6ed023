"""Plain NumPy references, written for clarity, never for speed (float64 throughout)."""
from __future__ import annotations

import numpy as np


def _pair(value):
    return (value, value) if np.ndim(value) == 0 else tuple(value)


def _quad(padding):
    """int, (ph, pw) or (top, bottom, left, right) -> (top, bottom, left, right)."""
    if np.ndim(padding) == 0:
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[0], padding[1], padding[1])
    return tuple(padding)


def conv2d_reference(x, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """Cross-correlation as torch.nn.functional.conv2d, in float64.

    x: (N, C, H, W) or (C, H, W); weight: (C_out, C // groups, kh, kw); padding: int, (ph, pw) or
    (top, bottom, left, right). Padded positions are zeros that are really multiplied (so an Inf
    weight meeting padding gives NaN, as in PyTorch). One einsum per kernel tap and group.
    """
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[np.newaxis]
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    top, bottom, left, right = _quad(padding)
    n, c, h, w = x.shape
    c_out, c_in_per_group, kh, kw = weight.shape
    assert c == c_in_per_group * groups and c_out % groups == 0
    padded = np.zeros((n, c, h + top + bottom, w + left + right))
    padded[:, :, top : top + h, left : left + w] = x
    out_h = (padded.shape[2] - dh * (kh - 1) - 1) // sh + 1
    out_w = (padded.shape[3] - dw * (kw - 1) - 1) // sw + 1
    assert out_h > 0 and out_w > 0, "kernel larger than the padded input"
    y = np.zeros((n, c_out, out_h, out_w))
    c_out_per_group = c_out // groups
    for g in range(groups):
        inputs = padded[:, g * c_in_per_group : (g + 1) * c_in_per_group]
        weights = weight[g * c_out_per_group : (g + 1) * c_out_per_group]
        for a in range(kh):
            for b in range(kw):
                # input rows a*dh, a*dh + sh, ...: the tap (a, b) of every output position
                taps = inputs[:, :, a * dh : a * dh + sh * (out_h - 1) + 1 : sh, b * dw : b * dw + sw * (out_w - 1) + 1 : sw]
                y[:, g * c_out_per_group : (g + 1) * c_out_per_group] += np.einsum("nchw,oc->nohw", taps, weights[:, :, a, b])
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64)[np.newaxis, :, np.newaxis, np.newaxis]
    return y[0] if unbatched else y
