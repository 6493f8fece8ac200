"""The 1/n expansion for several inputs: kernel matrix, four-point vertex and kernel correction.

Given layer l, the units of layer l+1 are i.i.d. N(0, G) with G_ab = sigma_b2 + (sigma_w2/n)
sum_j sigma(z_j;a) sigma(z_j;b), so the entries of G (over input pairs p = (a, b), a <= b) form a
Markov chain in depth with conditional mean F(G) (the infinite-width kernel map) and conditional
covariance S(G)/n, S_pq = sigma_w2^2 Cov[sigma_a sigma_b, sigma_c sigma_d] at u ~ N(0, G). With
E[G] = K + K1/n, Cov[G_p, G_q] = V_pq/n, a second-order expansion along the chain gives

    K^(l+1) = F(K^(l)),  V^(l+1) = S(K^(l)) + J V^(l) J^T,  K1^(l+1) = J K1^(l) + (1/2) H : V^(l),

J and H the Jacobian and Hessian of F at K^(l) (Yaida 2020; Roberts, Yaida & Hanin 2022, sec. 4.3,
where V_(ab)(cd) is this V_pq). Normalizations, for one unit z of layer l and width n:

- connected four-point function: E[z_a z_b z_c z_d] - (K_ab K_cd + K_ac K_bd + K_ad K_bc)
  = (V_(ab)(cd) + V_(ac)(bd) + V_(ad)(bc)) / n;
- the empirical kernel hat K_ab = (1/n) sum_i z_i;a z_i;b of one network:
  E[hat K_ab] = K_ab + K1_ab/n and Cov[hat K_ab, hat K_cd] = (V_(ab)(cd) + K_ac K_bd + K_ad K_bc)/n
  (the vertex plus the Wishart spread of n i.i.d. rows given G);
- the spread of z_i;a z_i;b over the units of one network: E[(1/(n-1)) sum_i (z_i;a z_i;b -
  hat K_ab)^2] = E[G_aa G_bb + G_ab^2] = K_aa K_bb + K_ab^2 + (1/n)[K1_aa K_bb + K_aa K1_bb +
  2 K_ab K1_ab + V_(aa)(bb) + V_(ab)(ab)];
- the per-network sample correlation r_ab = hat K_ab / sqrt(hat K_aa hat K_bb):
  E[r_ab] = rho_ab + (1/n)[grad R . K1 + (1/2) Hess R : (V + Wishart)] (delta method).

Float64 throughout: F from ``kernel_matrix`` (about 1e-13), J and H by central differences of F,
S by Gauss-Hermite quadrature on the inputs involved; :attr:`FiniteWidthKernels.accuracy` is
the estimated relative accuracy of V (from two quadrature orders), an estimate, not a bound.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ncsym.core.errors import DomainError, check_integer
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.kernels.closed_form import find_closed_form
from ncsym.kernels.dual import kernel_matrix
from ncsym.symbolic.activations import Activation, activation
from ncsym.width_corrections.single_input import TRUST_THRESHOLD

__all__ = ["FiniteWidthKernels", "finite_width_kernels", "INPUT_KINDS"]

#: What the second argument of :func:`finite_width_kernels` is.
INPUT_KINDS = ("data", "gram", "kernel")

#: Gauss-Hermite nodes per axis by the number of distinct inputs in a four-point expectation.
_NODES = {1: 160, 2: 120, 3: 40, 4: 20}
#: Pairs closer than this to |rho| = 1 are not expanded (the kernel map is not smooth there).
_PARALLEL = 1e-6


@dataclass(frozen=True)
class FiniteWidthKernels:
    """K^(l), V^(l), K1^(l) over input pairs for l = 1..depth; see :func:`finite_width_kernels`."""

    activation: Activation
    depth: int
    sigma_w2: float
    sigma_b2: float
    pairs: tuple[tuple[int, int], ...]
    K: tuple[np.ndarray, ...] = field(repr=False)   # [m] per layer
    V: tuple[np.ndarray, ...] = field(repr=False)   # [m, m] per layer
    K1: tuple[np.ndarray, ...] = field(repr=False)  # [m] per layer
    accuracy: float = 0.0

    @property
    def n_inputs(self) -> int:
        return 1 + max(b for _, b in self.pairs)

    def _l(self, l: int) -> int:
        return check_integer(l, "layer", 1, self.depth) - 1

    def _matrix(self, vector: np.ndarray) -> np.ndarray:
        P = self.n_inputs
        out = np.empty((P, P))
        for (a, b), value in zip(self.pairs, vector):
            out[a, b] = out[b, a] = value
        return out

    def _index(self, a: int, b: int) -> int:
        a, b = min(a, b), max(a, b)
        return self.pairs.index((a, b))

    def kernel(self, l: int) -> np.ndarray:
        """K^(l), the infinite-width kernel matrix [P, P]."""
        return self._matrix(self.K[self._l(l)])

    def kernel_correction(self, l: int) -> np.ndarray:
        """K1^(l): E[z_a z_b] = K_ab + K1_ab / n + O(1/n^2), as [P, P]."""
        return self._matrix(self.K1[self._l(l)])

    def vertex(self, l: int) -> np.ndarray:
        """V^(l)_(ab)(cd) as a [P, P, P, P] array (symmetric in a<->b, c<->d and the two pairs)."""
        V = self.V[self._l(l)]
        P = self.n_inputs
        out = np.empty((P,) * 4)
        for a, b, c, d in itertools.product(range(P), repeat=4):
            out[a, b, c, d] = V[self._index(a, b), self._index(c, d)]
        return out

    def four_point(self, l: int, width: int) -> np.ndarray:
        """Connected E[z_a z_b z_c z_d] of one unit: (V_(ab)(cd) + V_(ac)(bd) + V_(ad)(bc)) / n."""
        V = self.vertex(l)
        return (V + V.transpose(0, 2, 1, 3) + V.transpose(0, 3, 2, 1)) / _width(width)

    def mean_kernel(self, l: int, width: int) -> np.ndarray:
        """Predicted E[hat K_ab] = K_ab + K1_ab / n."""
        return self.kernel(l) + self.kernel_correction(l) / _width(width)

    def kernel_covariance(self, l: int, width: int) -> np.ndarray:
        """Predicted Cov[hat K_ab, hat K_cd] = (V_(ab)(cd) + K_ac K_bd + K_ad K_bc) / n, [P, P, P, P]."""
        K = self.kernel(l)
        wishart = np.einsum("ac,bd->abcd", K, K) + np.einsum("ad,bc->abcd", K, K)
        return (self.vertex(l) + wishart) / _width(width)

    def unit_variance(self, l: int, width: int) -> np.ndarray:
        """Predicted spread over one network's units of z_i;a z_i;b (unbiased sample variance), [P, P]."""
        n = _width(width)
        K, K1, V = self.kernel(l), self.kernel_correction(l), self.vertex(l)
        d = np.diag(K)
        first = np.outer(d, d) + K**2
        idx = range(self.n_inputs)
        v_aabb = np.array([[V[a, a, b, b] for b in idx] for a in idx])
        v_abab = np.array([[V[a, b, a, b] for b in idx] for a in idx])
        d1 = np.diag(K1)
        return first + (np.outer(d1, d) + np.outer(d, d1) + 2 * K * K1 + v_aabb + v_abab) / n

    def correlation_mean(self, l: int, width: int) -> np.ndarray:
        """Predicted E[r_ab] of the per-network sample correlation to O(1/n) (NaN for parallel pairs)."""
        n = _width(width)
        i = self._l(l)
        K, K1, V = self.kernel(l), self.kernel_correction(l), self.V[i]
        P = self.n_inputs
        out = np.eye(P)
        for a, b in itertools.combinations(range(P), 2):
            p = [self._index(a, a), self._index(a, b), self._index(b, b)]
            g = np.array([K[a, a], K[a, b], K[b, b]])
            delta = np.array([K1[a, a], K1[a, b], K1[b, b]]) / n
            out[a, b] = out[b, a] = g[1] / math.sqrt(g[0] * g[2]) + _correlation_bias(g, delta, V[np.ix_(p, p)] / n, n)
        return out

    def effective_ratio(self, l: int, width: int) -> float:
        """max_a V_(aa)(aa) / (n K_aa^2), the effective depth-to-width ratio of the worst input."""
        i = self._l(l)
        return max(float(self.V[i][p, p] / (_width(width) * self.K[i][p] ** 2))
                   for p, (a, b) in enumerate(self.pairs) if a == b)

    def trustworthy(self, l: int, width: int, threshold: float = TRUST_THRESHOLD) -> bool:
        """True when :meth:`effective_ratio` <= threshold (see ``ncsym.finite_width``)."""
        return self.effective_ratio(l, width) <= threshold


