"""NNPK: the sampled prior kernel of logits against its limit, and the limit against hand recursions."""

from __future__ import annotations

import numpy as np
import pytest

from ncsym import zoo
from ncsym.core.errors import DomainError
from ncsym.models.prior_kernel import nnpk, nnpk_limit, nnpk_trend
from ncsym.sampler import MLPSpec

X = np.array([[1.0, 0.0, 0.5], [0.6, 0.8, -0.2], [-0.3, 0.4, 1.0]])


def _arccos_relu(K):
    """E[relu(u_a) relu(u_b)] = sqrt(q_a q_b)/(2 pi) (sin t + (pi - t) cos t), cos t = rho (Cho & Saul)."""
    d = np.sqrt(np.diag(K))
    t = np.arccos(np.clip(K / np.outer(d, d), -1, 1))
    return np.outer(d, d) / (2 * np.pi) * (np.sin(t) + (np.pi - t) * np.cos(t))


def _within(estimate, reference, bias=0.0):
    return np.all(np.abs(estimate.value - reference) <= 5 * estimate.std_error + bias)


# -- the limit -------------------------------------------------------------------------------------------

def test_limit_one_hidden_relu_layer_is_the_arccos_kernel():
    w, b, k = 2.0, 0.1, 7
    spec = MLPSpec(3, 8, activation=zoo.relu, depth=1, sigma_w2=w, sigma_b2=b, readout=k)
    K1 = w * X @ X.T / 3 + b
    assert np.allclose(nnpk_limit(spec, X), k * (w * _arccos_relu(K1) + b), rtol=1e-12)


def test_limit_linear_and_residual_recursions():
    w, b, k, s = 0.8, 0.2, 3, 0.5
    K0 = X @ X.T / 3
    plain = MLPSpec(3, 5, activation=zoo.identity, depth=3, sigma_w2=w, sigma_b2=b, readout=k)
    K = w * K0 + b
    for _ in range(3):
        K = w * K + b
    assert np.allclose(nnpk_limit(plain, X), k * K, rtol=1e-12)
    residual = MLPSpec(3, 5, activation=zoo.identity, depth=3, sigma_w2=w, sigma_b2=b, readout=k, residual_scale=s)
    K = w * K0 + b
    for _ in range(2):
        K = K + s * s * (w * K + b)
    assert np.allclose(nnpk_limit(residual, X), k * (w * K + b), rtol=1e-12)


# -- estimates against the limit -------------------------------------------------------------------------

@pytest.mark.parametrize("estimator", ["logits", "conditional"])
def test_one_hidden_layer_has_no_finite_width_bias(estimator):
    """With one hidden layer E<f, f'> = k (sigma_w2 V(K1) + sigma_b2) at every width."""
    est = nnpk(zoo.relu, X, 20000, width=4, depth=1, logits=2, sigma_w2=2.0, sigma_b2=0.1, estimator=estimator,
               seed=1)
    assert _within(est.estimate, est.limit)


def test_linear_residual_network_is_exact_at_every_width():
    spec = MLPSpec(3, 3, activation=zoo.identity, depth=3, sigma_w2=0.8, sigma_b2=0.2, readout=2, residual_scale=0.5)
    est = nnpk(spec, X, 20000, method="weights", seed=2)
    assert _within(est.estimate, est.limit)


def test_deep_tanh_agrees_within_standard_error_and_bias():
    width = 64
    est = nnpk(zoo.tanh, X, 4000, width=width, depth=2, logits=10, sigma_w2=1.5, sigma_b2=0.05, seed=3)
    # O(1/width) bias allowance: one times the largest limit variance over the width
    assert _within(est.estimate, est.limit, bias=np.max(np.diag(est.limit)) / width)
    assert est.relative_error()["value"] < 0.05


def test_discrepancy_falls_like_one_over_width():
    trend = nnpk_trend(zoo.tanh, X, [4, 8, 16], 20000, depth=3, logits=10, sigma_w2=1.5, seed=4)
    errors = [r["relative_error"]["debiased"] for r in trend.rows]
    assert errors[0] > 2 * errors[2] > 0
    assert -1.7 < trend.slope < -0.5
    first = trend.rows[0]
    assert abs(first["bias_times_width"]) > 3 * first["bias_times_width_se"]


def test_weight_and_gram_samplers_agree():
    """Both samplers draw the same law: their NNPK estimates agree within the joint error."""
    common = dict(width=8, depth=2, logits=4, sigma_w2=2.0, seed=5)
    gram = nnpk(zoo.relu, X, 3000, method="gram", **common).estimate
    weights = nnpk(zoo.relu, X, 3000, method="weights", **common).estimate
    assert np.all(np.abs(gram.value - weights.value) <= 5 * np.hypot(gram.std_error, weights.std_error))


# -- interface ---------------------------------------------------------------------------------------------

def test_numpy_activation_needs_act_for_the_limit():
    spec = MLPSpec(3, 8, activation=np.tanh, depth=2, readout=2)
    est = nnpk(spec, X, 50, seed=0)
    assert est.limit is None
    with pytest.raises(DomainError, match="no limit"):
        est.relative_error()
    with_limit = nnpk(spec, X, 50, seed=0, act=zoo.tanh)
    assert np.array_equal(with_limit.estimate.value, est.estimate.value)
    assert np.allclose(with_limit.limit, nnpk_limit(MLPSpec(3, 8, activation=zoo.tanh, depth=2, readout=2), X))


def test_bad_input():
    with pytest.raises(DomainError, match="readout"):
        nnpk(MLPSpec(3, 8, activation=np.tanh, depth=2), X, 10)
    with pytest.raises(DomainError, match="width"):
        nnpk(zoo.tanh, X, 10, depth=2)
    with pytest.raises(DomainError, match="estimator"):
        nnpk(zoo.tanh, X, 10, width=4, depth=1, estimator="mean")
    with pytest.raises(DomainError):   # inputs of the wrong dimension for the spec
        nnpk(MLPSpec(3, 4, activation=zoo.tanh, depth=1, readout=1), X[:, :2], 10)


def test_reproducible_and_independent_of_chunking():
    a = nnpk(zoo.tanh, X, 300, width=8, depth=2, logits=3, seed=9)
    b = nnpk(zoo.tanh, X, 300, width=8, depth=2, logits=3, seed=9, chunk_size=7)
    assert np.array_equal(a.estimate.value, b.estimate.value)
