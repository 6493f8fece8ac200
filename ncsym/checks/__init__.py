"""Cross-checks: infinite- and finite-width theory set beside sampled networks.

Owns: ``crosscheck`` (layer-by-layer estimates, standard errors, predicted bias, verdicts).
May import: every theory layer and ``ncsym.sampler``; nothing in ``models`` or ``outputs``.
"""

from ncsym.checks.layerwise import *  # noqa: F401,F403
from ncsym.checks.layerwise import __all__
