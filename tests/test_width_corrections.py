"""Finite-width (1/n) theory: exact cases against exact finite-width moments, numeric cases
against the sampler and against a second route (derivatives of the activation)."""

import mpmath
import numpy as np
import pytest
import sympy

import ncsym
from ncsym.core.errors import DomainError
from ncsym.gaussian.moments import expectation
from ncsym.width_corrections import finite_width

n = sympy.Symbol("n", positive=True)


def _exact_finite_width_square(act, depth, w, q0=1):
    """E[G^(l)^2] / E[G^(l)]^2 at finite n for a scale-invariant activation with no bias, exactly.

    Given G, the n units are i.i.d. N(0, G): E[G'^2 | G] = w^2/n^2 (n m4 + n(n-1) m2^2) with
    m_k = E[sigma(u)^k] = c_k G^(k/2) for homogeneous sigma, so E[G'^2] is c E[G^2] with c
    exact in n: no expansion at all."""
    G = sympy.Symbol("G", positive=True)
    m2 = expectation(act, act, q=G).exact
    m4 = expectation(act, act, act, act, q=G).exact
    step = sympy.simplify(w**2 * (n * m4 + n * (n - 1) * m2**2) / n**2 / (w * m2) ** 2)  # ratio growth per layer
    return [sympy.simplify(step ** (l - 1)) for l in range(1, depth + 1)]


@pytest.mark.parametrize("act, w", [("relu", 2), ("relu", 1), ("identity", 1), ("leaky_relu", 3)])
def test_vertex_is_the_1_over_n_coefficient_of_the_exact_finite_width_moment(act, w):
    # E[z^4] / (3 E[z^2]^2) = E[G^2]/E[G]^2 = 1 + V/(n K^2) + O(1/n^2), and E[G] is exact at
    # every width for these (g is linear in K), so K1 = 0.
    fw = finite_width(act, 5, sigma_w2=w)
    for l, ratio in enumerate(_exact_finite_width_square(act, 5, w), start=1):
        coefficient = sympy.limit((ratio - 1) * n, n, sympy.oo)
        assert fw.normalized_vertex(l).exact == coefficient
        assert fw.kernel_correction(l).exact == 0


def test_relu_vertex_closed_form():
    fw = finite_width("relu", 6, sigma_w2=2, q0=sympy.Rational(3, 2))
    assert [fw.vertex(l).exact for l in range(1, 7)] == [5 * (l - 1) * 9 for l in range(1, 7)]
    assert fw.kernel(6).exact == 3 and fw.vertex(1).exact == 0


def test_chi_parallel_agrees_with_the_derivative_route():
    # chi_par = sigma_w2 <sigma'^2 + sigma sigma''> (Gaussian derivatives of sigma) against the
    # heat-equation weight sigma_w2 E[sigma^2 (z^2 - 1)] / (2K) the recursion uses.
    fw = finite_width("tanh", 3, sigma_w2=sympy.Rational(3, 2), dps=25)
    tanh = ncsym.activation("tanh")
    d1, d2 = tanh.derivative(), tanh.derivative(2)
    for l in (1, 2, 3):
        q = sympy.Float(fw.kernel(l).value, 40)
        with mpmath.workdps(30):
            direct = 1.5 * (expectation(d1, d1, q=q, dps=25).value + expectation(tanh, d2, q=q, dps=25).value)
            assert abs(fw.chi_parallel(l).value - direct) < 1e-20


def test_numeric_error_estimates_cover_a_higher_precision_run():
    low, high = finite_width("tanh", 5, sigma_w2=2, dps=15), finite_width("tanh", 5, sigma_w2=2, dps=30)
    for l in range(2, 6):
        for name in ("kernel", "vertex", "kernel_correction"):
            a, b = getattr(low, name)(l), getattr(high, name)(l)
            assert abs(a.value - b.value) <= a.error + b.error
            assert a.error < 1e-12 and "estimated" in a.method


def test_erf_kernel_stays_exact_while_its_vertex_is_numeric():
    fw = finite_width("erf", 3, sigma_w2=2, dps=20)
    assert fw.kernel(3).is_exact and fw.kernel(3).exact.has(sympy.asin)
    assert not fw.vertex(3).is_exact and fw.vertex(3).error < 1e-18


def test_tanh_against_sampled_networks():
    # Fixed seed; tolerance 4 SE plus the O(1/n^2) remainder |1/n term| * depth / n.
    from ncsym.sampler import MLPSpec, iter_preactivations

    depth, width, networks = 3, 32, 6000
    fw = finite_width("tanh", depth, sigma_w2=2)
    spec = MLPSpec(input_dim=1, widths=width, depth=depth, activation=np.tanh, sigma_w2=2.0)
    m2, m4 = [], []
    for _, h, _ in iter_preactivations(spec, np.array([[1.0]]), networks, seed=7, layers=[depth]):
        z = h[depth][:, 0, :]
        m2.append((z**2).mean(1))
        m4.append((z**4).mean(1))
    m2, m4 = np.concatenate(m2), np.concatenate(m4)
    cov = np.cov(np.stack([m2, m4])) / networks
    c4 = m4.mean() - 3 * m2.mean() ** 2
    se4 = float(np.sqrt(np.array([-6 * m2.mean(), 1.0]) @ cov @ np.array([-6 * m2.mean(), 1.0])))
    predicted = fw.fourth_cumulant(depth, width)
    assert abs(c4 - predicted) < 4 * se4 + abs(predicted) * depth / width
    assert c4 > 5 * se4  # the cumulant itself is resolved: the test can fail on a wrong V


