"""Mehler: the Taylor coefficients of the dual kernel k(rho) = E[sigma(u) sigma(v)] are a_n^2."""

from __future__ import annotations

import mpmath
import numpy as np
import sympy

from ncsym import dual_kernel, hermite_coefficients, zoo
from ncsym.symbolic.activations import x

from . import is_zero
from ._common import R, bivariate_float, gaussian_quad, taylor_coefficients

NAME = "mehler"
TITLE = "Mehler's formula: the dual kernel's Taylor coefficients are the squared Hermite coefficients"
STATEMENT = ("For (u, v) standard Gaussians of correlation rho, k(rho) = E[sigma(u) sigma(v)] = "
             "sum_n a_n^2 rho^n with a_n = E[sigma(z) He_n(z)]/sqrt(n!). Proved exactly, coefficient by "
             "coefficient up to n = 20, for relu, erf, sin and exp (the Taylor series of the closed-form "
             "kernel against the exact Hermite coefficients); for tanh, which has no closed form, "
             "a_n is checked against E[tanh^(n)(z)]/sqrt(n!) by direct quadrature (Price's theorem: "
             "k^(n)(0) = E[sigma^(n)]^2) and the summed series against two-dimensional quadrature.")
STATEMENT_LATEX = (r"\[ k(\rho) = \mathbb{E}[\sigma(u)\sigma(v)] = \sum_{n\ge 0} a_n^2 \rho^n, \qquad "
                   r"a_n = \frac{\mathbb{E}[\sigma(z)\,\mathrm{He}_n(z)]}{\sqrt{n!}} "
                   r"= \frac{\mathbb{E}[\sigma^{(n)}(z)]}{\sqrt{n!}}. \]")

#: Activations with a closed-form kernel and exact Hermite coefficients, checked to this order.
EXACT_ACTIVATIONS = ("relu", "erf", "sin", "exp")
EXACT_ORDER = 20


def run(ctx) -> None:
    for name in EXACT_ACTIVATIONS:
        act = zoo.by_name(name)
        kernel = dual_kernel(act)
        ctx.require("exact", f"{name}: the dual kernel has a closed form", kernel.closed_form is not None,
                    str(kernel.closed_form), formula=rf"k(r) = {sympy.latex(kernel(R))}")
        series = taylor_coefficients(kernel(R), R, EXACT_ORDER)
        coefficients = hermite_coefficients(act, EXACT_ORDER, method="exact")
        mismatched = [n for n, (c, a) in enumerate(zip(series, coefficients))
                      if not is_zero(c - a.exact**2)]
        ctx.require("exact", f"{name}: [rho^n] k(rho) = a_n^2 exactly for n = 0..{EXACT_ORDER}", not mismatched,
                    "all coefficients equal" if not mismatched else f"differ at n = {mismatched}",
                    formula=r"(a_0^2, a_1^2, \ldots) = ("
                    + ", ".join(sympy.latex(a.exact**2) for a in coefficients[:5]) + r", \ldots)")
    _tanh(ctx)


def _tanh(ctx) -> None:
    dps = min(ctx.dps, 20) if ctx.quick else ctx.dps
    order = 5 if ctx.quick else 10
    with mpmath.workdps(dps):
        coefficients = hermite_coefficients(zoo.tanh, order, dps=dps)
        derivative = sympy.tanh(x)
        for n in range(order + 1):
            f = sympy.lambdify(x, derivative, "mpmath")
            value, quad_error = gaussian_quad(f)
            reference = value / mpmath.sqrt(mpmath.factorial(n))
            a = coefficients[n]
            bound = a.error + quad_error + mpmath.mpf(10) ** (3 - dps)
            ctx.numeric(f"tanh: a_{n} = E[tanh^({n})(z)]/sqrt({n}!) at {dps} digits", a.value, reference, bound)
            derivative = sympy.diff(derivative, x)
    # the whole series: k(rho) by Mehler (rigorous Parseval tail) against 2-D quadrature
    kernel = dual_kernel(zoo.tanh)
    for rho in (0.5, -0.8):
        series = kernel.evaluate(rho, dps=dps)
        quadrature = bivariate_float(np.tanh, rho, nodes=120)
        ctx.numeric(f"tanh: sum a_n^2 rho^n at rho = {rho} against 2-D Gauss-Legendre quadrature (float64)",
                    series.value, quadrature, series.error + 1e-12)
