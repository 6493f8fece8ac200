"""The width-scaling cross-check: finite-width measurements, their errors and the 1/n fit.

Layer 2 is the exact anchor: given layer 1 (exactly Gaussian, variance K1), layer 2 is
N(0, G) with G = C_b + C_W/n sum_j sigma(u_j)^2, u_j i.i.d. N(0, K1), so with
s_k = E[sigma^k]_K1 every quantity is a closed form in Gaussian expectations, with no
O(1/n^2) remainder except where stated:

    E z^4 - 3 (E z^2)^2 = 3 Var G = 3 C_W^2 (s_4 - s_2^2) / n,      E z^2 = C_b + C_W s_2,
    Var K_aa = Var G + 2 E[G^2] / n = (V + 2 K^2) / n + 2 V / n^2    (V = C_W^2 (s_4 - s_2^2)),
    Var Theta_ii = (1/n) Var(lambda_W sigma^2 + C_W Theta1 chi^2 sigma'^2)   (chi^2 with 1 dof).

Monte Carlo tolerances are 4.5 SE (fixed seeds; with ~20 comparisons per test a 4.5 SE
excursion by chance has probability below 1e-4).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import ncsym
from ncsym.checks.width_scaling import fit_inverse_width, measure_width
from ncsym.core.errors import DomainError
from ncsym.sampler import MLPSpec

Z = 4.5


def _layer_two_theory(act, w2: float, b2: float, q0: float = 1.0) -> dict[str, float]:
    """Slopes at layer 2 from ncsym's Gaussian expectations (an independent route to the sampler)."""
    act = ncsym.activation(act)
    d = act.derivative()
    k1 = b2 + w2 * q0
    E = lambda *f: float(ncsym.expectation(*f, q=k1).value)  # noqa: E731
    s2, s4 = E(act, act), E(act, act, act, act)
    d2, d4, s2d2 = E(d, d), E(d, d, d, d), E(act, act, d, d)
    V = w2**2 * (s4 - s2**2)
    K = b2 + w2 * s2
    # NTK parametrization (default rates): lambda_W = C_W, lambda_b = C_b, Theta1 = K1
    ntk = w2**2 * (s4 - s2**2) + (k1 * w2) ** 2 * (3 * d4 - d2**2) + 2 * w2 * k1 * w2 * (s2d2 - s2 * d2)
    return {"V": V, "K": K, "ntk": ntk}


@pytest.mark.parametrize("act, w2, b2", [("tanh", 1.5, 0.2), ("relu", 2.0, 0.0)])
def test_layer_two_measurements_are_exact(act, w2, b2):
    th = _layer_two_theory(act, w2, b2)
    V, K = th["V"], th["K"]
    X = math.sqrt(2) * np.array([[1.0, 0.0]])
    for k, n in enumerate((16, 48)):
        spec = MLPSpec(2, n, activation=ncsym.activation(act), depth=2, sigma_w2=w2, sigma_b2=b2)
        est = measure_width(spec, X, 20000, layer=2, seed=k, kernel=K, ntk=True, ntk_networks=1500, ntk_units=16)
        exact = {"fourth_cumulant": 3 * V / n, "kernel_shift": 0.0,
                 "kernel_variance": (V + 2 * K * K) / n + 2 * V / n**2, "ntk_variance": th["ntk"] / n}
        for quantity, value in exact.items():
            e = est[quantity]
            assert abs(e.value - value) < Z * e.std_error, (act, n, quantity, e, value)
        # the errors are real: the quantities are resolved, not buried in noise
        assert est["kernel_variance"].std_error < 0.05 * exact["kernel_variance"]
        assert est["ntk_variance"].std_error < 0.05 * exact["ntk_variance"]


def test_fit_recovers_slope_and_its_error_is_calibrated():
    rng = np.random.default_rng(0)
    n = np.array([32, 64, 128, 256])
    s, r = 3.0, -20.0
    errors = 0.2 / n
    z_lin, z_quad = [], []
    for _ in range(400):
        y = s / n + r / n**2 + errors * rng.standard_normal(n.size)
        quad = fit_inverse_width(n, y, errors, quadratic=True)
        z_quad.append((quad.slope - s) / quad.slope_error)
        lin = fit_inverse_width(n, y - r / n**2, errors)
        z_lin.append((lin.slope - s) / lin.slope_error)
    for z in (np.array(z_lin), np.array(z_quad)):
        # unbiased, and z ~ N(0, 1): mean within 4.5/sqrt(400), sd within ~10%
        assert abs(z.mean()) < Z / 20 and 0.85 < z.std() < 1.15


def test_fit_infinite_width_offset_and_errors():
    n = np.array([16, 32, 64])
    fit = fit_inverse_width(n, 1.5 + 0.7 / n, np.full(3, 1e-4), infinite_width=1.5)
    assert fit.slope == pytest.approx(0.7, rel=1e-9) and fit.chi2 < 1e-12
    with pytest.raises(DomainError, match="at least 3 widths"):
        fit_inverse_width([16, 32], [0.1, 0.05], [0.01, 0.01], quadratic=True)
    with pytest.raises(DomainError, match="positive"):
        fit_inverse_width(n, [0.1, 0.05, 0.02], [0.01, 0.0, 0.01])


