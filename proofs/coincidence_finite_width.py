"""The no-coincidence dispersion at finite width: Var N / E N = D_oo + c / width + O(1/width^2)."""

from __future__ import annotations

import mpmath
import numpy as np
import sympy

from ncsym import compare_dispersion, finite_width_dispersion, gp_dispersion
from ncsym.models.coincidence_finite_width import _orthant_power

NAME = "coincidence_finite_width"
TITLE = "The no-coincidence dispersion to O(1/width)"
STATEMENT = ("Given the hidden layers, the n readouts on inputs x, x' are i.i.d. Gaussians with the readout "
             "layer's conditional kernel G, so Var N / E N = 2^-n sum_h binom(2n, h) (4^n E[f(R(G_h))] - 1), "
             "f(r) = (1/4 + arcsin(r)/(2 pi))^n, R(G) = G_ab / sqrt(G_aa G_bb). With E[G] = K + K1/width and "
             "Cov[G] = V/width from the multi-input 1/width theory at the readout layer, the second-order delta "
             "method gives E[f(R(G))] = f(R(K)) + (grad(f o R) . K1 + Hess(f o R) : V / 2) / width + "
             "O(1/width^2). The infinite-width part is the orthant formula over the iterated correlation map; "
             "the 1/width slope agrees with the slope fitted to sampled networks (dispersion given the hidden "
             "layers) over several widths.")
STATEMENT_LATEX = (r"\[ \frac{\mathrm{Var}\,N}{\mathbb{E}N} = 2^{-n}\sum_{h=0}^{2n}\binom{2n}{h}\Big(4^n f(R(K_h)) - 1"
                   r" + \frac{4^n}{n_w}\big[\nabla(f\circ R)\cdot K^{(1)}_h + \tfrac12 \nabla^2(f\circ R) : V_h\big]"
                   r"\Big) + O(n_w^{-2}), \quad f(r) = \Big(\frac14 + \frac{\arcsin r}{2\pi}\Big)^n. \]")


def run(ctx) -> None:
    # the orthant power and its derivatives, derived by sympy, against the module's float formulas
    r = sympy.Symbol("r", real=True)
    for n in (2, 3):
        f = (sympy.Rational(1, 4) + sympy.asin(r) / (2 * sympy.pi)) ** n
        point = sympy.Rational(3, 10)
        exact = [f.subs(r, point), sympy.diff(f, r).subs(r, point), sympy.diff(f, r, 2).subs(r, point)]
        values = _orthant_power(float(point), n)
        for k, (e, v) in enumerate(zip(exact, values)):
            ctx.numeric(f"n = {n}: d^{k}/dr^{k} (1/4 + asin(r)/(2 pi))^n at r = 3/10 (sympy) = the float formula",
                        mpmath.mpf(v), mpmath.mpf(sympy.N(e, 30)), mpmath.mpf(10) ** -13)
    # the same input (h = 0): R = 1, p(1) = 1/2, term 4^n 2^-n - 1 = 2^n - 1 exactly; an odd activation's
    # antipodal pair: R = -1, p(-1) = 0, term -1
    n_sym = sympy.Symbol("n", positive=True, integer=True)
    ctx.exact_equal("h = 0: 4^n p(1)^n - 1 = 2^n - 1",
                    4**n_sym * (sympy.Rational(1, 4) + sympy.asin(1) / (2 * sympy.pi)) ** n_sym - 1, 2**n_sym - 1)
    ctx.exact_equal("x' = -x for an odd activation: p(-1) = 1/4 + asin(-1)/(2 pi) = 0",
                    sympy.Rational(1, 4) + sympy.asin(-1) / (2 * sympy.pi), 0)
    # the infinite-width part equals the orthant formula over the iterated correlation map
    for act, n, depth in (("tanh", 2, 3), ("max(x, 0) - 1/sqrt(2*pi)", 2, 2)):
        fw = finite_width_dispersion(act, n, depth)
        gp = gp_dispersion(act, n, depth, dps=None)
        ctx.numeric(f"{act}, n = {n}, depth {depth}: the 1/n theory's K gives gp_dispersion's infinite-width value",
                    mpmath.mpf(fw.infinite_width), gp.value, gp.error + mpmath.mpf("1e-9"))
    # sampled networks: the fitted 1/width slope against the predicted one
    widths = (32, 64, 128) if ctx.quick else (64, 128, 256, 512)
    cases = [("tanh", 2, [1])] if ctx.quick else [("tanh", 2, [1, 4, 8]), ("max(x, 0) - 1/sqrt(2*pi)", 2, [1, 2, 4])]
    for act, n, depths in cases:
        cmp = compare_dispersion(act, n, widths, depths, 1500 if ctx.quick else 3000, seed=21)
        for depth in depths:
            fit, predicted = cmp.fits[depth]
            ctx.sampler(f"{act}, n = {n}, depth {depth}: fitted 1/width slope of the sampled dispersion (widths "
                        f"{', '.join(map(str, widths))}; fit s/n + r/n^2) = predicted {predicted:.4f}",
                        fit.slope, predicted, fit.slope_error)
            z_infinite = np.array([abs(row["z_infinite"]) for row in cmp.rows if row["depth"] == depth])
            ctx.require("sampler", f"{act}, depth {depth}: the infinite-width value misses every sampled width by "
                        "more than 5 SE", bool((z_infinite > 5).all()), f"min |z| = {z_infinite.min():.1f}")
    if not ctx.quick:
        cmp = compare_dispersion("tanh", 3, [128], [16], 2000, seed=22)
        row = cmp.rows[0]
        ctx.sampler("tanh, n = 3, width 128, depth 16: sampled dispersion = the 1/width prediction (allowance: the "
                    "estimated O(1/width^2) remainder)", row["sampled"], row["finite_width"], row["sampled_se"],
                    allowance=row["remainder"])
