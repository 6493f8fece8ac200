"""Certified variance fixed points and chi_1 against independent references.

References: relu's exact q* = sigma_b2 / (1 - sigma_w2 / 2) and chi_1 = sigma_w2 / 2; erf's closed
form V(q) = sigma_w2 (2/pi) asin(2q / (1 + 2q)) + sigma_b2 solved by mpmath.findroot; tanh's q* by
mpmath.findroot at 50 digits on V computed by mpmath.quad (no ball arithmetic anywhere).
"""

from __future__ import annotations

import mpmath
import pytest
import sympy

from ncsym import zoo
from ncsym.core.errors import ConvergenceError, DomainError, NcsymError
from ncsym.depth.certified_fixed_points import certified_variance_fixed_point


def holds(result, reference, slack=mpmath.mpf(10) ** -45) -> bool:
    with mpmath.workdps(60):
        return abs(mpmath.mpf(result.value) - reference) <= result.error + slack


@pytest.mark.parametrize("w, b", [("3/2", "1/10"), ("1", "2"), ("1/5", "1/3")])
def test_relu_fixed_point_contains_the_exact_one(w, b):
    w, b = sympy.Rational(w), sympy.Rational(b)
    fp = certified_variance_fixed_point(zoo.relu, w, b, dps=30)
    assert fp.q_star.certified and fp.chi_1.certified and fp.q_star.error < mpmath.mpf(10) ** -30
    with mpmath.workdps(60):
        assert holds(fp.q_star, mpmath.mpf(b.p) / b.q / (1 - mpmath.mpf(w.p) / w.q / 2))
        assert holds(fp.chi_1, mpmath.mpf(w.p) / w.q / 2)


def _mp_second_moment(f, q):
    g = lambda z: f(mpmath.sqrt(q) * z) ** 2 * mpmath.exp(-z * z / 2)  # noqa: E731
    return mpmath.quad(g, [-mpmath.inf, -3, 0, 3, mpmath.inf]) / mpmath.sqrt(2 * mpmath.pi)


def _tanh_check(w, b, dps: int, digits: int, start: str):
    fp = certified_variance_fixed_point(zoo.tanh, w, b, dps=dps)
    assert fp.q_star.certified and fp.q_star.error < mpmath.mpf(10) ** -dps
    with mpmath.workdps(digits):
        wm, bm = mpmath.mpf(w.p) / w.q, mpmath.mpf(b.p) / b.q
        q_star = mpmath.findroot(lambda q: wm * _mp_second_moment(mpmath.tanh, q) + bm - q, mpmath.mpf(start))
        chi = wm * _mp_second_moment(lambda u: mpmath.sech(u) ** 2, q_star)
    assert holds(fp.q_star, q_star, mpmath.mpf(10) ** -(digits - 10))
    assert holds(fp.chi_1, chi, mpmath.mpf(10) ** -(digits - 10))


def test_tanh_fixed_point_contains_findroot_on_mpmath_quad():
    _tanh_check(sympy.Rational(3, 2), sympy.Rational(1, 10), 25, 35, "0.52")


@pytest.mark.slow
@pytest.mark.parametrize("w, b, start", [("3/2", "1/10", "0.52"), ("4", "1/2", "2.5"), ("11/10", "1/100", "0.1")])
def test_tanh_fixed_point_contains_findroot_on_mpmath_quad_at_50_digits(w, b, start):
    _tanh_check(sympy.Rational(w), sympy.Rational(b), 30, 50, start)


def test_erf_fixed_point_contains_the_closed_form_root_and_a_float_guess_is_accepted():
    w, b = 2, sympy.Rational(1, 20)
    with mpmath.workdps(50):
        V = lambda q: 2 * 2 / mpmath.pi * mpmath.asin(2 * q / (1 + 2 * q)) + mpmath.mpf(1) / 20  # noqa: E731
        q_star = mpmath.findroot(lambda q: V(q) - q, mpmath.mpf(1))
        guess = float(q_star) * (1 + 3e-6)  # an inaccurate guess inside the default ball
    fp = certified_variance_fixed_point(zoo.erf, w, b, guess, dps=25)
    assert fp.q_star.certified and holds(fp.q_star, q_star, mpmath.mpf(10) ** -40)


