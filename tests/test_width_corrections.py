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
            assert a.error < 1e-12 and (a.is_exact or "estimated" in a.method)
    assert low.kernel_correction(2).exact == 0  # V^(1) = 0 makes K1^(2) exactly 0


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


# -- several inputs ----------------------------------------------------------------------------

from ncsym.width_corrections import finite_width_kernels  # noqa: E402

_X3 = np.array([[1.0, 0.0], [0.6, 0.8], [-0.3, 0.954]]) * np.sqrt(2)


@pytest.mark.parametrize("act", ["tanh", "relu", "gelu"])
def test_diagonal_entries_match_the_single_input_engine(act):
    # Two routes: central differences of kernel_matrix + Gauss-Hermite four-point moments,
    # against the expectation engine's exact/quadrature recursion for one input.
    fk = finite_width_kernels(act, [[1.0, 0.0], [0.6, 0.8]], 4, sigma_w2=2, sigma_b2=0.1)
    fw = finite_width(act, 4, sigma_w2=2, sigma_b2=0.1, q0=0.5)
    for l in range(1, 5):
        scale = float(fw.kernel(l).value) ** 2
        assert fk.kernel(l)[1, 1] == pytest.approx(float(fw.kernel(l).value), rel=1e-10)
        assert abs(fk.vertex(l)[1, 1, 1, 1] - float(fw.vertex(l).value)) < 1e-3 * scale
        assert abs(fk.kernel_correction(l)[0, 0] - float(fw.kernel_correction(l).value)) < 1e-3 * scale


def test_linear_network_vertex_is_isserlis():
    # identity activation: at layer 2, V_(ab)(cd) = sigma_w^4 Cov[u_a u_b, u_c u_d] = K_ac K_bd + K_ad K_bc
    fk = finite_width_kernels("identity", _X3, 2, sigma_w2=1)
    K = fk.kernel(1)
    expected = np.einsum("ac,bd->abcd", K, K) + np.einsum("ad,bc->abcd", K, K)
    assert np.allclose(fk.vertex(2), expected, atol=1e-10)
    assert np.allclose(fk.kernel_correction(2), 0, atol=1e-9)
    # connected four-point function of one unit: E[z^4] - 3 E[z^2]^2 = 3 V / n
    assert fk.four_point(2, 10)[0, 0, 0, 0] == pytest.approx(3 * expected[0, 0, 0, 0] / 10)


def test_empirical_kernel_covariance_against_sampled_networks():
    from ncsym.sampler import MLPSpec, iter_preactivations

    depth, width, networks = 3, 32, 4000
    fk = finite_width_kernels("tanh", _X3, depth, sigma_w2=2)
    spec = MLPSpec(input_dim=2, widths=width, depth=depth, activation=np.tanh, sigma_w2=2.0)
    ks, spread = [], []
    for _, h, _ in iter_preactivations(spec, _X3, networks, seed=4, layers=[depth]):
        z = h[depth]
        ks.append(np.einsum("mai,mbi->mab", z, z) / width)
        spread.append(np.var(z[:, 0, :] * z[:, 1, :], axis=1, ddof=1))
    ks, spread = np.concatenate(ks), np.concatenate(spread)
    predicted_spread = fk.unit_variance(depth, width)[0, 1]
    assert abs(spread.mean() - predicted_spread) < 4 * spread.std() / np.sqrt(networks) + abs(predicted_spread) * depth / width**2
    predicted = fk.kernel_covariance(depth, width)
    for a, b, c, d in [(0, 0, 0, 0), (0, 1, 0, 1), (0, 1, 1, 2), (0, 1, 0, 2)]:
        x, y = ks[:, a, b] - ks[:, a, b].mean(), ks[:, c, d] - ks[:, c, d].mean()
        cov, se = np.mean(x * y), np.std(x * y) / np.sqrt(networks)
        allowance = abs(predicted[a, b, c, d]) * depth / width
        assert abs(cov - predicted[a, b, c, d]) < 4 * se + allowance
    # the vertex term is resolved: Wishart alone (V = 0) is far off for (01)(12)
    wishart_only = predicted[0, 1, 1, 2] - fk.vertex(depth)[0, 1, 1, 2] / width
    x, y = ks[:, 0, 1] - ks[:, 0, 1].mean(), ks[:, 1, 2] - ks[:, 1, 2].mean()
    assert abs(np.mean(x * y) - wishart_only) > 5 * np.std(x * y) / np.sqrt(networks)
    r = ks[:, 0, 1] / np.sqrt(ks[:, 0, 0] * ks[:, 1, 1])
    assert abs(r.mean() - fk.correlation_mean(depth, width)[0, 1]) < 4 * r.std() / np.sqrt(networks) + 2e-3


def test_parallel_inputs_leave_the_other_pairs_alone():
    fk = finite_width_kernels("tanh", [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], 3, sigma_w2=2)
    V = fk.vertex(3)
    assert np.isnan(V[0, 1, 0, 1]) and np.isfinite(V[0, 2, 0, 2]) and np.isfinite(V[2, 2, 2, 2])
    assert np.isnan(fk.correlation_mean(3, 64)[0, 1]) and np.isfinite(fk.correlation_mean(3, 64)[0, 2])


def test_unit_variance_of_the_linear_first_layer():
    # layer 1 is exactly Gaussian: the spread of z_a z_b over units is K_aa K_bb + K_ab^2
    fk = finite_width_kernels("tanh", _X3, 1, sigma_w2=2)
    K = fk.kernel(1)
    assert np.allclose(fk.unit_variance(1, 50), np.outer(np.diag(K), np.diag(K)) + K**2)


