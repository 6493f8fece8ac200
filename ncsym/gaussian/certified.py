"""Certified Gaussian expectations with python-flint (arb/acb ball arithmetic).

The integrand z^k f(sqrt(q) z + mu) phi(z) is integrated rigorously (acb.integral) on each
piece clipped to [-L, L]; the two tails are bounded rigorously from an envelope
|f(x)| <= A (1 + |x|)^n e^{b |x|} read off the expression tree. The returned error is the
ball radius plus the tail bound: a proof, not an estimate.
"""

from __future__ import annotations

from typing import Any, Callable

import mpmath
import sympy

from ncsym.symbolic.activations import x
from ncsym.core.errors import DomainError

__all__ = ["certified_expectation"]

_OO, _NOO = sympy.oo, sympy.S.NegativeInfinity


def _flint():
    try:
        import flint
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DomainError("method='certified' needs python-flint: pip install 'ncsym[certified]'") from exc
    return flint


def certified_expectation(intervals, q, shift, power: int, dps: int) -> tuple[Any, Any]:
    """(value, rigorous error bound) for sum over pieces of int z^k f(sqrt(q) z + mu) phi(z) dz.

    >>> from ncsym.symbolic.activations import x
    >>> value, error = certified_expectation([(-sympy.oo, sympy.oo, sympy.tanh(x)**2)], 1, 0, 0, 20)
    >>> mpmath.nstr(value, 15), error < 1e-20
    ('0.394294490397841', True)
    """
    flint = _flint()
    arb, acb = flint.arb, flint.acb
    old_prec = flint.ctx.prec
    flint.ctx.prec = int((dps + 15) * 3.33) + 10
    try:
        root_q = _compile(sympy.sqrt(q), flint)(None, False).real
        mu = _compile(shift, flint)(None, False).real
        z_points = []
        for lo, hi, _ in intervals:
            for p in (lo, hi):
                if p.is_finite:
                    z_points.append((_compile(p, flint)(None, False).real - mu) / root_q)
        pieces = [(lo, hi, expr) for lo, hi, expr in intervals if expr != 0]
        envelopes = []
        for lo, hi, expr in pieces:
            if lo is _NOO or hi is _OO:
                envelopes.append(_envelope(expr, flint))
        L = _cutoff(z_points, envelopes, root_q, mu, power, dps, flint)
        norm = 1 / (2 * arb.pi()).sqrt()
        total = acb(0)
        for lo, hi, expr in pieces:
            f = _compile(expr, flint)
            a = -L if lo is _NOO else (_compile(lo, flint)(None, False).real - mu) / root_q
            b = L if hi is _OO else (_compile(hi, flint)(None, False).real - mu) / root_q

            def integrand(z, analytic, f=f):
                return z**power * f(acb(root_q) * z + acb(mu), analytic) * (-(z * z) / 2).exp()

            total += acb.integral(integrand, acb(a.mid()), acb(b.mid()))
        total = total.real * norm
        tail = sum((_tail_bound(A, n, b, root_q, mu, power, L, flint) for A, n, b in envelopes), arb(0))
        with mpmath.workdps(dps + 15):
            value = mpmath.mpf(total.mid().str(dps + 12, radius=False))
            error = mpmath.mpf(total.rad().str(5, radius=False)) + mpmath.mpf((tail.upper()).str(5, radius=False))
        if not mpmath.isfinite(error):
            raise DomainError("certified integration failed: the ball is not finite")
        return value, error
    finally:
        flint.ctx.prec = old_prec


# -- sympy -> acb ------------------------------------------------------------------------------

_UNARY = {
    sympy.exp: lambda u, a: u.exp(), sympy.tanh: lambda u, a: u.tanh(), sympy.sinh: lambda u, a: u.sinh(),
    sympy.cosh: lambda u, a: u.cosh(), sympy.sin: lambda u, a: u.sin(), sympy.cos: lambda u, a: u.cos(),
    sympy.erf: lambda u, a: u.erf(), sympy.erfc: lambda u, a: u.erfc(), sympy.atan: lambda u, a: u.atan(),
    sympy.log: lambda u, a: u.log(analytic=a), sympy.Abs: lambda u, a: u.real_abs(analytic=a),
}


def _compile(expr: sympy.Expr, flint) -> Callable:
    """A function (acb z, analytic flag) -> acb evaluating expr(x = z) with rigorous balls."""
    acb, arb = flint.acb, flint.arb
    expr = sympy.sympify(expr)
    if expr == x:
        return lambda z, a: z
    if expr.is_Integer:
        value = acb(int(expr))
        return lambda z, a: value
    if expr.is_Rational:
        value = acb(int(expr.p)) / int(expr.q)
        return lambda z, a: value
    if expr is sympy.pi:
        return lambda z, a: acb(arb.pi())
    if expr is sympy.E:
        return lambda z, a: acb(arb(1).exp())
    if expr.is_Add or expr.is_Mul:
        parts = [_compile(arg, flint) for arg in expr.args]
        if expr.is_Add:
            def add(z, a):
                out = acb(0)
                for p in parts:
                    out += p(z, a)
                return out
            return add

        def mul(z, a):
            out = acb(1)
            for p in parts:
                out *= p(z, a)
            return out
        return mul
    if expr.is_Pow:
        base, e = (_compile(arg, flint) for arg in expr.args)
        exponent = expr.args[1]
        if exponent.is_Integer:
            n = int(exponent)
            return lambda z, a: base(z, a) ** n
        if exponent == sympy.Rational(1, 2):
            return lambda z, a: base(z, a).sqrt(analytic=a)
        return lambda z, a: (e(z, a) * base(z, a).log(analytic=a)).exp()
    for func, rule in _UNARY.items():
        if isinstance(expr, func):
            inner = _compile(expr.args[0], flint)
            return lambda z, a, rule=rule, inner=inner: rule(inner(z, a), a)
    raise DomainError(f"certified integration: no ball-arithmetic rule for {expr}")


