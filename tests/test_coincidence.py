"""The no-coincidence experiment: counting, baselines, dispersion, Hamming correlations.

Independent routes: a plain Python loop over inputs for the counts; closed-form Poisson and
binomial laws (math / mpmath / scipy) for the baselines; the orthant formula on each network's
hidden kernel (a different computation at the same finite width) for the dispersion; the
arc-cosine kernel and a Gauss-Hermite quadrature for the correlation map.
"""

from __future__ import annotations

import math
from fractions import Fraction
import shutil
import subprocess

import mpmath
import numpy as np
import pytest
import sympy

from ncsym.models import (
    boolean_inputs, clopper_pearson, coincidence_experiment, coincidence_spec, coincidence_sweep,
    count_all_negative, dispersion_interval, gp_dispersion, hamming_correlations, independence_baseline,
    sample_networks,
)
from ncsym.core.errors import DomainError

Z = 5.0  # tolerance in standard errors for Monte Carlo checks


def _second_moment(f) -> float:
    """E[f(z)^2] by mpmath quadrature (split at the kink 0), independent of ncsym.gaussian."""
    with mpmath.workdps(25):
        return float(mpmath.quad(lambda z: f(z) ** 2 * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf]))


TANH_M2 = _second_moment(mpmath.tanh)
RELU_M2 = 0.5
SRELU_SHIFT = 1 / math.sqrt(2 * math.pi)
SRELU_M2 = _second_moment(lambda z: max(z, 0) - SRELU_SHIFT)


def relu(x):
    return np.maximum(x, 0.0)


def srelu(x):
    return np.maximum(x, 0.0) - SRELU_SHIFT


def test_second_moments_independent_values():
    assert abs(SRELU_M2 - (0.5 - 1 / (2 * math.pi))) < 1e-12
    assert abs(TANH_M2 - 0.394294490397841) < 1e-12


# -- counting --------------------------------------------------------------------------------


def test_boolean_inputs_enumerate_the_cube():
    X = boolean_inputs(4)
    assert X.shape == (16, 4)
    assert set(np.unique(X)) == {-1.0, 1.0}
    assert len({tuple(row) for row in X}) == 16
    # index i has bit k of i at coordinate k, bit b encoded as 2b - 1
    assert X[5].tolist() == [1.0, -1.0, 1.0, -1.0]
    assert np.array_equal(boolean_inputs(4, 3, 9), X[3:9])


def _brute_force(weights, activation, n):
    """Plain Python: for each network and input, run the layers one matrix at a time."""
    layers = [w for w in weights.weights]
    counts, negatives = [], []
    for net in range(weights.n_networks):
        count, neg = 0, [0] * n
        for index in range(4**n):
            x = np.array([2 * ((index >> k) & 1) - 1 for k in range(2 * n)], dtype=float)
            a = x
            for depth, w in enumerate(layers):
                h = w[net] @ a
                a = activation(h) if depth < len(layers) - 1 else h
            count += all(v < 0 for v in a)
            for j in range(n):
                neg[j] += a[j] < 0
        counts.append(count)
        negatives.append(neg)
    return np.array(counts), np.array(negatives)


@pytest.mark.parametrize("activation, m2, n, width, depth", [
    (np.tanh, TANH_M2, 3, 7, 2),
    (relu, RELU_M2, 2, 5, 3),
    (srelu, SRELU_M2, 3, 6, 1),
])
def test_counting_matches_brute_force(activation, m2, n, width, depth):
    spec = coincidence_spec(activation, n, width, depth, second_moment=m2)
    weights = sample_networks(spec, 6, seed=11)
    expected_counts, expected_neg = _brute_force(weights, activation, n)
    for block in (None, 5):  # one block, and many small blocks
        tally = count_all_negative(spec, weights, input_block=block)
        assert np.array_equal(tally.counts, expected_counts)
        assert np.array_equal(tally.negatives, expected_neg)


