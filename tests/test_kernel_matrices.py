"""Kernel matrices at data-set scale: vectorized dual kernels and the blockwise NNGP/NTK recursion.

Checked against independent routes: the high-precision dual kernels (closed forms in mpmath,
Mehler series with rigorous Parseval tails), closed-form recursions iterated in mpmath, the
fixed points of the variance and correlation maps, and PSD-ness by eigenvalues.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from ncsym.core.errors import DomainError
from ncsym.depth.network import network_kernels, nngp_kernel, ntk_kernel
from ncsym.kernels.dual import dual_kernel
from ncsym.kernels.vectorized import pair_kernels

RHOS = np.array([-1.0, -0.999999, -0.7, 0.0, 0.3, 0.9, 0.999999, 1.0])


def _reference(act, q1, q2, rhos, derivative=False):
    k = dual_kernel(act, q1=q1, q2=q2)
    if derivative:
        k = k.derivative()
    return np.array([float(k.evaluate(r, dps=20).value) for r in rhos])


def _scale(act, q1, q2):
    return float(np.sqrt(_reference(act, q1, q1, [1])[0] * _reference(act, q2, q2, [1])[0]))


SLOW = pytest.mark.slow


@pytest.mark.parametrize("act, q1, q2", [
    *[(a, q1, q2) for a in ("relu", "leaky_relu", "erf", "gelu", "sin") for q1, q2 in ((1.0, 1.0), (0.5, 2.0))],
    pytest.param("tanh", 1.0, 1.0, marks=SLOW), pytest.param("tanh", 0.5, 2.0, marks=SLOW),
    pytest.param("softplus", 1.0, 1.0, marks=SLOW), pytest.param("softplus", 0.5, 2.0, marks=SLOW),
])
def test_pair_kernels_against_high_precision(act, q1, q2):
    # the reference reads each float exactly, so rho is the same number on both sides; the mp
    # Mehler series is slow at |rho| = 1 - 1e-6, so the series activations skip those two points
    rhos = RHOS if act in ("relu", "leaky_relu", "erf", "gelu", "sin") else RHOS[[0, 2, 3, 4, 5, 7]]
    out = pair_kernels(act, q1, q2, rhos, derivative=True)
    scale = _scale(act, q1, q2)
    assert np.max(np.abs(out.value - _reference(act, q1, q2, rhos))) <= 1e-14 * scale
    ref = _reference(act, q1, q2, rhos[1:-1], derivative=True)  # sigma' may jump at rho = +-1 (relu)
    assert np.max(np.abs(out.derivative[1:-1] - ref)) <= 1e-13 * np.max(np.abs(ref))
    assert np.all(out.deficit >= 0)


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_deficit_keeps_relative_accuracy_near_one(act):
    # 1 - rho = 1e-20 is invisible in rho itself; the deficit sqrt(V11 V22) - V must still be
    # right to many digits: against the mp value of V(1) - V(rho) at 60 digits
    gap = np.array([1e-20, 1e-12, 1e-6])
    out = pair_kernels(act, 1.0, 1.0, 1.0 - gap, gap=gap)
    k = dual_kernel(act)
    with mpmath.workdps(60):
        exact = [k(mpmath.mpf(1)) - k(1 - mpmath.mpf(g)) for g in gap]
    for got, want in zip(out.deficit, exact):
        assert abs(got - float(want)) <= 1e-12 * abs(float(want))


@pytest.mark.parametrize("act", ["relu", "erf", pytest.param("tanh", marks=SLOW)])
def test_blockwise_equals_unblocked_and_float32(act):
    X = np.random.default_rng(1).standard_normal((37, 5))
    if True:
        whole = network_kernels(X, act, 4, sigma_w2=1.6, sigma_b2=0.1, block=64)
        blocks = network_kernels(X, act, 4, sigma_w2=1.6, sigma_b2=0.1, block=7)
        assert np.allclose(whole.nngp, blocks.nngp, rtol=0, atol=1e-14 * np.abs(whole.nngp).max())
        assert np.allclose(whole.ntk, blocks.ntk, rtol=0, atol=1e-14 * np.abs(whole.ntk).max())
        single = ntk_kernel(X, act, 4, sigma_w2=1.6, sigma_b2=0.1, dtype=np.float32)
        assert single.dtype == np.float32
        assert np.allclose(single, whole.ntk, rtol=1e-6, atol=0)
        alone = nngp_kernel(X, act, 4, sigma_w2=1.6, sigma_b2=0.1)  # the NNGP alone: same values
        assert np.allclose(alone, whole.nngp, rtol=0, atol=1e-14 * np.abs(whole.nngp).max())


def test_per_layer_parameters_against_mp_recursion():
    X = np.array([[1.0, 0.5, -0.3], [-0.2, 1.1, 0.4], [0.7, -0.9, 1.3]])
    ws, bs = [1.0, 2.0, 1.5], [0.0, 0.1, 0.3]
    out = network_kernels(X, "relu", 3, sigma_w2=ws, sigma_b2=bs)
    exact = network_kernels(X, "relu", 3, sigma_w2=ws, sigma_b2=bs, dps=30)
    assert np.max(np.abs(out.nngp - np.array(exact.nngp.tolist(), dtype=float))) < 1e-13
    assert np.max(np.abs(out.ntk - np.array(exact.ntk.tolist(), dtype=float))) < 1e-13
    with pytest.raises(DomainError):
        network_kernels(X, "relu", 3, sigma_w2=[1.0, 2.0])


@SLOW
def test_tanh_network_with_bias_against_mp_path():
    X = np.array([[1.0, 0.5], [-0.2, 1.1], [0.7, -0.9]])
    out = network_kernels(X, "tanh", 3, sigma_w2=1.5, sigma_b2=0.05)
    exact = network_kernels(X, "tanh", 3, sigma_w2=1.5, sigma_b2=0.05, dps=20)
    scale = np.abs(out.nngp).max()
    assert np.max(np.abs(out.nngp - np.array(exact.nngp.tolist(), dtype=float))) < 1e-14 * scale
    assert np.max(np.abs(out.ntk - np.array(exact.ntk.tolist(), dtype=float))) < 1e-13 * np.abs(out.ntk).max()


def _relu_mp(rows, depth, w):
    """The arc-cosine recursion (Cho & Saul 2009) iterated in mpmath at 50 digits."""
    with mpmath.workdps(50):
        d = len(rows[0])
        K = [[w * mpmath.fsum(a * b for a, b in zip(x, y)) / d for y in rows] for x in rows]
        T = [row[:] for row in K]
        for _ in range(depth - 1):
            P = len(rows)
            new, newT = [[0] * P for _ in range(P)], [[0] * P for _ in range(P)]
            for i in range(P):
                for j in range(P):
                    s = mpmath.sqrt(K[i][i] * K[j][j])
                    c = max(-1, min(1, K[i][j] / s))
                    t = mpmath.acos(c)
                    new[i][j] = w * s * (mpmath.sin(t) + (mpmath.pi - t) * c) / (2 * mpmath.pi)
                    newT[i][j] = new[i][j] + w * (mpmath.pi - t) / (2 * mpmath.pi) * T[i][j]
            K, T = new, newT
        return K, T


def test_relu_depth_1000_against_mp():
    rows = [[1.0, 0.2, -0.4], [0.3, -1.0, 0.5], [0.9, 0.8, 0.1]]
    out = network_kernels(np.array(rows), "relu", 1000, sigma_w2=2.0, layers="last")
    K, T = _relu_mp([[mpmath.mpf(v) for v in r] for r in rows], 1000, mpmath.mpf(2))
    K, T = np.array(K, dtype=float), np.array(T, dtype=float)
    assert np.max(np.abs(out.nngp - K) / np.abs(K)) < 1e-11
    assert np.max(np.abs(out.ntk - T) / np.abs(T)) < 1e-10
    # 1 - rho ~ 1e-5 after 1000 layers: the correlation is still resolved
    rho = K[0, 1] / np.sqrt(K[0, 0] * K[1, 1])
    got = out.nngp[0, 1] / np.sqrt(out.nngp[0, 0] * out.nngp[1, 1])
    assert abs((1 - got) - (1 - rho)) < 1e-9 * (1 - rho)


@SLOW
@pytest.mark.parametrize("w, b", [(0.5, 0.1), (2.5, 0.1)])  # ordered, chaotic
def test_tanh_depth_1000_fixed_point_and_psd(w, b):
    from ncsym.depth.variance import variance_map

    X = np.random.default_rng(2).standard_normal((6, 4))
    out = network_kernels(X, "tanh", 1000, sigma_w2=w, sigma_b2=b, layers="last")
    assert np.isfinite(out.nngp).all() and np.isfinite(out.ntk).all()
    vmap = variance_map("tanh", w, b)
    q_star = float(vmap.q_star.value)
    assert np.allclose(np.diag(out.nngp), q_star, rtol=1e-13, atol=0)
    for M in (out.nngp, out.ntk):
        eigs = np.linalg.eigvalsh(M)
        assert eigs.min() >= -1e-12 * eigs.max()
    off = out.nngp[~np.eye(6, dtype=bool)] / q_star
    if w < 1:  # ordered: every correlation at 1
        assert np.all(np.abs(off - 1) < 1e-12)
    else:  # chaotic: every distinct pair at the stable fixed point c* < 1
        assert np.ptp(off) < 1e-12 and off.max() < 0.99


def test_tanh_fast_against_mp_path():
    # equal-norm inputs without bias: one variance per layer, so the mp path stays quick
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    out = network_kernels(X, "tanh", 3, sigma_w2=1.5)
    exact = network_kernels(X, "tanh", 3, sigma_w2=1.5, dps=20)
    assert np.max(np.abs(out.nngp - np.array(exact.nngp.tolist(), dtype=float))) < 1e-14
    assert np.max(np.abs(out.ntk - np.array(exact.ntk.tolist(), dtype=float))) < 1e-13 * np.abs(out.ntk).max()


def test_relu_many_inputs_memory_path():
    X = np.random.default_rng(3).standard_normal((600, 3))
    K = nngp_kernel(X, "relu", 3, sigma_w2=2.0, sigma_b2=0.0, block=128)
    assert K.shape == (600, 600) and np.allclose(K, K.T)
    assert np.linalg.eigvalsh(K).min() > -1e-10 * np.abs(K).max()
