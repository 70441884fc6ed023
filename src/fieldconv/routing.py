"""Routes a whole program's SciPy and NumPy convolutions to fieldconv, and back.

``with fieldconv.drop_in():`` replaces the functions fieldconv provides drop-ins for in the
``scipy.signal``, ``scipy.ndimage`` and ``numpy`` namespaces, and puts SciPy's and NumPy's back
on exit. Code that looks the names up at call time (``ndimage.gaussian_filter(...)``,
``scipy.signal.convolve2d(...)``, ``np.convolve(...)``, as scikit-image does) then runs
fieldconv. A name bound before the block (``from scipy.ndimage import gaussian_filter``) keeps
SciPy's function: patch that module's own name, or call fieldconv directly.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from typing import Dict, Iterator, List, Tuple

from . import ndimage, numeric, signal

__all__ = ["drop_in", "ROUTES"]

# The peer namespace each drop-in module stands in for; every name in that module's __all__ is routed.
_DROP_IN_MODULES = {"scipy.signal": signal, "scipy.ndimage": ndimage, "numpy": numeric}

# (module, name) -> the fieldconv function that replaces it, as "fieldconv module:name"
ROUTES: Dict[Tuple[str, str], str] = {
    (peer, name): f"{ours.__name__}:{name}" for peer, ours in _DROP_IN_MODULES.items() for name in ours.__all__
}

_lock = threading.Lock()
_depth = 0
_saved: List[Tuple[object, str, object]] = []  # (module, name, original) of the outermost block


def _resolve(target: str):
    module_name, name = target.split(":")
    return getattr(importlib.import_module(module_name), name)


@contextlib.contextmanager
def drop_in(*, scipy: bool = True, numpy: bool = True) -> Iterator[List[str]]:
    """Within the block, SciPy's (``scipy=True``) and NumPy's (``numpy=True``) convolution
    functions are fieldconv's; yields the names replaced, as ``"scipy.ndimage.gaussian_filter"``.

    The swap is process-wide (module attributes, seen by every thread) and nests: an inner block
    changes nothing, the outermost one restores the originals, also when the block raises. A
    package that is not installed is skipped. fieldconv's own fallbacks keep calling NumPy's
    functions, never themselves.
    """
    global _depth
    if not isinstance(scipy, bool) or not isinstance(numpy, bool):
        raise TypeError(f"drop_in: scipy and numpy must be True or False, got scipy={scipy!r}, numpy={numpy!r}")
    with _lock:
        _depth += 1
        if _depth == 1:
            for (module_name, name), target in ROUTES.items():
                package = module_name.split(".")[0]
                if (package == "scipy" and not scipy) or (package == "numpy" and not numpy):
                    continue
                try:
                    module = importlib.import_module(module_name)
                except ImportError:
                    continue
                _saved.append((module, name, getattr(module, name)))
                setattr(module, name, _resolve(target))
        replaced = [f"{module.__name__}.{name}" for module, name, _ in _saved]
    try:
        yield replaced
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for module, name, original in reversed(_saved):
                    setattr(module, name, original)
                _saved.clear()
