"""Registries of the benchmark: workloads (one problem each), implementations per kind of problem, operation counts and input factories."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np

# --------------------------------------------------------------------------------------------
# Registries


class Unavailable(Exception):
    """An implementation cannot run this workload here; the message goes into the table."""


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # key into IMPLEMENTATIONS
    description: str
    params: dict  # kind-specific, plain values (json-serialisable)
    default: bool = False  # part of the default (< 60 s) run
    dtype: str = "float32"

    def flops(self) -> Optional[float]:
        """Nominal floating-point operations per call (None for kinds without a meaningful count)."""
        return FLOP_COUNTS[self.kind](self.params)

    def make_arrays(self, seed: int = 0) -> Dict[str, np.ndarray]:
        return ARRAY_FACTORIES[self.kind](self.params, np.dtype(self.dtype), np.random.default_rng(seed))


# OpenBLAS's threads spin for 2**28 time-stamp cycles after a product (0.1 s at 2.6 GHz).
BLAS_SPIN_SECONDS = 0.15


@dataclass(frozen=True)
class Implementation:
    name: str
    prepare: Callable[[Workload, Dict[str, np.ndarray], int], Callable[[], object]]
    ours: bool = False  # fieldconv's own; the first one is the baseline of the ratios
    max_rounds: Optional[int] = None  # slow peers: time them in the first rounds only
    max_seconds: Optional[float] = None  # skipped when the warm-up call takes longer
    # its threads keep spinning this long after a call: the next timed block waits it out
    spins_after_seconds: float = 0.0


WORKLOADS: Dict[str, Workload] = {}
IMPLEMENTATIONS: Dict[str, List[Implementation]] = {}
FLOP_COUNTS: Dict[str, Callable[[dict], Optional[float]]] = {}
ARRAY_FACTORIES: Dict[str, Callable[[dict, np.dtype, np.random.Generator], Dict[str, np.ndarray]]] = {}


def register_workload(workload: Workload) -> Workload:
    if workload.kind not in IMPLEMENTATIONS:
        raise ValueError(f"workload kind {workload.kind!r} has no implementations registered")
    WORKLOADS[workload.name] = workload
    return workload


def register_implementation(kind: str, implementation: Implementation) -> None:
    IMPLEMENTATIONS.setdefault(kind, []).append(implementation)


def register_kind(kind: str, flops: Callable[[dict], float], arrays) -> None:
    FLOP_COUNTS[kind] = flops
    ARRAY_FACTORIES[kind] = arrays
    IMPLEMENTATIONS.setdefault(kind, [])
