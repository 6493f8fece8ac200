"""Critical points, critical lines and depth scales, each against a route written here.

Independent routes: the arcsin closed form of erf's variance map (Williams 1997) solved by
mpmath.findroot in sigma_w2 (not in q as ncsym does); for tanh a secant in sigma_w2 on chi_1 - 1
with q* by fixed-point iteration of direct mpmath quadratures; the literature value of tanh's
critical line (Schoenholz et al. 2017, Fig. 1: sigma_w2 ~ 1.76 at sigma_b2 = 0.05); xi_c against
the layers a correlation takes to relax in a direct iteration.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy

import ncsym


def gauss(f, q):
    s = mpmath.sqrt(q)
    return mpmath.quad(lambda t: f(s * t) * mpmath.npdf(t), [-mpmath.inf, 0, mpmath.inf])


def erf_critical_by_weight(b):
    """sigma_w2 with chi_1 = 1 for erf, found as a root in sigma_w2 with q* from the arcsin form."""
    def q_star(w):
        return mpmath.findroot(lambda q: w * 2 / mpmath.pi * mpmath.asin(2 * q / (1 + 2 * q)) + b - q, 1)

    def chi(w):
        return w * 4 / mpmath.pi / mpmath.sqrt(1 + 4 * q_star(w)) - 1
    w = mpmath.findroot(chi, 1.3)
    return w, q_star(w)


@pytest.mark.parametrize("b", ["0.05", pytest.param("0.5", marks=pytest.mark.slow), pytest.param("2", marks=pytest.mark.slow)])
def test_erf_critical_point_two_ways(b):
    cp = ncsym.critical_point("erf", sympy.Rational(b), dps=20)
    assert cp.status == "critical" and not cp.sigma_w2.is_exact and not cp.q_star.is_exact
    with mpmath.workdps(35):
        w, q = erf_critical_by_weight(mpmath.mpf(b))
        assert abs(w - cp.sigma_w2.value) <= cp.sigma_w2.error
        assert abs(q - cp.q_star.value) <= cp.q_star.error
    assert cp.sigma_w2.error < 1e-18


def test_erf_and_tanh_boundary_points_are_exact():
    erf = ncsym.critical_point("erf", 0)
    assert erf.sigma_w2.exact == sympy.pi / 4 and erf.q_star.exact == 0
    tanh = ncsym.critical_point("tanh", 0)
    assert tanh.sigma_w2.exact == 1 and tanh.q_star.exact == 0
    # the variance map agrees: at the critical weight q* = 0 and chi_1 = 1 exactly
    V = ncsym.variance_map("erf", sympy.pi / 4, 0)
    assert V.q_star.exact == 0 and V.chi_1.exact == 1


def test_tanh_critical_point_literature():
    cp = ncsym.critical_point("tanh", sympy.Rational(1, 20), dps=15)
    assert cp.status == "critical"
    assert abs(float(cp.sigma_w2) - 1.76) < 0.01  # Schoenholz et al. 2017, Fig. 1


@pytest.mark.slow
def test_tanh_critical_point_independent_secant():
    cp = ncsym.critical_point("tanh", sympy.Rational(1, 20), dps=15)
    with mpmath.workdps(20):
        b = mpmath.mpf(1) / 20
        q = mpmath.mpf(cp.q_star.value)

        def chi_minus_one(w):
            nonlocal q
            q = mpmath.findroot(lambda t: w * gauss(lambda x: mpmath.tanh(x) ** 2, t) + b - t, q)
            return w * gauss(lambda x: mpmath.sech(x) ** 4, q) - 1
        w = mpmath.findroot(chi_minus_one, (mpmath.mpf("1.75"), mpmath.mpf("1.77")), solver="secant")
        assert abs(w - cp.sigma_w2.value) < 1e-12
        assert abs(q - cp.q_star.value) < 1e-12


@pytest.mark.slow
def test_tanh_critical_line_against_the_variance_map_grid():
    """critical_line against a direct grid scan of chi_1 from variance_map (a different route)."""
    line = ncsym.critical_line("tanh", [0.01, 0.1, 0.3])
    for b, w in zip(line.sigma_b2, line.sigma_w2):
        lo, hi = ncsym.variance_map("tanh", w * 0.999, b).chi_1, ncsym.variance_map("tanh", w * 1.001, b).chi_1
        assert float(lo) < 1 < float(hi)


def test_no_critical_point_is_reported_not_raised():
    relu = ncsym.critical_point("relu", 1)
    assert relu.status == "none" and not relu.exists and relu.sigma_w2 is None
    # independent: relu's q* = b/(1 - w/2) and chi_1 = w/2 < 1 wherever q* is finite
    sign = ncsym.critical_point("sign", 0.1)
    assert sign.status == "none" and "Dirac delta" in sign.reason
    gelu = ncsym.critical_point("gelu", 0)
    assert gelu.status == "none"
    # the variance-map route: below the weight where the variance diverges chi_1 < 1
    q, chi = ncsym.phase_diagram("gelu", np.linspace(1.0, 6.0, 11), [0.0])
    assert np.all((chi[:, 0] < 1) | ~np.isfinite(q[:, 0]))
    every = ncsym.critical_point("relu", 0)
    assert every.sigma_w2.exact == 2 and every.q_star is None and "every variance" in every.reason


def test_critical_line_arrays_and_latex():
    line = ncsym.critical_line("erf", [0, sympy.Rational(1, 20)])
    assert line.sigma_w2[0] == pytest.approx(math.pi / 4, abs=1e-15)
    assert line.q_star[0] == 0.0
    text = ncsym.critical_point("erf", 0).latex()
    assert r"\chi_1 = \sigma_w^2" in text and r"\sigma_b^2" in text and r"\frac{\pi}{4}" in text
    assert ncsym.critical_line("relu", [1]).sigma_w2[0] != ncsym.critical_line("relu", [1]).sigma_w2[0]  # NaN


# -- depth scales ---------------------------------------------------------------------------------


def test_chi_q_against_the_derivative_of_the_arcsin_form():
    w, b = sympy.Rational(2), sympy.Rational(1, 10)
    V = ncsym.variance_map("erf", w, b, dps=20)
    with mpmath.workdps(30):
        q = mpmath.mpf(V.q_star.value)
        slope = 2 * 2 / mpmath.pi * mpmath.diff(lambda t: mpmath.asin(2 * t / (1 + 2 * t)), q)
        assert abs(slope - V.chi_q.value) <= V.chi_q.error + 1e-25
        assert abs(-1 / mpmath.log(slope) - V.xi_q.value) < 1e-18


def _relaxation_layers(C, target, start, factor):
    """Layers until |rho_l - rho*| < |rho_0 - rho*| e^-factor, iterating in float64."""
    rho, gap0 = start, abs(start - target)
    for layer in range(1, 100000):
        rho = float(C(rho))
        if abs(rho - target) < gap0 * math.exp(-factor):
            return layer
    raise AssertionError("no relaxation")


@pytest.mark.parametrize("w, b", [(1.0, 0.1), (3.0, 0.1)])
def test_xi_c_against_a_direct_iteration(w, b):
    """Ordered (rho* = 1) and chaotic (rho* < 1) phases of erf: L layers relax by e^-k with L ~ k xi_c."""
    V = ncsym.variance_map("erf", w, b, dps=15)
    xi = float(V.xi_c)
    C = V.correlation_map
    target = float(C.attractor)
    start = target - 1e-4 if target == 1.0 else target + 1e-4
    k = 8
    layers = _relaxation_layers(C, target, start, k)
    assert abs(layers - k * xi) <= 1.5


def test_xi_c_diverges_at_the_critical_line():
    cp = ncsym.critical_point("erf", sympy.Rational(1, 20), dps=15)
    wc = float(cp.sigma_w2)
    scales = []
    for delta in (1e-2, 1e-3):
        for w in (wc * (1 - delta), wc * (1 + delta)):
            V = ncsym.variance_map("erf", w, 0.05, dps=15)
            chi = float(V.chi_c)
            xi = float(V.xi_c)
            assert xi * abs(1 - chi) == pytest.approx(1, rel=2e-2)  # -1/ln chi ~ 1/(1 - chi)
            scales.append(xi)
    assert scales[2] > 5 * scales[0] and scales[3] > 5 * scales[1]


# -- phase diagram data ---------------------------------------------------------------------------


def test_phase_data_against_single_point_results():
    d = ncsym.phase_data("tanh", [0.9, 3.0], [0.0, 0.1], critical_sigma_b2=[0.0, 0.05])
    assert d.phase.tolist() == [["ordered", "ordered"], ["chaotic", "chaotic"]]
    assert d.q_star[0, 0] == 0.0 and d.rho_star[1, 0] == 0.0  # odd, no bias: rho* = 0 in chaos
    V = ncsym.variance_map("tanh", 3.0, 0.1, dps=15)  # the certified route, a different algorithm
    assert d.rho_star[1, 1] == pytest.approx(float(V.correlation_map.attractor), abs=1e-7)
    assert d.xi_c[1, 1] == pytest.approx(float(V.xi_c), rel=1e-6)
    V = ncsym.variance_map("tanh", 0.9, 0.1, dps=15)
    assert d.xi_c[0, 1] == pytest.approx(-1 / math.log(float(V.chi_1)), rel=1e-9)
    assert d.critical_sigma_w2[0] == 1.0
    assert d.critical_sigma_w2[1] == pytest.approx(float(ncsym.critical_point("tanh", 0.05).sigma_w2), rel=1e-10)
    assert len(d.rows()) == 4


# -- command line -----------------------------------------------------------------------------------


def test_cli_critical_and_phase(capsys, tmp_path):
    from ncsym.outputs.cli import main

    assert main(["critical", "tanh", "--sigma-b2", "0.05", "0"]) == 0
    text = capsys.readouterr().out
    assert "sigma_b^2 = 1/20: sigma_w^2 = 1.7609546396" in text and "sigma_b^2 = 0: sigma_w^2 = 1, q* = 0" in text
    assert main(["critical", "relu", "--sigma-b2", "1", "--json"]) == 0
    data = __import__("json").loads(capsys.readouterr().out)
    assert data["points"][0]["status"] == "none" and data["points"][0]["sigma_w2"] is None
    csv_path = tmp_path / "phase.csv"
    assert main(["phase", "erf", "--sigma-w2", "0.5:3:6", "--sigma-b2", "0:0.2:3", "--csv", str(csv_path)]) == 0
    text = capsys.readouterr().out
    assert "critical sigma_w^2 at sigma_b^2 = 0.0000: 0.785398" in text
    rows = csv_path.read_text().splitlines()
    assert len(rows) == 1 + 18 and rows[0].startswith("sigma_w2,sigma_b2,q_star,chi_1")
    assert main(["phase", "erf", "--sigma-w2", "1:0:3"]) == 2
    assert "LO < HI" in capsys.readouterr().err


def test_user_expression_by_the_scaling_identity():
    """sigma(x) = tanh(2x): E[tanh(2 sqrt(q) z)^2] is tanh's moment at 4q, so its critical point at
    sigma_b2 is tanh's at 4 sigma_b2 with sigma_w2 and q* divided by 4 (a symbolic identity)."""
    scaled = ncsym.critical_point("tanh(2*x)", sympy.Rational(1, 20), dps=15)
    plain = ncsym.critical_point("tanh", sympy.Rational(1, 5), dps=15)
    assert abs(scaled.sigma_w2.value - plain.sigma_w2.value / 4) <= scaled.sigma_w2.error + plain.sigma_w2.error
    assert abs(scaled.q_star.value - plain.q_star.value / 4) <= scaled.q_star.error + plain.q_star.error
    assert ncsym.critical_point("tanh(2*x)", 0).sigma_w2.exact == sympy.Rational(1, 4)


@pytest.mark.slow
@pytest.mark.skipif(__import__("shutil").which("pdflatex") is None, reason="pdflatex is not installed")
def test_critical_latex_compiles(tmp_path):
    import subprocess

    body = "\n\n".join(f"${ncsym.critical_point(act, b).latex()}$" for act, b in (("erf", 0), ("erf", 0.05)))
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                                      + body + "\n\\end{document}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-1500:]
