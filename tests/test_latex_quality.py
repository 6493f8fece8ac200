"""Publication-quality LaTeX: the report compiles with no overfull lines, mathematics is typeset as
mathematics, numbers have one format, closed forms are simplified; a rendered page is kept."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy

from ncsym.outputs.report import derivation_report, latex_text, simplest, unify_numbers, zoo_table_latex

ACTS = ["relu", "tanh", "erf", "relu(x) - 1/sqrt(2*pi)", "gelu"]
CROSSCHECK = {"depth": 2, "width": 16, "networks": 30, "rho0": [0.5], "seed": 1}


@pytest.fixture(scope="module")
def document() -> str:
    return derivation_report(ACTS, terms=4, include_crosscheck=True, crosscheck_options=CROSSCHECK)


def _text_parts(tex: str) -> str:
    """The document with its math removed ($...$ and the display environments)."""
    tex = re.sub(r"\\begin\{(align\*|equation\*)\}.*?\\end\{\1\}", " ", tex, flags=re.S)
    return re.sub(r"(?<!\\)\$.*?(?<!\\)\$", " ", tex, flags=re.S)


def test_mathematics_is_math_and_numbers_have_one_format(document):
    assert "textasciicircum" not in document
    text = _text_parts(document)
    for plain in ("sigma(-x)", "V/(n K", "sigma''"):
        assert plain not in text, plain
    assert not re.search(r"\d\.?\d*e[+-]\d", document), re.search(r".{40}\d\.?\d*e[+-]\d.{10}", document)
    assert r"\times 10^{" in document


def test_closed_forms_are_simplified():
    assert simplest((1 - 1 / sympy.pi) / 2) == (sympy.pi - 1) / (2 * sympy.pi)
    r = sympy.Symbol("r")
    assert simplest(sympy.sin(r) ** 2 + sympy.cos(r) ** 2) == 1
    expr = sympy.sqrt(3) / (6 * sympy.pi) + sympy.Rational(1, 3)
    assert sympy.simplify(simplest(expr) - expr) == 0
    table = zoo_table_latex(["relu(x) - 1/sqrt(2*pi)"], terms=1)
    assert r"\frac{1 - \frac{1}{\pi}}{2}" not in table and r"\frac{-1 + \pi}{2 \pi}" in table


def test_number_and_text_helpers():
    assert unify_numbers(r"a 1.5e-03 $b = 2e+04$") == r"a $1.5 \times 10^{-3}$ $b = 2 \times 10^{4}$"
    assert unify_numbers("x_1e5 and v2.0e-3") == "x_1e5 and v2.0e-3"  # not numbers
    assert latex_text("V/(n K^2) = 0.3 > 0.2") == r"$V/(n K^2)$ = 0.3 $>$ 0.2"
    assert unify_numbers("0.00e+00 1.5e+00") == "$0$ $1.5$"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_report_fits_the_page(tmp_path, document):
    """Compiles, and the log has no Overfull \\hbox: every table and line fits the text width.
    The first page is rendered to PNG (kept in $NCSYM_ARTIFACTS when set) to be looked at."""
    (tmp_path / "report.tex").write_text(document)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:]
    log = (tmp_path / "report.log").read_text(errors="replace")
    overfull = [line for line in log.splitlines() if line.startswith("Overfull \\hbox")]
    assert not overfull, overfull
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "2", "report.pdf", "page"], cwd=tmp_path,
                       check=True, timeout=120)
        pages = sorted(tmp_path.glob("page-*.png"))
        assert pages and pages[0].stat().st_size > 5000
        keep = os.environ.get("NCSYM_ARTIFACTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for page in pages:
                shutil.copy(page, Path(keep) / f"report-{page.name}")


def test_jupyter_reprs_are_math_or_tables():
    """_repr_latex_ is math mode only; the cross-check table is HTML, the certificate's proof Markdown."""
    import ncsym

    for obj in (ncsym.gaussian_moment("relu", 2), ncsym.gaussian_moment("tanh", 2), ncsym.dual_kernel("erf")):
        text = obj._repr_latex_()
        assert text.startswith("$") and text.endswith("$") and "tabular" not in text
    check = ncsym.crosscheck("tanh", depth=2, width=16, networks=20, rho0=[0.5], seed=0)
    assert not hasattr(check, "_repr_latex_")
    assert check._repr_html_().startswith("<table>") and check._repr_html_().count("<tr>") == 1 + len(check.rows)
    cert = ncsym.independence("tanh")
    assert not hasattr(cert, "_repr_latex_")
    markdown = cert._repr_markdown_()
    assert "\\textbf" not in markdown and "**" in markdown and "$\\sigma(x)" in markdown
