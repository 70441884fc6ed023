"""The benchmark command: its peers compute the same thing, and the command runs end to end."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import numpy as np
import pytest

import fieldconv
from fieldconv import benchmark
from reference import conv2d_reference

SMALL = {
    "plain": benchmark.conv_workload("test-plain", 2, 5, 9, 7, 3, padding=1),
    "strided-dilated": benchmark.conv_workload("test-strided", 1, 4, 12, 6, 3, stride=2, padding=2, dilation=2),
    "grouped": benchmark.conv_workload("test-grouped", 2, 6, 8, 9, 3, padding=1, groups=3),
    "depthwise": benchmark.conv_workload("test-depthwise", 1, 4, 10, 4, 5, stride=3, padding=2, groups=4),
    "no-bias-1x1": benchmark.conv_workload("test-1x1", 1, 8, 5, 3, 1, bias=False),
}


@pytest.mark.parametrize("workload", SMALL.values(), ids=SMALL.keys())
def test_every_implementation_computes_the_convolution(workload):
    arrays = workload.make_arrays()
    params = workload.params
    expected = conv2d_reference(
        arrays["x"],
        arrays["weight"],
        arrays["bias"],
        stride=params["stride"],
        padding=params["padding"],
        dilation=params["dilation"],
        groups=params["groups"],
    )
    assert expected.shape[2:] == benchmark.conv_output_size(params)
    ran = 0
    for implementation in benchmark.IMPLEMENTATIONS["conv2d"]:
        try:
            function = implementation.prepare(workload, arrays, 1)
        except benchmark.Unavailable:
            continue
        result = np.asarray(function())
        assert result.shape == expected.shape, implementation.name
        np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4, err_msg=implementation.name)
        ran += 1
    assert ran >= 2  # fieldconv and NumPy at least


DROP_INS = {
    "nd-float64": benchmark.drop_ins.nd_workload(9, 3, "float64"),
    "nd-float32": benchmark.drop_ins.nd_workload(8, 5, "float32"),
    "gaussian-2d": benchmark.drop_ins.gaussian_workload(20, 2, 1.5, "float32"),
    "gaussian-3d": benchmark.drop_ins.gaussian_workload(10, 3, 1.0, "float64"),
    "convolve": benchmark.drop_ins.convolve_workload(300, 7),
}


@pytest.mark.parametrize("workload", DROP_INS.values(), ids=DROP_INS.keys())
def test_drop_in_implementations_agree(workload):
    # fieldconv against the function it replaces (float32: float32 sums against SciPy's
    # float64 ones, within a few float32 roundings of the largest value)
    if workload.kind != "convolve":
        pytest.importorskip("scipy")
    arrays = workload.make_arrays()
    results = []
    for implementation in benchmark.IMPLEMENTATIONS[workload.kind]:
        try:
            function = implementation.prepare(workload, arrays, 1)
        except benchmark.Unavailable:
            continue
        results.append((implementation.name, np.asarray(function())))
    assert len(results) >= 2 and results[0][0].startswith("fieldconv")
    ours = results[0][1]
    scale = np.abs(ours).max()
    for name, result in results[1:]:
        assert result.shape == ours.shape, name
        np.testing.assert_allclose(result, ours, rtol=0, atol=1e-5 * scale, err_msg=name)
    assert workload.flops() > 0


def test_flop_count():
    workload = benchmark.WORKLOADS["resnet18-3x3-64@56"]
    assert workload.flops() == 2 * 64 * 56 * 56 * 64 * 9
    depthwise = benchmark.WORKLOADS["depthwise-3x3-128@56"]
    assert depthwise.flops() == 2 * 128 * 56 * 56 * 9


def test_registry_holds_the_stated_workloads():
    names = set(benchmark.WORKLOADS)
    for required in (
        "resnet18-3x3-64@56",
        "resnet18-3x3-128@28",
        "resnet18-3x3-256@14",
        "resnet18-3x3-512@7",
        "resnet18-3x3-64@56-n8",
        "resnet18-3x3-512@7-n8",
        "stem-7x7s2-3to64@224",
        "1x1-256to64@56",
        "depthwise-3x3-128@56",
        "vgg-3x3-64@224",
        "ndimage-128^3-3x3x3-float64",
        "gaussian-2048^2-float32",
        "gaussian-128^3-float64",
        "convolve-1e6x101-float64",
        "convolve-1e6x10000-float64",
    ):
        assert required in names
    defaults = benchmark.select_workloads("default")
    assert 0 < len(defaults) < len(benchmark.WORKLOADS)
    assert benchmark.select_workloads("all") == list(benchmark.WORKLOADS.values())
    with pytest.raises(SystemExit):
        benchmark.select_workloads("no-such-workload")


def test_scipy_is_skipped_when_too_slow():
    pytest.importorskip("scipy")
    vgg = benchmark.WORKLOADS["vgg-3x3-64@224"]
    with pytest.raises(benchmark.Unavailable, match="skipped"):
        benchmark.prepare_scipy(vgg, {}, 1)


def test_command_runs_and_writes_json(tmp_path, monkeypatch):
    tiny = benchmark.conv_workload("test-tiny", 1, 4, 8, 8, 3, padding=1)
    monkeypatch.setitem(benchmark.WORKLOADS, tiny.name, tiny)  # how later issues add workloads
    monkeypatch.setattr(benchmark.timing, "SETTLE_SECONDS", 0.0)
    path = tmp_path / "bench.json"
    out = io.StringIO()
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    args = parser.parse_args(
        ["--workload", "test-tiny", "--repeats", "2", "--threads", "1", "--json", str(path), "--no-blas-peak"]
    )
    benchmark.run(args, out=out)
    text = out.getvalue()
    assert "test-tiny" in text and "fieldconv direct" in text and "% peak" in text
    assert "fieldconv variants (time / ours)" in text and "direct " in text.split("fieldconv variants")[-1]
    assert "GFLOP/s" in text and f"{document_isa(fieldconv_isa())} FMA peak on 1 threads" in text
    document = json.loads(path.read_text())
    rows = {r["implementation"]: r for r in document["results"]}
    ours = rows["fieldconv auto"]  # the baseline: what users call by default
    assert ours["ratio"] == 1.0 and len(ours["seconds"]) == 2 and ours["gflops"] > 0
    assert rows["fieldconv direct"]["ratio"] > 0 and ours["spread_percent"] >= 0
    assert rows["numpy im2col"]["median_seconds"] > 0
    for name, row in rows.items():
        assert row["status"] == "ok" or row["median_seconds"] is None, name


def fieldconv_isa():
    import fieldconv

    return fieldconv.get_isa()


def document_isa(isa):
    return isa if isa in ("avx2", "avx512") else "avx2"


def test_isa_option_selects_the_kernels_and_the_peak(monkeypatch):
    from fieldconv import _core

    monkeypatch.setattr(benchmark.timing, "SETTLE_SECONDS", 0.0)
    tiny = benchmark.conv_workload("test-isa", 1, 2, 6, 3, 3)
    monkeypatch.setitem(benchmark.WORKLOADS, tiny.name, tiny)
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    previous = _core.get_isa()
    try:
        out = io.StringIO()
        benchmark.run(
            parser.parse_args(
                [
                    "--workload",
                    "test-isa",
                    "--repeats",
                    "1",
                    "--isa",
                    "generic",
                    "--no-blas-peak",
                    "--ghz",
                    "2.0",
                    "--threads",
                    "1",
                ]
            ),
            out=out,
        )
        text = out.getvalue()
        assert "generic kernels" in text
        assert (
            "generic FMA peak on 1 threads = 64 GFLOP/s (--ghz: 2 FMA pipes x 8 fp32 lanes x 2 flop x 2.00 GHz" in text
        )
    finally:
        _core.set_isa(previous)
    assert benchmark.measure_peak(2, blas=False, ghz=3.0, isa="avx512").peak_gflops == 2 * 16 * 2 * 3.0 * 2


def test_torch_isa_avx2_is_applied_before_import():
    pytest.importorskip("torch")
    code = (
        "from fieldconv import benchmark; benchmark.configure_torch_isa('avx2'); "
        "import torch, os; print(torch.backends.cpu.get_cpu_capability(), os.environ['ONEDNN_MAX_CPU_ISA'])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    capability, onednn = result.stdout.split()
    assert capability in ("AVX2", "DEFAULT") and onednn == "AVX2"


def test_main_module_help():
    result = subprocess.run(
        [sys.executable, "-m", "fieldconv", "bench", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "--torch-isa" in result.stdout and "--workload" in result.stdout


def test_registries_accept_new_kinds_and_implementations(monkeypatch):
    """A later issue adds an operation kind (no flop count) with its own implementations."""
    monkeypatch.setattr(benchmark.timing, "SETTLE_SECONDS", 0.0)
    monkeypatch.setitem(benchmark.FLOP_COUNTS, "test-kind", lambda params: None)
    monkeypatch.setitem(
        benchmark.ARRAY_FACTORIES,
        "test-kind",
        lambda params, dtype, rng: {"x": rng.standard_normal(params["size"]).astype(dtype)},
    )

    def unavailable(workload, arrays, threads):
        raise benchmark.Unavailable("n/a (not installed)")

    monkeypatch.setitem(
        benchmark.IMPLEMENTATIONS,
        "test-kind",
        [
            benchmark.Implementation("ours sum", lambda w, a, t: lambda: a["x"].sum(), ours=True),
            benchmark.Implementation("ours cumsum", lambda w, a, t: lambda: a["x"].cumsum(), ours=True),
            benchmark.Implementation("absent peer", unavailable),
        ],
    )
    workload = benchmark.Workload("test-sum", "test-kind", "sum of 1000 values", {"size": 1000})
    monkeypatch.setitem(benchmark.WORKLOADS, workload.name, workload)
    peak = benchmark.measure_peak(1, blas=False, ghz=3.0)
    assert peak.peak_gflops == 2 * 8 * 2 * 3.0
    results = benchmark.run_workload(workload, 1, 2, peak)
    assert [r.implementation for r in results] == ["ours sum", "ours cumsum", "absent peer"]
    assert results[0].ratio == 1.0 and results[1].ratio > 0 and results[0].gflops is None
    assert results[2].status == "n/a (not installed)" and results[2].median_seconds is None
    table = benchmark.format_workload_table(workload, results)
    assert "n/a (not installed)" in table and "1 (baseline)" in table
    summary = benchmark.format_summary({workload.name: results}, [r.implementation for r in results])
    assert "absent peer n/a (not installed)" in summary and "ours cumsum " in summary and "peer time / ours" in summary


def test_absent_peers_say_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    workload = SMALL["plain"]
    with pytest.raises(benchmark.Unavailable, match=r"^n/a \(not installed\)$"):
        benchmark.prepare_torch(workload, workload.make_arrays(), 1)
    monkeypatch.setattr(benchmark.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(benchmark.Unavailable, match=r"^n/a \(not installed\)$"):
        benchmark.prepare_scipy(workload, workload.make_arrays(), 1)
    assert benchmark.torch_description() == "torch: not installed"


def test_contention_scenario_machinery(monkeypatch):
    """The pieces of ``bench --contention`` (no timing asserted): every op of the bar computes
    what the public API computes, the table flags ratios below the bar, the competing process
    really spins on one CPU and stops, and the other libraries' calls run."""
    import os
    import time

    from fieldconv.benchmark import contention

    rng = np.random.default_rng(0)
    ops = contention.operations(rng)
    assert len(ops) == 7 and all(op() is not None for op in ops.values())
    results = contention.compare_thread_counts(
        {"pool": lambda: fieldconv.max_pool2d(np.ones((1, 2, 8, 8)), 2)}, threads=2, rounds=2, seconds=0.001
    )
    assert set(results["pool"]) == {"one", "many", "ratio", "low", "high"}
    table = contention.format_table("t", {"a": dict(one=1.0, many=2.0, ratio=0.5, low=0.4, high=0.6)}, 2)
    assert "0.50" in table and "< 0.9" in table
    with contention.CompetingProcess() as competitor:
        pid = competitor.process.pid
        time.sleep(0.3)
        with open(f"/proc/{pid}/stat") as stat:
            assert stat.read().split(")")[1].split()[0] == "R"  # running, not sleeping
        if competitor.cpu is not None:
            assert os.sched_getaffinity(pid) == {competitor.cpu}
    assert not competitor.process.is_alive()
    for _, call in contention.other_pools(rng):
        assert call() is not None


