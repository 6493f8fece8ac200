"""The sympy.integrate route and the tidying of closed forms (private helpers of
:mod:`ncsym.gaussian.moments`).

sympy.integrate runs in a child process killed after its time bound, and its answer is
trusted only when quadrature agrees; integrands it is known to fail on are skipped at once.
"""

from __future__ import annotations

import sympy

from ncsym.core.errors import ConvergenceError
from ncsym.core.results import to_mpf
from ncsym.core.timebound import run_time_bounded
from ncsym.gaussian.exact import Z
from ncsym.gaussian.quadrature import _intervals, _numeric
from ncsym.symbolic.activations import x

_OO, _NOO = sympy.oo, sympy.S.NegativeInfinity


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
