"""threadpoolctl sees fieldconv: ``threadpool_info()`` lists it (user_api "openmp", internal_api
"fieldconv") and ``threadpool_limits(n)`` limits its thread budget. fieldconv runs its own helper
threads, not an OpenMP runtime, but it takes OMP_NUM_THREADS as its initial count and behaves as
an OpenMP library towards its users, so it sits under "openmp", where scikit-learn, joblib and
dask-ml limit nested parallelism (``threadpool_limits(1, user_api="openmp")``).

threadpoolctl finds libraries among the loaded shared objects by file name prefix, then checks
for exported symbols; the compiled module ``fieldconv._core`` exports the two C functions used
here (csrc/runtime.cpp). Registered at ``import fieldconv`` when threadpoolctl (>= 3.5, which
has ``register``) is installed; nothing happens without it.
"""

from __future__ import annotations

import importlib.util

from ._version import __version__


def register() -> bool:
    """Registers fieldconv's controller with threadpoolctl; False when threadpoolctl is absent or
    too old to accept one."""
    if importlib.util.find_spec("threadpoolctl") is None:
        return False
    import threadpoolctl

    if not hasattr(threadpoolctl, "register") or not hasattr(threadpoolctl, "LibController"):
        return False
    if any(getattr(c, "internal_api", None) == "fieldconv" for c in getattr(threadpoolctl, "_ALL_CONTROLLERS", ())):
        return True

    class FieldconvController(threadpoolctl.LibController):
        user_api = "openmp"
        internal_api = "fieldconv"
        # The compiled module's file name (_core.cpython-...so); other packages' "_core" modules
        # lack the symbols below and are passed over.
        filename_prefixes = ("_core",)
        check_symbols = ("fieldconv_get_num_threads", "fieldconv_set_num_threads")

        def get_num_threads(self):
            return self.dynlib.fieldconv_get_num_threads()

        def set_num_threads(self, num_threads):
            # threadpoolctl passes None to mean "leave as is"
            if num_threads is not None:
                self.dynlib.fieldconv_set_num_threads(int(num_threads))

        def get_version(self):
            # Called before threadpoolctl checks the symbols, so it must not use self.dynlib.
            return __version__

    threadpoolctl.register(FieldconvController)
    return True