def test_compare_and_plot(tmp_path, monkeypatch):
    """--compare prints new / old per workload and implementation; --plot writes a PNG."""
    pytest.importorskip("matplotlib")
    tiny = benchmark.conv_workload("test-tiny", 1, 4, 8, 8, 3, padding=1)
    monkeypatch.setitem(benchmark.WORKLOADS, tiny.name, tiny)
    monkeypatch.setattr(benchmark.timing, "SETTLE_SECONDS", 0.0)
    old = tmp_path / "old.json"
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    common = ["--workload", "test-tiny", "--repeats", "2", "--threads", "1", "--no-blas-peak"]
    benchmark.run(parser.parse_args(common + ["--json", str(old)]), out=io.StringIO())
    out = io.StringIO()
    png = tmp_path / "ratios.png"
    benchmark.run(parser.parse_args(common + ["--compare", str(old), "--plot", str(png)]), out=out)
    text = out.getvalue()
    assert "compared with the old run" in text and "| test-tiny" in text and "fieldconv auto" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_noise_warning_quotes_the_spread():
    results = {
        "w": [
            benchmark.Result("w", "a", ours=True, seconds=[1.0, 1.0, 2.0, 2.0], spread_percent=40.0),
            benchmark.Result("w", "b", seconds=[1.0], spread_percent=5.0),
        ]
    }
    warning = benchmark.report.noise_warning(results)
    assert "up to 40 %" in warning and "(a, w)" in warning
    assert benchmark.report.noise_warning({"w": [benchmark.Result("w", "a", spread_percent=3.0)]}) is None
    assert benchmark.timing.spread_percent([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(100.0)  # (4.5 - 1.5) / 3


@pytest.mark.parametrize("model", ["resnet18", "mobilenet_v2"])
def test_network_implementations_compute_the_same_network(model):
    """The whole-network workloads: fieldconv's imported model and torch eager agree, and the
    operation count is torch's conv + linear multiply-adds, doubled. Tolerance: test_from_torch's
    bound L * sqrt(K_max) * 2**-24 * max|torch| is 8.5e-5 for ResNet-18 (21 layers, K_max = 4608)
    and less for MobileNet v2; 1e-4 covers both."""
    pytest.importorskip("torch")
    workload = benchmark.network_workload(f"test-{model}", model, 2, size=64)
    arrays = workload.make_arrays()
    results = {}
    for implementation in benchmark.IMPLEMENTATIONS["network"]:
        try:
            function = implementation.prepare(workload, arrays, 1)
        except benchmark.Unavailable:
            continue
        output = function()
        results[implementation.name] = np.asarray(output[0] if isinstance(output, list) else output)
    ours, torch_eager = results["fieldconv network"], results["torch eager"]
    assert ours.shape == torch_eager.shape == (2, 1000)
    np.testing.assert_allclose(ours, torch_eager, rtol=0, atol=1e-4 * float(np.max(np.abs(torch_eager))))
    for name, result in results.items():
        np.testing.assert_allclose(
            result, torch_eager, rtol=0, atol=1e-4 * float(np.max(np.abs(torch_eager))), err_msg=name
        )
    from fieldconv.benchmark.networks import _torch_model
    from fieldconv.benchmark.torch_models import conv_linear_macs

    assert workload.flops() == 2.0 * conv_linear_macs(_torch_model(model, 64), (2, 3, 64, 64)) > 0
    assert {"resnet18-n1", "resnet18-n8", "resnet50-n1", "resnet50-n8", "mobilenet_v2-n1", "mobilenet_v2-n8"} <= set(
        benchmark.WORKLOADS
    )


def test_blocks_after_spinning_peers_wait_longer(monkeypatch):
    """A block after an implementation whose threads spin on (OpenBLAS: ~0.1 s) waits that long;
    other blocks wait SETTLE_SECONDS; each workload starts with fresh thread-pool judgments."""
    pauses = []
    monkeypatch.setattr(benchmark.timing.time, "sleep", pauses.append)
    monkeypatch.setattr(benchmark.timing, "_pause_before_next_block", benchmark.timing.SETTLE_SECONDS)
    resets = []
    monkeypatch.setattr(benchmark.timing._core, "team_statistics", lambda reset: resets.append(reset))
    monkeypatch.setitem(benchmark.FLOP_COUNTS, "test-kind", lambda params: None)
    monkeypatch.setitem(benchmark.ARRAY_FACTORIES, "test-kind", lambda params, dtype, rng: {"x": np.ones(4)})
    monkeypatch.setitem(
        benchmark.IMPLEMENTATIONS,
        "test-kind",
        [
            benchmark.Implementation("ours", lambda w, a, t: lambda: a["x"].sum(), ours=True),
            benchmark.Implementation("spinning peer", lambda w, a, t: lambda: a["x"].sum(), spins_after_seconds=0.15),
        ],
    )
    workload = benchmark.Workload("test-spin", "test-kind", "sum", {})
    peak = benchmark.measure_peak(1, blas=False, ghz=3.0)
    benchmark.run_workload(workload, 1, 2, peak)
    settle = benchmark.timing.SETTLE_SECONDS
    # before the warm-ups (the test's starting value), then round 0: ours (after the peer's
    # warm-up), the peer (after ours); round 1, rotated: the peer (after the peer), then ours
    assert pauses == [settle, 0.15, settle, 0.15, 0.15]
    assert resets == [True]
