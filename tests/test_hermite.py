"""Hermite coefficients checked against independent routes: closed forms written here,
direct mpmath quadrature of E[sigma(sqrt(q) z) He_n(z)] / sqrt(n!), and Parseval."""

from __future__ import annotations

import math


import mpmath
import pytest
import sympy

import ncsym
from ncsym import zoo
from ncsym.core.errors import DomainError, NoClosedFormError, NotSquareIntegrableError
from ncsym.hermite_series.coefficients import (
    hermite_coefficient, hermite_coefficients, hermite_coefficients_squared, hermite_decay,
    parseval_tail,
)


def gap(a, b):
    """|a - b| taken at 100 digits (not at mpmath's default 15)."""
    with mpmath.workdps(100):
        return abs(mpmath.mpf(a) - mpmath.mpf(b))


def quadrature_coefficient(f, n, q=1, breakpoints=(), dps=30):
    """E[f(sqrt(q) z) He_n(z)] / sqrt(n!) by plain mpmath.quad, split at the breakpoints."""
    with mpmath.workdps(dps + 15):
        s = mpmath.sqrt(q)
        cuts = sorted(mpmath.mpf(b) / s for b in breakpoints)
        length = 2 * math.sqrt(n + 1) + math.sqrt(2 * math.log(10) * (dps + 15)) + 2
        points = sorted(set([-length, length] + [c for c in cuts if -length < c < length]
                            + [mpmath.mpf(k) for k in range(-int(length), int(length) + 1, 4)]))

        def integrand(z):
            he = mpmath.hermite(n, z / mpmath.sqrt(2)) * mpmath.mpf(2) ** (-mpmath.mpf(n) / 2)
            return f(s * z) * he * mpmath.npdf(z)

        value = mpmath.quad(integrand, points) / mpmath.sqrt(mpmath.factorial(n))
        return +value


