"""The arc-cosine kernel of ReLU (Cho & Saul): closed form, Mehler series, quadrature, sampled networks."""

from __future__ import annotations

import mpmath
import sympy

from ncsym import correlation_map, crosscheck, dual_kernel, hermite_coefficients, zoo

from . import is_zero
from ._common import R, taylor_coefficients

NAME = "relu_arccos"
TITLE = "The arc-cosine kernel of ReLU"
STATEMENT = ("For (u, v) standard Gaussians of correlation rho, E[relu(u) relu(v)] = "
             "(sqrt(1 - rho^2) + (pi - arccos rho) rho)/(2 pi). Proved exactly: ncsym's closed form is this "
             "expression, and its Taylor series equals the Mehler series with the literature's coefficients "
             "a_0 = 1/sqrt(2 pi), a_1 = 1/2, a_n = He_{n-2}(0)/(sqrt(2 pi) sqrt(n!)) for n >= 2. Checked "
             "against two-dimensional quadrature and against sampled ReLU networks (one layer of the "
             "correlation map C(rho) = 2 k(rho)).")
STATEMENT_LATEX = (r"\[ \mathbb{E}[\mathrm{relu}(u)\,\mathrm{relu}(v)] = "
                   r"\frac{\sqrt{1-\rho^2} + (\pi - \arccos\rho)\,\rho}{2\pi} = \frac{1}{2\pi} + \frac{\rho}{4} + "
                   r"\sum_{n\ge 2} \frac{\mathrm{He}_{n-2}(0)^2}{2\pi\, n!}\,\rho^n. \]")


def literature_coefficient(n: int) -> sympy.Expr:
    """a_n of relu from the closed form of E[relu^(n)(z)] (a delta at 0 after two derivatives)."""
    if n == 0:
        return 1 / sympy.sqrt(2 * sympy.pi)
    if n == 1:
        return sympy.Rational(1, 2)
    return sympy.hermite_prob(n - 2, 0) / (sympy.sqrt(2 * sympy.pi) * sympy.sqrt(sympy.factorial(n)))


def run(ctx) -> None:
    kernel = dual_kernel(zoo.relu)
    stated = (sympy.sqrt(1 - R**2) + (sympy.pi - sympy.acos(R)) * R) / (2 * sympy.pi)
    ctx.exact("ncsym's closed form equals (sqrt(1-rho^2) + (pi - arccos rho) rho)/(2 pi)", kernel(R) - stated,
              formula=f"{sympy.latex(kernel(R))} = {sympy.latex(stated)}")
    ctx.exact_equal("k(1) = E[relu^2] = 1/2", stated.subs(R, 1), sympy.Rational(1, 2))
    order = 16 if ctx.quick else 30
    series = taylor_coefficients(stated, R, order)
    bad = [n for n in range(order + 1) if not is_zero(series[n] - literature_coefficient(n) ** 2)]
    ctx.require("exact", f"Taylor coefficients of the closed form = literature a_n^2, n = 0..{order}", not bad,
                "all equal" if not bad else f"differ at n = {bad}")
    engine = hermite_coefficients(zoo.relu, order, method="exact")
    bad = [n for n in range(order + 1) if not is_zero(engine[n].exact - literature_coefficient(n))]
    ctx.require("exact", f"ncsym's exact a_n (Stein recurrence) = literature a_n, n = 0..{order}", not bad,
                "all equal" if not bad else f"differ at n = {bad}")

    # high precision: the closed form at dps digits against 2-D quadrature in polar coordinates,
    # E = int_{theta in wedge} int_0^inf r^3 cos(theta) cos(theta - alpha) e^{-r^2/2} dr dtheta / (2 pi),
    # where v = cos(alpha) u + sin(alpha) w; the radial integral is done by mpmath too (not in closed form).
    rhos = (0.5, -0.3) if ctx.quick else (0.9, 0.5, 0.0, -0.3, -0.99)
    for rho in rhos:
        closed = kernel.evaluate(rho, dps=ctx.dps)
        exact_rho = sympy.Rational(str(rho))  # read as ncsym reads it: 0.3 is 3/10
        alpha = mpmath.acos(mpmath.mpf(exact_rho.p) / exact_rho.q)
        radial, radial_error = mpmath.quad(lambda r: r**3 * mpmath.exp(-r**2 / 2), [0, mpmath.inf], error=True)
        # u = r cos(theta) > 0 and v = r cos(theta - alpha) > 0: theta in (alpha - pi/2, pi/2)
        angular, angular_error = mpmath.quad(lambda t: mpmath.cos(t) * mpmath.cos(t - alpha),
                                             [alpha - mpmath.pi / 2, mpmath.pi / 2], error=True)
        reference = radial * angular / (2 * mpmath.pi)
        bound = closed.error + (radial_error * angular + angular_error * radial) / (2 * mpmath.pi) \
            + mpmath.mpf(10) ** (2 - ctx.dps)
        ctx.numeric(f"k({rho}) closed form = polar 2-D quadrature at {ctx.dps} digits", closed.value, reference, bound)

    # sampled networks: with natural hyperparameters C(rho) = k(rho)/k(1) = 2 k(rho); the O(1/width)
    # bias of the finite network is predicted by crosscheck and included in its tolerance
    check = crosscheck(zoo.relu, depth=2, width=128, networks=300 if ctx.quick else 2000,
                       rho0=[0.2, 0.7], seed=20250101)
    cmap = correlation_map(zoo.relu)
    for rho in (0.2, 0.7):
        theory, estimate, se = check.correlations(rho)
        ctx.exact_equal(f"C({rho}) = 2 k({rho}) exactly (natural hyperparameters)",
                        cmap(sympy.nsimplify(rho)), 2 * stated.subs(R, sympy.nsimplify(rho)))
        row = [r for r in check.rows if r.quantity == "correlation" and r.rho0 == rho][-1]
        ctx.sampler(f"layer-2 correlation of width-128 ReLU networks from rho0 = {rho} "
                    f"(allowance: the predicted O(1/width) bias and its remainder)",
                    row.estimate, 2 * float(kernel(rho)), row.std_error,
                    allowance=abs(row.bias) + abs(row.bias) * row.layer / check.width)
