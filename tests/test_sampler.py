"""Tests of the numpy network sampler against exact facts, each other, and their own claims.

Monte Carlo tolerances are 5 standard errors (the estimators' own errors, over networks)
plus, where a finite-width bias exists, an explicit bound on it.
"""

from __future__ import annotations

import ast
import pathlib
import tracemalloc
import warnings

import numpy as np
import pytest

from ncsym.core.errors import DomainError, NonFiniteError, NonFiniteWarning
from ncsym.sampler import (
    MLPSpec, PreactivationStatistics, StreamingMoments, forward, forward_chunks, network_statistics,
    psd_factor, sample_gram_space, sample_preactivations, sample_weight_space, sample_weights,
)

Z = 5.0


def relu(h):
    return np.maximum(h, 0.0)


def arccos_kernel(rho):
    """E[relu(u) relu(v)] for unit-variance (u, v) with correlation rho (Cho & Saul)."""
    rho = np.asarray(rho, dtype=float)
    return (np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho) / (2 * np.pi)


def unit_inputs(*rhos):
    """Unit vectors in R^2 whose inner products with e_1 are the given correlations."""
    return np.array([[1.0, 0.0]] + [[r, np.sqrt(1 - r * r)] for r in rhos])


def assert_within(estimate, exact, bias=0.0, z=Z):
    value, error = np.asarray(estimate.value), np.asarray(estimate.std_error)
    exact = np.broadcast_to(np.asarray(exact, dtype=float), value.shape)
    gap = np.abs(value - exact)
    assert np.all(gap <= z * error + bias + 1e-12), (value, exact, error, bias)


# ------------------------------------------------------------------- exact facts


@pytest.mark.parametrize("method", ["gram", "weights"])
def test_identity_activation_kernels_are_exact_in_expectation(method):
    # Linear network: E[K^1] = sigma_w2 X X^T / d + sigma_b2, and E[K^{l+1}] = sigma_w2 E[K^l]
    # + sigma_b2, exactly at any width (the weights are independent of the layer below).
    X = np.array([[1.0, 0.5, -1.0], [0.2, 1.0, 0.3], [1.0, 0.5, -1.0]])
    sw, sb = 1.7, 0.3
    spec = MLPSpec(3, [6, 5], activation=lambda h: h, sigma_w2=sw, sigma_b2=sb)
    stats = network_statistics(spec, X, 3000, method=method, layers=[1, 2], seed=11)
    k1 = sw * X @ X.T / 3 + sb
    assert_within(stats[1].kernel, k1)
    assert_within(stats[2].kernel, sw * k1 + sb)
    assert_within(stats[2].mean, 0.0)
    # Gaussian layer 1: E[h^4] = 3 q^2 exactly.
    assert_within(stats[1].moment(4), 3 * np.diag(k1) ** 2)


@pytest.mark.parametrize("method", ["gram", "weights"])
def test_relu_depth_one_matches_arc_cosine_kernel(method):
    rhos = (0.5, -0.4)
    X = unit_inputs(*rhos) * np.sqrt(2.0)  # sigma_w2 |x|^2 / d = 1: unit layer-1 variances
    width = 512 if method == "gram" else 128
    spec = MLPSpec(2, width, activation=relu, depth=2, sigma_w2=1.0)
    stats = network_statistics(spec, X, 1500, method=method, layers=2, seed=5)[2]
    rho1 = X @ X.T / 2
    # The expected kernel one layer after the Gaussian layer is exact at any width.
    assert_within(stats.kernel, arccos_kernel(np.clip(rho1, -1, 1)))
    # The per-network correlation is a ratio of neuron averages: a second-order delta-method
    # bias bounded by (3/8 (cv_B^2 + cv_C^2) + cv_B cv_C / 4 + cv_A (cv_B + cv_C) / 2) |rho| / width
    # with cv^2 of relu(u)^2 equal to E relu^4 / (E relu^2)^2 - 1 = 5 and cv_A^2 <= 1.5 / k^2 - 1.
    for b, rho in enumerate(rhos, start=1):
        k = arccos_kernel(rho)
        cv_a = np.sqrt(1.5 / k**2 - 1)
        bias = (3 / 8 * 10 + 5 / 4 + cv_a * np.sqrt(5)) / width
        exact = k / arccos_kernel(1.0)
        value = stats.correlation.value[0, b]
        assert abs(value - exact) <= Z * stats.correlation.std_error[0, b] + bias, (rho, value, exact)


