"""Reliability of every public op as an embedded library sees it: many Python threads at once,
the thread count changed while they run, 10,000 calls leaving memory flat, KeyboardInterrupt in
a loop of calls, and sizes beyond the documented limits refused before anything is allocated."""

import os
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc

import numpy as np
import pytest

import fieldconv
import fieldconv.ndimage


def every_op(rng):
    """{name: zero-argument callable returning an array (or a tuple of arrays)}, one per public op,
    each on two shapes and both float dtypes so that one loop mixes shapes, dtypes and algorithms."""
    x32 = rng.standard_normal((2, 8, 19, 17)).astype(np.float32)
    x64 = rng.standard_normal((1, 4, 12, 23))
    w32 = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    w64 = rng.standard_normal((6, 4, 3, 3))
    depthwise = rng.standard_normal((8, 1, 5, 5)).astype(np.float32)
    b32 = rng.standard_normal(16).astype(np.float32)
    image = rng.standard_normal((37, 29))
    kernel = rng.standard_normal((4, 5))
    line = rng.standard_normal(70_000)
    taps = rng.standard_normal(101)
    layer = fieldconv.Conv2d(w32, b32, padding=1)
    net = fieldconv.Sequential(fieldconv.Conv2d(w32, b32, padding=1), fieldconv.ReLU(), fieldconv.MaxPool2d(2))
    max_layer, avg_layer = fieldconv.MaxPool2d(3, 2, 1), fieldconv.AvgPool2d(2, ceil_mode=True)
    return {
        "conv2d direct": lambda: (
            fieldconv.conv2d(x32, w32, b32, stride=2, padding=1, algorithm="direct"),
            fieldconv.conv2d(x64, w64, dilation=2, padding="same", algorithm="direct"),
        ),
        "conv2d depthwise": lambda: fieldconv.conv2d(x32, depthwise, padding=2, groups=8),
        "conv2d winograd": lambda: (
            fieldconv.conv2d(x32, w32, b32, padding=1, algorithm="winograd_f4"),
            fieldconv.conv2d(x64, w64, padding=1, algorithm="winograd_f6"),
        ),
        "conv2d auto": lambda: (fieldconv.conv2d(x32, w32, padding=1), fieldconv.conv2d(x64, w64)),
        "Conv2d": lambda: (layer(x32), layer(x32[0])),
        "Sequential": lambda: net(x32),
        "relu": lambda: (fieldconv.relu(x32), fieldconv.relu(x64)),
        "max_pool2d": lambda: (
            fieldconv.max_pool2d(x32, 3, 2, 1, return_indices=True),
            fieldconv.max_pool2d(x64, 2, dilation=2, ceil_mode=True),
        ),
        "avg_pool2d": lambda: (
            fieldconv.avg_pool2d(x32, 3, 2, 1, count_include_pad=False),
            fieldconv.avg_pool2d(x64, 2, divisor_override=3),
        ),
        "MaxPool2d/AvgPool2d": lambda: (max_layer(x32), avg_layer(x64)),
        "correlate2d/convolve2d": lambda: (
            fieldconv.correlate2d(image, kernel, "same", "symm"),
            fieldconv.convolve2d(image.astype(np.float32), kernel, "full"),
        ),
        "convolve/correlate (FFT and direct)": lambda: (
            fieldconv.convolve(line, taps, method="fft"),
            fieldconv.correlate(line.astype(np.float32), taps[:40].astype(np.float32), "same", method="fft"),
            fieldconv.convolve(line[:5000], taps, "same"),
        ),
        "ndimage correlate/convolve": lambda: (
            fieldconv.ndimage.correlate(image, kernel, mode="mirror"),
            fieldconv.ndimage.convolve(x32, kernel, axes=(2, 3)),
        ),
    }


def _flatten(result):
    return list(result) if isinstance(result, tuple) else [result]


def _flat_results(result):
    out = []
    for item in _flatten(result):
        out.extend(_flatten(item))
    return out


