"""Symbolic machinery behind :mod:`ncsym.models.sde`: exact bivariate Gaussian moments and Ito's formula.

Two exact routes to the moments a shaped network's next-layer kernel needs:

- positively homogeneous piecewise-linear activations phi(x) = s_+ max(x, 0) + s_- min(x, 0):
  with u = r cos(theta), v = r sin(theta + alpha), alpha = arcsin(rho), a product
  phi(u)^i phi(v)^j is a constant times u^i v^j on each of the four sign sectors, so
  E[phi(u)^i phi(v)^j] = (radial integral) x (trigonometric integrals over sector angles):
  exact for any slopes and any rho, with no special functions beyond arccos;
- polynomials: E[u^i v^j] for (u, v) ~ N(0, V) from derivatives of the moment generating
  function (Isserlis' theorem), with symbolic V.

Ito's formula is applied to functions of the covariance (V^11, V^12, V^22) given a drift vector
and a covariation matrix, and to scalar SDEs (change of variables).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import sympy

from ncsym.symbolic.activations import Activation, x
from ncsym.core.errors import DomainError

#: Correlation, small parameter (1/sqrt(width) or 1/s), and the 2x2 covariance entries.
RHO = sympy.Symbol("rho", real=True)
EPS = sympy.Symbol("epsilon", positive=True)
V11, V22 = sympy.symbols("V^{11} V^{22}", positive=True)
V12 = sympy.Symbol("V^{12}", real=True)
COVARIANCE = (V11, V12, V22)
#: Index pairs of the covariance entries, in the order of COVARIANCE.
PAIRS = ((0, 0), (0, 1), (1, 1))

_THETA = sympy.Symbol("theta", real=True)
_COS_A, _SIN_A = sympy.symbols("cos_alpha sin_alpha", real=True)
_ALPHA = sympy.pi / 2 - sympy.acos(RHO)  # arcsin(rho), written so results come out in arccos
#: Angular sectors (theta_lo, theta_hi) of the sign patterns (sign u, sign v).
_SECTORS = {
    (1, 1): (-_ALPHA, sympy.pi / 2),
    (1, -1): (-sympy.pi / 2, -_ALPHA),
    (-1, 1): (sympy.pi / 2, sympy.pi - _ALPHA),
    (-1, -1): (sympy.pi - _ALPHA, 3 * sympy.pi / 2),
}


@lru_cache(maxsize=None)
def _antiderivative(p: int, q: int) -> sympy.Expr:
    return sympy.integrate(sympy.cos(_THETA) ** p * sympy.sin(_THETA) ** q, _THETA)


@lru_cache(maxsize=None)
def sector_moment(i: int, j: int, sign_u: int, sign_v: int) -> sympy.Expr:
    """E[u^i v^j; sign(u) = sign_u, sign(v) = sign_v] for unit variances and correlation RHO.

    >>> sympy.simplify(sector_moment(1, 1, 1, 1) - sector_moment(1, 1, -1, -1))
    0
    """
    lo, hi = _SECTORS[(sign_u, sign_v)]
    integrand = sympy.expand(sympy.cos(_THETA) ** i * (sympy.sin(_THETA) * _COS_A + sympy.cos(_THETA) * _SIN_A) ** j)
    poly = sympy.Poly(integrand, sympy.cos(_THETA), sympy.sin(_THETA))
    angular = sympy.Integer(0)
    for (p, q), coeff in poly.terms():
        F = _antiderivative(p, q)
        angular += coeff * (F.subs(_THETA, hi) - F.subs(_THETA, lo))
    k = i + j
    radial = 2 ** sympy.Rational(k, 2) * sympy.gamma(sympy.Rational(k, 2) + 1) / (2 * sympy.pi)
    return sympy.expand(radial * angular.subs({_COS_A: sympy.sqrt(1 - RHO**2), _SIN_A: RHO}))


_SP, _SM = sympy.symbols("s_plus s_minus", real=True)
#: Dummies standing for the transcendental atoms of the ReLU-family moments.
_ACOS, _ROOT = sympy.Dummy("acos_rho"), sympy.Dummy("sqrt_1_minus_rho2")


def atomize(expr: sympy.Expr) -> sympy.Expr:
    """Replace acos(rho) and sqrt(1 - rho^2) by dummies, so rational algebra stays fast."""
    return sympy.sympify(expr).subs({sympy.acos(RHO): _ACOS, sympy.sqrt(1 - RHO**2): _ROOT})


def deatomize(expr: sympy.Expr) -> sympy.Expr:
    """Inverse of :func:`atomize`."""
    return sympy.sympify(expr).subs({_ACOS: sympy.acos(RHO), _ROOT: sympy.sqrt(1 - RHO**2)})


@lru_cache(maxsize=None)
def _generic_homogeneous_moment(i: int, j: int) -> sympy.Expr:
    total = sympy.expand(sum(_SP ** (i if a > 0 else 0) * _SM ** (i if a < 0 else 0)
                             * _SP ** (j if b > 0 else 0) * _SM ** (j if b < 0 else 0)
                             * sector_moment(i, j, a, b) for a, b in _SECTORS))
    poly = sympy.Poly(atomize(total), _SP, _SM)
    return sum(sympy.factor(coeff) * _SP**p * _SM**q for (p, q), coeff in poly.terms())


def homogeneous_moment(s_plus: sympy.Expr, s_minus: sympy.Expr, i: int, j: int) -> sympy.Expr:
    """E[phi(u)^i phi(v)^j] for phi = s_+ max(x,0) + s_- min(x,0), unit variances, correlation RHO.

    Returned with acos(rho) and sqrt(1 - rho^2) in place (see :func:`deatomize` for the
    internal form).

    >>> homogeneous_moment(1, 1, 2, 2)   # E[u^2 v^2] = 1 + 2 rho^2
    2*rho**2 + 1
    """
    generic = _generic_homogeneous_moment(i, j)
    return deatomize(sympy.expand(generic.subs({_SP: sympy.sympify(s_plus), _SM: sympy.sympify(s_minus)})))


def homogeneous_slopes(act: Activation) -> tuple[sympy.Expr, sympy.Expr] | None:
    """(s_+, s_-) when act = s_+ max(x,0) + s_- min(x,0) (slopes may be symbolic), else None.

    >>> from ncsym import zoo
    >>> homogeneous_slopes(zoo.relu), homogeneous_slopes(zoo.tanh)
    ((1, 0), None)
    """
    pieces = act.pieces
    if act.deltas:
        return None
    if len(pieces) == 1:
        pieces = (pieces[0], pieces[0])
    if len(pieces) != 2 or (len(act.pieces) == 2 and act.pieces[0].hi != 0):
        return None
    slopes = []
    for piece in (pieces[1], pieces[0]):
        slope = sympy.diff(piece.expr, x)
        if slope.has(x) or sympy.expand(piece.expr - slope * x) != 0:
            return None
        slopes.append(slope)
    return slopes[0], slopes[1]


@lru_cache(maxsize=None)
def gaussian_polynomial_moment(i: int, j: int) -> sympy.Expr:
    """E[u^i v^j] for (u, v) ~ N(0, [[V11, V12], [V12, V22]]) (Isserlis, via the MGF).

    >>> gaussian_polynomial_moment(2, 2)
    V^{11}*V^{22} + 2*V^{12}**2
    """
    t1, t2 = sympy.symbols("t1 t2")
    mgf = sympy.exp((V11 * t1**2 + 2 * V12 * t1 * t2 + V22 * t2**2) / 2)
    return sympy.expand(sympy.diff(mgf, t1, i, t2, j).subs({t1: 0, t2: 0}))


def polynomial_expectation(expr: sympy.Expr, u: sympy.Symbol, v: sympy.Symbol) -> sympy.Expr:
    """E[expr(u, v)] for a polynomial in u, v with (u, v) ~ N(0, V) (symbolic V)."""
    poly = sympy.Poly(sympy.expand(expr), u, v)
    return sympy.expand(sum(coeff * gaussian_polynomial_moment(p, q) for (p, q), coeff in poly.terms()))


def series_coefficients(expr: sympy.Expr, order: int) -> list[sympy.Expr]:
    """Coefficients c_0..c_order of expr = sum c_k EPS^k + O(EPS^(order+1)) (series in EPS).

    >>> series_coefficients(sympy.tanh(EPS * x) / EPS, 3)
    [x, 0, -x**3/3, 0]
    """
    series = sympy.expand(sympy.series(expr, EPS, 0, order + 1).removeO())
    return [sympy.factor(series.coeff(EPS, k)) for k in range(order + 1)]


def taylor_coefficients(expr: sympy.Expr, order: int) -> list[sympy.Expr]:
    """Taylor coefficients in EPS at 0 of an expression analytic there (by differentiation).

    Faster than a series for rational functions of EPS; transcendental atoms in rho are
    treated as constants.

    >>> taylor_coefficients(1 / (1 + EPS), 2)
    [1, -1, 1]
    """
    atoms = atomize(expr)
    out, current = [], atoms
    for k in range(order + 1):
        out.append(deatomize(sympy.expand(sympy.cancel(current.subs(EPS, 0) / sympy.factorial(k)))))
        current = sympy.diff(current, EPS)
    return out


def wishart_covariation(i: int, j: int) -> sympy.Expr:
    """V^{ac} V^{bd} + V^{ad} V^{bc} for covariance entries i = (a, b), j = (c, d)."""
    (a, b), (c, d) = PAIRS[i], PAIRS[j]
    return entry(a, c) * entry(b, d) + entry(a, d) * entry(b, c)


def entry(a: int, b: int) -> sympy.Symbol:
    """The covariance symbol V^{ab}."""
    return {(0, 0): V11, (1, 1): V22}.get((a, b), V12)


def canonical(expr: sympy.Expr) -> sympy.Expr:
    """A cheap normal form: transcendental atoms frozen, then cancel and factor."""
    return deatomize(sympy.factor(sympy.cancel(sympy.expand(atomize(expr)))))


def is_zero(expr: sympy.Expr) -> bool:
    """Whether expr is identically 0: the cheap normal form first, sympy.simplify as fallback.

    >>> is_zero(sympy.cos(RHO)**2 + sympy.sin(RHO)**2 - 1), is_zero(RHO * sympy.acos(RHO))
    (True, False)
    """
    if canonical(expr) == 0:
        return True
    return sympy.simplify(expr) == 0


def ito(function: sympy.Expr, drift: Sequence[sympy.Expr], covariation: sympy.Matrix,
        variables: Sequence[sympy.Symbol] = COVARIANCE) -> tuple[sympy.Expr, sympy.Expr]:
    """Ito's formula: (drift, quadratic-variation rate) of f(X) for dX = b dt + dM, d<M> = S dt.

    >>> ito(sympy.log(V11), [0, 0, 0], sympy.diag(2 * V11**2, 1, 1))
    (-1, 2)
    """
    gradient = [sympy.diff(function, v) for v in variables]
    hessian = [[sympy.diff(g, v) for v in variables] for g in gradient]
    m = len(variables)
    first = sum(gradient[i] * drift[i] for i in range(m))
    second = sum(hessian[i][j] * covariation[i, j] for i in range(m) for j in range(m)) / 2
    quadratic = sum(gradient[i] * gradient[j] * covariation[i, j] for i in range(m) for j in range(m))
    return canonical(first + second), canonical(quadratic)


def at_correlation(expr: sympy.Expr) -> sympy.Expr:
    """Rewrite an expression in (V11, V12, V22) with V12 = rho sqrt(V11 V22)."""
    return canonical(sympy.sympify(expr).subs(V12, RHO * sympy.sqrt(V11 * V22)))


def require_symbol_free(expr: sympy.Expr, allowed: set, what: str) -> None:
    """DomainError when expr has free symbols outside ``allowed`` (used before numerics)."""
    extra = sympy.sympify(expr).free_symbols - set(allowed)
    if extra:
        names = ", ".join(sorted(str(s) for s in extra))
        raise DomainError(f"{what} still has symbolic parameters ({names}); substitute numbers with .subs() first")
