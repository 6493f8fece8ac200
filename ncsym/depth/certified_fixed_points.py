"""Certified fixed points of the variance map and chi_1 (Krawczyk's test in arb balls).

The variance map V(q) = sigma_w2 E[sigma(sqrt(q) z)^2] + sigma_b2 (Poole et al. 2016, eq. 3;
Schoenholz et al. 2017, eq. 2) and its slope V'(q) = sigma_w2 E[z sigma sigma'(sqrt(q) z)] / sqrt(q)
are evaluated as arb balls that hold for every q in a ball Q
(:func:`ncsym.gaussian.certified.expectation_ball`). With F(q) = V(q) - q, a midpoint m of Q and
Y ~ 1 / F'(m), the Krawczyk operator

    K(Q) = m - Y F(m) + (1 - Y F'(Q)) (Q - m)

maps Q into its interior only if Q holds exactly one root of F, which then lies in K(Q)
(Krawczyk 1969; Moore, Kearfott & Cloud 2009, "Introduction to Interval Analysis", section 8.2).
So the returned q* is a proof: its error is the radius of a ball known to hold the fixed point.
chi_1 = sigma_w2 E[sigma'(sqrt(q*) z)^2] (Schoenholz et al. 2017, eq. 5) is then evaluated with
q running over that ball, so it is certified too.

A guess far from any fixed point fails the test and is refused (ConvergenceError): nothing is
returned that was not proved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy

from ncsym.core.errors import ConvergenceError, DomainError
from ncsym.core.results import Result, working_dps
from ncsym.core.timebound import budgeted
from ncsym.symbolic.activations import Activation, activation, exact_number, x

__all__ = ["CertifiedFixedPoint", "certified_variance_fixed_point", "certified_correlation_fixed_point", "RHO_MAX"]

_OO, _NOO = sympy.oo, sympy.S.NegativeInfinity


@dataclass(frozen=True)
class CertifiedFixedPoint:
    """q* = V(q*) and chi_1 at q*, both certified enclosures (``Result.certified`` is True)."""

    q_star: Result
    chi_1: Result
    iterations: int

    def __repr__(self) -> str:
        return f"CertifiedFixedPoint(q_star={self.q_star!r}, chi_1={self.chi_1!r})"


def _smooth_pieces(act: Activation) -> tuple:
    """The pieces of a continuous activation (V' then has no delta terms); else DomainError."""
    if act.deltas:
        raise DomainError(f"{act.name} contains Dirac deltas; its variance map has no certified fixed point here")
    pieces = act.pieces
    for left, right in zip(pieces, pieces[1:]):
        jump = sympy.simplify(left.expr.subs(x, left.hi) - right.expr.subs(x, right.lo))
        if jump != 0:
            raise DomainError(f"{act.name} jumps at x = {left.hi}; certified fixed points need a continuous activation")
    return pieces


class _Map:
    """F(q) = V(q) - q and F'(q) as arb balls over a ball of q, at the current flint precision."""

    def __init__(self, act: Activation, sigma_w2: sympy.Expr, sigma_b2: sympy.Expr, dps: int, flint: Any):
        from ncsym.gaussian.certified import number_ball

        pieces = _smooth_pieces(act)
        self.flint, self.dps = flint, dps
        self.w, self.b = number_ball(sigma_w2), number_ball(sigma_b2)
        self.square = [(p.lo, p.hi, p.expr**2) for p in pieces]
        self.slope = [(p.lo, p.hi, p.expr * sympy.diff(p.expr, x)) for p in pieces]
        self.derivative = [(p.lo, p.hi, sympy.diff(p.expr, x) ** 2) for p in pieces]

    def _check(self, q):
        if not q > 0:
            raise ConvergenceError(f"the variance ball {q} reaches q <= 0; no certified fixed point there")

    def second_moment(self, q):
        from ncsym.gaussian.certified import expectation_ball

        self._check(q)
        return expectation_ball(self.square, q, 0, 0, self.dps)

    def value(self, q):
        return self.w * self.second_moment(q) + self.b - q

    def slope_of(self, q):
        from ncsym.gaussian.certified import expectation_ball

        self._check(q)
        return self.w * expectation_ball(self.slope, q, 0, 1, self.dps) / q.sqrt() - 1

    def chi_1(self, q):
        from ncsym.gaussian.certified import expectation_ball

        self._check(q)
        return self.w * expectation_ball(self.derivative, q, 0, 0, self.dps)


def _krawczyk(value, slope, m, r):
    """K(X) for X = m +- r (value, slope: ball functions of F and F'), or None unless K(X) lies
    in the interior of X."""
    X = m.__class__(m, r)
    slope_mid = slope(m.__class__(m))
    if slope_mid.contains(0):
        return None
    Y = 1 / m.__class__(slope_mid.mid())
    K = m - Y * value(m.__class__(m)) + (1 - Y * slope(X)) * (X - m)
    if K.is_finite() and K.lower() > X.lower() and K.upper() < X.upper():
        return K
    return None


def _newton(value, slope, start, dps: int, flint: Any, *, positive: bool) -> Any:
    """A midpoint near a root by Newton's method on ball midpoints (steps halved to keep q > 0)."""
    arb = flint.arb
    m = arb(start)
    for _ in range(60):
        step = arb((value(arb(m)) / slope(arb(m))).mid())
        new = m - step
        while positive and not new > 0:
            step, new = step / 2, m - step / 2
        m = arb(new.mid())
        if abs(step) <= (abs(m) if m != 0 else arb(1)) * arb(10) ** -(dps + 3):
            return m
    raise ConvergenceError(f"Newton's method found no fixed point from {start}; give a guess")


@budgeted
def certified_variance_fixed_point(act: Any, sigma_w2: Any, sigma_b2: Any = 0, guess: Any = None, *,
                                   radius: Any = None, dps: int | None = None) -> CertifiedFixedPoint:
    """The fixed point q* = V(q*) proved to lie in a ball, and chi_1 on that ball.

    With ``guess`` (a float, mpmath or sympy number), Krawczyk's test is first applied to the
    ball guess +- radius (default 1e-4 max(|guess|, 1)): it must hold exactly one fixed point or
    the call is refused (ConvergenceError). Without a guess, Newton's method from q = 1 finds the
    point. Newton steps then shrink the ball to ``dps`` digits and the test is repeated on it.
    The activation must be continuous (a jump puts delta terms in V').

    >>> from ncsym import zoo
    >>> fp = certified_variance_fixed_point(zoo.relu, 1.5, 0.1, 0.4, dps=20)   # q* = 0.1 / (1 - 3/4)
    >>> with mpmath.workdps(30):
    ...     fp.q_star.certified, bool(abs(fp.q_star.value - mpmath.mpf("0.4")) <= fp.q_star.error)
    (True, True)
    >>> mpmath.nstr(fp.chi_1.value, 10)                                           # 1.5 * 1/2
    '0.75'
    """
    from ncsym.gaussian.certified import bits_for, to_mp

    flint, act, w, b, dps = _inputs(act, sigma_w2, sigma_b2, dps)
    old = flint.ctx.prec
    flint.ctx.prec = bits_for(dps)
    try:
        K, chi, steps = _variance_ball(act, w, b, guess, radius, dps, flint)
        q_value, q_error = to_mp(K, dps + 5)
        c_value, c_error = to_mp(chi, dps + 5)
    finally:
        flint.ctx.prec = old
    how = "certified: Krawczyk test in arb balls (unique fixed point in the ball)"
    q_star = Result.from_numeric(q_value, q_error, label=f"q*[{act.name}]", method=how, dps=dps, certified=True,
                                 details={"sigma_w2": w, "sigma_b2": b})
    chi_1 = Result.from_numeric(c_value, c_error, label=f"chi_1[{act.name}]", dps=dps, certified=True,
                                method="certified: sigma_w2 E[sigma'(sqrt(q) z)^2] in arb balls over the q* ball")
    return CertifiedFixedPoint(q_star, chi_1, steps)


def _inputs(act: Any, sigma_w2: Any, sigma_b2: Any, dps: int | None) -> tuple:
    """(flint, Activation, sigma_w2, sigma_b2, dps) checked: python-flint present, w > 0, b >= 0."""
    from ncsym.gaussian.certified import flint_or_none

    flint = flint_or_none()
    if flint is None:
        raise DomainError("certified fixed points need python-flint: pip install python-flint")
    w, b = exact_number(sigma_w2), exact_number(sigma_b2)
    if not (w.is_number and b.is_number and w > 0 and b >= 0):
        raise DomainError(f"need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2!r}, {sigma_b2!r}")
    return flint, activation(act), w, b, working_dps(dps)


def _variance_ball(act: Activation, w: sympy.Expr, b: sympy.Expr, guess: Any, radius: Any, dps: int, flint: Any):
    """(ball proved to hold the unique q* in it, chi_1 ball over it, test count), at the caller's precision."""
    arb = flint.arb
    F = _Map(act, w, b, dps, flint)
    steps = 0
    if guess is not None:
        g = _ball_of(exact_number(guess), flint)
        r0 = _ball_of(exact_number(radius), flint) if radius is not None else \
            arb(10) ** -4 * (abs(g) if abs(g) > 1 else arb(1))
        if not (r0 > 0 and g - r0 > 0):
            raise DomainError(f"the guess ball {guess} +- {r0.mid()} must lie in q > 0")
        if _krawczyk(F.value, F.slope_of, arb(g.mid()), arb(r0.upper())) is None:
            raise ConvergenceError(
                f"Krawczyk's test failed on q in [{mpmath.nstr(_mp(g - r0), 8)}, {mpmath.nstr(_mp(g + r0), 8)}]: "
                f"that ball does not hold exactly one fixed point of the variance map of {act.name}; "
                "give a closer guess (or none)")
        m = _newton(F.value, F.slope_of, g.mid(), dps, flint, positive=True)
    else:
        m = _newton(F.value, F.slope_of, 1, dps, flint, positive=True)
    K, steps = _tighten(F.value, F.slope_of, m, dps, flint)
    if K is None:
        raise ConvergenceError(f"Krawczyk's test failed near q = {mpmath.nstr(_mp(m), 12)} for {act.name}")
    if guess is not None and not (K.lower() >= (g - r0).lower() and K.upper() <= (g + r0).upper()):
        raise ConvergenceError("Newton's method left the guess ball; give a closer guess")
    return K, F.chi_1(K), steps


def _tighten(value, slope, m, dps: int, flint: Any):
    """The smallest ball m +- 16^j 10^-(dps+2) |m| (j < 12) that passes Krawczyk's test, and j + 1."""
    arb = flint.arb
    r = (abs(m) if m != 0 else arb(1)) * arb(10) ** -(dps + 2)
    for steps in range(1, 13):
        K = _krawczyk(value, slope, m, r.upper())
        if K is not None:
            return K, steps
        r = r * 16
    return None, 12


#: Beyond this |rho*| the certified Mehler sum gets long (as for the certified dual kernel).
RHO_MAX = 0.95


@budgeted
def certified_correlation_fixed_point(act: Any, sigma_w2: Any, sigma_b2: Any = 0, guess: Any = None, *,
                                      dps: int | None = None) -> Result:
    """A fixed point rho* = C(rho*) in (-RHO_MAX, RHO_MAX), proved to lie in a ball.

    C(rho) = (sigma_w2 k_q*(rho) + sigma_b2) / q* (Poole et al. 2016, eq. 5) with k_q the dual
    kernel at variance q on both inputs. q* is first certified to dps + 10 digits; the Hermite
    coefficients a_n(q) are arb balls holding for every q in that ball, and the Mehler sum
    k_q(rho) = sum_{n <= N} a_n(q)^2 rho^n carries the proved tail |rho|^(N+1) T_N(q),
    T_N = E[sigma^2] - sum_{n <= N} a_n^2 (Cauchy-Schwarz and Parseval), and its derivative the
    tail (N + 1) |rho|^N T_N. Krawczyk's test on rho then proves the fixed point, as for q*.
    Without a guess, the float correlation map is iterated from rho = 0 (the stable fixed point
    of the chaotic phase). rho* = 1 is always a fixed point (C(1) = V(q*) / q* = 1) and is not
    looked for here.

    >>> from ncsym import zoo
    >>> r = certified_correlation_fixed_point(zoo.erf, 4, sympy.Rational(1, 10), dps=20)
    >>> r.certified, mpmath.nstr(r.value, 12), r.error < 1e-20
    (True, '0.203231363649', True)
    """
    from ncsym.gaussian.certified import bits_for, to_mp
    from ncsym.hermite_series.certified import certified_coefficients

    flint, act, w, b, dps = _inputs(act, sigma_w2, sigma_b2, dps)
    arb = flint.arb
    old = flint.ctx.prec
    try:
        flint.ctx.prec = bits_for(dps + 10)
        Q, _, _ = _variance_ball(act, w, b, None, None, dps + 10, flint)
        start = _float_correlation_guess(act, w, b, arb(Q.mid())) if guess is None else guess
        g = _ball_of(exact_number(start), flint)
        reach = min(float(abs(g).upper()) + 0.02, RHO_MAX)
        if not abs(g) < RHO_MAX:
            raise ConvergenceError(f"|rho*| ~ {mpmath.nstr(_mp(g), 6)} is beyond {RHO_MAX}: "
                                   "the certified Mehler sum would be too long")
        N = max(4, int(math.ceil((dps + 4) * math.log(10) / -math.log(reach))) + 1)
        N = max(N, int(math.ceil(reach / (1 - reach))) + 1)  # n reach^(n-1) decreases for n > N
        # a_n is weighted by |rho|^n <= reach^n: it may be coarser by reach^-n
        slack = [min(reach ** -n, 1e300) for n in range(N + 1)]
        values, errors, details = certified_coefficients(act, N, Q, dps, slack=slack, guard=4)
        flint.ctx.prec = bits_for(dps)
        coeffs = [arb(mpmath.nstr(v, dps + 20, strip_zeros=False)) + arb(0, float(e) * 1.001 + 1e-300)
                  + arb(0, float(abs(v)) * 10.0 ** -(dps + 18)) for v, e in zip(values, errors)]
        squares = [a * a for a in coeffs]
        F = _Map(act, w, b, dps, flint)
        # T_N = E[sigma^2] - sum a_n^2, bounded above over the q* ball
        tail = max((F.second_moment(Q) - sum(squares, arb(0))).upper(), arb(0))
        w_ball, b_ball = F.w, F.b

        def value(r):
            total = arb(0)
            for c in reversed(squares):
                total = total * r + c
            total += arb(0, (abs(r).upper() ** (N + 1) * tail).upper())
            return (w_ball * total + b_ball) / Q - r

        def slope(r):
            total = arb(0)
            for n in range(N, 0, -1):
                total = total * r + n * squares[n]
            total += arb(0, ((N + 1) * abs(r).upper() ** N * tail).upper())
            return w_ball * total / Q - 1

        if not abs(g) + arb(10) ** -4 < reach or _krawczyk(value, slope, arb(g.mid()), arb(10) ** -4) is None:
            raise ConvergenceError(f"Krawczyk's test failed on rho in {mpmath.nstr(_mp(g), 8)} +- 1e-4: no unique "
                                   f"correlation fixed point of {act.name} there; give a closer guess")
        m = _newton(value, slope, g.mid(), dps, flint, positive=False)
        K, _ = _tighten(value, slope, m, dps, flint)
        if K is None or not abs(K) < reach:
            raise ConvergenceError(f"Krawczyk's test failed near rho = {mpmath.nstr(_mp(m), 12)} for {act.name}")
        rho_value, rho_error = to_mp(K, dps + 5)
    finally:
        flint.ctx.prec = old
    return Result.from_numeric(rho_value, rho_error, label=f"rho*[{act.name}]", dps=dps, certified=True,
                               method=f"certified: Krawczyk test on the Mehler sum ({N + 1} terms, proved tail) "
                                      "in arb balls over the q* ball",
                               details={"sigma_w2": w, "sigma_b2": b, "terms": N + 1})


def _float_correlation_guess(act: Activation, w: sympy.Expr, b: sympy.Expr, q: Any) -> float:
    """rho* of the correlation map by float iteration from 0 (the chaotic phase's attractor), on a
    60-term Mehler sum from 10-digit ball coefficients (no float64 kernel table to build)."""
    from ncsym.hermite_series.certified import certified_coefficients

    values, _, _ = certified_coefficients(act, 60, q, 10, guard=2)
    squares = [float(v) ** 2 for v in values]
    wf, bf, qf = float(w), float(b), float(q.mid())
    r = new = 0.0
    for _ in range(500):
        total = 0.0
        for c in reversed(squares):
            total = total * r + c
        new = min(max((wf * total + bf) / qf, -1.0), 1.0)
        if abs(new - r) < 1e-13:
            break
        r = new
    return new


def _ball_of(value: sympy.Expr, flint: Any):
    from ncsym.gaussian.certified import number_ball

    if not value.is_number or value.is_real is False:
        raise DomainError(f"expected a real number, got {value}")
    return number_ball(value)


def _mp(ball) -> Any:
    return mpmath.mpf(ball.mid().str(20, radius=False))
