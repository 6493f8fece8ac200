"""The README's Python examples are doctests: every ```python block runs and prints what it shows."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every fenced ```python block."""
    return [(text[: m.start()].count("\n") + 2, m.group(1))
            for m in re.finditer(r"^```python[ \t]*\n(.*?)^```", text, flags=re.S | re.M)]


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_examples():
    assert BLOCKS and all(">>>" in code for _, code in BLOCKS)


@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_block(line, code):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(code, {}, f"README.md:{line}", str(README), line - 1)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_a_wrong_example_fails():
    """The runner used above does report a mismatch (so a passing block means something)."""
    test = doctest.DocTestParser().get_doctest(">>> 1 + 1\n3\n", {}, "wrong", "wrong", 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=lambda _: None)
    assert runner.failures == 1


def test_ci_runs_the_readme_test_command_first():
    """.ci/run's first test step is the README's test command, character for character."""
    readme = README.read_text(encoding="utf-8")
    command = next(line.strip() for line in readme.splitlines() if "pytest" in line and "pip install" in line)
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line for line in ci.splitlines() if "pytest" in line and not line.lstrip().startswith("#")]
    assert command in steps[0], (command, steps[0])
    for later in ("-m slow", "python -m proofs", "sphinx -W -q -b html", "-b doctest"):
        assert later in ci, later
