"""``python -m fieldconv bench --contention``: does a second thread ever cost time?

Scenarios, each timing fieldconv at 1 thread and at the default budget in interleaved rounds of
the same process (so drifts of a shared machine hit both alike):

* quiet: nothing else runs (the speed-up threads bring);
* contention: a competing process keeps one core busy (spinning, pinned to the last CPU this
  process may use), started and stopped by the benchmark;
* beside other pools: each fieldconv call is followed by a torch conv2d, a cv2.filter2D and a
  NumPy matmul (whichever are installed), whose thread pools keep spinning after their calls;
  only fieldconv's calls are timed;
* inside a thread pool: fieldconv.dask.apply on a chunked image under dask's threaded scheduler
  with 2 workers against the synchronous scheduler (needs dask).

The figure per op is time at 1 thread / time at the default budget (>= 1: threads never cost
time; the bar under contention is 0.9), the median over rounds, with the rounds' range.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np


def _spin(cpu: Optional[int], ready) -> None:  # pragma: no cover - runs in the competing process
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    ready.set()
    while True:
        pass


class CompetingProcess:
    """A busy process on one core for the duration of a ``with`` block."""

    def __init__(self) -> None:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.cpu = cpus[-1] if cpus else None
        self.process: Optional[multiprocessing.Process] = None

    def __enter__(self) -> "CompetingProcess":
        context = multiprocessing.get_context("spawn")  # no copy of this process's threads
        ready = context.Event()
        self.process = context.Process(target=_spin, args=(self.cpu, ready), daemon=True)
        self.process.start()
        if not ready.wait(timeout=60):
            raise RuntimeError("the competing process did not start within 60 s")
        time.sleep(0.1)  # let the scheduler see it as a running task
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join()


def operations(rng: np.random.Generator) -> Dict[str, Callable[[], object]]:
    """The ops of the threading bar: small calls (tens of microseconds), a 256^2 filter, a ResNet
    3x3 layer and a large one (VGG 64@224), float32."""
    import fieldconv

    x_small = rng.standard_normal((1, 8, 32, 32), dtype=np.float32)
    small_conv = fieldconv.Conv2d(
        rng.standard_normal((8, 8, 3, 3), dtype=np.float32), np.zeros(8, np.float32), padding=1
    )
    image = rng.standard_normal((256, 256), dtype=np.float32)
    kernel = rng.standard_normal((3, 3), dtype=np.float32)
    w64 = rng.standard_normal((64, 64, 3, 3), dtype=np.float32) * 0.05
    x56 = rng.standard_normal((1, 64, 56, 56), dtype=np.float32)
    resnet_auto = fieldconv.Conv2d(w64, padding=1)
    resnet_direct = fieldconv.Conv2d(w64, padding=1, algorithm="direct")
    x112 = rng.standard_normal((1, 64, 112, 112), dtype=np.float32)
    x224 = rng.standard_normal((1, 64, 224, 224), dtype=np.float32)
    vgg = fieldconv.Conv2d(w64, padding=1)
    return {
        "Conv2d 8->8 3x3 @32": lambda: small_conv(x_small),
        "max_pool2d 2 @32": lambda: fieldconv.max_pool2d(x_small, 2),
        "ndimage.correlate 256^2 3x3": lambda: fieldconv.ndimage.correlate(image, kernel),
        "max_pool2d 3x3/2 64@112": lambda: fieldconv.max_pool2d(x112, 3, 2, 1),
        "Conv2d 64@56 auto": lambda: resnet_auto(x56),
        "Conv2d 64@56 direct": lambda: resnet_direct(x56),
        "Conv2d 64@224 auto (VGG)": lambda: vgg(x224),
    }


def other_pools(rng: np.random.Generator) -> List[Tuple[str, Callable[[], object]]]:
    """One call of each other library's thread pool that is installed: torch, OpenCV, OpenBLAS."""
    calls: List[Tuple[str, Callable[[], object]]] = []
    try:
        import torch

        xt = torch.from_numpy(rng.standard_normal((1, 32, 56, 56), dtype=np.float32))
        wt = torch.from_numpy(rng.standard_normal((32, 32, 3, 3), dtype=np.float32))
        calls.append(("torch conv2d", lambda: torch.nn.functional.conv2d(xt, wt, padding=1)))
    except ImportError:
        pass
    try:
        import cv2

        image = rng.standard_normal((512, 512), dtype=np.float32)
        kernel = rng.standard_normal((5, 5), dtype=np.float32)
        calls.append(("cv2.filter2D", lambda: cv2.filter2D(image, -1, kernel)))
    except ImportError:
        pass
    a = rng.standard_normal((256, 256))
    calls.append(("numpy matmul", lambda: a @ a))
    return calls


def _time_calls(call: Callable[[], object], seconds: float, between: Optional[Callable[[], None]] = None) -> float:
    """Seconds per call of `call`, over about `seconds` (only `call` is timed)."""
    call()
    total, calls, started = 0.0, 0, time.perf_counter()
    while True:
        if between is not None:
            between()
        t0 = time.perf_counter()
        call()
        total += time.perf_counter() - t0
        calls += 1
        if time.perf_counter() - started >= seconds and calls >= 3:
            return total / calls