def test_measure_width_two_inputs_kernel_entry():
    # layer 1 is exactly Gaussian: K_ab = (1/n) sum z_i(a) z_i(b) has variance (K_aa K_bb + K_ab^2)/n
    X = math.sqrt(2) * np.array([[1.0, 0.0], [0.6, 0.8]])
    spec = MLPSpec(2, 32, activation=np.tanh, depth=1, sigma_w2=1.0)
    est = measure_width(spec, X, 20000, layer=1, seed=3, kernel=1.0)
    assert abs(est["kernel_variance_ab"].value - (1 + 0.36) / 32) < Z * est["kernel_variance_ab"].std_error
    assert abs(est["fourth_cumulant"].value) < Z * est["fourth_cumulant"].std_error
    with pytest.raises(DomainError, match="one or two inputs"):
        measure_width(spec, np.eye(2).tolist() + [[1.0, 1.0]], 10, layer=1)


# -- the whole check against the 1/n theory ------------------------------------------------------


def _theory_slopes_hand(act: str, w2: float, layer: int) -> float:
    """3 V^(l) for ReLU at sigma_w^2 = 2 from Hanin & Nica (2019): E z^4 / (3 E[z^2]^2) = 1 + 5 (l-1)/n
    to first order, K = sigma_w^2 q0 = 2 at every layer."""
    assert act == "relu" and w2 == 2
    return 3 * 5 * (layer - 1) * 2.0**2


@pytest.mark.parametrize("act, w2, b2", [("relu", 2, 0), ("tanh", 1, 0), ("relu(x) - 1/2", 2, 0)])
def test_width_scaling_single_input(act, w2, b2):
    from ncsym.checks.width_scaling import finite_width_crosscheck

    check = finite_width_crosscheck(act, depth=3, widths=(16, 32, 64, 128), networks=3000, sigma_w2=w2,
                                    sigma_b2=b2, rho0=None, ntk=False, seed=1)
    assert check.passed and check.values_passed, check.table()
    for quantity in ("fourth_cumulant", "kernel_variance"):
        fit = check.fits[quantity]
        assert abs(check.slope_z(quantity)) < Z
        # the check has power: the slope is resolved to well under 20% of its value
        assert fit.slope_error < 0.2 * abs(check.predicted_slopes[quantity])
    if act == "relu":
        assert check.predicted_slopes["fourth_cumulant"] == _theory_slopes_hand("relu", 2, 3)
    assert "fourth_cumulant" in check.table() and r"\begin{tabular}" in check.latex()


def test_width_scaling_detects_a_wrong_slope():
    from dataclasses import replace

    from ncsym.checks.width_scaling import finite_width_crosscheck

    check = finite_width_crosscheck("relu", depth=3, widths=(16, 32, 64, 128), networks=3000, sigma_w2=2,
                                    rho0=None, ntk=False, seed=2)
    wrong = replace(check, predicted_slopes={**check.predicted_slopes,
                                             "fourth_cumulant": 0.7 * check.predicted_slopes["fourth_cumulant"]})
    assert check.passed and not wrong.slope_agrees("fourth_cumulant")


@pytest.mark.slow
@pytest.mark.parametrize("act, w2, depth", [("relu", 2, 6), ("tanh", 1, 8), ("relu(x) - 1/2", 2, 6)])
def test_width_scaling_slow(act, w2, depth):
    from ncsym.checks.width_scaling import finite_width_crosscheck

    check = finite_width_crosscheck(act, depth=depth, widths=(64, 128, 256, 512), networks=20000, sigma_w2=w2,
                                    ntk_networks=300, ntk_units=32, seed=3)
    print(check.table())
    # the slopes decide; per-width values at the narrow end may carry more O(1/n^2) than the
    # estimated remainder (relu(x) - 1/2: n kappa_4 is twice its slope at width 64)
    assert check.passed, check.table()


def test_width_scaling_two_inputs_and_ntk():
    from ncsym.checks.width_scaling import finite_width_crosscheck

    check = finite_width_crosscheck("tanh", depth=3, widths=(16, 32, 64), networks=3000, sigma_w2=1.5, sigma_b2=0.1,
                                    rho0=0.5, ntk_networks=400, ntk_units=16, seed=4)
    assert set(check.fits) == {"fourth_cumulant", "kernel_shift", "kernel_variance", "kernel_variance_ab",
                               "ntk_variance"}
    assert check.passed and check.values_passed, check.table()
    for quantity in ("kernel_variance_ab", "ntk_variance"):
        assert abs(check.slope_z(quantity)) < Z
        assert check.fits[quantity].slope_error < 0.1 * check.predicted_slopes[quantity]