def test_natural_hyperparameters_unit_preactivation_variance():
    # first layer variance 1/(2n) (so preactivations have variance 1 on +-1 inputs), later 1/(m2 width)
    n, width = 3, 16
    spec = coincidence_spec(np.tanh, n, width, 2, second_moment=TANH_M2)
    w = sample_networks(spec, 400, seed=5)
    for layer, target in ((0, 1 / (2 * n)), (1, 1 / (TANH_M2 * width)), (2, 1 / (TANH_M2 * width))):
        entries = w.weights[layer].reshape(-1)
        var = entries.var()
        # variance of a sample variance of normals: 2 sigma^4 / (N - 1)
        se = target * math.sqrt(2 / (entries.size - 1))
        assert abs(var - target) < Z * se


@pytest.mark.parametrize("method", ["weights", "gram"])
@pytest.mark.parametrize("activation, m2", [(np.tanh, TANH_M2), (relu, RELU_M2)])
def test_mean_count_is_two_to_the_n(activation, m2, method):
    # Given the hidden layers the n readouts are i.i.d. symmetric Gaussians: E[N] = 4^n 2^-n exactly.
    res = coincidence_experiment(activation, 2, 16, 2, 800, seed=3, second_moment=m2, method=method)
    assert res.method == method
    assert abs(float(res.mean.value) - 4) < Z * float(res.mean.std_error)


def test_gram_and_weights_sample_the_same_law():
    a = coincidence_experiment(relu, 2, 16, 2, 1000, seed=1, second_moment=RELU_M2, method="weights")
    b = coincidence_experiment(relu, 2, 16, 2, 1000, seed=2, second_moment=RELU_M2, method="gram")
    pa, pb = a.prob_P, b.prob_P
    assert abs(pa.value - pb.value) < Z * math.hypot(pa.std_error, pb.std_error)
    da, db = a.dispersion, b.dispersion
    assert abs(da.value - db.value) < Z * math.hypot(da.std_error, db.std_error)


def test_reproducible_and_chunk_independent():
    a = coincidence_experiment(np.tanh, 2, 8, 2, 40, seed=9, second_moment=TANH_M2, method="weights")
    b = coincidence_experiment(np.tanh, 2, 8, 2, 40, seed=9, second_moment=TANH_M2, method="weights")
    assert np.array_equal(a.counts, b.counts)
    spec = coincidence_spec(np.tanh, 2, 8, 2, second_moment=TANH_M2)
    tail = count_all_negative(spec, sample_networks(spec, 10, seed=9, start=30))
    assert np.array_equal(tail.counts, a.counts[30:])


# -- baselines and intervals -----------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_independence_baseline_formulas(n):
    base = independence_baseline(n, dps=30)
    lam = 2**n
    assert base.mean.exact == lam
    with mpmath.workdps(40):
        assert abs(base.poisson_prob_P.value - mpmath.exp(-lam)) < mpmath.mpf(10) ** -28 * mpmath.exp(-lam)
        direct = (1 - mpmath.mpf(1) / lam) ** (4**n)
        assert abs(base.binomial_prob_P.value - direct) < mpmath.mpf(10) ** -28 * direct
    assert base.binomial_dispersion.exact == 1 - sympy.Rational(1, lam)
    k = np.arange(0, 6 * lam)
    poisson = [math.exp(-lam) * float(Fraction(lam**int(i), math.factorial(int(i)))) for i in k]
    assert np.allclose(base.poisson_pmf(k), poisson, rtol=1e-11, atol=0)
    trials, p = 4**n, 1 / lam
    binom = [float(math.comb(trials, int(i)) * Fraction(1, lam) ** int(i) * Fraction(lam - 1, lam) ** (trials - int(i)))
             for i in k]
    assert np.allclose(base.binomial_pmf(k), binom, rtol=1e-10, atol=1e-300)
    full = np.arange(0, trials + 1)
    assert abs(base.binomial_pmf(full).sum() - 1) < 1e-12


