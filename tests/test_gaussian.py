"""Gaussian expectations: closed forms against the literature, identities, routes, bad input.

Independent references used here: textbook closed forms (E[relu] = 1/sqrt(2 pi), the
arcsine law E[erf^2] = (2/pi) asin(2/3), E[e^{a z}] = e^{a^2/2}, ...), Stein's identity
E[sigma(sqrt(q) z) He_n(z)] = q^(n/2) E[sigma^(n)(sqrt(q) z)], a direct one-dimensional
integral for the bivariate normal CDF, and mpmath quadrature written out in the test itself.
"""

from __future__ import annotations

import time

import mpmath
import numpy as np
import pytest
import sympy

import ncsym
from ncsym import zoo
from ncsym.symbolic.activations import Activation, x
from ncsym.core.errors import DomainError, NoClosedFormError, NotSquareIntegrableError
from ncsym.gaussian.moments import exact_expectation, expectation, gaussian_mean, gaussian_moment
from ncsym.gaussian.bvn import BivariateNormalCDF, bivariate_normal_cdf_mp

pi = sympy.pi
q_sym = sympy.Symbol("q", positive=True)
t_sym = sympy.Symbol("t", real=True)


def is_zero(expr) -> bool:
    """Symbolic zero test (erfc written as 1 - erf so that the two spellings cancel)."""
    return sympy.simplify(sympy.expand(sympy.sympify(expr).rewrite(sympy.erf))) == 0


def quad_reference(f, q=1, dps=30, kinks=()):
    """int f(sqrt(q) z) phi(z) dz by plain mpmath quadrature (independent of ncsym)."""
    with mpmath.workdps(dps + 10):
        r = mpmath.sqrt(q)
        points = sorted({-5, 0, 5} | {mpmath.mpf(k) / r for k in kinks})
        value = mpmath.quad(lambda z: f(r * z) * mpmath.npdf(z), [-mpmath.inf, *points, mpmath.inf])
    return value


# -- literature values -------------------------------------------------------------------------

LITERATURE = [
    ("relu mean", lambda: gaussian_mean(zoo.relu), 1 / sympy.sqrt(2 * pi)),
    ("relu second moment", lambda: gaussian_moment(zoo.relu, 2), sympy.Rational(1, 2)),
    ("gelu mean", lambda: gaussian_mean(zoo.gelu), 1 / (2 * sympy.sqrt(pi))),
    # E[z^2 Phi(z)^2] = 1/3 + 1/(2 sqrt(3) pi)
    ("gelu second moment", lambda: gaussian_moment(zoo.gelu, 2), sympy.Rational(1, 3) + 1 / (2 * sympy.sqrt(3) * pi)),
    ("erf second moment", lambda: gaussian_moment(zoo.erf, 2), 2 / pi * sympy.asin(sympy.Rational(2, 3))),
    # E[z; z > 0] + E[e^z - 1; z < 0] = 1/sqrt(2 pi) + e^(1/2) Phi(-1) - 1/2
    ("elu mean", lambda: gaussian_mean(zoo.elu()),
     1 / sympy.sqrt(2 * pi) + sympy.exp(sympy.Rational(1, 2)) * (1 + sympy.erf(-1 / sympy.sqrt(2))) / 2 - sympy.Rational(1, 2)),
    ("sin second moment", lambda: gaussian_moment(zoo.sin, 2), (1 - sympy.exp(-2)) / 2),
    ("cos mean", lambda: gaussian_mean(zoo.cos), sympy.exp(-sympy.Rational(1, 2))),
    ("exp mean", lambda: gaussian_mean(zoo.exp), sympy.exp(sympy.Rational(1, 2))),
    ("exp second moment", lambda: gaussian_moment(zoo.exp, 2), sympy.exp(2)),
    ("abs mean", lambda: gaussian_mean(zoo.abs), sympy.sqrt(2 / pi)),
    ("step second moment", lambda: gaussian_moment(zoo.step, 2), sympy.Rational(1, 2)),
    ("hermite(3) second moment", lambda: gaussian_moment(zoo.hermite(3), 2), sympy.Integer(1)),
    ("monomial(3) second moment", lambda: gaussian_moment(zoo.monomial(3), 2), sympy.Integer(15)),
    # E[exp(2 z^2 / 5)] = 1/sqrt(1 - 4/5)
    ("exp(x^2/5) second moment", lambda: gaussian_moment(Activation(sympy.exp(x**2 / 5)), 2), sympy.sqrt(5)),
]


