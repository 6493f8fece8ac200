"""Depth: variance and correlation maps, fixed points and their stability, phase
diagrams, NNGP/NTK recursions, and the zero-mean independence theorem.

Owns: ``propagation`` (maps, fixed points, network kernels), ``independence`` (the
certificate of Dunbar & Aaronson's theorem), ``figure1`` (their Figure 1 data).
May import: the layers below it (``core`` through ``kernels``).
"""

from ncsym.depth.propagation import *  # noqa: F401,F403
from ncsym.depth.propagation import __all__
