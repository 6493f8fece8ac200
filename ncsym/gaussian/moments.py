"""Gaussian expectations of activations: exact where a closed form exists, else to any precision.

``expectation(f1, f2, ..., q=q, shift=mu, z_power=k)`` is E[z^k prod_i f_i(sqrt(q) z + mu)] with
z ~ N(0, 1). The routes, in the order ``method="auto"`` tries them:

1. ``exact``: the closed-form engine (:mod:`ncsym.gaussian.exact`): split at breakpoints, Stein's
   identity, completing the square, orthant probabilities; never calls sympy.integrate;
2. ``sympy``: ``sympy.integrate`` in a child process killed after ``timeout`` seconds, its
   answer checked against quadrature before it is trusted;
3. ``numeric``: mpmath tanh-sinh quadrature split at the breakpoints, at two precisions, with
   an error estimate from their difference and quad's own estimate;
4. ``certified`` (only on request): python-flint's rigorous ball integration with a rigorous
   tail bound, where the integrand can be written in flint's functions.

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

from ncsym.gaussian.exact import Z, integrate_pieces
from ncsym.core.timebound import run_time_bounded
from ncsym.symbolic.activations import Activation, activation, exact_number, x
from ncsym.core.errors import (
    ConvergenceError, DomainError, NoClosedFormError, NotSquareIntegrableError,
)
from ncsym.core.results import GUARD_DIGITS, Result, to_mpf, working_dps

__all__ = [
    "expectation", "gaussian_mean", "gaussian_moment", "exact_expectation", "METHODS",
    "SYMPY_TIMEOUT",
]

#: The methods ``expectation`` accepts.
METHODS = ("auto", "exact", "sympy", "numeric", "certified")

#: Default time bound (seconds) for sympy.integrate and other symbolic steps that may hang.
SYMPY_TIMEOUT = 4.0

#: Time bound for the symbolic integrability checks (limits, singularities).
_CHECK_TIMEOUT = 3.0

_OO, _NOO = sympy.oo, sympy.S.NegativeInfinity


# -- public API --------------------------------------------------------------------------

def expectation(*factors: Any, q: Any = 1, shift: Any = 0, z_power: int = 0, method: str = "auto",
                dps: int | None = None, timeout: float | None = None) -> Result:
    """E[z^k prod_i sigma_i(sqrt(q) z + shift)], z ~ N(0, 1), as a :class:`Result`.

    Factors are anything :func:`ncsym.activation` accepts. A factor holding Dirac deltas (a
    distributional derivative) must be the only factor.

    >>> from ncsym import zoo
    >>> expectation(zoo.gelu, zoo.gelu).exact
    sqrt(3)/(6*pi) + 1/3
    >>> r = expectation(zoo.tanh, zoo.tanh, dps=30)
    >>> r.method, r.error < mpmath.mpf(10)**-30
    ('numeric: mpmath tanh-sinh quadrature', True)
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
    return int(k)


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
                                   method="certified: arb ball integration")
    if not (q.is_number and shift.is_number) or any(a.parameters for a in acts):
        raise NoClosedFormError(
            f"no closed form for {label} and no numeric value with symbolic parameters: " + "; ".join(attempts))
    value, error = _numeric(acts, q, shift, power, dps)
    return Result.from_numeric(value, error, label=label, dps=dps, details=details,
                               method="numeric: mpmath tanh-sinh quadrature")


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


# -- intervals -------------------------------------------------------------------------------

def _intervals(acts) -> list[tuple[sympy.Expr, sympy.Expr, sympy.Expr]]:
    """(lo, hi, product of the factors' smooth pieces on (lo, hi)) over the union of breakpoints."""
    if not acts:
        return [(_NOO, _OO, sympy.Integer(1))]
    if len(acts) == 1:
        return [(p.lo, p.hi, p.expr) for p in acts[0].pieces]
    points = set()
    for a in acts:
        points.update(p.hi for p in a.pieces[:-1])
    if any(not p.is_number for p in points) and len(points) > 1:
        raise NoClosedFormError("breakpoints with symbolic positions cannot be ordered")
    edges = [_NOO] + sorted(points, key=lambda p: float(p) if p.is_number else 0.0) + [_OO]
    out = []
    for lo, hi in zip(edges, edges[1:]):
        product = sympy.Integer(1)
        for a in acts:
            product *= _piece_on(a, lo, hi)
        out.append((lo, hi, product))
    return out


