"""Normalized Hermite coefficients a_n of an activation, exact or to any precision,
many at once, with the Parseval tail.

Owns: ``coefficients`` (the public entry points), ``exact`` (recurrences), ``numeric``
(quadrature of many coefficients at once).
May import: ``ncsym.core``, ``ncsym.symbolic``, ``ncsym.gaussian``.
"""

from ncsym.hermite_series.coefficients import *  # noqa: F401,F403
from ncsym.hermite_series.coefficients import __all__
