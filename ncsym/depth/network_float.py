"""The float64 NNGP/NTK recursion over a data set, blockwise and in cancellation-free variables.

State per layer: the variances q_i (the diagonal, one kernel evaluation per input) and the gap
matrix G_ij = 1 - rho_ij, updated in place block by block (upper blocks, then mirrored), so an
(N, N) problem needs the gap matrix, the NTK matrix and O(block^2) work space. The next gap
comes from the kernel's deficit D = sqrt(V_ii V_jj) - V (never from 1 - V / sqrt(V_ii V_jj)):

    sqrt(K'_ii K'_jj) - K'_ij = w D_ij + w b (sqrt(V_ii) - sqrt(V_jj))^2 / (sqrt(K'_ii K'_jj) + w sqrt(V_ii V_jj) + b),

for K' = w V + b, so 1 - rho stays relatively accurate however close to 1 it gets (the ordered
phase at depth 1000), and the NTK update Theta' = K' + w Vdot * Theta reuses the same pass.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ncsym.core.errors import DomainError
from ncsym.kernels.vectorized import layer_evaluator
from ncsym.symbolic.activations import Activation

__all__ = ["float_network_kernels"]

_SMALL_GAP = 0.01


def _bias_bracket(Si: np.ndarray, Sj: np.ndarray, w: float, b: float, s_new: np.ndarray) -> np.ndarray | float:
    """sqrt(K'_ii K'_jj) - (w sqrt(V_ii V_jj) + b) >= 0, without cancellation."""
    if b == 0:
        return 0.0
    ri, rj = np.sqrt(Si), np.sqrt(Sj)
    return w * b * (ri - rj) ** 2 / (s_new + w * ri * rj + b)


def _check_variances(q: np.ndarray, layer: int) -> None:
    if not np.isfinite(q).all():
        raise DomainError(f"a variance is not finite at layer {layer}")
    if (q <= 0).any():
        raise DomainError(f"an input has zero variance at layer {layer}; V(K) needs positive diagonal entries")


def float_network_kernels(X: np.ndarray, act: Activation, weights: Sequence[float], biases: Sequence[float], *,
                          with_ntk: bool = True, keep: str = "all", dtype: type = np.float64,
                          block: int | None = None) -> tuple[list, list | None]:
    """(K^1..K^L, Theta^1..Theta^L) (or just the last of each with ``keep="last"``).

    ``weights[l]`` and ``biases[l]`` are sigma_w^2 and sigma_b^2 of weight layer l + 1.

    >>> from ncsym.symbolic.activations import activation
    >>> K, T = float_network_kernels(np.eye(2), activation("relu"), [2.0, 2.0], [0.0, 0.0])
    >>> K[-1].round(4).tolist(), T[-1].round(4).tolist()
    ([[1.0, 0.3183], [0.3183, 1.0]], [[2.0, 0.3183], [0.3183, 2.0]])
    """
    N, d = X.shape
    w, b = float(weights[0]), float(biases[0])
    norms2 = np.einsum("ij,ij->i", X, X) / d
    q = w * norms2 + b
    _check_variances(q, 1)
    root = np.sqrt(q)
    # layer 1: sqrt(K_ii K_jj) - K_ij = w (|x_i| |x_j| - x_i . x_j) / d + the bias bracket
    G = X @ X.T
    G /= d
    n = np.sqrt(norms2)
    G *= -w
    G += w * np.outer(n, n)
    G += _bias_bracket(norms2[:, None], norms2[None, :], w, b, np.outer(root, root))
    G /= np.outer(root, root)
    np.clip(G, 0.0, 2.0, out=G)
    np.fill_diagonal(G, 0.0)
    theta = _covariance(G, q) if with_ntk else None
    nngp, ntk = [], []

    def record(last: bool) -> None:
        if keep == "all" or last:
            nngp.append((_covariance(G, q) if not last or keep == "all" else _covariance_in_place(G, q)).astype(dtype, copy=False))
            if with_ntk:
                ntk.append(theta.astype(dtype, copy=True if keep == "all" and not last else False))

    depth = len(weights)
    record(depth == 1)
    for layer in range(1, depth):
        w, b = float(weights[layer]), float(biases[layer])
        ev = layer_evaluator(act, q, derivative=with_ntk)
        S = ev.second
        q_new = w * S + b
        _check_variances(q_new, layer + 1)
        root_new = np.sqrt(q_new)
        size = block or getattr(ev.family, "block_size", 256)
        theta_diagonal = np.diag(theta).copy() if with_ntk else None
        for i0 in range(0, N, size):
            I = slice(i0, min(N, i0 + size))
            for j0 in range(i0, N, size):
                J = slice(j0, min(N, j0 + size))
                gap = G[I, J]
                # below _SMALL_GAP the next gap comes from the deficit; above, 1 - K'/s loses < 7 bits
                accurate = float(gap.min()) < _SMALL_GAP
                V, D, Vdot = ev.block(I, J, 1.0 - gap, gap, deficit=accurate)
                s_new = root_new[I, None] * root_new[None, J]
                Kn = w * V
                Kn += b
                if accurate:
                    Dn = w * D
                    Dn += _bias_bracket(S[I, None], S[None, J], w, b, s_new)
                    Dn /= s_new
                else:
                    Dn = np.divide(Kn, s_new)
                    np.subtract(1.0, Dn, out=Dn)
                np.clip(Dn, 0.0, 2.0, out=Dn)
                G[I, J] = Dn
                if j0 != i0:
                    G[J, I] = Dn.T
                if with_ntk:
                    t = theta[I, J]  # a view: updated in place
                    t *= Vdot
                    t *= w
                    t += Kn
                    if j0 != i0:
                        theta[J, I] = t.T
        np.fill_diagonal(G, 0.0)
        if with_ntk:
            diagonal = q_new + w * ev.second_derivative * theta_diagonal
            np.fill_diagonal(theta, diagonal)
        q = q_new
        record(layer == depth - 1)
    return nngp, (ntk if with_ntk else None)


def _covariance(G: np.ndarray, q: np.ndarray) -> np.ndarray:
    """K_ij = sqrt(q_i q_j) (1 - G_ij), a new array."""
    root = np.sqrt(q)
    K = 1.0 - G
    K *= root[:, None]
    K *= root[None, :]
    np.fill_diagonal(K, q)
    return K


def _covariance_in_place(G: np.ndarray, q: np.ndarray) -> np.ndarray:
    """As :func:`_covariance`, overwriting G (the last layer: no second N x N array)."""
    root = np.sqrt(q)
    np.subtract(1.0, G, out=G)
    G *= root[:, None]
    G *= root[None, :]
    np.fill_diagonal(G, q)
    return G