# -- rigorous tails -------------------------------------------------------------------------------

def _envelope(expr, flint):
    """(A, n, b): |expr(x)| <= A (1 + |x|)^n e^{b |x|} for every real x (arb upper bounds)."""
    arb = flint.arb
    if not expr.has(x):
        return abs(_compile(expr, flint)(None, False).real).upper(), 0, arb(0)
    if expr == x:
        return arb(1), 1, arb(0)
    if expr.is_Add or expr.is_Mul:
        parts = [_envelope(arg, flint) for arg in expr.args]
        if expr.is_Add:
            return sum((p[0] for p in parts), arb(0)), max(p[1] for p in parts), max((p[2] for p in parts), key=float)
        A, n, b = arb(1), 0, arb(0)
        for pa, pn, pb in parts:
            A, n, b = A * pa, n + pn, b + pb
        return A, n, b
    if expr.is_Pow:
        base, e = expr.args
        if e.is_Integer and e > 0:
            A, n, b = _envelope(base, flint)
            return A ** int(e), n * int(e), b * int(e)
        if e.is_number and e.is_negative and base.is_Add:
            constant = sum((t for t in base.args if t.is_number), sympy.Integer(0))
            if constant.is_positive and all(t.is_nonnegative for t in base.args if not t.is_number):
                c = _compile(constant, flint)(None, False).real
                return (c ** _compile(e, flint)(None, False).real).upper(), 0, arb(0)
    bounded = {sympy.tanh: 1, sympy.erf: 1, sympy.sin: 1, sympy.cos: 1, sympy.erfc: 2, sympy.atan: 2}
    for func, bound in bounded.items():
        if isinstance(expr, func):
            return arb(bound), 0, arb(0)
    if isinstance(expr, (sympy.exp, sympy.sinh, sympy.cosh)):
        arg = sympy.expand(expr.args[0])
        if arg.is_polynomial(x) and sympy.degree(arg, x) <= 1:
            slope, offset = arg.coeff(x, 1), arg.coeff(x, 0)
            A = abs(_compile(offset, flint)(None, False).real).exp().upper()
            return A, 0, abs(_compile(slope, flint)(None, False).real).upper()
    if isinstance(expr, sympy.log):
        arg = expr.args[0]
        if arg.is_Add:
            constant = sum((t for t in arg.args if t.is_number), sympy.Integer(0))
            if constant.is_positive and all(t.is_nonnegative for t in arg.args if not t.is_number):
                A, n, b = _envelope(arg, flint)
                c0 = _compile(constant, flint)(None, False).real
                # log(arg) in [log c0, log A + n log(1+|x|) + b |x|], both below C (1 + |x|)
                C = abs(c0.log()) + abs(A.log()) + n + b
                return C.upper(), 1, arb(0)
    if isinstance(expr, sympy.Abs):
        return _envelope(expr.args[0], flint)
    raise DomainError(f"certified integration: no rigorous growth bound for {expr}")


def _tail_bound(A, n, b, root_q, mu, power, L, flint):
    """Upper bound of int_{|z| >= L} |z|^k A (1 + |x|)^n e^{b|x|} phi(z) dz, x = sqrt(q) z + mu."""
    arb = flint.arb
    A1 = A * (1 + abs(mu) + root_q) ** n * (b * abs(mu)).exp()
    N, B = n + power, b * root_q
    # (1+z)^N <= (1+L)^N e^{N (z-L)/(1+L)} for z >= L; then a Gaussian tail with Mills' bound.
    c = B + arb(N) / (1 + L)
    if not (L - c > 0):
        return arb("inf")
    t = L - c
    mills = (-(t * t) / 2).exp() / ((2 * arb.pi()).sqrt() * t)
    one_side = A1 * (1 + L) ** N * (-(arb(N) * L) / (1 + L)).exp() * (c * c / 2).exp() * mills
    return (2 * one_side).upper()


def _cutoff(z_points, envelopes, root_q, mu, power, dps, flint):
    arb = flint.arb
    L = arb(8)
    for p in z_points:
        L = max(L, abs(p).upper() + 1, key=float)
    target = arb(10) ** (-(dps + 5))
    for _ in range(200):
        tail = sum((_tail_bound(A, n, b, root_q, mu, power, L, flint) for A, n, b in envelopes), arb(0))
        if tail < target:
            return L
        L = L + 1
    raise DomainError("certified integration: the integrand's tails decay too slowly for a rigorous cutoff")
