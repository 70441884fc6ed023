"""Threads: the initial count (OMP_NUM_THREADS, affinity, cgroup quota), the process-wide budget
shared by concurrent calls, small calls on the caller alone, ``fieldconv.threads``, threadpoolctl,
show_config and fork children. Timing is the benchmark's business (``python -m fieldconv bench
--contention``); nothing here asserts a time."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fieldconv
from fieldconv import _core
from conftest import fork_child_starts_threads
from reference import conv2d_reference


def run_python(code: str, env_updates: dict | None = None, timeout: float = 120, affinity=None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.update(env_updates or {})
    preexec = (lambda: os.sched_setaffinity(0, affinity)) if affinity is not None else None
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


COUNT_AND_SOURCE = "import fieldconv, fieldconv._core as c; print(fieldconv.get_num_threads(), c.num_threads_source())"


# ---- the initial count ------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [("3", "3"), ("4,2", "4"), ("100000", "1024")])
def test_initial_count_from_omp_num_threads(value, expected):
    assert run_python(COUNT_AND_SOURCE, {"OMP_NUM_THREADS": value}) == f"{expected} OMP_NUM_THREADS"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_initial_count_from_affinity():
    cpu = sorted(os.sched_getaffinity(0))[0]
    out = run_python(COUNT_AND_SOURCE + "; print(c.affinity_cpu_count())", affinity={cpu})
    assert out.split("\n")[0] in ("1 CPU affinity", "1 cgroup CPU quota")
    assert out.split("\n")[1] == "1"


def test_initial_count_is_affinity_or_quota_here():
    count, source = run_python(COUNT_AND_SOURCE).split(" ", 1)
    affinity = len(os.sched_getaffinity(0))
    quota = _core.cgroup_cpu_limit("/proc/self/cgroup", "/sys/fs/cgroup")
    assert int(count) == (min(affinity, quota) if quota else affinity)
    assert source == ("cgroup CPU quota" if quota and quota < affinity else "CPU affinity")


# ---- cgroup quota parsing on fake files ---------------------------------------------------------


def _fake_cgroup(tmp_path, membership: str, files: dict) -> int:
    (tmp_path / "self_cgroup").write_text(membership)
    root = tmp_path / "fs"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    root.mkdir(exist_ok=True)
    return _core.cgroup_cpu_limit(str(tmp_path / "self_cgroup"), str(root))


@pytest.mark.parametrize(
    "cpu_max, expected",
    [
        ("200000 100000\n", 2),  # 2 CPUs
        ("150000 100000\n", 2),  # 1.5 CPUs round up: a thread per started CPU
        ("50000 100000\n", 1),
        ("max 100000\n", 0),  # no quota
        ("garbage\n", 0),
    ],
)
def test_cgroup_v2_quota(tmp_path, cpu_max, expected):
    assert _fake_cgroup(tmp_path, "0::/box\n", {"box/cpu.max": cpu_max}) == expected


def test_cgroup_v2_quota_of_an_ancestor_bounds_its_children(tmp_path):
    files = {"cpu.max": "max 100000\n", "outer/cpu.max": "300000 100000\n", "outer/inner/cpu.max": "max 100000\n"}
    assert _fake_cgroup(tmp_path, "0::/outer/inner\n", files) == 3
    files["outer/inner/cpu.max"] = "100000 100000\n"
    assert _fake_cgroup(tmp_path, "0::/outer/inner\n", files) == 1


def test_cgroup_v2_path_missing_under_the_mount_reads_the_mount_root(tmp_path):
    # inside a cgroup namespace /proc/self/cgroup may name the host's path
    assert _fake_cgroup(tmp_path, "0::/host/slice/box\n", {"cpu.max": "400000 100000\n"}) == 4


def test_cgroup_v1_quota(tmp_path):
    membership = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n"
    files = {
        "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "250000\n",
        "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
    }
    assert _fake_cgroup(tmp_path, membership, files) == 3
    files["cpu,cpuacct/docker/abc/cpu.cfs_quota_us"] = "-1\n"  # no quota
    assert _fake_cgroup(tmp_path, membership, files) == 0


def test_cgroup_unreadable_means_no_quota(tmp_path):
    assert _core.cgroup_cpu_limit(str(tmp_path / "missing"), str(tmp_path)) == 0
    assert _fake_cgroup(tmp_path, "0::/box\n", {}) == 0


# ---- set_num_threads, threads(), show_config ----------------------------------------------------


def test_set_num_threads_limits():
    fieldconv.set_num_threads(_core.max_num_threads)
    assert fieldconv.get_num_threads() == 1024 == _core.max_num_threads
    with pytest.raises(ValueError, match=r"n must be .*1024.*got 1025"):
        fieldconv.set_num_threads(1025)
    with pytest.raises(ValueError, match="n must be between 1 and 1024, got 0|n must be"):
        fieldconv.set_num_threads(0)
    assert fieldconv.get_num_threads() == 1024
    assert _core.num_threads_source() == "set_num_threads"


def test_threads_context_manager_restores_count_and_source():
    fieldconv.set_num_threads(2)
    with fieldconv.threads(1):
        assert fieldconv.get_num_threads() == 1
        assert _core.num_threads_source() == "fieldconv.threads"
        with fieldconv.threads(3):
            assert fieldconv.get_num_threads() == 3
        assert fieldconv.get_num_threads() == 1
    assert fieldconv.get_num_threads() == 2
    assert _core.num_threads_source() == "set_num_threads"
    with pytest.raises(KeyError):
        with fieldconv.threads(1):
            raise KeyError("inside")
    assert fieldconv.get_num_threads() == 2
    with pytest.raises(ValueError, match="n must be"):
        with fieldconv.threads(0):
            pass
    with pytest.raises(TypeError, match="n"):
        with fieldconv.threads(1.5):
            pass
    assert fieldconv.get_num_threads() == 2


def test_show_config_says_where_the_count_came_from():
    with fieldconv.threads(1):
        text = io.StringIO()
        fieldconv.show_config(file=text)
    assert "threads:   1 (from fieldconv.threads; CPU affinity " in text.getvalue()
    fieldconv.set_num_threads(2)
    text = io.StringIO()
    fieldconv.show_config(file=text)
    assert "threads:   2 (from set_num_threads;" in text.getvalue()
    assert "cgroup CPU quota" in text.getvalue()


# ---- threadpoolctl ----------------------------------------------------------------------------


def test_threadpoolctl_lists_and_limits_fieldconv():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not hasattr(threadpoolctl, "register"):
        pytest.skip("threadpoolctl < 3.5 has no custom controllers")
    fieldconv.set_num_threads(2)
    ours = [info for info in threadpoolctl.threadpool_info() if info["internal_api"] == "fieldconv"]
    assert len(ours) == 1
    assert ours[0]["user_api"] == "openmp" and ours[0]["num_threads"] == 2
    assert ours[0]["version"] == fieldconv.__version__
    assert os.path.basename(ours[0]["filepath"]).startswith("_core")
    with threadpoolctl.threadpool_limits(1):
        assert fieldconv.get_num_threads() == 1
        assert _core.num_threads_source() == "threadpoolctl"
    assert fieldconv.get_num_threads() == 2
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fieldconv.get_num_threads() == 1
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert fieldconv.get_num_threads() == 2
    controller = threadpoolctl.ThreadpoolController().select(internal_api="fieldconv")
    with controller.limit(limits=1):
        assert fieldconv.get_num_threads() == 1
    assert fieldconv.get_num_threads() == 2


# ---- how many threads a call takes ------------------------------------------------------------


def small_calls(rng):
    """Every op on inputs too small to gain from a second thread (tens of microseconds)."""
    x = rng.standard_normal((1, 8, 32, 32)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    depthwise = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    image = rng.standard_normal((64, 64)).astype(np.float32)
    return {
        "conv2d direct": lambda: fieldconv.conv2d(x, w, padding=1, algorithm="direct"),
        "conv2d winograd": lambda: fieldconv.conv2d(x, w, padding=1, algorithm="winograd"),
        "conv2d depthwise": lambda: fieldconv.conv2d(x, depthwise, padding=1, groups=8),
        "Conv2d auto": lambda: fieldconv.Conv2d(w, padding=1)(x),
        "max_pool2d": lambda: fieldconv.max_pool2d(x, 2),
        "max_pool2d indices": lambda: fieldconv.max_pool2d(x, 3, 2, 1, return_indices=True),
        "avg_pool2d": lambda: fieldconv.avg_pool2d(x, 2),
        "correlate2d": lambda: fieldconv.correlate2d(image, w[0, 0]),
        "ndimage.correlate": lambda: fieldconv.ndimage.correlate(image, w[0, 0]),
    }


def large_calls(rng):
    x = rng.standard_normal((1, 32, 96, 96)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    image = rng.standard_normal((1024, 1024)).astype(np.float32)
    return {
        "conv2d direct": lambda: fieldconv.conv2d(x, w, padding=1, algorithm="direct"),
        "conv2d winograd": lambda: fieldconv.conv2d(x, w, padding=1, algorithm="winograd"),
        "max_pool2d": lambda: fieldconv.max_pool2d(np.repeat(x, 4, axis=1), 3, 2, 1),
        "ndimage.correlate": lambda: fieldconv.ndimage.correlate(image, w[0, :5].reshape(15, 3)[:5]),
    }


def test_small_calls_run_on_the_caller_alone(rng):
    fieldconv.set_num_threads(2)
    for name, call in small_calls(rng).items():
        call()
        _core.team_statistics(reset=True)
        call()
        assert _core.team_statistics()["teams"] == 0, name


def test_large_calls_take_helpers(rng):
    fieldconv.set_num_threads(2)
    for name, call in large_calls(rng).items():
        _core.team_statistics(reset=True)  # also forgets any caller-alone window a busy machine opened
        call()
        stats = _core.team_statistics()
        assert stats["teams"] >= 1 and stats["peak_helpers"] == 1, name
    fieldconv.set_num_threads(1)
    _core.team_statistics(reset=True)
    for call in large_calls(rng).values():
        call()
    assert _core.team_statistics()["teams"] == 0


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2, reason="needs Linux and 2 CPUs"
)
def test_helpers_that_leave_their_callers_cpu_keep_their_affinity():
    """A helper woken on its caller's CPU moves to an idle one by narrowing its affinity for a
    moment (docs/threads.md): afterwards every helper still has the process's CPUs, and the
    results are unchanged. The caller is pinned to one CPU and pauses between calls, so that its
    helper is often woken there (whether it then moves is the scheduler's doing)."""
    out = run_python(
        """
        import os, threading, time
        import numpy as np
        import fieldconv, fieldconv.functional as F
        allowed = sorted(os.sched_getaffinity(0))
        fieldconv.set_num_threads(2)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((1, 32, 64, 64)).astype(np.float32)
        w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
        first = F.conv2d(x, w, padding=1, algorithm="direct")  # starts the helper (it inherits all CPUs)
        os.sched_setaffinity(0, {allowed[0]})  # this (main) thread only
        same = True
        for _ in range(20):
            time.sleep(0.03)
            fieldconv._core.team_statistics(reset=True)  # no caller-alone window: every call a team
            same &= np.array_equal(F.conv2d(x, w, padding=1, algorithm="direct"), first)
        main = threading.get_native_id()
        # a helper that came too late for the last call may still be between narrowing and
        # restoring its affinity (microseconds): read again for up to a second before judging
        for _ in range(100):
            masks = set()
            for task in os.listdir("/proc/self/task"):
                if int(task) != main:
                    masks.add(frozenset(os.sched_getaffinity(int(task))))
            if all(mask == frozenset(allowed) for mask in masks):
                break
            time.sleep(0.01)
        print(same, all(mask == frozenset(allowed) for mask in masks), len(masks) > 0)
        """
    )
    assert out == "True True True"


def test_threads_for_work():
    fieldconv.set_num_threads(4)
    _core.team_statistics(reset=True)
    assert _core.threads_for_work(0) == 1
    assert _core.threads_for_work(10_000) == 1  # 10 us: alone
    assert _core.threads_for_work(90_000) == 1  # under 100 us: alone
    assert _core.threads_for_work(120_000) == 2  # two threads' worth
    assert _core.threads_for_work(1e9) == 4  # capped by the budget
    assert _core.threads_for_work(float("nan")) == 1
    fieldconv.set_num_threads(1)
    assert _core.threads_for_work(1e9) == 1


@pytest.mark.parametrize("budget, callers", [(2, 4), (3, 4), (2, 1)])
def test_concurrent_callers_share_one_budget(rng, budget, callers):
    """N Python threads calling at once add no helpers beyond the budget: callers count, helpers
    are granted only while the threads inside fieldconv number fewer than the budget."""
    x = rng.standard_normal((1, 32, 64, 64)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    layer = fieldconv.Conv2d(w, padding=1, algorithm="direct")
    expected = layer(x)
    fieldconv.set_num_threads(budget)
    _core.team_statistics(reset=True)
    results, barrier = [None] * callers, threading.Barrier(callers)

    def work(index):
        barrier.wait()
        results[index] = [layer(x) for _ in range(5)]

    workers = [threading.Thread(target=work, args=(i,)) for i in range(callers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stats = _core.team_statistics()
    assert stats["peak_helpers"] <= budget - 1
    assert stats["peak_active_threads"] <= callers + budget - 1
    if callers == 1:
        assert stats["peak_helpers"] == 1 and stats["peak_active_threads"] == 2
    for outputs in results:
        for y in outputs:
            np.testing.assert_array_equal(y, expected)


# ---- fork ---------------------------------------------------------------------------------------

FORK_CHILD = """
    import os, sys, warnings, threading
    import numpy as np
    import fieldconv, fieldconv._core as c
    sys.path.insert(0, {tests!r})
    from reference import conv2d_reference
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 16, 48, 48))
    w = rng.standard_normal((16, 16, 3, 3))
    expected = conv2d_reference(x, w, None, padding=(1, 1, 1, 1))
    fieldconv.set_num_threads(2)
    {before_fork}
    pid = os.fork()
    if pid == 0:
        try:
            c.team_statistics(True)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fieldconv.set_num_threads(2)
                fieldconv.set_num_threads(2)
            y = fieldconv.conv2d(x, w, padding=1, algorithm="direct")
            ok = np.allclose(y, expected, rtol=0, atol=1e-10)
            print(fieldconv.get_num_threads(), c.team_statistics()["teams"] > 0, len(caught), ok, flush=True)
            if caught:
                print(caught[0].message, flush=True)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
"""


def _fork_case(before_fork: str) -> list:
    tests = os.path.dirname(os.path.abspath(__file__))
    code = FORK_CHILD.format(tests=tests, before_fork=before_fork)
    return run_python(code, timeout=120).split("\n")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_before_any_team_keeps_threads():
    lines = _fork_case("pass")
    assert lines[0] == "2 True 0 True"


@fork_child_starts_threads
def test_fork_after_a_team_keeps_threads_without_a_warning():
    """The pool's threads do not exist in the child: it starts new ones and computes with a team."""
    lines = _fork_case(
        "fieldconv.conv2d(x, w, padding=1, algorithm='direct'); c.team_statistics(True); "
        "assert fieldconv.conv2d(x, w, padding=1, algorithm='direct') is not None; "
        "assert c.team_statistics()['teams'] > 0"
    )
    assert lines[0] == "2 True 0 True"


@fork_child_starts_threads
def test_fork_after_another_thread_ran_teams_keeps_threads():
    lines = _fork_case(
        "t = threading.Thread(target=lambda: fieldconv.conv2d(x, w, padding=1, algorithm='direct')); "
        "t.start(); t.join()"
    )
    assert lines[0] == "2 True 0 True"


def test_results_do_not_depend_on_the_thread_count(rng):
    x = rng.standard_normal((2, 16, 40, 40))
    w = rng.standard_normal((24, 16, 3, 3))
    expected = conv2d_reference(x, w, None, padding=(1, 1, 1, 1))
    outputs = []
    for n in (1, 2, 3):
        fieldconv.set_num_threads(n)
        _core.team_statistics(reset=True)
        outputs.append(fieldconv.conv2d(x, w, padding=1, algorithm="direct"))
    np.testing.assert_allclose(outputs[0], expected, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], outputs[2])
