"""The Sphinx site in docs/: every page is reachable, the API page lists the public API, the
layout page names every subpackage; the slow tests build it with warnings as errors and run
its examples as doctests."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import ncsym

DOCS = Path(__file__).resolve().parent.parent / "docs"
PACKAGE = Path(ncsym.__file__).resolve().parent


def _toctree_pages() -> list[str]:
    text = (DOCS / "index.rst").read_text()
    block = text.split(".. toctree::", 1)[1]
    return [line.strip() for line in block.splitlines()[1:] if line.startswith("   ") and not line.strip().startswith(":")]


def test_every_page_is_in_the_toctree_and_exists():
    pages = _toctree_pages()
    assert "api" in pages  # written by docs/conf.py at build time
    for page in set(pages) - {"api"}:
        assert (DOCS / f"{page}.rst").is_file(), page
    on_disk = {str(p.relative_to(DOCS).with_suffix("")) for p in DOCS.rglob("*.rst")
               if "_build" not in p.parts and "generated" not in p.parts} - {"index", "api"}
    assert on_disk == set(pages) - {"api"}
    for paper in ("dunbar_aaronson_2025", "li_nica_roy_2022", "gao_2023", "amid_2022"):
        assert f"papers/{paper}" in pages


def test_api_page_lists_the_public_api():
    """docs/conf.py writes docs/api.rst from ncsym.__all__ at each build; every entry resolves."""
    sys.path.insert(0, str(DOCS))
    try:
        import conf  # docs/conf.py
    finally:
        sys.path.remove(str(DOCS))
    listed = set(re.findall(r"^   (\w[\w.]*)$", conf.api_page(), flags=re.M))
    for name in listed:  # every entry resolves (a module, or a public name)
        try:
            __import__(f"ncsym.{name}")
        except ImportError:
            assert hasattr(ncsym, name), name
    functions = {n for n in ncsym.__all__ if not isinstance(getattr(ncsym, n), types.ModuleType)} - {"x", "rho"}
    assert functions <= listed, sorted(functions - listed)


def test_layout_page_names_every_subpackage():
    text = (DOCS / "layout.rst").read_text()
    subpackages = [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    assert subpackages and all(re.search(rf"\b{name}\b", text) for name in subpackages), subpackages


def test_doctest_blocks_are_doctest_directives():
    """The doctest builder runs only ``.. doctest::`` blocks: a bare >>> line would go untested."""
    for page in DOCS.rglob("*.rst"):
        if "_build" in page.parts or "generated" in page.parts:
            continue
        for number, line in enumerate(page.read_text().splitlines(), 1):
            assert not line.startswith(">>>"), f"{page.name}:{number} is outside a doctest directive"


def _sphinx(builder: str, out: Path) -> subprocess.CompletedProcess:
    pytest.importorskip("sphinx")
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", builder, str(DOCS), str(out)],
                          capture_output=True, text=True, timeout=1200)


@pytest.mark.slow
@pytest.mark.timeout(1300)
def test_html_builds_with_warnings_as_errors(tmp_path):
    done = _sphinx("html", tmp_path / "html")
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "html" / "api.html").is_file()
    page = (tmp_path / "html" / "generated" / "ncsym.dual_kernel.html").read_text()
    assert "The dual kernel of" in page  # the docstring made it in


@pytest.mark.slow
@pytest.mark.timeout(1300)
def test_examples_pass_as_doctests(tmp_path):
    done = _sphinx("doctest", tmp_path / "doctest")
    report = (tmp_path / "doctest" / "output.txt").read_text() if (tmp_path / "doctest" / "output.txt").exists() else ""
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    tests = int(re.search(r"(\d+) tests", report.split("Doctest summary", 1)[1]).group(1))
    assert tests >= 20 and "0 failures in tests" in report
