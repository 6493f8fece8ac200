"""Numpy versions of the special functions activations use, without a hard scipy dependency.

scipy.special (the ``fast`` extra) is used when installed; otherwise math.erf is mapped
over the array, which is slower but exact to double precision.
"""

from __future__ import annotations

import math

import numpy as np

try:  # scipy is optional: a faster erf, same values
    from scipy.special import erf as _erf, erfc as _erfc
except ImportError:  # pragma: no cover - exercised only without the extra
    _erf_scalar = np.frompyfunc(math.erf, 1, 1)
    _erfc_scalar = np.frompyfunc(math.erfc, 1, 1)

    def _erf(values):
        return np.asarray(_erf_scalar(np.asarray(values, dtype=float)), dtype=float)

    def _erfc(values):
        return np.asarray(_erfc_scalar(np.asarray(values, dtype=float)), dtype=float)


def np_erf(values):
    """Vectorized erf.

    >>> float(np_erf(np.array([0.5]))[0])
    0.5204998778130465
    """
    return _erf(values)


def np_erfc(values):
    """Vectorized erfc."""
    return _erfc(values)


#: lambdify modules: numpy, with erf/erfc supplied here.
NUMPY_MODULES = [{"erf": np_erf, "erfc": np_erfc}, "numpy"]