@pytest.mark.parametrize("name, compute, reference", LITERATURE, ids=[c[0] for c in LITERATURE])
def test_literature_values_exactly(name, compute, reference):
    result = compute()
    assert result.exact is not None, f"{name}: expected a closed form, got {result.method}"
    assert result.error == 0
    assert is_zero(result.exact - reference), f"{name}: {result.exact} != {reference}"
    assert abs(result.value - mpmath.mpf(sympy.N(reference, 30))) < mpmath.mpf(10) ** -14


def test_relu_mean_minus_literature_simplifies_to_zero():
    assert sympy.simplify(gaussian_mean(zoo.relu).exact - 1 / sympy.sqrt(2 * pi)) == 0


def test_selu_mean_zero_and_second_moment_one_exactly():
    # the engine proves both with sympy.simplify on closed forms built from zoo's exact constants
    assert gaussian_mean(zoo.selu).exact == 0
    assert gaussian_moment(zoo.selu, 2).exact == 1


def test_selu_closed_forms_simplify_to_zero_and_one():
    # the raw closed forms, before any recognition step, are rational identities in the
    # constants e^(1/2), e^2, erfc(1/sqrt 2), erfc(sqrt 2), pi: cancel proves them
    q = sympy.Rational(1)
    raw_mean, raw_second = exact_expectation(zoo.selu, q), exact_expectation([zoo.selu, zoo.selu], q)
    assert raw_mean != 0 and raw_second != 1
    assert sympy.cancel(raw_mean) == 0
    assert sympy.cancel(raw_second - 1) == 0


# -- symbolic and rational q, symbolic shift ------------------------------------------------------

SYMBOLIC_Q = [
    ("relu mean", lambda q: gaussian_mean(zoo.relu, q), lambda q: sympy.sqrt(q / (2 * pi))),
    ("relu second", lambda q: gaussian_moment(zoo.relu, 2, q), lambda q: q / 2),
    ("gelu mean", lambda q: gaussian_mean(zoo.gelu, q), lambda q: q / sympy.sqrt(2 * pi * (1 + q))),
    ("erf second", lambda q: gaussian_moment(zoo.erf, 2, q), lambda q: 2 / pi * sympy.asin(2 * q / (1 + 2 * q))),
    ("exp mean", lambda q: gaussian_mean(zoo.exp, q), lambda q: sympy.exp(q / 2)),
    ("sin second", lambda q: gaussian_moment(zoo.sin, 2, q), lambda q: (1 - sympy.exp(-2 * q)) / 2),
    ("cos mean", lambda q: gaussian_mean(zoo.cos, q), lambda q: sympy.exp(-q / 2)),
    ("elu mean", lambda q: gaussian_mean(zoo.elu(), q),
     lambda q: sympy.sqrt(q / (2 * pi)) + sympy.exp(q / 2) * (1 - sympy.erf(sympy.sqrt(q / 2))) / 2 - sympy.Rational(1, 2)),
]


@pytest.mark.parametrize("name, compute, reference", SYMBOLIC_Q, ids=[c[0] for c in SYMBOLIC_Q])
@pytest.mark.parametrize("q", [q_sym, sympy.Rational(5, 2), sympy.Rational(1, 3)], ids=["q", "5/2", "1/3"])
def test_closed_forms_at_symbolic_and_rational_q(name, compute, reference, q):
    result = compute(q)
    assert result.exact is not None
    assert is_zero(result.exact - reference(q)), f"{name} at q={q}: {result.exact}"


@pytest.mark.parametrize("q", [2.5, sympy.Float("2.5", 30), mpmath.mpf("2.5"), np.float64(2.5)],
                         ids=["float", "sympy-Float", "mpf", "numpy"])
