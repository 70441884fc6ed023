"""3x3 convolution benchmarks: direct, each Winograd tile and "auto", against PyTorch.

Workloads: ResNet 3x3 layers (64@56, 128@28, 256@14, 512@7; N = 1 and 8) and VGG 64@224 (N = 1),
float32, padding 1, the layer object (weights packed/transformed once), fieldconv's default thread
count (set OMP_NUM_THREADS or fieldconv.set_num_threads; torch gets the same count).

    python -m pytest bench/test_bench_winograd.py --benchmark-group-by=param:workload  # -k "resnet64x56-n1"
    python bench/test_bench_winograd.py          # interleaved medians table (ratios vs torch, auto vs best)

The machine is shared and noisy: compare within one run, interleaved (see `interleaved_table`).
"""

import statistics
import sys
import time

import numpy as np
import pytest

import fieldconv
from fieldconv.functional import conv2d_algorithm_for

WORKLOADS = {  # name: (N, C, H) for a C -> C 3x3 convolution, stride 1, padding 1
    "resnet64x56-n1": (1, 64, 56),
    "resnet64x56-n8": (8, 64, 56),
    "resnet128x28-n1": (1, 128, 28),
    "resnet128x28-n8": (8, 128, 28),
    "resnet256x14-n1": (1, 256, 14),
    "resnet256x14-n8": (8, 256, 14),
    "resnet512x7-n1": (1, 512, 7),
    "resnet512x7-n8": (8, 512, 7),
    "vgg64x224-n1": (1, 64, 224),
}
ALGORITHMS = ["direct", "winograd_f2", "winograd_f4", "winograd_f6", "auto"]


def make_problem(workload, dtype=np.float32):
    n, c, h = WORKLOADS[workload]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h)).astype(dtype)
    w = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(9 * c)).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    return x, w, b


def flops(workload):
    n, c, h = WORKLOADS[workload]
    return 2.0 * n * c * c * 9 * h * h


def candidates(workload, with_torch=True):
    """name -> zero-argument callable running the workload once."""
    x, w, b = make_problem(workload)
    runs = {}
    for algorithm in ALGORITHMS:
        layer = fieldconv.Conv2d(w, b, padding=1, algorithm=algorithm)
        runs[algorithm] = lambda layer=layer: layer(x)
    if with_torch:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            torch.set_num_threads(fieldconv.get_num_threads())
            xt, wt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)

            def run_torch():
                with torch.no_grad():
                    return torch.nn.functional.conv2d(xt, wt, bt, padding=1)

            runs["torch"] = run_torch
    return runs


@pytest.mark.parametrize("algorithm", ALGORITHMS + ["torch"])
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_conv3x3(benchmark, workload, algorithm):
    runs = candidates(workload, with_torch=algorithm == "torch")
    if algorithm not in runs:
        pytest.skip("torch is not installed")
    run = runs[algorithm]
    run()  # warm up: workspaces, thread pool
    benchmark.extra_info["gflops_effective"] = None
    benchmark.extra_info["auto_choice"] = conv2d_algorithm_for(
        make_problem(workload)[0].shape, (WORKLOADS[workload][1],) * 2 + (3, 3), padding=1
    )
    benchmark.pedantic(run, rounds=9 if WORKLOADS[workload][0] == 1 else 5, iterations=1, warmup_rounds=1)
    if benchmark.stats is not None:  # None under --benchmark-disable (a smoke run)
        benchmark.extra_info["gflops_effective"] = flops(workload) / benchmark.stats.stats.median / 1e9


def interleaved_medians(runs, repeats=9):
    """Median seconds of each callable, timed round-robin (one call each per round)."""
    for run in runs.values():
        run()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def interleaved_table(workloads=tuple(WORKLOADS), repeats=9, out=sys.stdout):
    """Prints ms, effective GFLOP/s and ratio vs torch per algorithm, and auto vs the best explicit."""
    rows = []
    for workload in workloads:
        medians = interleaved_medians(candidates(workload), repeats)
        best = min(medians[a] for a in ALGORITHMS if a != "auto")
        torch_time = medians.get("torch")
        cells = []
        for name, seconds in medians.items():
            ratio = f" x{torch_time / seconds:.2f}" if torch_time else ""
            cells.append(f"{name} {seconds * 1e3:.2f}ms {flops(workload) / seconds / 1e9:.0f}GF{ratio}")
        choice = conv2d_algorithm_for(
            (WORKLOADS[workload][0], WORKLOADS[workload][1]) + (WORKLOADS[workload][2],) * 2,
            (WORKLOADS[workload][1],) * 2 + (3, 3),
            padding=1,
        )
        print(
            f"{workload}: " + " | ".join(cells) + f" | auto={choice} auto/best={medians['auto'] / best:.2f}",
            file=out,
            flush=True,
        )
        rows.append((workload, medians, choice))
    return rows


if __name__ == "__main__":
    # python bench/test_bench_winograd.py [repeats] [--torch-avx2] [--threads N] [workload ...]
    import os

    args = sys.argv[1:]
    if "--torch-avx2" in args:  # must precede torch's import
        args.remove("--torch-avx2")
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        os.environ["ATEN_CPU_CAPABILITY"] = "avx2"
    if "--threads" in args:
        index = args.index("--threads")
        fieldconv.set_num_threads(int(args[index + 1]))
        del args[index : index + 2]
    repeats = int(args.pop(0)) if args and args[0].isdigit() else 9
    interleaved_table(workloads=tuple(args) or tuple(WORKLOADS), repeats=repeats)
