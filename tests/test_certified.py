"""Certified enclosures (python-flint balls) against independent high-precision references.

References: exact closed forms evaluated by sympy at 60 digits, and mpmath.quad at 70 digits
on two different splittings of the line that must agree with each other.
A certified ball that misses a reference is a bug, whatever its width.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st

from ncsym import zoo
from ncsym.gaussian import certified as gaussian_certified
from ncsym.gaussian.moments import gaussian_moment
from ncsym.hermite_series.certified import certified_coefficients
from ncsym.hermite_series.coefficients import hermite_coefficients
from ncsym.kernels.dual import dual_kernel
from ncsym.kernels.numeric import certified_mehler_value
from ncsym.symbolic.activations import Activation, x

CLOSED = [zoo.relu, zoo.abs, zoo.step, zoo.sign, zoo.identity, zoo.hard_tanh, zoo.gelu, zoo.erf, zoo.elu(),
          zoo.selu, zoo.sin, zoo.cos, zoo.exp, zoo.leaky_relu(0.1), zoo.monomial(3), zoo.hermite(3)]
NO_CLOSED = [zoo.tanh, zoo.sigmoid, zoo.softplus, zoo.silu, zoo.gelu_tanh]
COMPOSED = [Activation(x / (1 + sympy.Abs(x)), name="softsign"),
            Activation(x * sympy.tanh(sympy.log(1 + sympy.exp(x))), name="mish"),
            Activation(sympy.tanh(sympy.sin(x)), name="tanh(sin)"),
            Activation(sympy.erf(x) / (1 + sympy.exp(-x)), name="erf*sigmoid")]


def contains(result, reference, digits: int = 70) -> bool:
    """The ball holds the reference (up to the reference's own 10^-(digits - 15))."""
    with mpmath.workdps(digits + 10):
        return abs(mpmath.mpf(result.value) - reference) <= result.error + mpmath.mpf(10) ** -(digits - 15)


def quad_reference(f, power: int = 0, digits: int = 70):
    """E[z^k f(z)] by mpmath.quad two ways at ``digits`` (two splittings of the line, the second
    on a finite range with the tails beyond 24 dropped: phi(24) < 10^-125); they must agree to
    10^-(digits - 15)."""
    with mpmath.workdps(digits):
        g = lambda z: z**power * f(z) * mpmath.exp(-z * z / 2)  # noqa: E731
        first = mpmath.quad(g, [-mpmath.inf, -4, -1, 0, 1, 4, mpmath.inf]) / mpmath.sqrt(2 * mpmath.pi)
        second = mpmath.quad(g, mpmath.linspace(-24, 24, 25)) / mpmath.sqrt(2 * mpmath.pi)
        assert abs(first - second) < mpmath.mpf(10) ** -(digits - 15), (first, second)
        return first


@pytest.mark.parametrize("act", CLOSED, ids=lambda a: a.name)
def test_certified_moment_contains_the_closed_form(act):
    exact = gaussian_moment(act, 2, q=sympy.Rational(5, 2), dps=30)
    assert exact.exact is not None and exact.certified
    ball = gaussian_moment(act, 2, q=sympy.Rational(5, 2), method="certified", dps=30)
    assert ball.certified and ball.error < mpmath.mpf(10) ** -30
    with mpmath.workdps(80):
        assert contains(ball, mpmath.mpf(str(sympy.N(exact.exact, 60))))


@pytest.mark.parametrize("act", [zoo.tanh, zoo.softplus, COMPOSED[0]], ids=lambda a: a.name)
def test_certified_moment_contains_two_quadratures_fast(act):
    ball = gaussian_moment(act, 2, method="certified", dps=20)
    assert ball.certified and ball.method.startswith("certified") and ball.error < mpmath.mpf(10) ** -20
    f = act.mpmath()
    assert contains(ball, quad_reference(lambda z: f(z) ** 2, digits=40), digits=40)


@pytest.mark.slow
@pytest.mark.parametrize("act", NO_CLOSED + COMPOSED, ids=lambda a: a.name)
def test_certified_moment_contains_two_quadratures(act):
    ball = gaussian_moment(act, 2, method="certified", dps=40)
    assert ball.certified and ball.method.startswith("certified")
    f = act.mpmath()
    assert contains(ball, quad_reference(lambda z: f(z) ** 2))


def _probabilists_hermite(n: int, z):
    """He_n(z) by the three-term recurrence He_{k+1} = z He_k - k He_{k-1} (cheaper than
    mpmath.hermite's hypergeometric route, and independent of the code under test)."""
    previous, current = mpmath.mpf(1), z
    if n == 0:
        return previous
    for k in range(1, n):
        previous, current = current, z * current - k * previous
    return current


def _check_hermite_coefficients(act, orders, dps: int, digits: int):
    values, errors, details = certified_coefficients(act, max(orders), 1, dps)
    assert details["certified"]
    f = act.mpmath()
    for n in orders:
        with mpmath.workdps(digits):
            norm = mpmath.sqrt(mpmath.factorial(n))
            reference = quad_reference(lambda z: f(z) * _probabilists_hermite(n, z), digits=digits) / norm
            # odd/even zeros are exact; the quadrature reference has 10^-digits noise there
            slack = mpmath.mpf(10) ** -(digits - 15)
            assert abs(values[n] - reference) <= errors[n] + slack, (n, values[n], reference)
            assert errors[n] < mpmath.mpf(10) ** -dps


def test_certified_hermite_coefficients_contain_quadrature_fast():
    _check_hermite_coefficients(zoo.tanh, (1, 7, 15), 20, 40)


@pytest.mark.slow
@pytest.mark.parametrize("act", [zoo.tanh, COMPOSED[0], zoo.gelu_tanh], ids=lambda a: a.name)
def test_certified_hermite_coefficients_contain_quadrature(act):
    _check_hermite_coefficients(act, (1, 2, 7, 31), 30, 70)


def test_certified_hermite_coefficients_of_relu_contain_the_exact_ones():
    exact = hermite_coefficients(zoo.relu, 40, dps=40)
    values, errors, _ = certified_coefficients(zoo.relu, 40, 1, 30)
    for n in range(41):
        assert abs(values[n] - exact[n].value) <= errors[n] + mpmath.mpf(10) ** -45, n


def test_default_hermite_coefficients_are_certified():
    a = hermite_coefficients(zoo.sigmoid, 12, dps=25)
    assert a[0].exact == sympy.Rational(1, 2) and a[2].exact == 0
    assert a[1].certified and a[1].method.startswith("certified")


@pytest.mark.parametrize("rho", ["0.5", pytest.param("-0.875", marks=pytest.mark.slow), "0.25"])  # exact in binary
def test_certified_mehler_contains_the_closed_form(rho):
    # erf has a closed-form kernel; the Mehler route does not know it
    value, error, method = certified_mehler_value(zoo.erf, sympy.Integer(1), sympy.Integer(1), mpmath.mpf(rho), 30)
    assert method.startswith("certified")
    exact = 2 / sympy.pi * sympy.asin(2 * sympy.Rational(rho) / 3)
    with mpmath.workdps(70):
        assert abs(value - mpmath.mpf(str(sympy.N(exact, 60)))) <= error


def test_tanh_kernel_is_certified_and_contains_the_reference():
    r = dual_kernel(zoo.tanh).evaluate(0.5, dps=30)
    assert r.certified and r.error < mpmath.mpf(10) ** -30
    # 23 digits from nested 2-D mpmath quadrature at 40 digits (computed once, offline)
    with mpmath.workdps(40):
        assert abs(r.value - mpmath.mpf("0.18632441320344808610678")) <= r.error + mpmath.mpf(10) ** -23


def test_without_flint_results_say_they_are_estimates(monkeypatch):
    monkeypatch.setattr(gaussian_certified, "flint_or_none", lambda: None)
    import ncsym.gaussian.moments as moments

    monkeypatch.setattr(moments, "flint_or_none", lambda: None)
    r = moments.expectation(zoo.tanh, zoo.tanh, zoo.tanh, zoo.tanh, dps=17)
    assert not r.certified and "python-flint" in r.details["not_certified"]
    a = hermite_coefficients(zoo.softplus, 3, dps=17)
    assert not a[1].certified and "estimate" in a[1].method
    assert dual_kernel(zoo.softplus).evaluate(0.3, dps=17).certified is False


# -- float64 paths against certified values, rho in [-1, 1] including the ends ------------------

FLOAT_RHOS = [-1.0, -0.9, -0.5, 0.0, 0.3, 0.9, 1.0]


def _certified_reference(act, rho: float):
    if abs(rho) == 1.0:  # k(+-1) = E[sigma(z) sigma(+-z)], one ball integral
        partner = act.expr.subs(x, x if rho > 0 else -x)
        return _product_ball(act.expr, partner)
    value, error, _ = certified_mehler_value(act, sympy.Integer(1), sympy.Integer(1), mpmath.mpf(rho), 20)
    return value, error


def _product_ball(f, g):
    from ncsym.gaussian.moments import expectation

    r = expectation(Activation(f), Activation(g), method="certified", dps=20)
    return r.value, r.error


@pytest.mark.parametrize("act", [zoo.tanh, pytest.param(zoo.sigmoid, marks=pytest.mark.slow),
                                 pytest.param(zoo.softplus, marks=pytest.mark.slow)], ids=lambda a: a.name)
def test_float_mehler_path_within_its_stated_accuracy(act):
    k = dual_kernel(act)
    scale = float(gaussian_moment(act, 2, dps=20).value)
    for rho in FLOAT_RHOS:
        value, error = _certified_reference(act, rho)
        assert abs(k(rho) - float(value)) <= 1e-15 * scale + float(error), (act.name, rho)


@pytest.mark.parametrize("act", [zoo.relu, zoo.erf, zoo.gelu, zoo.sin, zoo.abs],
                         ids=lambda a: a.name)
def test_float_closed_forms_within_a_few_ulps_of_the_scale(act):
    k = dual_kernel(act)
    scale = math.sqrt(float(k(1.0)) * float(k(1.0)))
    for rho in FLOAT_RHOS:
        exact = k.evaluate(sympy.Rational(str(rho)), dps=30)
        assert exact.certified
        assert abs(k(rho) - float(exact.value)) <= 4 * np.finfo(float).eps * scale, (act.name, rho)


# -- random compositions: the dps-20 ball contains the dps-50 value -----------------------------

_OUTER = [sympy.tanh, sympy.sin, sympy.erf, lambda u: 1 / (1 + sympy.exp(-u)), lambda u: sympy.log(1 + sympy.exp(u)),
          sympy.atan]


_CHAINS = st.lists(st.integers(0, len(_OUTER) - 1), min_size=1, max_size=3)
_SCALES = st.sampled_from([sympy.Integer(1), sympy.Rational(1, 2), sympy.Rational(3, 2)])


@settings(max_examples=3, deadline=None, derandomize=True)
@given(_CHAINS, _SCALES)
def test_random_compositions_dps20_ball_contains_dps50(chain, scale):
    _check_composition(chain, scale)


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(_CHAINS, _SCALES)
def test_random_compositions_dps20_ball_contains_dps50_many(chain, scale):
    _check_composition(chain, scale)


def _check_composition(chain, scale):
    expr = x
    for index in chain:
        expr = _OUTER[index](scale * expr)
    act = Activation(expr)
    coarse = gaussian_moment(act, 2, method="certified", dps=20)
    fine = gaussian_moment(act, 2, method="certified", dps=50)
    assert coarse.certified and fine.certified and fine.error < mpmath.mpf(10) ** -50
    with mpmath.workdps(60):
        assert abs(coarse.value - fine.value) <= coarse.error + fine.error
