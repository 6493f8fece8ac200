"""Certified dual kernels by exact inner smoothing and one validated outer integral.

For u = sqrt(q1) z1 and v = sqrt(q2) (rho z1 + sqrt(1 - rho^2) z2), the dual kernel is
k(rho) = E[sigma(u) g(u)] with g(u) = E[sigma(v) | u]. When every piece of sigma is a sum of
terms c x^k e^{a x} (relu, hard_tanh, elu, selu, leaky relu, ...), the inner Gaussian integral over
z2 on each piece has a closed form in erf and exp (the truncated moments of a shifted normal,
M_j = int_alpha^beta w^j phi(w) dw by M_j = (j - 1) M_{j-2} + alpha^{j-1} phi(alpha) - beta^{j-1} phi(beta)).
The outer integral is then one arb ball integration per piece of sigma with a proved Gaussian
tail (:func:`ncsym.gaussian.certified.expectation_ball`), so the bound is a proof at any
|rho| < 1 and the kink of sigma costs nothing; at rho = +-1 the kernel is the one-dimensional
E[sigma(u) sigma(+-sqrt(q2/q1) u)], also a ball integral.
"""

from __future__ import annotations

from typing import Any

import mpmath
import sympy

from ncsym.core.errors import DomainError
from ncsym.symbolic.activations import Activation, x

__all__ = ["certified_smoothed_value", "smoothed_expression"]

_OO, _NOO = sympy.oo, sympy.S.NegativeInfinity


def _terms(expr: sympy.Expr) -> list[tuple[sympy.Expr, int, sympy.Expr]]:
    """expr as a sum of c x^k e^{a x} (c, a numbers, k >= 0), as (c, k, a); DomainError otherwise."""
    out = []
    for term in sympy.Add.make_args(sympy.expand(sympy.powsimp(expr))):
        c, k, a = sympy.Integer(1), 0, sympy.Integer(0)
        for factor in sympy.Mul.make_args(term):
            if not factor.has(x):
                c *= factor
            elif factor == x:
                k += 1
            elif factor.is_Pow and factor.base == x and factor.exp.is_Integer and factor.exp > 0:
                k += int(factor.exp)
            elif isinstance(factor, sympy.exp) and sympy.degree(factor.args[0], x) == 1 \
                    and factor.args[0].is_polynomial(x):
                arg = sympy.expand(factor.args[0])
                a += arg.coeff(x, 1)
                c *= sympy.exp(arg.coeff(x, 0))
            else:
                raise DomainError(f"certified smoothing: the piece {expr} is not a sum of c x^k e^(a x)")
        out.append((c, k, a))
    return out


def _phi(t):
    return sympy.exp(-t**2 / 2) / sympy.sqrt(2 * sympy.pi)


def _Phi(t):
    if t is _OO:
        return sympy.Integer(1)
    if t is _NOO:
        return sympy.Integer(0)
    return (1 + sympy.erf(t / sympy.sqrt(2))) / 2


def _truncated_moments(alpha, beta, order: int) -> list[sympy.Expr]:
    """M_j = int_alpha^beta w^j phi(w) dw for j <= order (alpha, beta expressions or +-oo)."""
    def edge(t, j):  # t^j phi(t), zero at +-oo
        return sympy.Integer(0) if t in (_OO, _NOO) else t**j * _phi(t)
    moments = [_Phi(beta) - _Phi(alpha)]
    if order >= 1:
        moments.append(edge(alpha, 0) - edge(beta, 0))
    for j in range(2, order + 1):
        moments.append((j - 1) * moments[j - 2] + edge(alpha, j - 1) - edge(beta, j - 1))
    return moments


