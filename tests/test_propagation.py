"""Depth maps, fixed points, NNGP/NTK recursions and the zero-mean theorem.

Every check compares against a route written here, independent of ncsym's kernels: the
arc-cosine (ReLU) and arcsin (erf) closed forms, direct mpmath quadrature over the two
Gaussians, a hand-derived Gaussian smoothing of GELU, finite differences, and literature
values.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy

import ncsym
from ncsym import zoo
from ncsym.core.errors import ConvergenceError, DomainError
from ncsym.depth import (
    correlation_map, figure1_data, independence, network_kernels, phase_diagram, variance_map,
)
from ncsym.depth.inputs import RHO

# -- independent routes ------------------------------------------------------------------------


def relu_kernel(q1, q2, c):
    """E[relu(u) relu(v)], u, v ~ N(0, [[q1, c], [c, q2]]) (Cho & Saul arc-cosine kernel)."""
    s = mpmath.sqrt(q1 * q2)
    rho = max(min(c / s, 1), -1)
    return s * (mpmath.sqrt(1 - rho**2) + (mpmath.pi - mpmath.acos(rho)) * rho) / (2 * mpmath.pi)


def step_kernel(q1, q2, c):
    """E[step(u) step(v)] = 1/2 - arccos(rho)/(2 pi)."""
    rho = max(min(c / mpmath.sqrt(q1 * q2), 1), -1)
    return (mpmath.pi - mpmath.acos(rho)) / (2 * mpmath.pi)


def erf_kernel(q1, q2, c):
    """E[erf(u) erf(v)] = (2/pi) arcsin(2c / sqrt((1 + 2 q1)(1 + 2 q2)))."""
    return 2 / mpmath.pi * mpmath.asin(2 * c / mpmath.sqrt((1 + 2 * q1) * (1 + 2 * q2)))


def erf_derivative_kernel(q1, q2, c):
    """E[erf'(u) erf'(v)], erf'(x) = 2 e^{-x^2}/sqrt(pi): (4/pi) / sqrt((1 + 2 q1)(1 + 2 q2) - 4 c^2)."""
    return 4 / mpmath.pi / mpmath.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * c**2)


def gaussian_quad(f, breakpoints=()):
    """E[f(z)], z ~ N(0, 1), by mpmath quadrature split at the breakpoints."""
    points = [-mpmath.inf] + sorted(breakpoints) + [mpmath.inf]
    return mpmath.quad(lambda t: f(t) * mpmath.npdf(t), points)


def kernel_quad(f, rho, q=1, breakpoints=()):
    """E[f(sqrt(q) u) f(sqrt(q) v)] for unit Gaussians of correlation rho, by nested quadrature."""
    s = mpmath.sqrt(1 - rho**2)
    root = mpmath.sqrt(q)
    if s == 0:
        return gaussian_quad(lambda t: f(root * t) ** 2, [b / root for b in breakpoints])

    def inner(u):
        # v = rho u + s w; the breakpoints of f(root v) in w
        points = [(b / root - rho * u) / s for b in breakpoints]
        return gaussian_quad(lambda w: f(root * (rho * u + s * w)), points)

    return gaussian_quad(lambda u: f(root * u) * inner(u), [b / root for b in breakpoints])


def gelu_smoothed(m, s):
    """E[gelu(m + s w)], w ~ N(0, 1): m Phi(m/r) + s^2 phi(m/r)/r, r = sqrt(1 + s^2).

    From E[Phi(a + b w)] = Phi(a / sqrt(1 + b^2)) and Stein: E[w Phi(a + b w)] = b E[phi(a + b w)].
    """
    r = mpmath.sqrt(1 + s**2)
    return m * mpmath.ncdf(m / r) + s**2 * mpmath.npdf(m / r) / r


def secant_root(f, a, b):
    """A plain secant iteration to the working precision (started close to a simple root)."""
    fa, fb = f(a), f(b)
    for _ in range(30):
        a, b, fa = b, b - fb * (b - a) / (fb - fa), fb
        fb = f(b)
        if abs(b - a) < mpmath.mpf(10) ** (-mpmath.mp.dps + 3):
            return b
    raise AssertionError("secant iteration did not converge")