def test_numeric_q_types_are_read_exactly(q):
    assert gaussian_mean(zoo.relu, q).exact == sympy.sqrt(5) / (2 * sympy.sqrt(pi))


def test_shaped_relu_with_symbolic_width():
    # s_+- = 1 +- 1/sqrt(n): E[sigma^2] = (s_+^2 + s_-^2)/2, E[sigma(sqrt q z)] = (s_+ - s_-) sqrt(q/(2 pi))
    n = sympy.Symbol("n", positive=True)
    act = zoo.shaped_relu(1, -1, n)
    assert is_zero(gaussian_moment(act, 2).exact - (1 + 1 / n))
    assert is_zero(gaussian_mean(act, q_sym).exact - 2 / sympy.sqrt(n) * sympy.sqrt(q_sym / (2 * pi)))


def test_symbolic_q_result_specializes_to_numeric_q():
    general = gaussian_moment(zoo.gelu, 2, q_sym).exact
    for q in (sympy.Rational(5, 2), sympy.Integer(1)):
        special = gaussian_moment(zoo.gelu, 2, q)
        assert abs(sympy.N(general.subs(q_sym, q), 30) - sympy.N(special.exact, 30)) < 1e-25


def test_gaussian_smoothing_of_relu_with_symbolic_shift():
    # W(t) = E[max(z + t, 0)] = t Phi(t) + phi(t)
    w = exact_expectation(zoo.relu, shift=t_sym)
    reference = t_sym * (1 + sympy.erf(t_sym / sympy.sqrt(2))) / 2 + sympy.exp(-t_sym**2 / 2) / sympy.sqrt(2 * pi)
    assert is_zero(w - reference)
    # W'(t) = E[step(z + t)] = Phi(t): differentiating the closed form works
    assert is_zero(sympy.diff(w, t_sym) - (1 + sympy.erf(t_sym / sympy.sqrt(2))) / 2)


def test_gelu_squared_smoothing_differentiates_through_bivariate_cdf():
    w = exact_expectation([zoo.gelu, zoo.gelu], shift=t_sym)
    assert w.has(BivariateNormalCDF)
    d1 = sympy.diff(w, t_sym).subs(t_sym, sympy.Rational(3, 10))
    with mpmath.workdps(30):
        s = mpmath.mpf(3) / 10
        # differentiate under the integral: d/ds (u+s)^2 Phi(u+s)^2
        numeric = quad_reference(lambda u: 2 * (u + s) * mpmath.ncdf(u + s) ** 2
                                 + 2 * (u + s) ** 2 * mpmath.ncdf(u + s) * mpmath.npdf(u + s))
        assert abs(mpmath.mpf(str(sympy.N(d1, 30))) - numeric) < 1e-25


@pytest.mark.parametrize("act", [zoo.relu, zoo.step, zoo.gelu, zoo.elu()], ids=lambda a: a.name)
def test_derivatives_of_smoothing_equal_smoothed_derivatives(act):
    """d^n/dt^n E[sigma(sqrt(q) z + t)] = E[sigma^(n)(sqrt(q) z + t)] (deltas included), q, t symbolic."""
    w = exact_expectation(act, q=q_sym, shift=t_sym)
    point = {t_sym: sympy.Rational(3, 7), q_sym: sympy.Rational(5, 3)}
    for n in (1, 2, 3):
        smoothed = exact_expectation(act.derivative(n), q=q_sym, shift=t_sym)
        assert abs(sympy.N((sympy.diff(w, t_sym, n) - smoothed).subs(point), 30)) < 1e-25, (act.name, n)


def test_complex_intermediate_forms_come_back_real():
    assert is_zero(exact_expectation([zoo.sin, zoo.relu], q=q_sym) - q_sym * sympy.exp(-q_sym / 2) / 2)
    assert not exact_expectation([zoo.cos, zoo.relu], q=q_sym).has(sympy.I)


