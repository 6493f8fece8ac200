"""Interop: scikit-learn kernels for the NNGP/NTK, and closed forms compiled for numpy/JAX/PyTorch.

Independent routes: the arc-cosine formulas of Cho & Saul (2009) written out here for ReLU,
exact derivatives of homogeneous kernels, a direct linear solve for kernel ridge, Gauss-Hermite
quadrature for kernels of unequal variances, mpmath quadrature for moments, and Price's theorem
(d k / d rho = the derivative kernel) through JAX's autodiff.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import ncsym
from ncsym.core.errors import DomainError, NoClosedFormError
from ncsym.interop import activation_function, kernel_function, moment_function, nngp_function, to_function

RNG = np.random.default_rng(7)
X = RNG.normal(size=(7, 3))
Y = RNG.normal(size=(4, 3))


def _relu_layer(K12, K11, K22):
    """E[relu(u) relu(v)] and E[step(u) step(v)] for a centred Gaussian pair (Cho & Saul 2009)."""
    scale = np.sqrt(K11 * K22)
    cosine = np.clip(K12 / scale, -1, 1)
    cosine[np.isclose(cosine, 1, rtol=0, atol=1e-14)] = 1.0  # K(x, x): rounding must not open an angle
    theta = np.arccos(cosine)
    return (scale * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi),
            (np.pi - theta) / (2 * np.pi))


def _relu_depth2(A, B, w, b):
    d = A.shape[1]
    K12 = w * A @ B.T / d + b
    K11 = w * (A * A).sum(1)[:, None] / d + b
    K22 = w * (B * B).sum(1)[None, :] / d + b
    V, Vdot = _relu_layer(K12, K11, K22)
    nngp = w * V + b
    return nngp, nngp + w * Vdot * K12


# -- scikit-learn ------------------------------------------------------------------------------



def _kernels():
    pytest.importorskip("sklearn")
    from ncsym.interop.sklearn_kernels import NNGPKernel, NTKKernel

    return NNGPKernel, NTKKernel


def test_sklearn_kernels_match_the_arc_cosine_formulas():
    NNGPKernel, NTKKernel = _kernels()
    nngp, ntk = _relu_depth2(X, X, 2.0, 0.3)
    assert np.allclose(NNGPKernel("relu", depth=2, sigma_w2=2.0, sigma_b2=0.3)(X), nngp, rtol=1e-12, atol=1e-13)
    assert np.allclose(NTKKernel("relu", depth=2, sigma_w2=2.0, sigma_b2=0.3)(X), ntk, rtol=1e-12, atol=1e-13)
    cross_nngp, cross_ntk = _relu_depth2(X, Y, 2.0, 0.3)
    assert np.allclose(NNGPKernel("relu", depth=2, sigma_w2=2.0, sigma_b2=0.3)(X, Y), cross_nngp, rtol=1e-12)
    assert np.allclose(NTKKernel("relu", depth=2, sigma_w2=2.0, sigma_b2=0.3)(X, Y), cross_ntk, rtol=1e-12)


@pytest.mark.parametrize("act", ["erf", "relu(x) - 1/sqrt(2*pi)",
                                 pytest.param("tanh", marks=pytest.mark.slow),
                                 pytest.param(ncsym.zoo.gelu, marks=pytest.mark.slow)])
def test_sklearn_kernel_is_ncsym_nngp_kernel_for_any_activation(act):
    NNGPKernel, NTKKernel = _kernels()
    kernel = NNGPKernel(act, depth=3, sigma_w2=1.7, sigma_b2=0.2)
    assert np.array_equal(kernel(X), ncsym.nngp_kernel(X, act, 3, sigma_w2=1.7, sigma_b2=0.2))
    full = ncsym.nngp_kernel(np.vstack([X, Y]), act, 3, sigma_w2=1.7, sigma_b2=0.2)
    assert np.allclose(kernel(X, Y), full[:7, 7:], rtol=1e-12)
    assert np.allclose(kernel.diag(X), np.diag(kernel(X)))
    assert np.array_equal(NTKKernel(act, depth=3)(X), ncsym.ntk_kernel(X, act, 3, sigma_b2=0.1))


def test_hyperparameters_theta_bounds_clone():
    NNGPKernel, _ = _kernels()
    from sklearn.base import clone

    kernel = NNGPKernel("tanh", depth=3, sigma_w2=1.5, sigma_b2=0.05, sigma_b2_bounds=(1e-4, 10.0))
    assert [h.name for h in kernel.hyperparameters] == ["sigma_b2", "sigma_w2"]
    assert np.allclose(kernel.theta, np.log([0.05, 1.5]))
    assert np.allclose(kernel.bounds, np.log([[1e-4, 10.0], [1e-3, 1e3]]))
    copy = clone(kernel)
    assert copy.get_params() == kernel.get_params() and copy is not kernel
    moved = kernel.clone_with_theta(np.log([0.2, 2.5]))
    assert (moved.sigma_w2, moved.sigma_b2) == pytest.approx((2.5, 0.2))
    assert np.array_equal(moved(X), ncsym.nngp_kernel(X, "tanh", 3, sigma_w2=2.5, sigma_b2=0.2))
    fixed = NNGPKernel("relu", sigma_b2=0.0, sigma_b2_bounds="fixed")
    assert [h.name for h in fixed.hyperparameters if not h.fixed] == ["sigma_w2"] and fixed.theta.shape == (1,)


def test_gradients_against_exact_derivatives():
    NNGPKernel, NTKKernel = _kernels()
    # depth 1: K = w X X^T / d + b, so dK/dlog w = K - b and dK/dlog b = b.
    K, grad = NNGPKernel("tanh", depth=1, sigma_w2=1.3, sigma_b2=0.4)(X, eval_gradient=True)
    assert np.allclose(grad[..., 1], K - 0.4, rtol=1e-8) and np.allclose(grad[..., 0], 0.4, rtol=1e-8)
    # relu with no bias is homogeneous: K^L scales as w^L, so dK/dlog w = L K (NTK: the same).
    for cls in (NNGPKernel, NTKKernel):
        K, grad = cls("relu", depth=3, sigma_w2=1.8, sigma_b2=0.0, sigma_b2_bounds="fixed")(X, eval_gradient=True)
        assert grad.shape == (7, 7, 1)
        assert np.allclose(grad[..., 0], 3 * K, rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="Y is None"):
        NNGPKernel()(X, Y, eval_gradient=True)


def test_gaussian_process_fit_and_kernel_ridge():
    NNGPKernel, NTKKernel = _kernels()
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import WhiteKernel
    from sklearn.kernel_ridge import KernelRidge

    rng = np.random.default_rng(3)
    train, test = rng.normal(size=(40, 2)), rng.normal(size=(30, 2))
    target = lambda A: np.sin(A[:, 0]) + 0.5 * A[:, 1]  # noqa: E731
    start = NNGPKernel("erf", depth=3, sigma_w2=1.0, sigma_b2=0.5)
    gp = GaussianProcessRegressor(kernel=start + WhiteKernel(1e-3), normalize_y=True, random_state=0)
    gp.fit(train, target(train))
    assert gp.log_marginal_likelihood_value_ > gp.log_marginal_likelihood(gp.kernel.theta)
    assert gp.score(test, target(test)) > 0.95
    mean, std = gp.predict(test, return_std=True)
    assert np.all(std > 0) and mean.shape == (30,)

    ridge = KernelRidge(kernel=NTKKernel("relu", depth=3, sigma_w2=2.0, sigma_b2=0.1), alpha=0.1)
    ridge.fit(train, target(train))
    K = NTKKernel("relu", depth=3, sigma_w2=2.0, sigma_b2=0.1)
    weights = np.linalg.solve(K(train) + 0.1 * np.eye(40), target(train))
    assert np.allclose(ridge.predict(test), K(test, train) @ weights, rtol=1e-8, atol=1e-10)
    assert ridge.score(test, target(test)) > 0.9


def test_sklearn_kernel_bad_input():
    NNGPKernel, _ = _kernels()
    with pytest.raises(DomainError):
        NNGPKernel()(np.zeros(3))
    with pytest.raises(DomainError):
        NNGPKernel()(X, np.ones((2, 5)))
    with pytest.raises(ncsym.ActivationParseError):
        NNGPKernel("__import__('os')")(X)


# -- code generation (numpy) -------------------------------------------------------------------

def _gauss_hermite_kernel(f, c, q1, q2, nodes=120):
    """E[f(u) f(v)] by tensor Gauss-Hermite quadrature, u = sqrt(q1) z1, v = c/sqrt(q1) z1 + s z2."""
    t, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    z1, z2 = np.meshgrid(t, t, indexing="ij")
    u = math.sqrt(q1) * z1
    v = c / math.sqrt(q1) * z1 + math.sqrt(q2 - c * c / q1) * z2
    return float((np.outer(w, w) * f(u) * f(v)).sum())


def test_kernel_function_numpy_against_the_kernel():
    rhos = np.linspace(-1, 1, 41)
    for act in ("relu", "erf", "gelu", "sin", "abs", "relu(x) - 1/sqrt(2*pi)"):
        kernel = ncsym.dual_kernel(act)
        f = kernel_function(act)
        for r in rhos[::8]:
            assert float(f(r)) == pytest.approx(float(kernel.evaluate(float(r)).value), rel=1e-13, abs=1e-15)
        assert np.allclose(f(rhos), kernel(rhos), rtol=1e-13, atol=1e-15)
    kdot = kernel_function("erf", derivative=True)
    assert np.allclose(kdot(rhos[1:-1]), ncsym.dual_kernel("erf").derivative()(rhos[1:-1]), rtol=1e-13)


def test_nngp_function_unequal_variances_by_quadrature():
    f = nngp_function("erf")
    fdot = nngp_function("erf", derivative=True)
    deriv = lambda t: 2 / math.sqrt(math.pi) * np.exp(-t * t)  # noqa: E731
    for c, q1, q2 in ((0.3, 0.7, 1.9), (-0.5, 1.0, 2.0), (1.2, 1.5, 1.5)):
        ref = _gauss_hermite_kernel(np.vectorize(math.erf), c, q1, q2)
        assert float(f(c, q1, q2)) == pytest.approx(ref, abs=1e-10)
        assert float(fdot(c, q1, q2)) == pytest.approx(_gauss_hermite_kernel(deriv, c, q1, q2), abs=1e-10)
    # the same function as kernel_matrix on a 2x2 covariance
    K = np.array([[0.7, 0.3], [0.3, 1.9]])
    assert float(nngp_function("gelu")(0.3, 0.7, 1.9)) == pytest.approx(ncsym.kernel_matrix("gelu", K)[0, 1],
                                                                         rel=1e-12)


def test_moment_and_activation_functions():
    m = moment_function("relu", 2)
    assert float(m(3.0)) == pytest.approx(1.5, rel=1e-15)
    m1 = moment_function("gelu", 1)
    for q in (0.5, 2.0):
        ref = mpmath.quad(lambda z: math.sqrt(q) * z * mpmath.ncdf(math.sqrt(q) * z) * mpmath.npdf(z),
                          [-mpmath.inf, 0, mpmath.inf])
        assert float(m1(q)) == pytest.approx(float(ref), rel=1e-13)
    assert float(moment_function("tanh", 0)(1.0)) == 1.0
    xs = np.linspace(-3, 3, 13)
    assert np.allclose(activation_function("gelu")(xs), xs * (1 + np.vectorize(math.erf)(xs / math.sqrt(2))) / 2)


def test_codegen_refuses_what_it_cannot_compile():
    with pytest.raises(NoClosedFormError):
        kernel_function("tanh")
    with pytest.raises(NoClosedFormError):
        to_function(ncsym.gaussian_moment("tanh", 2))
    with pytest.raises(DomainError, match="strings go through"):
        to_function("rho**2")
    with pytest.raises(DomainError, match="backend"):
        kernel_function("relu", "tensorflow")
    with pytest.raises(DomainError):
        moment_function("relu", -1)
    assert float(to_function(ncsym.gaussian_moment("relu", 2))()) == 0.5


# -- JAX and PyTorch ---------------------------------------------------------------------------

@pytest.mark.parametrize("act", ["erf", pytest.param("relu", marks=pytest.mark.slow),
                                 pytest.param("gelu", marks=pytest.mark.slow),
                                 pytest.param("sin", marks=pytest.mark.slow)])
def test_jax_kernels_and_prices_theorem(act):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    rhos = np.linspace(-0.9, 0.9, 19)
    f = kernel_function(act, "jax")
    values = np.asarray(jax.jit(f)(jnp.asarray(rhos)))
    assert np.allclose(values, kernel_function(act)(rhos), rtol=2e-6, atol=1e-6)  # float32 by default
    # Price's theorem: d/drho E[sigma(u) sigma(v)] = E[sigma'(u) sigma'(v)] (unit variances).
    slope = np.asarray(jax.vmap(jax.grad(f))(jnp.asarray(rhos)))
    assert np.allclose(slope, kernel_function(act, derivative=True)(rhos), rtol=1e-5, atol=1e-5)


def test_jax_nngp_function_and_activation():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    rhos = np.linspace(-0.9, 0.9, 19)
    nngp = nngp_function("erf", "jax")
    assert float(nngp(jnp.float32(0.3), jnp.float32(0.7), jnp.float32(1.9))) == pytest.approx(
        float(nngp_function("erf")(0.3, 0.7, 1.9)), rel=1e-6)
    assert np.allclose(np.asarray(activation_function("gelu", "jax")(jnp.asarray(rhos))),
                       activation_function("gelu")(rhos), atol=1e-6)


def test_torch_backend():
    torch = pytest.importorskip("torch")
    rhos = np.linspace(-0.9, 0.9, 19)
    for act in ("relu", "erf", "gelu"):
        f = kernel_function(act, "torch")
        values = f(torch.tensor(rhos, dtype=torch.float64)).numpy()
        assert np.allclose(values, kernel_function(act)(rhos), rtol=1e-13, atol=1e-15)
