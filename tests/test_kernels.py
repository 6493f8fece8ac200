"""Dual kernels checked through independent routes.

Routes: the closed forms (registry) against the exact Hermite coefficients (Mehler, symbolic);
the float evaluators against scipy's adaptive nested quadrature written here; mpmath 1-D
reductions (inner Gaussian smoothing in closed form) at 15, 30 and 50 digits; a fixed-seed
Monte Carlo with 5-standard-error tolerances; finite differences for the derivative kernel;
Isserlis / moment-generating identities for general variances.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy
from scipy import integrate

import ncsym
from ncsym import zoo
from ncsym.symbolic.activations import Activation, x
from ncsym.core.errors import DomainError, NoClosedFormError
from ncsym.hermite_series.coefficients import hermite_coefficients
from ncsym.kernels.dual import DualKernel, dual_kernel, kernel_matrix, rho

with mpmath.workdps(40):
    TANH_AT_HALF = mpmath.mpf("0.18632441320344808610678")

CLOSED = {
    "relu": zoo.relu, "abs": zoo.abs, "step": zoo.step, "sign": zoo.sign, "identity": zoo.identity,
    "leaky_relu": zoo.leaky_relu(0.1), "gelu": zoo.gelu, "erf": zoo.erf, "sin": zoo.sin, "cos": zoo.cos,
    "exp": zoo.exp, "monomial3": zoo.monomial(3), "hermite3": zoo.hermite(3),
    "relu_shift": zoo.relu.shifted(-1), "relu_neg2": zoo.relu.affine_input(-2),
    "step_shift": zoo.step.shifted(sympy.Rational(-1, 3)),
    "gelu_scaled": zoo.gelu.affine_input(sympy.Rational(3, 2)),
    "gelu_scaled_shift": zoo.gelu.affine_input(sympy.Rational(3, 2)).shifted(1),
    "sin_affine": zoo.sin.affine_input(2, 1), "shaped_relu": zoo.shaped_relu(1, -1, 16),
}
NUMERIC = {
    "tanh": zoo.tanh, "sigmoid": zoo.sigmoid, "softplus": zoo.softplus, "silu": zoo.silu,
    "gelu_tanh": zoo.gelu_tanh, "selu": zoo.selu, "elu": zoo.elu(), "hard_tanh": zoo.hard_tanh,
}
ALL = {**CLOSED, **NUMERIC}


# -- an independent reference: nested adaptive quadrature (scipy) ------------------------------

def scipy_kernel(act: Activation, r: float, q1: float = 1.0, q2: float = 1.0) -> float:
    """E[sigma(u) sigma(v)] by nested scipy.integrate.quad, split at the kinks."""
    scalar = sympy.lambdify(x, act.expr, modules=[{"erf": math.erf, "Heaviside": lambda t, h0=0.5: float(t > 0)}, "math"])
    f = lambda values: np.array([scalar(float(values[0]))])  # noqa: E731
    breaks = [float(b) for b in act.breakpoints]
    s1, s2 = math.sqrt(q1), math.sqrt(q2)
    alpha, beta = r * s2, s2 * math.sqrt(max(0.0, (1 - r) * (1 + r)))
    phi = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)  # noqa: E731

    def inner(z1: float) -> float:
        mu = alpha * z1
        if beta == 0:
            return float(f(np.array([mu]))[0])
        points = [(b - mu) / beta for b in breaks if abs((b - mu) / beta) < 12]
        g = lambda z2: phi(z2) * float(f(np.array([mu + beta * z2]))[0])  # noqa: E731
        return _quad_split(g, points)

    outer_points = [b / s1 for b in breaks] + ([b / alpha for b in breaks] if alpha else [])
    outer_points = [p for p in outer_points if abs(p) < 12]
    return _quad_split(lambda z1: phi(z1) * float(f(np.array([s1 * z1]))[0]) * inner(z1), outer_points)


def _quad_split(g, points) -> float:
    edges = [-12.0, *sorted(points), 12.0]
    return sum(integrate.quad(g, a, b, epsabs=1e-13, epsrel=1e-12, limit=100)[0] for a, b in zip(edges, edges[1:]))


def scale_of(k: DualKernel) -> float:
    return math.sqrt(abs(k(1.0)) * abs(k(1.0))) if not (k.form and k.form.singular_at_unit) else 1.0


# -- closed forms are exactly the Mehler series ---------------------------------------------------

# gelu_scaled_shift: exact Hermite coefficients of a shifted gelu are not available from
# ncsym.hermite_series.coefficients yet (its holonomic route fails on the constant); the shift identity is
# checked in test_constant_shift_identity and the kernel numerically below.
@pytest.mark.parametrize("name", sorted(set(CLOSED) - {"shaped_relu", "gelu_scaled_shift"}))
@pytest.mark.parametrize("q1, q2", [(1, 1), (2, sympy.Rational(1, 2))])
def test_closed_form_taylor_series_equals_exact_hermite_products(name, q1, q2):
    act = CLOSED[name]
    k = dual_kernel(act, q1=q1, q2=q2)
    assert k.closed_form is not None
    series = sympy.series(k.closed_form, rho, 0, 21).removeO()
    first = hermite_coefficients(act, 20, q=q1, method="exact")
    second = hermite_coefficients(act, 20, q=q2, method="exact")
    nonzero = 0
    for n in range(21):
        expected = first[n].exact * second[n].exact
        difference = sympy.expand(series.coeff(rho, n) - expected)
        assert difference == 0 or sympy.simplify(difference) == 0, (name, n, series.coeff(rho, n), expected)
        nonzero += expected != 0
    assert nonzero >= {"monomial3": 2, "hermite3": 1, "identity": 1}.get(name, 5)


def test_taylor_coefficients_method_matches_closed_form_series():
    k = dual_kernel(zoo.gelu, q1=3)
    coeffs = k.taylor_coefficients(8)
    series = sympy.series(k.closed_form, rho, 0, 9).removeO()
    for n, c in enumerate(coeffs):
        assert c.exact is not None
        assert sympy.simplify(series.coeff(rho, n) - c.exact) == 0


def test_taylor_coefficients_numeric_carry_error_bounds():
    coeffs = dual_kernel(zoo.tanh).taylor_coefficients(5, dps=30)
    # Mehler at rho = 1: sum a_n^2 -> E[tanh^2]; a_1^2 is the largest term
    assert coeffs[0].value == 0 and coeffs[2].value == 0
    assert 0 < coeffs[1].error < 1e-28 and mpmath.almosteq(coeffs[1].value, mpmath.mpf("0.605705509602159") ** 2, 1e-13)


# -- structural recognition --------------------------------------------------------------------

def test_registry_recognizes_structurally():
    relu_forms = [zoo.relu, ncsym.activation("max(x, 0)"), Activation(x * sympy.Heaviside(x)),
                  Activation((x + sympy.Abs(x)) / 2)]
    for act in relu_forms:
        k = dual_kernel(act)
        assert k.form is not None and k.form.entry.name == "piecewise_linear"
        assert sympy.simplify(k.closed_form - dual_kernel(zoo.relu).closed_form) == 0
    assert dual_kernel(ncsym.activation("erf(x)")).form.entry.name == "erf"
    phi = Activation((1 + sympy.erf(x / sympy.sqrt(2))) / 2)  # the normal CDF
    assert sympy.simplify(dual_kernel(phi).closed_form - (sympy.Rational(1, 4) + sympy.asin(rho / 2) / (2 * sympy.pi))) == 0
    assert dual_kernel(zoo.tanh).closed_form is None
    assert dual_kernel(zoo.sin).closed_form == sympy.exp(-1) * sympy.sinh(rho)
    assert dual_kernel(zoo.cos).closed_form == sympy.exp(-1) * sympy.cosh(rho)
    assert sympy.simplify(dual_kernel(zoo.exp).closed_form - sympy.exp(1 + rho)) == 0
    assert sympy.simplify(dual_kernel(zoo.sign).closed_form - 2 / sympy.pi * sympy.asin(rho)) == 0
    assert sympy.simplify(dual_kernel(zoo.erf).closed_form - 2 / sympy.pi * sympy.asin(2 * rho / 3)) == 0
    cho_saul = (sympy.sqrt(1 - rho**2) + (sympy.pi - sympy.acos(rho)) * rho) / (2 * sympy.pi)
    assert sympy.simplify((dual_kernel(zoo.relu).closed_form - cho_saul).rewrite(sympy.asin)) == 0


def test_constant_shift_identity():
    # E[(s(u) + c)(s(v) + c)] = k + c (E s(u) + E s(v)) + c^2
    c = sympy.Rational(-2, 5)
    for base in (zoo.gelu, zoo.relu, zoo.erf, zoo.sin):
        for q1, q2 in ((1, 1), (2, 3)):
            k = dual_kernel(base, q1=q1, q2=q2)
            shifted = dual_kernel(base.shifted(c), q1=q1, q2=q2)
            m1 = ncsym.gaussian.gaussian_mean(base, q=q1).exact
            m2 = ncsym.gaussian.gaussian_mean(base, q=q2).exact
            difference = shifted.closed_form - (k.closed_form + c * (m1 + m2) + c**2)
            assert abs(sympy.N(difference.subs(rho, sympy.Rational(1, 3)), 40)) < 1e-35, (base, q1, q2)


# -- every zoo member, independent routes ------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ALL))
def test_float_kernel_against_scipy_quadrature(name):
    act = ALL[name]
    k = dual_kernel(act)
    scale = scale_of(k)
    for r in (-0.9, 0.5):
        reference = scipy_kernel(act, r)
        assert abs(k(r) - reference) <= 1e-11 * scale, (name, r, k(r), reference)


@pytest.mark.parametrize("name", sorted(ALL))
def test_float_kernel_against_monte_carlo(name):
    act = ALL[name]
    f = act.numpy()
    rng = np.random.default_rng(20261123)
    z1, z2 = rng.standard_normal((2, 200_000))
    # general variances where the kernel is cheap to build; kinked numeric kernels at unit variances
    q1, q2 = (1.5, 0.5) if name in CLOSED or name in ("tanh", "sigmoid", "softplus", "silu") else (1.0, 1.0)
    k = dual_kernel(act, q1=q1, q2=q2)
    for r in (-0.6, 0.4):
        u = math.sqrt(q1) * z1
        v = math.sqrt(q2) * (r * z1 + math.sqrt(1 - r * r) * z2)
        samples = f(u) * f(v)
        mean, se = samples.mean(), samples.std(ddof=1) / math.sqrt(samples.size)
        assert abs(k(r) - mean) <= 5 * se, (name, r, k(r), mean, se)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "silu", "gelu_tanh"])
def test_mehler_series_against_closed_route_at_small_rho(name):
    # truncated Mehler sum with exact/certified coefficients, against the float evaluator
    act = NUMERIC[name]
    coeffs = hermite_coefficients(act, 60, dps=20)
    k = dual_kernel(act)
    for r in (-0.5, 0.25, 0.5):
        series = sum(float(c.value) ** 2 * r**n for n, c in enumerate(coeffs))
        assert abs(k(r) - series) <= 1e-14, (name, r)


# -- arbitrary precision ----------------------------------------------------------------------

def _smoothed_reference(kind: str, r: Any, dps: int) -> Any:
    """1-D mpmath reduction: E[sigma(u) W(r u)] with W(mu) = E[sigma(mu + s z)] in closed form."""
    with mpmath.workdps(dps + 10):
        r = mpmath.mpf(r)
        s = mpmath.sqrt((1 - r) * (1 + r))
        Phi = lambda t: mpmath.ncdf(t)  # noqa: E731
        phi = lambda t: mpmath.npdf(t)  # noqa: E731
        inner = {
            "relu": lambda mu: mu * Phi(mu / s) + s * phi(mu / s),
            "step": lambda mu: Phi(mu / s),
            "sign": lambda mu: 2 * Phi(mu / s) - 1,
            "erf": lambda mu: mpmath.erf(mu / mpmath.sqrt(1 + 2 * s * s)),
        }[kind]
        outer = {"relu": lambda t: max(t, 0), "step": lambda t: 1 if t > 0 else 0,
                 "sign": lambda t: mpmath.sign(t), "erf": mpmath.erf}[kind]
        pieces = [0, mpmath.inf] if kind in ("relu", "step") else [-mpmath.inf, 0, mpmath.inf]
        return mpmath.quad(lambda t: phi(t) * outer(t) * inner(r * t), pieces)


@pytest.mark.parametrize("kind", ["relu", "step", "sign", "erf"])
@pytest.mark.parametrize("dps", [15, 30, 50])
def test_mpmath_evaluation_against_one_dimensional_reduction(kind, dps):
    k = dual_kernel(kind)
    for r in ("-0.7", "0.3", "0.9"):
        reference = _smoothed_reference(kind, r, dps)
        with mpmath.workdps(dps):
            value = k(mpmath.mpf(r))
            assert isinstance(value, mpmath.mpf)
        result = k.evaluate(mpmath.mpf(r) if dps == 15 else sympy.Rational(r), dps=dps)
        tolerance = mpmath.mpf(10) ** (-dps + 2) * max(1, abs(reference))
        assert abs(value - reference) < tolerance
        assert abs(result.value - reference) < tolerance


@pytest.mark.parametrize("dps", [15, 25])
def test_tanh_reference_value(dps):
    k = dual_kernel(zoo.tanh)
    assert abs(k(0.5) - float(TANH_AT_HALF)) < 2e-16
    result = k.evaluate(0.5, dps=dps)
    assert result.exact is None and result.error < mpmath.mpf(10) ** (-dps)
    with mpmath.workdps(40):
        assert abs(result.value - TANH_AT_HALF) <= result.error + mpmath.mpf(10) ** -22
    with mpmath.workdps(dps):
        assert abs(k(mpmath.mpf("0.5")) - TANH_AT_HALF) < mpmath.mpf(10) ** (-min(dps, 22))


def test_numeric_evaluate_against_mpmath_one_dimensional_reduction():
    # elu has no closed form: Mehler (rigorous tail) against mpmath with the inner Gaussian
    # smoothing W(mu) = E[elu(mu + s z)] in closed form
    act = zoo.elu()
    result = dual_kernel(act).evaluate(0.5, dps=20)
    f = act.mpmath()
    with mpmath.workdps(30):
        r = mpmath.mpf("0.5")
        s = mpmath.sqrt(1 - r * r)

        def smoothed(mu):
            a = mu / s
            return (mu * mpmath.ncdf(a) + s * mpmath.npdf(a)
                    + mpmath.exp(mu + s * s / 2) * mpmath.ncdf(-a - s) - mpmath.ncdf(-a))

        reference = mpmath.quad(lambda t: mpmath.npdf(t) * f(t) * smoothed(r * t), [-mpmath.inf, 0, mpmath.inf])
        assert abs(result.value - reference) <= result.error + mpmath.mpf(10) ** -25


@pytest.mark.slow
def test_tanh_reference_value_at_50_digits():
    result = dual_kernel(zoo.tanh).evaluate(0.5, dps=50)
    with mpmath.workdps(60):
        assert result.error < mpmath.mpf(10) ** -50
        assert abs(result.value - TANH_AT_HALF) < mpmath.mpf(10) ** -22


# -- near rho = +-1 -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "abs", "step", "sign", "leaky_relu", "gelu", "erf", "relu_shift",
                                  "relu_neg2", "identity", "sin", "exp", "step_shift"])
def test_no_cancellation_near_plus_minus_one(name):
    k = dual_kernel(CLOSED[name])
    exact = sympy.lambdify(rho, k.closed_form, "mpmath")
    for r in (1 - 1e-12, -1 + 1e-12, 1 - 1e-6, -1 + 1e-6, 1.0, -1.0):
        with mpmath.workdps(50):
            reference = exact(mpmath.mpf(r))
            reference = reference.real if isinstance(reference, mpmath.mpc) else reference
        value = k(r)
        assert abs(value - float(reference)) <= 4e-15 * abs(float(reference)) + 1e-300, (name, r, value, reference)


# -- general variances and covariances ------------------------------------------------------------------

def test_general_variances_identities():
    q1, q2, c = 2.0, 0.5, 0.6
    r = c / math.sqrt(q1 * q2)
    # homogeneity of degree 1 and 0
    assert math.isclose(dual_kernel("relu", q1=q1, q2=q2)(r), math.sqrt(q1 * q2) * dual_kernel("relu")(r), rel_tol=1e-14)
    assert math.isclose(dual_kernel("sign", q1=q1, q2=q2)(r), dual_kernel("sign")(r), rel_tol=1e-14)
    # moment generating function and Isserlis
    assert math.isclose(dual_kernel("exp", q1=q1, q2=q2).covariance(c), math.exp((q1 + q2) / 2 + c), rel_tol=1e-14)
    assert math.isclose(dual_kernel(zoo.monomial(3), q1=q1, q2=q2).covariance(c), 9 * q1 * q2 * c + 6 * c**3, rel_tol=1e-14)
    # Williams' erf kernel with unequal variances
    expected = 2 / math.pi * math.asin(2 * c / math.sqrt((1 + 2 * q1) * (1 + 2 * q2)))
    assert math.isclose(dual_kernel("erf", q1=q1, q2=q2).covariance(c), expected, rel_tol=1e-14)
    # exact covariance input
    k = dual_kernel("relu", q1=2, q2=8)
    assert k.covariance(sympy.Integer(4)) == 2
    assert sympy.simplify(k.covariance(sympy.Integer(0)) - 2 / sympy.pi) == 0


@pytest.mark.parametrize("name", ["tanh", "elu", "gelu"])
def test_general_variances_against_scipy(name):
    act = ALL[name]
    k = dual_kernel(act, q1=2.5, q2=0.4)
    for r in (-0.5, 0.8):
        assert abs(k(r) - scipy_kernel(act, r, 2.5, 0.4)) <= 1e-11 * scale_of(k)


# -- kernel matrices ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "erf", "gelu", "sign", "tanh", "elu", "sin"])
def test_kernel_matrix_matches_scalar_kernels(name):
    act = ALL[name]
    rng = np.random.default_rng(7)
    X = rng.standard_normal((3, 3)) * np.array([1.0, 0.5, 2.0])
    K = X @ X.T / 3
    V = kernel_matrix(act, K)
    assert V.shape == K.shape and np.allclose(V, V.T, rtol=0, atol=0)
    for i in range(3):
        for j in range(3):
            k = dual_kernel(act, q1=float(K[i, i]), q2=float(K[j, j]))
            r = K[i, j] / math.sqrt(K[i, i] * K[j, j])
            expected = k(float(np.clip(r, -1, 1)))
            assert abs(V[i, j] - expected) <= 1e-13 * math.sqrt(abs(V[i, i] * V[j, j])), (name, i, j)


def test_kernel_matrix_derivative():
    K = np.array([[1.0, 0.3, -0.2], [0.3, 2.0, 0.9], [-0.2, 0.9, 1.5]])
    D = kernel_matrix("relu", K, derivative=True)
    r = K / np.sqrt(np.outer(np.diag(K), np.diag(K)))
    assert np.allclose(D, 0.25 + np.arcsin(np.clip(r, -1, 1)) / (2 * np.pi), rtol=1e-14, atol=0)
    Dt = kernel_matrix("tanh", K, derivative=True)
    for i, j in ((0, 1), (1, 2), (2, 2)):
        expected = scipy_kernel(Activation(1 - sympy.tanh(x) ** 2), r[i, j], K[i, i], K[j, j])
        assert abs(Dt[i, j] - expected) < 1e-12
    with pytest.raises(DomainError):
        kernel_matrix("step", K, derivative=True)  # E[delta(u)^2] is infinite


def test_kernel_matrix_bad_input():
    with pytest.raises(DomainError):
        kernel_matrix("relu", np.ones((2, 3)))
    with pytest.raises(DomainError):
        kernel_matrix("relu", np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(DomainError):
        kernel_matrix("relu", np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(DomainError):
        kernel_matrix("relu", np.array([[0.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(DomainError):
        kernel_matrix("relu", np.array([[1.0, 0.5], [0.4, 1.0]]))


# -- the derivative kernel ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "gelu", "erf", "sin", "tanh", "elu", "softplus", "leaky_relu"])
def test_derivative_kernel_is_dk_dc(name):
    act = ALL[name]
    q1, q2 = 1.7, 0.6
    k = dual_kernel(act, q1=q1, q2=q2)
    dk = k.derivative()
    root = math.sqrt(q1 * q2)
    for c in (-0.5, 0.1, 0.7):
        h = 1e-4
        finite = (k.covariance(c + h) - k.covariance(c - h)) / (2 * h)  # O(h^2) ~ 1e-8 error
        assert abs(dk.covariance(c) - finite) < 1e-7, (name, c)
        assert abs(dk(c / root) - dk.covariance(c)) < 1e-15


@pytest.mark.parametrize("name", ["relu", "abs", "leaky_relu", "sin", "exp", "monomial3"])
def test_derivative_closed_form_symbolic(name):
    q1, q2 = sympy.Integer(3), sympy.Rational(1, 3)
    k = dual_kernel(CLOSED[name], q1=q1, q2=q2)
    derivative = k.derivative().closed_form
    assert derivative is not None
    # dk/drho = sqrt(q1 q2) E[sigma'(u) sigma'(v)]
    difference = sympy.diff(k.closed_form, rho) - sympy.sqrt(q1 * q2) * derivative
    assert sympy.simplify(difference) == 0 or all(
        abs(sympy.N(difference.subs(rho, v), 40)) < 1e-35 for v in (sympy.Rational(-1, 3), sympy.Rational(1, 5), sympy.Rational(4, 5)))


def test_step_derivative_is_the_gaussian_density_at_zero():
    k = dual_kernel("step").derivative()
    assert sympy.simplify(k.closed_form - 1 / (2 * sympy.pi * sympy.sqrt(1 - rho**2))) == 0
    assert k(1.0) == math.inf
    with pytest.raises(DomainError):
        k.evaluate(1)


# -- types, presentation ---------------------------------------------------------------------------

def test_call_types_and_exactness():
    k = dual_kernel("relu")
    assert isinstance(k(0.5), float)
    assert k(np.array([0.5, -0.5])).dtype == np.float64
    assert k(np.zeros((2, 3))).shape == (2, 3)
    assert k(sympy.Integer(1)) == sympy.Rational(1, 2)
    result = k.evaluate(0.5)
    assert result.exact is not None and result.error == 0
    symbolic = k(sympy.Symbol("t"))
    assert symbolic.has(sympy.Symbol("t"))
    with pytest.raises(NoClosedFormError):
        dual_kernel("tanh")(sympy.Symbol("t"))
    assert dual_kernel("tanh").latex().startswith(r"k(\rho) = \sum")
    assert r"\operatorname{asin}" in dual_kernel("sign").latex()
    symbolic_width = dual_kernel(zoo.shaped_relu(1, -1)).closed_form
    assert sympy.Symbol("n", positive=True) in symbolic_width.free_symbols
    variances = dual_kernel("relu", q1=sympy.Symbol("q", positive=True)).closed_form
    assert sympy.Symbol("q", positive=True) in variances.free_symbols


def test_bad_input():
    k = dual_kernel("relu")
    for bad in (1.0 + 1e-15, -1.0000001, float("nan"), np.array([0.2, 1.5])):
        with pytest.raises(DomainError):
            k(bad)
    with pytest.raises(DomainError):
        k(sympy.Integer(2))
    with pytest.raises(DomainError):
        k(mpmath.mpf("1.5"))
    with pytest.raises(DomainError):
        k.evaluate(sympy.Rational(3, 2))
    with pytest.raises(DomainError):
        dual_kernel("tanh")(np.nan)
    for q in (0, -1, float("nan"), float("inf")):
        with pytest.raises(DomainError):
            dual_kernel("relu", q1=q)
    with pytest.raises(DomainError):
        dual_kernel("relu", q2=-2)
    assert k(1.0) == 0.5 and k(-1.0) == 0.0


def test_erf_derivative_kernel_is_the_derivative_of_the_arcsine_kernel():
    # k_{erf'}(rho) = d/drho (2/pi) asin(2 rho/3) at unit variances: now a closed form.
    derivative = dual_kernel(zoo.erf).derivative()
    assert derivative.form is not None and derivative.form.entry.name == "gaussian_bumps"
    expected = sympy.diff(2 / sympy.pi * sympy.asin(2 * rho / 3), rho)
    assert sympy.simplify(derivative.closed_form - expected) == 0


@pytest.mark.parametrize("spec", ["exp(-x**2/2)", "3 - exp(-2*x**2)", "exp(-x**2) + exp(-x**2/4)/2"])
@pytest.mark.parametrize("q1, q2", [(1.0, 1.0), (0.5, 2.0)])
def test_gaussian_bump_kernels_against_gauss_hermite(spec, q1, q2):
    # The integrand is entire and Gaussian-damped, so 200-node tensor Gauss-Hermite is exact
    # to rounding (120 nodes still miss the narrowest bump at rho = 1 by 2e-11): an
    # independent route for the new registry entry.
    f = ncsym.activation(spec).numpy()
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    weights = weights / weights.sum()
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    w = np.outer(weights, weights)
    kernel = dual_kernel(spec, q1=q1, q2=q2)
    assert kernel.form is not None
    for r in (-0.9, -0.2, 0.0, 0.5, 1.0):
        u = math.sqrt(q1) * z1
        v = math.sqrt(q2) * (r * z1 + math.sqrt(1 - r * r) * z2)
        reference = float(np.sum(w * f(u) * f(v)))
        assert float(kernel(r)) == pytest.approx(reference, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("q1, q2", [(1.0, 1.0), (0.5, 2.0), (3.0, 0.25)])
def test_gelu_derivative_kernel_closed_form(q1, q2):
    # gelu' = Phi(x) + x phi(x) is entire and Gaussian-damped in the products, so 200-node
    # tensor Gauss-Hermite of E[gelu'(u) gelu'(v)] is an independent reference.
    derivative = dual_kernel(zoo.gelu, q1=q1, q2=q2).derivative()
    assert derivative.form is not None
    f = zoo.gelu.derivative().numpy()
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    weights = weights / weights.sum()
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    w = np.outer(weights, weights)
    for r in (-1.0, -0.4, 0.0, 0.7, 1.0):
        u = math.sqrt(q1) * z1
        v = math.sqrt(q2) * (r * z1 + math.sqrt(1 - r * r) * z2)
        assert float(derivative(r)) == pytest.approx(float(np.sum(w * f(u) * f(v))), rel=1e-10, abs=1e-13)


def test_gelu_derivative_kernel_is_the_derivative_of_the_gelu_kernel():
    derivative = dual_kernel(zoo.gelu).derivative().closed_form
    assert sympy.simplify(derivative - sympy.diff(dual_kernel(zoo.gelu).closed_form, rho)) == 0