def test_exact_expectation_is_fast_for_smoothing():
    start = time.perf_counter()
    for act in (zoo.relu, zoo.step, zoo.gelu, zoo.erf, zoo.elu(), zoo.hard_tanh, zoo.sin):
        exact_expectation(act, q=q_sym, shift=t_sym)
    assert time.perf_counter() - start < 10


# -- identities and products ----------------------------------------------------------------------

@pytest.mark.parametrize("act", [zoo.relu, zoo.step, zoo.sign, zoo.hard_tanh, zoo.abs, zoo.elu()], ids=lambda a: a.name)
@pytest.mark.parametrize("q", [sympy.Integer(1), sympy.Rational(5, 2)], ids=["1", "5/2"])
def test_stein_identity_with_distributional_derivatives(act, q):
    """E[sigma(sqrt q z) He_n(z)] = q^(n/2) E[sigma^(n)(sqrt q z)]: the right side uses the Dirac terms."""
    for n in (1, 2, 3, 4):
        coefficients = sympy.Poly(sympy.hermite_prob(n, x), x).all_coeffs()[::-1]
        lhs = sum(c * expectation(act, q=q, z_power=j).exact for j, c in enumerate(coefficients) if c != 0)
        rhs = q ** sympy.Rational(n, 2) * expectation(act.derivative(n), q=q).exact
        assert abs(sympy.N(lhs - rhs, 30)) < 1e-25, (act.name, n)


def test_dirac_delta_expectations():
    # E[delta(sqrt(q) z)] = 1/sqrt(2 pi q); E[delta(sqrt(q) z + mu - b)] = phi((b - mu)/sqrt q)/sqrt q
    assert is_zero(expectation(zoo.step.derivative(), q=q_sym).exact - 1 / sympy.sqrt(2 * pi * q_sym))
    shifted = Activation(sympy.DiracDelta(x - 1))
    got = expectation(shifted, q=4, shift=sympy.Rational(1, 2)).exact
    assert is_zero(got - sympy.exp(-sympy.Rational(1, 32)) / (2 * sympy.sqrt(2 * pi)))
    with pytest.raises(DomainError):
        expectation(zoo.step.derivative(), zoo.relu)


def test_stein_products():
    # E[z erf(z)] = E[erf'(z)] = 2/sqrt(3 pi); E[relu step] = E[z; z > 0]
    assert is_zero(expectation(zoo.erf, z_power=1).exact - 2 / sympy.sqrt(3 * pi))
    assert is_zero(expectation(zoo.relu, zoo.step).exact - 1 / sympy.sqrt(2 * pi))
    assert is_zero(expectation(zoo.exp, zoo.exp, zoo.exp, q=q_sym).exact - sympy.exp(9 * q_sym / 2))


PRODUCTS = [
    (zoo.relu, Activation(sympy.erf(x + 1))),          # one offset Phi on a half-line: Owen's T
    (zoo.sin, zoo.relu),                                 # complex completing of the square
    (zoo.step, zoo.gelu, zoo.gelu),                      # trivariate orthant law
    (zoo.exp, zoo.erf),
    (zoo.elu(), zoo.erf),
    (zoo.hard_tanh, zoo.erf),
]


@pytest.mark.parametrize("factors", PRODUCTS, ids=lambda fs: "*".join(f.name for f in fs))
def test_products_exact_against_independent_quadrature(factors):
    q = sympy.Rational(5, 2)
    result = expectation(*factors, q=q, dps=20)
    assert result.exact is not None
    fs = [f.mpmath() for f in factors]
    kinks = {float(b) for f in factors for b in f.breakpoints}
    reference = quad_reference(lambda u: mpmath.fprod(f(u) for f in fs), q=float(q), dps=20, kinks=kinks)
    assert abs(result.value - reference) < mpmath.mpf(10) ** -18


