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

from dataclasses import dataclass
from typing import Any

import mpmath
import sympy

from ncsym.core.errors import ConvergenceError, DomainError
from ncsym.core.results import Result, working_dps
from ncsym.core.timebound import budgeted
from ncsym.symbolic.activations import Activation, activation, exact_number, x

__all__ = ["CertifiedFixedPoint", "certified_variance_fixed_point"]

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

    def value(self, q):
        from ncsym.gaussian.certified import expectation_ball

        self._check(q)
        return self.w * expectation_ball(self.square, q, 0, 0, self.dps) + self.b - q

    def slope_of(self, q):
        from ncsym.gaussian.certified import expectation_ball

        self._check(q)
        return self.w * expectation_ball(self.slope, q, 0, 1, self.dps) / q.sqrt() - 1

    def chi_1(self, q):
        from ncsym.gaussian.certified import expectation_ball

        self._check(q)
        return self.w * expectation_ball(self.derivative, q, 0, 0, self.dps)


def _krawczyk(F: _Map, m, r):
    """K(X) for X = m +- r, or None when K(X) is not inside the interior of X."""
    arb = F.flint.arb
    X = arb(m, r)
    slope_mid = F.slope_of(arb(m))
    if slope_mid.contains(0):
        return None
    Y = arb(1) / arb(slope_mid.mid())
    K = m - Y * F.value(arb(m)) + (1 - Y * F.slope_of(X)) * (X - m)
    if K.is_finite() and K.lower() > X.lower() and K.upper() < X.upper():
        return K
    return None


def _newton_guess(F: _Map, start) -> Any:
    """A midpoint near a root by Newton's method on the ball midpoints (halving steps that leave q > 0)."""
    arb = F.flint.arb
    m = arb(start)
    for _ in range(60):
        step = arb((F.value(arb(m)) / F.slope_of(arb(m))).mid())
        new = m - step
        while not new > 0:
            step, new = step / 2, m - step / 2
        m = arb(new.mid())
        if abs(step) < abs(m) * arb(10) ** -(F.dps + 3):
            return m
    raise ConvergenceError("Newton's method found no fixed point of the variance map from q = 1; give a guess")


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
    from ncsym.gaussian.certified import bits_for, flint_or_none, to_mp

    flint = flint_or_none()
    if flint is None:
        raise DomainError("certified fixed points need python-flint: pip install python-flint")
    act = activation(act)
    dps = working_dps(dps)
    w, b = exact_number(sigma_w2), exact_number(sigma_b2)
    if not (w.is_number and b.is_number and w > 0 and b >= 0):
        raise DomainError(f"need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2!r}, {sigma_b2!r}")
    arb = flint.arb
    old = flint.ctx.prec
    flint.ctx.prec = bits_for(dps)
    try:
        F = _Map(act, w, b, dps, flint)
        steps = 0
        if guess is not None:
            g = _ball_of(exact_number(guess), flint)
            r0 = _ball_of(exact_number(radius), flint) if radius is not None else \
                arb(10) ** -4 * (abs(g) if abs(g) > 1 else arb(1))
            if not (r0 > 0 and g - r0 > 0):
                raise DomainError(f"the guess ball {guess} +- {r0.mid()} must lie in q > 0")
            if _krawczyk(F, arb(g.mid()), arb(r0.upper())) is None:
                raise ConvergenceError(
                    f"Krawczyk's test failed on q in [{mpmath.nstr(_mp(g - r0), 8)}, {mpmath.nstr(_mp(g + r0), 8)}]: "
                    f"that ball does not hold exactly one fixed point of the variance map of {act.name}; "
                    "give a closer guess (or none)")
            m = _newton_guess(F, g.mid())
        else:
            m = _newton_guess(F, 1)
        # the smallest ball around the polished midpoint that passes the test
        target = abs(m) * arb(10) ** -(dps + 2)
        K = None
        r = target
        while K is None and steps < 12:
            K = _krawczyk(F, m, r.upper())
            r, steps = r * 16, steps + 1
        if K is None:
            raise ConvergenceError(f"Krawczyk's test failed near q = {mpmath.nstr(_mp(m), 12)} for {act.name}")
        if guess is not None and not (K.lower() >= (g - r0).lower() and K.upper() <= (g + r0).upper()):
            raise ConvergenceError("Newton's method left the guess ball; give a closer guess")
        chi = F.chi_1(K)
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


def _ball_of(value: sympy.Expr, flint: Any):
    from ncsym.gaussian.certified import number_ball

    if not value.is_number or value.is_real is False:
        raise DomainError(f"expected a real number, got {value}")
    return number_ball(value)


def _mp(ball) -> Any:
    return mpmath.mpf(ball.mid().str(20, radius=False))
