"""Small helpers for scalars that are either exact (sympy) or numeric with an error bound.

The depth maps combine many derived quantities (moments, Hermite coefficients, variances):
when every input is exact the combination stays exact; otherwise it is carried out in
interval arithmetic so that the error bound of the output is rigorous for the arithmetic
and inherits the bounds of the inputs.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import mpmath
import sympy

from ncsym.core.conversion import safe_sympify
from ncsym.core.errors import DomainError
from ncsym.core.results import GUARD_DIGITS, Result, to_mpf

#: sympy.evalf precision used to decide the sign of an exact expression numerically.
_SIGN_DIGITS = 60


@contextmanager
def iv_workdps(dps: int) -> Iterator[None]:
    """Run interval arithmetic (``mpmath.iv``) at ``dps`` digits."""
    old = mpmath.iv.prec
    mpmath.iv.dps = dps
    try:
        yield
    finally:
        mpmath.iv.prec = old


def interval(result: Result) -> Any:
    """The interval [value - error, value + error], widened by one rounding of the value."""
    value = result.value
    if result.is_exact and mpmath.isfinite(value):
        # the stored value was rounded at the Result's own precision: re-evaluate at ours
        value = to_mpf(result.exact, mpmath.mp.dps)
    if not mpmath.isfinite(value):
        return mpmath.iv.mpf([value, value])
    slack = abs(value) * mpmath.mpf(2) ** (-mpmath.mp.prec + 2) if result.error == 0 else 0
    radius = result.error + slack
    return mpmath.iv.mpf([value - radius, value + radius])


def from_interval(box: Any, *, label: str, method: str, dps: int) -> Result:
    """A numeric Result centred on an interval, with its half-width as error bound."""
    lo, hi = (mpmath.mpf(v) for v in box._mpi_)
    with mpmath.workdps(dps + GUARD_DIGITS):
        return Result.from_numeric((lo + hi) / 2, (hi - lo) / 2, label=label, method=method, dps=dps)


def combine(fn: Callable[..., Any], *inputs: Result, label: str, method: str, dps: int,
            exact_fn: Callable[..., Any] | None = None) -> Result:
    """``fn`` applied to Results: exact when every input is exact, else in interval arithmetic.

    ``fn`` must use only arithmetic (so it works on sympy numbers and on intervals alike);
    ``exact_fn`` may replace it for the exact branch.

    >>> a = Result.from_exact(sympy.Rational(1, 3), dps=20)
    >>> b = Result.from_numeric(mpmath.mpf(2), mpmath.mpf("1e-15"), method="test", dps=20)
    >>> combine(lambda u, v: u * v, a, a, label="p", method="m", dps=20).exact
    1/9
    >>> r = combine(lambda u, v: u * v, a, b, label="p", method="m", dps=20)
    >>> float(r), r.error < 1e-15
    (0.6666666666666666, True)
    """
    if all(r.is_exact for r in inputs):
        expr = (exact_fn or fn)(*[r.exact for r in inputs])
        return Result.from_exact(tidy(safe_sympify(expr)), label=label, method=method, dps=dps)
    with mpmath.workdps(dps + GUARD_DIGITS), iv_workdps(dps + GUARD_DIGITS):
        box = fn(*[interval(r) for r in inputs])
        return from_interval(box, label=label, method=method, dps=dps)


def tidy(expr: sympy.Expr) -> sympy.Expr:
    """A cheap simplification: full ``simplify`` only on small expressions (it can be slow)."""
    if not isinstance(expr, sympy.Basic) or expr.is_Atom:
        return expr
    if sympy.count_ops(expr) <= 40:
        try:
            return sympy.simplify(expr)
        except Exception:  # sympy raises assorted errors on unusual expressions
            return expr
    return expr


def sign_of(value: Result, reference: Any = 0) -> int | None:
    """Sign of ``value - reference``: -1, 0 or 1 when it can be decided, None when it cannot.

    Exact values are decided symbolically (with a high-precision numeric check, which sympy
    certifies, for nonzero differences); numeric values only when the error bound excludes
    the reference.

    >>> sign_of(Result.from_exact(sympy.sqrt(2) - sympy.Rational(7, 5)))
    1
    >>> sign_of(Result.from_numeric(mpmath.mpf("1e-20"), mpmath.mpf("1e-15"), method="q"))
    """
    reference = safe_sympify(reference)
    if value.is_exact:
        return exact_sign(value.exact - reference)
    ref = mpmath.mpf(sympy.Float(reference, _SIGN_DIGITS)) if reference != 0 else mpmath.mpf(0)
    with mpmath.workdps(max(value.dps, 15) + GUARD_DIGITS):
        difference = value.value - ref
        if abs(difference) > value.error:
            return 1 if difference > 0 else -1
    return None


def exact_sign(expr: sympy.Expr) -> int | None:
    """Sign of an exact real sympy number; None when it cannot be decided.

    >>> exact_sign(sympy.pi - 3), exact_sign(sympy.sqrt(2)**2 - 2), exact_sign(-sympy.oo)
    (1, 0, -1)
    """
    expr = safe_sympify(expr)
    if expr.is_zero:
        return 0
    if expr.is_extended_positive:
        return 1
    if expr.is_extended_negative:
        return -1
    try:
        number = expr.evalf(_SIGN_DIGITS)
    except Exception:  # unevaluable special functions
        number = None
    if number is not None and number.is_Number and number != 0:
        # evalf tracks precision: a nonzero Float it returns has correct leading digits.
        if abs(number) > sympy.Float(10) ** (-(_SIGN_DIGITS // 2)):
            return 1 if number > 0 else -1
    try:
        zero = expr.equals(0)
    except Exception:
        zero = None
    if zero is True:
        return 0
    if zero is False and number is not None and number.is_Number and number != 0:
        return 1 if number > 0 else -1
    return None


def infinite_result(label: str, dps: int, method: str) -> Result:
    """An exact +infinity (e.g. E[sigma'^2] for an activation with a jump)."""
    return Result(sympy.oo, mpmath.inf, mpmath.mpf(0), method, label, dps, {})


def check_real(value: Any, name: str) -> None:
    """Raise DomainError for NaN, infinities, complex numbers, booleans and non-numbers."""
    if isinstance(value, bool):
        raise DomainError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, sympy.Basic):
        if value.free_symbols:
            raise DomainError(f"{name} must be a number, got the symbolic expression {value}")
        if value.has(sympy.nan) or value.is_extended_real is False or value.is_finite is False:
            raise DomainError(f"{name} must be a finite real number, got {value}")
        return
    if isinstance(value, (mpmath.mpc, complex)):
        raise DomainError(f"{name} must be real, got {value!r}")
    try:
        number = mpmath.mpf(value)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"{name} must be a real number, got {value!r}") from exc
    if not mpmath.isfinite(number):
        raise DomainError(f"{name} must be a finite real number, got {value!r}")


def real_float(value: Any, name: str) -> float:
    """A finite real number as a float, or a DomainError; text is refused (parse it first).

    >>> real_float(0.5, "q0"), real_float(sympy.Rational(1, 4), "q0")
    (0.5, 0.25)
    >>> real_float("0.5", "q0")
    Traceback (most recent call last):
    ...
    ncsym.core.errors.DomainError: q0 must be a number, got the text '0.5' (read text with ncsym.parse_expression(text, allow_variable=False))
    """
    if isinstance(value, (str, bytes)):
        raise DomainError(f"{name} must be a number, got the text {value[:40]!r} (read text with "
                          "ncsym.parse_expression(text, allow_variable=False))")
    check_real(value, name)
    return float(value)
