"""The DEQ kernel is the fixed point of K = sigma_w2 V_phi(K) + sigma_u2 K0 (Gao et al. 2023)."""

from __future__ import annotations

import mpmath
import numpy as np
import sympy

from ncsym import zoo
from ncsym.models import deq_crosscheck, deq_kernel

NAME = "deq_fixed_point"
TITLE = "The deep-equilibrium kernel as a fixed point"
STATEMENT = ("A wide DEQ layer f = phi(W f + U x) (one shared W, W_ij ~ N(0, sigma_w2/n), U_ij ~ N(0, sigma_u2/n_in)) "
             "has preactivation kernel K* solving K* = sigma_w2 V_phi(K*) + sigma_u2 K0, K0 = X X^T/n_in, unique "
             "when sigma_w2 Lip(phi)^2 < 1. Linear phi: K* = sigma_u2 K0/(1 - sigma_w2) exactly. ReLU: the "
             "diagonal solves q = sigma_w2 q/2 + sigma_u2 K0_aa exactly, and the full fixed point at the "
             "working precision has a residual within its error bound under an independent evaluation of "
             "the arc-cosine kernel. Sampled DEQs approach K* at the O(1/width) rate.")
STATEMENT_LATEX = (r"\[ K^* = \sigma_w^2\, V_\phi(K^*) + \sigma_u^2 K_0, \qquad V_\phi(K)_{ab} = "
                   r"\mathbb{E}_{u\sim N(0,K)}[\phi(u_a)\phi(u_b)], \qquad \phi(x)=x:\ K^* = "
                   r"\frac{\sigma_u^2}{1-\sigma_w^2}K_0. \]")

X = np.array([[1.0, 0.0], [0.6, 0.8]])


def _arccos_mp(q1, q2, c):
    """E[relu(u) relu(v)] for variances q1, q2 and covariance c, in mpmath (Cho & Saul)."""
    s = mpmath.sqrt(q1 * q2)
    rho = c / s
    return s * (mpmath.sqrt(1 - rho**2) + (mpmath.pi - mpmath.acos(rho)) * rho) / (2 * mpmath.pi)


def run(ctx) -> None:
    w, u = sympy.Rational(1, 2), sympy.Integer(1)
    # the inputs as the exact binary numbers the float64 computation sees
    K0 = sympy.Matrix(X.tolist()).applyfunc(lambda v: sympy.Rational(float(v)))
    K0 = K0 * K0.T / K0.shape[1]
    Ks = sympy.MatrixSymbol("K", 2, 2).as_explicit()
    solution = sympy.solve(list(Ks - (w * Ks + u * K0)), list(Ks))
    exact = Ks.subs(solution)
    ctx.exact("identity: the fixed-point equation K = w K + u K0 solves to u K0/(1 - w)",
              sympy.Matrix(exact - u * K0 / (1 - w)).norm())
    linear = deq_kernel(zoo.identity, X, sigma_w2=float(w), sigma_u2=float(u))
    diff = np.abs(linear.preactivation - np.array(exact.tolist(), dtype=float)).max()
    ctx.numeric("identity: iterated K* = the exact fixed point within the iteration's bound", diff, 0,
                linear.error + 4 * np.finfo(float).eps)

    relu = deq_kernel(zoo.relu, X, sigma_w2=float(w), sigma_u2=float(u), dps=ctx.dps)
    Km, err = relu.mp_preactivation, relu.mp_error
    for a in range(2):
        q = u * K0[a, a] / (1 - w / 2)  # E[relu(sqrt(q) z)^2] = q/2
        ctx.numeric(f"relu: K*_{a}{a} = sigma_u2 K0_aa/(1 - sigma_w2/2) = {q} at {ctx.dps} digits", Km[a, a],
                    mpmath.mpf(q.p) / q.q, err + mpmath.mpf(10) ** (3 - ctx.dps))
    with mpmath.workdps(ctx.dps + 10):
        residual = abs(mpmath.mpf(w.p) / w.q * _arccos_mp(Km[0, 0], Km[1, 1], Km[0, 1])
                       + mpmath.mpf(u) * mpmath.mpf(sympy.Rational(K0[0, 1]).p) / sympy.Rational(K0[0, 1]).q
                       - Km[0, 1])
    # |T(K) - K| <= |T(K) - T(K*)| + |K* - K| <= (1 + c) err with contraction rate c < 1
    ctx.numeric("relu: off-diagonal residual |T(K*)_01 - K*_01| within (1 + c) * error bound", residual, 0,
                2 * err + mpmath.mpf(10) ** (3 - ctx.dps))
    ctx.numeric("relu: float64 K* = the high-precision fixed point", relu.preactivation[0, 1], Km[0, 1],
                relu.error + err)

    widths = [16, 64] if ctx.quick else [16, 64, 256]
    check = deq_crosscheck(zoo.tanh, X, widths, 200 if ctx.quick else 2000, sigma_w2=0.36, sigma_u2=1, seed=3)
    first, last = check.rows[0]["preactivation"], check.rows[-1]["preactivation"]
    # O(1/width) bias: the smaller width's debiased error, scaled by the width ratio, bounds the larger's
    allowance = first["debiased"] * widths[0] / widths[-1]
    ctx.sampler(f"tanh DEQs of width {widths[-1]}: relative Frobenius error of the sampled K* "
                f"(allowance: width-{widths[0]} bias scaled by 1/width)", last["value"], 0.0, last["std_error"],
                allowance=allowance + 5 * first["std_error"] * widths[0] / widths[-1])
