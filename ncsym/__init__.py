"""ncsym: exact and certified computations for wide random neural networks.

The data flow, left to right: an :class:`Activation` -> Gaussian expectations ->
Hermite coefficients -> the dual kernel -> depth maps and theorems. The Monte Carlo
sampler (:mod:`ncsym.sampler`, numpy only) stands apart; :mod:`ncsym.crosscheck` joins
theory and samples.

>>> import ncsym
>>> ncsym.activation("relu").breakpoints
(0,)
"""

from . import zoo
from .activations import Activation, activation, x
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all
from .results import Result
from .zoo import (  # noqa: F401
    abs, cos, elu, erf, exp, gelu, gelu_tanh, hard_tanh, hermite, identity, leaky_relu,
    monomial, relu, selu, shaped_relu, sigmoid, sign, silu, sin, softplus, step, tanh,
)
from .gaussian import *  # noqa: F401,F403
from .hermite import *  # noqa: F401,F403
from .kernels import *  # noqa: F401,F403
from .propagation import *  # noqa: F401,F403
from .crosscheck import *  # noqa: F401,F403
from .sde import *  # noqa: F401,F403
from .deq import *  # noqa: F401,F403
from .nnpk import *  # noqa: F401,F403
from .coincidence import *  # noqa: F401,F403
from .report import *  # noqa: F401,F403

__version__ = "0.1.0"
