"""Exact Hermite coefficients by recurrences (private helpers of :mod:`ncsym.hermite_series.coefficients`).

Every exact coefficient is assembled in the same shape,

    a_n = (sum_k c_k * key_k) * r * sqrt(F),

with c_k in a fast exact domain (flint rationals when possible), key_k a fixed irrational
factor shared by many n (such as 1/sqrt(2 pi)), r rational and F the square-free part of n!.
Keeping sqrt(n!) as S sqrt(F) with F known to be square-free spares sympy from factoring
thousand-digit integers, which is what makes thousands of exact coefficients cheap.

Two recurrences produce the c_k:

- piecewise polynomials (Stein's identity with distributional derivatives): above the piece
  degree d, a_n sqrt(n!) = sum_b phi(b') sum_j J_j(b) q^{j/2} He_{n-1-j}(b'), b' = b/sqrt(q),
  J_j(b) the jump of sigma^(j) at the breakpoint b; He_k(b') runs by its three-term recurrence;
- D-finite Gaussian smoothings W(t) = E[sigma(sqrt(q) z + t)]: the Taylor coefficients w_n of W
  obey a linear recurrence (sympy.holonomic), and a_n = q^{n/2} sqrt(n!) w_n.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import sympy
from sympy.polys.domains import QQ

from ncsym.symbolic.activations import Activation, x
from ncsym.core.errors import NoClosedFormError
from ncsym.core.timebound import time_limit
from ncsym.core.results import GUARD_DIGITS, to_mpf

#: Seconds allowed to one symbolic step (holonomic conversion, simplification) before falling back.
SYMBOLIC_TIME_LIMIT = 10.0

_t = sympy.Symbol("t", real=True)
_z = sympy.Symbol("z", real=True)


# -- sqrt(n!) without factoring ------------------------------------------------------------

def factorial_radicals(n_max: int) -> list[tuple[int, int]]:
    """(S_n, F_n) with n! = S_n^2 F_n and F_n square-free, for n = 0..n_max.

    >>> factorial_radicals(5)[5]    # 120 = 2^2 * 30
    (2, 30)
    """
    smallest = list(range(n_max + 1))
    for p in range(2, int(math.isqrt(n_max)) + 1):
        if smallest[p] == p:
            for multiple in range(p * p, n_max + 1, p):
                if smallest[multiple] == multiple:
                    smallest[multiple] = p
    out = [(1, 1)]
    fact, square_free = 1, 1
    for n in range(1, n_max + 1):
        fact *= n
        m = n
        while m > 1:
            p, k = smallest[m], 0
            while m % p == 0:
                m //= p
                k += 1
            if k % 2:
                square_free = square_free // p if square_free % p == 0 else square_free * p
        out.append((math.isqrt(fact // square_free), square_free))
    return out


def _sqrt_square_free(f: int) -> sympy.Expr:
    # f is square-free, so Pow(f, 1/2) is already sympy's canonical form: skip its factoring.
    return sympy.Integer(1) if f == 1 else sympy.Pow(sympy.Integer(f), sympy.S.Half, evaluate=False)


# -- assembling Results from keyed terms ---------------------------------------------------

def _coefficient_to_sympy(c: Any) -> sympy.Expr:
    if isinstance(c, sympy.Basic):
        return c
    if isinstance(c, QQ.dtype):
        return sympy.Rational(int(c.numerator), int(c.denominator))
    return sympy.sympify(c)


def _coefficient_to_mpf(c: Any, dps: int) -> mpmath.mpf:
    if isinstance(c, QQ.dtype):
        return mpmath.mpf(int(c.numerator)) / int(c.denominator)
    return to_mpf(_coefficient_to_sympy(c), dps)


class Assembler:
    """Turns keyed terms into (exact sympy expression, value to ``dps`` digits)."""

    def __init__(self, dps: int):
        self.dps = dps
        self._key_values: dict[sympy.Expr, mpmath.mpf] = {}

    def key_value(self, key: sympy.Expr, extra: int = 0) -> mpmath.mpf:
        if extra:
            return to_mpf(key, self.dps + extra)
        if key not in self._key_values:
            self._key_values[key] = to_mpf(key, self.dps + 20)
        return self._key_values[key]

    def build(self, terms: dict, rational: Any, square_free: int) -> tuple[sympy.Expr, mpmath.mpf]:
        """sum_k c_k key_k * rational * sqrt(square_free)."""
        rational = sympy.Rational(rational) if not isinstance(rational, sympy.Rational) else rational
        parts = []
        with mpmath.workdps(self.dps + GUARD_DIGITS + 20):
            scale = mpmath.mpf(int(rational.p)) / int(rational.q) * mpmath.sqrt(square_free)
            values = []
            for key, c in terms.items():
                if c == 0:
                    continue
                coefficient = _coefficient_to_sympy(c) * rational
                parts.append(_times_radical(coefficient, square_free, key))
                values.append(_coefficient_to_mpf(c, self.dps + 20) * self.key_value(key))
            expr = sympy.Add(*parts) if parts else sympy.Integer(0)
            if not values:
                return expr, mpmath.mpf(0)
            total = mpmath.fsum(values)
            biggest = max(abs(v) for v in values)
        # Cancellation between keys costs digits; past the 20 spare ones, let evalf adapt.
        if total == 0 or abs(total) < biggest * mpmath.mpf(10) ** (-18):
            if expr == 0:
                return expr, mpmath.mpf(0)
            return expr, to_mpf(expr, self.dps)
        with mpmath.workdps(self.dps + GUARD_DIGITS):
            return expr, +(total * scale)


def _times_radical(coefficient: sympy.Expr, square_free: int, key: sympy.Expr) -> sympy.Expr:
    """coefficient * sqrt(square_free) * key, merging a sqrt(k) of the key into the radical
    by hand (gcd step) so that sympy never factors the large radicand."""
    rest = []
    for factor in sympy.Mul.make_args(key):
        if (factor.is_Pow and factor.base.is_Integer and factor.base > 0
                and factor.exp == sympy.S.Half):
            k = int(factor.base)
            g = math.gcd(square_free, k)
            coefficient = coefficient * g
            square_free = (square_free // g) * (k // g)
        else:
            rest.append(factor)
    return sympy.Mul(coefficient, _sqrt_square_free(square_free), *rest)


def split_key(expr: sympy.Expr) -> list[tuple[Any, sympy.Expr]]:
    """expr as sum of (rational, key) pairs; keys carry the irrational factors."""
    out = []
    for term in sympy.Add.make_args(sympy.expand(expr)):
        coefficient, key = term.as_coeff_Mul()
        if not isinstance(coefficient, sympy.Rational):
            raise NoClosedFormError(f"inexact coefficient {coefficient} in {expr}")
        if coefficient != 0:
            out.append((QQ(int(coefficient.p), int(coefficient.q)), key))
    return out


def _add_term(terms: dict, key: sympy.Expr, c: Any) -> None:
    terms[key] = terms[key] + c if key in terms else c


def gaussian_phi(u: sympy.Expr) -> sympy.Expr:
    return sympy.exp(-u**2 / 2) / sympy.sqrt(2 * sympy.pi)


def gaussian_Phi(u: sympy.Expr) -> sympy.Expr:
    if u is sympy.oo:
        return sympy.Integer(1)
    if u is sympy.S.NegativeInfinity:
        return sympy.Integer(0)
    return (1 + sympy.erf(u / sympy.sqrt(2))) / 2


def _ensure_exact(act: Activation) -> None:
    if act.expr.has(sympy.Float):
        raise NoClosedFormError(f"{act.name} has floating-point constants; no exact coefficients")
    if act.parameters:
        raise NoClosedFormError(f"{act.name} has symbolic parameters {sorted(map(str, act.parameters))}")


# -- piecewise polynomials -----------------------------------------------------------------

def is_piecewise_polynomial(act: Activation) -> bool:
    try:
        return act.is_polynomial_pieces
    except Exception:  # activations whose pieces cannot be found are not polynomial
        return False


def _interval_moments(k_max: int, lo: sympy.Expr, hi: sympy.Expr) -> list[sympy.Expr]:
    """I_k = int_lo^hi z^k phi(z) dz for k = 0..k_max (I_k = -[z^{k-1} phi] + (k-1) I_{k-2})."""

    def edge(power: int, point: sympy.Expr) -> sympy.Expr:
        if point.is_infinite:
            return sympy.Integer(0)
        return point**power * gaussian_phi(point)

    moments = [gaussian_Phi(hi) - gaussian_Phi(lo)]
    if k_max >= 1:
        moments.append(edge(0, lo) - edge(0, hi))
    for k in range(2, k_max + 1):
        moments.append(edge(k - 1, lo) - edge(k - 1, hi) + (k - 1) * moments[k - 2])
    return moments


class _PiecewiseData:
    """Breakpoint jumps and Dirac terms of a piecewise-polynomial activation."""

    def __init__(self, act: Activation, q: sympy.Expr):
        self.act, self.q = act, q
        self.sqrt_q = sympy.sqrt(q)
        self.pieces = act.pieces
        self.degree = max(int(sympy.degree(p.expr, x)) if p.expr != 0 else 0 for p in self.pieces)
        # contributions[b] = list of (offset m, sympy factor C, q-exponent e):
        # a term C q^{e/2} He_{n+m}(b') phi(b') of a_n sqrt(n!).
        self.contributions: dict[sympy.Expr, list[tuple[int, sympy.Expr, int]]] = {}
        for left, right in zip(self.pieces, self.pieces[1:]):
            b = left.hi
            for j in range(self.degree + 1):
                jump = sympy.expand(sympy.diff(right.expr, x, j).subs(x, b) - sympy.diff(left.expr, x, j).subs(x, b))
                if jump != 0:
                    self.contributions.setdefault(b, []).append((-1 - j, jump, j))
        for delta in act.deltas:
            # E[delta^(k)(sqrt(q) z - b) He_n(z)] = q^{-(k+1)/2} He_{n+k}(b') phi(b')
            self.contributions.setdefault(delta.point, []).append((delta.order, delta.coeff, -(delta.order + 1)))

    def low_order(self, n: int) -> sympy.Expr:
        """a_n sqrt(n!) by the full formula (boundary terms plus the smooth integral)."""
        q, sqrt_q = self.q, self.sqrt_q
        total = sympy.Integer(0)
        for b, terms in self.contributions.items():
            bp = b / sqrt_q
            for m, c, e in terms:
                if n + m >= 0:
                    total += c * q ** sympy.Rational(e, 2) * sympy.hermite_prob(n + m, bp) * gaussian_phi(bp)
        for piece in self.pieces:
            derivative = sympy.diff(piece.expr, x, n)
            if derivative == 0:
                continue
            poly = sympy.Poly(sympy.expand(derivative.subs(x, sqrt_q * _z)), _z)
            lo = piece.lo if piece.lo.is_infinite else piece.lo / sqrt_q
            hi = piece.hi if piece.hi.is_infinite else piece.hi / sqrt_q
            moments = _interval_moments(poly.degree(), lo, hi)
            integral = sum(coef * moments[k] for (k,), coef in poly.terms())
            total += q ** sympy.Rational(n, 2) * integral
        return total

    def high_order_terms(self, n_min: int, n_max: int) -> list[dict]:
        """Keyed terms of a_n sqrt(n!) for n_min <= n <= n_max (all n above the degree)."""
        out = [dict() for _ in range(n_min, n_max + 1)]
        for b, terms in self.contributions.items():
            bp = b / self.sqrt_q
            s = sympy.expand(bp**2)
            max_index = n_max + max(m for m, _, _ in terms)
            sequence, convert = _hermite_even_part(s, max_index)
            phi_b = gaussian_phi(bp)
            for m, c, e in terms:
                for parity in (0, 1):
                    # He_k(b') = b'^{k mod 2} E_k(b'^2): the sympy factor depends on n's parity only.
                    factor = c * self.q ** sympy.Rational(e, 2) * bp ** ((parity + m) % 2) * phi_b
                    keyed = [(convert(r), key) for r, key in split_key(factor)] if factor != 0 else []
                    start = n_min + ((parity - n_min) % 2)
                    for n in range(start, n_max + 1, 2):
                        index = n + m
                        if index < 0:
                            continue
                        value = sequence[index]
                        if value == 0:
                            continue
                        for r, key in keyed:
                            _add_term(out[n - n_min], key, r * value)
        return out


def _hermite_even_part(s: sympy.Expr, k_max: int) -> tuple[list, Any]:
    """E_k(s) = He_k(x)/x^{k mod 2} at x^2 = s, k = 0..k_max, in the smallest exact domain."""
    if s.is_Rational:
        domain, value = QQ, QQ(int(s.p), int(s.q))
    else:
        domain, (value,) = sympy.construct_domain([s], field=True)
    one = domain.one
    sequence = [one, one]
    for k in range(1, k_max):
        factor = value if k % 2 else one
        sequence.append(factor * sequence[k] - domain(k) * sequence[k - 1])
    if domain is QQ:
        return sequence[: k_max + 1], lambda r: r
    return [domain.to_sympy(v) if v != 0 else 0 for v in sequence[: k_max + 1]], lambda r: _coefficient_to_sympy(r)


def piecewise_polynomial_coefficients(act: Activation, n_max: int, q: sympy.Expr, dps: int) -> list[tuple[sympy.Expr, Any]]:
    """Exact (expression, value) of a_0..a_n_max for a piecewise-polynomial activation."""
    _ensure_exact(act)
    data = _PiecewiseData(act, q)
    radicals = factorial_radicals(n_max)
    assembler = Assembler(dps)
    out: list[tuple[sympy.Expr, Any]] = []
    low = min(data.degree, n_max)
    for n in range(low + 1):
        expr = _tidy(data.low_order(n) / sympy.sqrt(sympy.factorial(n)))
        out.append((expr, None))
    if n_max > data.degree:
        for n, terms in enumerate(data.high_order_terms(data.degree + 1, n_max), start=data.degree + 1):
            s_n, f_n = radicals[n]
            out.append(assembler.build(terms, sympy.Rational(1, s_n * f_n), f_n))
    return out


def piecewise_polynomial_second_moment(act: Activation, q: sympy.Expr) -> sympy.Expr:
    """E[sigma(sqrt(q) z)^2] exactly, from the polynomial moments on each piece.

    >>> from ncsym import zoo
    >>> piecewise_polynomial_second_moment(zoo.relu, sympy.Integer(3))
    3/2
    """
    _ensure_exact(act)
    sqrt_q = sympy.sqrt(q)
    total = sympy.Integer(0)
    for piece in act.pieces:
        if piece.expr == 0:
            continue
        poly = sympy.Poly(sympy.expand((piece.expr**2).subs(x, sqrt_q * _z)), _z)
        lo = piece.lo if piece.lo.is_infinite else piece.lo / sqrt_q
        hi = piece.hi if piece.hi.is_infinite else piece.hi / sqrt_q
        moments = _interval_moments(poly.degree(), lo, hi)
        total += sum(coef * moments[k] for (k,), coef in poly.terms())
    return _tidy(total)


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    """A light, time-bounded simplification of a small exact expression."""
    expanded = sympy.expand(expr)
    try:
        with time_limit(SYMBOLIC_TIME_LIMIT / 5):
            simpler = sympy.simplify(expanded)
    except TimeoutError:
        return expanded
    return simpler if sympy.count_ops(simpler) <= sympy.count_ops(expanded) else expanded


# -- D-finite Gaussian smoothings ----------------------------------------------------------

def smoothing_taylor_terms(W: sympy.Expr, t: sympy.Symbol, n_max: int) -> list[dict]:
    """Keyed exact Taylor coefficients w_0..w_n_max of W at t = 0 by W's holonomic recurrence."""
    from sympy.holonomic import expr_to_holonomic

    try:
        with time_limit(SYMBOLIC_TIME_LIMIT):
            holonomic = expr_to_holonomic(W, t, x0=0)
            sequences = holonomic.to_sequence()
    except TimeoutError as exc:
        raise NoClosedFormError(f"holonomic conversion of {W} timed out") from exc
    except Exception as exc:  # sympy.holonomic raises many types for unsupported input
        raise NoClosedFormError(f"no holonomic recurrence for {W}: {exc}") from exc
    if len(sequences) != 1:
        raise NoClosedFormError(f"holonomic recurrence of {W} is not a plain power series")
    # to_sequence gives (sequence, n_start) or, at a singular start, (sequence, n_start, root).
    sequence, n_start = sequences[0][:2]
    polys = [p.to_list() for p in sequence.recurrence.listofpoly]
    order = len(polys) - 1
    domain = sequence.recurrence.parent.base.dom
    initial = list(sequence.u0)
    if any(value.free_symbols for value in initial):
        # Where the leading coefficient vanishes sympy leaves an unknown C_k: read the
        # initial terms off W's Taylor series instead.
        initial = _direct_taylor(W, t, len(initial) - 1)
    if domain != QQ:
        raise NoClosedFormError(f"recurrence of {W} has coefficients in {domain}, not the rationals")

    def poly_at(coefficients: list, n: int) -> Any:
        value = QQ.zero
        for c in coefficients:
            value = value * n + c
        return value

    keys: list[sympy.Expr] = []
    components: list[list] = []
    for index, value in enumerate(initial):
        for r, key in split_key(value):
            if key not in keys:
                keys.append(key)
                components.append([QQ.zero] * len(initial))
            components[keys.index(key)][index] += r
    first = len(initial) - order
    if first < n_start:
        raise NoClosedFormError(f"holonomic recurrence of {W} lacks initial terms")
    for n in range(first, n_max - order + 1):
        lead = poly_at(polys[order], n)
        if lead == 0:
            direct = _direct_taylor(W, t, n + order)[n + order]
            split = dict((key, r) for r, key in split_key(direct))
            if any(key not in keys for key in split):
                raise NoClosedFormError(f"holonomic recurrence of {W} is singular at n = {n}")
            for key, component in zip(keys, components):
                component.append(split.get(key, QQ.zero))
            continue
        weights = [poly_at(polys[i], n) for i in range(order)]
        for component in components:
            total = QQ.zero
            for i, w in enumerate(weights):
                if w:
                    total += w * component[n + i]
            component.append(-total / lead)
    out = []
    for n in range(n_max + 1):
        out.append({key: component[n] for key, component in zip(keys, components) if component[n] != 0})
    return out