@pytest.mark.parametrize("method", ["gram", "weights"])
def test_residual_linear_network_kernel_recursion(method):
    # h^{l+1} = h^l + s (W h^l + b): E[K^{l+1}] = (1 + s^2 sigma_w2) E[K^l] + s^2 sigma_b2 exactly.
    X = unit_inputs(0.3)
    s, sw, sb = 0.5, 1.2, 0.2
    spec = MLPSpec(2, 8, activation=lambda h: h, depth=3, sigma_w2=sw, sigma_b2=sb, residual_scale=s)
    stats = network_statistics(spec, X, 3000, method=method, layers=[1, 3], seed=2)
    k = sw * X @ X.T / 2 + sb
    for _ in range(2):
        k = (1 + s * s * sw) * k + s * s * sb
    assert_within(stats[3].kernel, k)


def test_ncsym_activation_objects_are_accepted():
    from ncsym import zoo

    spec = MLPSpec(2, 64, activation=zoo.relu, depth=2, sigma_w2=1.0)
    X = unit_inputs(0.2) * np.sqrt(2.0)
    stats = network_statistics(spec, X, 1000, layers=2, seed=3)[2]
    assert_within(stats.kernel, arccos_kernel(np.clip(X @ X.T / 2, -1, 1)))


# ---------------------------------------------------------------- sampler agreement


def ks_statistic(a, b):
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return np.max(np.abs(np.searchsorted(a, grid, "right") / a.size - np.searchsorted(b, grid, "right") / b.size))


def test_gram_and_weight_space_agree_in_distribution():
    X = np.array([[1.0, 0.0, 0.5], [0.3, 1.0, -0.2], [0.3, 1.0, -0.2]])  # includes a repeated input
    spec = MLPSpec(3, [12, 10, 8], activation=np.tanh, sigma_w2=2.0, sigma_b2=0.2)
    n = 4000
    stats = {m: network_statistics(spec, X, 5 * n, method=m, layers=[1, 3], seed=100 + i)
             for i, m in enumerate(["gram", "weights"])}
    for layer in (1, 3):
        g, w = stats["gram"][layer], stats["weights"][layer]
        for name in ("kernel", "correlation", "kernel_correlation"):
            eg, ew = getattr(g, name), getattr(w, name)
            se = np.hypot(eg.std_error, ew.std_error)
            gap = np.abs(eg.value - ew.value)
            assert np.all(gap <= Z * se + 1e-12), (layer, name, gap, se)
        for order in (2, 3, 4):
            eg, ew = g.moment(order), w.moment(order)
            assert np.all(np.abs(eg.value - ew.value) <= Z * np.hypot(eg.std_error, ew.std_error)), order
    # Whole distribution of the per-network correlation at the last layer (two-sample KS,
    # asymptotic critical value at level 1e-6).
    samples = {m: sample_preactivations(spec, X, n, method=m, seed=7 + i)[3]
               for i, m in enumerate(["gram", "weights"])}
    corr = {}
    for m, h in samples.items():
        k = np.einsum("npi,nqi->npq", h.astype(float), h.astype(float))
        corr[m] = k[:, 0, 1] / np.sqrt(k[:, 0, 0] * k[:, 1, 1])
        # the repeated input gives identical preactivations in both samplers
        np.testing.assert_allclose(h[:, 1], h[:, 2], rtol=0, atol=1e-12)
    critical = np.sqrt(-np.log(1e-6 / 2) / 2) * np.sqrt(2 / n)
    assert ks_statistic(corr["gram"], corr["weights"]) < critical


