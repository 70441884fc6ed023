"""Shared fixtures: both kernel families (ISA), thread count restored after each test."""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest

import fieldconv
from fieldconv import _core

# Every ISA of the kernel list (csrc/kernels/kernel_list.inc), portable first.
ISAS = tuple(isa for _, isa in sorted({(entry["isa_rank"], entry["isa"]) for entry in _core.kernel_list()}))


# The dtype names the SciPy drop-ins accept (scipy.signal's; ndimage takes bool too) and
# ndimage's modes, shared by the drop-in tests and their fuzzing.
SIGNAL_DTYPES = [
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "complex64",
    "complex128",
]
NDIMAGE_DTYPES = ["bool"] + SIGNAL_DTYPES
NDIMAGE_MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant", "grid-wrap"]


# A forked child that starts threads: ThreadSanitizer aborts such a child after a
# multi-threaded fork, so these tests skip under .ci/sanitize tsan.
fork_child_starts_threads = pytest.mark.skipif(
    not hasattr(os, "fork") or os.environ.get("FIELDCONV_SANITIZER") == "tsan",
    reason="needs os.fork, and ThreadSanitizer aborts a child that starts threads after a multi-threaded fork",
)


if os.environ.get("FIELDCONV_SANITIZER") == "tsan":
    # torch, a reference here, runs its own OpenMP threads through libgomp, which ThreadSanitizer
    # cannot see synchronise (reports of races inside libtorch): one thread for it.
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def isa_supported(name: str) -> bool:
    previous = _core.get_isa()
    try:
        _core.set_isa(name)
    except ValueError:
        return False
    finally:
        _core.set_isa(previous)
    return True


def pytest_configure(config):
    # markers of SciPy's own test modules, run by test_scipy_suite.py
    for marker in (
        "skip_xp_backends",
        "xfail_xp_backends",
        "slow",
        "fail_slow",
        "thread_unsafe",
        "parallel_threads",
        "array_api_backends",
        "xfail_on_32bit",
    ):
        config.addinivalue_line("markers", f"{marker}: used by SciPy's test modules (test_scipy_suite.py)")


def supported_isas(family: str | None = None) -> list:
    """The ISAs this CPU runs, portable first; with `family`, only those with an entry of their own
    for that kernel family (others run the entry of an ISA below them)."""
    own = {entry["isa"] for entry in _core.kernel_list() if family is None or entry["family"] == family}
    return [name for name in ISAS if name in own and isa_supported(name)]


@pytest.fixture(params=ISAS)
def isa(request):
    """Runs the test once per ISA of the kernel list ("generic", "avx2", "avx512"), restoring the previous one."""
    name = request.param
    if not isa_supported(name):
        pytest.skip(f"this CPU (or build) has no {name} kernels")
    previous = _core.get_isa()
    _core.set_isa(name)
    assert fieldconv.get_isa() == name
    try:
        yield name
    finally:
        _core.set_isa(previous)


@pytest.fixture(autouse=True)
def _restore_threads():
    """Tests may change the process-wide thread count; put it back afterwards."""
    threads = fieldconv.get_num_threads()
    yield
    fieldconv.set_num_threads(threads)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id, so every parametrisation gets its own stable data."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


def pytest_terminal_summary(terminalreporter):
    """Says which entries of the kernel list (test_kernel_list.py) ran against the reference and
    which were skipped, and why: on a CPU without AVX-512 the avx512 entries cannot run."""
    outcomes = {}
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if "test_kernel_list.py::test_entry_matches_reference[" in nodeid and report.when in ("setup", "call"):
                entry = nodeid.rsplit("[", 1)[1].rstrip("]")
                reason = report.longrepr[2] if outcome == "skipped" and isinstance(report.longrepr, tuple) else ""
                outcomes[entry] = (outcome, reason.removeprefix("Skipped: "))
    if not outcomes:
        return
    terminalreporter.section("kernel list entries")
    for outcome in ("passed", "failed", "skipped"):
        entries = sorted(entry for entry, (result, _) in outcomes.items() if result == outcome)
        if entries:
            terminalreporter.write_line(f"{outcome} against the reference: {', '.join(entries)}")
    for entry, (result, reason) in sorted(outcomes.items()):
        if result == "skipped":
            terminalreporter.write_line(f"  {entry}: {reason}")
