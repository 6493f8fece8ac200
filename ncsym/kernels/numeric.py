"""Numeric dual kernels for activations without a closed form (private helper of ncsym.kernels).

Float64:

- Hermite coefficients a_n(q) of a smooth activation from one pass of Gauss-Legendre panels
  (the orthonormal h_n by their three-term recurrence, scaled by the Gaussian weight so nothing
  overflows), then the Mehler sum by Horner;
- two-dimensional quadrature: u = sqrt(q1) z1, v = alpha z1 + beta z2; the outer integral over
  z1 and the inner Gaussian smoothing over z2 both use Gauss-Legendre panels split exactly at the
  kinks of sigma (which, for the inner integral, move with z1), with panels graded towards the
  kink line of v when beta is small (rho near +-1);
- for many points at fixed variances and a kinked activation, a Chebyshev interpolant of
  theta -> k(cos theta) on [0, pi] built from that quadrature (k is analytic in theta even where
  it is not in rho: (1 - rho^2)^(3/2) = sin^3 theta).

Float64 accuracy, measured against certified values over the zoo and rho in [-1, 1] with its ends
(tests/test_certified.py): closed forms within 1 ulp of the scale E[sigma^2], the float Mehler
series within 2.2 ulp (5e-16), the Chebyshev-in-theta route of kinked activations without a closed
form within 55 ulp (1.2e-14, selu; 44 hard_tanh, 23 elu).

Arbitrary precision: certified first (exact inner smoothing for kinked activations and at rho = +-1,
:mod:`ncsym.kernels.certified_smoothing`; the Mehler sum in arb balls), then the Mehler series with
exact Parseval tails from :mod:`ncsym.hermite_series.coefficients` (a rigorous bound), else nested
mpmath quadrature with an estimated error.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable

import mpmath
import numpy as np
import sympy

from ncsym.symbolic.activations import Activation
from ncsym.core.errors import ConvergenceError, DomainError, NcsymError
from ncsym.core.results import GUARD_DIGITS, to_mpf

__all__ = [
    "float_hermite_table", "quadrature_kernel", "float_kernel_evaluator", "mp_kernel_value",
    "numeric_kernel_matrix", "horner_mehler",
]

_GL_ORDER = 16
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_GL_ORDER)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Integration range in standard-normal units: phi(9.5) ~ 1e-20.
_CUTOFF = 9.5
#: Widest Gauss-Legendre panel (standard-normal units) in the 2-D quadrature.
_PANEL_WIDTH = 1.25


# -- small pieces ---------------------------------------------------------------------------------

def _breakpoints(act: Activation) -> list[float]:
    return [float(b) for b in act.breakpoints]


def _is_smooth(act: Activation) -> bool:
    return len(act.pieces) == 1 and not act.deltas


def _numpy_fn(act: Activation) -> Callable[[np.ndarray], np.ndarray]:
    if act.deltas:
        raise DomainError(f"{act.name} contains Dirac deltas; its kernel has no numeric quadrature here")
    return act.numpy()


def _panel_nodes(cuts: list[float], lo: float, hi: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [lo, hi], split at ``cuts`` and into panels <= width."""
    edges = sorted({lo, hi, *[p for p in cuts if lo < p < hi]})
    nodes, weights = [], []
    for a, b in zip(edges, edges[1:]):
        count = max(1, int(math.ceil((b - a) / width)))
        sub = np.linspace(a, b, count + 1)
        half = np.diff(sub)[:, None] / 2
        mid = (sub[:-1] + sub[1:])[:, None] / 2
        nodes.append((mid + half * _GL_X).ravel())
        weights.append((half * _GL_W).ravel())
    return np.concatenate(nodes), np.concatenate(weights)


# -- float Hermite coefficients ------------------------------------------------------------------

