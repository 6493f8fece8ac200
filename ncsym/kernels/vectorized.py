"""Float64 dual kernels over arrays of (q1, q2, rho): kernel matrices at data-set scale.

For Var u = q1, Var v = q2 and Corr(u, v) = rho this evaluates, vectorized over entries,

    V = E[sigma(u) sigma(v)],   D = sqrt(V(q1, q1, 1) V(q2, q2, 1)) - V >= 0,
    Vdot = E[sigma'(u) sigma'(v)]   (the NTK's derivative kernel),

with the gap 1 - rho passed in alongside rho, so that near rho = 1 nothing cancels: the deficit
D (from which the next layer's 1 - rho follows) keeps its relative accuracy for the arc-cosine
family (Cho & Saul 2009), erf (Williams 1997) and the Mehler series, and arccos and
sqrt(1 - rho^2) are never formed from rho. The routes, chosen once per activation:

- arc-cosine family (relu, leaky relu, abs, identity; step and sign for V alone): written in the
  angle theta = 2 asin(sqrt((1 - rho)/2)), with sin t - t cos t by its series for small t;
- a * erf(b x): the arcsine kernel with 1 - x (x its argument) formed from 1 - rho;
- other closed forms of :mod:`ncsym.kernels.closed_form` (gelu, exp, sin, cos, polynomials, ...):
  their float evaluators; D by subtraction;
- smooth activations without a closed form (tanh, silu, softplus, user expressions): the Mehler
  series k = sum_n a_n(q1) a_n(q2) rho^n with the Hermite coefficients computed once per
  distinct variance (one matrix product against Hermite functions on Gauss-Legendre panels),
  truncated where the Parseval tails sum_{m>n} a_m^2 and sum_{m>n} m a_m^2 fall below 5e-15 of
  their totals (an estimate in float64, not a proof), then Horner with the derivative and the
  divided difference (P(1) - P(rho)) / (1 - rho) carried in the same pass. Tests check about
  1e-14 of the scale sqrt(V11 V22) against the high-precision route;
- kinked activations without a closed form (elu, selu, hard_tanh): the Chebyshev interpolant in
  theta of 2-D quadrature from :mod:`ncsym.kernels.numeric`, one per distinct pair of variances
  (vectorized over entries, but its set-up cost grows with the number of distinct pairs).

>>> import numpy as np
>>> out = pair_kernels("relu", 1.0, 1.0, np.array([0.0, 1.0]), derivative=True)
>>> out.value.round(6).tolist(), out.derivative.tolist()
([0.159155, 0.5], [0.25, 0.5])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ncsym.core.errors import ConvergenceError, DomainError
from ncsym.kernels.closed_form import KernelForm, find_closed_form
from ncsym.kernels.mehler_tables import _Mehler
from ncsym.symbolic.activations import Activation, activation

__all__ = ["PairKernels", "LayerEvaluator", "pair_kernels", "layer_evaluator", "family_of"]

_TWO_PI = 2.0 * math.pi
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Entries per evaluation pass in the flat (non-matrix) interface.
_CHUNK = 1 << 14
#: Gaps below this get the cancellation-free deficit (above it, subtraction loses < 7 bits).
_SMALL_GAP = 0.01


@dataclass(frozen=True)
class PairKernels:
    """V, the deficit D = sqrt(V11 V22) - V, and Vdot (None unless asked for)."""

    value: np.ndarray
    deficit: np.ndarray
    derivative: np.ndarray | None


class LayerEvaluator:
    """The kernels of one activation at a fixed set of variances ``q`` (one per input).

    ``second`` holds E[sigma(u_i)^2] and ``second_derivative`` E[sigma'(u_i)^2] per input
    (computed once per distinct variance); :meth:`block` evaluates rows x columns of inputs.

    >>> ev = layer_evaluator("erf", np.array([1.0, 2.0]))
    >>> V, D, Vdot = ev.block(slice(0, 2), slice(0, 2), np.array([[1.0, 0.5], [0.5, 1.0]]),
    ...                       np.array([[0.0, 0.5], [0.5, 0.0]]))
    >>> bool(np.allclose(np.diag(V), ev.second))
    True
    """

    def __init__(self, family: "_Family", q: np.ndarray, derivative: bool):
        self.family = family
        self.q = q
        self.want_derivative = derivative
        self.state = family.prepare(q, derivative)
        self.second = self.state["second"]
        self.second_derivative = self.state.get("second_derivative")

    def block(self, rows: Any, cols: Any, rho: np.ndarray, gap: np.ndarray, *, outer: bool = True,
              derivative: bool | None = None, deficit: bool = True) -> tuple[np.ndarray, Any, Any]:
        """(V, D, Vdot) for inputs ``rows`` x ``cols`` (outer) or paired entrywise (not outer).

        With ``deficit=False`` a family may return None for D (it is not needed).
        """
        derivative = self.want_derivative if derivative is None else derivative
        if derivative and not self.want_derivative:
            raise DomainError("this evaluator was prepared without the derivative kernel")
        return self.family.block(self.state, rows, cols, rho, gap, outer, derivative, deficit)


def layer_evaluator(act: Any, q: np.ndarray, *, derivative: bool = False) -> LayerEvaluator:
    """A :class:`LayerEvaluator` for ``act`` at variances ``q`` (a 1-D float array, all > 0).

    >>> layer_evaluator("relu", np.array([2.0])).second.tolist()
    [1.0]
    """
    act = activation(act)
    q = np.asarray(q, dtype=float).reshape(-1)
    if not np.isfinite(q).all() or (q <= 0).any():
        raise DomainError("variances must be finite and positive (an input with zero variance has no correlation)")
    return LayerEvaluator(family_of(act), q, derivative)


def pair_kernels(act: Any, q1: Any, q2: Any, rho: Any, *, gap: Any = None, derivative: bool = False) -> PairKernels:
    """V, D and (with ``derivative``) Vdot at arrays of (q1, q2, rho), broadcast together.

    ``gap`` is 1 - rho carried separately (default: formed from rho); pass it when rho is
    near 1 and known better as a gap.

    >>> out = pair_kernels("tanh", [1.0, 2.0], 1.5, 0.3)
    >>> out.value.shape
    (2,)
    """
    act = activation(act)
    rho = np.asarray(rho, dtype=float)
    gap = 1.0 - rho if gap is None else np.asarray(gap, dtype=float)
    if np.isnan(rho).any() or (np.abs(rho) > 1.0).any() or (gap < 0).any() or (gap > 2).any():
        raise DomainError("correlations must lie in [-1, 1] (and gaps 1 - rho in [0, 2])")
    q1, q2, rho, gap = np.broadcast_arrays(np.asarray(q1, dtype=float), np.asarray(q2, dtype=float), rho, gap)
    shape = rho.shape
    flat = [np.ascontiguousarray(a).reshape(-1) for a in (q1, q2, rho, gap)]
    distinct, inverse = np.unique(np.concatenate(flat[:2]), return_inverse=True)
    evaluator = layer_evaluator(act, distinct, derivative=derivative)
    index1, index2 = inverse[: flat[0].size], inverse[flat[0].size:]
    size = flat[2].size
    V, D = np.empty(size), np.empty(size)
    Vdot = np.empty(size) if derivative else None
    for start in range(0, size, _CHUNK):
        part = slice(start, min(size, start + _CHUNK))
        v, d, vd = evaluator.block(index1[part], index2[part], flat[2][part], flat[3][part], outer=False)
        V[part], D[part] = v, d
        if derivative:
            Vdot[part] = vd
    return PairKernels(V.reshape(shape), D.reshape(shape), None if Vdot is None else Vdot.reshape(shape))


# -- helpers shared by the families ---------------------------------------------------------

def _pick(values: np.ndarray, rows: Any, cols: Any, outer: bool) -> tuple[np.ndarray, np.ndarray]:
    """values[rows], values[cols] shaped to broadcast over the block."""
    a, b = values[rows], values[cols]
    return (a[:, None], b[None, :]) if outer else (a, b)


def _theta(gap: np.ndarray) -> np.ndarray:
    """arccos(1 - gap) = 2 asin(sqrt(gap / 2)), accurate to a few ulps at both ends."""
    return 2.0 * np.arcsin(np.sqrt(0.5 * gap))


def _g(theta: np.ndarray, sine: np.ndarray, cosine: np.ndarray) -> np.ndarray:
    """G(t) = sin t - t cos t (2 pi E[relu(u) relu(-v)]), by its series where it cancels."""
    out = sine - theta * cosine
    small = theta < 0.3
    if small.any():
        from ncsym.kernels.closed_form import _g_small

        out[small] = _g_small(theta[small])
    return out


# -- the families -----------------------------------------------------------------------------

class _Family:
    def prepare(self, q: np.ndarray, derivative: bool) -> dict:
        raise NotImplementedError

    def block(self, state, rows, cols, rho, gap, outer, derivative, deficit=True):
        raise NotImplementedError


class _ArcCosine(_Family):
    """sigma = R x (x > 0), L x (x < 0) [linear], or r H(x) + l H(-x) [orthant, V only]."""

    def __init__(self, R: float, L: float, r: float, l: float, name: str):
        self.R, self.L, self.r, self.l, self.name = R, L, r, l, name
        self.linear = r == 0 and l == 0

    def prepare(self, q, derivative):
        if self.linear:
            sq = np.sqrt(q)
            return {"q": q, "sq": sq, "second": (self.R**2 + self.L**2) / 2 * q,
                    "second_derivative": np.full_like(q, (self.R**2 + self.L**2) / 2)}
        if derivative:
            raise DomainError(f"the derivative of {self.name} has Dirac deltas: its NTK is infinite")
        return {"q": q, "second": np.full_like(q, (self.r**2 + self.l**2) / 2)}

    def block(self, state, rows, cols, rho, gap, outer, derivative, deficit=True):
        negative = float(rho.min()) < 0 if rho.size else False
        theta = _theta(gap)
        theta_c = None
        if negative:  # near rho = -1, pi - theta from 1 + rho (exact there), not from the gap
            theta_c = np.where(rho < 0, _theta(1.0 + rho), math.pi - theta)
            theta = np.where(rho < 0, math.pi - theta_c, theta)
        if not self.linear:
            r, l = self.r, self.l
            V = ((r * r + l * l) * (math.pi - theta) + 2.0 * r * l * theta) / _TWO_PI
            return V, (r - l) ** 2 * theta / _TWO_PI, None
        R, L = self.R, self.L
        si, sj = _pick(state["sq"], rows, cols, outer)
        s = si * sj
        sine = np.sqrt(gap * (2.0 - gap))
        G = _g(theta, sine, rho)
        # 2 pi V / s = (R^2 + L^2) G(pi - t) - 2 R L G(t), G(pi - t) = pi (1 - cos t) ... rearranged:
        # 2 pi D / s = (R^2 + L^2) pi (1 - cos t) - (R - L)^2 G(t), both terms >= 0 for small t
        D = (s / _TWO_PI) * ((R * R + L * L) * math.pi * gap - (R - L) ** 2 * G)
        if R * L <= 0 and not negative:
            V = (R * R + L * L) / 2 * s - D  # V >= V(0) = s (R^2 + L^2) / (2 pi) here: no cancellation
        else:  # V may be small (rho near -1): from G(pi - t) directly
            G_c = _g(math.pi - theta if theta_c is None else theta_c, sine, -rho)
            V = (s / _TWO_PI) * ((R * R + L * L) * G_c - 2.0 * R * L * G)
        Vdot = None
        if derivative:
            Vdot = ((R * R + L * L) * (math.pi - theta) + 2.0 * R * L * theta) / _TWO_PI
        return V, D, Vdot


class _Erf(_Family):
    """sigma = a erf(b x): V = (2 a^2 / pi) asin(x), x = rho sqrt(Q1 Q2 / ((1 + Q1)(1 + Q2))), Q = 2 b^2 q."""

    def __init__(self, a: float, b: float):
        self.a2, self.b2 = a * a, b * b

    def prepare(self, q, derivative):
        Q = 2.0 * self.b2 * q
        y = Q / (1.0 + Q)
        A = np.arcsin(y)
        return {"root_y": np.sqrt(y), "A": A, "root_A": np.sqrt(A), "root_P": np.sqrt(1.0 + Q),
                "second": 2.0 * self.a2 / math.pi * A,
                "second_derivative": self.a2 * 4.0 * self.b2 / math.pi / np.sqrt(1.0 + 2.0 * Q)}

    def block(self, state, rows, cols, rho, gap, outer, derivative, deficit=True):
        yi, yj = _pick(state["root_y"], rows, cols, outer)
        x1 = yi * yj  # the argument at rho = 1
        x = x1 * rho
        one_minus_x = (1.0 - x1) + x1 * gap
        V = np.arcsin(x)
        factor = 2.0 * self.a2 / math.pi
        D = None
        if deficit:
            D = self._deficit(state, rows, cols, outer, x1, x, one_minus_x, V, gap) * factor
        Vdot = None
        if derivative:
            Pi, Pj = _pick(state["root_P"], rows, cols, outer)
            Vdot = np.sqrt(one_minus_x * (1.0 + x))
            Vdot *= Pi
            Vdot *= Pj
            np.divide(self.a2 * 4.0 * self.b2 / math.pi, Vdot, out=Vdot)
        V *= factor
        return V, D, Vdot

    @staticmethod
    def _deficit(state, rows, cols, outer, x1, x, one_minus_x, V, gap):
        Ai, Aj = _pick(state["root_A"], rows, cols, outer)
        scale = Ai * Aj
        D = scale - V
        small = gap < _SMALL_GAP
        if np.any(small):
            # asin(x1) - asin(x) = asin((x1 - x)(x1 + x) / (x1 sqrt(1 - x^2) + x sqrt(1 - x1^2)))
            x1b = np.broadcast_to(x1, V.shape)[small]
            xs, omx = x[small], one_minus_x[small]
            root = np.sqrt(omx * (1.0 + xs))
            root1 = np.sqrt((1.0 - x1b) * (1.0 + x1b))
            delta = np.arcsin(x1b * gap[small] * (x1b + xs) / (x1b * root + xs * root1))
            D[small] = (np.broadcast_to(scale, V.shape)[small] - np.arcsin(x1b)) + delta
        return D


class _ClosedForm(_Family):
    """Any registry closed form; the derivative kernel through the derivative's own family."""

    def __init__(self, act: Activation, form: KernelForm):
        self.act, self.form = act, form

    def prepare(self, q, derivative):
        if self.form.singular_at_unit:
            raise DomainError(f"E[sigma(u)^2] is infinite for {self.act.name} (it has Dirac deltas)")
        state = {"q": q, "second": np.asarray(self.form.numeric(np.ones_like(q), q, q), dtype=float)}
        state["root_second"] = np.sqrt(state["second"])
        if derivative:
            inner = LayerEvaluator(family_of(self.act.derivative()), q, False)
            state["derivative"] = inner
            state["second_derivative"] = inner.second
        return state

    def block(self, state, rows, cols, rho, gap, outer, derivative, deficit=True):
        qi, qj = _pick(state["q"], rows, cols, outer)
        V = np.asarray(self.form.numeric(rho, qi, qj), dtype=float)
        si, sj = _pick(state["root_second"], rows, cols, outer)
        D = np.maximum(si * sj - V, 0.0)
        Vdot = state["derivative"].block(rows, cols, rho, gap, outer=outer)[0] if derivative else None
        return V, D, Vdot


class _Grouped(_Family):
    """Kinked activations without a closed form: one interpolant per distinct variance pair."""

    def __init__(self, act: Activation):
        self.act = act

    def prepare(self, q, derivative):
        from ncsym.kernels.numeric import quadrature_kernel

        distinct, inverse = np.unique(q, return_inverse=True)
        second = np.array([quadrature_kernel(self.act, 1.0, float(v), float(v)) for v in distinct])[inverse]
        state = {"distinct": distinct, "inverse": inverse, "second": second, "root_second": np.sqrt(second)}
        if derivative:
            inner = LayerEvaluator(family_of(self.act.derivative()), q, False)
            state["derivative"], state["second_derivative"] = inner, inner.second
        return state

    def block(self, state, rows, cols, rho, gap, outer, derivative, deficit=True):
        from ncsym.kernels.numeric import float_kernel_evaluator

        distinct = state["distinct"]
        gi, gj = _pick(state["inverse"], rows, cols, outer)
        gi, gj = np.broadcast_arrays(gi, gj)
        V = np.empty(rho.shape)
        # 1 - rho -> rho is exact enough here: the interpolant is in theta = arccos(rho) itself
        pair = gi * len(distinct) + gj
        for key in np.unique(pair):
            mask = pair == key
            a, b = divmod(int(key), len(distinct))
            V[mask] = float_kernel_evaluator(self.act, float(distinct[a]), float(distinct[b]))(rho[mask])
        si, sj = _pick(state["root_second"], rows, cols, outer)
        D = np.maximum(si * sj - V, 0.0)
        Vdot = state["derivative"].block(rows, cols, rho, gap, outer=outer)[0] if derivative else None
        return V, D, Vdot


@lru_cache(maxsize=128)
def family_of(act: Activation) -> _Family:
    """The evaluation route for ``act`` (cached per activation)."""
    form = find_closed_form(act)
    if form is not None:
        if form.entry.name == "piecewise_linear":
            R, r, L, l, d = (float(p) for p in form._float_params)
            if d == 0 and (r == l == 0 or R == L == 0):
                return _ArcCosine(R, L, r, l, act.name)
        if form.entry.name == "erf":
            const, atoms, bumps = form._float_params
            if const == 0 and len(atoms) == 1 and not bumps:
                (a, b), = atoms
                return _Erf(float(a), float(b))
        return _ClosedForm(act, form)
    if act.deltas:
        raise DomainError(f"{act.name} contains Dirac deltas and has no closed-form kernel")
    if len(act.pieces) == 1:
        return _Mehler(act)
    return _Grouped(act)
