"""DEQ kernel and finite-width DEQ sampler, each against an independent route."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy

from ncsym import zoo
from ncsym.models import (ContractionWarning, DEQNonConvergenceWarning, contraction_check, deq_crosscheck,
                       deq_fixed_points, deq_kernel, deq_statistics, lipschitz_constant, paper_inputs)
from ncsym.core.errors import ConvergenceError, DomainError, NoClosedFormError

TANH_W2, TANH_U2 = 0.36, 1.0  # the paper's sigma_w = 0.6, sigma_u = 1


def _inputs(P, n_in, seed):
    return np.random.default_rng(seed).standard_normal((P, n_in))


# -- the fixed point against independent routes ----------------------------------------------------

@pytest.mark.parametrize("sigma_w2", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(3, 5), (7, 4)])  # P > n_in too: K0 singular
def test_linear_fixed_point_solves_the_linear_equation(sigma_w2, shape):
    X = _inputs(*shape, seed=1)
    sigma_u2 = 1.7
    k = deq_kernel(zoo.identity, X, sigma_w2=sigma_w2, sigma_u2=sigma_u2)
    exact = sigma_u2 * (X @ X.T / X.shape[1]) / (1 - sigma_w2)
    assert np.max(np.abs(k.preactivation - exact)) <= k.error
    assert np.max(np.abs(k.preactivation - exact)) < 1e-12 * np.max(np.diag(exact))
    if shape[0] <= shape[1]:  # K* definite: the a-posteriori bound is sharp
        assert k.error < 1e-10 * np.max(np.diag(exact))
    assert np.allclose(k.output, k.preactivation, rtol=0, atol=1e-12)  # V_identity(K) = K
    assert np.allclose(k.recurrent, k.preactivation - sigma_u2 * k.input_kernel, atol=1e-12)


@pytest.mark.parametrize("dps", [15, 30, 60])
def test_linear_fixed_point_mpmath_matches_exact_rationals(dps):
    X = np.array([[1.0, 0.5, -0.25], [0.125, 2.0, 1.0]])
    k = deq_kernel(zoo.identity, X, sigma_w2=sympy.Rational(1, 3), sigma_u2=2, dps=dps)
    rows = [[Fraction(v) for v in row] for row in X]
    for a in range(2):
        for b in range(2):
            k0 = sum(p * q for p, q in zip(rows[a], rows[b])) / 3
            exact = 2 * k0 / (1 - Fraction(1, 3))  # K = sigma_u2 K0 / (1 - sigma_w2)
            with mpmath.workdps(dps + 10):
                diff = abs(k.mp_preactivation[a, b] - mpmath.mpf(exact.numerator) / exact.denominator)
                assert diff <= k.mp_error
                assert diff < mpmath.mpf(10) ** (-dps) * 10


def _arccos_relu(K):
    """E[relu(u_a) relu(u_b)] = sqrt(q_a q_b)/(2 pi) (sin t + (pi - t) cos t), cos t = rho (Cho & Saul)."""
    d = np.sqrt(np.diag(K))
    rho = np.clip(K / np.outer(d, d), -1, 1)
    t = np.arccos(rho)
    return np.outer(d, d) / (2 * np.pi) * (np.sin(t) + (np.pi - t) * np.cos(t))


def test_relu_fixed_point_equation_residual():
    X = _inputs(6, 4, seed=2)
    w, u = 0.7, 1.3
    k = deq_kernel(zoo.relu, X, sigma_w2=w, sigma_u2=u)
    K0 = X @ X.T / 4
    residual = k.preactivation - (w * _arccos_relu(k.preactivation) + u * K0)
    assert np.max(np.abs(residual)) < 1e-12 * np.max(np.diag(k.preactivation))
    assert np.allclose(k.output, _arccos_relu(k.preactivation), rtol=1e-12, atol=1e-14)
    # the diagonal solves q = w q / 2 + u K0_aa exactly
    assert np.allclose(np.diag(k.preactivation), u * np.diag(K0) / (1 - w / 2), rtol=1e-12)


@pytest.mark.parametrize("dps", [30, 60])
def test_relu_mpmath_fixed_point_residual(dps):
    X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.5, 0.25]])
    k = deq_kernel(zoo.relu, X, sigma_w2=sympy.Rational(1, 2), sigma_u2=1, dps=dps)
    K = k.mp_preactivation
    with mpmath.workdps(dps + 10):
        for a in range(3):
            for b in range(3):
                qa, qb = K[a, a], K[b, b]
                t = mpmath.acos(K[a, b] / mpmath.sqrt(qa * qb))
                v = mpmath.sqrt(qa * qb) / (2 * mpmath.pi) * (mpmath.sin(t) + (mpmath.pi - t) * mpmath.cos(t))
                k0 = sum(mpmath.mpf(X[a, i]) * mpmath.mpf(X[b, i]) for i in range(2)) / 2
                assert abs(K[a, b] - (v / 2 + k0)) < mpmath.mpf(10) ** (-dps + 1)
        assert abs(K[0, 1] - mpmath.mpf(k.preactivation[0, 1])) <= k.error + k.mp_error


def test_tanh_two_inputs_against_quadrature_iteration():
    """Diagonal: 1-D mpmath quadrature fixed point; off-diagonal: 2-D Gauss-Hermite (200^2 nodes)."""
    X = np.array([[1.0, 2.0, 0.0, -1.0], [0.5, -1.0, 1.5, 1.0]])
    w, u = TANH_W2, TANH_U2
    K0 = X @ X.T / 4
    q = []
    with mpmath.workdps(18):
        for a in range(2):
            value = mpmath.mpf(u * K0[a, a])
            for _ in range(80):
                new = w * mpmath.quad(lambda z: mpmath.tanh(mpmath.sqrt(value) * z) ** 2 * mpmath.npdf(z),
                                      [-mpmath.inf, 0, mpmath.inf]) + u * K0[a, a]
                done = abs(new - value) < mpmath.mpf(10) ** -16
                value = new
                if done:
                    break
            q.append(float(value))
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    weights = weights / math.sqrt(2 * math.pi)
    Z1, Z2 = np.meshgrid(nodes, nodes, indexing="ij")
    W2 = np.outer(weights, weights)
    c = u * K0[0, 1]
    for _ in range(200):
        r = c / math.sqrt(q[0] * q[1])
        new = w * np.sum(W2 * np.tanh(math.sqrt(q[0]) * Z1)
                         * np.tanh(math.sqrt(q[1]) * (r * Z1 + math.sqrt(1 - r * r) * Z2))) + u * K0[0, 1]
        if abs(new - c) < 1e-16:
            break
        c = new
    k = deq_kernel(zoo.tanh, X, sigma_w2=w, sigma_u2=u)
    reference = np.array([[q[0], c], [c, q[1]]])
    assert np.max(np.abs(k.preactivation - reference)) <= k.error + 1e-13
    assert k.error < 1e-10


def _gaussian_mp(f, q):
    """E[f(sqrt(q) z)] by 1-D mpmath quadrature (independent of ncsym's kernels)."""
    root = mpmath.sqrt(q)
    return mpmath.quad(lambda z: f(root * z) * mpmath.exp(-z * z / 2), [-mpmath.inf, 0, mpmath.inf]) / mpmath.sqrt(
        2 * mpmath.pi)


def test_tanh_diagonal_to_high_precision_without_a_closed_form():
    k = deq_kernel(zoo.tanh, np.array([[1.0, 0.0]]), sigma_w2=0.36, sigma_u2=1, dps=30)
    assert k.mp_error < mpmath.mpf(10) ** -30
    with mpmath.workdps(40):
        q = k.mp_preactivation[0, 0]
        residual = mpmath.mpf(9) / 25 * _gaussian_mp(lambda t: mpmath.tanh(t) ** 2, q) + mpmath.mpf(1) / 2 - q
        assert abs(residual) < 2 * k.mp_error + mpmath.mpf(10) ** -31


@pytest.mark.slow
def test_tanh_kernel_to_high_precision_without_a_closed_form():
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    k = deq_kernel(zoo.tanh, X, sigma_w2=0.36, sigma_u2=1, dps=25)
    assert k.mp_error < mpmath.mpf(10) ** -25
    # the float64 route (quadrature kernel matrix) agrees within its own bound
    assert max(abs(float(k.mp_preactivation[a, b]) - k.preactivation[a, b]) for a in range(2) for b in range(2)) \
        <= k.error + 1e-15
    # the diagonal solves q = sigma_w2 E[tanh(sqrt(q) z)^2] + sigma_u2 K0_aa, by independent quadrature
    with mpmath.workdps(35):
        # the float inputs as the exact binary numbers the computation reads (sigma_w2 = 0.36 is read as 9/25)
        K0 = [mpmath.mpf(1) / 2, (mpmath.mpf(0.6) ** 2 + mpmath.mpf(0.8) ** 2) / 2]
        for a in range(2):
            q = k.mp_preactivation[a, a]
            residual = mpmath.mpf(9) / 25 * _gaussian_mp(lambda t: mpmath.tanh(t) ** 2, q) + K0[a] - q
            assert abs(residual) < 2 * k.mp_error + mpmath.mpf(10) ** -26


@pytest.mark.slow
def test_tanh_high_precision_off_diagonal_against_an_independent_mehler_series():
    """T(K*)_01 from Hermite coefficients computed by 1-D quadrature: within (1 + rate) of the bound."""
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    k = deq_kernel(zoo.tanh, X, sigma_w2=0.36, sigma_u2=1, dps=20)
    with mpmath.workdps(30):
        qs, c = (k.mp_preactivation[0, 0], k.mp_preactivation[1, 1]), k.mp_preactivation[0, 1]
        rho = c / mpmath.sqrt(qs[0] * qs[1])
        total = mpmath.mpf(0)
        for n in range(1, 90, 2):   # tanh is odd: odd Hermite coefficients only
            # He_n(z) = 2^(-n/2) H_n(z / sqrt 2), z = t / sqrt(q)
            a = [_gaussian_mp(lambda t: mpmath.tanh(t) * mpmath.hermite(n, t / mpmath.sqrt(2 * q)) /
                              mpmath.sqrt(2) ** n, q) for q in qs]
            total += a[0] * a[1] / mpmath.factorial(n) * rho**n
        residual = mpmath.mpf(9) / 25 * total + mpmath.mpf(0.6) / 2 - c
        assert abs(residual) < 3 * k.mp_error + mpmath.mpf(10) ** -19


# -- contraction condition ---------------------------------------------------------------------------

def test_lipschitz_constants():
    assert lipschitz_constant(zoo.relu).exact == 1
    assert lipschitz_constant(zoo.leaky_relu(sympy.Rational(1, 10))).exact == 1
    assert lipschitz_constant(zoo.hard_tanh).exact == 1
    assert abs(float(lipschitz_constant(zoo.sigmoid).value) - 0.25) <= float(lipschitz_constant(zoo.sigmoid).error)
    erf = lipschitz_constant(zoo.erf)
    assert abs(float(erf.value) - 2 / math.sqrt(math.pi)) <= float(erf.error) + 1e-15
    for bad in (zoo.step, zoo.sign, zoo.monomial(2), zoo.exp):
        with pytest.raises(DomainError, match="not Lipschitz"):
            lipschitz_constant(bad)


def test_contraction_condition_decided_exactly():
    assert contraction_check(zoo.relu, sympy.Rational(99, 100)).holds is True
    assert contraction_check(zoo.relu, 1).holds is False        # sigma_w2 L^2 = 1 is not < 1
    assert contraction_check(zoo.tanh, TANH_W2).holds is True
    assert contraction_check(zoo.tanh, TANH_W2).rate == pytest.approx(0.6, abs=1e-4)
    assert contraction_check(zoo.tanh, 1.5, lipschitz=sympy.Rational(1, 2)).holds is True
    assert contraction_check(zoo.step, 0.1).holds is False


def test_contraction_failure_warns_or_raises():
    X = _inputs(3, 5, seed=3)
    with pytest.warns(ContractionWarning, match="not certified"):
        k = deq_kernel(zoo.tanh, X, sigma_w2=1.3, sigma_u2=1)   # tanh still settles here
    assert k.error is None and k.residual < 1e-12 * np.max(np.diag(k.preactivation))
    with pytest.raises(DomainError, match="not certified"):
        deq_kernel(zoo.tanh, X, sigma_w2=1.3, sigma_u2=1, strict=True)
    with pytest.warns(ContractionWarning), pytest.raises(ConvergenceError, match="did not settle"):
        deq_kernel(zoo.relu, X, sigma_w2=2.5, sigma_u2=1, max_iter=200)  # q -> 1.25 q + ...: diverges


def test_bad_inputs():
    with pytest.raises(DomainError, match="zero input"):
        deq_kernel(zoo.tanh, np.array([[1.0, 0.0], [0.0, 0.0]]), sigma_w2=0.3, sigma_u2=1)
    with pytest.raises(DomainError):
        deq_kernel(zoo.tanh, np.eye(2), sigma_w2=-0.3, sigma_u2=1)
    with pytest.raises(DomainError):
        deq_kernel(zoo.tanh, np.eye(2), sigma_w2=0.3, sigma_u2=0)
    with pytest.raises(DomainError):
        deq_statistics(zoo.tanh, np.eye(2), 0, 10, sigma_w2=0.3, sigma_u2=1)


@pytest.mark.parametrize("act, P, n_in", [(zoo.erf, 14, 10), (zoo.tanh, 5, 3)])
def test_kernel_strictly_positive_definite_for_non_parallel_inputs(act, P, n_in):
    X = paper_inputs(P, n_in, seed=4)   # P > n_in distinct inputs: K0 is singular
    k = deq_kernel(act, X, sigma_w2=TANH_W2, sigma_u2=TANH_U2)
    assert np.linalg.eigvalsh(k.input_kernel)[0] < 1e-12
    assert k.min_eigenvalue > 1e-3 > 100 * k.error
    assert k.output_min_eigenvalue > 1e-3
    linear = deq_kernel(zoo.identity, X, sigma_w2=TANH_W2, sigma_u2=TANH_U2)
    assert abs(linear.min_eigenvalue) < 1e-10   # no nonlinearity, no positivity beyond K0
    assert k.definiteness.holds is True and linear.definiteness.holds is not True


_V = np.array([1.0, 0.3, -0.5])


@pytest.mark.parametrize("act, X, null", [
    (zoo.tanh, [_V, -_V], [1, 1]),           # odd phi, x and -x: k(-1) = -k(1)
    (zoo.erf, [_V, -_V], [1, 1]),
    (zoo.relu, [_V, 2 * _V], [2, -1]),       # positively homogeneous phi, x and 2x
    (zoo.relu, [_V, [0.2, 1.0, 0.1], 0.5 * _V], [0.5, 0, -1]),
    (zoo.identity, [_V, -3 * _V], [-3, -1]),
    (zoo.gelu, [_V, _V], [1, -1]),           # a repeated input, any phi
])
def test_kernel_singular_where_the_hypothesis_fails(act, X, null):
    k = deq_kernel(act, np.array(X), sigma_w2=0.36, sigma_u2=1)
    d = k.definiteness
    assert d.holds is False and "singular" in d.reason and k.min_eigenvalue == 0.0
    c = np.asarray(null, dtype=float)
    assert np.allclose(d.null_vector / np.abs(d.null_vector).max(), c / np.abs(c).max())
    # independently of the verdict: the iterated K* annihilates the vector up to its error bound
    assert abs(c @ k.preactivation @ c) <= (c @ c) * k.preactivation.shape[0] * k.error + 1e-14
    assert abs(np.linalg.eigvalsh(k.preactivation)[0]) <= 3 * k.error + 1e-14


@pytest.mark.parametrize("act, X", [
    (zoo.relu, [_V, -_V]),                   # parallel but definite: relu(u), relu(-u) independent
    (zoo.tanh, [_V, 2 * _V]),                # parallel but definite: tanh(2u) is no multiple of tanh(u)
    (zoo.gelu, [_V, -_V]),
    (zoo.tanh, [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),   # K0 singular, pairwise non-parallel: by theorem
])
def test_kernel_definite_on_the_other_side(act, X):
    k = deq_kernel(act, np.array(X), sigma_w2=0.36, sigma_u2=1)
    d = k.definiteness
    assert d.holds is True
    # the eigenvalue itself is resolved: far above the Weyl bound from the entrywise error
    assert k.min_eigenvalue > 10 * d.bound > 0


# -- finite-width sampler -----------------------------------------------------------------------------

def test_fixed_point_solver_flags_divergence_and_oscillation():
    X = np.array([[1.0, 2.0]])
    U = np.ones((3, 2, 2))                                       # U x = 3
    W = np.stack([0.5 * np.eye(2), -np.eye(2), 2 * np.eye(2)])  # converges, oscillates, blows up
    out = deq_fixed_points(W, U, X, lambda h: h, max_iter=3000, tol=1e-13)
    assert out["converged"].tolist() == [True, False, False]
    assert out["iterations"][1] == 3000 and 1000 < out["iterations"][2] < 3000   # 2^t overflows near t = 1024
    assert np.allclose(out["f"][0], 6.0)       # f = f / 2 + 3
    assert np.isnan(out["f"][1:]).all()


def test_sampler_matches_kernel_within_standard_error_and_bias():
    X = paper_inputs(4, 10, seed=5)
    theory = deq_kernel(zoo.tanh, X, sigma_w2=TANH_W2, sigma_u2=TANH_U2)
    width = 32
    stats = deq_statistics(zoo.tanh, X, width, 2000, sigma_w2=TANH_W2, sigma_u2=TANH_U2, seed=11)
    assert stats.n_failed == 0
    # O(1/width) bias allowance: one times the largest variance over the width
    for estimate, reference in ((stats.preactivation_kernel, theory.preactivation),
                                (stats.output_kernel, theory.output)):
        allowance = 5 * estimate.std_error + np.max(np.diag(reference)) / width
        assert np.all(np.abs(estimate.value - reference) <= allowance)


def test_relative_error_falls_like_one_over_width():
    X = paper_inputs(4, 10, seed=0)
    with pytest.warns(DEQNonConvergenceWarning):   # a few width-4 networks do not settle
        check = deq_crosscheck(zoo.tanh, X, [4, 8, 16], 20000, sigma_w2=TANH_W2, sigma_u2=TANH_U2, seed=0,
                               max_iter=300)
    errors = [r["preactivation"]["debiased"] for r in check.rows]
    assert errors[0] > 2 * errors[2] > 0
    assert -1.7 < check.slope < -0.5
    assert check.rows[0]["preactivation"]["debiased"] > 3 * check.rows[0]["preactivation"]["noise_floor"]


def test_non_convergence_reported_and_excluded():
    X = paper_inputs(3, 10, seed=6)
    with pytest.warns(DEQNonConvergenceWarning, match="did not converge") as record:
        stats = deq_statistics(zoo.tanh, X, 16, 40, sigma_w2=2.5, sigma_u2=1, seed=2, max_iter=300)
    assert 0 < stats.n_failed < 40
    assert str(stats.failed.tolist()[:3])[1:-1] in str(record[0].message)
    assert stats.preactivation_kernel.count == 40 - stats.n_failed
    assert set(stats.failed.tolist()) <= set(range(40))
    with pytest.warns(DEQNonConvergenceWarning), pytest.raises(ConvergenceError, match="0 of 40"):
        deq_statistics(zoo.relu, X, 16, 40, sigma_w2=2.5, sigma_u2=1, seed=2, max_iter=300)   # all overflow


def test_seeds_reproducible_and_independent_of_chunking():
    X = paper_inputs(3, 10, seed=7)
    a = deq_statistics(zoo.tanh, X, 8, 100, sigma_w2=TANH_W2, sigma_u2=TANH_U2, seed=5)
    b = deq_statistics(zoo.tanh, X, 8, 100, sigma_w2=TANH_W2, sigma_u2=TANH_U2, seed=5, chunk_size=1)
    c = deq_statistics(zoo.tanh, X, 8, 100, sigma_w2=TANH_W2, sigma_u2=TANH_U2, seed=6)
    assert np.array_equal(a.preactivation_kernel.value, b.preactivation_kernel.value)
    assert np.array_equal(a.iterations, b.iterations)
    assert not np.array_equal(a.preactivation_kernel.value, c.preactivation_kernel.value)


# -- depth and width limits -----------------------------------------------------------------------------

def test_mlp_log_norm_drifts_at_the_exact_rate_so_depth_first_collapses():
    from ncsym.models.deq_limits import depth_width_grid, relu_log_ratio_mean

    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    g = depth_width_grid("mlp", zoo.relu, X, [32], [1, 16, 64], 300, sigma_w2=2, seed=5)
    m = float(relu_log_ratio_mean(32))
    assert -2.5 / 32 * 1.2 < m < -2.5 / 32 * 0.9            # m_n = -5/(2n) + O(n^-2), negative
    shift = float(mpmath.digamma(16) + mpmath.log(2 / 32))
    for j, L in enumerate(g.depths):
        assert abs(g.log_diagonal[0, j] - ((L - 1) * m + shift)) < 5 * g.log_diagonal_se[0, j]
    assert np.allclose(g.reference[:, 0, 0], 0.5)            # width first: the diagonal stays q_1
    assert g.distance[0, -1] - 5 * g.distance_se[0, -1] > 0.5


def test_deq_depth_first_limit_exists_and_tends_to_the_kernel():
    from ncsym.models.deq_limits import depth_width_grid

    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    g = depth_width_grid("deq", zoo.tanh, X, [16, 64], [1, 40, 80], 200, sigma_w2=0.36, seed=6)
    limit = deq_kernel(zoo.tanh, X, sigma_w2=0.36, sigma_u2=1).preactivation
    assert np.abs(g.reference[-1] - limit).max() < 1e-12                      # width first: K_L -> K*
    assert np.abs(g.mean_kernel[:, -1] - g.mean_kernel[:, -2]).max() < 1e-6   # depth first: settled
    bias16 = np.abs(g.mean_kernel[0, -1] - limit).max()
    assert np.all(np.abs(g.mean_kernel[1, -1] - limit) < 5 * g.mean_kernel_se[1, -1] + bias16 * 16 / 64
                  + 5 * g.mean_kernel_se[0, -1].max() * 16 / 64)
    assert g.distance[1, -1] + 5 * g.distance_se[1, -1] < g.distance[0, -1]   # closer when wider
    with pytest.raises(DomainError):
        depth_width_grid("rnn", zoo.tanh, X, [16], [1], 10, sigma_w2=0.36)
    with pytest.raises(DomainError):
        depth_width_grid("deq", zoo.tanh, X, [16], [4, 2], 10, sigma_w2=0.36)


# -- the DEQ NTK ---------------------------------------------------------------------------------------

def test_deq_ntk_linear_case_exact_and_recursion_fixed_point():
    from ncsym.kernels.dual import kernel_matrix
    from ncsym.models.deq_tangent import deq_ntk

    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    K0 = X @ X.T / 2
    linear = deq_ntk(zoo.identity, X, sigma_w2=0.5, sigma_u2=1)
    assert np.allclose(linear.kernel, K0 / (1 - 0.5) ** 2, rtol=0, atol=1e-12)
    # erf: Theta* is the limit of the finite-depth recursion Theta_{l+1} = K_{l+1} + w Vdot(K_l) o Theta_l
    t = deq_ntk(zoo.erf, X, sigma_w2=0.36, sigma_u2=1)
    K, theta = K0.copy(), K0.copy()
    for _ in range(80):
        K_next = 0.36 * kernel_matrix(zoo.erf, K) + K0
        theta = K_next + 0.36 * kernel_matrix(zoo.erf, K, derivative=True) * theta
        K = K_next
    assert np.abs(theta - t.kernel).max() < 1e-9
    with pytest.raises(DomainError):
        deq_ntk(zoo.sign, X, sigma_w2=0.36, sigma_u2=1)


@pytest.mark.parametrize("act, w", [(zoo.tanh, 0.36), (zoo.relu, 0.5), (zoo.identity, 0.5)])
def test_deq_ntk_against_the_implicit_function_jacobian_of_sampled_networks(act, w):
    from ncsym.models.deq_tangent import deq_empirical_ntk, deq_ntk

    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    theory = deq_ntk(act, X, sigma_w2=w, sigma_u2=1).kernel
    n = 64
    mean, se = deq_empirical_ntk(act, X, n, 40, sigma_w2=w, sigma_u2=1, seed=3)
    # 5 SE plus an O(1/n) finite-width allowance (the resolvent trace and K_hat are both biased at O(1/n))
    assert np.all(np.abs(mean - theory) < 5 * se + 4 * np.abs(theory) / n)