def test_every_op_from_8_threads_matches_serial_while_thread_count_changes(isa):
    """8 Python threads run every op at once, each many times, while a ninth thread keeps
    switching the thread count between 1 and 2: every result is bitwise the serial one
    (results never depend on the thread count, and calls share no mutable state)."""
    ops = every_op(np.random.default_rng(7))
    fieldconv.set_num_threads(2)
    serial = {name: _flat_results(op()) for name, op in ops.items()}
    names = list(ops)
    errors, stop = [], threading.Event()
    barrier = threading.Barrier(9)

    def worker(index):
        try:
            barrier.wait()
            for round_ in range(6):
                for k in range(len(names)):
                    name = names[(index + k + round_) % len(names)]  # threads meet different ops
                    for got, expected in zip(_flat_results(ops[name]()), serial[name]):
                        if not np.array_equal(got, expected, equal_nan=True):
                            raise AssertionError(f"{name} differs from the serial result in thread {index}")
        except BaseException as error:  # reported in the main thread
            errors.append(error)

    def switcher():
        barrier.wait()
        count = 0
        while not stop.is_set():
            fieldconv.set_num_threads(1 + count % 2)
            count += 1
            time.sleep(0.0005)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    toggler = threading.Thread(target=switcher)
    for thread in threads + [toggler]:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    toggler.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    assert not errors, errors


def _run(code: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


RSS_CALLS = 10_000
RSS_WARMUP = 1_000
RSS_BOUND_MIB = 2.0  # per op, between call 1,000 and call 10,000: catches a leak of >= 240 bytes/call


@pytest.mark.skipif(
    os.environ.get("FIELDCONV_SANITIZER") == "asan",
    reason="AddressSanitizer holds freed memory in quarantine (256 MiB): RSS grows without a leak",
)
def test_rss_stays_flat_over_10000_calls_of_each_op():
    """In a fresh process, each op is called 10,000 times (mixed shapes and dtypes, 2 threads);
    resident memory after call 10,000 exceeds that after call 1,000 (allocator pools, caches and
    plans warmed up) by less than RSS_BOUND_MIB. A leaked output of the smallest op (1.5 KiB)
    would add 13 MiB; a leaked workspace far more."""
    code = f"""
        import os, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import numpy as np
        import fieldconv
        from test_reliability import every_op
        fieldconv.set_num_threads(2)
        page = os.sysconf("SC_PAGE_SIZE")
        def rss():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * page
        for name, op in every_op(np.random.default_rng(1)).items():
            for _ in range({RSS_WARMUP}):
                op()
            before = rss()
            for _ in range({RSS_CALLS - RSS_WARMUP}):
                op()
            print(f"{{name}}\\t{{(rss() - before) / 2**20:.3f}}")
    """
    lines = _run(code).strip().splitlines()
    growth = {name: float(mib) for name, mib in (line.split("\t") for line in lines)}
    assert len(growth) == len(every_op(np.random.default_rng(0)))
    assert all(mib < RSS_BOUND_MIB for mib in growth.values()), growth


def test_keyboard_interrupt_in_a_loop_of_calls_leaves_the_module_usable():
    """SIGINT arrives while a Python loop calls the ops (the GIL is released inside them): the
    KeyboardInterrupt surfaces in Python, and afterwards every op still gives its earlier result."""
    code = f"""
        import os, signal, sys, threading
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import numpy as np
        import fieldconv
        from test_reliability import every_op, _flat_results
        ops = every_op(np.random.default_rng(3))
        expected = {{name: _flat_results(op()) for name, op in ops.items()}}
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        calls = 0
        try:
            while True:
                for op in ops.values():
                    op()
                    calls += 1
        except KeyboardInterrupt:
            print("interrupted after", calls, "calls")
        for name, op in ops.items():
            assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(_flat_results(op()), expected[name])), name
        print("usable")
    """
    output = _run(code, timeout=120)
    assert "interrupted after" in output and output.strip().endswith("usable"), output


HUGE_VIEW = np.broadcast_to(np.float64(1.0), (2**31, 2))  # 2**31 rows, no memory behind them


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: fieldconv.correlate2d(np.ones((3, 3)), HUGE_VIEW), ["kernel", "2**31 - 1"]),
        (lambda: fieldconv.correlate2d(HUGE_VIEW, np.ones((3, 2)), "valid"), ["input", "2**31 - 1"]),
        (
            lambda: fieldconv.convolve2d(np.broadcast_to(1.0, (2**30 + 1, 1)), np.broadcast_to(1.0, (2**30, 1))),
            ["output"],
        ),
        (lambda: fieldconv.ndimage.correlate(np.ones((3, 3)), HUGE_VIEW), ["weights", "2**31 - 1"]),
        (lambda: fieldconv.ndimage.convolve(HUGE_VIEW, np.ones((3, 3))), ["input", "2**31 - 1"]),
        (lambda: fieldconv.max_pool2d(np.broadcast_to(np.float32(1), (1, 1, 2**31, 1)), 1), ["height", "2147483647"]),
        (lambda: fieldconv.correlate2d(np.broadcast_to(1.0, (2**25, 2**24)), np.ones((3, 3))), ["input", "2**48"]),
        (lambda: fieldconv.correlate2d(np.broadcast_to(1.0, (2**24, 2**24)), np.ones((3, 3))), ["output", "2**48"]),
    ],
    ids=[
        "signal-kernel",
        "signal-input",
        "signal-output",
        "ndimage-weights",
        "ndimage-input",
        "pool-input",
        "signal-input-elements",
        "signal-output-elements",
    ],
)
def test_sizes_beyond_the_limits_raise_value_error_before_allocating(call, words):
    tracemalloc.start()  # NumPy reports its array allocations to tracemalloc
    try:
        start = time.perf_counter()
        with pytest.raises(ValueError) as info:
            call()
        elapsed = time.perf_counter() - start
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(word in str(info.value) for word in words), str(info.value)
    assert peak_bytes < 1 << 20, f"{peak_bytes} bytes allocated before the error"
    assert elapsed < 5, "took too long: something was computed before the check"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS behaviour is Linux's")