def gelu_kernel(rho):
    s = mpmath.sqrt(1 - rho**2)
    return gaussian_quad(lambda u: u * mpmath.ncdf(u) * gelu_smoothed(rho * u, s))


def gelu_second_moment():
    return gaussian_quad(lambda t: (t * mpmath.ncdf(t)) ** 2)


# -- the natural correlation map -------------------------------------------------------------


@pytest.mark.parametrize("dps", [15, 30, 60])
def test_relu_map_matches_arc_cosine(dps):
    C = correlation_map(zoo.relu, dps=dps)
    with mpmath.workdps(dps + 10):
        for rho in (sympy.Rational(-9, 10), sympy.Rational(-1, 3), 0, sympy.Rational(1, 2), sympy.Rational(99, 100)):
            expected = relu_kernel(1, 1, mpmath.mpf(rho)) * 2
            got = C.evaluate(rho, dps=dps)
            assert abs(got.value - expected) <= mpmath.mpf(10) ** (-dps) + got.error
    grid = np.linspace(-1, 1, 41)
    expected = np.array([float(2 * relu_kernel(1, 1, mpmath.mpf(r))) for r in grid])
    assert np.max(np.abs(C(grid) - expected)) < 1e-14


def test_map_values_and_slopes_at_zero_and_one_exact():
    C = correlation_map(zoo.relu)
    assert C.value_at_zero.exact == 1 / sympy.pi
    assert C.slope_at_zero.exact == sympy.Rational(1, 2)  # a_1^2/E[relu^2] = (1/4)/(1/2)
    assert C.slope_at_one.exact == 1  # E[step^2]/E[relu^2]
    assert C(RHO).subs(RHO, 1) == 1
    E = correlation_map(zoo.erf)
    # erf: k(rho) = (2/pi) arcsin(2 rho/3), k'(1) = (4/pi)/sqrt(5)
    assert sympy.simplify(E.slope_at_one.exact - 4 / (sympy.pi * sympy.sqrt(5)) / E.second_moment.exact) == 0
    assert E.value_at_zero.exact == 0


@pytest.mark.parametrize("name", ["tanh", "gelu", "sigmoid", "erf", "relu"])
def test_rates_against_finite_differences(name):
    C = correlation_map(name)
    h = 1e-5
    slope0 = (C(h) - C(-h)) / (2 * h)
    assert abs(slope0 - float(C.slope_at_zero)) < 1e-7
    # one-sided second-order difference at rho = 1 (C is only defined on [-1, 1])
    slope1 = (3 * C(1.0) - 4 * C(1 - h) + C(1 - 2 * h)) / (2 * h)
    tolerance = 2e-3 if name == "relu" else 1e-6  # relu: C(1 - e) has an e^{3/2} term
    assert abs(slope1 - float(C.slope_at_one)) < tolerance
    for rho in (-0.7, 0.2, 0.8):
        fd = (C(rho + h) - C(rho - h)) / (2 * h)
        assert abs(fd - C.slope(rho)) < 1e-7


def scipy_kernel(f, rho, q=1.0):
    """E[f(sqrt(q) u) f(sqrt(q) v)] in float64 by nested adaptive quadrature (scipy)."""
    import warnings

    from scipy import integrate

    warnings.filterwarnings("ignore", message="The occurrence of roundoff error")
    s, root = math.sqrt(1 - rho**2), math.sqrt(q)
    density = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)  # noqa: E731

    def inner(u):
        return integrate.quad(lambda w: f(root * (rho * u + s * w)) * density(w), -12, 12,
                              epsabs=1e-15, epsrel=1e-14, limit=200)[0]

    return integrate.quad(lambda u: f(root * u) * inner(u) * density(u), -12, 12,
                          epsabs=1e-15, epsrel=1e-14, limit=200)[0]


