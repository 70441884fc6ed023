"""SciPy's (and NumPy's) own tests, run against fieldconv's drop-ins.

The installed SciPy's test modules are loaded afresh (a private copy, so nothing leaks into
SciPy) and their module-level names are rebound to fieldconv's functions: ``convolve2d`` and
``correlate2d`` (bound at import by ``from scipy.signal import ...``), and ``signal`` / ``ndimage``
(attribute access), which become namespaces that route the drop-in names to fieldconv and
everything else to SciPy. SciPy's ``xp`` fixture is replaced by the NumPy backend only.

NumPy's TestConvolve / TestCorrelate (numpy/_core/tests/test_numeric.py) run
the same way with the module's ``np`` routing ``convolve`` / ``correlate`` to fieldconv's.

Only the classes and tests of the functions fieldconv replaces are collected. A test is marked
xfail only where it hits a deviation listed in docs/scipy-deviations.md.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys
import types

import numpy as np
import pytest

scipy = pytest.importorskip("scipy")
import scipy.ndimage  # noqa: E402, F811
import scipy.signal  # noqa: E402
from scipy._lib import _array_api  # noqa: E402

import fieldconv  # noqa: E402
import fieldconv.ndimage  # noqa: E402

SIGNAL_NAMES = {"convolve2d": fieldconv.convolve2d, "correlate2d": fieldconv.correlate2d}
NDIMAGE_NAMES = {name: getattr(fieldconv.ndimage, name) for name in fieldconv.ndimage.__all__}


def _routed(module: types.ModuleType, names: dict) -> types.ModuleType:
    """A module object whose attributes are fieldconv's for `names`, SciPy's for the rest."""
    routed = types.ModuleType(module.__name__)

    def __getattr__(attribute):
        return getattr(module, attribute)

    routed.__getattr__ = __getattr__
    for name, function in names.items():
        setattr(routed, name, function)
    return routed


def _substitutes():
    return [(getattr(scipy.signal, name), function) for name, function in SIGNAL_NAMES.items()] + [
        (getattr(scipy.ndimage, name), function) for name, function in NDIMAGE_NAMES.items()
    ]


def _load_scipy_tests(package: str, filename: str, rebind: dict, patch: list) -> types.ModuleType | None:
    """Executes SciPy's test module with `patch` ((object, attribute, value) triples) in force, so
    that names bound at import (``from scipy.signal import convolve2d``, ``from scipy import
    ndimage``, parametrize lists of functions) are fieldconv's; SciPy itself is restored after."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    tests_dir = pathlib.Path(list(spec.submodule_search_locations)[0])
    path = tests_dir / filename
    if not path.exists():
        return None
    name = f"{package}._fieldconv_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    saved = [(owner, attribute, getattr(owner, attribute)) for owner, attribute, _ in patch]
    # make_xp_test_case looks functions up in SciPy's capabilities table: ours get SciPy's entries
    table = getattr(_array_api, "xp_capabilities_table", {})
    added = [ours for scipy_function, ours in _substitutes() if scipy_function in table and ours not in table]
    for scipy_function, ours in _substitutes():
        if ours in added:
            table[ours] = table[scipy_function]
    try:
        for owner, attribute, value in patch:
            setattr(owner, attribute, value)
        spec.loader.exec_module(module)
    except ImportError:  # a test dependency (e.g. hypothesis) is missing
        return None
    finally:
        for owner, attribute, value in saved:
            setattr(owner, attribute, value)
        for ours in added:
            del table[ours]
    for attribute, value in rebind.items():
        setattr(module, attribute, value)
    return module


_routed_signal = _routed(scipy.signal, SIGNAL_NAMES)
_routed_ndimage = _routed(scipy.ndimage, NDIMAGE_NAMES)
_signal_tests = _load_scipy_tests(
    "scipy.signal.tests",
    "test_signaltools.py",
    {**SIGNAL_NAMES, "signal": _routed_signal},
    [(scipy.signal, name, function) for name, function in SIGNAL_NAMES.items()] + [(scipy, "signal", _routed_signal)],
)
_filter_tests = _load_scipy_tests(
    "scipy.ndimage.tests", "test_filters.py", {"ndimage": _routed_ndimage}, [(scipy, "ndimage", _routed_ndimage)]
)


