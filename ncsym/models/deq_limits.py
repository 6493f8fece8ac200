"""Depth and width limits: they commute for a DEQ and not for an MLP (Gao, Huo, Liu & Gao 2023).

Two networks of width n on inputs x_1..x_P, run for L layers, with the empirical kernel
``K_hat(L) = g_L g_L^T / n`` of the last preactivations (a P x P matrix per network):

- ``"deq"``: the DEQ iteration with one shared W: ``g_1 = U x``, ``g_{l+1} = W phi(g_l) + U x``,
  ``W_ij ~ N(0, sigma_w2/n)``, ``U_ij ~ N(0, sigma_u2/n_in)``. Width first: K_L = T^{L-1}(sigma_u2 K0)
  with T(K) = sigma_w2 V_phi(K) + sigma_u2 K0, which tends to the DEQ kernel K* as L grows.
  Depth first: at fixed n the iteration settles on the network's own fixed point, and K_hat of
  that fixed point tends to K* as n grows. Same limit (the paper's result).
- ``"mlp"``: independent weights per layer, no input injection: ``h_1 = U x``,
  ``h_{l+1} = W_l phi(h_l)``. Width first: K_L = sigma_w2 V_phi(K_{L-1}), constant diagonal for
  relu at sigma_w2 = 2. Depth first, for relu at sigma_w2 = 2, exactly: K_hat_11(L) = q_1 R_1 ... R_{L-1}
  chi^2_n/n with i.i.d. ratios R = (2/n) chi^2_N, N ~ Binomial(n, 1/2) active units. E R = 1 but
  E log R = m_n < 0 (strict Jensen; m_n = -5/(2n) + O(n^-2)), so log K_hat_11(L) drifts like
  (L - 1) m_n and K_hat_11 -> 0 almost surely as L grows at any fixed n: the depth-first limit is
  the zero kernel, the width-first limit is q_1. The orders disagree (Hanin & Nica 2019).

:func:`depth_width_grid` samples both on a grid of widths and depths and reports the mean
relative Frobenius distance ``D(n, L) = E ||K_hat(L) - K_ref|| / ||K_ref||`` to the width-first
kernel, and the mean log of the first diagonal entry, each with its standard error.

>>> g = depth_width_grid("mlp", "relu", [[1.0, 0.0], [0.6, 0.8]], [16], [1, 8], 50, sigma_w2=2, seed=0)
>>> g.distance.shape, bool(g.distance_se.max() < 1)
((1, 2), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import mpmath
import numpy as np

from ncsym.core.errors import DomainError, check_integer
from ncsym.models.deq import _exact_positive, _inputs
from ncsym.symbolic.activations import activation

__all__ = ["DepthWidthGrid", "depth_width_grid", "relu_log_ratio_mean", "width_first_kernels"]

_KINDS = ("deq", "mlp")


@dataclass(frozen=True)
class DepthWidthGrid:
    """Sampled empirical kernels on a grid of widths (rows) and depths (columns).

    ``reference[j]``: the width-first kernel K_L at ``depths[j]``; ``limit``: its L -> infinity
    limit where it exists (K* for the DEQ, None for the MLP); ``distance`` / ``distance_se``:
    mean and standard error of ||K_hat - K_L||_F / ||K_L||_F; ``log_diagonal`` /
    ``log_diagonal_se``: mean and SE of log(K_hat_11 / K_L,11) over the networks still alive
    (``dead``: the fraction whose K_hat_11 is 0, a relu MLP with every unit of a layer off,
    probability about L 2^-n); ``mean_kernel``: E K_hat per
    cell, ``[len(widths), len(depths), P, P]``, with its standard error ``mean_kernel_se``.
    """

    kind: str
    activation: Any
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    n_networks: int
    reference: np.ndarray
    limit: np.ndarray | None
    distance: np.ndarray
    distance_se: np.ndarray
    log_diagonal: np.ndarray
    log_diagonal_se: np.ndarray
    mean_kernel: np.ndarray
    mean_kernel_se: np.ndarray
    dead: np.ndarray


def width_first_kernels(kind: str, act: Any, X: Any, depths: Sequence[int], *, sigma_w2: Any,
                        sigma_u2: Any = 1) -> np.ndarray:
    """The infinite-width kernels K_L at each depth L (float64, ``[len(depths), P, P]``).

    >>> K = width_first_kernels("mlp", "relu", [[1.0, 0.0]], [1, 5], sigma_w2=2)
    >>> K[:, 0, 0].round(12).tolist()
    [0.5, 0.5]
    """
    from ncsym.kernels.dual import kernel_matrix

    act, data, depths, w, u = _check(kind, act, X, depths, sigma_w2, sigma_u2)
    K0 = data @ data.T / data.shape[1]
    K = u * K0
    out, level = [], 1
    for target in depths:
        while level < target:
            K = w * kernel_matrix(act, K) + (u * K0 if kind == "deq" else 0.0)
            level += 1
        out.append(K.copy())
    return np.array(out)


def relu_log_ratio_mean(n: int, dps: int = 15) -> Any:
    """m_n = E log((2/n) chi^2_N), N ~ Binomial(n, 1/2) given N >= 1 (mpmath, ``dps`` digits).

    The per-layer drift of log K_hat_11 of a width-n relu MLP at sigma_w2 = 2; negative for
    every n by strict Jensen (E of the ratio is 1). N = 0 (probability 2^-n) kills the network.

    >>> round(float(relu_log_ratio_mean(1000) * 1000), 1)   # -> -5/2
    -2.5
    """
    n = check_integer(n, "n", minimum=1)
    with mpmath.workdps(dps + 10):
        total = mpmath.mpf(0)
        for N in range(1, n + 1):
            weight = mpmath.binomial(n, N) / mpmath.mpf(2) ** n
            total += weight * (mpmath.digamma(mpmath.mpf(N) / 2) + mpmath.log(2) + mpmath.log(mpmath.mpf(2) / n))
        return +(total / (1 - mpmath.mpf(2) ** -n))


def _check(kind, act, X, depths, sigma_w2, sigma_u2):
    if kind not in _KINDS:
        raise DomainError(f"kind must be one of {_KINDS}, got {kind!r}")
    depths = tuple(check_integer(d, "depth", minimum=1) for d in depths)
    if not depths or list(depths) != sorted(set(depths)):
        raise DomainError(f"depths must be increasing positive integers, got {depths}")
    w = float(_exact_positive(sigma_w2, "sigma_w2"))
    u = float(_exact_positive(sigma_u2, "sigma_u2"))
    return activation(act), _inputs(X), depths, w, u


def _sample_width(kind, function, data, n, depths, n_networks, w, u, rng):
    """K_hat at each depth for n_networks networks: ``[n_networks, len(depths), P, P]``."""
    P, n_in = data.shape
    out = np.empty((n_networks, len(depths), P, P))
    block = max(1, min(n_networks, 2**22 // (n * n)))
    for start in range(0, n_networks, block):
        B = min(block, n_networks - start)
        U = rng.standard_normal((B, n, n_in)) * math.sqrt(u / n_in)
        drive = U @ data.T                                  # [B, n, P]
        g = drive
        W = rng.standard_normal((B, n, n)) * math.sqrt(w / n) if kind == "deq" else None
        level = 1
        for j, target in enumerate(depths):
            while level < target:
                f = function(g)
                if kind == "deq":
                    g = W @ f + drive
                else:
                    # h_{l+1} = W_l phi(h_l) with fresh W_l: given phi(h_l), the rows of h_{l+1} are
                    # i.i.d. N(0, (w/n) phi^T phi), drawn exactly through a P x P Cholesky factor
                    values, vectors = np.linalg.eigh(w / n * np.einsum("bip,biq->bpq", f, f))
                    root = vectors * np.sqrt(np.clip(values, 0.0, None))[:, None, :]
                    g = np.einsum("bpq,biq->bip", root, rng.standard_normal((B, n, P)))
                level += 1
            out[start:start + B, j] = np.einsum("bip,biq->bpq", g, g) / n
    return out


def depth_width_grid(kind: str, act: Any, X: Any, widths: Sequence[int], depths: Sequence[int], n_networks: int, *,
                     sigma_w2: Any, sigma_u2: Any = 1, seed: int = 0) -> DepthWidthGrid:
    """Sample ``n_networks`` networks per width and tabulate their kernels against the width-first ones.

    ``kind`` is ``"deq"`` (shared weights, input injection) or ``"mlp"`` (independent weights,
    no injection); see the module docstring. Reproducible from ``seed``.

    >>> g = depth_width_grid("deq", "relu", [[1.0, 0.0], [0.6, 0.8]], [16, 64], [1, 30], 40,
    ...                      sigma_w2=0.5, seed=0)
    >>> bool(g.distance[1, 1] < g.distance[0, 1])   # wider: closer to K*
    True
    """
    act, data, depths, w, u = _check(kind, act, X, depths, sigma_w2, sigma_u2)
    widths = tuple(check_integer(n, "width", minimum=2) for n in widths)
    n_networks = check_integer(n_networks, "n_networks", minimum=2)
    reference = width_first_kernels(kind, act, data, depths, sigma_w2=w, sigma_u2=u)
    limit = None
    if kind == "deq":
        from ncsym.models.deq import deq_kernel

        limit = deq_kernel(act, data, sigma_w2=w, sigma_u2=u).preactivation
    function = act.numpy()
    shape = (len(widths), len(depths))
    distance, distance_se = np.empty(shape), np.empty(shape)
    log_diag, log_diag_se, dead = np.empty(shape), np.empty(shape), np.empty(shape)
    mean_kernel = np.empty(shape + reference.shape[1:])
    mean_kernel_se = np.empty(shape + reference.shape[1:])
    norms = np.linalg.norm(reference, axis=(1, 2))
    for i, n in enumerate(widths):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), n, _KINDS.index(kind)])))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            K = _sample_width(kind, function, data, n, depths, n_networks, w, u, rng)
            d = np.linalg.norm(K - reference[None], axis=(2, 3)) / norms[None]
            logs = np.log(K[:, :, 0, 0] / reference[None, :, 0, 0])
        distance[i], distance_se[i] = d.mean(axis=0), d.std(axis=0, ddof=1) / math.sqrt(n_networks)
        alive = np.isfinite(logs)
        dead[i] = 1 - alive.mean(axis=0)
        for j in range(len(depths)):
            values = logs[alive[:, j], j]
            log_diag[i, j] = values.mean() if values.size else -math.inf
            log_diag_se[i, j] = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else math.inf
        mean_kernel[i] = K.mean(axis=0)
        mean_kernel_se[i] = K.std(axis=0, ddof=1) / math.sqrt(n_networks)
    return DepthWidthGrid(kind, act, widths, depths, n_networks, reference, limit, distance, distance_se,
                          log_diag, log_diag_se, mean_kernel, mean_kernel_se, dead)
