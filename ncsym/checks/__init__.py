"""Cross-checks: infinite- and finite-width theory set beside sampled networks.

Owns: ``layerwise`` (``crosscheck``: layer-by-layer estimates, standard errors, predicted bias,
verdicts); ``width_scaling`` (``finite_width_crosscheck``: networks sampled at several widths
against the 1/n theory, fitted 1/n slopes with z-scores).
May import: every theory layer and ``ncsym.sampler``; nothing in ``models`` or ``outputs``.
"""

from ncsym.checks import layerwise as _layerwise, width_scaling as _width_scaling
from ncsym.checks.layerwise import *  # noqa: F401,F403
from ncsym.checks.width_scaling import *  # noqa: F401,F403

__all__ = [*_layerwise.__all__, *_width_scaling.__all__]
