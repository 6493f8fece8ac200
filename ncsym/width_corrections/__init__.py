"""Finite-width corrections: the 1/n expansion of deep random networks around their
Gaussian-process limit (Yaida 2020; Roberts, Yaida & Hanin 2022, chapters 4, 5 and 8).

Owns: ``terms`` (Gaussian data of a layer map as functions of the variance, exact where the
engine is), ``single_input`` (K, the four-point vertex V and the 1/n kernel correction of one
input, the effective depth-to-width ratio and its verdict), ``multi_input`` (the same over
several inputs: the vertex V_(ab)(cd), the empirical kernel's mean and covariance, the sample
correlation's mean), ``ntk_variance`` (the mean NTK and
the O(1/n) variance of the NTK of one input).
May import: the layers below it (``core`` through ``depth``); never the sampler.
"""

from ncsym.width_corrections.single_input import FiniteWidth, TRUST_THRESHOLD, finite_width
from ncsym.width_corrections.ntk_variance import NTKFluctuations, ntk_fluctuations
from ncsym.width_corrections.multi_input import FiniteWidthKernels, finite_width_kernels

__all__ = ["FiniteWidth", "finite_width", "TRUST_THRESHOLD", "NTKFluctuations", "ntk_fluctuations",
           "FiniteWidthKernels", "finite_width_kernels"]