def test_trust_verdict_follows_the_effective_ratio():
    fw = finite_width("relu", 10, sigma_w2=2)
    assert fw.effective_ratio(10, 1000) == pytest.approx(45 / 1000)
    assert fw.trustworthy(10, 1000) and not fw.trustworthy(10, 100)
    assert "NOT" in fw.verdict(10, 100) and "applies" in fw.verdict(10, 1000)


def test_outputs():
    fw = finite_width("relu", 3, sigma_w2=2)
    assert "V/K^2" in fw.table(64) and fw.table().count("\n") == 5
    latex = fw.latex()
    assert latex.startswith(r"\begin{align*}") and r"\chi_\parallel" in latex and "V^{(3)} &= 40" in latex


@pytest.mark.parametrize("kwargs", [{"depth": 0}, {"sigma_w2": -1}, {"sigma_w2": 0}, {"sigma_b2": -0.5},
                                    {"q0": 0}, {"sigma_w2": float("nan")}, {"dps": 0}])
def test_bad_input(kwargs):
    args = {"depth": 2, "sigma_w2": 1, **kwargs}
    with pytest.raises(DomainError):
        finite_width("tanh", args.pop("depth"), **args)


def test_layer_out_of_range():
    fw = finite_width("relu", 2, sigma_w2=2)
    with pytest.raises(DomainError):
        fw.vertex(3)


def test_public_names():
    assert ncsym.finite_width is finite_width and "finite_width" in ncsym.__all__


# -- the NTK at finite width ------------------------------------------------------------------

from ncsym.width_corrections import ntk_fluctuations  # noqa: E402


@pytest.mark.parametrize("act, w, b", [("tanh", 2, 0.1), ("relu", 2, 0), ("erf", 1.5, 0.2)])
def test_ntk_mean_is_the_infinite_width_ntk(act, w, b):
    nf = ntk_fluctuations(act, 4, sigma_w2=w, sigma_b2=b)
    reference = ncsym.ntk_kernel(np.array([[1.0]]), act, 4, sigma_w2=w, sigma_b2=b)
    assert float(nf.mean(4).value) == pytest.approx(float(reference[0, 0]), rel=1e-10)


def test_ntk_variance_of_a_linear_network():
    # Layer 2 of a linear network by hand: Theta_ii = |z|^2/n + |W_i|^2 K with z_k i.i.d. N(0, K)
    # and n |W_i|^2 ~ chi^2_n: n Var = 2K^2 + 2K^2 (K = 1 here).
    nf = ntk_fluctuations("identity", 3, sigma_w2=1)
    assert nf.variance(2).exact == 4 and nf.variance(1).exact == 0
    assert nf.components(2)["V"].exact == 2  # the vertex of the same recursion


def test_ntk_vertex_matches_finite_width():
    nf, fw = ntk_fluctuations("tanh", 4, sigma_w2=2), finite_width("tanh", 4, sigma_w2=2)
    assert abs(nf.components(4)["V"].value - fw.vertex(4).value) < 1e-12


def test_ntk_variance_against_sampled_networks():
    from ncsym.sampler import MLPSpec, iter_ntk

    depth, width, networks = 3, 32, 3000
    nf = ntk_fluctuations("tanh", depth, sigma_w2=2, sigma_b2=0.1)
    spec = MLPSpec(input_dim=1, widths=width, depth=depth, activation=ncsym.activation("tanh"),
                   sigma_w2=2.0, sigma_b2=0.1)
    t1, t2 = [], []
    for _, theta in iter_ntk(spec, [[1.0]], networks, seed=5, units=4):
        t = theta[:, :, 0, 0]
        t1.append(t.mean(1))
        t2.append((t**2).mean(1))
    t1, t2 = np.concatenate(t1), np.concatenate(t2)
    # Var[Theta_ii] = E[mean t^2] - E[mean t]^2; delta-method SE over networks
    var = t2.mean() - t1.mean() ** 2
    grad = np.array([-2 * t1.mean(), 1.0])
    se = float(np.sqrt(grad @ np.cov(np.stack([t1, t2])) @ grad / networks))
    predicted = float(nf.variance(depth).value) / width
    assert abs(var - predicted) < 4 * se + predicted * depth / width
    assert abs(var - float(nf.components(depth)["A_T"].value) / width) > 4 * se  # B matters: the test can fail


def test_ntk_refuses_jumping_activations():
    with pytest.raises(DomainError):
        ntk_fluctuations("step", 2, sigma_w2=1)
