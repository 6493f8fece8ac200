"""Dual kernels k(rho) = E[sigma(u) sigma(v)] (the NNGP correlation map of one layer).

Owns: ``dual`` (the DualKernel type and kernel matrices), ``closed_form`` (the registry of
closed-form kernel families), ``numeric`` (Mehler series and quadrature for the rest).
May import: ``ncsym.core``, ``ncsym.symbolic``, ``ncsym.gaussian``, ``ncsym.hermite_series``.
"""

from ncsym.kernels.dual import *  # noqa: F401,F403
from ncsym.kernels.dual import __all__
