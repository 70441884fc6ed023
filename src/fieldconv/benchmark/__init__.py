"""``python -m fieldconv bench``: fieldconv against its peers, measured in the same process.

Design
------
A *workload* (``Workload``) is one problem: an operation kind (``"conv2d"``), its shapes and
hyper-parameters, and whether the default run includes it. An *implementation*
(``Implementation``) knows how to run one kind: ``prepare(workload, arrays, threads)`` returns a
zero-argument callable (set-up such as weight packing happens there, outside the timing) or
raises ``Unavailable`` with the reason shown in the table. ``WORKLOADS`` and ``IMPLEMENTATIONS``
are registries: later work adds pooling or filter workloads (a new kind with its own
implementations) or a Winograd implementation next to the direct one by adding entries, e.g.::

    register_workload(conv_workload("vgg-3x3-64@224-winograd", ...))
    register_implementation("conv2d", Implementation("fieldconv winograd", prepare_winograd, ours=True))

Measurement: every implementation of a workload is warmed up, then all are timed in
interleaved rounds (round r times each implementation once, in turn, starting with a different
one each round), so slow drifts of this
shared, noisy machine hit all of them alike; a round repeats fast calls until ~5 ms have passed
and records the time per call, after a 20 ms pause that lets the previous implementation's
spinning thread pool go idle and one untimed call that wakes this one's threads. The table shows the median over rounds, GFLOP/s from the
workload's nominal operation count, the percentage of the machine's FMA peak for the
instruction set of fieldconv's active kernels (derivation printed with the table) and each implementation's time relative to the first "ours" entry.
The package: registry (workloads, implementations), one module of workloads per op (conv2d,
pool2d, filter2d; drop_ins: N-D ndimage, gaussian_filter, numpy.convolve), whole networks (networks, with the torch models of torch_models), peers
(torch's set-up), timing (peak, interleaved rounds), report (tables) and cli.
"""

from __future__ import annotations

import importlib  # noqa: F401  (tests patch importlib.util.find_spec through this module)

from . import conv2d, drop_ins, filter2d, networks, pool2d  # noqa: F401  (register their workloads)
from .cli import add_arguments, main, run, select_workloads
from .conv2d import (
    conv_arrays,
    conv_flops,
    conv_output_size,
    conv_workload,
    im2col_conv2d,
    prepare_fieldconv_algorithm,
    prepare_fieldconv_direct,
    prepare_numpy_im2col,
    prepare_scipy,
    prepare_torch,
    scipy_conv2d,
    scipy_estimate_seconds,
)
from .filter2d import filter_arrays, filter_workload
from .networks import network_workload
from .peers import SCIPY_LIMIT_SECONDS, configure_torch_isa, import_torch, torch_description
from .pool2d import pool_arrays, pool_workload, prepare_fieldconv_pool, prepare_torch_pool
from .registry import (
    ARRAY_FACTORIES,
    FLOP_COUNTS,
    IMPLEMENTATIONS,
    WORKLOADS,
    Implementation,
    Unavailable,
    Workload,
    register_implementation,
    register_kind,
    register_workload,
)
from .report import format_summary, format_workload_table
from .timing import Peak, Result, load_warning, measure_peak, run_workload, time_call
