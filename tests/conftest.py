"""Shared fixtures: both kernel families (ISA), thread count restored after each test."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import fieldconv
from fieldconv import _core

ISAS = ("generic", "avx2", "avx512")


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
    for marker in ("skip_xp_backends", "xfail_xp_backends", "slow", "fail_slow", "thread_unsafe",
                   "parallel_threads", "array_api_backends", "xfail_on_32bit"):
        config.addinivalue_line("markers", f"{marker}: used by SciPy's test modules (test_scipy_suite.py)")


@pytest.fixture(params=ISAS)
def isa(request):
    """Runs the test once per kernel family ("generic", "avx2", "avx512"), restoring the previous one."""
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
