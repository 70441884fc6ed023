"""The peers' plumbing: torch's instruction set, chosen before its first import, and its description."""

from __future__ import annotations

import os
import sys

from .registry import Unavailable

# --------------------------------------------------------------------------------------------
# Peers' import (torch's ISA must be chosen before its first import)

# SciPy's scalar routines are timed only where one call takes less than this (estimated).
SCIPY_LIMIT_SECONDS = 2.0

_TORCH_ISA = "native"


def configure_torch_isa(choice: str) -> None:
    """ "avx2": cap oneDNN and ATen at AVX2; must run before torch is imported."""
    global _TORCH_ISA
    if choice not in ("native", "avx2"):
        raise ValueError(f"torch_isa must be 'native' or 'avx2', got {choice!r}")
    if choice == "avx2":
        if "torch" in sys.modules and _TORCH_ISA != "avx2":
            raise RuntimeError("torch is already imported; --torch-isa avx2 must be applied before")
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        os.environ["ATEN_CPU_CAPABILITY"] = "avx2"
    _TORCH_ISA = choice


def import_torch():
    try:
        import torch
    except ImportError:
        raise Unavailable("n/a (not installed)") from None
    return torch


def torch_description() -> str:
    try:
        torch = import_torch()
    except Unavailable:
        return "torch: not installed"
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: "?")()
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA", "default (all the CPU has)")
    return f"torch {torch.__version__}: ATen CPU capability {capability}, oneDNN max ISA {onednn}"