def test_tanh_map_against_quadrature_and_literature():
    C = correlation_map(zoo.tanh, dps=20)
    second = float(gaussian_quad(lambda t: mpmath.tanh(t) ** 2))
    for rho in (-0.3, 0.9):
        assert abs(C(rho) - scipy_kernel(math.tanh, rho) / second) < 1e-12
    # literature value of E[tanh(u) tanh(v)] at rho = 0.5, to 22 digits, at 20 digits
    with mpmath.workdps(30):
        reference = mpmath.mpf("0.18632441320344808610678") / gaussian_quad(lambda t: mpmath.tanh(t) ** 2)
    got = C.evaluate(sympy.Rational(1, 2), dps=20)
    assert abs(got.value - reference) < mpmath.mpf(10) ** -20 + got.error
    assert got.error < mpmath.mpf(10) ** -19


# -- iterates --------------------------------------------------------------------------------------


def sin_kernel(rho):
    """E[sin(u) sin(v)] by 1-D quadrature over u, with E[sin(a + s w)] = sin(a) e^{-s^2/2} done by hand."""
    s2 = 1 - rho**2
    return gaussian_quad(lambda u: mpmath.sin(u) * mpmath.sin(rho * u) * mpmath.exp(-s2 / 2))


@pytest.mark.parametrize("dps", [15, 30])
def test_iterates_against_direct_quadrature(dps):
    C = correlation_map("sin", dps=dps)
    with mpmath.workdps(dps + 10):
        second = gaussian_quad(lambda t: mpmath.sin(t) ** 2)
        rho = mpmath.mpf(9) / 10
        expected = [rho]
        for _ in range(3):
            rho = sin_kernel(rho) / second
            expected.append(rho)
    got = C.iterate(sympy.Rational(9, 10), 3, dps=dps)
    for g, e in zip(got, expected):
        assert abs(g.value - e) <= g.error + mpmath.mpf(10) ** (-dps - 2)
        assert g.error < mpmath.mpf(10) ** (-dps + 1)
    floats = C.iterate(0.9, 3)
    assert np.max(np.abs(floats - np.array([float(e) for e in expected]))) < 1e-14


def test_exact_iterates_relu():
    path = correlation_map(zoo.relu).iterate(0, 2, exact=True, dps=40)
    assert path[1].exact == 1 / sympy.pi
    with mpmath.workdps(40):
        second = 2 * relu_kernel(1, 1, 1 / mpmath.pi)
        assert abs(path[2].value - second) < mpmath.mpf(10) ** -30


def test_array_iterates_shape():
    C = correlation_map(zoo.relu)
    out = C.iterate(np.array([0.1, -0.5]), 4)
    assert out.shape == (5, 2)
    assert np.allclose(out[1], [2 * float(relu_kernel(1, 1, mpmath.mpf(r))) for r in (0.1, -0.5)], atol=1e-15)


# -- fixed points ------------------------------------------------------------------------------


def test_relu_fixed_point_is_one_and_inverse_square_approach():
    C = correlation_map(zoo.relu)
    points = C.fixed_points()
    assert [p.value.exact for p in points] == [1]
    assert points[0].stability == "marginal"
    # 1 - rho_l ~ c/l^2 with c = 4/kappa^2 = 9 pi^2/2, from C(1 - e) = 1 - e + kappa e^{3/2} + O(e^{5/2}),
    # kappa = 2 sqrt(2)/(3 pi) (no e^2 term for relu). With u_l = (1 - rho_l)^{-1/2}:
    # u_{l+1} - u_l = kappa/2 + (3 kappa^2/8)/u_l + ..., a relative correction ~1e-4 at l = 4000.
    layers = 4000
    path = C.iterate(0.0, layers)
    u = (1 - path[-2:]) ** -0.5
    kappa = 2 * math.sqrt(2) / (3 * math.pi)
    assert abs((u[1] - u[0]) / (kappa / 2) - 1) < 1e-3
    assert abs((1 - path[-1]) * layers**2 / (9 * math.pi**2 / 2) - 1) < 0.02  # slow O(log l / l) approach
    cert = independence(zoo.relu)
    assert cert.approach_constant.exact == 9 * sympy.pi**2 / 2