def _width(width: int) -> float:
    return float(check_integer(width, "width", 1))


def finite_width_kernels(act: Any, inputs: Any, depth: int, *, sigma_w2: Any, sigma_b2: Any = 0,
                         input_kind: str = "data", dps: int | None = None) -> FiniteWidthKernels:
    """The 1/n expansion over several inputs, layers 1..depth (float64).

    ``inputs`` is, by ``input_kind``: "data", rows x_a (K^(1) = sigma_b2 + sigma_w2 x_a.x_b/d);
    "gram", the matrix x_a.x_b/d; "kernel", K^(1) itself.

    >>> fw = finite_width_kernels("relu", [[1.0, 0.0], [0.6, 0.8]], 3, sigma_w2=2)
    >>> round(float(fw.vertex(3)[0, 0, 0, 0]), 6)    # one input: 5 (l - 1) K^2 with K = 1
    10.0
    """
    act = activation(act)
    depth = check_limit(check_integer(depth, "depth", 1), "depth", MAX_DEPTH)
    if dps is not None and check_integer(dps, "dps", 1) > 15:
        raise DomainError("finite_width_kernels works in float64; use finite_width for one input at dps digits")
    w, b = _float_parameter(sigma_w2, "sigma_w2", True), _float_parameter(sigma_b2, "sigma_b2", False)
    first = _first_layer(inputs, input_kind, w, b)
    P = first.shape[0]
    pairs = tuple((a, c) for a in range(P) for c in range(a, P))
    m = len(pairs)
    k = np.array([first[a, c] for a, c in pairs])
    V, K1 = np.zeros((m, m)), np.zeros(m)
    Ks, Vs, K1s = [k], [V], [K1]
    accuracy = 0.0
    for _ in range(depth - 1):
        F, J, H = _derivatives(act, k, pairs, w, b)
        S, acc = _source(act, k, pairs, P)
        accuracy = max(accuracy, acc)
        # A parallel pair has NaN rows in J and H; no other pair's row reaches it (F_cd moves
        # with K_cc, K_cd, K_dd only), so it is computed as 0 and marked NaN afterwards.
        bad = np.isnan(J).any(axis=1)
        J, H, V0, K10 = (np.nan_to_num(a) for a in (J, H, V, K1))
        K1 = J @ K10 + 0.5 * np.einsum("pqr,qr->p", H, V0)
        V = w * w * S + J @ V0 @ J.T
        K1[bad], V[bad, :], V[:, bad] = np.nan, np.nan, np.nan
        k = F
        Ks.append(k), Vs.append(V), K1s.append(K1)
    return FiniteWidthKernels(act, depth, w, b, pairs, tuple(Ks), tuple(Vs), tuple(K1s), accuracy)


