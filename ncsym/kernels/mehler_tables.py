"""The Mehler route of :mod:`ncsym.kernels.vectorized`: Hermite tables for many variances at once.

For a smooth activation and a set of variances q_1..q_D, the normalized Hermite coefficients
a_n(q) = E[sigma(sqrt(q) z) h_n(z)] of all of them come from one matrix product F H, with
F[d, m] = sigma(sqrt(q_d) z_m) on Gauss-Legendre panels and H[m, n] = w_m phi(z_m) h_n(z_m)
(the orthonormal Hermite functions by their three-term recurrence, which stays bounded).
Then for Var u = q_i, Var v = q_j, Corr = rho (Mehler's formula),

    V = sum_n a_n(q_i) a_n(q_j) rho^n,   Vdot = dV/dc = (q_i q_j)^(-1/2) sum_n n a_n(q_i) a_n(q_j) rho^(n-1),

and the deficit sqrt(V_ii V_jj) - V = B_ij + (1 - rho) Q(rho) with Q = (P(1) - P(rho)) / (1 - rho)
and B_ij = sqrt(V_ii V_jj) |u_i - u_j|^2 / 2 (u = a / ||a||; zero for equal variances): Horner
carries P, P' and Q in one pass, so 1 - rho is never formed by subtraction.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from ncsym.core.errors import ConvergenceError
from ncsym.symbolic.activations import Activation

__all__ = ["hermite_tables"]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: h_n(z) phi(z) <= C exp(-z^2 / 4) for every n, so |z| <= 22 loses below exp(-121).
_REACH = 22.0
_TOLERANCE = 5e-15  # above the ~2.5e-15 rounding noise of E sigma^2 - sum a_n^2
_SMALL_GAP = 0.01
_FLOOR = 3e-15
_LENGTH_HINT: dict = {}
_DISTINCT_CHUNK = 256


@lru_cache(maxsize=16)
def _nodes(width: float, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, w phi(z), H) on panels of ``width`` over [-_REACH, _REACH], H of n = 0..length."""
    count = int(math.ceil(2 * _REACH / width))
    edges = np.linspace(-_REACH, _REACH, count + 1)
    half = np.diff(edges)[:, None] / 2
    mid = (edges[:-1] + edges[1:])[:, None] / 2
    z = (mid + half * _GL_X).ravel()
    weight = (half * _GL_W).ravel() * np.exp(-z * z / 2) * _INV_SQRT_2PI
    H = np.empty((z.size, length + 1))
    H[:, 0] = weight
    if length:
        H[:, 1] = z * weight
    for n in range(1, length):
        H[:, n + 1] = (z * H[:, n] - math.sqrt(n) * H[:, n - 1]) / math.sqrt(n + 1)
    return z, weight, H


def hermite_tables(act: Activation, q: np.ndarray, derivative: bool) -> dict:
    """Hermite coefficients of sigma(sqrt(q) .) for each q (shape (N + 1, len(q))), with
    E sigma^2, E sigma'^2 and relative Parseval tails, cut at the first N where the tails of
    sum a_n^2 (and, with ``derivative``, of sum n a_n^2) are below 5e-15 of their totals.

    Many variances (more than 64) are interpolated: tables at Chebyshev-Lobatto points in
    log q, barycentric interpolation, kept when it agrees with direct tables at four check
    variances to 1e-15 of sqrt(E sigma^2) (else more points, else every variance directly).

    >>> from ncsym import zoo
    >>> t = hermite_tables(zoo.tanh, np.array([1.0]), False)
    >>> bool(abs(t["coeffs"][1, 0] - 0.6057) < 1e-4), t["coeffs"].shape[0] < 200
    (True, True)
    """
    if q.size > 64 and float(q.max()) > float(q.min()):
        for points in (24, 48):
            table = _interpolated(act, q, derivative, points)
            if table is not None:
                return table
    return _direct_tables(act, q, derivative)


