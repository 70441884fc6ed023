"""The Python examples of the README and of docs/ run as written, and CI runs the README's test
command."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def python_blocks(text: str):
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


BLOCKS = python_blocks(README.read_text(encoding="utf-8")) if README.exists() else []
DOC_BLOCKS = (
    [
        (page.name, block)
        for page in sorted((ROOT / "docs").glob("*.md"))
        for block in python_blocks(page.read_text(encoding="utf-8"))
    ]
    if (ROOT / "docs").is_dir()
    else []
)


@pytest.fixture(scope="module")
def readme_text():
    if not README.exists():
        pytest.skip("README.md is not next to the tests (installed package without sources)")
    return README.read_text(encoding="utf-8")


def test_readme_has_examples(readme_text):
    assert len(BLOCKS) >= 2


OPTIONAL_MODULES = {"dask", "distributed", "matplotlib", "scipy", "torch", "cv2", "skimage"}


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(index):
    """Each block is self-contained and runs as written (a fresh namespace per block)."""

    namespace = {"__name__": "readme"}
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), namespace)
    except ModuleNotFoundError as error:
        # A block showing an optional extra (dask, matplotlib, scipy, torch) needs it installed.
        if error.name in OPTIONAL_MODULES:
            pytest.skip(f"README block {index + 1} needs {error.name}, which is not installed")
        raise
    if "edge" in BLOCKS[index] and "feature_map" in BLOCKS[index]:
        assert "30." in output.getvalue()


def test_readme_setup_commands_and_ci(readme_text):
    bench = 'pip install ".[bench]" && python -m fieldconv bench'
    test = 'pip install ".[test]" && python -m pytest tests'
    assert bench in readme_text and test in readme_text
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert test in commands


def test_readme_has_every_section(readme_text):
    headings = re.findall(r"^## (.+)$", readme_text, flags=re.MULTILINE)
    for heading in (
        "Set up on a fresh machine",
        "Example",
        "API overview",
        "Pooling",
        "Receptive fields",
        "SciPy and NumPy drop-ins",
        "Threads and instruction sets",
        "Benchmark",
        "Tests",
        "Documentation",
    ):
        assert heading in headings


def test_readme_and_docs_links_resolve(readme_text):
    """Every relative link of the README and docs/ names a file of the repository, and no page
    cites a document outside it."""
    pages = [README] + sorted((ROOT / "docs").glob("*.md"))
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
        assert not re.search(r"(?<![\w/])(API|DESIGN|PERFORMANCE)\.md", text), page.name


@pytest.mark.parametrize("page, block", DOC_BLOCKS, ids=[f"{page}-{i}" for i, (page, _) in enumerate(DOC_BLOCKS)])
def test_docs_python_block_runs(page, block):
    namespace = {"__name__": "docs"}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(block, f"docs/{page}", "exec"), namespace)
    except ModuleNotFoundError as error:
        if error.name in OPTIONAL_MODULES:
            pytest.skip(f"a block of docs/{page} needs {error.name}, which is not installed")
        raise