def test_forward_of_sampled_weights_reproduces_weight_space_sampler():
    spec = MLPSpec(3, [7, 5], activation=np.tanh, sigma_b2=0.1, readout=2)
    X = np.random.default_rng(0).standard_normal((9, 3))
    direct = sample_weight_space(spec, X, 13, seed=4, layers=[1, 2, 3])
    weights = sample_weights(spec, 13, seed=4)
    assert weights.weights[2].shape == (13, 2, 5)
    for layer, h in forward(weights, X, layers=[1, 2, 3]).items():
        np.testing.assert_array_equal(h, direct[layer])
    # chunks of inputs change the BLAS kernel's shape, so only rounding may differ
    for layer, h in forward(weights, X, layers=[1, 2, 3], input_chunk=4).items():
        np.testing.assert_allclose(h, direct[layer], rtol=1e-13, atol=1e-14)
    # an explicit forward pass of one network, written out
    W, b = [w[6] for w in weights.weights], [b[6] for b in weights.biases]
    h1 = X @ W[0].T + b[0]
    h3 = np.tanh(np.tanh(h1) @ W[1].T + b[1]) @ W[2].T + b[2]
    np.testing.assert_allclose(direct[3][6], h3, rtol=1e-12, atol=1e-12)
    slices = [s for s, _, bad in forward_chunks(weights, X, input_chunk=4) if not bad.any()]
    assert [(s.start, s.stop) for s in slices] == [(0, 4), (4, 8), (8, 9)]


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("method", ["gram", "weights"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_seed_is_bit_identical_for_any_chunking_and_split(method, dtype):
    spec = MLPSpec(2, 6, activation=np.tanh, depth=3, sigma_b2=0.1, dtype=dtype)
    X = unit_inputs(0.4, -0.2)
    options = dict(method=method, layers=[1, 3], seed=123, block_size=4)
    reference = sample_preactivations(spec, X, 50, chunk_size=1000, **options)
    assert reference[3].dtype == dtype
    for chunk_size in (1, 3, 8, 17):
        again = sample_preactivations(spec, X, 50, chunk_size=chunk_size, **options)
        for layer in reference:
            np.testing.assert_array_equal(again[layer], reference[layer])
    # split into uneven batches with start offsets
    parts = [sample_preactivations(spec, X, stop - start, start=start, chunk_size=5, **options)
             for start, stop in [(0, 7), (7, 30), (30, 50)]]
    np.testing.assert_array_equal(np.concatenate([p[3] for p in parts]), reference[3])
    # statistics too are bit-identical for any chunk size
    s1 = network_statistics(spec, X, 50, chunk_size=4, **options)[3]
    s2 = network_statistics(spec, X, 50, chunk_size=48, **options)[3]
    assert np.array_equal(s1.kernel.value, s2.kernel.value)
    assert np.array_equal(s1.correlation.std_error, s2.correlation.std_error)
    # and a different seed gives different networks
    other = sample_preactivations(spec, X, 50, chunk_size=1000, **{**options, "seed": 124})
    assert not np.array_equal(other[3], reference[3])


# ---------------------------------------------------------------- statistics


def test_streaming_moments_match_direct_computation():
    rng = np.random.default_rng(1)
    data = rng.standard_normal((1000, 3)) * [1.0, 2.0, 0.5] + [1.0, -1.0, 1e6]
    acc = StreamingMoments((3,), covariance=True)
    for part in np.array_split(data, [1, 2, 300, 301, 999]):
        acc.update(part)
    assert acc.count == 1000
    np.testing.assert_allclose(acc.mean, data.mean(axis=0), rtol=1e-14)
    # a mean of 1e6 over a spread of 0.5: condition number ~4e12, where naive sums of squares
    # lose every digit; the merged updates keep about eight
    np.testing.assert_allclose(acc.variance, data.var(axis=0, ddof=1), rtol=1e-8)
    np.testing.assert_allclose(acc.covariance, np.cov(data.T), rtol=1e-9, atol=1e-12)


def test_standard_error_is_honest_and_shrinks_like_inverse_sqrt_networks():
    spec = MLPSpec(2, 8, activation=np.tanh, depth=2, sigma_w2=1.5)
    X = unit_inputs(0.5)
    small = network_statistics(spec, X, 400, seed=9)[2].correlation.std_error[0, 1]
    large = network_statistics(spec, X, 6400, seed=9)[2].correlation.std_error[0, 1]
    # sqrt(16) = 4; the SE estimate itself fluctuates by roughly sqrt(kurtosis / 4N) ~ 10%
    assert 3.0 < small / large < 5.3
    # Honesty: the scatter of 60 independent estimates matches the reported errors, for the
    # mean of per-network correlations and for the delta-method ratio of mean kernels.
    values = {"correlation": [], "kernel_correlation": []}
    errors = {"correlation": [], "kernel_correlation": []}
    for rep in range(60):
        stats = network_statistics(spec, X, 200, seed=1000 + rep)[2]
        for name in values:
            est = getattr(stats, name)
            values[name].append(est.value[0, 1])
            errors[name].append(est.std_error[0, 1])
    for name in values:
        ratio = np.std(values[name], ddof=1) / np.mean(errors[name])
        assert 0.6 < ratio < 1.4, (name, ratio)  # the sd of 60 draws is known to about +-0.1 relative


def test_preactivation_statistics_against_direct_numpy():
    rng = np.random.default_rng(3)
    h = rng.standard_normal((300, 3, 5))
    stats = PreactivationStatistics(3)
    stats.update(h[:100])
    rest = PreactivationStatistics(3)
    rest.update(h[100:])
    stats.merge(rest)
    kernel = np.einsum("npi,nqi->npq", h, h) / 5
    np.testing.assert_allclose(stats.kernel.value, kernel.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.kernel.std_error, kernel.std(axis=0, ddof=1) / np.sqrt(300), rtol=1e-10)
    np.testing.assert_allclose(stats.moment(3).value, (h**3).mean(axis=(0, 2)), rtol=1e-10, atol=1e-14)
    d = np.sqrt(np.einsum("nii->ni", kernel))
    np.testing.assert_allclose(stats.correlation.value, (kernel / d[:, :, None] / d[:, None, :]).mean(axis=0))


def test_memory_stays_bounded_whatever_the_number_of_networks():
    # Scaled-down form of "1e7 networks of P=2, width 8, depth 2 in under 1 GiB".
    spec = MLPSpec(2, 8, activation=np.tanh, depth=2)
    X = unit_inputs(0.3)
    peaks = {}
    for n, chunk_size in [(10_000, 4096), (160_000, 4096), (160_000, None)]:
        tracemalloc.start()
        network_statistics(spec, X, n, layers=[1, 2], seed=0, chunk_size=chunk_size, progress=False)
        peaks[n, chunk_size] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # sixteen times the networks, the same chunk: the same memory
    assert peaks[160_000, 4096] < 1.2 * peaks[10_000, 4096] + 2**20, peaks
    # the default chunk is bounded too (a few arrays of about 2^21 elements)
    assert peaks[160_000, None] < 128 * 2**20, peaks


@pytest.mark.slow
def test_ten_million_small_networks_under_one_gib():
    spec = MLPSpec(2, 8, activation=np.tanh, depth=2)
    tracemalloc.start()
    stats = network_statistics(spec, unit_inputs(0.3), 10**7, layers=2, seed=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert stats[2].count == 10**7 and peak < 2**30


# ---------------------------------------------------------------- linear algebra


@pytest.mark.parametrize("size", [6, 40])  # vectorized pivoting / LAPACK with eigen fallback
def test_psd_factor_handles_rank_deficient_and_indefinite_rounding(size):
    rng = np.random.default_rng(4)
    A = rng.standard_normal((50, size, size // 2))
    grams = A @ A.transpose(0, 2, 1)  # rank size/2
    grams[:, -1] = grams[:, 0]
    grams[:, :, -1] = grams[:, :, 0]
    grams[0] = rng.standard_normal((size, size))
    grams[0] = grams[0] @ grams[0].T  # one full-rank matrix in the stack
    F = psd_factor(grams)
    assert np.isfinite(F).all()
    scale = np.abs(grams).max()
    np.testing.assert_allclose(F @ F.transpose(0, 2, 1), grams, atol=1e-12 * scale)
    # each factor is independent of the rest of the stack
    np.testing.assert_array_equal(psd_factor(grams[3]), F[3])
    np.testing.assert_array_equal(psd_factor(grams[:1]), F[:1])
    with pytest.raises(DomainError, match="semi-definite"):
        psd_factor(-np.eye(size))
    zero = psd_factor(np.zeros((2, 2)))
    assert np.array_equal(zero, np.zeros((2, 2)))
    assert np.isnan(psd_factor(np.array([[1.0, np.nan], [np.nan, 1.0]]))).all()


def test_nearly_identical_inputs_stay_finite_through_depth():
    X = np.array([[1.0, 0.5], [1.0, 0.5 + 1e-13], [0.2, -1.0]])
    spec = MLPSpec(2, 32, activation=np.tanh, depth=20, sigma_w2=2.5)
    for method in ("gram", "weights"):
        stats = network_statistics(spec, X, 200, method=method, layers=[20], seed=0)[20]
        assert np.isfinite(stats.correlation.value).all()
        assert abs(stats.correlation.value[0, 1] - 1) < 1e-6


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(widths=0, depth=2), "width"),
    (dict(widths=[4, -1]), "width of hidden layer 2"),
    (dict(widths=4), "depth"),
    (dict(widths=4, depth=2, sigma_w2=-1.0), "sigma_w2"),
    (dict(widths=4, depth=2, sigma_b2=float("nan")), "sigma_b2"),
    (dict(widths=4, depth=2, dtype=np.int32), "dtype"),
    (dict(widths=[4, 5], residual_scale=1.0), "residual"),
    (dict(widths=4, depth=2, activation="tanh"), "activation"),
])
def test_bad_specs_raise_domain_error(kwargs, fragment):
    kwargs = {"activation": np.tanh, **kwargs}
    with pytest.raises(DomainError, match=fragment):
        MLPSpec(2, **kwargs)


def test_bad_inputs_and_arguments_raise_domain_error():
    spec = MLPSpec(2, 4, activation=np.tanh, depth=2)
    with pytest.raises(DomainError, match="NaN"):
        sample_gram_space(spec, [[1.0, np.nan]], 10, seed=0)
    with pytest.raises(DomainError, match="shape"):
        sample_gram_space(spec, np.ones((3, 5)), 10, seed=0)
    with pytest.raises(DomainError, match="n_networks"):
        sample_gram_space(spec, np.eye(2), 0, seed=0)
    with pytest.raises(DomainError, match="layer"):
        sample_gram_space(spec, np.eye(2), 10, layers=[3], seed=0)
    with pytest.raises(DomainError, match="method"):
        sample_preactivations(spec, np.eye(2), 10, method="exact", seed=0)
    with pytest.raises(DomainError, match="seed"):
        sample_preactivations(spec, np.eye(2), 10, seed=-3)


@pytest.mark.parametrize("method", ["gram", "weights"])
def test_overflowing_activation_never_gives_silent_nan(method):
    # layer-1 preactivations of sd ~2.8: exp(exp(h)) overflows in some networks, not all
    spec = MLPSpec(2, 16, activation=lambda h: np.exp(np.exp(h)), depth=2, sigma_w2=4.0)
    X = unit_inputs(0.3) * 2
    with pytest.raises(NonFiniteError, match="inf or NaN"):
        network_statistics(spec, X, 200, method=method, seed=0)
    with pytest.warns(NonFiniteWarning, match="excluded"):
        stats = network_statistics(spec, X, 200, method=method, seed=0, nonfinite="warn")[2]
    assert 0 < stats.n_excluded < 190 and stats.count == 200 - stats.n_excluded
    assert np.isfinite(stats.kernel.value).all() and np.isfinite(stats.kernel.std_error).all()
    with pytest.raises(NonFiniteError):
        sample_preactivations(spec, X, 50, method=method, seed=0)
    with pytest.raises(NonFiniteError):
        forward(sample_weights(spec, 20, seed=0), X)


# ---------------------------------------------------------------- progress and purity


def test_progress_bar_only_when_asked_or_on_a_terminal(capsys):
    spec = MLPSpec(2, 4, activation=np.tanh, depth=1)
    sample_gram_space(spec, np.eye(2), 100, seed=0, progress=False)
    sample_gram_space(spec, np.eye(2), 100, seed=0)  # stderr is captured: not a terminal
    assert capsys.readouterr().err == ""
    pytest.importorskip("tqdm")
    sample_gram_space(spec, np.eye(2), 100, seed=0, chunk_size=10, block_size=10, progress=True)
    assert "networks" in capsys.readouterr().err


def test_shaped_relu_network_matches_reference_simulation():
    # Reference simulation of shaped-ReLU networks: n = d = 256, c_+ = 0, c_- = -1, rho_0 = 0.3: mean / sd of rho_T
    # 0.351 / 0.591 from an independent simulation of finite networks.
    n = 256
    s_plus, s_minus = 1.0, 1.0 - 1.0 / np.sqrt(n)
    c = 2 / (s_plus**2 + s_minus**2)
    spec = MLPSpec(2, n, activation=lambda h: s_plus * np.maximum(h, 0) + s_minus * np.minimum(h, 0),
                   depth=n, sigma_w2=c)
    X = unit_inputs(0.3) * np.sqrt(2 / c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = network_statistics(spec, X, 4000, seed=0, layers=n)[n]
    assert abs(stats.correlation.value[0, 1] - 0.351) < Z * stats.correlation.std_error[0, 1] + 0.01


@pytest.mark.parametrize("method", ["gram", "weights"])
def test_input_layer_variance(method):
    # Identity activation: E[K^1] = sigma_w2_input X X^T / d and E[K^2] = sigma_w2 E[K^1], exactly.
    X = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]])
    spec = MLPSpec(input_dim=3, widths=16, depth=2, activation=lambda h: h, sigma_w2=3.0, sigma_w2_input=0.5)
    stats = network_statistics(spec, X, 4000, method=method, seed=7, layers=[1, 2])
    first = 0.5 * X @ X.T / 3
    for layer, expected in ((1, first), (2, 3.0 * first)):
        k = stats[layer].kernel
        assert np.all(np.abs(k.value - expected) <= 5 * k.std_error), (layer, k.value, expected)
    with pytest.raises(DomainError):
        MLPSpec(input_dim=3, widths=4, depth=1, activation=np.tanh, sigma_w2_input=-1.0)
