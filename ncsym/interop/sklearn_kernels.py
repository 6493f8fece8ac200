"""The NNGP and NTK of a fully connected network as scikit-learn kernels.

:class:`NNGPKernel` and :class:`NTKKernel` are ``sklearn.gaussian_process.kernels.Kernel``
subclasses: ``GaussianProcessRegressor`` fits their hyperparameters ``sigma_w2`` and
``sigma_b2`` (weight and bias variances, optimized in log space as scikit-learn does),
``KernelRidge(kernel=...)`` takes them as a kernel, and ``clone`` copies them. Values are
:func:`ncsym.nngp_kernel` (or ``ntk_kernel``) on the stacked inputs (closed forms where the activation
has one, else the Mehler series or quadrature); the gradient with respect to the
log-hyperparameters is by central finite differences (step 1e-5 in log space; the kernel's
own error, about 1e-13 relative, is far below the difference's truncation error, ~1e-10).

Needs the ``sklearn`` extra (``pip install "ncsym[sklearn]"``).

>>> import numpy as np
>>> from ncsym.interop.sklearn_kernels import NNGPKernel
>>> kernel = NNGPKernel("relu", depth=2, sigma_w2=2.0, sigma_b2=0.1)
>>> K = kernel(np.array([[1.0, 0.0], [0.0, 1.0]]))
>>> K.shape, bool(np.allclose(K, K.T))
((2, 2), True)
>>> kernel.theta.round(4).tolist()          # log(sigma_b2), log(sigma_w2): sorted by name
[-2.3026, 0.6931]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.gaussian_process.kernels import Hyperparameter, Kernel

from ncsym.core.errors import DomainError
from ncsym.symbolic.activations import activation as _activation
from ncsym.depth import nngp_kernel, ntk_kernel

__all__ = ["NNGPKernel", "NTKKernel"]

#: Step of the central differences in log-hyperparameter space.
LOG_STEP = 1e-5


class _NetworkKernel(Kernel):
    """Shared body of the NNGP and NTK kernels; ``_which`` picks the matrix."""

    _which = "nngp"

    def __init__(self, activation: Any = "relu", depth: int = 2, sigma_w2: float = 1.0, sigma_b2: float = 0.1,
                 sigma_w2_bounds: Any = (1e-3, 1e3), sigma_b2_bounds: Any = (1e-5, 1e3)):
        # scikit-learn's convention: store the arguments untouched, check them on use.
        self.activation = activation
        self.depth = depth
        self.sigma_w2 = sigma_w2
        self.sigma_b2 = sigma_b2
        self.sigma_w2_bounds = sigma_w2_bounds
        self.sigma_b2_bounds = sigma_b2_bounds

    @property
    def hyperparameter_sigma_w2(self) -> Hyperparameter:
        return Hyperparameter("sigma_w2", "numeric", self.sigma_w2_bounds)

    @property
    def hyperparameter_sigma_b2(self) -> Hyperparameter:
        return Hyperparameter("sigma_b2", "numeric", self.sigma_b2_bounds)

    @property
    def requires_vector_input(self) -> bool:
        return True

    def is_stationary(self) -> bool:
        return False

    def _matrix(self, Z: np.ndarray, sigma_w2: float, sigma_b2: float) -> np.ndarray:
        serial = nngp_kernel if self._which == "nngp" else ntk_kernel
        return np.asarray(serial(Z, _activation(self.activation), self.depth, sigma_w2=float(sigma_w2),
                                 sigma_b2=float(sigma_b2)), dtype=float)

    def _block(self, X: np.ndarray, Y: np.ndarray | None, sigma_w2: float, sigma_b2: float) -> np.ndarray:
        if Y is None:
            return self._matrix(X, sigma_w2, sigma_b2)
        # Entry (i, j) needs only rows x_i, y_j (and their variances): the cross block of the
        # stacked inputs is K(X, Y).
        full = self._matrix(np.vstack([X, Y]), sigma_w2, sigma_b2)
        return full[: X.shape[0], X.shape[0]:]

    def __call__(self, X: Any, Y: Any = None, eval_gradient: bool = False):
        X = _as_inputs(X, "X")
        if Y is not None:
            Y = _as_inputs(Y, "Y")
            if Y.shape[1] != X.shape[1]:
                raise DomainError(f"X and Y need the same number of features, got {X.shape[1]} and {Y.shape[1]}")
            if eval_gradient:
                raise ValueError("Gradient can only be evaluated when Y is None.")
        K = self._block(X, Y, self.sigma_w2, self.sigma_b2)
        if not eval_gradient:
            return K
        free = [h.name for h in self.hyperparameters if not h.fixed]
        grad = np.empty((*K.shape, len(free)))
        for index, name in enumerate(free):
            values = {"sigma_w2": float(self.sigma_w2), "sigma_b2": float(self.sigma_b2)}
            up, down = dict(values), dict(values)
            up[name] *= np.exp(LOG_STEP)
            down[name] *= np.exp(-LOG_STEP)
            grad[..., index] = (self._block(X, None, **up) - self._block(X, None, **down)) / (2 * LOG_STEP)
        return K, grad

    def diag(self, X: Any) -> np.ndarray:
        """K(x, x) for each row (the diagonal of ``self(X)``)."""
        return np.diag(self(X)).copy()

    def __repr__(self) -> str:
        name = getattr(self.activation, "name", self.activation)
        return (f"{type(self).__name__}({name!r}, depth={self.depth}, sigma_w2={float(self.sigma_w2):.4g}, "
                f"sigma_b2={float(self.sigma_b2):.4g})")


class NNGPKernel(_NetworkKernel):
    """The NNGP kernel K^depth of an MLP with activation ``activation`` (any ncsym activation).

    ``depth`` counts weight layers (2: one hidden layer). ``sigma_w2`` and ``sigma_b2`` are
    hyperparameters with ``*_bounds`` (or ``"fixed"``; a zero bias variance must be fixed,
    its logarithm being -inf).

    >>> import numpy as np
    >>> NNGPKernel("erf", depth=3)(np.eye(3)).shape
    (3, 3)
    """

    _which = "nngp"


class NTKKernel(_NetworkKernel):
    """The neural tangent kernel Theta^depth of the same MLP (same hyperparameters).

    >>> import numpy as np
    >>> K = NTKKernel("relu", depth=2, sigma_w2=2.0, sigma_b2=0.1)(np.eye(2))
    >>> bool(K[0, 0] > NNGPKernel("relu", depth=2, sigma_w2=2.0, sigma_b2=0.1)(np.eye(2))[0, 0])
    True
    """

    _which = "ntk"


def _as_inputs(data: Any, what: str) -> np.ndarray:
    array = np.asarray(data, dtype=float)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise DomainError(f"{what} must be a non-empty 2-D array of inputs (rows), got shape {array.shape}")
    return array