@pytest.mark.parametrize("kwargs", [{"input_kind": "other"}, {"inputs": [[1.0, 2.0], [3.0, 1.0]], "input_kind": "kernel"},
                                    {"inputs": [1.0, 2.0]}, {"sigma_w2": -1}, {"dps": 30}])
def test_multi_input_bad_input(kwargs):
    args = {"inputs": _X3, "sigma_w2": 1, **kwargs}
    with pytest.raises(DomainError):
        finite_width_kernels("tanh", args.pop("inputs"), 2, **args)


# -- the command line --------------------------------------------------------------------------

def _cli(argv, capsys):
    from ncsym.outputs.cli import main

    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_finite_width(capsys):
    code, out, _ = _cli(["finite-width", "relu", "--sigma-w2", "2", "--depth", "4", "--width", "64", "--ntk"], capsys)
    assert code == 0
    assert "layer 4: K = 2  V = 60  K1 = 0  Theta = 8" in out and "NOT to be trusted" in out
    code, out, _ = _cli(["finite-width", "tanh", "--sigma-w2", "1", "--depth", "2", "--json", "--latex"], capsys)
    import json

    data = json.loads(out)
    assert code == 0 and data["layers"][1]["K1"]["exact"] == "0" and data["latex"].startswith(r"\begin{align*}")


@pytest.mark.parametrize("argv, code", [(["finite-width", "relu", "--sigma-w2", "-1"], 2),
                                        (["finite-width", "relu", "--sigma-w2", "__import__('os')"], 2),
                                        (["finite-width", "tanh", "--sigma-w2", "1", "--depth", "3", "--exact"], 3),
                                        (["finite-width", "relu"], 2)])
def test_cli_finite_width_errors(argv, code, capsys):
    got, _, err = _cli(argv, capsys)
    assert got == code and err.count("\n") == 1


def test_crosscheck_says_when_its_bias_is_not_to_be_trusted():
    # ReLU's vertex grows like 5 (l - 1) K^2: at depth 8, width 16, r = 35/16 is far outside.
    deep = ncsym.crosscheck("relu", depth=8, width=16, networks=100, rho0=[0.5], seed=0, progress=False)
    assert deep.effective_ratio == pytest.approx(35 / 16, rel=1e-6) and not deep.bias_trusted
    assert "NOT to be trusted" in deep.verdict
    shallow = ncsym.crosscheck("relu", depth=2, width=256, networks=100, rho0=[0.5], seed=0, progress=False)
    assert shallow.bias_trusted and "trusted" not in shallow.verdict


def test_latex_of_the_recursions_compiles(tmp_path):
    import shutil
    import subprocess
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from latex_checks import check_balanced

    body = "\n".join([finite_width("relu", 3, sigma_w2=2).latex(), finite_width("tanh", 2, sigma_w2=1).latex(),
                      ntk_fluctuations("relu", 2, sigma_w2=2).latex()])
    check_balanced(body)
    assert "5 l - 5" in body
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    tex = tmp_path / "fw.tex"
    tex.write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                   + body + "\n\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_trust_threshold_bounds_the_truncation_error_of_the_exact_relu_law():
    # ReLU at finite width: E[z^4]/(3 E[z^2]^2) - 1 = (1 + 5/n)^(l-1) - 1 exactly, against the 1/n
    # term r = 5(l-1)/n. Up to the threshold r = 0.2 the truncation is off by at most ~r/2 = 10%.
    from ncsym.width_corrections import TRUST_THRESHOLD

    for width in (16, 64, 256, 1024):
        fw = finite_width("relu", 1 + int(0.4 * width / 5) + 2, sigma_w2=2)
        for l in range(2, fw.depth + 1):
            r = fw.effective_ratio(l, width)
            exact = (1 + 5 / width) ** (l - 1) - 1
            if fw.trustworthy(l, width):
                assert (exact - r) / exact <= 0.1
            elif r >= 1.5 * TRUST_THRESHOLD and l >= 3:  # (layer 2 is linear in 1/n exactly)
                assert (exact - r) / exact > 0.1


@pytest.mark.slow
def test_sampled_relu_kurtosis_leaves_the_linear_law_past_the_threshold():
    from ncsym.sampler import MLPSpec, iter_preactivations

    width, depth, networks = 16, 9, 60000
    fw = finite_width("relu", depth, sigma_w2=2)
    spec = MLPSpec(input_dim=1, widths=width, depth=depth, activation=lambda h: np.maximum(h, 0.0), sigma_w2=2.0)
    layers = list(range(2, depth + 1))
    m4 = {l: [] for l in layers}
    for _, h, _ in iter_preactivations(spec, np.array([[1.0]]), networks, seed=21, layers=layers):
        for l in layers:
            m4[l].append((h[l][:, 0, :] ** 4).mean(1))
    for l in layers:
        x = np.concatenate(m4[l]) / 12 - 1  # E[z^4]/(3 K^2) - 1 with K = 2 exactly
        est, se = x.mean(), x.std() / np.sqrt(networks)
        r = fw.effective_ratio(l, width)
        assert abs(est - ((1 + 5 / width) ** (l - 1) - 1)) < 5 * se  # the exact law holds
        if fw.trustworthy(l, width):
            assert abs(est - r) < 0.15 * r + 5 * se  # the 1/n law is good inside the threshold
        elif r > 0.5:
            assert est - r > 5 * se  # and visibly off well beyond it
