"""LaTeX reports: they compile (pdflatex when installed), parse (always), and show derived closed
forms that match independent derivations (sympy.integrate, mpmath quadrature)."""

from __future__ import annotations

import re
import shutil
import subprocess

import mpmath
import pytest
import sympy

import ncsym
from latex_checks import check_balanced
from ncsym import zoo
from ncsym.core.errors import ActivationParseError, DomainError, NoClosedFormError
from ncsym.outputs.report import derivation_report, latex_escape, latex_result, latex_table, zoo_table_latex

ACTS = ["relu", "tanh", "relu(x) - 1/sqrt(2*pi)", "step"]
CROSSCHECK = {"depth": 2, "width": 16, "networks": 20, "rho0": [0.5], "seed": 1}


@pytest.fixture(scope="module")
def document() -> str:
    return derivation_report(ACTS, terms=3, include_crosscheck=True, crosscheck_options=CROSSCHECK)


@pytest.fixture(scope="module")
def objects_document() -> str:
    """Every result object's own LaTeX, collected into one document."""
    pieces = []
    for spec in ("relu", "tanh", "sign", "gelu"):
        act = ncsym.activation(spec)
        kernel = ncsym.dual_kernel(act)
        cmap = ncsym.correlation_map(act)
        results = [ncsym.gaussian_mean(act), ncsym.gaussian_moment(act, 2), *ncsym.hermite_coefficients(act, 2),
                   ncsym.parseval_tail(act, 2), kernel.evaluate(0.5), cmap.value_at_zero, cmap.slope_at_one]
        pieces += [f"${r.latex()}$\n" for r in results]
        pieces += [f"${kernel.latex()}$", kernel._repr_latex_(), f"${cmap.latex()}$", ncsym.independence(act).latex()]
    pieces.append(ncsym.crosscheck("tanh", **CROSSCHECK).latex())
    pieces.append(zoo_table_latex(["relu", "tanh"], terms=2))
    body = "\n\n".join(pieces)
    return ("\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{amssymb}\n\\begin{document}\n"
            + body + "\n\\end{document}\n")


# -- parser-level checks (always on) ---------------------------------------------------------

def check_structure(text: str) -> None:
    """Balanced braces and environments, even math delimiters, no Python reprs or NaN."""
    check_balanced(text)
    for bad in ("mpf(", "Result(", "DualKernel(", "CorrelationMap(", "Max(", "sqrt(", "**", "+-", " oo"):
        assert bad not in text, f"Python syntax {bad!r} in the LaTeX"
    assert not re.search(r"\bnan\b", text, re.IGNORECASE)
    assert not re.search(r"(?<![\\a-z])inf\b", text)


def test_report_structure(document):
    assert document.startswith("\\documentclass")
    assert document.rstrip().endswith("\\end{document}")
    packages = re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", document)
    assert set(packages) <= {"amsmath", "amssymb"}
    check_structure(document)
    assert document.count("\\section{") == len(ACTS)


def test_objects_structure(objects_document):
    check_structure(objects_document)


def test_report_shows_derived_closed_forms(document):
    x = sympy.Symbol("x", real=True)
    phi = sympy.exp(-x**2 / 2) / sympy.sqrt(2 * sympy.pi)
    # Independent route: sympy.integrate of the Gaussian integrals, then the same LaTeX printer.
    relu_mean = sympy.integrate(x * phi, (x, 0, sympy.oo))
    centred_second = sympy.integrate((x - relu_mean) ** 2 * phi, (x, 0, sympy.oo)) + relu_mean**2 / 2
    assert sympy.latex(relu_mean) in document
    assert r"\mathbb{E}[\sigma(z)^2] &= \frac{1}{2}" in document
    assert sympy.simplify(centred_second - (1 - 1 / sympy.pi) / 2) == 0
    assert sympy.latex(ncsym.gaussian_moment("relu(x) - 1/sqrt(2*pi)").exact) in document
    # a_2 of relu = E[relu(z) (z^2 - 1)]/sqrt(2)
    a2 = sympy.integrate(x * (x**2 - 1) * phi, (x, 0, sympy.oo)) / sympy.sqrt(2)
    assert f"a_{{2}} &= {sympy.latex(a2)}" in document
    # the arc-cosine kernel of relu and the Mehler series for tanh
    assert r"\operatorname{asin}" in document
    assert r"\sum_{n \ge 0}" in document and "Parseval tail" in document
    assert "Verdict: correlations vanish with depth" in document and "Verdict: no." in document


