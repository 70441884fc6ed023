"""Thread count, kernel family and build configuration."""
from __future__ import annotations

import os
import sys
import warnings

from . import _core, _params
from ._version import __version__


def set_num_threads(n: int) -> None:
    """Threads every kernel uses from now on, whichever Python thread calls it (n >= 1)."""
    _core.set_num_threads(_params.thread_count(n))


def get_num_threads() -> int:
    """Threads the kernels use: OMP_NUM_THREADS if set, else the CPUs available to the process."""
    return int(_core.get_num_threads())


def get_isa() -> str:
    """Kernel family in use: "avx512", "avx2" or "generic" (FIELDCONV_ISA=avx2 or generic forces one)."""
    return str(_core.get_isa())


def show_config(file=None) -> None:
    """Prints version, kernel family, threads, OpenMP runtime and compiler."""
    lines = [
        f"fieldconv {__version__}",
        f"  ISA:       {get_isa()}",
        f"  threads:   {get_num_threads()}",
        f"  OpenMP:    {_core.openmp_description()}",
        f"  compiler:  {_core.compiler_description()}",
        f"  python:    {sys.version.split()[0]}",
    ]
    print("\n".join(lines), file=file or sys.stdout)


def _warn_if_isa_request_unmet() -> None:
    """FIELDCONV_ISA asks for a family this CPU (or build) lacks: the kernels fall back to the
    portable ones rather than crash, and the user is told so once, at import."""
    requested = os.environ.get("FIELDCONV_ISA", "")
    if requested and requested != get_isa():
        warnings.warn(f"FIELDCONV_ISA={requested!r} is not a kernel family this CPU and build support "
                      f"('generic', and 'avx2' or 'avx512' where the CPU has them); using {get_isa()!r}",
                      RuntimeWarning, stacklevel=3)


_warn_if_isa_request_unmet()

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def get_include() -> str:
    """Folder holding the public C++ headers (``#include <fieldconv/conv2d.hpp>``)."""
    installed = os.path.join(_PACKAGE_DIR, "include")
    if os.path.isdir(installed):
        return installed
    # editable install: the headers of the source tree
    return os.path.join(os.path.dirname(os.path.dirname(_PACKAGE_DIR)), "csrc", "include")


def get_cmake_dir() -> str:
    """Folder holding fieldconvConfig.cmake: ``find_package(fieldconv)`` with this on CMAKE_PREFIX_PATH
    (or ``-Dfieldconv_DIR=...``) gives the target ``fieldconv::fieldconv``."""
    return os.path.join(_PACKAGE_DIR, "lib", "cmake", "fieldconv")
