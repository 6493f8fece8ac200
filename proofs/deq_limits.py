"""Depth and width limits commute for a DEQ and not for an MLP (Gao, Huo, Liu & Gao 2023)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import sympy

from ncsym import zoo
from ncsym.models import deq_kernel
from ncsym.models.deq_limits import depth_width_grid, relu_log_ratio_mean

NAME = "deq_limits"
TITLE = "Depth and width limits: a DEQ against an MLP"
STATEMENT = ("DEQ iteration g_{l+1} = W tanh(g_l) + U x with one shared W (sigma_w2 = 0.36, sigma_u2 = 1): width "
             "first, K_L = T^{L-1}(sigma_u2 K0) -> K*; depth first, each network settles on its fixed point and "
             "the empirical kernel K_hat concentrates on K* as the width n grows (E K_hat - K* = O(1/n), "
             "||K_hat - K*|| = O(1/sqrt n)): the two orders give K*. A relu MLP with independent weights at "
             "sigma_w2 = 2: width first, K_L has the constant diagonal q_1; depth first, log K_hat_11(L) = "
             "log q_1 + sum of L - 1 i.i.d. log R, R = (2/n) chi^2_N, N ~ Bin(n, 1/2), E R = 1, so E log R = "
             "m_n < 0 (strict Jensen) and K_hat_11 -> 0 almost surely: the orders disagree.")
STATEMENT_LATEX = (r"\[ \lim_{n}\lim_{L} \hat K^{\mathrm{DEQ}}_{n,L} = \lim_{L}\lim_{n} \hat K^{\mathrm{DEQ}}_{n,L} = K^*,"
                   r"\qquad \mathbb{E}\log \hat K^{\mathrm{MLP}}_{11}(L) = \log q_1 + (L-1)\, m_n + "
                   r"\psi(n/2) + \log(2/n),\ m_n = \mathbb{E}\log\tfrac{2}{n}\chi^2_N < 0. \]")

X = np.array([[1.0, 0.0], [0.6, 0.8]])


def run(ctx) -> None:
    quick = ctx.quick
    # -- the MLP's exact per-layer ratio: E R = 1 for every n (symbolic n)
    n, N = sympy.symbols("n N", positive=True, integer=True)
    mean_ratio = sympy.summation(sympy.binomial(n, N) * N, (N, 0, n)) * 2 / n / 2**n
    ctx.exact_equal("MLP: E R = E (2/n) chi^2_N = (2/n) E N = 1, N ~ Bin(n, 1/2), for every width n",
                    sympy.simplify(mean_ratio), 1)
    widths_mlp = (32, 64) if quick else (32, 64, 128)
    for width in widths_mlp:
        m = relu_log_ratio_mean(width, ctx.dps)
        ctx.require("numeric", f"MLP: m_{width} = E log R < 0 (strict Jensen), near -5/(2n) = {-2.5 / width:.5f}",
                    m < 0 and abs(m * width + mpmath.mpf(5) / 2) < mpmath.mpf(20) / width,
                    f"m_{width} = {mpmath.nstr(m, 12)}")
    depths = (1, 8, 32) if quick else (1, 8, 32, 128, 256)
    mlp = depth_width_grid("mlp", zoo.relu, X, widths_mlp, depths, 200 if quick else 1000, sigma_w2=2, seed=11)
    for i, width in enumerate(widths_mlp):
        m = float(relu_log_ratio_mean(width))
        shift = float(mpmath.digamma(width / 2) + mpmath.log(2 / width))
        for j, L in enumerate(depths[1:], start=1):
            theory = (L - 1) * m + shift
            ctx.sampler(f"MLP width {width}, depth {L}: E log(K_hat_11 / q_1) = (L-1) m_n + psi(n/2) + log(2/n)",
                        mlp.log_diagonal[i, j], theory, mlp.log_diagonal_se[i, j])
    ctx.require("exact", "MLP: width first the diagonal stays q_1 at every depth (relu, sigma_w2 = 2: 2 E relu^2 = 1)",
                np.allclose(mlp.reference[:, 0, 0], mlp.reference[0, 0, 0], rtol=1e-12, atol=0))
    # -- the DEQ: width first
    limit = deq_kernel(zoo.tanh, X, sigma_w2=0.36, sigma_u2=1)
    widths = (16, 64) if quick else (16, 64, 256)
    deq_depths = (1, 40, 80) if quick else (1, 40, 80, 160)
    deq = depth_width_grid("deq", zoo.tanh, X, widths, deq_depths, 300 if quick else 1000, sigma_w2=0.36, seed=12)
    gap = float(np.abs(deq.reference[-1] - limit.preactivation).max())
    ctx.numeric(f"DEQ width first: K_L at L = {deq_depths[-1]} equals K* within the contraction's bound "
                f"(rate^L)", gap, 0, limit.error + 0.6 ** deq_depths[-1])
    # -- depth first: the iteration has settled at every width (the L -> infinity limit exists) ...
    for i, width in enumerate(widths):
        settled = float(np.abs(deq.mean_kernel[i, -1] - deq.mean_kernel[i, -2]).max())
        scale = 0.01 * float(deq.mean_kernel_se[i, -1].max())
        ctx.require("numeric", f"DEQ width {width}: E K_hat moves by under 1% of its standard error between "
                    f"L = {deq_depths[-2]} and {deq_depths[-1]} (depth-first limit reached)", settled < scale,
                    f"change {settled:.2e} < {scale:.2e}")
    # ... and its kernel tends to K* as the width grows: the mean within 5 SE + the O(1/n) bias seen at the
    # smallest width, scaled by the width ratio; the spread shrinks like 1/sqrt(n)
    first_bias = float(np.abs(deq.mean_kernel[0, -1] - limit.preactivation).max())
    for i, width in enumerate(widths[1:], start=1):
        diff = deq.mean_kernel[i, -1] - limit.preactivation
        a, b = np.unravel_index(np.argmax(np.abs(diff)), diff.shape)
        ctx.sampler(f"DEQ width {width}, depth first: E K_hat_{a}{b} = K*_{a}{b} (allowance: width-{widths[0]} bias "
                    f"x {widths[0]}/{width})", deq.mean_kernel[i, -1][a, b], limit.preactivation[a, b],
                    deq.mean_kernel_se[i, -1][a, b],
                    allowance=first_bias * widths[0] / width + 5 * float(deq.mean_kernel_se[0, -1].max()) * widths[0] / width)
        scaled = deq.distance[i, -1] * math.sqrt(width / widths[0])
        ctx.sampler(f"DEQ width {width}: sqrt(n) D(n, L = {deq_depths[-1]}) matches width {widths[0]} "
                    "(D -> 0 like 1/sqrt n; allowance 30% for the O(1/sqrt n) correction)", scaled,
                    deq.distance[0, -1], math.hypot(deq.distance_se[i, -1] * math.sqrt(width / widths[0]),
                                                    deq.distance_se[0, -1]), allowance=0.3 * deq.distance[0, -1])
    # -- and the contrast in one number (log of the diagonal: the distance D is heavy-tailed for the MLP near
    # L ~ n): depth first, at the widest width, the MLP's kernel has collapsed while the DEQ's has not
    mlp_low = mlp.log_diagonal[-1, -1] + 5 * mlp.log_diagonal_se[-1, -1]
    deq_low = deq.log_diagonal[-1, -1] - 5 * deq.log_diagonal_se[-1, -1]
    ctx.require("sampler", f"contrast at L = {depths[-1]} (MLP) / {deq_depths[-1]} (DEQ), width {widths_mlp[-1]} / "
                f"{widths[-1]}: E log(K_hat_11 / K_11) + 5 SE of the MLP < that of the DEQ - 5 SE",
                mlp_low < deq_low, f"MLP {mlp.log_diagonal[-1, -1]:.3f}, DEQ {deq.log_diagonal[-1, -1]:.3f}; "
                f"D_MLP = {mlp.distance[-1, -1]:.3f}, D_DEQ = {deq.distance[-1, -1]:.3f}")
