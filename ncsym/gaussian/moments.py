"""Gaussian expectations of activations: exact where a closed form exists, else to any precision.

``expectation(f1, f2, ..., q=q, shift=mu, z_power=k)`` is E[z^k prod_i f_i(sqrt(q) z + mu)] with
z ~ N(0, 1). The routes, in the order ``method="auto"`` tries them:

1. ``exact``: the closed-form engine (:mod:`ncsym.gaussian.exact`): split at breakpoints, Stein's
   identity, completing the square, orthant probabilities; never calls sympy.integrate;
2. ``sympy``: ``sympy.integrate`` in a child process killed after ``timeout`` seconds, its
   answer checked against quadrature before it is trusted;
3. ``certified``: python-flint's rigorous ball integration (``acb.integral``) with a rigorous
   tail bound, where the integrand can be written in flint's functions (``result.certified``
   is then True: the error is proved);
4. ``numeric``: mpmath tanh-sinh quadrature split at the breakpoints, at two precisions, with
   an error estimate from their difference and quad's own estimate (``result.certified`` is
   False, and ``result.details["not_certified"]`` says why the certified route was not taken,
   e.g. python-flint missing).

Bad input raises: q <= 0 or NaN -> DomainError; an activation without a finite Gaussian second
moment (exp(x**2), 1/x, 1/sqrt(|x|)) -> NotSquareIntegrableError, never a number.

>>> from ncsym import zoo
>>> gaussian_mean(zoo.relu).exact
sqrt(2)/(2*sqrt(pi))
>>> gaussian_moment(zoo.erf, 2).exact
2*asin(2/3)/pi
>>> expectation(zoo.relu, zoo.relu, q=sympy.Symbol("q", positive=True)).exact
q/2
"""

from __future__ import annotations

import math

from fractions import Fraction
from functools import lru_cache
from typing import Any

import mpmath
import sympy

from ncsym.gaussian.certified import FLINT_MISSING, flint_or_none
from ncsym.gaussian.exact import integrate_pieces
from ncsym.gaussian.integrability import _check_integrable
from ncsym.gaussian.quadrature import _delta_expectation, _intervals, _numeric
from ncsym.gaussian.sympy_route import _sympy_hopeless, _sympy_integrate, _tidy
from ncsym.core.timebound import run_time_bounded
from ncsym.symbolic.activations import activation, exact_number
from ncsym.core.errors import DomainError, NoClosedFormError
from ncsym.core.results import GUARD_DIGITS, Result, to_mpf, working_dps
from ncsym.core.limits import MAX_MOMENT_ORDER, check_limit
from ncsym.core.timebound import budgeted

__all__ = [
    "expectation", "gaussian_mean", "gaussian_moment", "exact_expectation", "METHODS",
    "SYMPY_TIMEOUT",
]

#: The methods ``expectation`` accepts.
METHODS = ("auto", "exact", "sympy", "numeric", "certified")

#: Method strings of the two numeric routes: a proved enclosure, and an estimated error.
CERTIFIED_METHOD = "certified: arb ball integration (acb.integral) with a rigorous Gaussian tail bound"
NUMERIC_METHOD = "numeric: mpmath tanh-sinh quadrature (estimated error)"

#: Default time bound (seconds) for sympy.integrate and other symbolic steps that may hang.
SYMPY_TIMEOUT = 4.0



# -- public API --------------------------------------------------------------------------

@budgeted
def expectation(*factors: Any, q: Any = 1, shift: Any = 0, z_power: int = 0, method: str = "auto",
                dps: int | None = None, timeout: float | None = None) -> Result:
    """E[z^k prod_i sigma_i(sqrt(q) z + shift)], z ~ N(0, 1), as a :class:`Result`.

    Factors are anything :func:`ncsym.activation` accepts. A factor holding Dirac deltas (a
    distributional derivative) must be the only factor.

    >>> from ncsym import zoo
    >>> expectation(zoo.gelu, zoo.gelu).exact
    sqrt(3)/(6*pi) + 1/3
    >>> r = expectation(zoo.tanh, zoo.tanh, dps=30)
    >>> r.certified, r.error < mpmath.mpf(10)**-30
    (True, True)
    >>> expectation(zoo.relu, z_power=1).exact
    1/2
    """
    acts = tuple(activation(f) for f in factors)
    q_value, shift_value = _check_q(q), _check_shift(shift)
    power = _check_power(z_power)
    if method not in METHODS:
        raise DomainError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    seconds = SYMPY_TIMEOUT if timeout is None else float(timeout)
    if not seconds > 0:
        raise DomainError(f"timeout must be positive, got {timeout!r}")
    return _expectation_cached(acts, q_value, shift_value, power, method, working_dps(dps), seconds)


