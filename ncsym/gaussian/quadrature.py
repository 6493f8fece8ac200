"""The pieces of a product of activations and its mpmath quadrature (private helpers of
:mod:`ncsym.gaussian.moments`).

``_intervals`` cuts the line at the union of the factors' breakpoints so that every panel
holds one smooth expression; ``_numeric`` integrates z^k f(sqrt(q) z + mu) phi(z) on them with
mpmath's tanh-sinh rule at two refinement levels (an estimated, not a proved, error);
``_delta_expectation`` is the exact contribution of a Dirac delta.
"""

from __future__ import annotations

from typing import Any

import mpmath
import sympy

from ncsym.core.errors import ConvergenceError, NoClosedFormError
from ncsym.core.results import GUARD_DIGITS, to_mpf
from ncsym.gaussian.exact import Z
from ncsym.symbolic.activations import Activation, x

_OO, _NOO = sympy.oo, sympy.S.NegativeInfinity


def _intervals(acts) -> list[tuple[sympy.Expr, sympy.Expr, sympy.Expr]]:
    """(lo, hi, product of the factors' smooth pieces on (lo, hi)) over the union of breakpoints."""
    if not acts:
        return [(_NOO, _OO, sympy.Integer(1))]
    if len(acts) == 1:
        return [(p.lo, p.hi, p.expr) for p in acts[0].pieces]
    points = set()
    for a in acts:
        points.update(p.hi for p in a.pieces[:-1])
    if any(not p.is_number for p in points) and len(points) > 1:
        raise NoClosedFormError("breakpoints with symbolic positions cannot be ordered")
    edges = [_NOO] + sorted(points, key=lambda p: float(p) if p.is_number else 0.0) + [_OO]
    out = []
    for lo, hi in zip(edges, edges[1:]):
        product = sympy.Integer(1)
        for a in acts:
            product *= _piece_on(a, lo, hi)
        out.append((lo, hi, product))
    return out


def _piece_on(act: Activation, lo, hi) -> sympy.Expr:
    for p in act.pieces:
        if (p.lo is _NOO or (lo is not _NOO and bool(p.lo <= lo))) and \
                (p.hi is _OO or (hi is not _OO and bool(hi <= p.hi))):
            return p.expr
    raise AssertionError(f"no piece of {act} covers ({lo}, {hi})")  # pieces cover the line


def _delta_expectation(delta, q, shift, power) -> sympy.Expr:
    """E[z^m c delta^(k)(sqrt(q) z + shift - b)] = c q^(-(k+1)/2) (-1)^k g^(k)(z0), g = z^m phi.

    (delta^(k)(s y) = s^(-k-1) delta^(k)(y) for s > 0, with z0 = (b - shift)/sqrt(q).)
    """
    z0 = (delta.point - shift) / sympy.sqrt(q)
    g = Z**power * sympy.exp(-Z**2 / 2) / sympy.sqrt(2 * sympy.pi)
    derivative = sympy.diff(g, Z, delta.order).subs(Z, z0)
    return delta.coeff * (-1) ** delta.order * q ** (-sympy.Rational(delta.order + 1, 2)) * derivative



# -- the numeric route -----------------------------------------------------------------------------

def _numeric(acts, q, shift, power, dps) -> tuple[Any, Any]:
    """mpmath tanh-sinh quadrature at dps + guard digits; the error is quad's own estimate (the
    change between its last two refinement levels, split at every breakpoint so that each panel
    is smooth) plus a rounding allowance. A second, more refined pass runs when the first misses."""
    delta_part = mpmath.mpf(0)
    if acts and acts[0].deltas:
        exact = sum((_delta_expectation(d, q, shift, power) for d in acts[0].deltas), sympy.Integer(0))
        delta_part = to_mpf(exact, dps + GUARD_DIGITS)
    working = dps + GUARD_DIGITS
    with mpmath.workdps(working):
        tolerance = mpmath.mpf(10) ** (-dps)
        for degree in (8, 12):
            value, error, scale = _quadrature(acts, q, shift, power, working, degree)
            error += scale * mpmath.mpf(10) ** (-working + 3)
            if error < tolerance * max(1, abs(value)):
                break
        value += delta_part
        if not error < max(1, abs(value)) * mpmath.mpf(10) ** -3:
            raise ConvergenceError(f"quadrature did not converge: value {mpmath.nstr(value, 10)}, "
                                   f"estimated error {mpmath.nstr(error, 3)}")
    return value, error


def _quadrature(acts, q, shift, power, working, degree) -> tuple[Any, Any, Any]:
    """(value, quad's error estimate, sum of |panel values|) at ``working`` digits."""
    with mpmath.workdps(working):
        root_q = mpmath.sqrt(to_mpf(q, working))
        mu = to_mpf(shift, working)
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)
        total, error, scale = mpmath.mpf(0), mpmath.mpf(0), mpmath.mpf(0)
        for lo, hi, expr in _intervals(acts):
            if expr == 0:
                continue
            f = sympy.lambdify(x, expr, modules="mpmath")
            a = -mpmath.inf if lo is _NOO else (to_mpf(lo, working) - mu) / root_q
            b = mpmath.inf if hi is _OO else (to_mpf(hi, working) - mu) / root_q

            def integrand(z, f=f):
                value = f(root_q * z + mu)
                if isinstance(value, mpmath.mpc):
                    value = value.real
                return z**power * value * mpmath.exp(-z * z / 2)

            points = _split_points(a, b)
            for left, right in zip(points, points[1:]):
                value, err = mpmath.quad(integrand, [left, right], error=True, maxdegree=degree)
                total += value * norm
                error += err * norm
                scale += abs(value) * norm
        return total, error, scale


def _split_points(a, b) -> list:
    """Breakpoints plus 0 and +-8 inside (a, b): tanh-sinh converges fastest on panels that
    resolve the Gaussian bulk separately from its tails."""
    inner = [p for p in (-8, 0, 8) if a < p < b]
    return [a] + inner + [b]