@pytest.mark.parametrize("dps", [15, 30])
def test_gelu_interior_fixed_point_against_independent_root(dps):
    C = correlation_map(zoo.gelu, dps=dps)
    points = C.fixed_points()
    assert len(points) == 2 and points[-1].value.exact == 1
    star = points[0]
    with mpmath.workdps(dps + 8):
        second = gelu_second_moment()
        root = secant_root(lambda r: gelu_kernel(r) / second - r, mpmath.mpf("0.76"), mpmath.mpf("0.7605"))
    assert abs(star.value.value - root) <= star.value.error + mpmath.mpf(10) ** (-dps)
    assert star.value.error < mpmath.mpf(10) ** (-dps + 1)
    assert abs(float(star.value) - 0.76) < 0.01
    assert star.stability == "stable" and 0 < float(star.slope) < 1
    limit = independence(zoo.gelu).limit
    assert abs(limit.value - star.value.value) <= limit.error + star.value.error


def test_odd_activation_fixed_points():
    C = correlation_map(zoo.tanh)
    values = [p.value.exact for p in C.fixed_points()]
    assert values == [-1, 0, 1]
    stabilities = [p.stability for p in C.fixed_points()]
    assert stabilities == ["unstable", "stable", "unstable"]


def test_identity_map_every_point_fixed():
    C = correlation_map(zoo.identity)
    assert C.is_identity
    assert all(p.stability == "neutral" for p in C.fixed_points())
    affine = correlation_map("3*x + 1")
    assert not affine.is_identity
    assert [p.value.exact for p in affine.fixed_points()] == [1]
    assert affine.slope_at_one.exact == sympy.Rational(9, 10)


@pytest.mark.parametrize("dps", [15, 30])
def test_biased_erf_fixed_points_against_independent_root(dps):
    w, b = 3, sympy.Rational(1, 5)
    C = correlation_map(zoo.erf, sigma_w2=w, sigma_b2=b, dps=dps)
    with mpmath.workdps(dps + 10):
        wf, bf = mpmath.mpf(3), mpmath.mpf(1) / 5
        # E[erf(sqrt(q) u) erf(sqrt(q) v)] = (2/pi) arcsin(2 q rho/(1 + 2 q))
        q = mpmath.findroot(lambda t: wf * erf_kernel(t, t, t) + bf - t, 1)
        rho = mpmath.findroot(lambda r: (wf * erf_kernel(q, q, q * r) + bf) / q - r, mpmath.mpf("0.5"))
        chi = wf * 4 / mpmath.pi / mpmath.sqrt(1 + 4 * q)
    assert abs(C.q.value - q) <= C.q.error + mpmath.mpf(10) ** (-dps)
    interior = C.interior_fixed_point()
    assert abs(interior.value.value - rho) <= interior.value.error + mpmath.mpf(10) ** (-dps)
    assert interior.value.error < mpmath.mpf(10) ** (-dps + 1)
    assert interior.stability == "stable"
    assert abs(C.slope_at_one.value - chi) <= C.slope_at_one.error + mpmath.mpf(10) ** (-dps)
    assert [p.value.exact for p in C.fixed_points()][-1] == 1


@pytest.mark.slow
def test_biased_tanh_fixed_points_against_independent_root():
    from scipy import optimize

    w, b = sympy.Rational(5, 2), sympy.Rational(1, 20)
    C = correlation_map(zoo.tanh, sigma_w2=w, sigma_b2=b, dps=15)
    with mpmath.workdps(20):
        wf, bf = mpmath.mpf(5) / 2, mpmath.mpf(1) / 20
        q = mpmath.findroot(lambda t: wf * gaussian_quad(lambda z: mpmath.tanh(mpmath.sqrt(t) * z) ** 2) + bf - t, 1)
    assert abs(C.q.value - q) < 1e-15 + C.q.error
    qf = float(q)
    rho = optimize.brentq(lambda r: (2.5 * scipy_kernel(math.tanh, r, qf) + 0.05) / qf - r, 0.05, 0.95, xtol=1e-14)
    interior = C.interior_fixed_point()
    assert abs(float(interior.value) - rho) < 1e-11
    assert interior.value.error < 1e-14
    assert interior.stability == "stable"


# -- the variance map ----------------------------------------------------------------------------