def _interpolated(act: Activation, q: np.ndarray, derivative: bool, points: int) -> dict | None:
    lo, hi = math.log(float(q.min())), math.log(float(q.max()))
    j = np.arange(points + 1)
    nodes = np.cos(np.pi * j / points)  # Chebyshev-Lobatto in [-1, 1]
    check = np.array([-0.83, -0.31, 0.27, 0.91])
    t = np.concatenate([nodes, check])
    table = _direct_tables(act, np.exp(lo + (hi - lo) * (t + 1) / 2), derivative)
    weights = (-1.0) ** j
    weights[0] /= 2
    weights[-1] /= 2

    def matrix(x: np.ndarray) -> np.ndarray:
        diff = x[:, None] - nodes[None, :]
        exact = diff == 0
        diff[exact] = 1.0
        W = weights / diff
        W /= W.sum(axis=1, keepdims=True)
        rows = exact.any(axis=1)
        W[rows] = exact[rows].astype(float)
        return W

    A = table["coeffs"]  # (n + 1, points + 1 + 4)
    Wc = matrix(check)
    root = np.sqrt(table["second"][points + 1:])
    if np.max(np.abs(A[:, : points + 1] @ Wc.T - A[:, points + 1:]) / root) > 1e-15:
        return None
    x = 2 * (np.log(q) - lo) / (hi - lo) - 1
    W = matrix(x)
    coeffs = np.ascontiguousarray(A[:, : points + 1] @ W.T)
    second = W @ table["second"][: points + 1]
    out = {"coeffs": coeffs, "second": second}
    squares = coeffs * coeffs
    out["tails"] = np.maximum(second[None, :] - np.cumsum(squares, axis=0), 0.0) / second[None, :]
    if derivative:
        sd = W @ table["second_derivative"][: points + 1]
        total = q * sd
        dcum = np.cumsum(squares * np.arange(coeffs.shape[0])[:, None], axis=0)
        out["second_derivative"] = sd
        out["dtails"] = np.maximum(total[None, :] - dcum, 0.0) / total[None, :]
    return out


def _direct_tables(act: Activation, q: np.ndarray, derivative: bool) -> dict:
    fn = act.numpy()
    dfn = act.derivative().numpy() if derivative else None
    sq = np.sqrt(q)
    width = min(0.25, 0.5 / float(sq.max()))
    hint = _LENGTH_HINT.get(act, 64)  # the last length that fitted: deep recursions repeat it
    for length in (64, 128, 256, 512, 1024, 2048):
        if length < hint:
            continue
        for refine in range(3):
            step = min(width, 4.0 / math.sqrt(length)) / 2**refine
            z, weight, H = _nodes(step, length)
            parts = [_chunk(fn, dfn, sq[i:i + _DISTINCT_CHUNK], z, weight, H) for i in range(0, q.size, _DISTINCT_CHUNK)]
            A = np.concatenate([p[0] for p in parts], axis=0)  # (D, length + 1)
            S = np.concatenate([p[1] for p in parts])
            squares = A * A
            cum = np.cumsum(squares, axis=1)
            if np.all(S - cum[:, -1] >= -1e-14 * S):  # Parseval holds: the panels resolve h_n
                break
        else:
            raise ConvergenceError(f"Hermite coefficients of {act.name} do not resolve at q up to {float(q.max())}")
        tails = np.maximum(S[:, None] - cum, 0.0) / S[:, None]
        need = _first_below(tails)
        dtails, Sd = None, None
        if derivative:
            Sd = np.concatenate([p[2] for p in parts])
            total = q * Sd  # sum_n n a_n^2 = q E[sigma'(u)^2]
            dcum = np.cumsum(squares * np.arange(length + 1), axis=1)
            dtails = np.maximum(total[:, None] - dcum, 0.0) / np.maximum(total[:, None], 1e-300)
            dneed = _first_below(dtails)
            need = None if need is None or dneed is None else max(need, dneed)
        if need is not None and need <= 0.8 * length:
            _LENGTH_HINT[act] = length // 2 if need < 0.3 * length else length
            cut = need + 1
            out = {"coeffs": np.ascontiguousarray(A[:, :cut].T), "second": S, "tails": np.ascontiguousarray(tails[:, :cut].T)}
            if derivative:
                out["second_derivative"] = Sd
                out["dtails"] = np.ascontiguousarray(dtails[:, :cut].T)
            return out
    raise ConvergenceError(f"the Mehler series of {act.name} needs more than 1600 terms at q = {float(q.max())}")


def _chunk(fn, dfn, sq, z, weight, H):
    args = sq[:, None] * z[None, :]
    with np.errstate(over="ignore", invalid="ignore"):
        F = fn(args)
    if not np.isfinite(F).all():
        raise ConvergenceError("the activation is not finite on the quadrature nodes")
    A = F @ H
    S = (F * F) @ weight
    Sd = None
    if dfn is not None:
        G = dfn(args)
        Sd = (G * G) @ weight
    return A, S, Sd


def _first_below(tails: np.ndarray) -> int | None:
    worst = tails.max(axis=0)
    fits = np.nonzero(worst <= _TOLERANCE)[0]
    return int(fits[0]) if len(fits) else None


