"""Depth results are labeled exact only when every input is exact, and boundary fixed points are exact.

Independent routes: q* solved here by mpmath.findroot on a variance map evaluated by direct
quadrature (or the arcsin closed form for erf), chi_1 and C(rho) by direct quadrature at the
endpoints of q*'s interval, the small-q expansion of V(q) - q by hand.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy

import ncsym


def gauss(f, q):
    """E[f(sqrt(q) z)], z ~ N(0, 1), by mpmath quadrature."""
    s = mpmath.sqrt(q)
    return mpmath.quad(lambda t: f(s * t) * mpmath.npdf(t), [-mpmath.inf, 0, mpmath.inf])


ACTS = {
    "erf": (mpmath.erf, lambda x: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x)),
    "tanh": (mpmath.tanh, lambda x: mpmath.sech(x) ** 2),
}


def independent_q_star(name, w, b, guess):
    f, _ = ACTS[name]
    return mpmath.findroot(lambda q: w * gauss(lambda x: f(x) ** 2, q) + b - q, guess)


def test_chi1_of_erf_at_a_numeric_q_star_against_the_arcsin_closed_form():
    """The example that used to come back exact: erf, sigma_w2 = 4/5, no bias, at 30 digits."""
    V = ncsym.variance_map("erf", sympy.Rational(4, 5), 0, dps=30)
    q, chi = V.q_star, V.chi_1
    assert not q.is_exact and not chi.is_exact and not chi.certified
    with mpmath.workdps(50):
        w = mpmath.mpf(4) / 5
        # Williams (1997): E[erf(sqrt(q) z)^2] = (2/pi) arcsin(2q/(1 + 2q)); E[erf'^2] = (4/pi)/sqrt(1 + 4q)
        truth = mpmath.findroot(lambda t: w * 2 / mpmath.pi * mpmath.asin(2 * t / (1 + 2 * t)) - t, q.value)
        chi_of = lambda t: w * 4 / mpmath.pi / mpmath.sqrt(1 + 4 * t)  # noqa: E731
        assert abs(truth - q.value) <= q.error
        assert abs(chi_of(truth) - chi.value) <= chi.error
        assert chi.error >= abs(chi_of(q.value + q.error) - chi_of(q.value - q.error)) / 2 > 0


@pytest.mark.slow
@pytest.mark.parametrize("name, w, b", [
    ("erf", sympy.Rational(4, 5), 0), ("tanh", sympy.Rational(3, 2), sympy.Rational(1, 20))])
def test_chi1_at_a_numeric_q_star_is_numeric_and_carries_its_bound(name, w, b):
    V = ncsym.variance_map(name, w, b, dps=30)
    q, chi = V.q_star, V.chi_1
    assert not q.is_exact and not chi.is_exact and not chi.certified
    _, d = ACTS[name]
    with mpmath.workdps(45):
        w_, b_ = mpmath.mpf(w.p) / w.q, mpmath.mpf(sympy.Rational(b).p) / sympy.Rational(b).q
        truth = independent_q_star(name, w_, b_, mpmath.mpf(q.value))
        assert abs(truth - q.value) <= q.error
        chi_of = lambda t: w_ * gauss(lambda x: d(x) ** 2, t)  # noqa: E731
        # the enclosure holds at the true q*, and the bound is at least the spread over q*'s interval
        assert abs(chi_of(truth) - chi.value) <= chi.error
        spread = abs(chi_of(q.value + q.error) - chi_of(q.value - q.error)) / 2
        assert spread > 0 and chi.error >= spread


def hermite_kernel(f, q, rho, terms=40):
    """E[f(sqrt(q) u) f(sqrt(q) v)] = sum_n a_n^2 rho^n, a_n = E[f(sqrt(q) z) He_n(z)]/sqrt(n!) by quadrature."""
    def he(n, z):
        previous, current = mpmath.mpf(1), z
        if n == 0:
            return previous
        for k in range(1, n):
            previous, current = current, z * current - k * previous
        return current
    s = mpmath.sqrt(q)
    total = mpmath.mpf(0)
    for n in range(terms):
        a = mpmath.quad(lambda z: f(s * z) * he(n, z) * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
        total += a * a / mpmath.factorial(n) * rho**n
    return total


@pytest.mark.slow
def test_correlation_map_at_a_numeric_q_star_carries_its_bound():
    w, b = sympy.Rational(3, 2), sympy.Rational(1, 20)
    C = ncsym.correlation_map("tanh", sigma_w2=w, sigma_b2=b, dps=15)
    assert not C.q.is_exact and C.closed_form is None
    value = C.evaluate(sympy.Rational(1, 2))
    slope_one = C.slope_at_one
    assert not value.is_exact and not slope_one.is_exact
    with mpmath.workdps(25):
        q = independent_q_star("tanh", mpmath.mpf(3) / 2, mpmath.mpf(1) / 20, mpmath.mpf(C.q.value))
        k = hermite_kernel(mpmath.tanh, q, mpmath.mpf(1) / 2)  # tail < 2^-40 times a decaying a_n^2
        assert abs((mpmath.mpf(3) / 2 * k + mpmath.mpf(1) / 20) / q - value.value) <= value.error
        chi = mpmath.mpf(3) / 2 * gauss(lambda x: mpmath.sech(x) ** 4, q)
        assert abs(chi - slope_one.value) <= slope_one.error


def test_exact_inputs_stay_exact():
    """relu's fixed variance solves a linear equation: q*, chi_1, C are exact."""
    V = ncsym.variance_map("relu", 1, 1)
    assert V.q_star.exact == 2 and V.chi_1.exact == sympy.Rational(1, 2)
    assert V.correlation_map.evaluate(0).is_exact