def test_relu_variance_map_exact():
    V = variance_map(zoo.relu, sympy.Rational(3, 2), sympy.Rational(1, 10))
    assert V.q_star.exact == sympy.Rational(1, 10) / (1 - sympy.Rational(3, 4))
    assert V.chi_1.exact == sympy.Rational(3, 4)
    assert V.chi_c.exact == sympy.Rational(3, 4)  # rho* = 1 (C'(1) = chi_1 < 1)
    assert V.status == "finite"
    assert variance_map(zoo.relu, 2, 0).status == "every q is fixed"
    diverging = variance_map(zoo.relu, 2.5, 0.1)
    assert diverging.status == "diverges" and diverging.q_star is None
    with pytest.raises(ConvergenceError):
        diverging.chi_1


@pytest.mark.parametrize("dps", [30])
def test_tanh_q_star_and_chi1_against_quadrature(dps):
    V = variance_map(zoo.tanh, 2, sympy.Rational(1, 10), dps=dps)
    with mpmath.workdps(dps + 8):
        m2 = lambda t: gaussian_quad(lambda z: mpmath.tanh(mpmath.sqrt(t) * z) ** 2)  # noqa: E731
        q = mpmath.findroot(lambda t: 2 * m2(t) + mpmath.mpf(1) / 10 - t, 1)
        chi = 2 * gaussian_quad(lambda z: mpmath.sech(mpmath.sqrt(q) * z) ** 4)
    assert abs(V.q_star.value - q) <= V.q_star.error + mpmath.mpf(10) ** (-dps)
    assert abs(V.chi_1.value - chi) <= V.chi_1.error + mpmath.mpf(10) ** (-dps + 1)
    assert float(V.chi_1) > 1  # sigma_w2 = 2: chaotic phase


def test_chi1_is_slope_at_one_by_finite_difference():
    V = variance_map(zoo.erf, 3, sympy.Rational(1, 5))
    C = V.correlation_map
    h = 1e-5
    slope1 = (3 * C(1.0) - 4 * C(1 - h) + C(1 - 2 * h)) / (2 * h)
    assert abs(slope1 - float(V.chi_1)) < 1e-6
    # erf closed form: chi_1 = sigma_w2 (4/pi)/sqrt(1 + 4 q)
    q = float(V.q_star)
    assert abs(float(V.chi_1) - 3 * 4 / math.pi / math.sqrt(1 + 4 * q)) < 1e-13


def test_depth_scale():
    V = variance_map(zoo.tanh, sympy.Rational(1, 2), sympy.Rational(1, 100))
    chi = float(V.chi_c)
    assert chi < 1
    assert abs(float(V.depth_scale) + 1 / math.log(chi)) < 1e-12


def test_phase_diagram():
    w = np.array([0.5, 1.0, 1.5, 1.9])
    b = np.array([0.0, 0.1, 0.5])
    q, chi = phase_diagram(zoo.relu, w, b)
    W, B = np.meshgrid(w, b, indexing="ij")
    expected = np.where(B > 0, B / (1 - W / 2), 0.0)
    assert np.allclose(q, expected, rtol=1e-13, atol=1e-300)
    assert np.allclose(chi, W / 2, rtol=1e-14)
    q_t, chi_t = phase_diagram(zoo.tanh, [0.8, 2.0], [0.05])
    for i, wi in enumerate([0.8, 2.0]):
        V = variance_map(zoo.tanh, wi, 0.05)
        assert abs(q_t[i, 0] - float(V.q_star)) < 1e-10 * float(V.q_star)
        assert abs(chi_t[i, 0] - float(V.chi_1)) < 1e-9
    assert chi_t[0, 0] < 1 < chi_t[1, 0]


# -- NNGP and NTK ----------------------------------------------------------------------------