def _float_parameter(value: Any, name: str, positive: bool) -> float:
    from ncsym.width_corrections.single_input import hyperparameter
    return float(hyperparameter(value, name, positive=positive))


def _first_layer(inputs: Any, kind: str, w: float, b: float) -> np.ndarray:
    if kind not in INPUT_KINDS:
        raise DomainError(f"input_kind must be one of {', '.join(INPUT_KINDS)}, got {kind!r}")
    try:
        data = np.asarray(inputs, dtype=float)
    except (TypeError, ValueError):
        raise DomainError("inputs must be a real numeric array") from None
    if data.ndim != 2 or data.size == 0 or not np.isfinite(data).all():
        raise DomainError(f"inputs must be a finite non-empty 2-D array, got shape {data.shape}")
    if kind == "data":
        data = data @ data.T / data.shape[1]
    if data.shape[0] != data.shape[1] or not np.allclose(data, data.T, rtol=1e-12, atol=1e-14):
        raise DomainError("a Gram or kernel matrix must be square and symmetric")
    K = data if kind == "kernel" else w * data + b
    if (np.diag(K) <= 0).any() or np.linalg.eigvalsh(K).min() < -1e-12 * np.abs(K).max():
        raise DomainError("the first-layer kernel must be positive semidefinite with positive diagonal")
    return (K + K.T) / 2