def compare_thread_counts(
    ops: Dict[str, Callable[[], object]],
    threads: int,
    rounds: int,
    seconds: float,
    between: Optional[Callable[[], None]] = None,
) -> Dict[str, dict]:
    """{op: {"one": s, "many": s, "ratio": one/many, "low": .., "high": ..}}: medians over
    interleaved rounds (each round times 1 thread and `threads`, in alternating order)."""
    import fieldconv

    results = {}
    for name, call in ops.items():
        one: List[float] = []
        many: List[float] = []
        for round_index in range(rounds):
            order = (1, threads) if round_index % 2 == 0 else (threads, 1)
            for count in order:
                with fieldconv.threads(count):
                    (one if count == 1 else many).append(_time_calls(call, seconds, between))
        ratios = [a / b for a, b in zip(one, many)]
        results[name] = {
            "one": statistics.median(one),
            "many": statistics.median(many),
            "ratio": statistics.median(one) / statistics.median(many),
            "low": min(ratios),
            "high": max(ratios),
        }
    return results


def dask_scheduler_comparison(rounds: int) -> Optional[dict]:
    """fieldconv.dask.apply over a 2048^2 image in 512^2 chunks: threaded scheduler (2 workers)
    against synchronous, interleaved rounds; None without dask."""
    try:
        import dask.array as da
    except ImportError:
        return None
    import fieldconv
    import fieldconv.dask

    rng = np.random.default_rng(1)
    net = fieldconv.Sequential(
        fieldconv.Conv2d(rng.standard_normal((16, 1, 3, 3), dtype=np.float32) * 0.3, padding=1),
        fieldconv.ReLU(),
        fieldconv.Conv2d(rng.standard_normal((16, 16, 3, 3), dtype=np.float32) * 0.1, padding=1),
        fieldconv.ReLU(),
        fieldconv.MaxPool2d(2),
    )
    image = da.from_array(rng.standard_normal((1, 1, 2048, 2048), dtype=np.float32), chunks=(1, 1, 512, 512))
    graph = fieldconv.dask.apply(net, image)
    times: Dict[str, List[float]] = {"synchronous": [], "threads": []}
    for round_index in range(rounds):
        for scheduler in ("synchronous", "threads") if round_index % 2 == 0 else ("threads", "synchronous"):
            t0 = time.perf_counter()
            if scheduler == "threads":
                graph.compute(scheduler="threads", num_workers=2)
            else:
                graph.compute(scheduler="synchronous")
            times[scheduler].append(time.perf_counter() - t0)
    sync, threaded = statistics.median(times["synchronous"]), statistics.median(times["threads"])
    return {"synchronous": sync, "threads": threaded, "ratio": sync / threaded}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.3f}"


def format_table(title: str, results: Dict[str, dict], threads: int) -> str:
    lines = [
        title,
        f"  {'op':30s} {'1 thread ms':>11s} {f'{threads} threads ms':>12s} {'1T/' + str(threads) + 'T':>7s}"
        f"  (rounds' range)",
    ]
    for name, r in results.items():
        flag = "" if r["ratio"] >= 0.9 else "   < 0.9"
        lines.append(
            f"  {name:30s} {_ms(r['one']):>11s} {_ms(r['many']):>12s} {r['ratio']:7.2f}  "
            f"({r['low']:.2f}-{r['high']:.2f}){flag}"
        )
    return "\n".join(lines)


def run(threads: int = 2, rounds: int = 7, seconds: float = 0.03, out=None) -> dict:
    """Runs every scenario and prints its table; returns the figures."""
    import fieldconv

    out = out or sys.stdout
    rng = np.random.default_rng(0)
    ops = operations(rng)
    print(
        f"fieldconv {fieldconv.__version__} ({fieldconv.get_isa()} kernels), budget {threads} threads; "
        f"{os.cpu_count()} CPUs; median of {rounds} interleaved rounds of ~{seconds * 1e3:.0f} ms per op and count",
        file=out,
    )
    report = {}
    report["quiet"] = compare_thread_counts(ops, threads, rounds, seconds)
    print(format_table("quiet machine: the speed-up of threads", report["quiet"], threads), file=out, flush=True)
    with CompetingProcess() as competitor:
        report["contention"] = compare_thread_counts(ops, threads, rounds, seconds)
    print(
        format_table(f"a competing busy process on CPU {competitor.cpu} (bar: >= 0.9)", report["contention"], threads),
        file=out,
        flush=True,
    )
    pools = other_pools(rng)

    def call_other_pools() -> None:
        for _, call in pools:
            call()

    report["beside pools"] = compare_thread_counts(ops, threads, max(3, rounds // 2), seconds, call_other_pools)
    names = ", ".join(name for name, _ in pools)
    print(
        format_table(f"each call beside {names} (bar: >= 0.9)", report["beside pools"], threads), file=out, flush=True
    )
    with fieldconv.threads(threads):
        report["dask"] = dask_scheduler_comparison(max(3, rounds // 2))
    if report["dask"] is None:
        print("inside a thread pool: dask is not installed", file=out)
    else:
        d = report["dask"]
        print(
            f"inside a thread pool: fieldconv.dask.apply, 2048^2 in 512^2 chunks: synchronous {d['synchronous']:.3f} s, "
            f"threaded (2 workers) {d['threads']:.3f} s, synchronous/threaded {d['ratio']:.2f} (bar: >= 1)",
            file=out,
        )
    return report
