"""The machine's FMA peak and the interleaved timing of every implementation of a workload."""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
from .. import _core
from .registry import BLAS_SPIN_SECONDS, IMPLEMENTATIONS, Implementation, Unavailable, Workload

# --------------------------------------------------------------------------------------------
# The machine's peak


# float32 lanes of one FMA per kernel family; "generic" is measured against the AVX2 peak
# (what the CPU could do with the portable code's work), which it is not expected to reach.
FMA_LANES = {"avx512": 16, "avx2": 8, "generic": 8}
FMA_PIPES = 2  # two FMA units per core on the x86-64 cores of this class (Zen 3-5, Skylake-SP and later)


@dataclass
class Peak:
    """The "% peak" denominator: the float32 FMA rate of the active kernel family on `threads`
    threads, measured (fieldconv._core.fma_peak_gflops: independent FMA chains on every thread
    at once, so turbo clocks count) or, with --ghz, computed from a given clock."""

    peak_gflops: float
    source: str
    threads: int
    blas_gflops: Optional[float]
    isa: str = "avx2"

    def describe(self) -> str:
        lines = [
            f"% peak = GFLOP/s / {self.isa} FMA peak on {self.threads} threads = {self.peak_gflops:.0f} GFLOP/s "
            f"({self.source})"
        ]
        if self.blas_gflops is not None:
            lines.append(
                f"practical ceiling for comparison: NumPy float32 matmul 2048^3 (BLAS, its own thread count, "
                f"may use AVX-512) = {self.blas_gflops:.0f} GFLOP/s = "
                f"{100 * self.blas_gflops / self.peak_gflops:.0f} % of that peak"
            )
        return "\n".join(lines)


def measure_peak(threads: int, blas: bool = True, ghz: Optional[float] = None, isa: str = "avx2") -> Peak:
    peak_isa = isa if isa in FMA_LANES else "avx2"
    if ghz:
        lanes = FMA_LANES[peak_isa]
        peak = FMA_PIPES * lanes * 2 * ghz * threads
        source = f"--ghz: {FMA_PIPES} FMA pipes x {lanes} fp32 lanes x 2 flop x {ghz:.2f} GHz x {threads} threads"
    else:
        # the best of three probes: one probe on a busy host can read half the true peak
        peak = max(float(_core.fma_peak_gflops(threads)) for _ in range(3))
        source = "measured now: independent float32 FMA chains of these kernels on every thread at once (best of 3)"
    blas_gflops = None
    if blas:
        a = np.random.default_rng(1).standard_normal((2048, 2048), dtype=np.float32)
        b = a.T.copy()
        a @ b  # warm-up
        times = []
        for _ in range(3):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
        blas_gflops = 2 * 2048**3 / min(times) / 1e9
        global _pause_before_next_block
        _pause_before_next_block = BLAS_SPIN_SECONDS
    return Peak(peak, source, threads, blas_gflops, peak_isa)


def load_warning(threads: int) -> Optional[str]:
    """A warning when other processes keep the CPUs busy (1-minute load average)."""
    try:
        with open("/proc/loadavg") as handle:
            load = float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load + threads > cpus + 0.5:
        return (
            f"WARNING: load average {load:.1f} on {cpus} CPUs before this run: other processes compete for "
            f"the cores, so multi-threaded times (of every implementation) are unreliable; compare the "
            f"ratios, rerun on a quiet machine, use --threads 1, or set OMP_WAIT_POLICY=PASSIVE (spin-waiting "
            f"OpenMP threads of every library lose their time slices to the other processes)"
        )
    return None


# --------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Result:
    workload: str
    implementation: str
    ours: bool = False
    status: str = "ok"  # or the reason it did not run
    seconds: List[float] = field(default_factory=list)  # per call, one per round
    median_seconds: Optional[float] = None
    gflops: Optional[float] = None
    peak_percent: Optional[float] = None
    ratio: Optional[float] = None  # this time / the baseline's time (> 1: slower than fieldconv)
    spread_percent: Optional[float] = None  # round-to-round spread: interquartile range / median


def spread_percent(seconds: Sequence[float]) -> Optional[float]:
    """Interquartile range of the rounds over their median, in percent (the range for fewer than
    4 rounds): how much a single round can be trusted on this machine now."""
    if len(seconds) < 2:
        return None
    if len(seconds) >= 4:
        q1, _, q3 = statistics.quantiles(seconds, n=4)
        low, high = q1, q3
    else:
        low, high = min(seconds), max(seconds)
    return 100 * (high - low) / statistics.median(seconds)