def test_bivariate_normal_cdf_against_direct_integral():
    # Phi_2(h, k; rho) = int_{-oo}^h phi(u) Phi((k - rho u)/sqrt(1 - rho^2)) du (not the
    # formula the evaluator uses)
    for h, k, rho in [(0.3, -0.5, 0.4), (1.0, 2.0, -0.7), (-1.2, 0.1, 0.95)]:
        with mpmath.workdps(30):
            h_, k_, r_ = (mpmath.mpf(str(v)) for v in (h, k, rho))
            expected = mpmath.quad(lambda u: mpmath.npdf(u) * mpmath.ncdf((k_ - r_ * u) / mpmath.sqrt(1 - r_**2)),
                                   [-mpmath.inf, h_])
            args = (sympy.Rational(str(h)), sympy.Rational(str(k)), sympy.Rational(str(rho)))
            got = mpmath.mpf(str(BivariateNormalCDF(*args).evalf(30)))
            assert abs(got - expected) < 1e-25
            assert abs(bivariate_normal_cdf_mp(h_, k_, r_) - expected) < 1e-25
    assert BivariateNormalCDF(0, 0, sympy.Rational(1, 2)) == sympy.Rational(1, 3)


# -- methods ------------------------------------------------------------------------------------

def test_exact_method_raises_instead_of_returning_a_float():
    with pytest.raises(NoClosedFormError):
        expectation(zoo.tanh, zoo.tanh, method="exact", timeout=1)
    with pytest.raises(NoClosedFormError):
        exact_expectation(zoo.sigmoid)


def test_sympy_fallback_is_time_bounded_and_honest():
    start = time.perf_counter()
    with pytest.raises(NoClosedFormError, match="no answer within 1 s"):
        expectation(zoo.tanh, zoo.tanh, method="sympy", timeout=1)
    assert time.perf_counter() - start < 6


def test_sympy_route_finds_a_closed_form_the_engine_lacks():
    # x/(1 + x^2) is outside the engine's rules; sympy.integrate answers, checked by quadrature
    act = Activation(x / (1 + x**2))
    result = expectation(act, act, timeout=20)
    assert result.exact is not None and "sympy" in result.method
    reference = quad_reference(lambda u: (u / (1 + u * u)) ** 2)
    assert abs(result.value - reference) < 1e-12


@pytest.mark.parametrize("dps", [15, 30, 60])
def test_numeric_error_bound_is_honest(dps):
    act = zoo.elu()
    exact = gaussian_moment(act, 2, dps=dps)
    numeric = gaussian_moment(act, 2, method="numeric", dps=dps)
    assert numeric.exact is None
    assert numeric.error < mpmath.mpf(10) ** (-dps)
    assert abs(numeric.value - exact.value) <= numeric.error + mpmath.mpf(10) ** (-dps - 5)


def test_certified_encloses_the_exact_value_and_agrees_with_quadrature():
    half = gaussian_moment(zoo.relu, 2, method="certified", dps=30)
    assert half.error < mpmath.mpf(10) ** -30
    assert abs(half.value - mpmath.mpf("0.5")) <= half.error
    cert = gaussian_moment(zoo.tanh, 2, method="certified", dps=30)
    numeric = gaussian_moment(zoo.tanh, 2, method="numeric", dps=30)
    assert abs(cert.value - numeric.value) <= cert.error + numeric.error


def test_certified_refuses_what_it_cannot_bound():
    with pytest.raises(DomainError, match="certified"):
        gaussian_moment(Activation(sympy.exp(x**2 / 5)), 2, method="certified")


def test_results_are_cached():
    assert gaussian_moment(zoo.gelu, 2, q=2) is gaussian_moment(zoo.gelu, 2, q=2)


def test_symbolic_closed_form_has_no_numeric_value():
    result = gaussian_mean(zoo.relu, q_sym)
    assert result.exact is not None and mpmath.isnan(result.value)
    with pytest.raises(NoClosedFormError):
        gaussian_moment(zoo.tanh, 2, q_sym)
    assert gaussian_mean(zoo.tanh, q_sym).exact == 0  # odd symmetry needs no closed form


# -- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("q", [0, -1, float("nan"), float("inf"), sympy.I, sympy.Symbol("q"), -q_sym],
                         ids=["0", "-1", "nan", "inf", "I", "q-unknown-sign", "-q"])
def test_bad_variance_raises_domain_error(q):
    with pytest.raises(DomainError):
        gaussian_mean(zoo.relu, q)
    with pytest.raises(DomainError):
        exact_expectation(zoo.relu, q=q)


