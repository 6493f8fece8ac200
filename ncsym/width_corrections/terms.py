"""Gaussian data of one layer map as functions of the variance K, exact where the engine is.

The 1/n recursions need E[prod_i f_i(u)] for u ~ N(0, K) and its derivatives in K. Both come
from the expectation engine (:mod:`ncsym.gaussian.moments`) through the heat-equation identity

    d^k/dK^k E[f(sqrt(K) z)] = E[f(sqrt(K) z) He_2k(z)] / (2K)^k,    z ~ N(0, 1),

(He the probabilists' Hermite polynomials): E[f''] = E[f (z^2 - 1)]/K by Gaussian integration
by parts, twice. It holds for kinked and jumping f alike, so no distributional derivative is
taken here; it needs only the z-power moments E[z^p prod f_i(sqrt(K) z)] the engine provides.

A value is a :class:`Num`: an exact sympy number (or None), an mpmath value and an estimated
error; arithmetic on Nums propagates errors to first order.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import mpmath
import sympy

from ncsym.core.errors import NoClosedFormError
from ncsym.core.numbers import tidy
from ncsym.core.results import GUARD_DIGITS, Result, to_mpf
from ncsym.gaussian.moments import exact_expectation, expectation
from ncsym.symbolic.activations import Activation

__all__ = ["K", "Num", "GaussianTerm", "EXACT_OPS"]

#: The variance symbol the closed forms are written in.
K = sympy.Symbol("K", positive=True)

#: Exact expressions with more operations than this are carried on numerically (nested
#: closed forms, e.g. a shifted ReLU's sqrt(K) terms, grow with every layer).
EXACT_OPS = 80

#: Coefficients of He_0, He_2, He_4, He_6 by power of z.
_HE = {0: {0: 1}, 1: {2: 1, 0: -1}, 2: {4: 1, 2: -6, 0: 3}, 3: {6: 1, 4: -15, 2: 45, 0: -15}}


class Num:
    """A number with an exact form when there is one, an mpmath value and an error estimate.

    >>> a = Num.exact_of(sympy.Rational(1, 3), 20)
    >>> b = Num(None, mpmath.mpf(2), mpmath.mpf("1e-18"), 20)
    >>> (a * a).exact, float((a + b).error) > 0
    (1/9, True)
    """

    __slots__ = ("exact", "value", "error", "dps")

    def __init__(self, exact: sympy.Expr | None, value: Any, error: Any, dps: int):
        self.exact, self.value, self.error, self.dps = exact, value, error, dps

    @classmethod
    def exact_of(cls, expr: Any, dps: int, value: Any = None) -> "Num":
        """An exact number; ``value``, when given, is its value already at dps + guard digits."""
        expr = sympy.sympify(expr)
        if value is None:
            value = to_mpf(expr, dps)
        if sympy.count_ops(expr) > EXACT_OPS:
            return cls(None, value, abs(value) * mpmath.mpf(10) ** -(dps + GUARD_DIGITS // 2), dps)
        return cls(expr, value, mpmath.mpf(0), dps)

    @classmethod
    def numeric_of(cls, expr: Any, dps: int) -> "Num":
        value = to_mpf(sympy.sympify(expr), dps)
        return cls(None, value, abs(value) * mpmath.mpf(10) ** -(dps + GUARD_DIGITS // 2), dps)

    def _combine(self, other: Any, op, exact_op, error) -> "Num":
        other = other if isinstance(other, Num) else Num.exact_of(other, self.dps)
        dps = max(self.dps, other.dps)
        with mpmath.workdps(dps + GUARD_DIGITS):
            value = op(self.value, other.value)
            err = error(self, other)
        if self.exact is not None and other.exact is not None:
            # exact arithmetic only; the value comes from the operands' values (guard digits
            # carried), since re-evaluating nested closed forms costs far more
            return Num.exact_of(exact_op(self.exact, other.exact), dps, value)
        return Num(None, value, max(err, abs(value) * mpmath.mpf(10) ** -(dps + GUARD_DIGITS // 2)), dps)

    def __add__(self, other: Any) -> "Num":
        return self._combine(other, lambda a, b: a + b, lambda a, b: a + b, lambda a, b: a.error + b.error)

    __radd__ = __add__

    def __sub__(self, other: Any) -> "Num":
        return self._combine(other, lambda a, b: a - b, lambda a, b: a - b, lambda a, b: a.error + b.error)

    def __rsub__(self, other: Any) -> "Num":
        return Num.exact_of(other, self.dps) - self

    def __mul__(self, other: Any) -> "Num":
        other = other if isinstance(other, Num) else Num.exact_of(other, self.dps)
        if (self.exact is not None and self.exact.is_zero) or (other.exact is not None and other.exact.is_zero):
            return Num.exact_of(0, max(self.dps, other.dps))  # an exact zero factor: exactly zero
        return self._combine(other, lambda a, b: a * b, lambda a, b: a * b,
                             lambda a, b: abs(a.value) * b.error + abs(b.value) * a.error + a.error * b.error)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> "Num":
        other = other if isinstance(other, Num) else Num.exact_of(other, self.dps)
        return self._combine(other, lambda a, b: a / b, lambda a, b: a / b,
                             lambda a, b: (a.error + abs(a.value / b.value) * b.error) / (abs(b.value) - b.error))

    def __abs__(self) -> Any:
        return abs(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        return f"Num({self.exact if self.exact is not None else mpmath.nstr(self.value, 15)}, ±{mpmath.nstr(self.error, 3)})"

    def result(self, label: str, method: str) -> Result:
        """As a :class:`Result` (a numeric one says its bound is an estimate)."""
        if self.exact is not None:
            return Result.from_exact(tidy(self.exact), label=label, method=method, dps=self.dps)
        return Result.from_numeric(self.value, self.error, label=label, dps=self.dps,
                                   method=f"{method}; error estimated (first-order propagation)",
                                   details={"bound": "estimate"})


class GaussianTerm:
    """E[prod f_i(sqrt(K) z) He_2k(z)] / (2K)^k = d^k/dK^k E[prod f_i(u)], u ~ N(0, K).

    >>> from ncsym import zoo
    >>> GaussianTerm((zoo.relu, zoo.relu), 1).closed   # d/dK E[relu(u)^2]
    1/2
    """

    def __init__(self, factors: tuple[Activation, ...], order: int = 0):
        self.factors, self.order = tuple(factors), int(order)

    @property
    def closed(self) -> sympy.Expr | None:
        """The closed form in :data:`K` from the exact engine alone, or None."""
        return _closed(self.factors, self.order)

    def at(self, k: Num, dps: int, *, error_of: "GaussianTerm | None" = None) -> Num:
        """The term at variance ``k``; ``error_of`` (its K-derivative) carries k's error over."""
        closed = self.closed
        if closed is not None:
            with mpmath.workdps(dps + GUARD_DIGITS):
                value = _mp_function(closed)(k.value)
            if k.exact is not None:
                out = Num.exact_of(closed.subs(K, k.exact), dps, value)
            else:
                out = Num(None, value, abs(value) * mpmath.mpf(10) ** -(dps + GUARD_DIGITS // 2), dps)
        else:
            out = self._numeric(k, dps)
        if k.error and error_of is not None:
            # first order in k's error: |d/dK term| * error; at the same precision and variance,
            # so its quadratures are mostly the cached ones of the neighbouring terms
            slope = error_of.at(Num(None, k.value, mpmath.mpf(0), dps), dps)
            out = Num(None, out.value, out.error + abs(slope.value) * k.error, dps)
        return out

    def _numeric(self, k: Num, dps: int) -> Num:
        q = k.exact if k.exact is not None else sympy.Float(k.value, dps + GUARD_DIGITS)
        total, error = mpmath.mpf(0), mpmath.mpf(0)
        with mpmath.workdps(dps + GUARD_DIGITS):
            for power, c in _HE[self.order].items():
                r = expectation(*self.factors, q=q, z_power=power, method="numeric", dps=dps)
                total += c * r.value
                error += abs(c) * r.error
            scale = (2 * k.value) ** self.order
            return Num(None, total / scale, error / scale, dps)


@lru_cache(maxsize=512)
def _closed(factors: tuple[Activation, ...], order: int) -> sympy.Expr | None:
    total = sympy.Integer(0)
    for power, c in _HE[order].items():
        try:
            total += c * exact_expectation(list(factors), q=K, z_power=power)
        except NoClosedFormError:
            return None
    return tidy(sympy.expand(total / (2 * K) ** order))


@lru_cache(maxsize=512)
def _mp_function(expr: sympy.Expr):
    # expr is a closed form the engine derived (never user text); mpmath evaluates it.
    return sympy.lambdify(K, expr, modules="mpmath")
