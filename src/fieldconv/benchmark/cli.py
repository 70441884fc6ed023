"""The command line: python -m fieldconv bench."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict
from typing import Dict, List, Optional, Sequence

from .peers import configure_torch_isa, torch_description
from .registry import WORKLOADS, Workload
from .report import format_comparison, format_summary, format_workload_table, noise_warning, plot_ratios
from .timing import Result, load_warning, measure_peak, run_workload

# --------------------------------------------------------------------------------------------
# Command line


def select_workloads(choice: str) -> List[Workload]:
    if choice == "default":
        return [w for w in WORKLOADS.values() if w.default]
    if choice == "all":
        return list(WORKLOADS.values())
    names = [name.strip() for name in choice.split(",") if name.strip()]
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {', '.join(unknown)}; choose from default, all, " + ", ".join(WORKLOADS))
    return [WORKLOADS[name] for name in names]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=2, help="threads for fieldconv and torch (default 2)")
    parser.add_argument(
        "--workload",
        default="default",
        help="default (a representative subset, < 60 s), all, or comma-separated names (--list shows them)",
    )
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds per workload (default 7)")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement to PATH as JSON")
    parser.add_argument(
        "--compare",
        metavar="OLD_JSON",
        help="also print each median against the same workload and implementation in OLD_JSON "
        "(written by an earlier --json)",
    )
    parser.add_argument("--plot", metavar="PNG", help="also draw the peers' ratios to PNG (needs matplotlib)")
    parser.add_argument(
        "--torch-isa",
        choices=("native", "avx2"),
        default="native",
        help="avx2: cap torch (oneDNN, ATen) at AVX2 (compare with --isa avx2); "
        "native: whatever the CPU has (AVX-512, if present)",
    )
    from .. import _core

    isas = sorted({(entry["isa_rank"], entry["isa"]) for entry in _core.kernel_list()})
    parser.add_argument(
        "--isa",
        choices=("auto", *(isa for _, isa in isas)),
        default="auto",
        help="fieldconv's kernel ISA (default: the best this CPU supports)",
    )
    parser.add_argument("--no-blas-peak", action="store_true", help="skip the NumPy matmul peak probe")
    parser.add_argument(
        "--ghz",
        type=float,
        default=None,
        help="compute the FMA peak from this clock (2 pipes x lanes x 2 x GHz x threads) instead of measuring it",
    )
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument(
        "--contention",
        action="store_true",
        help="instead of the peers: fieldconv at 1 thread against --threads, quiet, beside a "
        "competing busy process, beside other libraries' thread pools, and under dask's "
        "threaded scheduler",
    )


def run(args: argparse.Namespace, out=None) -> Dict[str, List[Result]]:
    out = out or sys.stdout
    if args.list:
        for workload in WORKLOADS.values():
            print(
                f"{workload.name:28s} {'default' if workload.default else '       '}  {workload.description}", file=out
            )
        return {}
    if args.threads < 1 or args.repeats < 1:
        raise SystemExit("--threads and --repeats must be at least 1")
    if getattr(args, "contention", False):
        from . import contention

        contention.run(threads=args.threads, rounds=args.repeats, out=out)
        return {}
    configure_torch_isa(args.torch_isa)  # before anything imports torch
    import fieldconv

    workloads = select_workloads(args.workload)
    fieldconv.set_num_threads(args.threads)
    if getattr(args, "isa", "auto") != "auto":
        from .. import _core

        try:
            _core.set_isa(args.isa)
        except ValueError as error:
            raise SystemExit(f"--isa {args.isa}: {error}") from None
    peak = measure_peak(args.threads, blas=not args.no_blas_peak, ghz=args.ghz, isa=fieldconv.get_isa())
    print(
        f"fieldconv {fieldconv.__version__} ({fieldconv.get_isa()} kernels, {args.threads} threads); "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        file=out,
    )
    print(torch_description(), file=out)
    print(
        f"times: median (spread: +- half the interquartile range; best) of {args.repeats} interleaved rounds "
        f"(scipy: at most 3), float32 NCHW; GFLOP/s, % peak and ratios from the median; the baseline is "
        f"fieldconv's default (algorithm='auto' for convolutions)",
        file=out,
    )
    print(peak.describe(), file=out)
    warning = load_warning(args.threads)
    if warning:
        print(warning, file=out)
    print(file=out)

    results: Dict[str, List[Result]] = {}
    implementations: List[str] = []
    for workload in workloads:
        results[workload.name] = run_workload(workload, args.threads, args.repeats, peak)
        for result in results[workload.name]:
            if result.implementation not in implementations:
                implementations.append(result.implementation)
        print(format_workload_table(workload, results[workload.name]), file=out)
        print(file=out, flush=True)
    print("summary (peer time / fieldconv time: > 1 means fieldconv is faster)", file=out)
    print(format_summary(results, implementations), file=out)
    warning = noise_warning(results)
    if warning:
        print(warning, file=out)
    if getattr(args, "compare", None):
        with open(args.compare) as handle:
            print("\n" + format_comparison(json.load(handle), results), file=out)
    if getattr(args, "plot", None):
        plot_ratios(results, args.plot)
        print(f"\nwrote {args.plot}", file=out)

    if args.json:
        document = {
            "fieldconv_version": fieldconv.__version__,
            "isa": fieldconv.get_isa(),
            "threads": args.threads,
            "repeats": args.repeats,
            "torch_isa": args.torch_isa,
            "torch": torch_description(),
            "peak": asdict(peak),
            "workloads": {w.name: asdict(w) for w in workloads},
            "results": [asdict(r) for rs in results.values() for r in rs],
        }
        with open(args.json, "w") as handle:
            json.dump(document, handle, indent=2)
        print(f"\nwrote {args.json}", file=out)
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fieldconv bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    run(parser.parse_args(argv))
    return 0
