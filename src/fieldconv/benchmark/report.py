"""Tables: one per workload, and the summary of ratios."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from .registry import Workload
from .timing import Result

# --------------------------------------------------------------------------------------------
# Output


def _format_time(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _baseline(results: Sequence[Result]) -> Optional[Result]:
    return next((r for r in results if r.ours and r.median_seconds is not None), None)


def format_workload_table(workload: Workload, results: Sequence[Result]) -> str:
    flops = workload.flops()
    header = f"{workload.name}: {workload.description}" + (
        f"  ({flops / 1e9:.3f} GFLOP per call)" if flops is not None else "")
    baseline = _baseline(results)
    rows = [("implementation", "median time", "best", "GFLOP/s", "% peak",
             f"time / {baseline.implementation}" if baseline else "time ratio")]
    for result in results:
        if result.median_seconds is None:
            rows.append((result.implementation, result.status, "", "", "", ""))
            continue
        ratio = "1 (baseline)" if result is baseline else (f"{result.ratio:.2f}x" if result.ratio is not None else "")
        rows.append((result.implementation, _format_time(result.median_seconds), _format_time(min(result.seconds)),
                     "" if result.gflops is None else f"{result.gflops:.1f}",
                     "" if result.peak_percent is None else f"{result.peak_percent:.0f} %", ratio))
    return header + "\n" + _table(rows)


def format_summary(results_by_workload: Dict[str, List[Result]], implementations: Sequence[str]) -> str:
    """One row per workload: fieldconv's implementation, time, GFLOP/s and % peak, then each peer
    that ran on it as "name ratio" (peer time / ours: > 1, fieldconv is faster) or its status.
    One peers column serves workloads of every kind (conv, pooling, filters)."""
    rows = [("workload", "ours", "time", "GFLOP/s", "% peak", "peers (peer time / ours)")]
    for name, results in results_by_workload.items():
        base = _baseline(results)
        peers = []
        for result in results:
            if result is base or result.implementation not in implementations:
                continue
            if result.ratio is not None:
                peers.append(f"{result.implementation} {result.ratio:.2f}x")
            elif result.status != "ok":
                peers.append(f"{result.implementation} {result.status}")
        rows.append((
            name,
            base.implementation if base else "",
            _format_time(base.median_seconds) if base else "",
            f"{base.gflops:.1f}" if base and base.gflops is not None else "",
            f"{base.peak_percent:.0f} %" if base and base.peak_percent is not None else "",
            ", ".join(peers),
        ))
    return _table(rows)


def _table(rows) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)