def gaussian_mean(act: Any, q: Any = 1, *, method: str = "auto", dps: int | None = None) -> Result:
    """E[sigma(sqrt(q) z)].

    >>> from ncsym import zoo
    >>> gaussian_mean(zoo.gelu).exact
    1/(2*sqrt(pi))
    >>> gaussian_mean(zoo.elu(), q=sympy.Rational(5, 2)).exact
    -1/2 + exp(5/4)*erfc(sqrt(5)/2)/2 + sqrt(5)/(2*sqrt(pi))
    """
    return expectation(act, q=q, method=method, dps=dps)


def gaussian_moment(act: Any, k: int = 2, q: Any = 1, *, method: str = "auto",
                    dps: int | None = None) -> Result:
    """E[sigma(sqrt(q) z)^k] for an integer k >= 0.

    >>> from ncsym import zoo
    >>> gaussian_moment(zoo.relu, 2).exact
    1/2
    >>> gaussian_moment(zoo.sin, 2, q=2).exact
    1/2 - exp(-4)/2
    """
    order = _check_power(k, "moment order k")
    return expectation(*([act] * order), q=q, method=method, dps=dps)


@budgeted
def exact_expectation(factors: Any, q: Any = 1, shift: Any = 0, z_power: int = 0) -> sympy.Expr:
    """The closed form of E[z^k prod sigma_i(sqrt(q) z + shift)] from the exact engine alone.

    ``factors`` is one activation or a sequence of them; q may be a positive symbol and shift
    a real symbol. Raises NoClosedFormError when the engine has no rule (no sympy.integrate).

    >>> from ncsym import zoo
    >>> t = sympy.Symbol("t", real=True)
    >>> exact_expectation(zoo.relu, shift=t)
    -t*erfc(sqrt(2)*t/2)/2 + t + sqrt(2)*exp(-t**2/2)/(2*sqrt(pi))
    >>> exact_expectation([zoo.erf, zoo.erf], q=sympy.Symbol("q", positive=True))
    2*asin(2*q/(2*q + 1))/pi
    """
    if isinstance(factors, (list, tuple)):
        acts = tuple(activation(f) for f in factors)
    else:
        acts = (activation(factors),)
    return _exact_cached(acts, _check_q(q), _check_shift(shift), _check_power(z_power))


# -- validation --------------------------------------------------------------------------

def _check_q(q: Any) -> sympy.Expr:
    if isinstance(q, mpmath.mpf) and mpmath.isfinite(q):
        q = sympy.Integer(int(q.man)) * sympy.Integer(2) ** int(q.exp)  # the binary value, exactly
    try:
        value = _exact_float(exact_number(q))
    except DomainError as exc:
        raise DomainError(f"q must be a positive number or a positive symbol: {exc}") from None
    if value.has(sympy.nan) or value.has(sympy.zoo):
        raise DomainError(f"q must be a positive number, got {q!r}")
    if value.is_number:
        if value.is_real is not True or value.is_finite is not True or value.is_positive is not True:
            raise DomainError(f"q must be a finite positive number, got {q!r}")
        return value
    if value.is_positive is not True:
        raise DomainError(
            f"q = {value} must be known to be positive: declare symbols with positive=True "
            "(sympy.Symbol('q', positive=True))")
    return value


