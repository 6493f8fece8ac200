"""Integrability checks of Gaussian expectations (private helpers of :mod:`ncsym.gaussian.moments`).

Before any number is computed, E[z^k prod sigma_i(sqrt(q) z + mu)] must be finite: growth at
+-oo read from the expression tree (|f| <= poly exp(c x^2) needs 2 c q < 1), singular points
inside pieces bounded by pole orders (|f| ~ |x - x0|^-p needs 2 p < 1), with time-bounded
symbolic limits only where the tree says nothing.
"""

from __future__ import annotations

from functools import lru_cache

import sympy

from ncsym.core.errors import NoClosedFormError, NotSquareIntegrableError
from ncsym.core.timebound import run_time_bounded
from ncsym.symbolic.activations import Activation, x

#: Time bound for the symbolic integrability checks (limits, singularities).
_CHECK_TIMEOUT = 3.0

_OO, _NOO = sympy.oo, sympy.S.NegativeInfinity

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
