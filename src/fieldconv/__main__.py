"""``python -m fieldconv bench [options]`` (benchmark against the peers), ``python -m fieldconv dask-bench``
(a network over a chunked dask array against the whole array: time and peak memory) or
``python -m fieldconv config``."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fieldconv", description="fieldconv command line")
    commands = parser.add_subparsers(dest="command", metavar="{bench,dask-bench,config}")
    from . import benchmark  # imports NumPy only; torch is imported once --torch-isa is applied

    bench = commands.add_parser("bench", help="time fieldconv against torch, NumPy and SciPy on standard layers")
    benchmark.add_arguments(bench)
    dask_bench = commands.add_parser(
        "dask-bench", help="a 4-conv network over a chunked image with fieldconv.dask vs the whole array (needs dask)"
    )
    dask_bench.add_argument("--size", type=int, default=4096, help="image height and width (default 4096)")
    dask_bench.add_argument("--chunk", type=int, default=512, help="chunk height and width (default 512)")
    commands.add_parser("config", help="print version, ISA, threads, OpenMP runtime and compiler")
    args = parser.parse_args(argv)
    if args.command == "bench":
        benchmark.run(args)
    elif args.command == "dask-bench":
        from ._dask_bench import run_dask_benchmark

        run_dask_benchmark(size=args.size, chunk=args.chunk)
    elif args.command == "config":
        from . import show_config

        show_config()
    else:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
