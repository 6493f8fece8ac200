"""NumPy Monte Carlo sampler of random finite-width networks (no sympy inside).

Array conventions: inputs ``X`` are ``[P, input_dim]``; preactivations of layer ``l``
(1-based) for ``N`` networks are ``[N, P, width_l]``. Two samplers share one interface:

- ``method="weights"``: draws the real weights, batched across networks (``np.matmul`` on
  stacked matrices); the weights themselves come from :func:`sample_weights` and run on any
  inputs with :func:`forward` / :func:`forward_chunks`;
- ``method="gram"``: given a layer's activations ``A`` (``P x n``), the next preactivations
  have i.i.d. rows ``N(0, sigma_w2/n A A^T + sigma_b2)`` exactly, sampled through a P x P
  pivoted Cholesky factor (:func:`psd_factor`): the same law at O(n P^2) per layer.

Seeds: one random stream per block of networks and layer (numpy ``SeedSequence``), so
results do not depend on chunking. Statistics stream over networks with standard errors
(:func:`network_statistics`, :class:`PreactivationStatistics`, :class:`StreamingMoments`).
The empirical NTK of each network comes from exact Jacobians (:func:`empirical_ntk`, :func:`iter_ntk`).

>>> import numpy as np
>>> from ncsym.sampler import MLPSpec, network_statistics
>>> spec = MLPSpec(input_dim=2, widths=32, depth=3, activation=np.tanh, sigma_w2=1.5)
>>> stats = network_statistics(spec, [[1.0, 0.0], [0.0, 1.0]], 500, seed=1, layers=[1, 3])
>>> stats[3].correlation.value.shape, stats[3].count
((2, 2), 500)
"""

from .linalg import *  # noqa: F401,F403
from .linalg import __all__ as _linalg_all
from .networks import *  # noqa: F401,F403
from .networks import __all__ as _networks_all
from .ntk import *  # noqa: F401,F403
from .ntk import __all__ as _ntk_all
from .spec import *  # noqa: F401,F403
from .spec import __all__ as _spec_all
from .stats import *  # noqa: F401,F403
from .stats import __all__ as _stats_all

__all__ = [*_spec_all, *_linalg_all, *_networks_all, *_ntk_all, *_stats_all]