def test_clopper_pearson_against_beta_quantiles():
    stats = pytest.importorskip("scipy.stats")
    for k, m in [(0, 50), (3, 50), (50, 50), (17, 1000)]:
        iv = clopper_pearson(k, m, 0.95)
        low = 0.0 if k == 0 else stats.beta.ppf(0.025, k, m - k + 1)
        high = 1.0 if k == m else stats.beta.ppf(0.975, k + 1, m - k)
        assert abs(iv.low - low) < 1e-12 and abs(iv.high - high) < 1e-12


def test_dispersion_interval_covers_known_values():
    rng = np.random.default_rng(2024)
    poisson = rng.poisson(8.0, 5000)
    for method in ("delta", "bootstrap"):
        iv = dispersion_interval(poisson, method=method, n_bootstrap=400, confidence=0.999)
        assert iv.contains(1.0), (method, iv)
    # Negative binomial with mean mu and shape r: Var/E = 1 + mu/r = 5 here.
    r, mu = 2.0, 8.0
    nb = rng.negative_binomial(r, r / (r + mu), 20000)
    delta = dispersion_interval(nb)
    assert abs(delta.value - 5.0) < Z * delta.std_error
    boot = dispersion_interval(nb, method="bootstrap", n_bootstrap=300, seed=1)
    assert abs(boot.std_error / delta.std_error - 1) < 0.3


# -- dispersion: tanh against relu -----------------------------------------------------------

# n = 2 (16 inputs), width 64, depth 3, 3000 networks. The infinite-width indices are 0.652
# (tanh; its deep limit is 1 - 2^(1-n) = 0.5, x and -x being exact negatives) and 4.61 (relu;
# deep limit 4^n - 2^n = 12). The delta-method SE of s^2/mean is about D sqrt(2/M) for
# near-Poisson counts (0.017 for tanh) and about 0.09 for relu's heavier law at M = 3000: the
# two indices differ by about 40 combined SE, so the ordering cannot flip by chance.
N_BITS, WIDTH, DEPTH, NETWORKS = 2, 64, 3, 3000


@pytest.fixture(scope="module")
def tanh_run():
    return coincidence_experiment(np.tanh, N_BITS, WIDTH, DEPTH, NETWORKS, seed=21, second_moment=TANH_M2)


@pytest.fixture(scope="module")
def relu_run():
    return coincidence_experiment(relu, N_BITS, WIDTH, DEPTH, NETWORKS, seed=22, second_moment=RELU_M2)


def test_dispersion_counts_agree_with_hidden_kernel_formula(tanh_run, relu_run):
    # Var N / E N estimated from counts vs from the orthant formula on each network's hidden
    # kernel (exact at this finite width); both estimate the same number.
    for run in (tanh_run, relu_run):
        d, h = run.dispersion, run.dispersion_given_hidden
        assert abs(d.value - h.value) < Z * math.hypot(d.std_error, h.std_error), (run.spec.name, d, h)


def test_dispersion_tanh_near_independence_relu_far(tanh_run, relu_run):
    tanh_d, relu_d = tanh_run.dispersion, relu_run.dispersion
    # tanh: order one, between the odd-activation deep limit 1 - 2^(1-n) and the Poisson value 1.
    low_limit = 1 - 2.0 ** (1 - N_BITS)
    assert low_limit - Z * tanh_d.std_error < tanh_d.value < 1 + Z * tanh_d.std_error
    # relu: overdispersed far beyond both CIs.
    assert relu_d.value - Z * relu_d.std_error > 3.0
    assert relu_d.value - Z * relu_d.std_error > tanh_d.value + Z * tanh_d.std_error
    # and P holds far more often than exp(-2^n) for relu (the net is nearly constant on inputs)
    assert relu_run.prob_P.low > 5 * tanh_run.prob_P.high


