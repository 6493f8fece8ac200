"""The papers' models, built on the theory layers and the sampler.

Owns: the Neural Covariance SDE of shaped networks (Li, Nica & Roy 2022): ``sde_derivation``
(the exact expansions), ``sde`` (the derived SDE), ``sde_stability`` (norm explosion),
``sde_simulation`` (Euler-Maruyama paths), ``sde_networks`` (finite networks in Gram space),
``sde_crosscheck`` (networks against the SDE); deep equilibrium kernels (Gao et al. 2023):
``deq`` (kernel and contraction), ``deq_sampling`` (finite-width shared-weight networks), ``deq_definiteness`` (when K* is
positive definite), ``deq_precision`` (K* to any precision without a closed form), ``deq_limits`` (depth and
width limits against an MLP's), ``deq_tangent`` (the DEQ NTK);
``prior_kernel`` (the prior kernel of random networks, Amid et al. 2022); wide networks as a
no-coincidence baseline (Dunbar & Aaronson 2025): ``coincidence`` (networks and counts),
``coincidence_statistics`` (intervals, baselines, GP theory), ``coincidence_results`` (the
experiment, sweeps, tables), ``coincidence_finite_width`` (Var N / E N to O(1/width) and its
comparison with sampled networks).
May import: every theory layer, ``ncsym.sampler`` and ``ncsym.checks``; never ``outputs``.
"""

from ncsym.models import (coincidence as _coincidence, coincidence_results as _coincidence_results,
                          coincidence_statistics as _coincidence_statistics,
                          coincidence_finite_width as _coincidence_finite_width, deq as _deq,
                          deq_definiteness as _deq_definiteness, deq_limits as _deq_limits,
                          deq_tangent as _deq_tangent,
                          deq_precision as _deq_precision,
                          deq_sampling as _deq_sampling, prior_kernel as _nnpk, sde as _sde,
                          sde_crosscheck as _sde_crosscheck, sde_networks as _sde_networks,
                          sde_simulation as _sde_simulation, sde_stability as _sde_stability)
from ncsym.models.sde import *  # noqa: F401,F403
from ncsym.models.sde_stability import *  # noqa: F401,F403
from ncsym.models.sde_simulation import *  # noqa: F401,F403
from ncsym.models.sde_networks import *  # noqa: F401,F403
from ncsym.models.sde_crosscheck import *  # noqa: F401,F403
from ncsym.models.deq import *  # noqa: F401,F403
from ncsym.models.deq_sampling import *  # noqa: F401,F403
from ncsym.models.deq_definiteness import *  # noqa: F401,F403
from ncsym.models.deq_precision import *  # noqa: F401,F403
from ncsym.models.deq_limits import *  # noqa: F401,F403
from ncsym.models.deq_tangent import *  # noqa: F401,F403
from ncsym.models.prior_kernel import *  # noqa: F401,F403
from ncsym.models.coincidence import *  # noqa: F401,F403
from ncsym.models.coincidence_statistics import *  # noqa: F401,F403
from ncsym.models.coincidence_results import *  # noqa: F401,F403
from ncsym.models.coincidence_finite_width import *  # noqa: F401,F403

__all__ = [*_sde.__all__, *_sde_stability.__all__, *_sde_simulation.__all__, *_sde_networks.__all__,
           *_sde_crosscheck.__all__, *_deq.__all__, *_deq_sampling.__all__,
           *_deq_definiteness.__all__, *_deq_precision.__all__, *_deq_limits.__all__, *_deq_tangent.__all__, *_nnpk.__all__,
           *_coincidence.__all__, *_coincidence_statistics.__all__, *_coincidence_results.__all__,
           *_coincidence_finite_width.__all__]