def _piece_on(act: Activation, lo, hi) -> sympy.Expr:
    for p in act.pieces:
        if (p.lo is _NOO or (lo is not _NOO and bool(p.lo <= lo))) and \
                (p.hi is _OO or (hi is not _OO and bool(hi <= p.hi))):
            return p.expr
    raise AssertionError(f"no piece of {act} covers ({lo}, {hi})")  # pieces cover the line


# -- the exact route ---------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _exact_cached(acts, q, shift, power) -> sympy.Expr:
    _check_distributions(acts)
    _check_integrable(acts, q, shift, power, symbolic_checks=False)
    total = integrate_pieces(_intervals(acts), q, shift, power)
    if acts and acts[0].deltas:
        total += sum((_delta_expectation(d, q, shift, power) for d in acts[0].deltas), sympy.Integer(0))
    return _tidy(total)


def _delta_expectation(delta, q, shift, power) -> sympy.Expr:
    """E[z^m c delta^(k)(sqrt(q) z + shift - b)] = c q^(-(k+1)/2) (-1)^k g^(k)(z0), g = z^m phi.

    (delta^(k)(s y) = s^(-k-1) delta^(k)(y) for s > 0, with z0 = (b - shift)/sqrt(q).)
    """
    z0 = (delta.point - shift) / sympy.sqrt(q)
    g = Z**power * sympy.exp(-Z**2 / 2) / sympy.sqrt(2 * sympy.pi)
    derivative = sympy.diff(g, Z, delta.order).subs(Z, z0)
    return delta.coeff * (-1) ** delta.order * q ** (-sympy.Rational(delta.order + 1, 2)) * derivative


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    """A cheap simplification: real form of complex exponentials, then the shortest of a few forms."""
    if expr.has(sympy.I):
        expr = _real_exponentials(expr)
    expanded = sympy.expand(expr)
    if expanded.has(sympy.I):
        real, imag = expanded.as_real_imag()
        if sympy.expand(imag) == 0:
            expanded = sympy.expand(real)
    best = min([expanded, expr], key=sympy.count_ops)
    factored = sympy.factor_terms(best)
    # the expanded sum reads best; take the factored form only when it is clearly shorter
    return factored if sympy.count_ops(factored) < 0.8 * sympy.count_ops(best) else best


def _real_exponentials(expr: sympy.Expr) -> sympy.Expr:
    """exp(a + i b) -> e^a (cos b + i sin b); erf/erfc of i b -> erfi, so imaginary parts cancel."""
    def imaginary(e):
        return isinstance(e, (sympy.erf, sympy.erfc)) and e.args[0].has(sympy.I) and \
            sympy.expand(e.args[0]).as_real_imag()[0] == 0

    def to_erfi(e):
        b = sympy.expand(e.args[0]).as_real_imag()[1]
        value = sympy.I * sympy.erfi(b)
        return value if isinstance(e, sympy.erf) else 1 - value

    expr = expr.replace(imaginary, to_erfi)

    def split(arg):
        re, im = sympy.expand(arg).as_real_imag()
        return sympy.exp(re) * (sympy.cos(im) + sympy.I * sympy.sin(im))

    return expr.replace(lambda e: isinstance(e, sympy.exp) and e.args[0].has(sympy.I),
                        lambda e: split(e.args[0]))


# -- integrability ---------------------------------------------------------------------------

_BOUNDED = (sympy.tanh, sympy.erf, sympy.erfc, sympy.sin, sympy.cos, sympy.atan, sympy.sign,
            sympy.Heaviside)
_FINITE = _BOUNDED + (sympy.exp, sympy.sinh, sympy.cosh, sympy.Abs, sympy.Max, sympy.Min)


