"""Layer objects: parameters + forward, callable on arrays (the layer protocol)."""
from __future__ import annotations

import threading

import numpy as np

from . import _core, _params
from .functional import run_conv2d
from .receptive_field import ReceptiveField, window_receptive_field


class Conv2d:
    """A convolution layer with fixed weights, as ``fieldconv.conv2d`` with these arguments.

    The weight and bias are copied at construction (later changes to the caller's arrays have
    no effect) and packed once per dtype for the direct kernel. Safe to call from several
    threads at once.
    """

    def __init__(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, algorithm="auto"):
        self._geometry = _params.conv2d_geometry(stride, padding, dilation, groups)
        self.algorithm = _params.conv2d_algorithm(algorithm) and algorithm
        weight_array = _params.conv2d_weight(weight)
        out_channels, in_per_group = weight_array.shape[:2]
        if out_channels % self._geometry.groups:
            raise ValueError(f"groups={self._geometry.groups} must divide out_channels (weight.shape[0] = {out_channels})")
        self.weight = np.array(weight_array, order="C", copy=True)
        self.weight.flags.writeable = False
        bias_array = _params.conv2d_bias(bias, out_channels)
        self.bias = None
        if bias_array is not None:
            self.bias = np.array(bias_array, dtype=self.weight.dtype, copy=True)
            self.bias.flags.writeable = False
        self.in_channels = in_per_group * self._geometry.groups
        self.out_channels = out_channels
        self._packed = {}
        self._lock = threading.Lock()
        self._packed_weights(self.weight.dtype)

    # Hyper-parameters as given (normalised)
    @property
    def kernel_size(self):
        return tuple(int(v) for v in self.weight.shape[2:])

    @property
    def stride(self):
        return self._geometry.stride

    @property
    def dilation(self):
        return self._geometry.dilation

    @property
    def groups(self):
        return self._geometry.groups

    @property
    def padding(self):
        """(top, bottom, left, right), with "same" resolved."""
        return self._geometry.resolved_padding(self.kernel_size)

    @property
    def parameter_count(self) -> int:
        return int(self.weight.size + (0 if self.bias is None else self.bias.size))

    @property
    def receptive_field(self) -> ReceptiveField:
        top, _, left, _ = self.padding
        return window_receptive_field(self.kernel_size, self.stride, self.dilation, (top, left))

    def _packed_weights(self, dtype):
        dtype = np.dtype(dtype)
        packed = self._packed.get(dtype)
        if packed is None:
            with self._lock:
                packed = self._packed.get(dtype)
                if packed is None:
                    packed = _core.PackedConv2dWeights(_params.contiguous(self.weight, dtype), self.groups)
                    self._packed[dtype] = packed
        return packed

    def __call__(self, x):
        call = _params.conv2d_call(x, self.weight, self.bias, self._geometry)
        return run_conv2d(call, self._packed_weights(call.dtype))

    def output_shape(self, input_shape):
        """Shape of self(x) for x of shape input_shape ((N, C, H, W) or (C, H, W))."""
        shape = tuple(int(v) for v in input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"input_shape must be (N, C, H, W) or (C, H, W), got {input_shape!r}")
        full = shape if len(shape) == 4 else (1,) + shape
        out = _params.conv2d_output_shape(full, self.weight.shape, self._geometry)
        return out if len(shape) == 4 else out[1:]

    def __repr__(self):
        return (
            f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
            f"bias={self.bias is not None}, dtype={self.weight.dtype})"
        )
