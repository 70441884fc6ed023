"""Time and peak memory of fieldconv.dask.apply against running the whole array at once.

    python bench/bench_dask.py                  # 1x3x4096x4096 float32, 512x512 chunks
    python bench/bench_dask.py --size 2048 --chunk 256 --variants whole dask

Each variant runs in a fresh process (see fieldconv/_dask_bench.py for the network and the
variants); peak memory is that process's maximum resident set.
"""

import argparse

from fieldconv._dask_bench import VARIANTS, run_dask_benchmark


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="image height and width (default 4096)")
    parser.add_argument("--chunk", type=int, default=512, help="chunk height and width (default 512)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run_dask_benchmark(args.size, args.chunk, variants=args.variants, seed=args.seed)


if __name__ == "__main__":
    main()
