"""NNGP and NTK matrices of a fully connected network, layer by layer (float64 or mpmath).

>>> import numpy as np
>>> nngp_kernel(np.eye(2), "relu", 2, sigma_w2=2).round(4).tolist()
[[1.0, 0.3183], [0.3183, 1.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np

from ncsym.core.numbers import check_real
from ncsym.core.errors import DomainError, check_integer
from ncsym.core.results import GUARD_DIGITS, Result, working_dps
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.core.timebound import budgeted
from ncsym.depth.inputs import _binary_rational, _exact_parameter, _mpf_of
from ncsym.depth.network_float import float_network_kernels
from ncsym.symbolic.activations import Activation, activation, exact_number

__all__ = ["NetworkKernels", "network_kernels", "nngp_kernel", "ntk_kernel"]

@dataclass(frozen=True)
class NetworkKernels:
    """NNGP (K) and NTK (Theta) matrices of a fully connected network, layer by layer.

    ``nngp_layers[l - 1]`` is K^l, the covariance of the preactivations of weight layer l
    (K^1 = sigma_w2 X X^T/d + sigma_b2); ``ntk_layers[l - 1]`` is Theta^l. Float64 numpy
    arrays, or mpmath matrices when ``dps`` is set; then ``errors`` holds, per layer, the
    largest change of any entry between two runs at ``dps`` + 10 and ``dps`` + 20 working
    digits (an error estimate, not a proof). For an activation that jumps (sign, step) the
    NTK does not exist: ``ntk_layers`` is None and :attr:`ntk` raises, saying why.
    """

    nngp_layers: tuple
    ntk_layers: tuple | None
    dps: int | None = None
    errors: tuple | None = None
    activation_name: str = ""

    @property
    def nngp(self) -> Any:
        """K^L, the NNGP kernel of the output."""
        return self.nngp_layers[-1]

    @property
    def ntk(self) -> Any:
        """Theta^L, the NTK of the output."""
        if self.ntk_layers is None:
            raise DomainError(_no_ntk_reason(self.activation_name))
        return self.ntk_layers[-1]


def _no_ntk_reason(name: str) -> str:
    return (f"{name} jumps, so its derivative contains a Dirac delta: E[sigma'(u) sigma'(v)] is infinite "
            "on the diagonal and the NTK does not exist (the NNGP kernel does)")


def _per_layer(value: Any, name: str, depth: int, *, positive: bool) -> list[Result]:
    """One exact-or-numeric parameter per weight layer from a scalar or a sequence of ``depth``."""
    if isinstance(value, (list, tuple, np.ndarray)):
        values = list(value)
        if len(values) != depth:
            raise DomainError(f"{name} as a sequence needs one value per weight layer ({depth}), got {len(values)}")
        return [_exact_parameter(v, name, positive=positive) for v in values]
    return [_exact_parameter(value, name, positive=positive)] * depth


def _jumps(act: Activation) -> bool:
    return bool(act.derivative().deltas)


@budgeted
def network_kernels(X: Any, act: Any, depth: int, *, sigma_w2: Any = 1, sigma_b2: Any = 0,
                    dps: int | None = None, layers: str = "all", dtype: Any = np.float64,
                    block: int | None = None, ntk: bool = True) -> NetworkKernels:
    """NNGP and NTK of a depth-``depth`` fully connected network on the rows of ``X``.

    K^1 = sigma_w2 X X^T/d + sigma_b2, K^{l+1} = sigma_w2 V(K^l) + sigma_b2,
    Theta^1 = K^1, Theta^{l+1} = K^{l+1} + sigma_w2 Vdot(K^l) * Theta^l (entrywise), with
    V(K)_ij = E[sigma(u_i) sigma(u_j)], Vdot(K)_ij = E[sigma'(u_i) sigma'(u_j)], u ~ N(0, K).
    ``depth`` counts weight layers (depth 1 is the linear readout of the input).
    ``sigma_w2`` and ``sigma_b2`` may be sequences of ``depth`` values (entry l - 1 for weight
    layer l).

    In float64 (no ``dps``) the recursion is vectorized and blockwise (see
    :mod:`ncsym.depth.network_float`): variances once per input, the gap 1 - rho carried
    without cancellation, ``layers="last"`` keeps only K^L and Theta^L (memory: those two
    matrices plus O(block^2)), ``dtype=np.float32`` returns float32 matrices (computed in
    float64), ``block`` sets the block edge; ``ntk=False`` skips the NTK.

    >>> from ncsym import zoo
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> out = network_kernels(X, zoo.relu, 2, sigma_w2=2)
    >>> out.nngp.round(6).tolist()
    [[1.0, 0.31831], [0.31831, 1.0]]
    """
    act = activation(act)
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise DomainError(f"depth must be a positive integer (weight layers), got {depth!r}")
    check_limit(depth, "depth", MAX_DEPTH)
    weight = _per_layer(sigma_w2, "sigma_w2", int(depth), positive=True)
    bias = _per_layer(sigma_b2, "sigma_b2", int(depth), positive=False)
    if layers not in ("all", "last"):
        raise DomainError(f"layers must be 'all' or 'last', got {layers!r}")
    if np.dtype(dtype) not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise DomainError(f"dtype must be float64 or float32, got {dtype!r}")
    if block is not None:
        block = check_integer(block, "block", 1)
    data = np.asarray(X, dtype=object if dps is not None else float)
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise DomainError(f"X must be a non-empty 2-D array (inputs as rows), got shape {data.shape}")
    for entry in data.flat:
        check_real(entry, "X entry")
    with_ntk = bool(ntk) and not _jumps(act)
    if dps is None:
        nngp, ntk = float_network_kernels(data, act, [float(v) for v in weight], [float(v) for v in bias],
                                          with_ntk=with_ntk, keep=layers, dtype=np.dtype(dtype).type, block=block)
        return NetworkKernels(tuple(nngp), tuple(ntk) if with_ntk else None, activation_name=act.name)
    dps = working_dps(dps)
    first = _network_kernels_mp(data, act, int(depth), weight, bias, dps + GUARD_DIGITS, with_ntk)
    second = _network_kernels_mp(data, act, int(depth), weight, bias, dps + 2 * GUARD_DIGITS, with_ntk)
    with mpmath.workdps(dps + GUARD_DIGITS):
        errors = tuple(
            max(max(abs(x1 - x2) for x1, x2 in zip(k1, k2)), max(abs(t1 - t2) for t1, t2 in zip(h1, h2)))
            for k1, k2, h1, h2 in zip(first[0], second[0], first[1], second[1])
        )
    return NetworkKernels(tuple(first[0]), tuple(first[1]) if with_ntk else None, dps, errors, act.name)


def nngp_kernel(X: Any, act: Any, depth: int, *, sigma_w2: Any = 1, sigma_b2: Any = 0,
                dps: int | None = None, dtype: Any = np.float64, block: int | None = None) -> Any:
    """K^depth of :func:`network_kernels` (float64 array, or mpmath matrix with ``dps``).

    Only the last layer is kept and the NTK is skipped.

    >>> nngp_kernel(np.eye(2), "erf", 3, sigma_b2=0.1, dtype=np.float32).dtype
    dtype('float32')
    """
    return network_kernels(X, act, depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2, dps=dps, layers="last",
                           dtype=dtype, block=block, ntk=False).nngp


def ntk_kernel(X: Any, act: Any, depth: int, *, sigma_w2: Any = 1, sigma_b2: Any = 0,
               dps: int | None = None, dtype: Any = np.float64, block: int | None = None) -> Any:
    """Theta^depth of :func:`network_kernels` (float64 array, or mpmath matrix with ``dps``).

    Raises DomainError for an activation that jumps (sign, step): sigma' is a Dirac delta.

    >>> ntk_kernel(np.eye(2), "relu", 2, sigma_w2=2).round(4).tolist()
    [[2.0, 0.3183], [0.3183, 2.0]]
    """
    act = activation(act)
    if _jumps(act):
        raise DomainError(_no_ntk_reason(act.name))
    return network_kernels(X, act, depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2, dps=dps, layers="last",
                           dtype=dtype, block=block).ntk


def _network_kernels_mp(X: np.ndarray, act: Activation, depth: int, weight: list, bias: list,
                        work: int, with_ntk: bool = True) -> tuple[list, list]:
    with mpmath.workdps(work):
        ws = [_mpf_of(v.exact) if v.is_exact else v.value for v in weight]
        bs = [_mpf_of(v.exact) if v.is_exact else v.value for v in bias]
        w, b = ws[0], bs[0]
        rows = [[_mpf_of(exact_number(v)) if not isinstance(v, mpmath.mpf) else v for v in row] for row in X]
        P, d = len(rows), len(rows[0])
        K = mpmath.matrix(P, P)
        for i in range(P):
            for j in range(P):
                K[i, j] = w * mpmath.fsum(rows[i][k] * rows[j][k] for k in range(d)) / d + b
        theta = K.copy()
        nngp, ntk = [K.copy()], [theta.copy()]
        for layer in range(1, depth):
            w, b = ws[layer], bs[layer]
            V, Vdot = _pair_kernels(act, K, work, with_ntk)
            new = mpmath.matrix(P, P)
            new_theta = mpmath.matrix(P, P)
            for i in range(P):
                for j in range(P):
                    new[i, j] = w * V[i, j] + b
                    if with_ntk:
                        new_theta[i, j] = new[i, j] + w * Vdot[i, j] * theta[i, j]
            K, theta = new, new_theta
            nngp.append(K.copy())
            ntk.append(theta.copy())
    return nngp, ntk


def _pair_kernels(act: Activation, K: Any, work: int, with_ntk: bool = True) -> tuple[Any, Any]:
    """V(K) and Vdot(K) (zeros without ``with_ntk``) entry by entry through the dual kernel."""
    from ncsym.kernels import dual as kernels
    P = K.rows
    V, Vdot = mpmath.matrix(P, P), mpmath.matrix(P, P)
    cache: dict = {}
    for i in range(P):
        for j in range(i, P):
            qi, qj, c = K[i, i], K[j, j], K[i, j]
            if qi <= 0 or qj <= 0:
                raise DomainError("an input has zero variance at some layer; V(K) needs positive diagonal entries")
            key = (qi, qj)
            if key not in cache:
                # exact binary rationals: the kernels' closed forms then lose no digits to sympy Floats
                kernel = kernels.dual_kernel(act, q1=_binary_rational(qi), q2=_binary_rational(qj), dps=work)
                cache[key] = (kernel, kernel.derivative() if with_ntk else None)
            kernel, derivative = cache[key]
            rho = mpmath.mpf(1) if i == j else max(mpmath.mpf(-1), min(mpmath.mpf(1), c / mpmath.sqrt(qi * qj)))
            # Calling a DualKernel on an mpf evaluates at the current precision (closed form in
            # mpmath, else its Mehler series / quadrature); the two-run comparison bounds the rest.
            V[i, j] = V[j, i] = kernel(rho)
            if with_ntk:
                Vdot[i, j] = Vdot[j, i] = derivative(rho)
    return V, Vdot