def _check_integrable(acts, q, shift, power, symbolic_checks: bool = True) -> str:
    """Raise NotSquareIntegrableError unless every factor is in L2 and the product is in L1.

    Growth at +-oo: |f(x)| <= poly(x) exp(c x^2) with c read from the expression tree (or a
    time-bounded limit of log(f^2)/x^2); the Gaussian weight of sqrt(q) z needs 2 c q < 1 per
    factor and sum c q < 1/2 for the product. Singular points inside pieces: |f| ~ |x-x0|^-p
    needs 2 p < 1 per factor (and the product's order < 1). Returns a note of what was shown.
    """
    notes = []
    total_growth = sympy.Integer(0)
    for act in acts:
        if act.deltas:
            continue
        growth = _tail_growth(act, symbolic_checks)
        if growth is None:
            notes.append(f"growth of {act.name} not determined")
            continue
        _require_growth(2 * growth, q, f"{act.name} squared")
        total_growth += growth
    if len(acts) > 1:
        _require_growth(total_growth, q, "the product " + " * ".join(a.name for a in acts))
    for act in dict.fromkeys(acts):
        if act.deltas:
            continue
        for piece in act.pieces:
            if _finite_on(piece):
                continue
            orders = _pole_orders(piece.expr)
            if orders is not None:
                inside = {p: o for p, o in orders.items() if _within(p, piece.lo, piece.hi)}
                worst = max(inside.values(), default=sympy.Integer(0))
                if 2 * worst < 1 and len(acts) * worst < 1:
                    notes.append(f"{act.name} on ({piece.lo}, {piece.hi}): at worst poles of order {worst}")
                    continue
            if not symbolic_checks:
                raise NoClosedFormError(f"{act.name} may be singular on ({piece.lo}, {piece.hi})")
            notes.append(_check_singularities(act, piece, len(acts)))
    return "; ".join(notes) or "growth and finiteness read from the expression"


def _require_growth(c, q, what: str) -> None:
    if c == 0 or c.is_negative:
        return
    limit = c * q
    if limit.is_number:
        if limit >= sympy.Rational(1, 2):
            raise NotSquareIntegrableError(
                f"{what} grows like exp({sympy.sstr(c)} x^2): its Gaussian expectation at q = {q} diverges")
        return
    raise NotSquareIntegrableError(
        f"{what} grows like exp({sympy.sstr(c)} x^2): finite only for q < {sympy.sstr(1 / (2 * c))}; give a number for q")


def _tail_growth(act: Activation, symbolic_checks: bool):
    """The largest c with |act| ~ exp(c x^2) at -oo and +oo (None if undetermined)."""
    growths = []
    for piece, direction in ((act.pieces[0], _NOO), (act.pieces[-1], _OO)):
        c = _growth(piece.expr)
        if c is None and symbolic_checks:
            status, value = run_time_bounded(_limit_growth, (piece.expr, direction), _CHECK_TIMEOUT)
            c = value if status == "ok" else None
        if c is None:
            return None
        if c == _OO:
            raise NotSquareIntegrableError(f"{act.name} grows faster than any exp(c x^2) toward {direction}")
        growths.append(c)
    numeric = [g for g in growths if g.is_number]
    if len(numeric) == len(growths):
        return max(growths)
    return sympy.Max(*growths)


def _limit_growth(expr, direction):
    value = sympy.limit(sympy.log(expr**2) / x**2 / 2, x, direction)
    if value.is_infinite and value.is_extended_positive:
        return _OO
    if value.is_infinite or value.is_extended_negative:
        return sympy.Integer(0)
    return value if value.is_finite else None


