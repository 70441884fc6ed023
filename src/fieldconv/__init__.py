"""fieldconv: fast CPU 2-D convolution and pooling for NumPy, with receptive fields."""

from ._version import __version__
from ._runtime import get_cmake_dir, get_include, get_isa, get_num_threads, set_num_threads, show_config, threads
from .functional import conv2d, conv2d_algorithm_for
from .layers import Conv2d
from .functional import avg_pool2d, max_pool2d
from .layers import AvgPool2d, MaxPool2d
from ._receptive_field import ReceptiveField, receptive_field
from .signal import convolve2d, correlate2d
from .numeric import convolve, correlate
from . import ndimage
from .routing import drop_in
from .functional import relu
from .layers import ReLU, Sequential, SummaryRow
from .layers import AdaptiveAvgPool2d, BatchNorm2d, Dropout, Flatten, Identity, Linear, ReLU6
from .layers import Hardsigmoid, Hardswish, Sigmoid, SiLU, Upsample
from .graph import Concat, Graph, Residual
from ._torch_fx import from_torch
from .plot import plot_receptive_field
from . import _threadpoolctl

_threadpoolctl.register()

__all__ = [
    "__version__",
    "conv2d",
    "conv2d_algorithm_for",
    "Conv2d",
    "ReceptiveField",
    "get_cmake_dir",
    "get_include",
    "get_isa",
    "get_num_threads",
    "set_num_threads",
    "show_config",
    "threads",
    "correlate2d",
    "convolve2d",
    "convolve",
    "correlate",
    "ndimage",
    "drop_in",
    "relu",
    "ReLU",
    "Sequential",
    "SummaryRow",
    "receptive_field",
    "plot_receptive_field",
    "max_pool2d",
    "avg_pool2d",
    "MaxPool2d",
    "AvgPool2d",
    "BatchNorm2d",
    "Residual",
    "Concat",
    "Graph",
    "AdaptiveAvgPool2d",
    "Flatten",
    "Linear",
    "ReLU6",
    "Dropout",
    "Identity",
    "from_torch",
    "Sigmoid",
    "SiLU",
    "Hardswish",
    "Hardsigmoid",
    "Upsample",
]
