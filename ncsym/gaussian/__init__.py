"""Gaussian expectations E[f(sqrt(q) z + mu)] of activations and their products.

Owns: ``moments`` (the public entry points and the exact -> sympy -> numeric ->
certified cascade), ``exact`` (the closed-form engine), ``integrability`` (growth and
singularity checks), ``sympy_route`` (time-bounded sympy.integrate, tidying of closed forms),
``quadrature`` (pieces of a product, mpmath quadrature), ``certified`` (ball-arithmetic
enclosures), ``bvn`` (the bivariate normal CDF, exact and numeric), ``standardize``
(centered and normalized activations).
May import: ``ncsym.core``, ``ncsym.symbolic``.
"""

from ncsym.gaussian.moments import *  # noqa: F401,F403
from ncsym.gaussian.standardize import centered, normalized
from ncsym.gaussian import moments as _moments

__all__ = [*_moments.__all__, "centered", "normalized"]