def _growth(expr):
    """c such that |expr| <= C (1 + |x|)^n exp(c x^2 + b |x|) on the real line, or None."""
    if not expr.has(x):
        return sympy.Integer(0)
    if expr == x:
        return sympy.Integer(0)
    if expr.is_Add or isinstance(expr, (sympy.Max, sympy.Min)):
        parts = [_growth(a) for a in expr.args]
        if any(p is None for p in parts) or not all(p.is_number for p in parts):
            return None
        return max(parts)
    if expr.is_Mul:
        parts = [_growth(a) for a in expr.args]
        return None if any(p is None for p in parts) else sympy.Add(*parts)
    if expr.is_Pow:
        base, e = expr.args
        if e.is_number and e.is_positive:
            g = _growth(base)
            return None if g is None else e * g
        if e.is_number and e.is_negative and (_bounded_below(base) or base.is_polynomial(x)):
            return sympy.Integer(0)  # bounded away from its (finitely many) real zeros
        return None
    if isinstance(expr, sympy.exp):
        arg = sympy.expand(expr.args[0])
        if arg.is_polynomial(x):
            poly = sympy.Poly(arg, x)
            if poly.degree() <= 1:
                return sympy.Integer(0)
            if poly.degree() == 2 and poly.LC().is_real:
                return poly.LC()
        return None
    if isinstance(expr, _BOUNDED):
        return sympy.Integer(0)
    if isinstance(expr, (sympy.sinh, sympy.cosh)) and expr.args[0].is_polynomial(x) and \
            sympy.degree(expr.args[0], x) <= 1:
        return sympy.Integer(0)
    if isinstance(expr, sympy.Abs):
        return _growth(expr.args[0])
    if isinstance(expr, sympy.log) and expr.args[0].is_positive and _bounded_below(expr.args[0]):
        g = _growth(expr.args[0])
        return None if g is None else sympy.Integer(0)
    return None


def _bounded_below(expr) -> bool:
    """True when expr >= c > 0 on the real line, read structurally (e.g. 1 + exp(-x))."""
    if expr.is_number:
        return bool(expr.is_positive)
    if expr.is_Add:
        constant = sum((a for a in expr.args if a.is_number), sympy.Integer(0))
        rest = [a for a in expr.args if not a.is_number]
        return bool(constant.is_positive) and all(a.is_nonnegative for a in rest)
    return False


def _finite_on(piece) -> bool:
    """True when the piece is structurally finite on its closed interval (no poles, no log 0)."""
    expr = piece.expr
    y = sympy.Dummy("y", positive=True)
    if piece.lo.is_finite:
        expr = expr.subs(x, piece.lo + y)
    elif piece.hi.is_finite:
        expr = expr.subs(x, piece.hi - y)
    variable = y if (piece.lo.is_finite or piece.hi.is_finite) else x
    for node in sympy.preorder_traversal(expr):
        if node.is_Atom or node.is_Add or node.is_Mul or not node.has(variable):
            continue
        if node.is_Pow:
            base, e = node.args
            if e.is_Integer and e.is_nonnegative:
                continue
            if e.is_positive and base.is_nonnegative:
                continue
            if e.is_negative and (_bounded_below(base) or (base.is_number and base != 0)):
                continue
            return False
        if isinstance(node, sympy.log):
            if _bounded_below(node.args[0]) or (node.args[0].is_number and node.args[0].is_positive):
                continue
            return False
        if isinstance(node, _FINITE):
            continue
        return False
    return True


def _within(point, lo, hi) -> bool:
    return bool((lo is _NOO or point >= lo) and (hi is _OO or point <= hi))


def _pole_orders(expr):
    """{x0: p}: an upper bound |expr| <= C |x - x0|^-p near each real x0 where it may blow up.

    Read from the tree: negative powers of polynomials contribute (root multiplicity) * |power|,
    logarithms of polynomials only logarithmic (integrable to every power) singularities,
    products add orders and sums take the larger. None when the tree has anything else
    (e.g. exp(1/x), or a pole inside a function), for the symbolic check to decide.
    """
    if not expr.has(x):
        return {}
    if expr == x:
        return {}
    if expr.is_Add or expr.is_Mul:
        out: dict = {}
        for arg in expr.args:
            part = _pole_orders(arg)
            if part is None:
                return None
            for point, order in part.items():
                out[point] = (max(out.get(point, 0), order) if expr.is_Add else out.get(point, 0) + order)
        return out
    if expr.is_Pow:
        base, e = expr.args
        if not e.is_number:
            return None
        if e.is_positive:
            inner = _pole_orders(base)
            return None if inner is None else {p: o * e for p, o in inner.items()}
        if _bounded_below(base):
            return {}
        if not base.is_polynomial(x):
            return None
        poly = sympy.Poly(base, x)
        if not poly.free_symbols_in_domain == set() or poly.is_zero:
            return None
        out = {}
        for root in poly.real_roots():
            out[root] = out.get(root, 0) + (-e)
        return out
    if isinstance(expr, sympy.log):
        arg = expr.args[0]
        if arg.is_polynomial(x) or _bounded_below(arg):
            return {}
        return None
    if isinstance(expr, _FINITE):
        inner = [_pole_orders(arg) for arg in expr.args]
        return {} if all(part == {} for part in inner) else None
    return None


