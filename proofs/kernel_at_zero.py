"""k(0) = E[sigma]^2 (and k(1) = E[sigma^2]) for every zoo activation with a closed-form kernel."""

from __future__ import annotations

import mpmath
import sympy

from ncsym import dual_kernel, exact_expectation, zoo

from ._common import R, gaussian_quad

NAME = "kernel_at_zero"
TITLE = "The dual kernel at rho = 0 is the squared mean"
STATEMENT = ("Uncorrelated standard Gaussians are independent, so k(0) = E[sigma(u)] E[sigma(v)] = E[sigma]^2 "
             "(the constant term a_0^2 of the Mehler series), and k(1) = E[sigma^2]. Proved exactly for every "
             "zoo activation whose dual kernel has a closed form, by evaluating that closed form and "
             "comparing with the exact Gaussian mean and second moment; the means are also checked by "
             "one-dimensional quadrature at the working precision.")
STATEMENT_LATEX = r"\[ k(0) = \mathbb{E}[\sigma(z)]^2 = a_0^2, \qquad k(1) = \mathbb{E}[\sigma(z)^2]. \]"

#: The zoo members with closed-form kernels (families at representative parameters).
ACTIVATIONS = (zoo.relu, zoo.abs, zoo.step, zoo.sign, zoo.identity, zoo.gelu, zoo.erf, zoo.sin, zoo.cos, zoo.exp,
               zoo.leaky_relu(sympy.Rational(1, 10)), zoo.monomial(2), zoo.monomial(3), zoo.hermite(3))
QUICK = (zoo.relu, zoo.step, zoo.sign, zoo.gelu, zoo.erf, zoo.cos, zoo.exp, zoo.monomial(2))


def run(ctx) -> None:
    for act in QUICK if ctx.quick else ACTIVATIONS:
        dual = dual_kernel(act)
        if not ctx.require("exact", f"{act.name}: the dual kernel has a closed form", dual.closed_form is not None,
                           f"k(rho) = {dual.closed_form}"):
            continue
        kernel = dual(R)
        mean = exact_expectation(act)
        ctx.exact(f"{act.name}: k(0) = E[sigma]^2 = {sympy.sstr(mean**2)}", kernel.subs(R, 0) - mean**2,
                  formula=rf"k(r) = {sympy.latex(kernel)},\ k(0) = \left({sympy.latex(mean)}\right)^2")
        ctx.exact(f"{act.name}: k(1) = E[sigma^2]", kernel.subs(R, 1) - exact_expectation([act, act]))
        if not ctx.quick or act in (zoo.relu, zoo.gelu):
            f = act.mpmath()
            value, error = gaussian_quad(f, breakpoints=tuple(float(b) for b in act.breakpoints) or (0,))
            reference = mpmath.sqrt(abs(sympy.N(kernel.subs(R, 0), ctx.dps + 5)))
            ctx.numeric(f"{act.name}: |E[sigma]| by quadrature = sqrt(k(0)) at {ctx.dps} digits", abs(value),
                        mpmath.mpf(str(reference)), error + mpmath.mpf(10) ** (3 - ctx.dps))