def _backend_named(marker, backend: str) -> bool:
    return backend in marker.args


@pytest.fixture
def xp(request):
    """SciPy's `xp` fixture, NumPy backend only (honours skip/xfail markers naming "numpy").
    Tests SciPy marks slow run only with FIELDCONV_SLOW_TESTS=1."""
    if request.node.get_closest_marker("slow") and os.environ.get("FIELDCONV_SLOW_TESTS") != "1":
        pytest.skip("marked slow by SciPy (set FIELDCONV_SLOW_TESTS=1 to run it)")
    for kind in ("skip", "xfail"):
        for marker in request.node.iter_markers(f"{kind}_xp_backends"):
            if _backend_named(marker, "numpy"):
                getattr(pytest, kind)(reason=marker.kwargs.get("reason", f"{kind} on numpy in SciPy"))
    return np


@pytest.fixture
def num_parallel_threads():
    """pytest-run-parallel's fixture, which SciPy's tests use: one thread here."""
    return 1


def _select(cls, keep):
    """A subclass of SciPy's test class collecting only the tests for which keep(name) holds."""
    if cls is None:
        return None
    dropped = {name: None for name in dir(cls) if name.startswith("test") and not keep(name)}
    return type(cls.__name__, (cls,), dropped)


def _xfail(cls, reasons: dict):
    """Marks the named tests of cls xfail (strict: a fixed deviation must lose its mark)."""
    for name, reason in reasons.items():
        function = getattr(cls, name)
        setattr(cls, name, pytest.mark.xfail(reason=reason, strict=True)(function))
    return cls


if _signal_tests is not None:
    TestConvolve2d = _select(_signal_tests.TestConvolve2d, lambda name: True)
    TestCorrelate2d = _select(
        _signal_tests.TestCorrelate2d,
        lambda name: (
            "correlate2d" in name
            or name in ("test_invalid_shapes", "test_complex_input", "test_consistency_correlate_funcs_2")
        ),
    )


_NDIMAGE_TESTS = (
    "test_correlate",
    "test_convolve",
    "test_filter_axes",
    "test_filter_invalid_axes",
    "test_filter_weights_subset",
    "test_filter_tuple_length",
    "test_filter_invalid_footprint",
    "test_derivative_filter_axes",
    "test_filter_axes_kwargs",
    "test_gauss",
    "test_uniform",
    "test_prewitt",
    "test_sobel",
    "test_laplace",
    "test_gaussian_laplace",
    "test_gaussian_gradient_magnitude",
    "test_extend",
)
_NDIMAGE_FUNCTIONS = (
    "test_ticket_701",
    "test_gh_5430",
    "test_gaussian_kernel1d",
    "test_orders_gauss",
    "test_valid_origins",
    "test_bad_convolve_and_correlate_origins",
    "test_multiple_modes",
    "test_gaussian_truncate",
    "test_gaussian_radius",
    "test_gaussian_filter_axes",
    "test_uniform_filter",
    "test_gaussian_filter",
)

if _filter_tests is not None:
    TestNdimageFilters = _select(_filter_tests.TestNdimageFilters, lambda name: name.startswith(_NDIMAGE_TESTS))
    TestThreading = _select(
        _filter_tests.TestThreading,
        lambda name: name in ("test_correlate1d", "test_correlate", "test_uniform_filter1d"),
    )
    for _name in dir(_filter_tests):
        if _name.startswith(_NDIMAGE_FUNCTIONS) and callable(getattr(_filter_tests, _name)):
            globals()[_name] = getattr(_filter_tests, _name)


# NumPy's own tests of numpy.convolve / numpy.correlate
_NUMPY_NAMES = {"convolve": fieldconv.convolve, "correlate": fieldconv.correlate}
_numeric_tests = _load_scipy_tests("numpy._core.tests", "test_numeric.py", {"np": _routed(np, _NUMPY_NAMES)}, [])
if _numeric_tests is not None:
    TestNumpyConvolve = _select(_numeric_tests.TestConvolve, lambda name: True)
    TestNumpyCorrelate = _select(_numeric_tests.TestCorrelate, lambda name: True)
