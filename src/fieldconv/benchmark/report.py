"""Tables: one per workload, and the summary of ratios."""

from __future__ import annotations

import statistics

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
        f"  ({flops / 1e9:.3f} GFLOP per call)" if flops is not None else ""
    )
    baseline = _baseline(results)
    rows = [
        (
            "implementation",
            "median time",
            "spread",
            "best",
            "GFLOP/s",
            "% peak",
            f"time / {baseline.implementation}" if baseline else "time ratio",
        )
    ]
    # fieldconv's own entries first (the baseline leading), then the peers
    for result in sorted(results, key=lambda r: not r.ours):
        if result.median_seconds is None:
            rows.append((result.implementation, result.status, "", "", "", "", ""))
            continue
        ratio = "1 (baseline)" if result is baseline else (f"{result.ratio:.2f}x" if result.ratio is not None else "")
        rows.append(
            (
                result.implementation,
                _format_time(result.median_seconds),
                _format_spread(result),
                _format_time(min(result.seconds)),
                "" if result.gflops is None else f"{result.gflops:.1f}",
                "" if result.peak_percent is None else f"{result.peak_percent:.0f} %",
                ratio,
            )
        )
    return header + "\n" + _table(rows)


def _format_spread(result: Result) -> str:
    return "" if result.spread_percent is None else f"+-{result.spread_percent / 2:.0f} %"


def format_summary(results_by_workload: Dict[str, List[Result]], implementations: Sequence[str]) -> str:
    """One row per workload: fieldconv's baseline (its default, "auto" for convolutions), time,
    spread, GFLOP/s and % peak; then each peer that ran as "name ratio" (peer time / ours: > 1,
    fieldconv is faster) or its status; then fieldconv's other variants apart, as "name ratio"
    (variant time / baseline). One column of each serves workloads of every kind."""
    rows = [
        (
            "workload",
            "ours",
            "time",
            "spread",
            "GFLOP/s",
            "% peak",
            "peers (peer time / ours)",
            "fieldconv variants (time / ours)",
        )
    ]
    for name, results in results_by_workload.items():
        base = _baseline(results)
        peers, variants = [], []
        for result in results:
            if result is base or result.implementation not in implementations:
                continue
            target = variants if result.ours else peers
            label = result.implementation.replace("fieldconv ", "") if result.ours else result.implementation
            if result.ratio is not None:
                target.append(f"{label} {result.ratio:.2f}x")
            elif result.status != "ok" and not result.status.startswith("n/a (3x3"):
                target.append(f"{label} {result.status}")
        rows.append(
            (
                name,
                base.implementation if base else "",
                _format_time(base.median_seconds) if base else "",
                _format_spread(base) if base else "",
                f"{base.gflops:.1f}" if base and base.gflops is not None else "",
                f"{base.peak_percent:.0f} %" if base and base.peak_percent is not None else "",
                ", ".join(peers),
                ", ".join(variants),
            )
        )
    return _table(rows)


def noise_warning(results_by_workload: Dict[str, List[Result]]) -> Optional[str]:
    """A line quoting the largest round-to-round spread measured, when it exceeds 10 %: ratios
    closer to 1 than that say nothing."""
    spreads = [
        (r.spread_percent, name, r.implementation)
        for name, rs in results_by_workload.items()
        for r in rs
        if r.spread_percent is not None
    ]
    if not spreads:
        return None
    worst, name, implementation = max(spreads)
    typical = statistics.median(s for s, _, _ in spreads)
    if worst < 10:
        return None
    return (
        f"noise: rounds of one implementation varied by {typical:.0f} % typically and up to {worst:.0f} % "
        f"({implementation}, {name}) (interquartile range / median): ratios within that of 1 are not "
        f"significant; more --repeats, or a quieter moment, narrow it"
    )


def format_comparison(old_document: dict, results_by_workload: Dict[str, List[Result]]) -> str:
    """New median / old median per workload and implementation present in both runs."""
    old = {(r["workload"], r["implementation"]): r for r in old_document.get("results", [])}
    rows = [("workload", "implementation", "old median", "new median", "new / old")]
    for name, results in results_by_workload.items():
        for result in results:
            before = old.get((name, result.implementation))
            if before is None or before.get("median_seconds") is None or result.median_seconds is None:
                continue
            rows.append(
                (
                    name,
                    result.implementation,
                    _format_time(before["median_seconds"]),
                    _format_time(result.median_seconds),
                    f"{result.median_seconds / before['median_seconds']:.2f}x",
                )
            )
    if len(rows) == 1:
        return "compare: no workload and implementation in common with the old run"
    return "compared with the old run (new / old < 1: faster now)\n" + _table(rows)


def plot_ratios(results_by_workload: Dict[str, List[Result]], path: str) -> None:
    """Draws, per workload, each peer's time / fieldconv's (log scale; above 1: fieldconv is
    faster), with the baseline's spread as a band around 1. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results_by_workload)
    peers = sorted(
        {r.implementation for rs in results_by_workload.values() for r in rs if not r.ours and r.ratio is not None}
    )
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(names) + 2), 4.5))
    width = 0.8 / max(1, len(peers))
    for k, peer in enumerate(peers):
        xs, ys = [], []
        for i, name in enumerate(names):
            result = next((r for r in results_by_workload[name] if r.implementation == peer), None)
            if result is not None and result.ratio is not None:
                xs.append(i + (k - (len(peers) - 1) / 2) * width)
                ys.append(result.ratio)  # peer time / fieldconv time
        ax.bar(xs, ys, width=width, label=peer)
    for i, name in enumerate(names):
        base = _baseline(results_by_workload[name])
        if base is not None and base.spread_percent is not None:
            half = base.spread_percent / 200
            ax.fill_between([i - 0.45, i + 0.45], max(0.05, 1 - half), 1 + half, color="grey", alpha=0.3, linewidth=0)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("peer time / fieldconv time (> 1: fieldconv faster)")
    ax.set_title("fieldconv against its peers\n(grey band: fieldconv's round-to-round spread)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _table(rows) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)