def relu_closed_form(n):
    """a_0 = 1/sqrt(2 pi), a_1 = 1/2, a_n = He_{n-2}(0) / sqrt(2 pi n!) (n >= 2)."""
    if n == 0:
        return 1 / sympy.sqrt(2 * sympy.pi)
    if n == 1:
        return sympy.Rational(1, 2)
    k = n - 2
    he_at_zero = 0 if k % 2 else (-1) ** (k // 2) * sympy.factorial2(k - 1)
    return he_at_zero / sympy.sqrt(2 * sympy.pi * sympy.factorial(n))


# -- exact piecewise polynomials ------------------------------------------------------------

def test_relu_exact_matches_closed_form_to_n_1000():
    coefficients = hermite_coefficients(zoo.relu, 1000)
    for n in (0, 1, 2, 3, 4, 7, 10, 55, 100, 999, 1000):
        a = coefficients[n]
        assert a.is_exact and a.error == 0
        assert sympy.simplify(a.exact - relu_closed_form(n)) == 0, n
    # a_1000 in the form the issue states it
    expected = sympy.hermite_prob(998, 0) / (sympy.sqrt(2 * sympy.pi) * sympy.sqrt(sympy.factorial(1000)))
    assert coefficients[1000].exact == expected
    assert gap(coefficients[1000].value, sympy.N(expected, 30)) < 1e-25


@pytest.mark.parametrize("dps", [15, 30, 60])
def test_relu_values_against_quadrature(dps):
    coefficients = hermite_coefficients(zoo.relu, 12, dps=dps)
    relu = lambda v: max(v, 0)
    for n in (0, 1, 2, 5, 6, 12):
        reference = quadrature_coefficient(relu, n, breakpoints=(0,), dps=dps)
        assert gap(coefficients[n].value, reference) <= mpmath.mpf(10) ** (-dps) * (1 + abs(reference)), n


@pytest.mark.parametrize("act, f, points, q", [
    (zoo.abs, abs, (0,), 1),
    (zoo.step, lambda v: mpmath.mpf(1) if v > 0 else mpmath.mpf(0), (0,), 1),
    (zoo.sign, mpmath.sign, (0,), sympy.Rational(3, 2)),
    (zoo.hard_tanh, lambda v: max(-1, min(1, v)), (-1, 1), 1),
    (zoo.hard_tanh, lambda v: max(-1, min(1, v)), (-1, 1), sympy.Rational(3, 2)),
    (zoo.leaky_relu(0.1), lambda v: v if v > 0 else v / 10, (0,), 1),
    (zoo.relu.affine_input(1, 1).shifted(-2), lambda v: max(v + 1, 0) - 2, (-1,), sympy.Rational(3, 2)),
    (zoo.monomial(3), lambda v: v**3, (), 2),
])
def test_piecewise_family_against_quadrature(act, f, points, q):
    coefficients = hermite_coefficients(act, 9, q=q, dps=20)
    for n in (0, 1, 2, 5, 9):
        a = coefficients[n]
        assert a.is_exact
        reference = quadrature_coefficient(f, n, q=q, breakpoints=points, dps=20)
        assert gap(a.value, reference) < mpmath.mpf(10) ** -18, (act.name, q, n)


def test_relu_general_variance_scaling():
    # relu is 1-homogeneous: a_n(q) = sqrt(q) a_n(1), exactly
    for q in (4, sympy.Rational(2, 7)):
        for a, b in zip(hermite_coefficients(zoo.relu, 40, q=q), hermite_coefficients(zoo.relu, 40)):
            assert sympy.simplify(a.exact - sympy.sqrt(q) * b.exact) == 0


def test_hermite_polynomial_is_a_unit_vector():
    coefficients = hermite_coefficients(zoo.hermite(5), 8)
    assert [a.exact for a in coefficients] == [0, 0, 0, 0, 0, 1, 0, 0, 0]


def test_dirac_delta_coefficients():
    # the derivative of step is delta(x): a_n = He_n(0) phi(0) / sqrt(n!)
    delta = zoo.step.derivative()
    coefficients = hermite_coefficients(delta, 6, method="exact")
    for n, a in enumerate(coefficients):
        expected = sympy.hermite_prob(n, 0) / sympy.sqrt(2 * sympy.pi * sympy.factorial(n))
        assert sympy.simplify(a.exact - expected) == 0
    with pytest.raises(NotSquareIntegrableError):
        parseval_tail(delta, 4)


def test_squares_are_rational_over_pi_for_relu():
    squares = hermite_coefficients_squared(zoo.relu, 40)
    for n, s in enumerate(squares):
        ratio = s.exact * sympy.pi if n != 1 else s.exact
        assert ratio.is_Rational, (n, s.exact)
        assert sympy.simplify(s.exact - relu_closed_form(n) ** 2) == 0


def test_parseval_exact_tail_relu():
    tail = parseval_tail(zoo.relu, 2)
    assert sympy.simplify(tail.exact - (sympy.Rational(1, 4) - 3 / (4 * sympy.pi))) == 0
    # the tail keeps shrinking and stays positive, and matches the partial sums of the closed form
    tail_200 = parseval_tail(zoo.relu, 200, dps=30)
    partial = sum(sympy.N(relu_closed_form(n) ** 2, 50) for n in range(201))
    assert 0 < tail_200.value < 1e-3
    assert gap(tail_200.value, sympy.Rational(1, 2) - partial) < 1e-28


# -- exact smooth activations (holonomic recurrence of the Gaussian smoothing) -------------------

@pytest.mark.parametrize("q", [1, 3, sympy.Rational(1, 2)])
def test_exp_sin_cos_closed_forms(q):
    # E[e^{sqrt(q) z} He_n(z)] = q^{n/2} e^{q/2}; sin and cos take the imaginary and real parts
    # of e^{i sqrt(q) z}: q^{n/2} e^{-q/2} times Re/Im of i^n.
    q, n_max = sympy.sympify(q), 40
    for act, factor in ((zoo.exp, lambda n: sympy.exp(q / 2)),
                        (zoo.sin, lambda n: sympy.exp(-q / 2) * sympy.im(sympy.I**n)),
                        (zoo.cos, lambda n: sympy.exp(-q / 2) * sympy.re(sympy.I**n))):
        coefficients = hermite_coefficients(act, n_max, q=q, method="exact")
        for n in (0, 1, 2, 3, 7, 20, 39, 40):
            expected = factor(n) * sympy.sqrt(q) ** n / sympy.sqrt(sympy.factorial(n))
            assert sympy.simplify(coefficients[n].exact - expected) == 0, (act.name, q, n)
            assert gap(coefficients[n].value, sympy.N(expected, 30)) < 1e-25


def test_erf_closed_form():
    # erf'(x) = 2/sqrt(pi) e^{-x^2}; E[e^{-z^2} He_{2k}(z)] = (-1)^k (2k-1)!! 3^{-k-1/2} 2^k... checked
    # instead through the odd-n formula a_n = E[erf^(n)(z)] / sqrt(n!) by direct quadrature below,
    # plus the parity and a_1 = 2/sqrt(3 pi) in closed form.
    coefficients = hermite_coefficients(zoo.erf, 30, method="exact")
    assert sympy.simplify(coefficients[1].exact - 2 / sympy.sqrt(3 * sympy.pi)) == 0
    assert all(coefficients[n].exact == 0 for n in range(0, 31, 2))


@pytest.mark.parametrize("act, f", [
    (zoo.gelu, lambda v: v * mpmath.ncdf(v)),
    (zoo.erf, mpmath.erf),
    (zoo.elu(), lambda v: v if v > 0 else mpmath.expm1(v)),
])
def test_smooth_exact_against_numeric_and_quadrature(act, f):
    points = (0,) if act.name.startswith("elu") else ()
    exact = hermite_coefficients(act, 16, q=2, method="exact", dps=30)
    numeric = hermite_coefficients(act, 16, q=2, method="numeric", dps=30)
    for n in (0, 1, 2, 5, 12, 16):
        assert exact[n].is_exact
        assert gap(exact[n].value, numeric[n].value) <= numeric[n].error + 1e-30 * abs(exact[n].value)
    for n in (0, 3, 8):
        reference = quadrature_coefficient(f, n, q=2, breakpoints=points, dps=30)
        assert gap(exact[n].value, reference) < 1e-29


def test_gelu_parseval_exact():
    # E[gelu^2] in closed form is the gaussian engine's; the tail must be positive and shrinking
    tails = [parseval_tail(zoo.gelu, n, dps=30) for n in (5, 20, 80)]
    assert all(t.value > 0 for t in tails)
    assert tails[0].value > tails[1].value > tails[2].value


# -- numeric route ------------------------------------------------------------------------------

def test_tanh_numeric_against_independent_quadrature():
    coefficients = hermite_coefficients(zoo.tanh, 250, dps=30)   # cached for the Parseval test
    for n in (1, 3, 9, 25, 41):
        reference = quadrature_coefficient(mpmath.tanh, n, dps=30)
        a = coefficients[n]
        assert not a.is_exact
        assert gap(a.value, reference) < 10 ** -30 * abs(reference) + 1e-40, n
        # the reported bound really bounds the error (reference is good to ~1e-40)
        assert gap(a.value, reference) <= a.error + 1e-38
        assert a.error < 10 ** -30 * abs(a.value)
    for n in (0, 2, 30):
        assert coefficients[n].exact == 0   # tanh is odd


def test_tanh_parseval_and_error_bounds():
    # E[tanh^2] by plain mpmath quadrature, independent of the Hermite machinery
    with mpmath.workdps(40):
        second = mpmath.quad(lambda z: mpmath.tanh(z) ** 2 * mpmath.npdf(z), [-30, -3, 0, 3, 30])
    coefficients = hermite_coefficients(zoo.tanh, 250, dps=30)
    with mpmath.workdps(60):
        partial = mpmath.fsum(a.value**2 for a in coefficients)
        assert abs(second - partial) < 1e-20        # Parseval: the tail beyond n = 250 is tiny
    tail = parseval_tail(zoo.tanh, 250, dps=30)
    assert -tail.error <= tail.value < 1e-20
    assert gap(tail.value, second - partial) < 1e-30
    # the tail shrinks by the squares in between
    tail_200 = parseval_tail(zoo.tanh, 200, dps=30)
    with mpmath.workdps(60):
        between = mpmath.fsum(a.value**2 for a in coefficients[201:])
    with mpmath.workdps(60):
        assert gap(tail_200.value - tail.value, between) <= tail_200.error + tail.error + 1e-45
    # a coarser request must agree with the finer one within its own bound
    coarse = hermite_coefficients(zoo.tanh, 200, dps=15)
    for n in (1, 51, 101, 199):
        assert gap(coarse[n].value, coefficients[n].value) <= coarse[n].error + coefficients[n].error + \
            10 ** -15 * abs(coefficients[n].value)


@pytest.mark.parametrize("q", [sympy.Rational(1, 3), 2])
def test_numeric_general_variance(q):
    coefficients = hermite_coefficients(zoo.sigmoid, 8, q=q, dps=20)
    sigmoid = lambda v: 1 / (1 + mpmath.exp(-v))
    for n in (0, 1, 2, 5, 8):
        reference = quadrature_coefficient(sigmoid, n, q=q, dps=20)
        assert gap(coefficients[n].value, reference) < 1e-19 * (1 + abs(reference)), n


def test_numeric_matches_exact_for_relu():
    exact = hermite_coefficients(zoo.relu, 30, dps=30)
    numeric = hermite_coefficients(zoo.relu, 30, method="numeric", dps=30)
    for a, b in zip(exact, numeric):
        assert gap(a.value, b.value) <= b.error + mpmath.mpf(10) ** -30


def test_exact_method_never_returns_floats():
    with pytest.raises(NoClosedFormError):
        hermite_coefficients(zoo.tanh, 3, method="exact")


def test_decay_diagnostic():
    fit = hermite_decay(zoo.tanh, 160, dps=20)
    assert fit.model == "stretched exponential"
    assert fit.stretched_rate > 0
    fit = hermite_decay(zoo.step, 400)
    assert fit.model == "power" and abs(fit.power - 0.75) < 0.1


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    dict(n_max=-1), dict(n_max=2.5), dict(n_max=True), dict(n_max=3, q=0), dict(n_max=3, q=-1),
    dict(n_max=3, q=float("nan")), dict(n_max=3, q=float("inf")), dict(n_max=3, method="magic"),
    dict(n_max=3, dps=0),
])
def test_bad_input(kwargs):
    with pytest.raises(DomainError):
        hermite_coefficients(zoo.relu, **kwargs)


