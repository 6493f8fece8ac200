"""The standard normal CDF and the bivariate normal CDF as exact sympy objects.

``normal_cdf(u)`` is Phi(u) written with erfc, so that Phi(-1) reads ``erfc(sqrt(2)/2)/2``
exactly like the constants in :mod:`ncsym.zoo`. :class:`BivariateNormalCDF` is
Phi_2(h, k; rho) = P(X <= h, Y <= k) for standard normals with correlation rho: it collapses
to elementary forms where one exists (rho = 0, an infinite limit, h = k = 0 gives the arcsine
orthant law) and otherwise stays a named function that evaluates to any precision.

>>> import sympy
>>> BivariateNormalCDF(0, 0, sympy.Rational(1, 2))
1/3
>>> BivariateNormalCDF(1, 2, sympy.Rational(1, 3)).evalf(20)
0.82798491844226666398
"""

from __future__ import annotations

import mpmath
import sympy

__all__ = ["normal_cdf", "normal_pdf", "BivariateNormalCDF", "bivariate_normal_cdf_mp"]


def normal_cdf(u: sympy.Expr) -> sympy.Expr:
    """Phi(u) = erfc(-u/sqrt(2))/2, exact.

    >>> normal_cdf(0), normal_cdf(sympy.oo)
    (1/2, 1)
    """
    u = sympy.sympify(u)
    if u is sympy.oo:
        return sympy.Integer(1)
    if u is sympy.S.NegativeInfinity:
        return sympy.Integer(0)
    return sympy.erfc(-u / sympy.sqrt(2)) / 2


def normal_pdf(u: sympy.Expr) -> sympy.Expr:
    """phi(u) = exp(-u^2/2)/sqrt(2 pi), exact (0 at +-oo).

    >>> normal_pdf(0)
    sqrt(2)/(2*sqrt(pi))
    """
    u = sympy.sympify(u)
    if u.is_infinite:
        return sympy.Integer(0)
    return sympy.exp(-u**2 / 2) / sympy.sqrt(2 * sympy.pi)


def bivariate_normal_cdf_mp(h, k, rho):
    """Phi_2(h, k; rho) in mpmath at the working precision (complex h, k allowed).

    Uses Phi(h) Phi(k) + (1/2pi) int_0^{asin rho} exp(-(h^2 + k^2 - 2hk sin t)/(2 cos^2 t)) dt,
    an entire function of h and k with a smooth integrand on a finite interval.

    >>> mpmath.nstr(bivariate_normal_cdf_mp(0, 0, 0.5), 15)
    '0.333333333333333'
    """
    h, k, rho = mpmath.mpmathify(h), mpmath.mpmathify(k), mpmath.mpf(rho)
    if rho <= -1 or rho >= 1:
        if rho == 1:
            return _phi_mp(min(h, k) if not (isinstance(h, mpmath.mpc) or isinstance(k, mpmath.mpc)) else h)
        if rho == -1:
            return max(_phi_mp(h) + _phi_mp(k) - 1, mpmath.mpf(0))
        raise ValueError(f"correlation must lie in [-1, 1], got {rho}")
    base = _phi_mp(h) * _phi_mp(k)
    if rho == 0:
        return base

    def integrand(t):
        c = mpmath.cos(t)
        return mpmath.exp(-(h * h + k * k - 2 * h * k * mpmath.sin(t)) / (2 * c * c))

    return base + mpmath.quad(integrand, [0, mpmath.asin(rho)]) / (2 * mpmath.pi)


def _phi_mp(u):
    if u == mpmath.inf:
        return mpmath.mpf(1)
    if u == -mpmath.inf:
        return mpmath.mpf(0)
    return mpmath.erfc(-u / mpmath.sqrt(2)) / 2


class BivariateNormalCDF(sympy.Function):
    """Phi_2(h, k; rho): P(X <= h, Y <= k), (X, Y) standard bivariate normal, correlation rho.

    >>> BivariateNormalCDF(sympy.Symbol("h"), 0, 0)
    1/2 - erfc(sqrt(2)*h/2)/4
    """

    nargs = 3

    @classmethod
    def eval(cls, h, k, rho):
        if h is sympy.S.NegativeInfinity or k is sympy.S.NegativeInfinity:
            return sympy.Integer(0)
        if h is sympy.oo:
            return normal_cdf(k)
        if k is sympy.oo:
            return normal_cdf(h)
        if rho.is_zero:
            return normal_cdf(h) * normal_cdf(k)
        if h.is_zero and k.is_zero:
            return sympy.Rational(1, 4) + sympy.asin(rho) / (2 * sympy.pi)
        return None

    def fdiff(self, argindex=1):
        h, k, rho = self.args
        root = sympy.sqrt(1 - rho**2)
        if argindex == 1:
            return normal_pdf(h) * normal_cdf((k - rho * h) / root)
        if argindex == 2:
            return normal_pdf(k) * normal_cdf((h - rho * k) / root)
        # d/drho Phi_2 is the bivariate density (Plackett's identity).
        return sympy.exp(-(h**2 - 2 * rho * h * k + k**2) / (2 * root**2)) / (2 * sympy.pi * root)

    def _eval_evalf(self, prec):
        h, k, rho = (a.evalf(prec) for a in self.args)
        if not all(a.is_number for a in (h, k, rho)):
            return None
        dps = mpmath.libmp.prec_to_dps(prec)
        with mpmath.workdps(dps + 10):
            value = bivariate_normal_cdf_mp(_to_mp(h, dps + 10), _to_mp(k, dps + 10), _to_mp(rho, dps + 10).real)
        return sympy.Expr._from_mpmath(value, prec)

    def _latex(self, printer):
        h, k, rho = (printer._print(a) for a in self.args)
        return rf"\Phi_2\left({h}, {k}; {rho}\right)"


def _to_mp(value: sympy.Expr, dps: int):
    re, im = value.as_real_imag()
    re_mp = mpmath.mpf(sympy.Float(re, dps)._mpf_) if not re.is_zero else mpmath.mpf(0)
    if im.is_zero or im == 0:
        return re_mp
    return mpmath.mpc(re_mp, mpmath.mpf(sympy.Float(im, dps)._mpf_))