def closed_form_recursion(X, depth, w, b, kernel, derivative_kernel):
    P, d = len(X), len(X[0])
    K = [[w * mpmath.fsum(X[i][k] * X[j][k] for k in range(d)) / d + b for j in range(P)] for i in range(P)]
    T = [row[:] for row in K]
    for _ in range(depth - 1):
        V = [[kernel(K[i][i], K[j][j], K[i][j]) for j in range(P)] for i in range(P)]
        D = [[derivative_kernel(K[i][i], K[j][j], K[i][j]) for j in range(P)] for i in range(P)]
        K = [[w * V[i][j] + b for j in range(P)] for i in range(P)]
        T = [[K[i][j] + w * D[i][j] * T[i][j] for j in range(P)] for i in range(P)]
    return K, T


X_INPUTS = [[1.0, 0.5, -0.3], [-0.2, 1.1, 0.4], [0.7, -0.9, 1.3], [0.3, 0.3, 0.3]]


@pytest.mark.parametrize("name, kernel, derivative", [
    ("relu", relu_kernel, step_kernel), ("erf", erf_kernel, erf_derivative_kernel)])
def test_nngp_ntk_float_against_closed_form_recursion(name, kernel, derivative):
    w, b, depth = 1.7, 0.2, 4
    out = network_kernels(np.array(X_INPUTS), name, depth, sigma_w2=w, sigma_b2=b)
    with mpmath.workdps(30):
        K, T = closed_form_recursion([[mpmath.mpf(v) for v in row] for row in X_INPUTS], depth,
                                     mpmath.mpf("1.7"), mpmath.mpf("0.2"), kernel, derivative)
    assert np.max(np.abs(out.nngp - np.array(K, dtype=float))) < 1e-12
    assert np.max(np.abs(out.ntk - np.array(T, dtype=float))) < 1e-12
    assert len(out.nngp_layers) == depth


@pytest.mark.parametrize("dps", [30, 60])
def test_nngp_ntk_mp_against_closed_form_recursion(dps):
    depth = 3
    X = X_INPUTS[:3]
    out = network_kernels(np.array(X), zoo.relu, depth, sigma_w2=sympy.Rational(3, 2), sigma_b2=sympy.Rational(1, 10),
                          dps=dps)
    with mpmath.workdps(dps + 10):
        # float inputs are read as the decimals they print (0.3 is 3/10)
        K, T = closed_form_recursion([[mpmath.mpf(repr(v)) for v in row] for row in X],
                                     depth, mpmath.mpf(3) / 2, mpmath.mpf(1) / 10, relu_kernel, step_kernel)
        for i in range(3):
            for j in range(3):
                assert abs(out.nngp[i, j] - K[i][j]) < mpmath.mpf(10) ** (-dps + 2)
                assert abs(out.ntk[i, j] - T[i][j]) < mpmath.mpf(10) ** (-dps + 2)
    assert out.errors[-1] < mpmath.mpf(10) ** (-dps)


def sign_kernel(q1, q2, c):
    """E[sign(u) sign(v)] = (2/pi) arcsin(rho) (Grothendieck's identity)."""
    return 2 / mpmath.pi * mpmath.asin(max(min(c / mpmath.sqrt(q1 * q2), 1), -1))


@pytest.mark.parametrize("name, kernel", [("sign", sign_kernel), ("step", step_kernel)])
def test_nngp_through_depth_for_jump_activations(name, kernel):
    """sign and step have closed NNGP kernels; their NTK needs E[delta(u) delta(v)] and does not exist."""
    w, b, depth = 1.3, 0.1, 5
    zero = lambda q1, q2, c: mpmath.mpf(0)  # noqa: E731 - the NTK part is not compared here
    with mpmath.workdps(30):
        K, _ = closed_form_recursion([[mpmath.mpf(v) for v in row] for row in X_INPUTS], depth,
                                     mpmath.mpf("1.3"), mpmath.mpf("0.1"), kernel, zero)
    out = network_kernels(np.array(X_INPUTS), name, depth, sigma_w2=w, sigma_b2=b)
    assert np.max(np.abs(out.nngp - np.array(K, dtype=float))) < 1e-12
    assert np.max(np.abs(ncsym.nngp_kernel(np.array(X_INPUTS), name, depth, sigma_w2=w, sigma_b2=b)
                         - np.array(K, dtype=float))) < 1e-12
    mp_out = network_kernels(np.array(X_INPUTS[:2]), name, 3, sigma_w2=w, sigma_b2=b, dps=20)
    with mpmath.workdps(30):
        K3, _ = closed_form_recursion([[mpmath.mpf(repr(v)) for v in row] for row in X_INPUTS[:2]], 3,
                                      mpmath.mpf("1.3"), mpmath.mpf("0.1"), kernel, zero)
        assert max(abs(mp_out.nngp[i, j] - K3[i][j]) for i in range(2) for j in range(2)) < mpmath.mpf(10) ** -18
    assert out.ntk_layers is None
    for call in (lambda: out.ntk, lambda: mp_out.ntk, lambda: ncsym.ntk_kernel(np.array(X_INPUTS), name, 2)):
        with pytest.raises(DomainError, match="Dirac delta"):
            call()


