"""The sampler's empirical NTK: exact Jacobians against finite differences, and its mean against
the infinite-width NTK recursion."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ncsym
from ncsym.core.errors import DomainError
from ncsym.sampler import MLPSpec, NetworkWeights, empirical_ntk, forward, iter_ntk, sample_weights
from ncsym.sampler.stats import StreamingMoments

TANH_PRIME = lambda h: 1 - np.tanh(h) ** 2  # noqa: E731


def _finite_difference_ntk(weights: NetworkWeights, X: np.ndarray, layer: int, weight_rate, bias_rate,
                           step: float = 1e-6) -> np.ndarray:
    """Theta_ij(a, b) = sum_params lambda dz_i(a)/dp dz_j(b)/dp by central differences in the raw
    weights W (lambda = rate / fan_in) and biases (lambda = rate): the definition, term by term."""
    spec = weights.spec
    grads = []  # rows: parameters; entries: dz^layer [P, width] flattened, times sqrt(lambda)

    def output(ws, bs):
        return forward(NetworkWeights(spec, tuple(ws), tuple(bs)), X, layers=layer)[layer][0]

    base_w = [w.copy() for w in weights.weights]
    base_b = [None if b is None else b.copy() for b in weights.biases]
    for l in range(1, layer + 1):
        fan_in = spec.fan_out_in(l)[1]
        for which, arrays, scale in (("w", base_w, weight_rate[l - 1] / fan_in), ("b", base_b, bias_rate[l - 1])):
            array = arrays[l - 1]
            if array is None:
                continue
            for index in np.ndindex(array.shape[1:]):
                full = (0,) + index
                plus = [a.copy() if a is not None else None for a in arrays]
                minus = [a.copy() if a is not None else None for a in arrays]
                plus[l - 1][full] += step
                minus[l - 1][full] -= step
                if which == "w":
                    d = (output(plus, base_b) - output(minus, base_b)) / (2 * step)
                else:
                    d = (output(base_w, plus) - output(base_w, minus)) / (2 * step)
                grads.append(math.sqrt(scale) * d)
    g = np.array(grads)  # [params, P, width]
    return np.einsum("kpi,kqj->ijpq", g, g)


@pytest.mark.parametrize("act, derivative, top", [
    (np.tanh, TANH_PRIME, 3),
    (np.sin, np.cos, 2),
])
def test_ntk_matches_finite_differences(act, derivative, top):
    spec = MLPSpec(input_dim=3, widths=[4, 3], activation=act, sigma_w2=1.7, sigma_b2=0.3, readout=2)
    X = np.array([[1.0, -0.5, 0.3], [0.2, 0.9, -1.1]])
    weights = sample_weights(spec, 1, seed=11)
    w_rate, b_rate = [1.3, 0.7, 2.0], [0.5, 1.1, 0.9]
    exact = empirical_ntk(weights, X, layer=top, derivative=derivative, cross_units=True,
                          weight_rate=w_rate, bias_rate=b_rate)[0]
    numeric = _finite_difference_ntk(weights, X, top, w_rate, b_rate)
    # central differences: error O(step^2 * third derivatives) plus rounding ~ 1e-16 / step
    assert np.allclose(exact, numeric, atol=1e-7, rtol=1e-7)
    diagonal = empirical_ntk(weights, X, layer=top, derivative=derivative, weight_rate=w_rate, bias_rate=b_rate)[0]
    width = spec.layer_width(top)
    assert np.allclose(diagonal, exact[np.arange(width), np.arange(width)])


def test_ntk_default_rates_are_the_ntk_parametrization():
    # default rates: weight variance per layer, sigma_b^2: the derivative in the standard-normal
    # parameters omega (W = sqrt(c_w / fan_in) omega) and beta (b = sigma_b beta)
    spec = MLPSpec(input_dim=2, widths=3, depth=2, activation=np.tanh, sigma_w2=1.5, sigma_b2=0.2,
                   sigma_w2_input=0.8)
    X = np.array([[0.3, 1.0]])
    weights = sample_weights(spec, 1, seed=2)
    default = empirical_ntk(weights, X, derivative=TANH_PRIME, cross_units=True)[0]
    numeric = _finite_difference_ntk(weights, X, 2, [0.8, 1.5], [0.2, 0.2])
    assert np.allclose(default, numeric, atol=1e-7)


def test_ntk_units_and_layer_one():
    spec = MLPSpec(input_dim=2, widths=6, depth=3, activation=ncsym.relu, sigma_w2=2.0, sigma_b2=0.1)
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    weights = sample_weights(spec, 4, seed=0)
    full = empirical_ntk(weights, X)  # ncsym.relu supplies its own derivative, the step
    picked = empirical_ntk(weights, X, units=[4, 1])
    assert np.allclose(picked, full[:, [4, 1]])
    assert np.allclose(empirical_ntk(weights, X, units=2), full[:, :2])
    # layer 1: Theta = sigma_b^2 + sigma_w^2 x.x' / d, the same for every network and unit
    first = empirical_ntk(weights, X, layer=1)
    assert np.allclose(first, 0.1 + 2.0 * (X @ X.T) / 2)


def test_ntk_mean_matches_infinite_width_recursion():
    # E[Theta_ii] = Theta^(l) + O(1/n); at width 256 the bias is well below the tolerance used.
    depth, width, networks = 3, 256, 60
    sigma_w2, sigma_b2 = 1.5, 0.1
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    spec = MLPSpec(input_dim=2, widths=width, depth=depth, activation=np.tanh, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    acc = StreamingMoments((2, 2))
    for _, theta in iter_ntk(spec, X, networks, seed=5, derivative=TANH_PRIME, units=32):
        acc.update(theta.mean(axis=1))
    theory = np.asarray(ncsym.ntk_kernel(X, "tanh", depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2), dtype=float)
    z = (acc.mean - theory) / acc.std_error
    # |z| < 5 from sampling; an O(1/n) bias of a few 1e-3 relative adds at most ~1 SE here
    assert np.all(np.abs(z) < 5), (acc.mean, theory, acc.std_error)


def test_iter_ntk_does_not_depend_on_chunks():
    spec = MLPSpec(input_dim=1, widths=8, depth=2, activation=np.tanh)
    a = np.concatenate([t for _, t in iter_ntk(spec, [[1.0]], 7, seed=3, derivative=TANH_PRIME, chunk_size=3)])
    b = np.concatenate([t for _, t in iter_ntk(spec, [[1.0]], 7, seed=3, derivative=TANH_PRIME, chunk_size=7)])
    assert np.array_equal(a, b)


def test_ntk_errors():
    spec = MLPSpec(input_dim=1, widths=4, depth=2, activation=np.tanh)
    weights = sample_weights(spec, 2, seed=0)
    with pytest.raises(DomainError, match="derivative"):
        empirical_ntk(weights, [[1.0]])  # a bare numpy callable has no derivative
    with pytest.raises(DomainError, match="units"):
        empirical_ntk(weights, [[1.0]], units=[9], derivative=TANH_PRIME)
    with pytest.raises(DomainError, match="weight_rate"):
        empirical_ntk(weights, [[1.0]], derivative=TANH_PRIME, weight_rate=[1.0])
    step = MLPSpec(input_dim=1, widths=4, depth=2, activation=ncsym.step)
    with pytest.raises(DomainError, match="pointwise"):
        empirical_ntk(sample_weights(step, 1, seed=0), [[1.0]])
    residual = MLPSpec(input_dim=1, widths=4, depth=2, activation=np.tanh, residual_scale=0.5)
    with pytest.raises(DomainError, match="residual"):
        empirical_ntk(sample_weights(residual, 1, seed=0), [[1.0]], derivative=TANH_PRIME)