# -- boundary fixed points: q* = 0 ---------------------------------------------------------------


@pytest.mark.parametrize("name, critical, c2", [
    ("erf", sympy.pi / 4, -8 / sympy.pi), ("tanh", sympy.Integer(1), sympy.Integer(-2)),
    ("sin", sympy.Integer(1), sympy.Integer(-1))])
def test_q_star_zero_at_and_below_the_critical_weight(name, critical, c2):
    """Odd sigma, no bias: V(q) = sigma_w2 sigma'(0)^2 q + sigma_w2 c2 q^2 + ...; q* = 0 up to critical."""
    for w in (critical, critical - sympy.Rational(1, 100), critical / 3):
        V = ncsym.variance_map(name, w, 0, dps=20)
        assert V.status == "collapses" and V.q_star.exact == 0
        assert V.chi_1.is_exact
        assert sympy.simplify(V.chi_1.exact - w / critical) == 0  # chi_1 = sigma_w2 sigma'(0)^2
    above = critical + sympy.Rational(1, 100)
    V = ncsym.variance_map(name, above, 0, dps=20)
    assert V.status == "finite" and float(V.q_star) > 0
    # the expansion gives q* ~ (sigma_w2 c1 - 1)/(-sigma_w2 c2) to first order
    first_order = float((above / critical - 1) / (-above * c2))
    assert abs(float(V.q_star) / first_order - 1) < 0.1
    assert float(V.chi_1) > 1


def test_critical_weight_by_quadrature_for_erf():
    """At sigma_w2 = pi/4 the gap V(q) - q is negative for small q: quadrature, not the closed form."""
    with mpmath.workdps(30):
        for q in (mpmath.mpf("1e-3"), mpmath.mpf("1e-2"), mpmath.mpf("0.5")):
            gap = mpmath.pi / 4 * gauss(lambda x: mpmath.erf(x) ** 2, q) - q
            assert gap < 0
            assert abs(gap / (-2 * q * q) - 1) < 10 * q  # V(q) - q = -2 q^2 + O(q^3)


def test_phase_diagram_exact_zero_at_the_boundary():
    q, chi = ncsym.phase_diagram("erf", [np.pi / 4, 0.7, 0.9], [0.0, 0.1])
    assert q[0, 0] == 0.0 and chi[0, 0] == 1.0
    assert q[1, 0] == 0.0 and abs(chi[1, 0] - 0.7 * 4 / np.pi) < 1e-15
    assert q[2, 0] > 0.05 and chi[2, 0] > 1
    assert (q[:, 1] > 0).all()
    q, chi = ncsym.phase_diagram("tanh", [1.0, 1.05], [0.0])
    assert q[0, 0] == 0.0 and chi[0, 0] == 1.0 and q[1, 0] > 0 and chi[1, 0] > 1


def test_kink_at_zero_elu_boundary():
    """elu (kink in sigma'' at 0): E[elu(sqrt(q) z)^2] = q - sqrt(2/pi) q^(3/2) + o(q^(3/2)), checked here by
    quadrature; so at sigma_w2 = 1 (elu'(0) = 1) q = 0 attracts, q* = 0 and chi_1 = 1 exactly."""
    with mpmath.workdps(30):
        f = lambda x: x if x > 0 else mpmath.expm1(x)  # noqa: E731
        for q in (mpmath.mpf("1e-4"), mpmath.mpf("1e-6")):
            gap = gauss(lambda x: f(x) ** 2, q) - q
            assert abs(gap / (-mpmath.sqrt(2 / mpmath.pi) * q**1.5) - 1) < 10 * mpmath.sqrt(q)
    V = ncsym.variance_map("elu", 1, 0, dps=20)
    assert V.q_star.exact == 0 and V.chi_1.exact == 1
    above = ncsym.variance_map("elu", sympy.Rational(11, 10), 0, dps=20)
    assert above.status == "finite" and float(above.chi_1) > 1
    cp = ncsym.critical_point("elu", 0)
    assert cp.sigma_w2.exact == 1 and cp.q_star.exact == 0