@pytest.mark.parametrize("bad", [dict(z_power=-1), dict(method="magic"), dict(shift=sympy.I),
                                 dict(shift=float("nan")), dict(dps=0), dict(timeout=0)])
def test_bad_arguments_raise_domain_error(bad):
    with pytest.raises(DomainError):
        expectation(zoo.relu, **bad)


@pytest.mark.parametrize("expr", [sympy.exp(x**2), sympy.exp(x**2 / 3), 1 / x, 1 / sympy.sqrt(sympy.Abs(x)),
                                  sympy.exp(x**3), sympy.exp(x**2) * sympy.tanh(x)],
                         ids=["exp(x^2)", "exp(x^2/3)", "1/x", "1/sqrt|x|", "exp(x^3)", "exp(x^2)tanh"])
def test_not_square_integrable_raises(expr):
    with pytest.raises(NotSquareIntegrableError):
        gaussian_mean(Activation(expr))


def test_integrability_depends_on_q_and_moment_order():
    act = Activation(sympy.exp(x**2 / 5))
    assert gaussian_moment(act, 2, q=1).exact is not None
    with pytest.raises(NotSquareIntegrableError):
        gaussian_moment(act, 2, q=2)      # 2 * (1/5) * 2 >= 1/2
    with pytest.raises(NotSquareIntegrableError):
        gaussian_moment(act, 3, q=1)      # 3 * (1/5) >= 1/2
    with pytest.raises(NotSquareIntegrableError):
        gaussian_mean(act, q=q_sym)       # finite only for q < 5/4


def test_log_abs_is_square_integrable():
    # log|Z| = log(chi2_1)/2: mean -(gamma + log 2)/2, variance pi^2/8
    act = Activation(sympy.log(sympy.Abs(x)))
    mean = gaussian_mean(act, dps=20)
    second = gaussian_moment(act, 2, dps=20)
    with mpmath.workdps(30):
        m = -(mpmath.euler + mpmath.log(2)) / 2
        assert abs(mean.value - m) < 1e-18
        assert abs(second.value - (m**2 + mpmath.pi**2 / 8)) < 1e-18


@pytest.mark.parametrize("factors, power", [
    (["tanh"], 0), (["sigmoid(x) - 1/2"], 0), (["tanh", "cos"], 0), (["tanh"], 2), (["softplus(x) - softplus(-x)"], 0),
    (["abs", "sin"], 0), ([], 3),
])
def test_odd_integrands_have_exact_zero_mean(factors, power):
    # Odd symmetry proves E = 0 exactly even without a closed form; the numeric route agrees.
    result = ncsym.expectation(*factors, z_power=power, method="exact")
    assert result.exact == 0 and "odd symmetry" in result.method
    if factors:
        numeric = ncsym.expectation(*factors, z_power=power, method="numeric", dps=20)
        assert abs(numeric.value) <= numeric.error + mpmath.mpf(10) ** -18


def test_odd_about_its_value_at_zero():
    # sigmoid - 1/2 is odd, so E[sigmoid] = 1/2 and E[z^2 sigmoid] = 1/2 exactly.
    assert ncsym.gaussian_mean("sigmoid").exact == sympy.Rational(1, 2)
    assert ncsym.expectation("sigmoid", z_power=2).exact == sympy.Rational(1, 2)
    assert ncsym.expectation("tanh(x) + 3", z_power=4).exact == 9  # 3 E[z^4]
    numeric = ncsym.expectation("sigmoid", z_power=2, method="numeric", dps=25)
    assert abs(numeric.value - mpmath.mpf(1) / 2) <= numeric.error


@pytest.mark.parametrize("spec", ["gelu_tanh", "tanh(x) + 10^-30", "tanh(x - 1)"])
def test_symmetry_shortcut_needs_a_proof(spec):
    # Not odd: the mean is not zero and must not be reported as exactly 0.
    result = ncsym.gaussian_mean(spec, dps=40)
    assert result.exact != 0 and abs(result.value) > result.error
