"""Correlations through 1000 layers: the cancellation-free recursion against plain iteration
(where that is accurate), against mpmath at 30 digits, and the approach laws against the literature."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy

import ncsym
from ncsym.depth.deep import deep_correlation


def erf_ordered_map():
    """An erf map with C'(1) ~ 0.958 < 1 (variance fixed at q = 1, a closed form): 1 - rho_l ~ 0.958^l."""
    return ncsym.correlation_map("erf", sigma_w2=1, sigma_b2=sympy.Rational(13, 100), q=1)


def test_ordered_phase_to_depth_1000_float_agrees_with_mpmath():
    C = erf_ordered_map()
    float_path = deep_correlation(C, 0.3, 1000)
    mp_path = deep_correlation(C, 0.3, 1000, dps=30)
    assert float_path.approach.kind == "exponential"
    assert np.isfinite(float_path.gap).all() and (float_path.gap > 0).all()
    assert float_path.gap[1000] < 1e-17  # far below what 1 - rho in float64 could hold
    for layer in (1, 10, 100, 1000):
        assert abs(float_path.gap[layer] / float(mp_path.gap[layer]) - 1) < 1e-12
    # plain float iteration of rho loses 1 - rho entirely: it stalls at rounding level
    assert 1 - C.iterate(0.3, 1000)[1000] > 1e3 * float_path.gap[1000]
    # the rate is chi_c = C'(1): independent arcsin closed form, d/drho of w asin(2 rho/3)/(pi/2) ...
    chi = 4 / (math.pi * math.sqrt(5)) / (2 / math.pi * math.asin(2 / 3) + 0.13)
    assert float(float_path.approach.rate) == pytest.approx(chi, rel=1e-12)
    ratio = float_path.gap[1000] / float_path.gap[999]
    assert ratio == pytest.approx(chi, rel=1e-9)


def test_chaotic_phase_rho_near_zero_keeps_relative_precision():
    deep = deep_correlation("erf", 0.3, 1000)  # natural erf: rho* = 0, C'(0) = 2/(3 asin(2/3))
    mp_path = deep_correlation("erf", 0.3, 1000, dps=30)
    assert deep.approach.kind == "exponential"
    assert deep.approach.rate.exact == 2 / (3 * sympy.asin(sympy.Rational(2, 3)))
    assert 0 < deep.gap[1000] < 1e-35
    assert abs(deep.gap[1000] / float(mp_path.gap[1000]) - 1) < 1e-11
    assert deep.gap[1000] / deep.gap[999] == pytest.approx(float(deep.approach.rate), rel=1e-12)


def test_relu_power_law():
    """1 - rho_l ~ (9 pi^2/2)/l^2 for ReLU with natural hyperparameters (chi_1 = 1)."""
    deep = deep_correlation("relu", 0.5, 250)
    assert deep.approach.kind == "power law" and deep.approach.exponent == 2
    assert deep.approach.constant.exact == 9 * sympy.pi**2 / 2
    # plain float iteration is accurate here (1 - rho ~ 3e-4): an independent check of the gap recursion
    plain = ncsym.correlation_map("relu").iterate(0.5, 250)
    assert np.max(np.abs((1 - plain[1:]) / deep.gap[1:] - 1)) < 1e-9
    # l^2 (1 - rho_l) creeps up to 9 pi^2/2 = 44.41 (with log l / l corrections)
    products = [deep.gap[l] * l * l for l in (50, 100, 250)]
    assert products[0] < products[1] < products[2] < 9 * math.pi**2 / 2
    assert products[2] > 0.85 * 9 * math.pi**2 / 2


def test_identity_and_bad_starts_refused():
    with pytest.raises(ncsym.DomainError):
        deep_correlation("identity", 0.5, 10)
    with pytest.raises(ncsym.DomainError):
        deep_correlation("relu", 1, 10)
