"""The exact Gaussian-expectation engine (no sympy.integrate).

Every integrand it accepts is, on each interval between breakpoints, a finite sum of terms

    c * z**k * exp(alpha z**2 + beta z) * Phi(a_1 z + b_1) * ... * Phi(a_m z + b_m),   m <= 2

(erf/erfc become Phi's; sin, cos, sinh, cosh become exponentials with possibly complex beta).
Each term is integrated against the standard normal density phi(z) on (lo, hi):

- exp(alpha z^2) rescales the Gaussian (w = sqrt(1 - 2 alpha) z), exp(beta z) shifts it
  (complete the square: e^{beta z} phi(z) = e^{beta^2/2} phi(z - beta));
- z^k with k >= 1: Stein's identity z phi = -phi' gives boundary terms plus lower powers,
  and each derivative of a Phi is a phi that merges with the weight into a new Gaussian;
- k = 0: Phi(hi) - Phi(lo), E[Phi(a z + b)] = Phi(b / sqrt(1 + a^2)), the bivariate normal
  CDF for one Phi on a half-line or two Phi's on the whole line, and the trivariate orthant
  law for two offset-free Phi's on a half-line starting at 0.

Anything else raises NoClosedFormError so that a caller can fall back.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

import sympy

from ncsym.gaussian.bvn import BivariateNormalCDF, normal_cdf, normal_pdf
from ncsym.symbolic.activations import x
from ncsym.core.errors import NoClosedFormError

__all__ = ["integrate_pieces", "Z"]

#: The standard normal integration variable.
Z = sympy.Dummy("z", real=True)

_OO, _NOO = sympy.oo, sympy.S.NegativeInfinity
_SQRT2 = sympy.sqrt(2)


class _Phi(sympy.Function):
    """Unevaluated placeholder for Phi(argument) while terms are collected."""

    nargs = 1


def integrate_pieces(intervals, q, shift, z_power: int = 0) -> sympy.Expr:
    """Sum over (lo, hi, expr in x) of int_{z: sqrt(q) z + shift in (lo, hi)} z^k expr phi(z) dz.

    >>> from ncsym.symbolic.activations import x
    >>> integrate_pieces([(0, sympy.oo, x)], 1, 0)
    sqrt(2)/(2*sqrt(pi))
    """
    root_q = sympy.sqrt(q)
    total = []
    for lo, hi, expr in intervals:
        if expr == 0:
            continue
        z_lo = _NOO if lo is _NOO else (lo - shift) / root_q
        z_hi = _OO if hi is _OO else (hi - shift) / root_q
        for (k, alpha, beta, phis), coeff in _collect_terms(expr, root_q, shift, z_power).items():
            total.append(coeff * _term_integral(k, alpha, beta, phis, z_lo, z_hi))
    return sympy.Add(*total)


# -- rewriting a piece into terms -------------------------------------------------------

def _to_exponentials(expr: sympy.Expr) -> sympy.Expr:
    i = sympy.I
    rules = (
        (sympy.sin, lambda u: (sympy.exp(i * u) - sympy.exp(-i * u)) / (2 * i)),
        (sympy.cos, lambda u: (sympy.exp(i * u) + sympy.exp(-i * u)) / 2),
        (sympy.sinh, lambda u: (sympy.exp(u) - sympy.exp(-u)) / 2),
        (sympy.cosh, lambda u: (sympy.exp(u) + sympy.exp(-u)) / 2),
        (sympy.erf, lambda u: 2 * _Phi(_SQRT2 * u) - 1),
        (sympy.erfc, lambda u: 2 * _Phi(-_SQRT2 * u)),
    )
    for func, rule in rules:
        if expr.has(func):
            expr = expr.replace(lambda e, f=func: isinstance(e, f) and e.has(Z), lambda e, r=rule: r(e.args[0]))
    return expr


def _collect_terms(expr, root_q, shift, z_power):
    """{(k, alpha, beta, phis): coefficient} for expr(sqrt(q) z + shift) * z**z_power."""
    substituted = _to_exponentials(expr.subs(x, root_q * Z + shift))
    terms: dict = defaultdict(lambda: sympy.Integer(0))
    for (k, exponent, phis), coeff in _monomials(substituted).items():
        alpha, beta, gamma = _quadratic(exponent)
        if len(phis) > 2:
            raise NoClosedFormError("products of more than two Phi/erf factors have no closed form here")
        linear = _canonical(tuple(_linear(arg) for arg in phis))
        terms[(k + z_power, alpha, beta, linear)] += coeff * sympy.exp(gamma)
    return {key: c for key, c in terms.items() if c != 0}


_ONE = (0, sympy.Integer(0), ())


def _monomials(expr) -> dict:
    """expr as {(k, exponent, phis): coefficient}: a sum of c z^k e^exponent prod Phi(phis).

    Coefficients free of z stay unexpanded (the zoo's closed-form constants are large), so
    only the z-structure is multiplied out.
    """
    if not expr.has(Z):
        return {_ONE: expr}
    if expr.is_Add:
        out: dict = defaultdict(lambda: sympy.Integer(0))
        for arg in expr.args:
            for key, c in _monomials(arg).items():
                out[key] += c
        return out
    if expr.is_Mul:
        out = {_ONE: sympy.Integer(1)}
        for arg in expr.args:
            out = _product(out, _monomials(arg))
        return out
    if expr == Z:
        return {(1, sympy.Integer(0), ()): sympy.Integer(1)}
    if isinstance(expr, sympy.exp):
        return {(0, sympy.expand(expr.args[0]), ()): sympy.Integer(1)}
    if isinstance(expr, _Phi):
        return {(0, sympy.Integer(0), (expr.args[0],)): sympy.Integer(1)}
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        base = _monomials(expr.base)
        out = {_ONE: sympy.Integer(1)}
        for _ in range(int(expr.exp)):
            out = _product(out, base)
        return out
    raise NoClosedFormError(f"no closed-form rule for {expr.subs(Z, sympy.Symbol('z'))}")


def _product(left: dict, right: dict) -> dict:
    out: dict = defaultdict(lambda: sympy.Integer(0))
    for (k1, e1, p1), c1 in left.items():
        for (k2, e2, p2), c2 in right.items():
            out[(k1 + k2, e1 + e2, tuple(sorted(p1 + p2, key=sympy.default_sort_key)))] += c1 * c2
    return out


def _quadratic(expr):
    expr = sympy.expand(expr)
    if expr == 0:
        return sympy.Integer(0), sympy.Integer(0), sympy.Integer(0)
    try:
        poly = sympy.Poly(expr, Z)
    except sympy.PolynomialError as exc:
        raise NoClosedFormError(f"exponent {expr} is not polynomial in z") from exc
    if poly.degree() > 2:
        raise NoClosedFormError(f"exponent {expr} is of degree {poly.degree()} in z")
    return poly.coeff_monomial(Z**2), poly.coeff_monomial(Z), poly.coeff_monomial(1)


def _linear(expr):
    alpha, a, b = _quadratic(expr)
    if alpha != 0:
        raise NoClosedFormError(f"Phi of a non-linear argument {expr}")
    return (a, b)


# -- integrals against phi -------------------------------------------------------------------

def _map(limit, scale, offset):
    """scale * limit + offset with infinite limits kept (scale > 0)."""
    if limit is _OO or limit is _NOO:
        return limit
    return scale * limit + offset


def _term_integral(k, alpha, beta, phis, lo, hi):
    """int_lo^hi z^k e^{alpha z^2 + beta z} prod Phi(a z + b) phi(z) dz."""
    factor = sympy.Integer(1)
    if alpha != 0:
        # e^{alpha z^2} phi(z) = phi(s z) with s = sqrt(1 - 2 alpha); w = s z.
        s = sympy.sqrt(1 - 2 * alpha)
        factor /= s ** (k + 1)
        beta = beta / s
        phis = tuple((a / s, b) for a, b in phis)
        lo, hi = _map(lo, s, 0), _map(hi, s, 0)
    if beta == 0:
        return factor * _stein(k, phis, lo, hi)
    # e^{beta z} phi(z) = e^{beta^2/2} phi(z - beta); w = z - beta, z^k = sum C(k,j) beta^(k-j) w^j.
    factor *= sympy.exp(beta**2 / 2)
    shifted = _canonical(tuple((a, b + a * beta) for a, b in phis))
    lo, hi = _map(lo, 1, -beta), _map(hi, 1, -beta)
    return factor * sympy.Add(*[
        sympy.binomial(k, j) * beta ** (k - j) * _stein(j, shifted, lo, hi) for j in range(k + 1)
    ])


def _canonical(phis):
    return tuple(sorted(phis, key=sympy.default_sort_key))


@lru_cache(maxsize=4096)
def _stein(k, phis, lo, hi):
    """int_lo^hi z^k prod_i Phi(a_i z + b_i) phi(z) dz by Stein's identity."""
    constant = sympy.Integer(1)
    varying = []
    for a, b in phis:
        if a == 0:
            constant *= normal_cdf(b)
        else:
            varying.append((a, b))
    phis = tuple(varying)
    if k == 0:
        return constant * _base(phis, lo, hi)
    # int z^k F phi = [-z^(k-1) F phi]_lo^hi + (k-1) int z^(k-2) F phi + int z^(k-1) F' phi
    total = _boundary(k - 1, phis, hi) - _boundary(k - 1, phis, lo)
    if k >= 2:
        total += (k - 1) * _stein(k - 2, phis, lo, hi)
    for i, (a, b) in enumerate(phis):
        rest = phis[:i] + phis[i + 1:]
        total += a * _merged(k - 1, a, b, rest, lo, hi)
    return constant * total


def _boundary(power, phis, point):
    """-point^power * prod Phi(a point + b) * phi(point), zero at infinity."""
    if point is _OO or point is _NOO:
        return sympy.Integer(0)
    value = -point**power * normal_pdf(point)
    for a, b in phis:
        value *= normal_cdf(a * point + b)
    return value


def _merged(power, a, b, rest, lo, hi):
    """int z^power phi(a z + b) prod_rest Phi phi(z) dz: the two densities form one Gaussian.

    phi(a z + b) phi(z) = e^{-b^2/(2 s^2)} phi(s z + a b / s) / sqrt(2 pi), s = sqrt(1 + a^2);
    with w = s z + a b / s, z = (w - c)/s where c = a b / s.
    """
    s = sympy.sqrt(1 + a**2)
    c = a * b / s
    factor = sympy.exp(-b**2 / (2 * s**2)) / (sympy.sqrt(2 * sympy.pi) * s)
    new_phis = _canonical(tuple((a_j / s, b_j - a_j * c / s) for a_j, b_j in rest))
    new_lo, new_hi = _map(lo, s, c), _map(hi, s, c)
    # z^power = s^-power (w - c)^power
    total = sympy.Add(*[
        sympy.binomial(power, j) * (-c) ** (power - j) * _stein(j, new_phis, new_lo, new_hi)
        for j in range(power + 1)
    ])
    return factor * total / s**power


def _base(phis, lo, hi):
    """int_lo^hi prod Phi(a_i z + b_i) phi(z) dz for at most two Phi's with a_i != 0."""
    if not phis:
        return normal_cdf(hi) - normal_cdf(lo)
    if len(phis) == 1:
        (a, b), = phis
        return _one_phi_below(a, b, hi) - _one_phi_below(a, b, lo)
    (a1, b1), (a2, b2) = phis
    s1, s2 = sympy.sqrt(1 + a1**2), sympy.sqrt(1 + a2**2)
    if lo is _NOO and hi is _OO:
        return BivariateNormalCDF(b1 / s1, b2 / s2, a1 * a2 / (s1 * s2))
    if b1 == 0 and b2 == 0 and ((lo == 0 and hi is _OO) or (lo is _NOO and hi == 0)):
        # P(+-Z >= 0, X1 <= 0, X2 <= 0), X_i = (Y_i - a_i Z)/s_i: the trivariate orthant law
        # 1/8 + (asin r12 + asin r13 + asin r23)/(4 pi).
        sign = 1 if lo == 0 else -1
        r12, r13, r23 = sign * a1 / s1, sign * a2 / s2, a1 * a2 / (s1 * s2)
        return sympy.Rational(1, 8) + (sympy.asin(r12) + sympy.asin(r13) + sympy.asin(r23)) / (4 * sympy.pi)
    raise NoClosedFormError("a product of two offset Phi's on a half-line is a trivariate normal probability")


def _one_phi_below(a, b, point):
    """int_{-oo}^point Phi(a z + b) phi(z) dz = Phi_2(point, b/s; -a/s), s = sqrt(1 + a^2)."""
    if point is _NOO:
        return sympy.Integer(0)
    s = sympy.sqrt(1 + a**2)
    if point is _OO:
        return normal_cdf(b / s)
    return BivariateNormalCDF(point, b / s, -a / s)