# -- the zero-mean theorem ---------------------------------------------------------------------

HOLDS = ["tanh", "erf", "sin", "tanh(4*x)", "max(x, 0) - 1/sqrt(2*pi)", "x*(1 + erf(x/sqrt(2)))/2 - 1/(2*sqrt(pi))"]
FAILS = ["relu", "gelu", "sigmoid", "softplus", "identity", "3*x", "x + 1", "3*x + 1"]


@pytest.mark.parametrize("spec", HOLDS)
def test_theorem_holds(spec):
    cert = independence(spec)
    assert cert.holds is True, cert.reason
    assert cert.mean_is_zero and cert.nonlinear
    assert cert.behaviour == "decorrelates"
    n, coefficient = cert.nonlinear_witness
    assert n >= 2 and (coefficient.is_exact or abs(coefficient.value) > coefficient.error)


@pytest.mark.parametrize("spec", FAILS)
def test_theorem_fails(spec):
    cert = independence(spec)
    assert cert.holds is False, cert.reason


def test_verdict_against_each_zoo_members_own_mean_and_coefficients():
    """The verdict must equal (E[sigma] = 0 and some a_n != 0, n >= 2), read off exact values."""
    for name in ["relu", "abs", "step", "sign", "identity", "hard_tanh", "gelu", "erf", "sin", "cos", "exp"]:
        act = zoo.by_name(name)
        mean = ncsym.gaussian_mean(act, method="exact")
        coefficients = ncsym.hermite_coefficients(act, 3, method="exact")
        zero_mean = mean.exact.equals(0)
        nonlinear = any(not c.exact.equals(0) for c in coefficients[2:])
        cert = independence(act)
        assert cert.holds is (zero_mean and nonlinear), name
        assert cert.mean_is_zero is zero_mean, name


def test_literature_means():
    assert independence(zoo.relu).mean.exact == 1 / sympy.sqrt(2 * sympy.pi)
    assert sympy.simplify(independence(zoo.gelu).mean.exact - 1 / (2 * sympy.sqrt(sympy.pi))) == 0
    assert independence(zoo.tanh).mean.exact == 0


def test_rate_bound_and_depth():
    cert = independence(zoo.tanh)
    # b_1 = a_1^2/E[tanh^2], a_1 = E[tanh'(z)] = E[sech^2 z]
    with mpmath.workdps(25):
        a1 = gaussian_quad(lambda t: mpmath.sech(t) ** 2)
        m2 = gaussian_quad(lambda t: mpmath.tanh(t) ** 2)
    assert abs(cert.rate.value - a1**2 / m2) < 1e-14
    C = cert.correlation_map
    path = C.iterate(0.8, 200)
    bound_gamma = float(cert.gamma(0.8))
    assert bound_gamma < 1
    for layer in (1, 5, 30):
        assert abs(path[layer]) <= float(cert.bound(0.8, layer)) * (1 + 1e-12)
    depth = cert.depth_to_reach(0.8, 1e-3)
    assert abs(path[depth]) <= 1e-3 < abs(path[depth - 1])
    assert depth <= math.ceil(math.log(1e-3 / 0.8) / math.log(bound_gamma))
    # asymptotically |rho_l| shrinks by b_1 per layer: rho_{l+1}/rho_l = b_1 + O(rho_l^2), rho_200 ~ 1e-7
    assert abs(path[200]) < 1e-6
    assert abs(path[200] / path[199] - float(cert.rate)) < 1e-11
    with pytest.raises(ConvergenceError):
        independence(zoo.relu).depth_to_reach(0.5, 1e-3)


