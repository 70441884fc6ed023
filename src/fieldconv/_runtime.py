"""Thread count, kernel family and build configuration."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import IO, Iterator, Optional

from . import _core, _params
from ._version import __version__


def set_num_threads(n: int) -> None:
    """Sets the process-wide thread budget: all fieldconv calls running at once, from any Python
    threads, together use at most ``n`` threads (1 <= n <= 1024). Each call takes only the threads
    its work is worth."""
    _set(_params.thread_count(n), "set_num_threads")


def get_num_threads() -> int:
    """The process-wide thread budget: OMP_NUM_THREADS if set, else the CPUs this process may use
    (its affinity mask and cgroup CPU quota), unless changed by set_num_threads, ``threads`` or
    threadpoolctl. A forked child keeps the count (its helper threads start anew)."""
    return int(_core.get_num_threads())


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """``with fieldconv.threads(n):`` sets the process-wide thread budget to ``n`` for the block
    and restores the previous budget afterwards (like threadpoolctl's ``threadpool_limits``, it
    applies to calls from every thread while the block runs)."""
    count = _params.thread_count(n)
    previous_count = int(_core.get_num_threads_setting())
    previous_source = str(_core.num_threads_source())
    _set(count, "fieldconv.threads")
    try:
        yield
    finally:
        _core.set_num_threads(previous_count, previous_source)


def _set(n: int, source: str) -> None:
    _core.set_num_threads(n, source)


def get_isa() -> str:
    """Kernel family in use: "avx512", "avx2" or "generic" (FIELDCONV_ISA=avx2 or generic forces one)."""
    return str(_core.get_isa())


# Which kernel family serves each public op (csrc/kernels/kernel_list.inc lists the families).
_OP_KERNELS = (
    ("conv2d direct (and 1x1, depthwise)", "conv2d_direct"),
    ("conv2d winograd_f2/f4/f6", "winograd"),
    ("max_pool2d, avg_pool2d", "pool2d"),
    ("signal 2-D, ndimage N-D, numeric", "filter2d"),
    ("ndimage 1-D and separable filters", "correlate1d"),
    ("numeric convolve/correlate FFTs", "fft_correlate"),
)


def show_config(file: Optional[IO[str]] = None) -> None:
    """Prints version, kernel family, threads (and where the count came from), OpenMP runtime,
    compiler and the kernel of every op."""
    source = str(_core.num_threads_source())
    threads_line = f"{get_num_threads()} (from {source}"
    threads_line += f"; CPU affinity {int(_core.affinity_cpu_count())}"
    quota = int(_core.cgroup_cpu_limit("/proc/self/cgroup", "/sys/fs/cgroup"))
    threads_line += f", cgroup CPU quota {quota})" if quota else ", no cgroup CPU quota)"
    choice = _core.kernel_choice()
    lines = [
        f"fieldconv {__version__}",
        f"  ISA:       {get_isa()}",
        f"  threads:   {threads_line}",
        f"  OpenMP:    {_core.openmp_description()}",
        f"  compiler:  {_core.compiler_description()}",
        "  kernels:   (op: kernel family and the ISA of the entry that runs)",
        *(f"    {op + ':':<40} {family} {choice[family]}" for op, family in _OP_KERNELS),
        f"  python:    {sys.version.split()[0]}",
    ]
    print("\n".join(lines), file=file or sys.stdout)


def _warn_if_isa_request_unmet() -> None:
    """FIELDCONV_ISA asks for a family this CPU (or build) lacks: the kernels fall back to the
    portable ones rather than crash, and the user is told so once, at import."""
    requested = os.environ.get("FIELDCONV_ISA", "")
    if requested and requested != get_isa():
        warnings.warn(
            f"FIELDCONV_ISA={requested!r} is not a kernel family this CPU and build support "
            f"('generic', and 'avx2' or 'avx512' where the CPU has them); using {get_isa()!r}",
            RuntimeWarning,
            stacklevel=3,
        )


_warn_if_isa_request_unmet()

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# Where the build installed _core, the headers and the CMake package: the package folder, or
# in an editable install the build's own install tree.
_BINARY_DIR = os.path.dirname(os.path.abspath(_core.__file__))


def get_include() -> str:
    """Folder holding the public C++ headers (``#include <fieldconv/conv2d.hpp>``)."""
    for folder in (_PACKAGE_DIR, _BINARY_DIR):
        installed = os.path.join(folder, "include")
        if os.path.isdir(installed):
            return installed
    # an editable install built without its install step: the headers of the source tree
    return os.path.join(os.path.dirname(os.path.dirname(_PACKAGE_DIR)), "csrc", "include")


def get_cmake_dir() -> str:
    """Folder holding fieldconvConfig.cmake: ``find_package(fieldconv)`` with this on CMAKE_PREFIX_PATH
    (or ``-Dfieldconv_DIR=...``) gives the target ``fieldconv::fieldconv``."""
    return os.path.join(_BINARY_DIR, "lib", "cmake", "fieldconv")