def test_report_numeric_value_within_its_bound(document):
    section = document.split("\\section{tanh}")[1].split("\\section{")[0]
    match = re.search(r"\\mathbb\{E\}\[\\sigma\(z\)\^2\] &= ([0-9.]+) \\pm ([0-9.]+) \\times 10\^\{(-?\d+)\}", section)
    assert match, "the numeric second moment of tanh is shown with its error bound"
    value = mpmath.mpf(match.group(1))
    bound = mpmath.mpf(match.group(2)) * mpmath.mpf(10) ** int(match.group(3))
    with mpmath.workdps(30):
        reference = mpmath.quad(lambda z: mpmath.tanh(z) ** 2 * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
    # the printed digits are the correct ones: the value is rounded to the digits the bound vouches for
    digits = len(match.group(1).replace("0.", "", 1).lstrip("0"))
    assert abs(value - reference) <= bound + mpmath.mpf(10) ** -(digits) * 5


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("which", ["report", "objects"])
def test_latex_compiles(tmp_path, which, document, objects_document):
    source = tmp_path / "doc.tex"
    source.write_text(document if which == "report" else objects_document)
    completed = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120)
    errors = [line for line in completed.stdout.splitlines() if line.startswith("!")]
    assert completed.returncode == 0, "\n".join(errors) or completed.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_result_repr_latex_compiles(tmp_path):
    result = ncsym.gaussian_moment("relu", 2)
    assert "^" in result.label  # the case that breaks
    source = tmp_path / "doc.tex"
    source.write_text("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
                      + result._repr_latex_() + "\n\\end{document}\n")
    completed = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0


# -- pieces -----------------------------------------------------------------------------------

def test_zoo_table_rows_and_columns():
    table = zoo_table_latex(["relu", "erf", "tanh"], terms=3)
    rows = [line for line in table.splitlines() if line.endswith(r"\\")]
    assert len(rows) == 4  # header + 3 activations
    assert {row.count(" & ") for row in rows} == {3 + 3}
    # erf: b_0 = a_0^2 = 0 (odd), b_1 = a_1^2 = E[erf'(z)]^2 = (2/sqrt(3 pi))^2 = 4/(3 pi)
    assert sympy.latex(sympy.Rational(4, 3) / sympy.pi) in rows[2]
    check_structure(table)


def test_latex_result_exact_and_numeric():
    assert latex_result(ncsym.Result.from_exact(sympy.Rational(1, 3))) == r"\frac{1}{3}"
    numeric = ncsym.Result.from_numeric(mpmath.mpf("0.123456789"), mpmath.mpf("3e-5"), method="test")
    text = latex_result(numeric)
    assert text.startswith("0.123") and r"\times 10^{-5}" in text and "\\pm" in text
    with pytest.raises(NoClosedFormError):
        latex_result(numeric, exact_only=True)


def test_exact_only_report_refuses_numbers():
    with pytest.raises(NoClosedFormError):
        derivation_report(["tanh"], terms=1, exact_only=True)
    text = derivation_report([zoo.relu], terms=1, exact_only=True)
    assert "\\pm" not in text.split("\\section{relu}")[1]


def test_escape_and_table_helpers():
    assert latex_escape("a_b & 50% {x}") == r"a\_b \& 50\% \{x\}"
    table = latex_table(["a", "b"], [["1", "2"]], align="rl")
    assert table.splitlines()[0] == r"\begin{tabular}{rl}"
    check_structure(table)


def test_report_bad_input():
    with pytest.raises(DomainError):
        derivation_report([])
    with pytest.raises(DomainError):
        derivation_report(["relu"], terms=-1)
    with pytest.raises(ActivationParseError):
        derivation_report(["relu("])