def _degree(tails_r: np.ndarray, tails_c: np.ndarray, reach: float, shift: int) -> int:
    """First n with reach^(n + shift) sqrt(t_r[n] t_c[n]) <= tolerance (else the last)."""
    n = np.arange(tails_r.size)
    log_bound = (n + shift) * math.log(max(reach, 1e-300)) + 0.5 * (np.log(tails_r) + np.log(tails_c))
    fits = np.nonzero(log_bound <= math.log(_TOLERANCE))[0]
    return int(fits[0]) if len(fits) else tails_r.size - 1


class _Mehler:
    """Smooth activations without a closed form (see the module docstring)."""

    def __init__(self, act: Activation):
        self.act = act

    def prepare(self, q: np.ndarray, derivative: bool) -> dict:
        distinct, inverse = np.unique(q, return_inverse=True)
        t = hermite_tables(self.act, distinct, derivative)
        S = t["second"]
        norms = np.sqrt(np.sum(t["coeffs"] ** 2, axis=0))
        state = {
            # a tail estimated as 0 is only below rounding (a few 1e-15 of the total), not 0
            "q": q, "group": inverse, "coeffs": t["coeffs"][:, inverse], "tails": np.maximum(t["tails"], _FLOOR)[:, inverse],
            "second": S[inverse], "root_second": np.sqrt(S)[inverse], "root_q": np.sqrt(q),
            "unit": (t["coeffs"] / norms)[:, inverse], "distinct": distinct.size,
        }
        if derivative:
            state["second_derivative"] = t["second_derivative"][inverse]
            state["dtails"] = np.maximum(t["dtails"], _FLOOR)[:, inverse]
        return state

    def block(self, state, rows, cols, rho, gap, outer, derivative, deficit=True):
        tails = state["tails"]
        tr, tc = tails[:, rows], tails[:, cols]
        if outer:
            tr, tc = tr.max(axis=1), tc.max(axis=1)
        else:
            tr = tc = np.sqrt(tr * tc).max(axis=1)
        reach = float(np.abs(rho).max()) if rho.size else 0.0
        degree = _degree(tr, tc, reach, 1)
        if derivative:
            dt = state["dtails"]
            dr, dc = dt[:, rows], dt[:, cols]
            if outer:
                dr, dc = dr.max(axis=1), dc.max(axis=1)
            else:
                dr = dc = np.sqrt(dr * dc).max(axis=1)
            degree = max(degree, _degree(dr, dc, reach, 0))
        A = state["coeffs"]
        Ar, Ac = A[: degree + 1, rows], A[: degree + 1, cols]
        if outer:
            Ar, Ac = Ar[:, :, None], Ac[:, None, :]
        accurate = deficit and bool(rho.size) and float(gap.min()) < _SMALL_GAP
        p = Ar[degree] * Ac[degree]
        p = np.array(np.broadcast_to(p, rho.shape))
        dp = np.zeros_like(p) if derivative else None
        dd = np.zeros_like(p) if accurate else None
        term = np.empty_like(p)
        for n in range(degree - 1, -1, -1):
            if accurate:
                dd += p
            if derivative:
                dp *= rho
                dp += p
            p *= rho
            np.multiply(Ar[n], Ac[n], out=term)
            p += term
        rs = _pair(state["root_second"], rows, cols, outer)
        scale = rs[0] * rs[1]
        if accurate:
            D = gap * dd
            if state["distinct"] > 1:
                D += _bracket(state, rows, cols, outer, scale)
        elif deficit:
            D = np.maximum(scale - p, 0.0)
        else:
            D = None
        Vdot = None
        if derivative:
            rq = _pair(state["root_q"], rows, cols, outer)
            Vdot = dp / (rq[0] * rq[1])
        return p, D, Vdot


def _pair(values: np.ndarray, rows: Any, cols: Any, outer: bool) -> tuple[np.ndarray, np.ndarray]:
    a, b = values[rows], values[cols]
    return (a[:, None], b[None, :]) if outer else (a, b)


def _bracket(state: dict, rows: Any, cols: Any, outer: bool, scale: np.ndarray) -> np.ndarray:
    """B_ij = sqrt(V_ii V_jj) |u_i - u_j|^2 / 2: exactly 0 for equal variances, else >= 0."""
    U = state["unit"]
    gi, gj = _pair(state["group"], rows, cols, outer)
    if outer:
        dot = U[:, rows].T @ U[:, cols]
    else:
        dot = np.einsum("ij,ij->j", U[:, rows], U[:, cols])
    return np.where(gi == gj, 0.0, scale * np.maximum(1.0 - dot, 0.0))