def test_latex_proof_mentions_exact_quantities():
    text = independence(ncsym.centered(zoo.relu)).latex()
    assert "Verdict: correlations vanish" in text
    assert r"\frac{1}{2}" in text  # a_1 = 1/2
    assert "Verdict: no" in independence(zoo.relu).latex()


def test_undecided_mean_is_not_guessed():
    # E[tanh(x - 10^-200)] is about -10^-200 E[tanh'], but it has no closed form nor symmetry,
    # and quadrature at 15 (and, on retry, 40) digits cannot separate it from 0: the verdict
    # must stay open. (tanh(x) + 10^-200 would not do: odd symmetry gives its mean exactly.)
    cert = independence("tanh(x - 1/10**200)", dps=15)
    assert cert.holds is None and cert.mean_is_zero is None
    assert "E[sigma]" in cert.reason and cert.behaviour == "undecided"


# -- figure 1 ------------------------------------------------------------------------------------


def test_figure1_data():
    data = figure1_data(grid_points=21, starts=(-0.8, 0.1, 0.6), depth=6)
    assert data["names"] == ("relu", "tanh(4x)", "relu - 1/sqrt(2 pi)")
    rho = data["rho"]
    expected = np.array([2 * float(relu_kernel(1, 1, mpmath.mpf(r))) for r in rho])
    assert np.max(np.abs(data["curves"]["relu"] - expected)) < 1e-14
    for label in data["names"]:
        it = data["iterates"][label]
        assert it.shape == (3, 7)
        web = data["cobweb"][label]
        assert web.shape == (3, 13, 2)
        assert np.array_equal(web[:, 1::2, 1], it[:, 1:])
    assert list(data["fixed_points"]["relu"]) == [1.0]
    assert list(data["fixed_points"]["tanh(4x)"]) == [-1.0, 0.0, 1.0]
    # shifted relu: zero mean, not odd: fixed points 0 and 1
    assert list(data["fixed_points"]["relu - 1/sqrt(2 pi)"]) == [0.0, 1.0]


# -- bad input -----------------------------------------------------------------------------------


def test_bad_input():
    C = correlation_map(zoo.relu)
    for bad in (1.5, -1.01, float("nan")):
        with pytest.raises(DomainError):
            C(bad)
        with pytest.raises(DomainError):
            C.evaluate(bad)
    with pytest.raises(DomainError):
        C(np.array([0.2, 2.0]))
    with pytest.raises(DomainError):
        C.iterate(0.5, -1)
    with pytest.raises(DomainError):
        C.iterate(0.5, 2.5)
    with pytest.raises(DomainError):
        correlation_map(zoo.relu, sigma_w2=-1)
    with pytest.raises(DomainError):
        correlation_map(zoo.relu, sigma_w2=1, sigma_b2=-0.1)
    with pytest.raises(DomainError):
        correlation_map(zoo.relu, sigma_w2=float("nan"))
    with pytest.raises(DomainError):
        variance_map(zoo.relu, 0, 1)
    with pytest.raises(DomainError):
        network_kernels(np.ones((2, 2)), zoo.relu, 0)
    with pytest.raises(DomainError):
        network_kernels(np.array([[1.0, np.nan]]), zoo.relu, 2)
    with pytest.raises(DomainError):
        phase_diagram(zoo.relu, [-1.0], [0.0])
    cert = independence(zoo.tanh)
    with pytest.raises(DomainError):
        cert.depth_to_reach(1.0, 1e-3)
    with pytest.raises(DomainError):
        cert.depth_to_reach(0.5, 0)
    with pytest.raises(DomainError):
        cert.gamma(0)


def test_mean_from_symmetry_decides_a_tiny_offset():
    cert = independence("tanh(x) + 1/10**200", dps=15)
    assert cert.mean.exact == sympy.Rational(1, 10**200) and cert.holds is False