def test_single_coefficient_and_cache():
    a = hermite_coefficient(zoo.relu, 6)
    assert a == hermite_coefficients(zoo.relu, 6)[6]
    with pytest.raises(DomainError):
        hermite_coefficient(zoo.relu, -2)


def test_centering_changes_only_a0_on_the_smoothing_route():
    # Regression: W(t) of centered gelu has a recurrence that is singular at its start,
    # where sympy leaves an unknown initial term; those terms now come from W's series.
    centered = hermite_coefficients(ncsym.centered(zoo.gelu), 8, method="exact")
    plain = hermite_coefficients(zoo.gelu, 8, method="exact")
    assert centered[0].exact == 0
    for a, b in zip(centered[1:], plain[1:]):
        assert sympy.simplify(a.exact - b.exact) == 0


@pytest.mark.parametrize("dps", [15, 20, 30])
def test_numeric_error_bounds_cover_the_stored_rounding(dps):
    # Regression: a bound of 1e-42 was once reported on a value stored to 30 digits.
    # The reference is the same quantity at dps + 30 digits.
    low = parseval_tail(zoo.tanh, 10, dps=dps)
    high = parseval_tail(zoo.tanh, 10, dps=dps + 30)
    assert abs(low.value - high.value) <= low.error
    assert low.error < abs(low.value) * mpmath.mpf(10) ** (-dps)


def test_sigmoid_is_odd_about_one_half():
    # sigmoid - 1/2 is odd: a_0 = 1/2 and even a_n vanish exactly; odd a_n against plain quadrature.
    coefficients = hermite_coefficients(zoo.sigmoid, 5, dps=20)
    assert coefficients[0].exact == sympy.Rational(1, 2)
    assert all(coefficients[n].exact == 0 for n in (2, 4))
    with mpmath.workdps(30):
        for n in (1, 3, 5):
            reference = mpmath.quad(
                lambda z: mpmath.npdf(z) / (1 + mpmath.exp(-z)) * mpmath.hermite(n, z / mpmath.sqrt(2))
                * mpmath.mpf(2) ** (-n / mpmath.mpf(2)) / mpmath.sqrt(mpmath.factorial(n)), [-mpmath.inf, 0, mpmath.inf])
            assert abs(coefficients[n].value - reference) <= coefficients[n].error + mpmath.mpf(10) ** -25