def _derivatives(act: Activation, k: np.ndarray, pairs, w: float, b: float):
    """F(K) over pairs, its Jacobian [m, m] and Hessian [m, m, m] by central differences.

    F_ab depends only on (K_aa, K_ab, K_bb) (on K_aa alone when a = b), so each pair's
    differences move only those entries; every point of every pair goes through one
    block-diagonal ``kernel_matrix`` call.
    """
    index = {p: i for i, p in enumerate(pairs)}
    m = len(pairs)
    blocks, plan = [], []
    for i, (a, c) in enumerate(pairs):
        local = [index[(a, a)]] if a == c else [index[(a, a)], i, index[(c, c)]]
        g = k[local]
        steps = 1e-4 * np.maximum(np.abs(g[[0, 0, -1]] if a != c else g), 1e-3)
        if a != c and abs(g[1]) / math.sqrt(g[0] * g[2]) > 1 - _PARALLEL:
            plan.append((i, local, None, None))  # parallel inputs: no expansion for this pair
            blocks.append(g)
            continue
        points, shape = _stencil(g, steps)
        plan.append((i, local, steps, (len(blocks), len(points))))
        blocks.extend(points)
    # one kernel_matrix call per pair's stencil (and one for all diagonal ones): a single
    # block-diagonal call would also evaluate every cross-block entry, P^4 of them
    # Speed only (the values do not depend on it): closed forms are vectorized, 40 points per
    # call; a numeric kernel's series needs a table per variance and, at larger variances, falls
    # back to entrywise quadrature over the whole block-diagonal matrix, so there each point
    # gets its own 2 x 2 call.
    if find_closed_form(act) is not None:
        size = 40
    else:
        size = 19 if max(max(g) for g in blocks) <= 1.5 else 1
    values = np.concatenate([_block_kernel(act, blocks[lo:hi]) for lo, hi in _chunks(blocks, size)]) * w + b
    F = np.empty(m)
    J, H = np.zeros((m, m)), np.zeros((m, m, m))
    for i, local, steps, where in plan:
        if where is None:
            F[i] = w * kernel_matrix(act, _as_cov(k[local]))[0, 1] + b
            J[i, :] = H[i, :, :] = np.nan
            continue
        start, count = where
        f = values[start:start + count]
        jac, hess = _from_stencil(f, steps)
        F[i] = f[0]
        J[i, local] = jac
        H[np.ix_([i], local, local)] = hess[None]
    return F, J, H


def _chunks(blocks: list, size: int) -> list[tuple[int, int]]:
    """Index ranges of consecutive blocks of the same kind, at most ``size`` blocks each."""
    out, start = [], 0
    for i in range(1, len(blocks) + 1):
        if i == len(blocks) or len(blocks[i]) != len(blocks[start]) or i - start >= size:
            out.append((start, i))
            start = i
    return out


