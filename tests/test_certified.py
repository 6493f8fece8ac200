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
    _check_hermite_coefficients(zoo.tanh, (1, 9), 20, 36)


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
EPS = float(np.finfo(float).eps)
#: One representative per zoo name (parameters where the name is a family).
ZOO = {name: getattr(zoo, name) for name in zoo.NAMES}
ZOO.update(elu=zoo.elu(), leaky_relu=zoo.leaky_relu(0.1), monomial=zoo.monomial(3), hermite=zoo.hermite(3),
           shaped_relu=zoo.shaped_relu(1, -1, 16))
#: Stated float64 accuracy, relative to the scale sqrt(k(1) k(1)) = E[sigma^2], per route.
CLOSED_FORM_ULPS = 2           # closed forms: <= 2 ulp of the scale
SERIES_TOLERANCE = 1e-15       # the float Mehler series (smooth activations)
QUADRATURE_ULPS = 64           # kinked, no closed form (Chebyshev in theta from 2-D quadrature):
                               # measured <= 55 (selu), 44 (hard_tanh), 23 (elu) on 41 rhos in [-1, 1]
FAST_FLOAT = {"tanh", "elu"}   # besides every closed form; the other numeric kernels run in the slow pass


def _float_bound(k, name: str) -> float:
    if k.form is not None:
        return CLOSED_FORM_ULPS * EPS
    return QUADRATURE_ULPS * EPS if len(ZOO[name].pieces) > 1 else SERIES_TOLERANCE


#: The numeric kernels of the default suite skip rho = +-0.9 (a certified Mehler sum of ~500 terms).
FAST_RHOS = [-1.0, -0.5, 0.0, 0.3, 1.0]


def _float_cases():
    cases = []
    for name in sorted(zoo.NAMES):
        closed = dual_kernel(ZOO[name]).form is not None
        if closed:
            cases.append(pytest.param(name, FLOAT_RHOS, id=name))
            continue
        if name in FAST_FLOAT:
            cases.append(pytest.param(name, FAST_RHOS, id=name))
        cases.append(pytest.param(name, FLOAT_RHOS, marks=pytest.mark.slow, id=f"{name}-all"))
    return cases


def test_zoo_representatives_cover_every_name():
    assert set(ZOO) == set(zoo.NAMES) and all(isinstance(a, Activation) for a in ZOO.values())


@pytest.mark.parametrize("name, rhos", _float_cases())
def test_float_kernel_within_its_stated_accuracy_of_certified_values(name, rhos):
    # references: the exact closed form at the rational rho, else a certified ball (exact inner
    # smoothing for kinked activations and at rho = +-1, the certified Mehler sum otherwise)
    k = dual_kernel(ZOO[name])
    refs = {}
    for rho in sorted(set(rhos) | {1.0}):
        r = k.evaluate(sympy.Rational(str(rho)) if k.form is not None else mpmath.mpf(rho), dps=20)
        assert r.certified, (name, rho, r.method)
        refs[rho] = r
    scale = float(refs[1.0].value)
    bound = _float_bound(k, name) * scale
    for rho, r in refs.items():
        assert abs(k(rho) - float(r.value)) <= bound + float(r.error), (name, rho, (k(rho) - float(r.value)) / scale)


def test_kinked_kernel_without_closed_form_is_certified_and_fast_at_the_ends():
    # hard_tanh: k(1) = E[hard_tanh(z)^2] has a closed form; k(-1) = -k(1) (odd); k(0) = 0
    k = dual_kernel(zoo.hard_tanh)
    exact = gaussian_moment(zoo.hard_tanh, 2)
    assert exact.exact is not None
    with mpmath.workdps(40):
        reference = mpmath.mpf(str(sympy.N(exact.exact, 35)))
        for rho, sign in ((1, 1), (-1, -1)):
            r = k.evaluate(rho, dps=30)
            assert r.certified and r.error < mpmath.mpf(10) ** -30
            assert abs(r.value - sign * reference) <= r.error + mpmath.mpf(10) ** -33


@pytest.mark.parametrize("rho", ["0.5", "-0.998046875", "0.9990234375"])  # exact in binary
def test_certified_smoothing_contains_relu_closed_form(rho):
    from ncsym.kernels.certified_smoothing import certified_smoothed_value

    # the inner smoothing does not know the arc-cosine kernel; relu's kinks make Mehler slow here
    value, error, method = certified_smoothed_value(zoo.relu, sympy.Integer(2), sympy.Integer(3),
                                                    mpmath.mpf(rho), 30)
    assert method.startswith("certified")
    exact = dual_kernel(zoo.relu, q1=2, q2=3).evaluate(sympy.Rational(rho), dps=40)
    with mpmath.workdps(50):
        assert abs(value - exact.value) <= error + exact.error


def test_certified_smoothing_agrees_with_the_float_2d_quadrature():
    from ncsym.kernels.certified_smoothing import certified_smoothed_value
    from ncsym.kernels.numeric import quadrature_kernel

    for act in (zoo.hard_tanh,):
        for rho in (-0.7, 0.97):
            value, error, _ = certified_smoothed_value(act, sympy.Integer(1), sympy.Rational(1, 2),
                                                       mpmath.mpf(rho), 20)
            assert abs(quadrature_kernel(act, rho, 1.0, 0.5) - float(value)) < 1e-13, (act.name, rho)


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