def test_hidden_formula_tends_to_infinite_width_theory():
    # The hidden-kernel estimate at width 256 against the infinite-width formula with the
    # closed-form arc-cosine map: the gap is a finite-width effect, O(depth/width); 0.1 is a
    # loose allowance for it (about 0.012 at this size).
    res = coincidence_experiment(srelu, 2, 256, 2, 800, seed=4, second_moment=SRELU_M2, method="gram")
    acos_map = lambda r: (math.sqrt(1 - r * r) + (math.pi - math.acos(r)) * r) / (2 * math.pi)
    mean = SRELU_SHIFT
    k = lambda r: acos_map(r) - mean**2  # E[(relu(u) - m)(relu(v) - m)] = k_relu(r) - m^2
    C = lambda r: k(r) / k(1.0)
    n = 2
    total = 0.0
    for h in range(2 * n + 1):
        r = 1 - h / n
        for _ in range(2):
            r = max(-1.0, min(1.0, C(r)))
        total += math.comb(2 * n, h) * (4**n * (0.25 + math.asin(r) / (2 * math.pi)) ** n - 1)
    independent = total / 2**n
    hidden = res.dispersion_given_hidden
    assert abs(hidden.value - independent) < Z * hidden.std_error + 0.1
    # gp_dispersion (through ncsym.depth) agrees with this independent evaluation
    theory = gp_dispersion("max(x, 0) - 1/sqrt(2*pi)", n, 2)
    assert abs(float(theory.value) - independent) < 1e-9


def test_gp_dispersion_relu_closed_form_and_limits():
    C = lambda r: (math.sqrt(max(0.0, 1 - r * r)) + (math.pi - math.acos(r)) * r) / math.pi
    for n, depth in [(2, 1), (3, 4)]:
        total = 0.0
        for h in range(2 * n + 1):
            r = 1 - h / n
            for _ in range(depth):
                r = min(1.0, C(r))
            total += math.comb(2 * n, h) * (4**n * (0.25 + math.asin(r) / (2 * math.pi)) ** n - 1)
        d = gp_dispersion("relu", n, depth)
        assert abs(float(d.value) - total / 2**n) < 1e-9 + float(d.error)
    # depth grows: relu tends to 4^n - 2^n (N is 0 or 4^n), and is increasing in depth
    values = [float(gp_dispersion("relu", 2, L).value) for L in (1, 5, 40)]
    assert values[0] < values[1] < values[2] < 12


def test_marginal_prediction_and_distribution(tanh_run):
    k, observed, poisson, binom = tanh_run.distribution()
    assert abs(observed.sum() - 1) < 1e-12 and len(k) == len(poisson) == len(binom)
    # Each network's marginals q_j are near 1/2 for tanh: the prediction's mean is near 2^n.
    assert abs(tanh_run.marginal.mean - 4) < 0.5
    assert 0 <= tanh_run.total_variation <= 1


# -- correlations against Hamming distance ----------------------------------------------------