def float_hermite_table(act: Activation, q: float, n_max: int) -> tuple[np.ndarray, float]:
    """(a_0..a_n_max, E[sigma(sqrt(q) z)^2]) in float64 by Gauss-Legendre panels.

    Absolute accuracy about 1e-16 times the size of sigma; used for float evaluation only.
    """
    fn = _numpy_fn(act)
    sq = math.sqrt(q)
    reach = math.sqrt(4 * n_max + 2) + 9.0  # h_n phi is negligible beyond its turning point
    cuts = [b / sq for b in _breakpoints(act)]
    z, w = _panel_nodes(cuts, -reach, reach, 0.25)
    values = fn(sq * z)
    if not np.isfinite(values).all():
        raise ConvergenceError(f"{act.name} is not finite on the quadrature nodes at q = {q}")
    weight = w * np.exp(-z * z / 2) * _INV_SQRT_2PI
    second = float(np.dot(weight, values * values))
    coeffs = np.empty(n_max + 1)
    previous = np.zeros_like(z)
    current = weight * values  # g_n = h_n(z) phi(z) w sigma: bounded, so no overflow
    coeffs[0] = current.sum()
    for n in range(n_max):
        nxt = (z * current - math.sqrt(n) * previous) / math.sqrt(n + 1)
        previous, current = current, nxt
        coeffs[n + 1] = current.sum()
    return coeffs, second