MIN_ROUND_SECONDS = 0.005
# Pause before each timed block (which then starts with an untimed call): thread pools (OpenMP,
# BLAS) spin-wait for a while after their last parallel region; with 2 cores that spinning would
# be charged to whoever runs next. After an implementation whose threads spin longer
# (Implementation.spins_after_seconds), the pause is that long: a BLAS thread spinning beside the
# next block made fieldconv's helpers lose, and fieldconv then ran its calls alone (docs/threads.md)
# for the rest of the workload.
SETTLE_SECONDS = 0.02
_pause_before_next_block = SETTLE_SECONDS


def time_call(function, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def _trace(line: str) -> None:
    """With FIELDCONV_TEAM_TRACE set (fieldconv's teams then trace to stderr), marks where the
    benchmark is."""
    if os.environ.get("FIELDCONV_TEAM_TRACE"):
        print(line, file=sys.stderr, flush=True)


def _ran(implementation: Implementation) -> None:
    """Notes how long the block after calls of `implementation` must wait."""
    global _pause_before_next_block
    _pause_before_next_block = max(SETTLE_SECONDS, implementation.spins_after_seconds)


def run_workload(workload: Workload, threads: int, repeats: int, peak: Peak) -> List[Result]:
    arrays = workload.make_arrays()
    flops = workload.flops()
    entries = []  # (implementation, result, function, calls per round)
    _trace(f"workload {workload.name}")
    time.sleep(_pause_before_next_block)
    # Each workload starts from the thread pool's state in a fresh process: a stall in an earlier
    # workload opened caller-alone windows (docs/threads.md) that ran the next workload's calls
    # of the same size class on one thread, so its figures depended on what ran before it.
    _core.team_statistics(reset=True)
    for implementation in IMPLEMENTATIONS[workload.kind]:
        result = Result(workload.name, implementation.name, implementation.ours)
        function = None
        try:
            function = implementation.prepare(workload, arrays, threads)
            first = time_call(function, 1)  # warm-up (first calls may build plans, caches)
            if first < 0.5:
                first = min(first, time_call(function, 1))  # a warm call sizes the rounds
            _ran(implementation)
            if implementation.max_seconds is not None and first > implementation.max_seconds:
                raise Unavailable(f"skipped ({first:.1f} s per call)")
        except Unavailable as reason:
            result.status = str(reason)
            function = None
        calls = max(1, int(MIN_ROUND_SECONDS / max(first, 1e-7))) if function is not None else 0
        entries.append((implementation, result, function, calls))

    for round_index in range(repeats):
        # rotate who goes first, so no implementation always follows the same neighbour
        shift = round_index % max(1, len(entries))
        for implementation, result, function, calls in entries[shift:] + entries[:shift]:
            if function is None:
                continue
            if implementation.max_rounds is not None and round_index >= implementation.max_rounds:
                continue
            time.sleep(_pause_before_next_block)
            _trace(f"block {implementation.name}, round {round_index}")
            # one untimed call first: after the pause each library's threads are asleep, and
            # waking them (on a 2-vCPU VM, a vCPU idle for more than ~10 ms is slow to come
            # back; docs/threads.md) is not what back-to-back calls pay.
            # (Not for the slow single-threaded peers limited to a few rounds: SciPy, NumPy.)
            if implementation.max_rounds is None:
                function()
            result.seconds.append(time_call(function, calls))
            _ran(implementation)

    baseline = None
    for implementation, result, _, _ in entries:
        if result.seconds:
            result.median_seconds = statistics.median(result.seconds)
            result.spread_percent = spread_percent(result.seconds)
            if flops is not None:
                result.gflops = flops / result.median_seconds / 1e9
                # the peak is float32's; float64 vectors hold half as many lanes
                lanes = 4 / np.dtype(workload.dtype).itemsize
                result.peak_percent = 100 * result.gflops / (peak.peak_gflops * lanes)
            if implementation.ours and baseline is None:
                baseline = result.median_seconds
    for _, result, _, _ in entries:
        if result.median_seconds is not None and baseline is not None:
            result.ratio = result.median_seconds / baseline
    return [result for _, result, _, _ in entries]