def _gauss_hermite_map(f, rho, nodes=80):
    """C(rho) = E[f(u) f(v)] / E[f^2] by tensor Gauss-Hermite (accurate for smooth f)."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    u = x[:, None]
    v = rho * u + math.sqrt(max(0.0, 1 - rho * rho)) * x[None, :]
    k = (w[:, None] * w[None, :] * f(u) * f(v)).sum()
    return k / (w * f(x) ** 2).sum()


def test_hamming_depth_one_is_exact_for_any_width():
    # At depth 1 the first layer is exactly Gaussian with correlation rho_0, so the readout
    # correlation is exactly C(rho_0): no finite-width bias, only sampling error.
    hc = hamming_correlations(np.tanh, 3, 8, 1, 4000, seed=7, second_moment=TANH_M2)
    theory = np.array([_gauss_hermite_map(np.tanh, r) for r in hc.rho0])
    assert np.all(np.abs(hc.sampled.value - theory) <= Z * hc.sampled.std_error + 1e-12)


def test_hamming_against_iterated_map_within_se_and_width_bias():
    # Depth 3, width 512: the finite-width bias of the ratio of mean kernels is O(depth/width);
    # we allow depth/width (0.006) on top of 5 SE.
    depth, width = 3, 512
    hc = hamming_correlations("max(x, 0) - 1/sqrt(2*pi)", 3, width, depth, 600, seed=8)
    m = SRELU_SHIFT
    acos_map = lambda r: (math.sqrt(max(0.0, 1 - r * r)) + (math.pi - math.acos(r)) * r) / (2 * math.pi)
    C = lambda r: (acos_map(r) - m * m) / (acos_map(1.0) - m * m)
    independent = []
    for r in hc.rho0:
        for _ in range(depth):
            r = max(-1.0, min(1.0, C(r)))
        independent.append(r)
    independent = np.array(independent)
    assert np.allclose(hc.theory_values, independent, atol=1e-12)
    assert np.all(np.abs(hc.sampled.value - independent) <= Z * hc.sampled.std_error + depth / width)


# -- reports ---------------------------------------------------------------------------------


def test_tables_text_and_latex(tmp_path, tanh_run, relu_run):
    from ncsym.models import CoincidenceSweep

    sweep = CoincidenceSweep((tanh_run, relu_run))
    text = sweep.table()
    assert "tanh" in text and "relu" in text and len(text.splitlines()) == 4
    latex = sweep.latex()
    assert latex.startswith(r"\begin{tabular}") and latex.rstrip().endswith(r"\end{tabular}")
    body = [line for line in latex.splitlines() if line.endswith(r"\\")]
    assert all(line.count("&") == 10 for line in body)
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    doc = tmp_path / "t.tex"
    doc.write_text("\\documentclass{article}\\usepackage{amsmath}\\begin{document}\n" + latex
                   + "\n\n" + hamming_correlations(np.tanh, 2, 8, 1, 20, second_moment=TANH_M2).latex()
                   + "\n\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
                         cwd=tmp_path, capture_output=True, timeout=60)
    assert run.returncode == 0, run.stdout[-2000:]


def test_sweep_grid_and_latex_of_symbolic_names():
    sweep = coincidence_sweep(["relu"], 1, 4, [1, 2], 10, seed=0, theory=False)
    assert [r.spec.depth for r in sweep.results] == [1, 2]
    assert "max" in sweep.latex()


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    dict(n=0), dict(width=0), dict(depth=0), dict(n=13), dict(n=2.5), dict(width=True),
    dict(second_moment=0.0), dict(second_moment=float("nan")), dict(second_moment="abc"),
])
def test_bad_input_raises_domain_error(kwargs):
    args = dict(act=np.tanh, n=2, width=4, depth=1, second_moment=TANH_M2)
    args.update(kwargs)
    with pytest.raises(DomainError):
        coincidence_spec(args.pop("act"), args.pop("n"), args.pop("width"), args.pop("depth"), **args)


def test_bad_input_elsewhere():
    with pytest.raises(DomainError):
        coincidence_spec(np.tanh, 2, 4, 1)  # a numpy callable needs its second moment
    with pytest.raises(DomainError):
        coincidence_spec(42, 2, 4, 1, second_moment=1.0)
    with pytest.raises(DomainError):
        coincidence_experiment(np.tanh, 2, 4, 1, 2, second_moment=TANH_M2)  # too few networks
    with pytest.raises(DomainError):
        coincidence_experiment(np.tanh, 2, 4, 1, 10, second_moment=TANH_M2, method="magic")
    with pytest.raises(DomainError):
        dispersion_interval([0, 0, 0, 0])
    with pytest.raises(DomainError):
        dispersion_interval([1, 2, 3], confidence=1.5)
    with pytest.raises(DomainError):
        clopper_pearson(5, 3)
    with pytest.raises(DomainError):
        independence_baseline(0)
    spec = coincidence_spec(np.tanh, 2, 4, 1, second_moment=TANH_M2)
    other = coincidence_spec(np.tanh, 2, 5, 1, second_moment=TANH_M2)
    with pytest.raises(DomainError):
        count_all_negative(spec, sample_networks(other, 2))


def test_example_script_runs(tmp_path):
    pytest.importorskip("matplotlib")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "no_coincidence.py"
    spec = importlib.util.spec_from_file_location("no_coincidence_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "figure.png"
    assert module.main([str(out), "--n", "2", "--width", "16", "--depth", "2", "--networks", "20",
                        "--max-depth", "3"]) == str(out)
    assert out.stat().st_size > 10_000
