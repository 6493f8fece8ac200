"""Certified Hermite coefficients, many at once, in ball arithmetic (python-flint).

a_n = int f(sqrt(q) z) h_n(z) phi(z) dz for n = 0..N from one set of Gauss-Legendre panels on
[-L, L] (split at the breakpoints). The bound is proved:

- nodes and weights are arb enclosures of the exact Gauss-Legendre rule
  (``arb.legendre_p_root``), the values f, phi and the recurrence
  h_{n+1} = (z h_n - sqrt(n) h_{n-1}) / sqrt(n + 1) run in ball arithmetic;
- the rule's error on a panel is at most (64/15) M rho^(-2m) / (rho^2 - 1) for an integrand
  analytic in the Bernstein ellipse E_rho and bounded by M there (Trefethen, "Approximation
  Theory and Approximation Practice", 2013, Theorem 19.3). Analyticity and M are proved by
  evaluating f phi on boxes covering the ellipse's bounding rectangle (a non-finite ball means
  a singularity may be inside: the panel is halved), and |h_n(z)| <= sqrt(n!) r^(-n) e^(R r + r^2/2)
  for |z| <= R and any r > 0 (Cauchy's estimate on the generating function e^(z t - t^2/2));
- beyond L, Cauchy-Schwarz with ||h_n|| = 1 gives |int_{|z|>L} f h_n phi| <= (int_{|z|>L} f^2 phi)^(1/2)
  for every n, bounded from the envelope of f^2 (:func:`ncsym.gaussian.certified.envelope`).

>>> from ncsym import zoo
>>> values, errors, details = certified_coefficients(zoo.tanh, 5, 1, 20)
>>> mpmath.nstr(values[1], 15), errors[1] < 1e-20, values[2], errors[2]
('0.605705509602159', True, mpf('0.0'), mpf('0.0'))
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import mpmath
import sympy

from ncsym.core.errors import DomainError
from ncsym.gaussian.certified import (
    ball_function, bits_for, cutoff, envelope, flint_or_none, to_mp,
)
from ncsym.hermite_series.numeric import strip_half_width
from ncsym.symbolic.activations import Activation

__all__ = ["certified_coefficients", "METHOD"]

METHOD = ("certified: ball Gauss-Legendre panels (Bernstein-ellipse bound), Hermite recurrence in arb, "
          "rigorous Gaussian tail")

_OO, _NOO = sympy.oo, sympy.S.NegativeInfinity

#: Boxes along the real axis covering each panel's ellipse (two rows above the axis).
_BOXES = 8
#: Most Gauss-Legendre nodes on one panel; beyond that the panel is halved.
_MAX_NODES = 160


@lru_cache(maxsize=256)
def _legendre_rule(m: int, prec: int) -> tuple[tuple, tuple]:
    flint = flint_or_none()
    old = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        pairs = [flint.arb.legendre_p_root(m, k, weight=True) for k in range(m)]
    finally:
        flint.ctx.prec = old
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _hermite_bound_logs(R: float, n_max: int) -> list[float]:
    """log of sqrt(n!) r^-n e^(R r + r^2/2) at the best r, for n = 0..n_max (floats, for sizing)."""
    out = [0.0]
    for n in range(1, n_max + 1):
        r = (math.sqrt(R * R + 4 * n) - R) / 2
        out.append(0.5 * math.lgamma(n + 1) - n * math.log(r) + R * r + r * r / 2)
    return out


def _hermite_bounds(R, n_max: int, flint) -> list:
    """Upper bounds (arb) of max_{|z| <= R} |h_n(z)| for n = 0..n_max (Cauchy's estimate)."""
    arb = flint.arb
    Rf = float(R.upper())
    out = [arb(1)]
    log_fact = arb(0)
    for n in range(1, n_max + 1):
        log_fact += arb(n).log()
        r = arb((math.sqrt(Rf * Rf + 4 * n) - Rf) / 2)  # any r > 0 is valid; this one is near-optimal
        out.append((log_fact / 2 - n * r.log() + R * r + r * r / 2).exp().upper())
    return out


class _Panel:
    __slots__ = ("centre", "half", "rho", "bound")

    def __init__(self, centre, half, rho, bound):
        self.centre, self.half, self.rho, self.bound = centre, half, rho, bound


def _ellipse_bound(f, root_q, centre, half, rho, flint):
    """max |f(sqrt(q) z) phi(z)| over the rectangle enclosing the Bernstein ellipse of the panel
    (semi-axes half (rho + 1/rho)/2, half (rho - 1/rho)/2), or None when not proved analytic."""
    arb, acb = flint.arb, flint.acb
    a_axis = half * (rho + 1 / rho) / 2
    b_axis = half * (rho - 1 / rho) / 2
    best = arb(0)
    step = 2 * a_axis / _BOXES
    for i in range(_BOXES):
        re = arb(centre - a_axis + (i + arb(1) / 2) * step, (step / 2).upper())
        for j in range(2):  # |f(conj z)| = |f(z)| for a real integrand: the upper half suffices
            im = arb(b_axis * (2 * j + 1) / 4, (b_axis / 4).upper())
            z = acb(re, im)
            value = f(acb(root_q) * z, True) * (-(z * z) / 2).exp()
            if not value.is_finite():
                return None
            size = abs(value).upper()
            best = best if best >= size else size
    return best


def _panels(f, root_q, a, b, width: float, height: float, flint) -> list[_Panel]:
    """Panels of [a, b] (arb endpoints) with a proved ellipse each, halving where needed."""
    arb = flint.arb
    count = max(1, int(math.ceil(float((b - a).upper()) / width)))
    todo = [(a + (b - a) * k / count, a + (b - a) * (k + 1) / count, 0) for k in range(count)]
    out = []
    while todo:
        lo, hi, depth = todo.pop()
        half = (hi - lo) / 2
        centre = (hi + lo) / 2
        ratio = height / float(half.mid())
        rho = arb(ratio + math.sqrt(1 + ratio * ratio))
        bound = _ellipse_bound(f, root_q, centre, half, rho, flint)
        if bound is None:
            if depth > 14:
                raise DomainError("certified Hermite coefficients: no analytic ellipse around a panel "
                                  "(a singularity on the integration path?)")
            mid = centre
            todo += [(lo, mid, depth + 1), (mid, hi, depth + 1)]
            continue
        out.append(_Panel(centre, half, rho, bound))
    return out


def certified_coefficients(act: Activation, n_max: int, q: Any, dps: int,
                           slack: Any = None, guard: int = 12) -> tuple[list, list, dict]:
    """Values and proved error bounds of a_0..a_n_max, each within 10^-(dps+guard) (absolute),
    or within 10^-(dps+guard) slack[n] when a caller needs a_n less precisely (a Mehler sum at
    |rho| < 1 weighs a_n by |rho|^n, so its a_n may be coarser by |rho|^-n)."""
    flint = flint_or_none()
    if flint is None:
        raise DomainError("certified Hermite coefficients need python-flint")
    if act.deltas:
        raise DomainError(f"{act.name} contains Dirac deltas; it has no Hermite quadrature")
    if act.parameters:
        raise DomainError(f"{act.name} has symbolic parameters; substitute values first")
    symmetry = act.parity if act.parity in (-1, 1) else None
    old = flint.ctx.prec
    extra_bits = int(1.5 * min(n_max, 40 + 3 * math.sqrt(n_max) * 12)) + 20
    try:
        for attempt in range(4):
            flint.ctx.prec = bits_for(dps + guard) + extra_bits
            result = _attempt(act, n_max, q, dps, symmetry, flint, slack, guard)
            if result is not None:
                values, errors, details = result
                details.update(attempts=attempt + 1, precision_bits=flint.ctx.prec)
                return values, errors, details
            extra_bits *= 2
        raise DomainError(f"certified Hermite coefficients of {act.name}: the balls did not tighten")
    finally:
        flint.ctx.prec = old


def _attempt(act, n_max, q, dps, symmetry, flint, slack, guard):
    arb = flint.arb
    sqrt_q = arb(q).sqrt() if isinstance(q, (int, arb)) else ball_function(sympy.sympify(q))(None, False).real.sqrt()
    pieces = [(p.lo, p.hi, p.expr) for p in act.pieces if p.expr != 0]
    tol = arb(10) ** (-(dps + guard))
    slack = [1.0] * (n_max + 1) if slack is None else [max(1.0, float(v)) for v in slack[: n_max + 1]]
    log_slack = [math.log(v) for v in slack]
    # the tail: Cauchy-Schwarz needs int_{|z|>L} f^2 phi <= tol^2
    squares = []
    for lo, hi, expr in pieces:
        if lo is _NOO or hi is _OO:
            A, n, b = envelope(expr, lo, hi)
            squares.append((A * A, 2 * n, 2 * b))
    breaks = [ball_function(p)(None, False).real / sqrt_q for p in act.breakpoints]
    L, tail_sq = cutoff(breaks, squares, sqrt_q, arb(0), 0, tol * tol)
    tail = tail_sq.sqrt().upper() if tail_sq > 0 else arb(0)
    lower = arb(0) if symmetry is not None else -L
    strip = strip_half_width(act)
    strip_z = (strip if math.isfinite(strip) else 3.0) / float(sqrt_q.mid())
    if strip_z < 0.05:  # a real singularity outside the pieces: let the panel check decide
        strip_z = 1.0
    height = min(0.75 * strip_z, 1.5)
    width = min(2.0 * strip_z, 1.0)
    panels = []
    for lo, hi, expr in pieces:
        f = ball_function(expr)
        a = lower if lo is _NOO else ball_function(lo)(None, False).real / sqrt_q
        b = L if hi is _OO else ball_function(hi)(None, False).real / sqrt_q
        if a < lower:
            a = lower
        if b > L:
            b = L
        if not b > a:
            continue
        panels += [(f, p) for p in _panels(f, sqrt_q, a, b, width, height, flint)]
    factor = 2 if symmetry is not None else 1
    target = float(tol.mid()) / (factor * max(1, len(panels)))
    nodes, weighted = [], []
    quad_error = [arb(0)] * (n_max + 1)
    inv_root_2pi = 1 / (2 * arb.pi()).sqrt()
    for f, p in panels:
        rho = p.rho
        R = (abs(p.centre) + p.half * (rho + 1 / rho) / 2) ** 2 + (p.half * (rho - 1 / rho) / 2) ** 2
        R = R.sqrt().upper()
        logs = _hermite_bound_logs(float(R), n_max)
        log_rho = math.log(float(rho.mid()))
        base = math.log(64 / 15 * float(p.half.upper()) * float(p.bound) / (float(rho.mid()) ** 2 - 1) + 1e-300)
        need = base + max(l - ls for l, ls in zip(logs, log_slack)) - math.log(target)
        m = max(4, int(math.ceil(need / (2 * log_rho))) + 1)
        if m > _MAX_NODES:
            m = _MAX_NODES
        ts, ws = _legendre_rule(m, flint.ctx.prec)
        scale_err = 64 * p.half * p.bound * rho ** (-2 * m) / (15 * (rho * rho - 1)) * inv_root_2pi
        H = _hermite_bounds(R, n_max, flint)
        for n in range(n_max + 1):
            quad_error[n] = quad_error[n] + scale_err * H[n]
        for t, w in zip(ts, ws):
            z = p.centre + p.half * t
            value = f(flint.acb(sqrt_q * z), False).real
            nodes.append(z)
            weighted.append(p.half * w * value * (-(z * z) / 2).exp() * inv_root_2pi)
    sums = _hermite_sums(nodes, weighted, n_max, symmetry, flint)
    values, errors = [], []
    digits = dps + guard
    for n in range(n_max + 1):
        if symmetry is not None and (n % 2 == 0) != (symmetry == 1):
            values.append(mpmath.mpf(0))
            errors.append(mpmath.mpf(0))
            continue
        ball = factor * sums[n] + arb(0, (factor * quad_error[n] + tail).upper())
        if not ball.is_finite() or ball.rad() > tol * slack[n]:
            return None
        value, error = to_mp(ball, digits)
        values.append(value)
        errors.append(error)
    details = {"nodes": len(nodes), "panels": len(panels), "length": float(L.mid()), "parity": symmetry,
               "certified": True}
    return values, errors, details


def _hermite_sums(nodes: list, weighted: list, n_max: int, symmetry, flint) -> list:
    """sum_i g_i h_n(z_i) for n = 0..n_max in ball arithmetic (odd or even n only under parity)."""
    arb = flint.arb
    roots = [arb(n).sqrt() for n in range(n_max + 2)]
    inverse = [1 / r if n else arb(0) for n, r in enumerate(roots)]
    prev = [arb(0)] * len(nodes)
    cur = list(weighted)
    sums = [sum(cur, arb(0))]
    for n in range(n_max):
        r, c = roots[n], inverse[n + 1]
        nxt = [(z * g - r * p) * c for z, g, p in zip(nodes, cur, prev)]
        prev, cur = cur, nxt
        sums.append(sum(cur, arb(0)))
    return sums
