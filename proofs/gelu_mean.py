"""E[gelu(z)] = 1/(2 sqrt(pi)), and the shifts that make relu and gelu zero-mean."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import sympy

import ncsym
from ncsym import exact_expectation, zoo
from ncsym.core.special import np_erfc
from ncsym.symbolic.activations import x

from ._common import gaussian_quad


def _Phi(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF in float64 (scipy's when installed; scipy is not a core dependency)."""
    return np_erfc(-z / math.sqrt(2)) / 2


NAME = "gelu_mean"
TITLE = "The mean of GELU and the zero-mean shifts of ReLU and GELU"
STATEMENT = ("With gelu(x) = x Phi(x): E[gelu(z)] = 1/(2 sqrt(pi)), by Stein's identity E[z Phi(z)] = "
             "E[phi(z)] = int phi^2 = 1/(2 sqrt(pi)); with E[relu(z)] = 1/sqrt(2 pi), the activations "
             "relu - 1/sqrt(2 pi) and gelu - 1/(2 sqrt(pi)) have mean exactly 0 (and are what "
             "ncsym.centered produces). Each step is a sympy identity; the means are checked by "
             "quadrature at the working precision and by Monte Carlo.")
STATEMENT_LATEX = (r"\[ \mathbb{E}[z\,\Phi(z)] = \mathbb{E}[\varphi(z)] = \int_{\mathbb{R}} \varphi^2 = "
                   r"\frac{1}{2\sqrt{\pi}}, \qquad \mathbb{E}\Big[\mathrm{relu}(z) - \tfrac{1}{\sqrt{2\pi}}\Big] = "
                   r"\mathbb{E}\Big[\mathrm{gelu}(z) - \tfrac{1}{2\sqrt{\pi}}\Big] = 0. \]")

GELU_MEAN = 1 / (2 * sympy.sqrt(sympy.pi))
RELU_MEAN = 1 / sympy.sqrt(2 * sympy.pi)


def run(ctx) -> None:
    phi = sympy.exp(-x**2 / 2) / sympy.sqrt(2 * sympy.pi)
    Phi = (1 + sympy.erf(x / sympy.sqrt(2))) / 2
    # Stein, step by step: x phi = -phi', Phi' = phi, boundary terms vanish, int phi^2 = 1/(2 sqrt pi)
    ctx.exact("x phi(x) = -phi'(x)", x * phi + sympy.diff(phi, x))
    ctx.exact("Phi'(x) = phi(x)", sympy.diff(Phi, x) - phi)
    ctx.exact("gelu is x Phi(x) in the zoo", zoo.gelu.expr - x * Phi)
    boundary = [sympy.limit(Phi * phi, x, s * sympy.oo) for s in (1, -1)]
    ctx.require("exact", "boundary terms Phi(x) phi(x) -> 0 at +-infinity", all(b == 0 for b in boundary),
                f"limits {boundary}")
    ctx.exact("int phi(x)^2 dx = 1/(2 sqrt(pi))", sympy.integrate(phi**2, (x, -sympy.oo, sympy.oo)) - GELU_MEAN)
    ctx.exact_equal("ncsym's exact E[gelu] = 1/(2 sqrt(pi))", exact_expectation(zoo.gelu), GELU_MEAN)
    ctx.exact_equal("ncsym's exact E[relu] = 1/sqrt(2 pi)", exact_expectation(zoo.relu), RELU_MEAN)
    for act, mean in ((zoo.relu, RELU_MEAN), (zoo.gelu, GELU_MEAN)):
        shifted = act.shifted(-mean)
        ctx.exact(f"E[{act.name} - {sympy.sstr(mean)}] = 0", exact_expectation(shifted))
        ctx.exact(f"centered({act.name}) subtracts exactly {sympy.sstr(mean)}", ncsym.centered(act).expr - shifted.expr)

    value, error = gaussian_quad(zoo.gelu.mpmath())
    reference = mpmath.mpf(1) / (2 * mpmath.sqrt(mpmath.pi))
    ctx.numeric(f"E[gelu] by quadrature = 1/(2 sqrt(pi)) at {ctx.dps} digits", value, reference,
                error + mpmath.mpf(10) ** (3 - ctx.dps))

    rng = np.random.default_rng(2025)
    z = rng.standard_normal(100_000 if ctx.quick else 2_000_000)
    for label, sample, mean in (("gelu", z * _Phi(z), float(GELU_MEAN)),
                                ("relu - 1/sqrt(2 pi)", np.maximum(z, 0) - float(RELU_MEAN), 0.0),
                                ("gelu - 1/(2 sqrt(pi))", z * _Phi(z) - float(GELU_MEAN), 0.0)):
        ctx.sampler(f"Monte Carlo mean of {label} ({z.size} fixed-seed draws)", sample.mean(), mean,
                    sample.std(ddof=1) / math.sqrt(z.size))