@pytest.mark.skipif(
    "FIELDCONV_SANITIZER" in os.environ,
    reason="under a sanitizer (.ci/sanitize) RLIMIT_AS makes the sanitizer's own allocator fail",
)
def test_allocation_failure_under_an_address_space_limit_leaves_the_process_working():
    """Under an address-space limit the larger calls cannot allocate (their input copy, output
    or workspace): they raise MemoryError and the process goes on working. A failure inside a
    parallel kernel would terminate it instead (the regions are noexcept), which is why every
    workspace is allocated, and its failure reported, before the region starts."""
    code = """
        import resource
        import numpy as np
        import fieldconv
        fieldconv.set_num_threads(2)
        x = np.ones((1, 64, 300, 300), np.float32)
        w = np.ones((64, 64, 3, 3), np.float32)
        expected = fieldconv.conv2d(x[:, :, :8, :8], w)
        resource.setrlimit(resource.RLIMIT_AS, (2**30 + 2**29, resource.RLIM_INFINITY))
        outcomes = set()
        for algorithm in ("direct", "winograd_f6"):
            for size in (300, 1200, 2400):
                try:
                    fieldconv.conv2d(np.broadcast_to(np.float32(1), (1, 64, size, size)), w, algorithm=algorithm)
                    outcomes.add("ok")
                except (MemoryError, ValueError) as error:
                    outcomes.add(type(error).__name__)
        assert np.array_equal(fieldconv.conv2d(x[:, :, :8, :8], w), expected)
        print(sorted(outcomes))
    """
    output = _run(code, timeout=120)
    assert "MemoryError" in output, output
