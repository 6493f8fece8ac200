"""Theory against sampled networks: the cross-check and its finite-width bias prediction."""

import math

import numpy as np
import pytest

import ncsym
from ncsym.checks.layerwise import crosscheck, finite_width_bias
from ncsym.core.errors import DomainError


@pytest.mark.parametrize("act", ["identity", "tanh", "relu"])
@pytest.mark.parametrize("rho", [-0.7, 0.0, 0.3, 0.9])
def test_layer_one_bias_is_the_classical_sample_correlation_bias(act, rho):
    # Layer 1 rows are exactly Gaussian whatever the activation: E[r] - rho = -rho(1-rho^2)/(2n).
    n = 50
    bias = finite_width_bias(act, q=1.0, rho0=rho, depth=1, width=n, sigma_w2=1.0)[0][0]
    assert bias == pytest.approx(-rho * (1 - rho**2) / (2 * n), rel=1e-6, abs=1e-12)


def test_identity_network_has_no_bias_in_the_variance():
    # For a linear network E[G^{l+1} | G^l] = G^l exactly, so the mean variance never moves.
    biases = finite_width_bias("identity", q=1.0, rho0=0.4, depth=6, width=20, sigma_w2=1.0)
    assert all(abs(b_q) < 1e-12 for _, b_q in biases)


def test_bias_prediction_matches_narrow_networks():
    # Width 16 makes the O(1/n) bias large against the SE of 20000 networks, so this
    # tests the delta-method prediction itself, not just the infinite-width theory.
    check = crosscheck("tanh", depth=4, width=16, networks=20000, rho0=[0.6], seed=3, progress=False)
    corr = [r for r in check.rows if r.quantity == "correlation" and r.layer == 4][0]
    assert abs(corr.bias) > 5 * corr.std_error  # the bias is resolved ...
    assert abs(corr.z_theory) > 5  # ... the uncorrected theory is visibly off ...
    assert check.passed, check.table()  # ... and the corrected one agrees


@pytest.mark.parametrize("act", ["relu", "tanh", "relu(x) - 1/sqrt(2*pi)", "gelu"])
def test_theory_agrees_with_sampled_networks_up_to_depth_10(act):
    check = crosscheck(act, depth=10, width=128, networks=1500, rho0=[0.2, 0.7], seed=11, progress=False)
    assert check.passed, check.table()
    assert len([r for r in check.rows if r.quantity == "correlation"]) == 20


def test_headline_zero_mean_decorrelates_relu_aligns():
    zero_mean = crosscheck("relu(x) - 1/sqrt(2*pi)", depth=10, width=128, networks=800, rho0=[0.7], seed=5,
                           progress=False)
    relu = crosscheck("relu", depth=10, width=128, networks=800, rho0=[0.7], seed=5, progress=False)
    _, est_zero, se_zero = zero_mean.correlations(0.7)
    _, est_relu, se_relu = relu.correlations(0.7)
    assert est_zero[-1] < 0.7 - 10 * se_zero[-1]  # sampled correlations fall ...
    assert est_relu[-1] > 0.7 + 10 * se_relu[-1]  # ... or rise towards 1
    assert est_relu[-1] > 0.9


def test_report_formats():
    check = crosscheck("tanh", depth=2, width=32, networks=200, rho0=[0.5], seed=0, progress=False)
    text = check.table()
    assert "correlation" in text and "variance" in text and check.verdict in text
    latex = check.latex()
    assert latex.startswith(r"\begin{tabular}") and latex.rstrip().endswith(r"\end{tabular}")
    assert latex.count(r"\\") == len(check.rows) + 1


@pytest.mark.parametrize("kwargs", [
    {"width": 0}, {"depth": 0}, {"networks": 1}, {"rho0": [1.5]}, {"rho0": [float("nan")]},
    {"sigma_w2": -1.0}, {"z_threshold": 0},
])
def test_bad_input_is_rejected(kwargs):
    with pytest.raises(DomainError):
        crosscheck("tanh", **{"depth": 2, "width": 8, "networks": 10, **kwargs})


def test_public_name():
    assert ncsym.crosscheck is crosscheck


def test_negative_mp_correlations_keep_their_sign():
    # Regression: an mpf rho was once read through man_exp, which drops the sign.
    import mpmath

    rho = -0.5
    arc_cosine = (math.sqrt(1 - rho**2) + (math.pi - math.acos(rho)) * rho) / (2 * math.pi)
    value = ncsym.dual_kernel("relu").evaluate(mpmath.mpf(rho)).value
    assert float(value) == pytest.approx(arc_cosine, rel=1e-14)
