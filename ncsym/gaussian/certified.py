"""Certified Gaussian expectations with python-flint (arb/acb ball arithmetic).

The integrand z^k f(sqrt(q) z + mu) phi(z) is integrated rigorously (``acb.integral``, the
validated Gauss-Legendre integration of Johansson 2018, "Numerical integration in arbitrary-
precision ball arithmetic") on each piece clipped to [-L, L]; the two tails are bounded
rigorously from an envelope |f(x)| <= A (1 + |x|)^n e^{b |x|} read off the expression tree on
the half-lines where the outer pieces live. The returned error is the ball radius plus the
tail bound: a proof, not an estimate.

The primitives here are shared by the certified Hermite coefficients and dual kernels:
:func:`flint_or_none`, :func:`ball_function` (sympy -> acb), :func:`envelope` and
:func:`gaussian_tail_bound`, and :func:`expectation_ball` (E[...] as an arb ball, also for a
ball-valued variance q, with :func:`variance_map_ball` for the depth recursions).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import mpmath
import sympy

from ncsym.symbolic.activations import x
from ncsym.core.errors import DomainError

__all__ = [
    "certified_expectation", "expectation_ball", "variance_map_ball", "flint_or_none", "FLINT_MISSING",
    "ball_function", "number_ball", "envelope", "gaussian_tail_bound", "bits_for", "to_mp",
]

_OO, _NOO = sympy.oo, sympy.S.NegativeInfinity

#: Said in a Result's method when python-flint is missing and a bound can only be estimated.
FLINT_MISSING = "python-flint is not installed, so the bound is an estimate (pip install python-flint)"


def flint_or_none():
    """The ``flint`` module, or None when python-flint cannot be imported.

    >>> flint_or_none() is None or hasattr(flint_or_none(), "arb")
    True
    """
    try:
        import flint
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return flint


def _flint():
    flint = flint_or_none()
    if flint is None:  # pragma: no cover - depends on the environment
        raise DomainError("certified integration needs python-flint: pip install python-flint")
    return flint


def bits_for(dps: int) -> int:
    """Working precision in bits for ``dps`` digits plus guard digits.

    >>> bits_for(30)
    172
    """
    return int((dps + 15) * 3.33) + 23


def to_mp(ball, digits: int) -> tuple[Any, Any]:
    """(midpoint, radius) of an arb ball as mpmath numbers (the radius rounded up).

    >>> from flint import arb
    >>> value, error = to_mp(arb(1) / 3, 20)
    >>> mpmath.nstr(value, 10), error < 1e-15
    ('0.3333333333', True)
    """
    with mpmath.workdps(digits + 10):
        value = mpmath.mpf(ball.mid().str(digits + 8, radius=False))
        radius = mpmath.mpf(ball.rad().str(5, radius=False)) * (1 + mpmath.mpf(10) ** -4)
        # the decimal midpoint differs from the binary one by at most a unit in its last digit
        radius += abs(value) * mpmath.mpf(10) ** (-(digits + 7))
    return value, radius


def _number(expr, flint):
    """A numeric sympy expression as an arb ball."""
    value = ball_function(sympy.sympify(expr))(None, False)
    return value.real


def number_ball(expr: Any):
    """A real numeric sympy expression as an arb ball at the current flint precision.

    >>> number_ball(sympy.Rational(1, 3)).contains(1) or number_ball(sympy.sqrt(2)) > 1
    True
    """
    return _number(expr, _flint())


# -- sympy -> acb ------------------------------------------------------------------------------

_UNARY = {
    sympy.exp: lambda u, a: u.exp(), sympy.tanh: lambda u, a: u.tanh(), sympy.sinh: lambda u, a: u.sinh(),
    sympy.cosh: lambda u, a: u.cosh(), sympy.sin: lambda u, a: u.sin(), sympy.cos: lambda u, a: u.cos(),
    sympy.erf: lambda u, a: u.erf(), sympy.erfc: lambda u, a: u.erfc(), sympy.atan: lambda u, a: u.atan(),
    sympy.log: lambda u, a: u.log(analytic=a), sympy.Abs: lambda u, a: u.real_abs(analytic=a),
    sympy.asinh: lambda u, a: u.asinh(), sympy.erfi: lambda u, a: u.erfi(),
}


def ball_function(expr: sympy.Expr) -> Callable:
    """A function (acb z, analytic flag) -> acb evaluating expr(x = z) with rigorous balls.

    With the flag set, a ball where the expression may fail to be analytic (a branch cut of
    log or sqrt, |x| at 0) gives a non-finite result, as ``acb.integral`` requires.

    >>> from flint import acb
    >>> ball_function(sympy.tanh(x) ** 2)(acb(1), False).real.mid().str(5, radius=False)
    '0.58003'
    """
    flint = _flint()
    expr = sympy.sympify(expr)
    fn = _ball_function(expr, flint)
    if expr.has(x) or expr.is_Atom:
        return fn
    cache: dict = {}

    def constant(z, a):  # a constant subtree (selu's erfc constants) is evaluated once per precision
        prec = flint.ctx.prec
        value = cache.get(prec)
        if value is None:
            value = cache[prec] = fn(None, False)
        return value
    return constant


def _ball_function(expr: sympy.Expr, flint) -> Callable:
    acb, arb = flint.acb, flint.arb
    if expr == x:
        return lambda z, a: z
    if expr.is_Integer:
        return lambda z, a: acb(int(expr))
    if expr.is_Rational:
        p, q = int(expr.p), int(expr.q)
        return lambda z, a: acb(p) / q
    if expr is sympy.pi:
        return lambda z, a: acb(arb.pi())
    if expr is sympy.E:
        return lambda z, a: acb(arb(1).exp())
    if expr.is_Float:
        p, q = sympy.Rational(str(expr)).as_numer_denom()  # the decimal it prints, as exact_number reads it
        return lambda z, a: acb(int(p)) / int(q)
    if expr.is_Add or expr.is_Mul:
        parts = [ball_function(arg) for arg in expr.args]
        if expr.is_Add:
            def add(z, a):
                out = parts[0](z, a)
                for p in parts[1:]:
                    out += p(z, a)
                return out
            return add

        def mul(z, a):
            out = parts[0](z, a)
            for p in parts[1:]:
                out *= p(z, a)
            return out
        return mul
    if expr.is_Pow:
        base, e = (ball_function(arg) for arg in expr.args)
        exponent = expr.args[1]
        if exponent.is_Integer:
            n = int(exponent)
            return lambda z, a: base(z, a) ** n
        if exponent == sympy.Rational(1, 2):
            return lambda z, a: base(z, a).sqrt(analytic=a)
        return lambda z, a: (e(z, a) * base(z, a).log(analytic=a)).exp()
    for func, rule in _UNARY.items():
        if isinstance(expr, func):
            inner = ball_function(expr.args[0])
            return lambda z, a, rule=rule, inner=inner: rule(inner(z, a), a)
    raise DomainError(f"certified integration: no ball-arithmetic rule for {expr}")


# -- rigorous tails -------------------------------------------------------------------------------

_BOUNDED = {sympy.tanh: 1, sympy.erf: 1, sympy.sin: 1, sympy.cos: 1, sympy.erfc: 2, sympy.atan: 2}


def envelope(expr: sympy.Expr, lo: Any = _NOO, hi: Any = _OO) -> tuple[Any, int, Any]:
    """(A, n, b): |expr(x)| <= A (1 + |x|)^n e^{b |x|} for every real x in (lo, hi) (arb bounds).

    On a half-line the expression is read in y = x - lo >= 0 (or hi - x), so that 1 + x on
    (0, oo) counts as bounded below; the constants are then moved back to |x|.

    >>> A, n, b = envelope(x / (1 + x), 0, sympy.oo)     # |x/(1+x)| <= 1 * (1 + |x|)
    >>> float(A), n, float(b)
    (1.0, 1, 0.0)
    """
    flint = _flint()
    arb = flint.arb
    lo, hi = sympy.sympify(lo), sympy.sympify(hi)
    if lo.is_finite or hi.is_finite:
        y = sympy.Dummy("y", nonnegative=True)
        origin = lo if lo.is_finite else hi
        moved = sympy.expand(expr.subs(x, origin + y if lo.is_finite else origin - y), mul=False, multinomial=False)
        A, n, b = _envelope(moved, y, flint)
        shift = abs(_number(origin, flint))
        # (1 + y) <= (1 + |origin|)(1 + |x|) and y <= |x| + |origin|
        return (A * (1 + shift) ** n * (b * shift).exp()).upper(), n, b
    return _envelope(expr, x, flint)


def _envelope(expr, v, flint):
    arb = flint.arb
    if not expr.has(v):
        return abs(_number(expr, flint)).upper(), 0, arb(0)
    if expr == v:
        return arb(1), 1, arb(0)
    if expr.is_Add or expr.is_Mul:
        parts = [_envelope(arg, v, flint) for arg in expr.args]
        if expr.is_Add:
            b = parts[0][2]
            for p in parts[1:]:
                b = b if b >= p[2] else p[2]
            return sum((p[0] for p in parts), arb(0)), max(p[1] for p in parts), b
        A, n, b = arb(1), 0, arb(0)
        for pa, pn, pb in parts:
            A, n, b = A * pa, n + pn, b + pb
        return A, n, b
    if expr.is_Pow:
        base, e = expr.args
        if e.is_Integer and e > 0:
            A, n, b = _envelope(base, v, flint)
            return A ** int(e), n * int(e), b * int(e)
        if e.is_number and e.is_negative:
            floor = _lower_bound(base, v, flint)
            if floor is not None:
                return (floor ** _number(e, flint)).upper(), 0, arb(0)
        if e.is_number and e.is_positive:  # |base|^e <= (A (1+|x|)^n e^{b|x|})^e, rounded up
            A, n, b = _envelope(base, v, flint)
            power = _number(e, flint)
            return (A ** power).upper(), int(math.ceil(float(power.upper()) * n)), (b * power).upper()
    for func, bound in _BOUNDED.items():
        if isinstance(expr, func):
            return arb(bound), 0, arb(0)
    if isinstance(expr, sympy.exp) and expr.args[0].is_nonpositive:  # exp(-(..)^2 / c) <= 1
        return arb(1), 0, arb(0)
    if isinstance(expr, (sympy.exp, sympy.sinh, sympy.cosh)):
        arg = sympy.expand(expr.args[0])
        if arg.is_polynomial(v) and sympy.degree(arg, v) <= 1:
            slope, offset = arg.coeff(v, 1), arg.coeff(v, 0)
            A = abs(_number(offset, flint)).exp().upper()
            if isinstance(expr, sympy.exp) and v.is_nonnegative and _number(slope, flint) <= 0:
                return A, 0, arb(0)  # a decaying exponential on a half-line
            return A, 0, abs(_number(slope, flint)).upper()
        inner = _envelope(arg, v, flint)
        if inner[1] == 0 and inner[2] == 0:  # a bounded argument: |exp(u)|, |sinh u|, |cosh u| <= e^|u|
            return inner[0].exp().upper(), 0, arb(0)
    if isinstance(expr, sympy.log):
        arg = expr.args[0]
        floor = _lower_bound(arg, v, flint)
        if floor is not None:
            A, n, b = _envelope(arg, v, flint)
            # log(arg) in [log floor, log A + n log(1 + |v|) + b |v|], both below C (1 + |v|)
            C = abs(floor.log()) + abs(A.log()) + n + b
            return C.upper(), 1, arb(0)
    if isinstance(expr, sympy.Abs):
        return _envelope(expr.args[0], v, flint)
    raise DomainError(f"certified integration: no rigorous growth bound for {expr}")


def _lower_bound(expr, v, flint):
    """c > 0 with expr >= c on the range of v, read structurally (1 + exp(-x), 1 + y), else None."""
    if not expr.has(v):
        value = _number(expr, flint)
        return value if value > 0 else None
    if expr.is_Add:
        constant = sum((t for t in expr.args if not t.has(v)), sympy.Integer(0))
        rest = [t for t in expr.args if t.has(v)]
        if constant.is_positive and all(t.is_nonnegative for t in rest):
            return _number(constant, flint)
    return None


def gaussian_tail_bound(A, n: int, b, root_q, mu, power: int, L):
    """Upper bound of int_{|z| >= L} |z|^k A (1 + |x|)^n e^{b|x|} phi(z) dz, x = sqrt(q) z + mu.

    Uses 1 + |x| <= (1 + |mu| + sqrt(q))(1 + |z|), then (1 + z)^N <= (1 + L)^N e^{N (z - L)/(1 + L)}
    for z >= L (concavity of log), and Mills' ratio for the shifted Gaussian tail.

    >>> from flint import arb
    >>> float(gaussian_tail_bound(arb(1), 0, arb(0), arb(1), arb(0), 0, arb(8))) < 2e-15
    True
    """
    arb = _flint().arb
    A1 = A * (1 + abs(mu) + root_q) ** n * (b * abs(mu)).exp()
    N, B = n + power, b * root_q
    c = B + arb(N) / (1 + L)
    if not (L - c > 0):
        return arb("inf")
    t = L - c
    mills = (-(t * t) / 2).exp() / ((2 * arb.pi()).sqrt() * t)
    one_side = A1 * (1 + L) ** N * (-(arb(N) * L) / (1 + L)).exp() * (c * c / 2).exp() * mills
    return (2 * one_side).upper()


def cutoff(z_points: list, envelopes: list, root_q, mu, power: int, target):
    """The smallest integer L >= 8 (beyond every breakpoint) whose tail bound is below target."""
    arb = _flint().arb
    L = arb(8)
    for p in z_points:
        if abs(p).upper() + 1 > L:
            L = arb(int(math.ceil(float(abs(p).upper()))) + 1)
    for _ in range(400):
        tail = sum((gaussian_tail_bound(A, n, b, root_q, mu, power, L) for A, n, b in envelopes), arb(0))
        if tail < target:
            return L, tail
        L = L + 1
    raise DomainError("certified integration: the integrand's tails decay too slowly for a rigorous cutoff")


# -- the expectation -------------------------------------------------------------------------------

def expectation_ball(intervals, q, shift, power: int, dps: int):
    """E[z^k f(sqrt(q) z + mu)] over the pieces ``(lo, hi, expr)`` as an arb ball (tail included).

    ``q`` may be a number, a sympy number or an arb ball (then the ball covers every q in it).
    Runs at the caller's flint precision.

    >>> from flint import arb, ctx
    >>> old, ctx.prec = ctx.prec, bits_for(20)
    >>> ball = expectation_ball([(-sympy.oo, sympy.oo, x**2)], arb(2), 0, 0, 20)
    >>> bool(abs(ball - 2) < 1e-20), ball.rad() < 1e-20
    (True, True)
    >>> ctx.prec = old
    """
    flint = _flint()
    arb, acb = flint.arb, flint.acb
    q_ball = q if isinstance(q, arb) else _number(q, flint)
    root_q = q_ball.sqrt()
    mu = shift if isinstance(shift, arb) else _number(shift, flint)
    pieces = [(lo, hi, expr) for lo, hi, expr in intervals if expr != 0]
    z_points = [(_number(p, flint) - mu) / root_q for lo, hi, _ in intervals for p in (lo, hi) if p.is_finite]
    envelopes = [envelope(expr, lo, hi) for lo, hi, expr in pieces if lo is _NOO or hi is _OO]
    target = arb(10) ** (-(dps + 5))
    L, tail = cutoff(z_points, envelopes, root_q, mu, power, target)
    norm = 1 / (2 * arb.pi()).sqrt()
    total = acb(0)
    root_c, mu_c = acb(root_q), acb(mu)
    for lo, hi, expr in pieces:
        f = ball_function(expr)
        a = -L if lo is _NOO else (_number(lo, flint) - mu) / root_q
        b = L if hi is _OO else (_number(hi, flint) - mu) / root_q
        if a.rad() > 0 or b.rad() > 0:
            # a breakpoint known only as a ball (ball q): integrate from its midpoint and bound the
            # slivers between the midpoint and the true end by |integrand| on them
            total += _sliver(f, a, root_c, mu_c, power, flint) + _sliver(f, b, root_c, mu_c, power, flint)
        lo_m, hi_m = acb(a.mid()), acb(b.mid())

        def integrand(z, analytic, f=f):
            return z**power * f(root_c * z + mu_c, analytic) * (-(z * z) / 2).exp()

        total += acb.integral(integrand, lo_m, hi_m)
    total = total.real * norm
    if not total.is_finite():
        raise DomainError("certified integration failed: the ball is not finite")
    return total + arb(0, tail)


def _sliver(f, end, root_c, mu_c, power, flint):
    """A ball containing int over [mid(end), end] of the integrand (either orientation)."""
    acb, arb = flint.acb, flint.arb
    if end.rad() == 0:
        return acb(0)
    z = acb(end)
    value = z**power * f(root_c * z + mu_c, False) * (-(z * z) / 2).exp()
    return acb(0, 0) + value * arb(0, end.rad())


def certified_expectation(intervals, q, shift, power: int, dps: int) -> tuple[Any, Any]:
    """(value, rigorous error bound) for sum over pieces of int z^k f(sqrt(q) z + mu) phi(z) dz.

    >>> value, error = certified_expectation([(-sympy.oo, sympy.oo, sympy.tanh(x)**2)], 1, 0, 0, 20)
    >>> mpmath.nstr(value, 15), error < 1e-20
    ('0.394294490397841', True)
    """
    flint = _flint()
    old_prec = flint.ctx.prec
    flint.ctx.prec = bits_for(dps)
    try:
        return to_mp(expectation_ball(intervals, q, shift, power, dps), dps + 10)
    finally:
        flint.ctx.prec = old_prec


def variance_map_ball(expr: sympy.Expr, q, dps: int):
    """(V(q), V'(q)) as arb balls, V(q) = E[f(sqrt(q) z)^2], for an arb ball (or number) q > 0.

    V'(q) = E[z f(sqrt(q) z) f'(sqrt(q) z)] / sqrt(q) (differentiating under the integral); both
    balls hold for every q in the ball, as an interval Newton step on V(q) = q needs. ``expr``
    is one smooth expression in x (a piecewise activation: use :func:`expectation_ball` on its
    pieces). Runs at the caller's flint precision.

    >>> from flint import arb, ctx
    >>> old, ctx.prec = ctx.prec, bits_for(20)
    >>> V, dV = variance_map_ball(sympy.sin(x), arb(1), 20)
    >>> bool(abs(V - (1 - arb(-2).exp()) / 2) < 1e-18), bool(abs(dV - arb(-2).exp()) < 1e-18)
    (True, True)
    >>> ctx.prec = old
    """
    flint = _flint()
    arb = flint.arb
    q_ball = q if isinstance(q, arb) else _number(q, flint)
    if not q_ball > 0:
        raise DomainError(f"variance_map_ball needs q > 0, got {q_ball}")
    whole = [(_NOO, _OO, expr**2)]
    value = expectation_ball(whole, q_ball, 0, 0, dps)
    slope = expectation_ball([(_NOO, _OO, expr * sympy.diff(expr, x))], q_ball, 0, 1, dps) / q_ball.sqrt()
    return value, slope
