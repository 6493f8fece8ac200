"""Argument coercion for the depth maps: hyperparameters, correlations and variances as exact numbers.

Floats are read exactly (0.1 is 1/10), mpmath numbers keep their binary value, and every
domain check raises :class:`ncsym.core.errors.DomainError` with the offending value.

>>> _exact_parameter(0.1, "sigma_b2", positive=False).exact
1/10
"""

from __future__ import annotations

from typing import Any

import mpmath
import sympy

from ncsym.core.numbers import check_real, exact_sign, sign_of
from ncsym.core.errors import DomainError
from ncsym.core.results import GUARD_DIGITS, Result
from ncsym.symbolic.activations import exact_number

#: The symbol closed-form correlation maps are written in.
RHO = sympy.Symbol("rho", real=True)
#: A positive symbol for variances in closed forms of E[sigma(sqrt(q) z)^2].
_Q = sympy.Symbol("q", positive=True)

# -- input checks ----------------------------------------------------------------------------


def _exact_parameter(value: Any, name: str, *, positive: bool) -> Result:
    """A hyperparameter as an exact Result (0.1 is read as 1/10) after domain checks."""
    if isinstance(value, Result):
        parameter = value
    else:
        check_real(value, name)
        if isinstance(value, mpmath.mpf):
            value = sympy.Float(value, mpmath.mp.dps)
        parameter = Result.from_exact(exact_number(value), label=name, method="given")
    sign = sign_of(parameter)
    if sign is None:
        raise DomainError(f"cannot decide the sign of {name} = {parameter}")
    if sign < 0 or (positive and sign == 0):
        need = "positive" if positive else "non-negative"
        raise DomainError(f"{name} must be {need}, got {parameter.exact if parameter.is_exact else parameter.value}")
    return parameter


def _exact_rho(rho: Any) -> sympy.Expr:
    """rho as an exact sympy number in [-1, 1] (floats read exactly: 0.3 is 3/10)."""
    check_real(rho, "rho")
    if isinstance(rho, mpmath.mpf):
        value = sympy.Float(rho, mpmath.mp.dps)
    else:
        value = exact_number(rho)
    sign_hi, sign_lo = exact_sign(value - 1), exact_sign(value + 1)
    if sign_hi is None or sign_lo is None or sign_hi > 0 or sign_lo < 0:
        raise DomainError(f"rho must lie in [-1, 1], got {value}")
    return value


def _numeric_rho(value: Any, dps: int) -> sympy.Expr:
    """rho for DualKernel.evaluate as an exact sympy number (Float or rational), never an mpf.

    DualKernel.evaluate reads an mpf through its mantissa and exponent, which drops the sign
    of a negative mpf; sympy numbers take its exact route instead.
    """
    if isinstance(value, sympy.Basic):
        return value
    return sympy.Float(mpmath.mpf(value), dps + GUARD_DIGITS)


def _binary_rational(value: Any) -> sympy.Rational:
    """The exact rational value of an mpf (sign, mantissa and exponent kept).

    >>> _binary_rational(mpmath.mpf(-0.75))
    -3/4
    """
    sign, mantissa, exponent, _ = mpmath.mpf(value)._mpf_
    return (-1) ** sign * sympy.Integer(mantissa) * sympy.Integer(2) ** exponent


def _mpf_of(value: Any) -> Any:
    if isinstance(value, sympy.Basic):
        return mpmath.mpf(sympy.Float(value, mpmath.mp.dps + GUARD_DIGITS))
    return mpmath.mpf(value)


def _relabel(result: Result, label: str) -> Result:
    return Result(result.exact, result.value, result.error, result.method, label, result.dps, result.details)



def _show(result: Result) -> str:
    return str(result.exact) if result.is_exact else mpmath.nstr(result.value, 12)


def _float_bisect(f: Any, lo: float, hi: float) -> float:
    """A root of f in [lo, hi] with f(lo) > 0 > f(hi), to float precision."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


