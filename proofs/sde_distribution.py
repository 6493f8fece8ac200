"""Shaped networks' output laws match the Neural Covariance SDE's (Li, Nica & Roy 2022)."""

from __future__ import annotations

import math

import numpy as np

from ncsym.models import (finite_width_sde, ks_two_sample, sample_shaped_relu_networks, shaped_relu_sde,
                          simulate_sde)

NAME = "sde_distribution"
TITLE = "The law of the output correlation and log norm of shaped networks"
STATEMENT = ("Shaped-ReLU networks (s_+- = 1 + c_+-/sqrt n, c_+ = 0, c_- = -1, normalized weights) of width n and "
             "depth d = T n, sampled exactly in Gram space: the law of rho_T matches the SDE's, and log V_T is "
             "N(log V_0 - T, 2T) in the limit (the SDE's log-norm drift -1 and variance 2, derived "
             "symbolically). Two-sample Kolmogorov-Smirnov statistics of networks against simulated SDE paths "
             "stay below the 0.1% critical value.")
STATEMENT_LATEX = (r"\[ \rho_T^{(n)} \Rightarrow \rho_T,\ d\rho = [\nu(\rho) - \tfrac12 \rho(1-\rho^2)]dt + (1-\rho^2)dB,"
                   r"\qquad \log V_T^{(n)} \Rightarrow N(\log V_0 - T,\, 2T), \qquad "
                   r"\sup_x |F_{\mathrm{net}}(x) - F_{\mathrm{SDE}}(x)| \le c_{0.001}\sqrt{\tfrac{m+k}{mk}}. \]")

ALPHA = 1e-3


def _critical(m: int, k: int) -> float:
    """The asymptotic two-sample KS critical value at level ALPHA."""
    return math.sqrt(-math.log(ALPHA / 2) / 2) * math.sqrt((m + k) / (m * k))


def run(ctx) -> None:
    sde = shaped_relu_sde(0, -1)
    ctx.exact_equal("the SDE's log-norm drift (derived)", sde.log_norm_drift, -1)
    ctx.exact_equal("the SDE's log-norm variance rate (derived)", sde.log_norm_variance, 2)
    configs = ((32, 1.0, 0.3),) if ctx.quick else ((64, 1.0, 0.3), (128, 1.0, 0.3), (128, 0.5, -0.5))
    networks, paths = (800, 4000) if ctx.quick else (4000, 20000)
    for index, (n, T, rho0) in enumerate(configs):
        depth = int(round(T * n))
        net = sample_shaped_relu_networks(0, -1, n, depth, rho0, networks, seed=100 + index)
        steps = max(16, int(256 * T))
        limit = simulate_sde(sde, rho0, T, n_steps=steps, n_paths=paths, seed=200 + index)
        finite = simulate_sde(finite_width_sde(sde, n), rho0, T, n_steps=steps, n_paths=paths, seed=300 + index)
        gauss = np.random.default_rng(400 + index).normal(-T, math.sqrt(2 * T), paths)
        where = f"n = {n}, d = {depth}, rho_0 = {rho0}"
        for label, a, b in (("rho_T, networks vs the SDE with the width-n drift", net.rho, finite.rho[:, -1]),
                            ("rho_T, networks vs the limiting SDE", net.rho, limit.rho[:, -1]),
                            ("log V_T, networks vs N(-T, 2T)", net.log_norms[:, 0], gauss)):
            d, p = ks_two_sample(a, b)
            critical = _critical(a.size, b.size)
            ctx.require("sampler", f"KS {label} ({where}): D below the {ALPHA:g} critical value", d <= critical,
                        f"D = {d:.4f}, critical {critical:.4f}, p = {p:.3g}")
