"""Benchmark of fieldconv.dask.apply against running the whole array at once.

Network: conv 3->16 3x3 pad 1, ReLU, conv 16->16 3x3 pad 1, ReLU, max pool 2, conv 16->32 3x3
pad 1, ReLU, conv 32->8 1x1, over a 1x3xSIZExSIZE float32 image. Each variant runs in a fresh
Python process that reports its own wall time and peak resident set (ru_maxrss), so one
variant's memory never hides another's:

* ``baseline``: imports fieldconv and dask and builds the network, computes nothing (the floor);
* ``whole``:    the image in memory, ``net(x)`` at once (fieldconv's own threads);
* ``dask``:     ``fieldconv.dask.apply(net, x)`` over CHUNKxCHUNK chunks, dask's threaded
                scheduler with one task per core and one fieldconv thread per task.

The input is generated chunk by chunk from a seed (identical in every variant, never whole in
the dask variant) and the output is reduced to one SHA-256 per output tile (identical when the
tiles match the whole-array result bitwise), so neither end holds the full array in the dask
variant. ``python -m fieldconv bench`` can call ``run_dask_benchmark``; ``bench/bench_dask.py``
is the command-line script.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

VARIANTS = ("baseline", "whole", "dask")


def build_network(seed: int = 0, with_pool: bool = True):
    """The benchmark network (float32 weights, He-scaled so activations stay O(1))."""
    import numpy as np

    import fieldconv

    rng = np.random.default_rng(seed)

    def conv(c_out, c_in, k, padding):
        weight = rng.standard_normal((c_out, c_in, k, k)) * np.sqrt(2.0 / (c_in * k * k))
        # algorithm="direct": its results do not depend on where a tile starts, so the tiled and
        # whole-array digests are identical (Winograd agrees only within its error bound).
        return fieldconv.Conv2d(
            weight.astype(np.float32),
            (0.1 * rng.standard_normal(c_out)).astype(np.float32),
            padding=padding,
            algorithm="direct",
        )

    pool = fieldconv.MaxPool2d(2) if hasattr(fieldconv, "MaxPool2d") else _NumpyMaxPool2()
    return fieldconv.Sequential(
        conv(16, 3, 3, 1),
        fieldconv.ReLU(),
        conv(16, 16, 3, 1),
        fieldconv.ReLU(),
        pool,
        conv(32, 16, 3, 1),
        fieldconv.ReLU(),
        conv(8, 32, 1, 0),
    )


class _NumpyMaxPool2:
    """2x2/2 max pooling in NumPy, used only while fieldconv has no MaxPool2d."""

    kernel_size = stride = (2, 2)
    padding = (0, 0)
    dilation = (1, 1)
    ceil_mode = False

    @property
    def receptive_field(self):
        from ._receptive_field import window_receptive_field

        return window_receptive_field((2, 2), (2, 2), (1, 1), (0, 0))

    def __call__(self, x):
        n, c, h, w = x.shape
        x = x[:, :, : h // 2 * 2, : w // 2 * 2]
        return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))

    def output_shape(self, shape):
        return tuple(shape[:-2]) + (shape[-2] // 2, shape[-1] // 2)

    def __repr__(self):
        return "MaxPool2d(2) [NumPy stand-in]"


def input_block(seed: int, row_block: int, col_block: int, rows: int, cols: int):
    """The input chunk at block (row_block, col_block): (1, 3, rows, cols) float32 from a seed."""
    import numpy as np

    rng = np.random.default_rng([seed, row_block, col_block])
    return rng.standard_normal((1, 3, rows, cols), dtype=np.float32)


def _digest(block) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(block).tobytes()).hexdigest()


def _combine(digests) -> str:
    return hashlib.sha256("".join(digests).encode()).hexdigest()[:16]


def _lazy_input(size: int, chunk: int, seed: int):
    import dask.array as da
    import numpy as np

    def block(block_info=None):
        (r0, r1), (c0, c1) = block_info[None]["array-location"][2:]
        return input_block(seed, r0 // chunk, c0 // chunk, r1 - r0, c1 - c0)

    return da.map_blocks(
        block,
        chunks=((1,), (3,), _chunks(size, chunk), _chunks(size, chunk)),
        dtype=np.float32,
        meta=np.empty((0, 0, 0, 0), np.float32),
    )


def _chunks(size: int, chunk: int):
    return tuple(min(chunk, size - start) for start in range(0, size, chunk))


def _child(variant: str, size: int, chunk: int, seed: int) -> dict:
    """One variant, in this (fresh) process; returns its figures."""
    import resource

    import numpy as np

    import dask
    import fieldconv
    import fieldconv.dask

    net = build_network(seed)
    plan = fieldconv.dask.apply(net, _lazy_input(size, chunk, seed))  # the output tiling, nothing computed
    result = {"variant": variant, "size": size, "chunk": chunk, "threads": fieldconv.get_num_threads()}
    start = time.perf_counter()
    if variant == "whole":
        x = np.empty((1, 3, size, size), np.float32)
        for i, r0 in enumerate(range(0, size, chunk)):
            for j, c0 in enumerate(range(0, size, chunk)):
                rows, cols = min(chunk, size - r0), min(chunk, size - c0)
                x[:, :, r0 : r0 + rows, c0 : c0 + cols] = input_block(seed, i, j, rows, cols)
        y = net(x)
        result["output_shape"] = list(y.shape)
        row_edges = np.cumsum((0,) + plan.chunks[2])
        col_edges = np.cumsum((0,) + plan.chunks[3])
        result["digest"] = _combine(
            _digest(y[:, :, row_edges[i] : row_edges[i + 1], col_edges[j] : col_edges[j + 1]])
            for i in range(len(row_edges) - 1)
            for j in range(len(col_edges) - 1)
        )
    elif variant == "dask":
        workers = fieldconv.get_num_threads()
        fieldconv.set_num_threads(1)  # parallelism across tiles instead of inside each
        blocks = plan.to_delayed().ravel()
        digests = dask.compute(
            *[dask.delayed(_digest)(block) for block in blocks], scheduler="threads", num_workers=workers
        )
        result["output_shape"] = list(plan.shape)
        result["digest"] = _combine(digests)
        result["tasks"] = len(blocks)
        result["threads"] = f"{workers} tasks x 1"
    elif variant != "baseline":
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    result["seconds"] = time.perf_counter() - start
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    return result


def run_dask_benchmark(
    size: int = 4096, chunk: int = 512, *, variants=VARIANTS, seed: int = 0, file=None, show: bool = True
):
    """Run each variant in a fresh process; print a table (unless show=False) and return the rows
    (dicts: variant, seconds, peak_rss_mib, digest, ...)."""
    rows = []
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"variants must be taken from {VARIANTS}, got {variant!r}")
        code = (
            "import json, sys; from fieldconv._dask_bench import _child; "
            f"print(json.dumps(_child({variant!r}, {int(size)}, {int(chunk)}, {int(seed)})))"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
        if done.returncode != 0:
            raise RuntimeError(f"benchmark variant {variant!r} failed:\n{done.stderr}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if show:
        print(format_table(rows), file=file if file is not None else sys.stdout)
    return rows


def format_table(rows) -> str:
    lines = [f"{'variant':<9} {'time (s)':>9} {'peak RSS (MiB)':>15}  {'threads':<11} output digest"]
    for row in rows:
        digest = row.get("digest", "-")
        lines.append(
            f"{row['variant']:<9} {row['seconds']:>9.2f} {row['peak_rss_mib']:>15.0f}  "
            f"{str(row['threads']):<11} {digest}"
        )
    digests = [row["digest"] for row in rows if "digest" in row]
    if len(set(digests)) > 1:
        lines.append("WARNING: the outputs differ between variants")
    elif len(digests) > 1:
        lines.append("outputs identical (per-tile SHA-256)")
    return "\n".join(lines)