def _stencil(g: np.ndarray, steps: np.ndarray):
    d = len(g)
    basis = np.eye(d) * steps
    points = [g] + [g + s * basis[j] for j in range(d) for s in (1, -1)]
    for j, q in itertools.combinations(range(d), 2):
        points += [g + sj * basis[j] + sq * basis[q] for sj, sq in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
    return points, d


def _from_stencil(f: np.ndarray, steps: np.ndarray):
    d = len(steps)
    f0, singles = f[0], f[1:1 + 2 * d].reshape(d, 2)
    doubles = f[1 + 2 * d:].reshape(-1, 4)
    jac, hess = np.empty(d), np.empty((d, d))
    for j in range(d):
        plus, minus = singles[j]
        jac[j] = (plus - minus) / (2 * steps[j])
        hess[j, j] = (plus - 2 * f0 + minus) / steps[j] ** 2
    for (j, q), (pp, pm, mp, mm) in zip(itertools.combinations(range(d), 2), doubles):
        hess[j, q] = hess[q, j] = (pp - pm - mp + mm) / (4 * steps[j] * steps[q])
    return jac, hess


def _as_cov(g: np.ndarray) -> np.ndarray:
    return np.array([[g[0]]]) if len(g) == 1 else np.array([[g[0], g[1]], [g[1], g[2]]])


def _block_kernel(act: Activation, blocks: list) -> np.ndarray:
    """E[sigma(u_a) sigma(u_b)] for each block: (q,) -> the variance, (aa, ab, bb) -> the cross term."""
    sizes = [1 if len(g) == 1 else 2 for g in blocks]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    cov = np.zeros((offsets[-1], offsets[-1]))
    for g, o, s in zip(blocks, offsets, sizes):
        cov[o:o + s, o:o + s] = _as_cov(np.asarray(g))
    V = kernel_matrix(act, cov)
    return np.array([V[o, o] if s == 1 else V[o, o + 1] for o, s in zip(offsets[:-1], sizes)])


def _source(act: Activation, k: np.ndarray, pairs, P: int) -> tuple[np.ndarray, float]:
    """Cov[sigma_a sigma_b, sigma_c sigma_d] at u ~ N(0, K) over pairs, and its estimated accuracy."""
    K = np.empty((P, P))
    for (a, c), value in zip(pairs, k):
        K[a, c] = K[c, a] = value
    f = act.numpy()
    m = len(pairs)
    S, worst = np.empty((m, m)), 0.0
    groups: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    for i, j in itertools.combinations_with_replacement(range(m), 2):
        subset = tuple(sorted(set(pairs[i]) | set(pairs[j])))
        groups.setdefault(subset, []).append((i, j))
    for subset, entries in groups.items():
        estimates = [_group_moments(f, K[np.ix_(subset, subset)], subset, pairs, entries, nodes)
                     for nodes in (_NODES[len(subset)], int(0.7 * _NODES[len(subset)]))]
        for (i, j), fine, coarse in zip(entries, *estimates):
            S[i, j] = S[j, i] = fine
            scale = math.sqrt(k[pairs.index((pairs[i][0], pairs[i][0]))] * k[pairs.index((pairs[i][1], pairs[i][1]))]
                              * k[pairs.index((pairs[j][0], pairs[j][0]))] * k[pairs.index((pairs[j][1], pairs[j][1]))])
            worst = max(worst, abs(fine - coarse) / scale)
    return S, worst


def _group_moments(f, Ksub: np.ndarray, subset, pairs, entries, nodes: int) -> list[float]:
    """Cov[sigma_a sigma_b, sigma_c sigma_d] for entries whose inputs lie in ``subset``, on one grid."""
    s = len(subset)
    grid, weight = _hermite_grid(s, nodes)
    values, vectors = np.linalg.eigh(Ksub)
    L = vectors * np.sqrt(np.clip(values, 0, None))
    sig = f(L @ grid)  # [s, points]
    where = {a: i for i, a in enumerate(subset)}
    out = []
    for i, j in entries:
        (a, b), (c, d) = pairs[i], pairs[j]
        x1 = sig[where[a]] * sig[where[b]]
        x2 = sig[where[c]] * sig[where[d]]
        # elementwise sums, not BLAS dot products: those stall on a machine with busy cores
        out.append(float(np.sum(weight * x1 * x2) - np.sum(weight * x1) * np.sum(weight * x2)))
    return out


@lru_cache(maxsize=16)
def _hermite_grid(dim: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss-Hermite nodes [dim, nodes^dim] and weights for N(0, I_dim)."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    grid = np.stack(np.meshgrid(*([x] * dim), indexing="ij")).reshape(dim, -1)
    weight = np.prod(np.stack(np.meshgrid(*([w] * dim), indexing="ij")).reshape(dim, -1), axis=0)
    return grid, weight


def correlation_derivatives(aa: float, ab: float, bb: float) -> tuple[float, np.ndarray, np.ndarray]:
    """R = G_ab / sqrt(G_aa G_bb) at (aa, ab, bb), its gradient and Hessian in (G_aa, G_ab, G_bb).

    >>> r, grad, hess = correlation_derivatives(1.0, 0.5, 1.0)
    >>> r, grad.tolist()
    (0.5, [-0.25, 1.0, -0.25])
    """
    s = math.sqrt(aa * bb)
    r = ab / s
    grad = np.array([-r / (2 * aa), 1 / s, -r / (2 * bb)])
    hess = np.array([
        [3 * r / (4 * aa * aa), -1 / (2 * aa * s), r / (4 * aa * bb)],
        [-1 / (2 * aa * s), 0.0, -1 / (2 * bb * s)],
        [r / (4 * aa * bb), -1 / (2 * bb * s), 3 * r / (4 * bb * bb)],
    ])
    return r, grad, hess


def _correlation_bias(g: np.ndarray, delta: np.ndarray, cov: np.ndarray, n: float) -> float:
    """O(1/n) bias of the sample correlation of rows drawn from N(0, G), E[G] = g + delta, Cov[G] = cov."""
    aa, ab, bb = g
    if abs(ab) / math.sqrt(aa * bb) > 1 - _PARALLEL:
        return float("nan")
    wishart = np.array([
        [2 * aa * aa, 2 * aa * ab, 2 * ab * ab],
        [2 * aa * ab, aa * bb + ab * ab, 2 * ab * bb],
        [2 * ab * ab, 2 * ab * bb, 2 * bb * bb],
    ]) / n
    _, grad, hess = correlation_derivatives(aa, ab, bb)
    return float(grad @ delta + 0.5 * np.sum(hess * (cov + wishart)))
