"""``python -m fieldconv bench [options]`` (benchmark against the peers) or ``python -m fieldconv config``."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fieldconv", description="fieldconv command line")
    commands = parser.add_subparsers(dest="command", metavar="{bench,config}")
    from . import benchmark  # imports NumPy only; torch is imported once --torch-isa is applied

    bench = commands.add_parser("bench", help="time fieldconv against torch, NumPy and SciPy on standard layers")
    benchmark.add_arguments(bench)
    commands.add_parser("config", help="print version, ISA, threads, OpenMP runtime and compiler")
    args = parser.parse_args(argv)
    if args.command == "bench":
        benchmark.run(args)
    elif args.command == "config":
        from . import show_config

        show_config()
    else:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
