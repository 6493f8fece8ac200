"""Depth: variance and correlation maps, fixed points and their stability, phase
diagrams, NNGP/NTK recursions, and the zero-mean independence theorem.

Owns: ``correlation`` (the correlation map, its fixed points), ``variance`` (the variance map,
q*, chi_1, depth scale, phase diagram), ``network`` (NNGP/NTK matrices through depth),
``inputs`` and ``expectations`` (argument coercion; Gaussian moments and dual kernels at
variance q), ``independence_theorem`` (the certificate of Dunbar & Aaronson's theorem),
``figure1`` (their Figure 1 data), ``critical`` (critical points and lines: chi_1 = 1), ``phases`` (the phase diagram as data), ``deep`` (correlations through many layers, their approach law).
May import: the layers below it (``core`` through ``kernels``).
"""

from ncsym.depth.correlation import CorrelationMap, FixedPoint, correlation_map
from ncsym.depth.variance import VarianceMap, phase_diagram, variance_map
from ncsym.depth.network import NetworkKernels, network_kernels, nngp_kernel, ntk_kernel
from ncsym.depth.independence_theorem import IndependenceCertificate, independence
from ncsym.depth.figure1 import figure1_data
from ncsym.depth.critical import (
    CriticalLine, CriticalPoint, critical_conditions_latex, critical_line, critical_point,
)
from ncsym.depth.phases import PhaseDiagram, phase_data
from ncsym.depth.deep import Approach, DeepCorrelation, deep_correlation

__all__ = [
    "CorrelationMap", "FixedPoint", "VarianceMap", "NetworkKernels", "IndependenceCertificate",
    "correlation_map", "variance_map", "phase_diagram", "network_kernels", "nngp_kernel",
    "ntk_kernel", "independence", "figure1_data",
    "CriticalPoint", "CriticalLine", "critical_point", "critical_line", "critical_conditions_latex",
    "PhaseDiagram", "phase_data", "Approach", "DeepCorrelation", "deep_correlation",
]
