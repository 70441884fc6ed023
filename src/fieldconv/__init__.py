"""fieldconv: fast CPU 2-D convolution and pooling for NumPy, with receptive fields."""
from ._version import __version__
from ._runtime import get_cmake_dir, get_include, get_isa, get_num_threads, set_num_threads, show_config
from .functional import conv2d
from .layers import Conv2d
from .functional import avg_pool2d, max_pool2d
from .layers import AvgPool2d, MaxPool2d
from .receptive_field import ReceptiveField
from .signal import convolve2d, correlate2d
from .numeric import convolve, correlate
from . import ndimage
# Receptive fields (API.md section 3). The function fieldconv.receptive_field shadows the
# submodule of the same name; keep this import after every import that loads that submodule.
from .functional import relu
from .layers import ReLU, Sequential, SummaryRow
from .plot import plot_receptive_field
from .receptive_field import receptive_field

__all__ = [
    "__version__",
    "conv2d",
    "Conv2d",
    "ReceptiveField",
    "get_cmake_dir",
    "get_include",
    "get_isa",
    "get_num_threads",
    "set_num_threads",
    "show_config",
    "correlate2d",
    "convolve2d",
    "convolve",
    "correlate",
    "ndimage",
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
]