def smoothed_expression(act: Activation, mean: sympy.Expr, spread: sympy.Expr) -> sympy.Expr:
    """E[sigma(mean + spread w)], w ~ N(0, 1), in closed form (mean may depend on x, spread > 0).

    >>> from ncsym import zoo
    >>> sympy.simplify(smoothed_expression(zoo.relu, sympy.Integer(0), sympy.Integer(1)))
    sqrt(2)/(2*sqrt(pi))
    """
    if act.deltas:
        raise DomainError(f"{act.name} contains Dirac deltas; certified smoothing needs a function")
    total = sympy.Integer(0)
    for piece in act.pieces:
        for c, k, a in _terms(piece.expr):
            # e^{a v} phi(w) = e^{a mean + a^2 spread^2 / 2} phi(w - a spread): shift the window
            centre = mean + a * spread**2
            factor = c * sympy.exp(a * mean + a**2 * spread**2 / 2) if a != 0 else c
            lo = _NOO if piece.lo is _NOO else (piece.lo - centre) / spread
            hi = _OO if piece.hi is _OO else (piece.hi - centre) / spread
            moments = _truncated_moments(lo, hi, k)
            poly = sum((sympy.binomial(k, j) * centre**(k - j) * spread**j * moments[j] for j in range(k + 1)),
                       sympy.Integer(0))
            total += factor * poly
    return total


def _exact_rho(value: Any) -> sympy.Rational:
    sign, man, exp, _ = mpmath.mpf(value)._mpf_
    return sympy.Integer(0) if not man else (-1) ** sign * sympy.Integer(man) * sympy.Integer(2) ** exp


def certified_smoothed_value(act: Activation, q1: sympy.Expr, q2: sympy.Expr, value: Any,
                             dps: int) -> tuple[Any, Any, str] | None:
    """(k(rho), proved error bound, method) by exact inner smoothing, or None when no rule applies.

    >>> from ncsym import zoo
    >>> k, err, method = certified_smoothed_value(zoo.relu, sympy.Integer(1), sympy.Integer(1), mpmath.mpf(0), 20)
    >>> with mpmath.workdps(30):  # relu: k(0) = E[relu(z)]^2 = 1 / (2 pi)
    ...     bool(abs(k - 1 / (2 * mpmath.pi)) <= err), err < 1e-20, method.startswith("certified")
    (True, True, True)
    """
    from ncsym.gaussian.certified import bits_for, expectation_ball, flint_or_none, to_mp

    flint = flint_or_none()
    if flint is None or act.deltas:
        return None
    r = _exact_rho(value)
    if abs(r) > 1:
        raise DomainError(f"correlation rho must lie in [-1, 1], got {value}")
    q1, q2 = sympy.sympify(q1), sympy.sympify(q2)
    ratio = sympy.sqrt(q2 / q1)
    try:
        if abs(r) == 1:
            intervals = _product_pieces(act, r * ratio)
            how = "one-dimensional ball integral of sigma(u) sigma(+-u)"
        else:
            g = smoothed_expression(act, r * ratio * x, sympy.sqrt(q2 * (1 - r**2)))
            intervals = [(p.lo, p.hi, p.expr * g) for p in act.pieces]
            how = "exact inner Gaussian smoothing, outer arb ball integral"
        old = flint.ctx.prec
        flint.ctx.prec = bits_for(dps)
        try:
            ball = expectation_ball(intervals, q1, 0, 0, dps)
            result, error = to_mp(ball, dps + 5)
        finally:
            flint.ctx.prec = old
    except (DomainError, ValueError, TypeError, ZeroDivisionError):
        return None
    # dps digits relative, or absolute at a kernel that vanishes (selu at rho = 0)
    if error > 10.0 ** -dps * max(abs(float(result)), 10.0 ** -dps) and error > 10.0 ** -(dps + 3):
        return None
    return result, error, f"certified: {how}, proved Gaussian tail"


def _product_pieces(act: Activation, c: sympy.Expr) -> list:
    """The pieces of sigma(x) sigma(c x) (c != 0) on the common refinement of their breakpoints."""
    other = [((p.lo / c, p.hi / c) if c > 0 else (p.hi / c, p.lo / c), p.expr.subs(x, c * x)) for p in act.pieces]
    out = []
    for p in act.pieces:
        for (lo, hi), expr in other:
            a, b = sympy.Max(p.lo, lo), sympy.Min(p.hi, hi)
            if (a < b) == sympy.true:
                out.append((a, b, p.expr * expr))
    return out