def _tail_table(act: Activation, q: float, n_long: int) -> tuple[np.ndarray, float, np.ndarray] | None:
    """(a_0..a_L, E sigma^2, tails) from one quadrature table of length L = n_long.

    tails[n] = sum_{n < m <= L} a_m^2 (small squares keep their relative accuracy) plus an
    allowance for m > L equal to the sum over the last half of the table (for the decay of
    analytic activations, exp(-c sqrt(m)), the true remainder is far smaller). None when the
    table fails Parseval (E sigma^2 - sum a_m^2 beyond 1e-13 relative: quadrature trouble).
    """
    coeffs, second = float_hermite_table(act, q, n_long)
    squares = coeffs**2
    if abs(second - float(np.sum(squares))) > 1e-13 * second:
        return None
    remainder = float(np.sum(squares[n_long // 2 + 1:]))
    tails = np.concatenate([np.cumsum(squares[::-1])[::-1][1:], [0.0]]) + remainder
    return coeffs, second, tails


def _float_mehler_coefficients(act: Activation, q: float, tolerance: float) -> tuple[np.ndarray, float, np.ndarray] | None:
    """(a_0..a_N, E sigma^2, tails) with tails[n] bounding sum_{m > n} a_m^2 and
    tails[N] <= tolerance * E sigma^2; None when 400 coefficients do not get there."""
    for n_max in (60, 150, 400):
        table = _tail_table(act, q, 2 * n_max)
        if table is None:
            return None
        coeffs, second, tails = table
        fits = np.nonzero(tails[: n_max + 1] <= tolerance * second)[0]
        if len(fits):
            n = int(fits[0])
            return coeffs[: n + 1], second, tails[: n + 1]
    return None


def horner_mehler(terms: np.ndarray, values: np.ndarray) -> np.ndarray:
    """sum_n terms[n] values^n by Horner."""
    out = np.full_like(values, terms[-1])
    for t in terms[-2::-1]:
        out *= values
        out += t
    return out


# -- 2-D quadrature in float64 ------------------------------------------------------------------

def quadrature_kernel(act: Activation, rho: float, q1: float, q2: float) -> float:
    """E[sigma(u) sigma(v)] for Var u = q1, Var v = q2, Corr = rho, by 2-D Gauss-Legendre panels."""
    fn = _numpy_fn(act)
    breaks = _breakpoints(act)
    s1 = math.sqrt(q1)
    rho = max(-1.0, min(1.0, rho))
    alpha = rho * math.sqrt(q2)  # v = alpha z1 + beta z2
    beta = math.sqrt(q2) * math.sqrt((1.0 - rho) * (1.0 + rho))
    cuts = [b / s1 for b in breaks]
    if alpha != 0:
        for b in breaks:
            centre = b / alpha
            cuts.append(centre)
            # grade the outer panels towards the kink line of v, whose width is beta/|alpha|
            width = beta / abs(alpha)
            step = width
            while 0 < step < _PANEL_WIDTH:
                cuts += [centre - step, centre + step]
                step *= 2.0
    z1, w1 = _panel_nodes(cuts, -_CUTOFF, _CUTOFF, _PANEL_WIDTH)
    outer = fn(s1 * z1) * w1 * np.exp(-z1 * z1 / 2) * _INV_SQRT_2PI
    mu = alpha * z1
    if beta == 0.0:
        inner = fn(mu)
    else:
        inner = _smoothed(fn, breaks, mu, beta)
    return float(np.dot(outer, inner))


def _smoothed(fn: Callable, breaks: list[float], mu: np.ndarray, beta: float) -> np.ndarray:
    """W(mu) = E[sigma(mu + beta z)] for each mu, panels split at the moving kinks."""
    edges = [np.full_like(mu, -_CUTOFF)]
    if breaks:
        moving = np.sort(np.clip((np.array(breaks)[None, :] - mu[:, None]) / beta, -_CUTOFF, _CUTOFF), axis=1)
        edges += [moving[:, j] for j in range(moving.shape[1])]
    edges.append(np.full_like(mu, _CUTOFF))
    per_segment = int(math.ceil(2 * _CUTOFF / _PANEL_WIDTH))
    total = np.zeros_like(mu)
    fractions = (np.arange(per_segment)[:, None] + (_GL_X[None, :] + 1) / 2).ravel() / per_segment  # in (0, 1)
    sub_weights = np.tile(_GL_W / 2, per_segment) / per_segment
    for lo, hi in zip(edges, edges[1:]):
        length = hi - lo
        z2 = lo[:, None] + length[:, None] * fractions[None, :]
        weight = length[:, None] * sub_weights[None, :] * np.exp(-z2 * z2 / 2) * _INV_SQRT_2PI
        total += np.sum(weight * fn(mu[:, None] + beta * z2), axis=1)
    return total


# -- float evaluators for a DualKernel ----------------------------------------------------------

@lru_cache(maxsize=64)
def float_kernel_evaluator(act: Activation, q1: float, q2: float) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorized float64 evaluator of k(rho) at fixed variances, for an activation without
    a closed form: Mehler with a rigorous tail when the series converges fast enough, else a
    Chebyshev interpolant in theta = arccos(rho) built from 2-D quadrature."""
    mehler = _mehler_terms(act, q1, q2)
    if mehler is not None:
        terms, tails = mehler
        return _mehler_float_evaluator(terms, tails)
    return _chebyshev_theta(act, q1, q2)


def _mehler_terms(act: Activation, q1: float, q2: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Float Mehler coefficients t_n = a_n(q1) a_n(q2) and bounds on |sum_{m>n} t_m|."""
    if not _is_smooth(act):
        return None
    first = _float_mehler_coefficients(act, q1, FLOAT_TOLERANCE)
    second = first if q1 == q2 else _float_mehler_coefficients(act, q2, FLOAT_TOLERANCE)
    if first is None or second is None:
        return None
    n = max(len(first[0]), len(second[0]))
    if len(first[0]) < n:
        first = _extend(act, q1, n)
    if len(second[0]) < n:
        second = _extend(act, q2, n)
    # Cauchy-Schwarz: |sum_{m>n} a_m(q1) a_m(q2)| <= sqrt(T_n(q1) T_n(q2))
    return first[0] * second[0], np.sqrt(first[2] * second[2])


def _extend(act: Activation, q: float, n: int) -> tuple[np.ndarray, float, np.ndarray]:
    coeffs, second, tails = _tail_table(act, q, 2 * n)
    return coeffs[:n], second, tails[:n]


#: Float tails are accepted below this fraction of sqrt(E sigma(u)^2 E sigma(v)^2).
FLOAT_TOLERANCE = 1e-16


_CHUNK = 1 << 14  # points per pass: keeps the Horner / Clenshaw work arrays in cache


def _mehler_float_evaluator(terms: np.ndarray, tails: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Float evaluator of the truncated Mehler series sum_{n <= N} terms[n] rho^n on [-1, 1].

    tails[n] bounds |sum_{m > n} terms[m]| (the Parseval tail), so truncating at N costs at most
    tails[N] for |rho| <= 1. The polynomial is then economized: converted to the Chebyshev basis
    (stable: x^n has non-negative Chebyshev coefficients, as do the terms when q1 = q2) and cut
    at the first degree M where the dropped coefficients sum, with tails[N], to below
    FLOAT_TOLERANCE of the scale. For tanh this is M = 42 against N = 157. Clenshaw's recurrence
    then runs in cache-sized chunks.
    """
    scale = max(float(np.sum(np.abs(terms))) + float(tails[-1]), 1e-300)
    tolerance = FLOAT_TOLERANCE * scale
    chebyshev = np.polynomial.chebyshev.poly2cheb(terms)
    dropped = np.concatenate([np.cumsum(np.abs(chebyshev)[::-1])[::-1][1:], [0.0]])
    fits = np.nonzero(dropped + tails[-1] <= 2 * tolerance)[0]
    degree = int(fits[0]) if len(fits) else len(chebyshev) - 1
    chebyshev = chebyshev[: degree + 1].copy()

    def evaluate(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        flat = values.reshape(-1)
        out = np.empty_like(flat)
        for start in range(0, flat.size, _CHUNK):
            out[start:start + _CHUNK] = _clenshaw(chebyshev, flat[start:start + _CHUNK])
        return out.reshape(values.shape)

    evaluate.degree = degree  # type: ignore[attr-defined]
    evaluate.mehler_degree = len(terms) - 1  # type: ignore[attr-defined]
    return evaluate


def _clenshaw(coeffs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """sum_m coeffs[m] T_m(values) by Clenshaw's recurrence, in place."""
    twice = 2.0 * values
    b1 = np.zeros_like(values)
    b2 = np.zeros_like(values)
    work = np.empty_like(values)
    for c in coeffs[:0:-1]:
        np.multiply(twice, b1, out=work)
        work -= b2
        work += c
        b1, b2, work = work, b1, b2
    np.multiply(values, b1, out=work)
    work -= b2
    work += coeffs[0]
    return work


def _chebyshev_theta(act: Activation, q1: float, q2: float) -> Callable[[np.ndarray], np.ndarray]:
    scale = math.sqrt(quadrature_kernel(act, 1.0, q1, q1) * quadrature_kernel(act, 1.0, q2, q2))
    for degree in (32, 64, 128, 256):
        t = np.cos(np.pi * (np.arange(degree + 1) + 0.5) / (degree + 1))  # Chebyshev points in (-1, 1)
        theta = np.pi * (t + 1) / 2
        values = np.array([quadrature_kernel(act, math.cos(th), q1, q2) for th in theta])
        coeffs = np.polynomial.chebyshev.chebfit(t, values, degree)
        if np.max(np.abs(coeffs[-4:])) <= 1e-15 * max(scale, 1e-300):
            break

    def evaluate(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        flat = values.reshape(-1)
        out = np.empty_like(flat)
        for start in range(0, flat.size, _CHUNK):
            chunk = flat[start:start + _CHUNK]
            root_minus, root_plus = np.sqrt(1.0 - chunk), np.sqrt(1.0 + chunk)
            theta = 2.0 * np.arctan2(root_minus, root_plus)  # arccos, accurate near +-1
            out[start:start + _CHUNK] = _clenshaw(coeffs, theta * (2.0 / np.pi) - 1.0)
        return out.reshape(values.shape)

    return evaluate


# -- kernel matrices -------------------------------------------------------------------------------

def numeric_kernel_matrix(act: Activation, correlation: np.ndarray, diag: np.ndarray) -> np.ndarray:
    """V(K) for an activation without a closed form (float64), K = correlation * sqrt(q_i q_j)."""
    size = correlation.shape[0]
    if _is_smooth(act):
        distinct, index = np.unique(diag, return_inverse=True)
        tables = [_float_mehler_coefficients(act, float(q), 1e-15) for q in distinct]  # ~1e-13 target
        if all(t is not None for t in tables):
            degree = max(len(t[0]) for t in tables)
            A = np.zeros((len(distinct), degree))
            for i, t in enumerate(tables):
                A[i, : len(t[0])] = t[0]
            A = A[index]
            V = np.zeros_like(correlation)
            for n in range(degree - 1, -1, -1):
                V *= correlation
                V += np.outer(A[:, n], A[:, n])
            seconds = np.array([t[1] for t in tables])[index]
            np.fill_diagonal(V, seconds)
            return (V + V.T) / 2
    V = np.empty_like(correlation)
    for i in range(size):
        for j in range(i, size):
            V[i, j] = V[j, i] = quadrature_kernel(act, float(correlation[i, j]), float(diag[i]), float(diag[j]))
    return V


# -- arbitrary precision -----------------------------------------------------------------------------

def mp_kernel_value(act: Activation, q1: sympy.Expr, q2: sympy.Expr, value: Any, dps: int) -> tuple[Any, Any, str]:
    """(k(value), error bound, method) at ``dps`` digits for an activation without a closed form.

    A method starting with "certified" means the bound is proved (ball arithmetic): exact inner
    smoothing for kinked activations and at rho = +-1, else the certified Mehler sum."""
    from ncsym.kernels.certified_smoothing import certified_smoothed_value

    if not _is_smooth(act) or abs(mpmath.mpf(value)) == 1:
        try:
            smoothed = certified_smoothed_value(act, q1, q2, value, dps)
        except NcsymError:
            smoothed = None
        if smoothed is not None:
            return smoothed
    try:
        certified = certified_mehler_value(act, q1, q2, value, dps)
    except (NcsymError, NotImplementedError, ValueError, TypeError):
        certified = None
    if certified is not None:
        return certified
    series = _mp_mehler(act, q1, q2, value, dps)
    if series is not None:
        return series
    return _mp_quadrature(act, q1, q2, value, dps)


def _mp_mehler(act: Activation, q1: sympy.Expr, q2: sympy.Expr, value: Any, dps: int) -> tuple[Any, Any, str] | None:
    try:
        from ncsym.hermite_series.coefficients import hermite_coefficients, parseval_tail
    except ImportError:  # pragma: no cover
        return None
    work = dps + GUARD_DIGITS
    magnitude = abs(mpmath.mpf(value))
    for n_max in (32, 64, 128, 256):
        try:
            coeffs1 = hermite_coefficients(act, n_max, q=q1, dps=work)
            coeffs2 = coeffs1 if q1 == q2 else hermite_coefficients(act, n_max, q=q2, dps=work)
            tail1 = parseval_tail(act, n_max, q=q1, dps=work)
            tail2 = tail1 if q1 == q2 else parseval_tail(act, n_max, q=q2, dps=work)
        except (NcsymError, NotImplementedError, ValueError):
            return None
        with mpmath.workdps(work + 5):
            point = mpmath.mpf(value)
            total, error, power = mpmath.mpf(0), mpmath.mpf(0), mpmath.mpf(1)
            for a, b in zip(coeffs1, coeffs2):
                total += a.value * b.value * power
                error += (abs(a.value) * b.error + abs(b.value) * a.error + a.error * b.error) * abs(power)
                power *= point
            bound1 = max(tail1.value, 0) + tail1.error
            bound2 = max(tail2.value, 0) + tail2.error
            truncation = magnitude ** (n_max + 1) * mpmath.sqrt(bound1 * bound2)
            error += truncation + abs(total) * mpmath.mpf(10) ** (-work)
            target = mpmath.mpf(10) ** (-dps) * max(abs(total), mpmath.mpf(10) ** (-dps))
            if error <= target:
                return total, error, f"Mehler series, {n_max + 1} terms, rigorous Parseval tail bound"
    return None


#: Beyond this |rho| the Mehler series converges too slowly for a certified sum to be cheap.
CERTIFIED_RHO_MAX = 0.95


def certified_mehler_value(act: Activation, q1: sympy.Expr, q2: sympy.Expr, value: Any,
                           dps: int) -> tuple[Any, Any, str] | None:
    """k(rho) = sum_{n <= N} a_n(q1) a_n(q2) rho^n plus a proved tail, all in arb balls, or None.

    The a_n come from :func:`ncsym.hermite_series.certified.certified_coefficients` (each only
    as precise as rho^n asks), E[sigma^2] from arb ball integration, and the tail from
    Cauchy-Schwarz and Parseval: |sum_{n > N} a_n(q1) a_n(q2) rho^n| <= |rho|^(N+1) sqrt(T_N(q1) T_N(q2))
    with T_N(q) = E[sigma(sqrt(q) z)^2] - sum_{n <= N} a_n(q)^2 (an upper bound, as a ball).
    None when python-flint is missing, |rho| > CERTIFIED_RHO_MAX, or no ball rule applies.
    """
    from ncsym.gaussian.certified import bits_for, flint_or_none, to_mp
    from ncsym.gaussian.moments import gaussian_moment
    from ncsym.hermite_series.certified import certified_coefficients

    flint = flint_or_none()
    point = mpmath.mpf(value)
    if flint is None or abs(point) > CERTIFIED_RHO_MAX or act.deltas:
        return None
    arb = flint.arb
    sign, man, exp, _ = point._mpf_
    seconds = []
    for q in ((q1,) if q1 == q2 else (q1, q2)):
        moment = gaussian_moment(act, 2, q=q, method="certified", dps=dps + 5)
        seconds.append(moment)
    scale = math.sqrt(float(seconds[0].value) * float(seconds[-1].value)) or 1.0
    magnitude = float(abs(point))
    target = 10.0 ** (-(dps + 2)) * scale
    if magnitude == 0:
        n_max = 0
    else:
        n_max = max(1, int(math.ceil(math.log(target / scale) / math.log(magnitude))))
    slack = [min(magnitude ** -n, 1e300) if magnitude else 1e300 for n in range(n_max + 1)]
    slack[0] = 1.0
    offset = act.odd_about
    shifted = act if not offset else Activation(act.expr - offset, name=f"{act.name} - ({offset})")
    tables = [certified_coefficients(shifted, n_max, q, dps, slack=slack, guard=4)
              for q in ((q1,) if q1 == q2 else (q1, q2))]
    old = flint.ctx.prec
    flint.ctx.prec = bits_for(dps)
    try:
        def ball(v, e):
            return arb(mpmath.nstr(v, dps + 25, strip_zeros=False)) + arb(0, float(e) * 1.001 + 1e-300) \
                + arb(0, float(abs(v)) * 10.0 ** -(dps + 20))

        first = [ball(v, e) for v, e in zip(*tables[0][:2])]
        second = first if len(tables) == 1 else [ball(v, e) for v, e in zip(*tables[1][:2])]
        if offset:
            c = arb(mpmath.nstr(sympy.N(offset, dps + 30), dps + 25)) + arb(0, 10.0 ** -(dps + 20))
            first[0] = first[0] + c
            if second is not first:
                second[0] = second[0] + c
        r = (-1) ** sign * arb(man) * arb(2) ** exp if man else arb(0)
        total, power = arb(0), arb(1)
        for a, b in zip(first, second):
            total += a * b * power
            power *= r
        moments = [ball(m.value, m.error) for m in seconds]
        tails = []
        for coeffs, moment in zip((first, second) if len(tables) == 2 else (first,), moments):
            tail = moment - sum((a * a for a in coeffs), arb(0))
            tails.append(max(tail.upper(), arb(0)))
        t1, t2 = tails[0], tails[-1]
        truncation = abs(r) ** (n_max + 1) * (t1 * t2).sqrt() if magnitude else arb(0)
        total = total + arb(0, truncation.upper())
        if not total.is_finite():
            return None
        result, error = to_mp(total, dps + 5)
    finally:
        flint.ctx.prec = old
    if error > 10.0 ** -dps * max(abs(float(result)), 10.0 ** -dps):
        return None
    return result, error, (f"certified: Mehler series, {n_max + 1} terms in arb balls, "
                           "proved Parseval tail bound")


def _mp_quadrature(act: Activation, q1: sympy.Expr, q2: sympy.Expr, value: Any, dps: int) -> tuple[Any, Any, str]:
    if act.deltas:
        raise DomainError(f"{act.name} contains Dirac deltas and no closed form; its kernel cannot be integrated numerically")
    fn = act.mpmath()
    work = dps + GUARD_DIGITS
    with mpmath.workdps(work):
        first = _nested_quad(fn, act, q1, q2, mpmath.mpf(value), work, "tanh-sinh")
    with mpmath.workdps(work):
        second = _nested_quad(fn, act, q1, q2, mpmath.mpf(value), work, "gauss-legendre")
        error = abs(first - second) * 10 + abs(first) * mpmath.mpf(10) ** (-work)
    return first, error, "2-D quadrature (mpmath, two rules; estimated error)"


def _nested_quad(fn: Callable, act: Activation, q1: sympy.Expr, q2: sympy.Expr, r: Any, work: int, rule: str) -> Any:
    s1 = mpmath.sqrt(to_mpf(q1, work))
    s2 = mpmath.sqrt(to_mpf(q2, work))
    breaks = [to_mpf(b, work) for b in act.breakpoints]
    alpha = r * s2
    beta = s2 * mpmath.sqrt((1 - r) * (1 + r))
    norm = 1 / mpmath.sqrt(2 * mpmath.pi)

    def density(t: Any) -> Any:
        return mpmath.exp(-t * t / 2) * norm

    def inner(z1: Any) -> Any:
        mu = alpha * z1
        if beta == 0:
            return fn(mu)
        points = sorted((b - mu) / beta for b in breaks)
        return mpmath.quad(lambda z2: density(z2) * fn(mu + beta * z2), [-mpmath.inf, *points, mpmath.inf], method=rule)

    outer_points = sorted({b / s1 for b in breaks} | ({b / alpha for b in breaks} if alpha != 0 else set()))
    return mpmath.quad(lambda z1: density(z1) * fn(s1 * z1) * inner(z1), [-mpmath.inf, *outer_points, mpmath.inf],
                       method=rule)