def _check_singularities(act, piece, n_factors: int) -> str:
    status, value = _singular_orders_bounded(piece.expr, piece.lo, piece.hi)
    where = f"{act.name} on ({piece.lo}, {piece.hi})"
    if status != "ok":
        return f"singularities of {where} not determined ({status})"
    for point, order in value:
        if order is None:
            return f"order of the singularity of {where} at {point} not determined"
        if 2 * order >= 1 or n_factors * order >= 1:
            raise NotSquareIntegrableError(
                f"{act.name} behaves like |x - {point}|^(-{sympy.sstr(order)}) near x = {point}: "
                "it is not square-integrable under the Gaussian")
    return f"singularities of {where}: " + (", ".join(f"{p} (order {o})" for p, o in value) or "none")


@lru_cache(maxsize=256)
def _singular_orders_bounded(expr, lo, hi):
    return run_time_bounded(_singular_orders, (expr, lo, hi), _CHECK_TIMEOUT)


def _singular_orders(expr, lo, hi):
    """[(x0, p)] for points x0 in [lo, hi] where |expr| ~ |x - x0|^-p with p > 0 (p None: unknown)."""
    from sympy.calculus.util import continuous_domain

    interval = sympy.Interval.open(lo, hi)
    domain = continuous_domain(expr, x, interval)
    gaps = interval - domain
    if not (gaps.is_FiniteSet or gaps is sympy.S.EmptySet):
        return [(gaps, None)]
    points = list(gaps) + [p for p in (lo, hi) if p.is_finite]
    out = []
    for point in points:
        for direction in ("+", "-"):
            if (direction == "+" and point == hi) or (direction == "-" and point == lo):
                continue
            bounded = sympy.limit(expr, x, point, direction)
            if bounded.is_finite:
                continue
            ratio = sympy.limit(sympy.log(sympy.Abs(expr)) / sympy.log(sympy.Abs(x - point)), x, point, direction)
            order = -ratio if ratio.is_finite else None
            if order is None or order > 0:
                out.append((point, order))
    return out


# -- the sympy.integrate route -------------------------------------------------------------------

def _sympy_integrate(acts, q, shift, power, seconds) -> tuple[sympy.Expr | None, str]:
    if acts and acts[0].deltas:
        return None, "sympy.integrate: not used for distributions"
    status, value = run_time_bounded(_sympy_worker, (_intervals(acts), q, shift, power), seconds)
    if status == "timeout":
        return None, f"sympy.integrate: no answer within {seconds:g} s"
    if status == "error":
        return None, f"sympy.integrate failed ({value})"
    if value is None:
        return None, "sympy.integrate returned an unevaluated integral"
    if q.is_number and shift.is_number and not any(a.parameters for a in acts):
        # sympy.integrate is occasionally wrong: trust it only when quadrature agrees.
        try:
            check, error = _numeric(acts, q, shift, power, 15)
        except ConvergenceError:
            return None, "sympy.integrate: answer could not be checked"
        claimed = to_mpf(value, 15)
        if abs(claimed - check) > 1e-10 * max(1, abs(check)) + 10 * error:
            return None, f"sympy.integrate gave {value}, which disagrees with quadrature ({check})"
    return value, "sympy.integrate: closed form"


def _sympy_hopeless(acts) -> str | None:
    """The first sub-expression sympy.integrate is known to fail on against a Gaussian, if any."""
    for act in acts:
        for piece in act.pieces:
            for node in sympy.preorder_traversal(piece.expr):
                if isinstance(node, (sympy.tanh, sympy.log)) and node.has(x):
                    return str(node)
                if node.is_Pow and node.exp.is_negative and node.base.has(sympy.exp) and node.has(x):
                    return str(node)
    return None


