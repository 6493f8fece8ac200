"""The papers' models, built on the theory layers and the sampler.

Owns: ``sde`` and ``sde_derivation`` (the Neural Covariance SDE of shaped networks, Li, Nica &
Roy 2022), ``deq`` (deep equilibrium kernels, Gao et al. 2023), ``nnpk`` (the prior kernel of
random networks, Amid et al. 2022), ``coincidence`` (wide networks as a no-coincidence
baseline, Dunbar & Aaronson 2025).
May import: every theory layer, ``ncsym.sampler`` and ``ncsym.checks``; never ``outputs``.
"""

from ncsym.models.sde import *  # noqa: F401,F403
from ncsym.models.deq import *  # noqa: F401,F403
from ncsym.models.prior_kernel import *  # noqa: F401,F403
from ncsym.models.coincidence import *  # noqa: F401,F403
from ncsym.models import coincidence as _coincidence, deq as _deq, prior_kernel as _nnpk, sde as _sde
__all__ = [*_sde.__all__, *_deq.__all__, *_nnpk.__all__, *_coincidence.__all__]