def _exact_float(value: sympy.Expr) -> sympy.Expr:
    """A sympy Float read as the decimal it prints (like exact_number reads a Python float), so
    the exact engine never carries binary floats into a closed form."""
    if isinstance(value, sympy.Float):
        return sympy.Rational(str(value)) if value.is_finite else value
    if value.has(sympy.Float):
        return value.xreplace({f: sympy.Rational(str(f)) for f in value.atoms(sympy.Float) if f.is_finite})
    return value


def _check_shift(shift: Any) -> sympy.Expr:
    try:
        value = _exact_float(exact_number(shift))
    except DomainError as exc:
        raise DomainError(f"shift must be a real number or a real symbol: {exc}") from None
    if value.is_real is not True or value.is_finite is False:
        raise DomainError(f"shift must be finite and real (declare symbols with real=True), got {shift!r}")
    return value


def _check_power(k: Any, what: str = "z_power") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, sympy.Integer)) or int(k) < 0:
        raise DomainError(f"{what} must be a non-negative integer, got {k!r}")
    return check_limit(int(k), what, MAX_MOMENT_ORDER)


# -- orchestration ---------------------------------------------------------------------------

@lru_cache(maxsize=2048)
def _expectation_cached(acts, q, shift, power, method, dps, seconds) -> Result:
    label = _label(acts, q, shift, power)
    _check_distributions(acts)
    integrability = _check_integrable(acts, q, shift, power)
    details = {"integrability": integrability, "attempts": []}
    attempts = details["attempts"]

    if method in ("auto", "exact"):
        symmetric = _symmetry_value(acts, shift, power)
        if symmetric is not None:
            return _exact_result(symmetric, label, "exact: odd symmetry of the integrand", dps, details)
    if method in ("auto", "exact"):
        try:
            expr = _exact_cached(acts, q, shift, power)
            return _exact_result(expr, label, "exact: Stein/orthant engine", dps, details)
        except NoClosedFormError as exc:
            attempts.append(f"exact engine: {exc}")
    hopeless = _sympy_hopeless(acts) if method == "auto" else None
    if hopeless:
        attempts.append(f"sympy.integrate skipped: it has no Gaussian rule for {hopeless}")
    elif method in ("auto", "exact", "sympy"):
        expr, note = _sympy_integrate(acts, q, shift, power, seconds)
        attempts.append(note)
        if expr is not None:
            return _exact_result(expr, label, "exact: sympy.integrate", dps, details)
        if method in ("exact", "sympy"):
            raise NoClosedFormError(f"no closed form for {label}: " + "; ".join(attempts))
    if method == "certified":
        value, error = _certified(acts, q, shift, power, dps)
        return Result.from_numeric(value, error, label=label, dps=dps, details=details,
                                   method=CERTIFIED_METHOD, certified=True)
    if not (q.is_number and shift.is_number) or any(a.parameters for a in acts):
        raise NoClosedFormError(
            f"no closed form for {label} and no numeric value with symbolic parameters: " + "; ".join(attempts))
    if method == "auto":
        # a proved bound whenever ball arithmetic can write the integrand; else an estimate
        reason = None
        if flint_or_none() is None:
            reason = FLINT_MISSING
        elif acts and acts[0].deltas:
            reason = "no ball rule for Dirac deltas"
        else:
            try:
                value, error = _certified(acts, q, shift, power, dps)
                return Result.from_numeric(value, error, label=label, dps=dps, details=details,
                                           method=CERTIFIED_METHOD, certified=True)
            except DomainError as exc:  # no ball rule or growth bound for some sub-expression
                reason = str(exc)
        attempts.append(f"certified route: {reason}")
        details["not_certified"] = reason
    value, error = _numeric(acts, q, shift, power, dps)
    return Result.from_numeric(value, error, label=label, dps=dps, details=details,
                               method=NUMERIC_METHOD)


