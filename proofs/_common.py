"""Helpers shared by the claim modules: a correlation symbol, Taylor coefficients, Gaussian quadrature."""

from __future__ import annotations

import math
from typing import Any, Callable

import mpmath
import numpy as np
import sympy

#: The correlation symbol the claims are stated in.
R = sympy.Symbol("r", real=True)


def taylor_coefficients(expr: sympy.Expr, symbol: sympy.Symbol, n_max: int) -> list[sympy.Expr]:
    """The exact Taylor coefficients c_0..c_n_max of ``expr`` at 0 (sympy series)."""
    series = sympy.series(expr, symbol, 0, n_max + 1).removeO()
    poly = sympy.Poly(sympy.expand(series), symbol)
    return [poly.coeff_monomial(symbol**n) for n in range(n_max + 1)]


def gaussian_quad(f: Callable[[Any], Any], *, breakpoints: tuple = (0,)) -> tuple[Any, Any]:
    """E[f(z)], z ~ N(0,1), by mpmath's tanh-sinh quadrature split at ``breakpoints``:
    (value, mpmath's error estimate)."""
    points = [-mpmath.inf, *[mpmath.mpf(b) for b in breakpoints], mpmath.inf]
    return mpmath.quad(lambda z: f(z) * mpmath.npdf(z), points, error=True)


def bivariate_float(f: Callable[[np.ndarray], np.ndarray], rho: float, *, half_width: float = 10.0,
                    nodes: int = 200) -> float:
    """E[f(u) f(v)] for standard Gaussians of correlation rho, by tensor Gauss-Legendre in float64.

    Writes v = rho u + sqrt(1 - rho^2) w with (u, w) independent and integrates over the box
    [-half_width, half_width]^2 split at 0 along each axis (the Gaussian mass outside is below
    exp(-half_width^2 / 2)); an independent route from the series and closed forms.
    """
    t, weights = np.polynomial.legendre.leggauss(nodes)
    # two panels per axis, [-L, 0] and [0, L]
    grid = np.concatenate([(t - 1) * half_width / 2, (t + 1) * half_width / 2])
    w1 = np.concatenate([weights, weights]) * half_width / 2
    dens = np.exp(-grid**2 / 2) / math.sqrt(2 * math.pi)
    u = grid[:, None]
    w = grid[None, :]
    v = rho * u + math.sqrt(1 - rho * rho) * w
    integrand = f(u) * f(v) * (dens * w1)[:, None] * (dens * w1)[None, :]
    return float(integrand.sum())