def _direct_taylor(W: sympy.Expr, t: sympy.Symbol, n: int) -> list[sympy.Expr]:
    """w_0..w_n of W at t = 0 by series expansion (time-bounded)."""
    try:
        with time_limit(SYMBOLIC_TIME_LIMIT):
            series = sympy.series(W, t, 0, n + 1).removeO()
    except TimeoutError as exc:
        raise NoClosedFormError(f"Taylor series of {W} timed out") from exc
    expanded = sympy.expand(series)
    return [expanded.coeff(t, k) for k in range(n + 1)]


def smoothing_coefficients(act: Activation, n_max: int, q: sympy.Expr, dps: int) -> list[tuple[sympy.Expr, Any]]:
    """Exact a_0..a_n_max from the Taylor coefficients of W(t) = E[sigma(sqrt(q) z + t)].

    a_n sqrt(n!) = E[sigma^(n)(sqrt(q) z)] q^{n/2} = W^(n)(0) q^{n/2}, so a_n = q^{n/2} sqrt(n!) w_n.
    """
    _ensure_exact(act)
    W = smoothed_activation(act, q)
    terms = smoothing_taylor_terms(W, _t, n_max)
    radicals = factorial_radicals(n_max)
    assembler = Assembler(dps)
    sqrt_q = sympy.sqrt(q)
    rational_q = q.is_Rational
    out = []
    for n, keyed in enumerate(terms):
        s_n, f_n = radicals[n]
        if rational_q:
            rational = sympy.Integer(s_n) * q ** (n // 2)
            extra = sqrt_q if n % 2 else sympy.Integer(1)
        else:
            rational, extra = sympy.Integer(s_n), q ** sympy.Rational(n, 2)
        if extra != 1:
            rescaled: dict = {}
            for key, c in keyed.items():
                for r, new_key in split_key(key * extra):
                    _add_term(rescaled, new_key, c * r)
            keyed = rescaled
        out.append(assembler.build(keyed, rational, f_n))
    return out


def smoothed_activation(act: Activation, q: sympy.Expr) -> sympy.Expr:
    """W(t) = E[sigma(sqrt(q) z + t)] in closed form (from :mod:`ncsym.gaussian`)."""
    from ncsym.gaussian import moments as gaussian
    exact_expectation = getattr(gaussian, "exact_expectation", None)
    if exact_expectation is None:
        raise NoClosedFormError("the exact Gaussian engine is not available")
    try:
        W = exact_expectation(act, q=q, shift=_t)
    except NoClosedFormError:
        raise
    except NotImplementedError as exc:
        raise NoClosedFormError(str(exc)) from exc
    W = sympy.sympify(W)
    if W.has(sympy.Integral) or W.free_symbols - {_t}:
        raise NoClosedFormError(f"no closed form for E[{act.name}(sqrt(q) z + t)]")
    return W
