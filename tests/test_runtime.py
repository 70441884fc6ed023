"""Runtime settings: thread count, kernel family, configuration, forking."""

from __future__ import annotations

import io
import os
import platform
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fieldconv
from fieldconv import _core

from conftest import fork_child_starts_threads


def run_python(code: str, env_updates: dict, timeout: float = 60) -> str:
    env = dict(os.environ)
    env.update(env_updates)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_version():
    assert isinstance(fieldconv.__version__, str)
    assert fieldconv.__version__.count(".") >= 2
    assert fieldconv.__version__[0].isdigit()


def test_set_and_get_num_threads():
    fieldconv.set_num_threads(3)
    assert fieldconv.get_num_threads() == 3
    fieldconv.set_num_threads(np.int64(1))
    assert fieldconv.get_num_threads() == 1


@pytest.mark.parametrize(
    "value, error",
    [
        (0, ValueError),
        (-2, ValueError),
        (1.5, TypeError),
        ("2", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_set_num_threads_rejects(value, error):
    before = fieldconv.get_num_threads()
    with pytest.raises(error, match="n"):
        fieldconv.set_num_threads(value)
    assert fieldconv.get_num_threads() == before


def test_get_isa_is_a_known_family():
    assert fieldconv.get_isa() in ("avx512", "avx2", "generic")


def test_set_isa_rejects_unknown_names():
    before = fieldconv.get_isa()
    with pytest.raises(ValueError, match="isa"):
        _core.set_isa("sse9")
    assert fieldconv.get_isa() == before


def test_fieldconv_isa_environment_forces_generic():
    code = "import fieldconv; print(fieldconv.get_isa())"
    assert run_python(code, {"FIELDCONV_ISA": "generic"}) == "generic"
    # an unknown request falls back to the portable kernels rather than failing, with a warning
    warned = "import warnings; warnings.simplefilter('error'); import fieldconv"
    assert run_python(code, {"FIELDCONV_ISA": "nonsense"}) == "generic"
    with pytest.raises(AssertionError, match="RuntimeWarning: FIELDCONV_ISA='nonsense' is not a kernel family"):
        run_python(warned, {"FIELDCONV_ISA": "nonsense"})
    run_python(warned, {"FIELDCONV_ISA": "generic"})  # no warning for a request that is met


QEMU = shutil.which("qemu-x86_64")
NO_AVX2_CPU = "SandyBridge"  # AVX but neither AVX2 nor FMA (NumPy 2's x86-64-v2 baseline holds)


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or QEMU is None,
    reason="needs x86-64 and qemu-user (apt-get install qemu-user)",
)
def test_import_and_compute_on_a_cpu_without_avx2():
    """The installed extension, run under qemu emulating a CPU without AVX2/FMA: importing it
    executes no AVX2 instruction (those kernels are compiled per file and chosen at run time),
    the portable family is picked, FIELDCONV_ISA=avx2 falls back to it with a warning, and every
    op's result matches this machine's within float32 rounding."""
    code = textwrap.dedent("""
        import warnings
        import numpy as np
        import fieldconv
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 8, 13, 11)).astype(np.float32)
        w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
        results = [fieldconv.conv2d(x, w, padding=1, algorithm="direct"),
                   fieldconv.conv2d(x, w, padding=1, algorithm="winograd_f4"),
                   fieldconv.max_pool2d(x, 3, 2, 1), fieldconv.avg_pool2d(x, 2),
                   fieldconv.correlate2d(x[0, 0], w[0, 0], "same"),
                   fieldconv.ndimage.correlate(x[0, 0], w[0, 0])]
        print(fieldconv.get_isa())
        print(" ".join(repr(float(np.abs(r).astype(np.float64).sum())) for r in results))
    """)
    probe = subprocess.run(
        [QEMU, "-cpu", NO_AVX2_CPU, sys.executable, "-c", "import numpy"], capture_output=True, timeout=300
    )
    if probe.returncode != 0:
        pytest.skip(f"this NumPy does not run on an emulated {NO_AVX2_CPU} CPU")
    emulated = subprocess.run(
        [QEMU, "-cpu", NO_AVX2_CPU, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "FIELDCONV_ISA": "avx2"},
    )
    assert emulated.returncode == 0, emulated.stderr
    assert "FIELDCONV_ISA='avx2' is not a kernel family" in emulated.stderr
    isa, sums = emulated.stdout.split("\n")[:2]
    assert isa == "generic"
    here = run_python(code, {})
    expected = [float(v) for v in here.split("\n")[1].split()]
    np.testing.assert_allclose([float(v) for v in sums.split()], expected, rtol=1e-5)


def test_fieldconv_isa_environment_selects_avx2():
    from conftest import isa_supported

    if not isa_supported("avx2"):
        pytest.skip("no AVX2 on this CPU")
    assert run_python("import fieldconv; print(fieldconv.get_isa())", {"FIELDCONV_ISA": "avx2"}) == "avx2"


def test_omp_num_threads_environment_sets_the_default():
    code = "import fieldconv; print(fieldconv.get_num_threads())"
    assert run_python(code, {"OMP_NUM_THREADS": "3"}) == "3"


def test_show_config_mentions_version_isa_threads():
    buffer = io.StringIO()
    fieldconv.show_config(file=buffer)
    text = buffer.getvalue()
    assert fieldconv.__version__ in text
    assert fieldconv.get_isa() in text
    assert "threads" in text and str(fieldconv.get_num_threads()) in text
    assert "OpenMP" in text


@fork_child_starts_threads
def test_forked_child_can_compute():
    """After fork the child computes (with new helper threads) and exits; a hang fails, not blocks."""
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork on this platform")
    code = """
        import os, sys
        import numpy as np
        import fieldconv
        fieldconv.set_num_threads(2)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 8, 20, 20)).astype(np.float32)
        w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
        expected = fieldconv.conv2d(x, w, padding=1)   # the parent's helper threads now exist
        pid = os.fork()
        if pid == 0:
            try:
                ok = np.array_equal(fieldconv.conv2d(x, w, padding=1), expected)
                ok = ok and np.array_equal(fieldconv.Conv2d(w, padding=1)(x), expected)
                ok = ok and fieldconv.conv2d(x, w[:8, :1], groups=8).shape == (2, 8, 18, 18)
            except BaseException:
                ok = False
            os._exit(0 if ok else 3)
        import time
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                print(os.waitstatus_to_exitcode(status))
                break
            if time.monotonic() > deadline:  # hung: kill the child we forked, report it
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                print("hung")
                break
            time.sleep(0.05)
        print(np.array_equal(fieldconv.conv2d(x, w, padding=1), expected))  # the parent still works
    """
    try:
        output = run_python(code, {}, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("conv2d in a forked child hung")
    assert output.split() == ["0", "True"]


def test_package_ships_type_information():
    """py.typed marks the package as typed (PEP 561), so type checkers read its hints."""
    assert os.path.isfile(os.path.join(os.path.dirname(fieldconv.__file__), "py.typed"))