def test_a_guess_far_from_the_root_is_refused():
    with pytest.raises(ConvergenceError, match="Krawczyk"):
        certified_variance_fixed_point(zoo.tanh, sympy.Rational(3, 2), sympy.Rational(1, 10), 3.0, dps=20)
    # a radius so small that the ball misses the root (0.5202...) is refused too
    with pytest.raises(ConvergenceError, match="does not hold exactly one fixed point"):
        certified_variance_fixed_point(zoo.tanh, sympy.Rational(3, 2), sympy.Rational(1, 10), 0.52, radius=1e-6)


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(DomainError, match="jumps"):
        certified_variance_fixed_point(zoo.step, 1, 1, dps=20)
    with pytest.raises(DomainError, match="sigma_w2 > 0"):
        certified_variance_fixed_point(zoo.tanh, -1, 0)
    with pytest.raises(DomainError, match="q > 0"):
        certified_variance_fixed_point(zoo.tanh, 1, 1, -2.0)
    # tanh with sigma_w2 < 1 and no bias: q* = 0, where no ball q > 0 can hold it
    with pytest.raises(NcsymError):
        certified_variance_fixed_point(zoo.tanh, sympy.Rational(1, 2), 0, dps=20)


# -- the correlation fixed point ------------------------------------------------------------------

def test_erf_correlation_fixed_point_contains_the_closed_form_root():
    # erf: V(q) = w (2/pi) asin(2q/(1+2q)) + b and k_q(rho) = (2/pi) asin(2q rho/(1+2q)) in closed form
    from ncsym.depth.certified_fixed_points import certified_correlation_fixed_point

    r = certified_correlation_fixed_point(zoo.erf, 4, sympy.Rational(1, 10), dps=25)
    assert r.certified and r.error < mpmath.mpf(10) ** -25
    with mpmath.workdps(50):
        w, b = mpmath.mpf(4), mpmath.mpf(1) / 10
        q = mpmath.findroot(lambda q: w * 2 / mpmath.pi * mpmath.asin(2 * q / (1 + 2 * q)) + b - q, mpmath.mpf(3))
        C = lambda p: (w * 2 / mpmath.pi * mpmath.asin(2 * q * p / (1 + 2 * q)) + b) / q  # noqa: E731
        rho = mpmath.findroot(lambda p: C(p) - p, mpmath.mpf(r.value))
        assert abs(C(rho) - rho) < mpmath.mpf(10) ** -45 and abs(rho) < 0.95
    assert holds(r, rho, mpmath.mpf(10) ** -40)


def test_a_far_correlation_guess_is_refused():
    from ncsym.depth.certified_fixed_points import certified_correlation_fixed_point

    with pytest.raises(ConvergenceError, match="Krawczyk"):
        certified_correlation_fixed_point(zoo.erf, 4, sympy.Rational(1, 10), 0.8, dps=20)


@pytest.mark.slow
def test_tanh_correlation_fixed_point_agrees_with_the_float_map_and_a_far_guess_is_refused():
    from ncsym.depth.certified_fixed_points import certified_correlation_fixed_point
    from ncsym.kernels.dual import dual_kernel

    fp = certified_variance_fixed_point(zoo.tanh, 4, sympy.Rational(1, 10), dps=20)
    r = certified_correlation_fixed_point(zoo.tanh, 4, sympy.Rational(1, 10), dps=20)
    assert r.certified and r.error < mpmath.mpf(10) ** -20
    q = float(fp.q_star.value)
    k = dual_kernel(zoo.tanh, q1=sympy.Rational(q))   # the float64 Mehler table, a separate route
    rho = float(r.value)
    assert abs((4 * k(rho) + 0.1) / q - rho) < 1e-13
    with pytest.raises(ConvergenceError, match="Krawczyk"):
        certified_correlation_fixed_point(zoo.tanh, 4, sympy.Rational(1, 10), 0.7, dps=20)
