"""Hermite coefficients of an activation, exact or to any precision, many at once.

a_n = E[sigma(sqrt(q) z) He_n(z)] / sqrt(n!) for z ~ N(0, 1), so that
sigma(sqrt(q) z) = sum_n a_n h_n(z) with orthonormal h_n = He_n / sqrt(n!). Their squares are
the Taylor coefficients of the dual kernel (Mehler), and Parseval gives
sum_n a_n^2 = E[sigma(sqrt(q) z)^2].

Routes, tried in this order by ``method="auto"``:

1. exact, piecewise polynomials (relu family, abs, step, sign, hard_tanh, polynomials, Hermite
   polynomials, shifts): Stein's identity with distributional derivatives turns a_n into a sum
   of jump terms J_j(b) He_{n-1-j}(b / sqrt(q)) phi(b / sqrt(q)) over the breakpoints b, run by
   the three-term recurrence of He_k in exact rational arithmetic;
2. exact, D-finite Gaussian smoothings (gelu, erf, exp, sin, cos, elu, selu): the Taylor
   coefficients of W(t) = E[sigma(sqrt(q) z + t)] follow a linear recurrence (sympy.holonomic)
   and a_n = q^{n/2} sqrt(n!) W^(n)(0) / n!;
3. numeric (tanh, sigmoid, softplus, silu, gelu_tanh, ...): Gauss-Legendre panels shaped by
   the activation's analytic strip, all h_n at once by their recurrence. With python-flint the
   panels run in ball arithmetic with a proved error bound (:mod:`ncsym.hermite_series.certified`,
   ``result.certified`` True); without it, or where no ball rule applies, the bound is the gap
   between two rules (an estimate; the method says why).

>>> from ncsym import zoo
>>> [a.exact for a in hermite_coefficients(zoo.relu, 3)]
[sqrt(2)/(2*sqrt(pi)), 1/2, 1/(2*sqrt(pi)), 0]
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import mpmath
import sympy

from ncsym.hermite_series.exact import (
    is_piecewise_polynomial, piecewise_polynomial_coefficients, piecewise_polynomial_second_moment,
    smoothing_coefficients,
)
from ncsym.hermite_series.numeric import quadrature_coefficients, quadrature_second_moment
from ncsym.symbolic.activations import Activation, activation, exact_number
from ncsym.core.errors import DomainError, NoClosedFormError, NotSquareIntegrableError
from ncsym.core.results import GUARD_DIGITS, Result, working_dps
from ncsym.core.limits import MAX_HERMITE_ORDER, check_limit
from ncsym.core.timebound import budgeted

__all__ = [
    "hermite_coefficients", "hermite_coefficient", "hermite_coefficients_squared",
    "parseval_tail", "hermite_decay", "HermiteDecay",
]

METHODS = ("auto", "exact", "numeric")

# -- the exact routes, in the order "auto" and "exact" try them --------------------------------

_ExactRoute = Callable[[Activation, int, sympy.Expr, int], list]

EXACT_ROUTES: tuple[tuple[str, Callable[[Activation], bool], _ExactRoute], ...] = (
    ("exact: Stein recurrence over the breakpoints", is_piecewise_polynomial, piecewise_polynomial_coefficients),
    ("exact: holonomic recurrence of the Gaussian smoothing", lambda act: True, smoothing_coefficients),
)
NUMERIC_METHOD = "numeric: Gauss-Legendre panels, Hermite recurrence at the nodes"

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 128


# -- argument checks ---------------------------------------------------------------------------

def _check_order(n: Any, name: str = "n_max") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, sympy.Integer)) and not (
        hasattr(n, "__index__") and not isinstance(n, float)
    ):
        raise DomainError(f"{name} must be a non-negative integer, got {n!r}")
    n = int(n)
    if n < 0:
        raise DomainError(f"{name} must be a non-negative integer, got {n}")
    return check_limit(n, name, MAX_HERMITE_ORDER)


def _check_variance(q: Any) -> sympy.Expr:
    if isinstance(q, float) and math.isnan(q):
        raise DomainError("variance q is NaN")
    value = exact_number(q)
    if value.free_symbols:
        raise DomainError(f"variance q must be a number, got {value}")
    if value.has(sympy.nan) or not value.is_finite or not value.is_positive:
        raise DomainError(f"variance q must be a positive finite number, got {q!r}")
    return value


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise DomainError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _label(act: Activation, n: int, q: sympy.Expr, prefix: str = "a") -> str:
    return f"{prefix}_{n}[{act.name}]" + ("" if q == 1 else f" (q={q})")


# -- coefficients -------------------------------------------------------------------------------

@budgeted
def hermite_coefficients(act: Any, n_max: int, *, q: Any = 1, method: str = "auto",
                         dps: int | None = None) -> tuple[Result, ...]:
    """a_0..a_n_max, a_n = E[sigma(sqrt(q) z) He_n(z)] / sqrt(n!), as Results.

    ``method="exact"`` raises NoClosedFormError rather than return a float; ``"numeric"`` gives
    values to ``dps`` significant digits with error bounds; ``"auto"`` prefers exact.

    >>> from ncsym import zoo
    >>> hermite_coefficients(zoo.relu, 1000)[1000].exact == sympy.hermite_prob(998, 0) / (
    ...     sympy.sqrt(2 * sympy.pi) * sympy.sqrt(sympy.factorial(1000)))
    True
    >>> a = hermite_coefficients(zoo.tanh, 3, dps=20)
    >>> mpmath.nstr(a[1].value, 15), a[2].exact
    ('0.605705509602159', 0)
    """
    act = activation(act)
    n_max = _check_order(n_max)
    q = _check_variance(q)
    method = _check_method(method)
    dps = working_dps(dps)
    key = (act, q, method, dps)
    cached = _CACHE.get(key)
    if cached is not None and len(cached) > n_max:
        _CACHE.move_to_end(key)
        return cached[: n_max + 1]
    results = _compute(act, n_max, q, method, dps)
    _CACHE[key] = results
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return results


def hermite_coefficient(act: Any, n: int, *, q: Any = 1, method: str = "auto",
                        dps: int | None = None) -> Result:
    """The single coefficient a_n (computed with, and cached alongside, a_0..a_{n-1}).

    >>> from ncsym import zoo
    >>> hermite_coefficient(zoo.abs, 2).exact
    1/sqrt(pi)
    """
    n = _check_order(n, "n")
    return hermite_coefficients(act, n, q=q, method=method, dps=dps)[n]


def _compute(act: Activation, n_max: int, q: sympy.Expr, method: str, dps: int) -> tuple[Result, ...]:
    if method in ("auto", "exact"):
        reasons = []
        for name, applies, route in EXACT_ROUTES:
            if not applies(act):
                continue
            try:
                pairs = route(act, n_max, q, dps)
            except NoClosedFormError as exc:
                reasons.append(str(exc))
                continue
            return tuple(_exact_result(expr, value, _label(act, n, q), name, dps)
                         for n, (expr, value) in enumerate(pairs))
        if method == "exact":
            raise NoClosedFormError(f"no exact Hermite coefficients for {act.name}: " + "; ".join(reasons))
    # sigma - c odd (sigmoid: c = 1/2) makes a_0 = c and every even a_n, n >= 2, exactly 0.
    offset = act.odd_about
    shifted = act if not offset else Activation(act.expr - offset, name=f"{act.name} - ({offset})")
    values, errors, details, method = _numeric_coefficients(shifted, n_max, q, dps)
    certified = bool(details.get("certified"))
    if offset:
        values[0], errors[0] = offset, mpmath.mpf(0)
    out = []
    for n, (value, error) in enumerate(zip(values, errors)):
        if error == 0 and isinstance(value, sympy.Expr):
            out.append(Result.from_exact(value, label=_label(act, n, q),
                                         method="exact: odd symmetry about sigma(0)", dps=dps))
        elif value == 0 and error == 0:
            out.append(Result.from_exact(sympy.Integer(0), label=_label(act, n, q),
                                         method="exact: parity of the activation", dps=dps))
        else:
            out.append(Result.from_numeric(value, error, label=_label(act, n, q), method=method,
                                           dps=dps, details=details, certified=certified))
    return tuple(out)


def _numeric_coefficients(act: Activation, n_max: int, q: sympy.Expr, dps: int) -> tuple[list, list, dict, str]:
    """Ball Gauss-Legendre (proved bounds) where python-flint can write the pieces, else the
    mpmath panels (estimated bounds), saying why in the method and details."""
    from ncsym.gaussian.certified import FLINT_MISSING, flint_or_none
    from ncsym.hermite_series.certified import METHOD, certified_coefficients

    reason = FLINT_MISSING
    if flint_or_none() is not None:
        try:
            values, errors, details = certified_coefficients(act, n_max, q, dps)
            return values, errors, details, METHOD
        except DomainError as exc:  # no ball rule or growth bound for a sub-expression
            reason = str(exc)
    values, errors, details = quadrature_coefficients(act, n_max, q, dps)
    details["not_certified"] = reason
    return values, errors, details, f"{NUMERIC_METHOD} (estimated error: {reason})"


def _exact_result(expr: sympy.Expr, value: Any, label: str, method: str, dps: int) -> Result:
    if value is None:
        return Result.from_exact(expr, label=label, method=method, dps=dps)
    return Result(expr, value, mpmath.mpf(0), method, label, dps, {})


@budgeted
def hermite_coefficients_squared(act: Any, n_max: int, *, q: Any = 1, method: str = "auto",
                                 dps: int | None = None) -> tuple[Result, ...]:
    """a_0^2..a_n_max^2, the Taylor coefficients of the dual kernel in rho (exact where possible).

    >>> from ncsym import zoo
    >>> [r.exact for r in hermite_coefficients_squared(zoo.relu, 4)]
    [1/(2*pi), 1/4, 1/(4*pi), 0, 1/(48*pi)]
    """
    coefficients = hermite_coefficients(act, n_max, q=q, method=method, dps=dps)
    out = []
    for n, a in enumerate(coefficients):
        label = _label(activation(act), n, exact_number(q), prefix="a^2")
        if a.exact is not None:
            square = sympy.expand(a.exact**2)
            with mpmath.workdps(a.dps + GUARD_DIGITS):
                out.append(Result(square, +(a.value * a.value), mpmath.mpf(0), a.method, label, a.dps, {}))
        else:
            with mpmath.workdps(a.dps + GUARD_DIGITS):
                error = 2 * abs(a.value) * a.error + a.error**2
                out.append(Result.from_numeric(a.value**2, error, label=label, method=a.method, dps=a.dps,
                                               details=a.details, certified=a.certified))
    return tuple(out)


# -- Parseval ------------------------------------------------------------------------------------

@lru_cache(maxsize=128)
def _second_moment(act: Activation, q: sympy.Expr, dps: int, try_exact: bool) -> Result:
    """E[sigma(sqrt(q) z)^2]: exact through ncsym.gaussian when possible, else by quadrature.

    ``try_exact=False`` skips the exact engine (whose symbolic attempts take seconds), used
    when the coefficients are numeric anyway and an exact moment would not make the tail exact.
    """
    if act.deltas:
        raise NotSquareIntegrableError(f"{act.name} contains Dirac deltas; E[sigma^2] is infinite")
    if is_piecewise_polynomial(act):
        return Result.from_exact(piecewise_polynomial_second_moment(act, q), label=f"E[{act.name}^2]",
                                 method="exact: polynomial moments on the pieces", dps=dps)
    if try_exact:
        try:
            from ncsym.gaussian.moments import gaussian_moment

            moment = gaussian_moment(act, 2, q=q, method="exact", dps=dps)
            if moment.exact is not None:
                return moment
        except (ImportError, NoClosedFormError, NotImplementedError, TypeError):
            pass
    from ncsym.gaussian.moments import gaussian_moment

    try:  # a proved enclosure (arb ball integration) where python-flint can write the integrand
        return gaussian_moment(act, 2, q=q, method="certified", dps=dps)
    except (DomainError, NotImplementedError):
        pass
    value, error = quadrature_second_moment(act, q, dps)
    return Result.from_numeric(value, error, label=f"E[{act.name}^2]", method="numeric: Gauss-Legendre panels",
                               dps=dps)


@budgeted
def parseval_tail(act: Any, n_max: int, *, q: Any = 1, dps: int | None = None) -> Result:
    """E[sigma(sqrt(q) z)^2] - sum_{n <= n_max} a_n^2: exact when both parts are.

    This is also a rigorous bound on the Mehler truncation error of the dual kernel for
    |rho| <= 1, since every dropped term a_n^2 rho^n is at most a_n^2.

    >>> from ncsym import zoo
    >>> parseval_tail(zoo.monomial(3), 3).exact
    0
    >>> parseval_tail(zoo.relu, 2).exact
    1/4 - 3/(4*pi)
    """
    act = activation(act)
    n_max = _check_order(n_max)
    q = _check_variance(q)
    dps = working_dps(dps)
    squares = hermite_coefficients_squared(act, n_max, q=q, dps=dps)
    all_exact = all(s.exact is not None for s in squares)
    moment = _second_moment(act, q, dps, all_exact)
    label = f"Parseval tail of {act.name} beyond n={n_max}" + ("" if q == 1 else f" (q={q})")
    if all_exact and moment.exact is not None:
        tail = sympy.Add(moment.exact, *[-s.exact for s in squares])
        tail = sympy.expand(tail)
        return Result.from_exact(tail, label=label, method="exact: E[sigma^2] minus exact squares", dps=dps)
    with mpmath.workdps(dps + GUARD_DIGITS + 10):
        value = moment.value - mpmath.fsum(s.value for s in squares)
        error = moment.error + mpmath.fsum(s.error for s in squares)
    proved = moment.certified and all(s.certified for s in squares)
    return Result.from_numeric(value, error, label=label, method="numeric: E[sigma^2] minus squares", dps=dps,
                               certified=proved)


# -- decay diagnostics -------------------------------------------------------------------------------

@dataclass(frozen=True)
class HermiteDecay:
    """How fast |a_n| decays, fitted on the nonzero coefficients with n_min <= n <= n_max.

    ``stretched_rate`` c of |a_n| ~ C exp(-c sqrt(n)) (analytic activations, such as tanh);
    ``power`` p of |a_n| ~ C n^(-p) (kinks and jumps: relu p = 5/4, step p = 3/4);
    ``model`` names the better fit (smaller rms residual of log|a_n|); ``finite`` when the
    expansion terminates (polynomials).
    """

    model: str
    stretched_rate: float
    power: float
    rms_stretched: float
    rms_power: float
    n_min: int
    n_max: int
    finite: bool = False


@budgeted
def hermite_decay(act: Any, n_max: int = 200, *, q: Any = 1, dps: int | None = None) -> HermiteDecay:
    """Fit the decay of |a_n| over the upper three quarters of 0..n_max.

    >>> from ncsym import zoo
    >>> fit = hermite_decay(zoo.relu, 400)
    >>> fit.model, abs(fit.power - 1.25) < 0.1    # |a_n| ~ n^(-5/4)
    ('power', True)
    """
    act = activation(act)
    n_max = _check_order(n_max)
    if n_max < 8:
        raise DomainError(f"hermite_decay needs n_max >= 8 to fit a rate, got {n_max}")
    coefficients = hermite_coefficients(act, n_max, q=q, dps=dps)
    n_min = n_max // 4
    points = [(n, float(mpmath.log(abs(a.value)))) for n, a in enumerate(coefficients)
              if n >= max(n_min, 1) and a.value != 0 and abs(a.value) > 2 * a.error]
    if len(points) < 3:
        return HermiteDecay("finite", math.inf, math.inf, 0.0, 0.0, n_min, n_max, finite=True)
    stretched, rms_s = _fit([math.sqrt(n) for n, _ in points], [v for _, v in points])
    power, rms_p = _fit([math.log(n) for n, _ in points], [v for _, v in points])
    model = "stretched exponential" if rms_s < rms_p else "power"
    return HermiteDecay(model, -stretched, -power, rms_s, rms_p, n_min, n_max)


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and rms residual of y = a + b x."""
    count = len(xs)
    mean_x, mean_y = sum(xs) / count, sum(ys) / count
    sxx = sum((u - mean_x) ** 2 for u in xs)
    slope = sum((u - mean_x) * (v - mean_y) for u, v in zip(xs, ys)) / sxx
    residuals = [v - mean_y - slope * (u - mean_x) for u, v in zip(xs, ys)]
    return slope, math.sqrt(sum(r * r for r in residuals) / count)