def _symmetry_value(acts, shift, power) -> sympy.Expr | None:
    """E[z^k prod sigma_i(sqrt(q) z)] where odd symmetry alone decides it, else None.

    The integrand odd in z (each factor proved odd or even) gives 0. One factor that is odd
    about its value at 0 (sigma - sigma(0) odd, like sigmoid) gives sigma(0) E[z^k], with
    E[z^k] = (k-1)!! for even k and 0 for odd k, since z^k (sigma - sigma(0)) is then odd.
    """
    if not acts:
        return sympy.Integer(0) if power % 2 == 1 else None
    if shift != 0:
        return None
    parities = [a.parity for a in acts]
    if all(p in (-1, 1) for p in parities):
        return sympy.Integer(0) if (-1) ** power * math.prod(parities) == -1 else None
    if len(acts) == 1 and power % 2 == 0 and acts[0].odd_about is not None:
        return acts[0].odd_about * sympy.factorial2(power - 1)
    return None


def _exact_result(expr, label, method, dps, details) -> Result:
    expr = _recognize_rational(expr, dps)
    if expr.free_symbols:
        # A closed form in symbolic q, shift or parameters has no numeric value yet.
        details["symbolic"] = True
        return Result(expr, mpmath.nan, mpmath.mpf(0), method, label, dps, details)
    return Result.from_exact(expr, label=label, method=method, dps=dps, details=details)


def _recognize_rational(expr, dps):
    """A closed form that equals a small rational to far more digits than asked: prove it with a
    time-bounded sympy.simplify and return the rational (zoo.selu's exact constants make
    E[selu] = 0 and E[selu^2] = 1 such cases)."""
    if expr.free_symbols or expr.is_Rational:
        return expr
    candidate = None
    for digits in (dps + GUARD_DIGITS, 2 * dps + 20):  # a cheap screen, then a sharp one
        try:
            value = to_mpf(expr, digits)
        except (ValueError, TypeError):
            return expr
        with mpmath.workdps(digits):
            if candidate is None:
                candidate = Fraction(str(mpmath.nstr(value, digits))).limit_denominator(1000)
            if abs(value - mpmath.mpf(candidate.numerator) / candidate.denominator) > mpmath.mpf(10) ** (-digits + 5):
                return expr
    rational = sympy.Rational(candidate.numerator, candidate.denominator)
    if sympy.cancel(expr - rational) == 0:  # fast: a rational identity in the transcendental constants
        return rational
    status, simplified = run_time_bounded(sympy.simplify, (expr - rational,), SYMPY_TIMEOUT)
    return rational if status == "ok" and simplified == 0 else expr


def _label(acts, q, shift, power) -> str:
    """E[z^k sigma_1(u) sigma_2(u)^2 ...] with u = sqrt(q) z + shift, e.g. 'E[tanh(z)^2]'."""
    inner = "z" if q == 1 else f"sqrt({q}) z"
    if shift != 0:
        inner += f" + {shift}"
    factors = [] if power == 0 else (["z"] if power == 1 else [f"z^{power}"])
    names = [a.name for a in acts]
    for name in dict.fromkeys(names):
        call = f"{name}({inner})" if name.isidentifier() else f"[{name}]({inner})"
        count = names.count(name)
        factors.append(call if count == 1 else f"{call}^{count}")
    return f"E[{' '.join(factors) or '1'}]"


def _check_distributions(acts) -> None:
    if len(acts) > 1 and any(a.deltas for a in acts):
        raise DomainError("a factor with Dirac deltas must be the only factor: products of a "
                          "distribution with other factors are not defined here")



# -- the exact route ---------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _exact_cached(acts, q, shift, power) -> sympy.Expr:
    _check_distributions(acts)
    _check_integrable(acts, q, shift, power, symbolic_checks=False)
    total = integrate_pieces(_intervals(acts), q, shift, power)
    if acts and acts[0].deltas:
        total += sum((_delta_expectation(d, q, shift, power) for d in acts[0].deltas), sympy.Integer(0))
    return _tidy(total)



# -- the certified route ---------------------------------------------------------------------------

def _certified(acts, q, shift, power, dps) -> tuple[Any, Any]:
    from ncsym.gaussian.certified import certified_expectation

    if acts and acts[0].deltas:
        raise DomainError("certified integration of distributions is not supported; use method='exact'")
    if not (q.is_number and shift.is_number) or any(a.parameters for a in acts):
        raise DomainError("certified integration needs numeric q, shift and parameters")
    return certified_expectation(_intervals(acts), q, shift, power, dps)