def _sympy_worker(intervals, q, shift, power):
    total = sympy.Integer(0)
    weight = sympy.exp(-Z**2 / 2) / sympy.sqrt(2 * sympy.pi)
    root_q = sympy.sqrt(q)
    for lo, hi, expr in intervals:
        if expr == 0:
            continue
        z_lo = _NOO if lo is _NOO else (lo - shift) / root_q
        z_hi = _OO if hi is _OO else (hi - shift) / root_q
        integrand = Z**power * expr.subs(x, root_q * Z + shift) * weight
        part = sympy.integrate(integrand, (Z, z_lo, z_hi), conds="none")
        if part.has(sympy.Integral) or part.has(sympy.nan) or part.has(sympy.zoo) or part.has(_OO):
            return None
        total += part
    return _tidy(total)


# -- the numeric route -----------------------------------------------------------------------------

def _numeric(acts, q, shift, power, dps) -> tuple[Any, Any]:
    """mpmath tanh-sinh quadrature at dps + guard digits; the error is quad's own estimate (the
    change between its last two refinement levels, split at every breakpoint so that each panel
    is smooth) plus a rounding allowance. A second, more refined pass runs when the first misses."""
    delta_part = mpmath.mpf(0)
    if acts and acts[0].deltas:
        exact = sum((_delta_expectation(d, q, shift, power) for d in acts[0].deltas), sympy.Integer(0))
        delta_part = to_mpf(exact, dps + GUARD_DIGITS)
    working = dps + GUARD_DIGITS
    with mpmath.workdps(working):
        tolerance = mpmath.mpf(10) ** (-dps)
        for degree in (8, 12):
            value, error, scale = _quadrature(acts, q, shift, power, working, degree)
            error += scale * mpmath.mpf(10) ** (-working + 3)
            if error < tolerance * max(1, abs(value)):
                break
        value += delta_part
        if not error < max(1, abs(value)) * mpmath.mpf(10) ** -3:
            raise ConvergenceError(f"quadrature did not converge: value {mpmath.nstr(value, 10)}, "
                                   f"estimated error {mpmath.nstr(error, 3)}")
    return value, error


def _quadrature(acts, q, shift, power, working, degree) -> tuple[Any, Any, Any]:
    """(value, quad's error estimate, sum of |panel values|) at ``working`` digits."""
    with mpmath.workdps(working):
        root_q = mpmath.sqrt(to_mpf(q, working))
        mu = to_mpf(shift, working)
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)
        total, error, scale = mpmath.mpf(0), mpmath.mpf(0), mpmath.mpf(0)
        for lo, hi, expr in _intervals(acts):
            if expr == 0:
                continue
            f = sympy.lambdify(x, expr, modules="mpmath")
            a = -mpmath.inf if lo is _NOO else (to_mpf(lo, working) - mu) / root_q
            b = mpmath.inf if hi is _OO else (to_mpf(hi, working) - mu) / root_q

            def integrand(z, f=f):
                value = f(root_q * z + mu)
                if isinstance(value, mpmath.mpc):
                    value = value.real
                return z**power * value * mpmath.exp(-z * z / 2)

            points = _split_points(a, b)
            for left, right in zip(points, points[1:]):
                value, err = mpmath.quad(integrand, [left, right], error=True, maxdegree=degree)
                total += value * norm
                error += err * norm
                scale += abs(value) * norm
        return total, error, scale


def _split_points(a, b) -> list:
    """Breakpoints plus 0 and +-8 inside (a, b): tanh-sinh converges fastest on panels that
    resolve the Gaussian bulk separately from its tails."""
    inner = [p for p in (-8, 0, 8) if a < p < b]
    return [a] + inner + [b]


# -- the certified route ---------------------------------------------------------------------------

def _certified(acts, q, shift, power, dps) -> tuple[Any, Any]:
    from ncsym.gaussian.certified import certified_expectation

    if acts and acts[0].deltas:
        raise DomainError("certified integration of distributions is not supported; use method='exact'")
    if not (q.is_number and shift.is_number) or any(a.parameters for a in acts):
        raise DomainError("certified integration needs numeric q, shift and parameters")
    return certified_expectation(_intervals(acts), q, shift, power, dps)
