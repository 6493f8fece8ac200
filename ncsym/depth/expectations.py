"""The depth maps' access to the layers below: Gaussian moments at variance q, dual kernels, parity.

E[sigma(sqrt(q) z)^2], E[sigma'(sqrt(q) z)^2] and a_1(q) come from :mod:`ncsym.gaussian`
(exact where a closed form exists), the dual kernel k_q from :mod:`ncsym.kernels`; float64
versions for grids are built once per activation and cached.

>>> from ncsym import zoo
>>> _closed_moment(zoo.relu, derivative=False)
q/2
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import sympy

from ncsym.core.numbers import exact_sign, infinite_result, tidy
from ncsym.core.errors import ConvergenceError, NoClosedFormError, NotSquareIntegrableError
from ncsym.core.results import GUARD_DIGITS, Result
from ncsym.depth.inputs import _Q, RHO, _relabel
from ncsym.symbolic.activations import Activation, activation


def _q_argument(q: Result) -> Any:
    """A variance in the form the layers below accept: exact when exact, else a sympy Float."""
    if q.is_exact:
        return q.exact
    return sympy.Float(q.value, q.dps + GUARD_DIGITS)


def _moment(act: Activation, q: Result, dps: int, *, power: int = 2, label: str) -> Result:
    """E[sigma(sqrt(q) z)^power] (power 1 or 2); at a numeric q its error bound carries q's."""
    return _at_variance(lambda qa: _gaussian(act, qa, dps, power=power), q, dps, label)


def _first_hermite(act: Activation, q: Result, dps: int) -> Result:
    """a_1(q) = E[z sigma(sqrt(q) z)]."""
    return _at_variance(lambda qa: _gaussian(act, qa, dps, power=1, z_power=1), q, dps, "a_1")


def _gaussian(act: Activation, qa: Any, dps: int, *, power: int, z_power: int = 0) -> Result:
    from ncsym.gaussian import moments as gaussian
    return gaussian.expectation(*([act] * power), q=qa, z_power=z_power, dps=dps)


#: Relative step of the difference quotient that estimates how a quantity moves with q.
_Q_STEP = mpmath.mpf(10) ** -6


def _at_variance(evaluate: Any, q: Result, dps: int, label: str) -> Result:
    """g(q) for a Result q: exact when q is exact; else g at q's value, never labeled exact, its bound
    widened by |dg/dq| times q's bound.

    The slope is estimated from the largest change of g over q (1 +- 1e-6), doubled: an estimate
    (the Result says ``certified=False``), adequate because q's bound is many digits below q.
    """
    value = _relabel(evaluate(_q_argument(q)), label)
    if q.is_exact:
        return value
    with mpmath.workdps(dps + GUARD_DIGITS):
        h = max(q.value * _Q_STEP, 10 * q.error)
        if not (q.value - h > 0):
            raise ConvergenceError(f"{label}: the variance {mpmath.nstr(q.value, 5)} is not separated from 0")
        slope = mpmath.mpf(0)
        for point in (q.value - h, q.value + h):
            shifted = evaluate(sympy.Float(point, dps + GUARD_DIGITS))
            slope = max(slope, (abs(shifted.value - value.value) + shifted.error + value.error) / h)
        error = value.error + 2 * slope * q.error
        return Result.from_numeric(value.value, error, label=label,
                                   method=f"{value.method}; at numeric q, |d/dq| x q's bound added", dps=dps)


def _moment_slope(act: Activation, q: Result, dps: int) -> Result:
    """d/dq E[sigma(sqrt(q) z)^2] = E[sigma'(sqrt(q) z)^2] + E[sigma sigma''(sqrt(q) z)].

    By the heat equation, d/dq E[f(sqrt(q) z)] = E[f''(sqrt(q) z)]/2, here with f = sigma^2.
    From the closed form in q where there is one; else through the Gaussian expectations, a
    kink c of sigma (sigma'' = s delta(x - c) + ...) adding s sigma(c) phi(c/sqrt(q))/sqrt(q).
    """
    form = _closed_moment(act, derivative=False)
    if form is not None:
        slope = sympy.diff(form, _Q)

        def evaluate(qa: Any) -> Result:
            return Result.from_exact(slope.subs(_Q, qa), label="dE[sigma^2]/dq", method="closed form in q", dps=dps)
        return _at_variance(evaluate, q, dps, "dE[sigma^2]/dq")
    first, second = act.derivative(), act.derivative(2)
    if first.deltas or any(d.order != 0 for d in second.deltas):
        raise NoClosedFormError(f"{act.name} jumps: d/dq E[sigma(sqrt(q) z)^2] needs its closed form in q")
    from ncsym.gaussian import moments as gaussian
    from ncsym.symbolic.activations import _from_pieces

    smooth = Activation(_from_pieces(list(second.pieces)))

    def evaluate(qa: Any) -> Result:
        parts = [_gaussian(first, qa, dps, power=2), gaussian.expectation(act, smooth, q=qa, dps=dps)]
        for delta in second.deltas:
            c = delta.point
            kink = delta.coeff * act(c) * sympy.exp(-c**2 / (2 * qa)) / sympy.sqrt(2 * sympy.pi * qa)
            parts.append(Result.from_exact(kink, label="kink", method="delta term", dps=dps))
        from ncsym.core.numbers import combine
        return combine(lambda *v: sum(v), *parts, label="dE[sigma^2]/dq",
                       method="E[sigma'^2] + E[sigma sigma''] (heat equation)", dps=dps)
    return _at_variance(evaluate, q, dps, "dE[sigma^2]/dq")


def _kernel_q_slope(act: Activation, q: Result, dps: int) -> Any:
    """A bound on |d/dq E[sigma(sqrt(q) u) sigma(sqrt(q) v)]| uniform in the correlation, or None.

    d/dq k_q = E[u sigma'(sqrt(q) u) sigma(sqrt(q) v)]/sqrt(q), so by Cauchy-Schwarz
    |d/dq k_q| <= sqrt(E[z^2 sigma'(sqrt(q) z)^2] E[sigma(sqrt(q) z)^2] / q) for every rho. None
    when sigma' has a Dirac delta (the bound does not apply).
    """
    derivative = act.derivative()
    if derivative.deltas:
        return None
    qa = _q_argument(q)
    weighted = _gaussian(derivative, qa, dps, power=2, z_power=2)
    second = _gaussian(act, qa, dps, power=2)
    with mpmath.workdps(dps + GUARD_DIGITS):
        return mpmath.sqrt((weighted.value + weighted.error) * (second.value + second.error) / q.value)


def _derivative_moment(act: Activation, q: Result, dps: int) -> Result:
    """E[sigma'(sqrt(q) z)^2]; +infinity when sigma jumps (sigma' has a Dirac delta)."""
    derivative = act.derivative()
    if derivative.deltas:
        return infinite_result("E[sigma'^2]", dps, "sigma jumps: sigma' contains a Dirac delta")
    return _moment(derivative, q, dps, label="E[sigma'^2]")


def _dual_kernel(act: Activation, q: Result, dps: int) -> Any:
    from ncsym.kernels import dual as kernels
    if q.is_exact and q.exact == 1:
        return kernels.dual_kernel(act, dps=dps)
    qa = _q_argument(q)
    return kernels.dual_kernel(act, q1=qa, q2=qa, dps=dps)


def _kernel_closed_form(kernel: Any) -> sympy.Expr | None:
    """The kernel's closed form rewritten in :data:`RHO` (None when there is none)."""
    form = getattr(kernel, "closed_form", None)
    if form is None:
        return None
    symbols = sorted(form.free_symbols, key=str)
    if not symbols:
        return form
    if len(symbols) != 1:
        return None
    return form.subs(symbols[0], RHO)


_WITNESS_POINTS = (sympy.Rational(1, 3), sympy.Rational(7, 5), sympy.Rational(5, 2), sympy.Rational(-3, 7))


def _is_zero_function(expr: sympy.Expr) -> bool:
    """Whether an expression in x vanishes identically (a nonzero value at a witness point disproves it)."""
    from ncsym.symbolic.activations import x

    if expr == 0:
        return True
    if expr.is_number:
        return exact_sign(expr) == 0
    for t in _WITNESS_POINTS:
        sign = exact_sign(expr.subs(x, t))
        if sign is not None and sign != 0:
            return False
    try:
        return sympy.simplify(expr) == 0
    except Exception:  # sympy's simplifiers raise assorted errors on unusual input
        return False


def _is_odd(act: Activation) -> bool | None:
    """Whether sigma(-x) = -sigma(x): True (proved symbolically), False (a witness point), None."""
    return {-1: True, 0: False, 1: act.expr == 0}.get(act.parity)

def _closed_moment(act: Activation, *, derivative: bool) -> sympy.Expr | None:
    from ncsym.gaussian import moments as gaussian
    target = act.derivative() if derivative else act
    if target.deltas:
        return None
    try:
        expr = gaussian.exact_expectation([target, target], q=_Q)
    except (NoClosedFormError, NotSquareIntegrableError, NotImplementedError):
        return None
    return expr if expr.free_symbols <= {_Q} else None


_FLOAT_MOMENTS: dict = {}


def _float_moment(act: Activation, *, derivative: bool = False) -> Any:
    """A vectorized float64 q -> E[sigma(sqrt(q) z)^2] (or of sigma'): closed form or kernel_matrix."""
    key = (act, derivative)
    if key in _FLOAT_MOMENTS:
        return _FLOAT_MOMENTS[key]
    form = _closed_moment(act, derivative=derivative)
    if form is not None:
        from ncsym.core.special import NUMPY_MODULES

        raw = sympy.lambdify(_Q, form, modules=NUMPY_MODULES)

        def moment(q: Any) -> np.ndarray:
            q = np.asarray(q, dtype=float)
            with np.errstate(all="ignore"):
                return np.broadcast_to(np.asarray(raw(q), dtype=float), q.shape).copy()
    else:
        from ncsym.kernels.numeric import float_hermite_table
        target = act.derivative() if derivative else act

        def moment(q: Any) -> np.ndarray:
            # Gauss-Legendre panels split at the breakpoints, ~1e-16 of sigma's size
            q = np.asarray(q, dtype=float)
            flat = q.ravel()
            out = np.array([float_hermite_table(target, float(t), 0)[1] if t > 0 else np.nan for t in flat])
            return out.reshape(q.shape)
    _FLOAT_MOMENTS[key] = moment
    return moment


def _small_q_moment(act: Activation) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr] | None:
    """(c1, c, p) with E[sigma(sqrt(q) z)^2] = c1 q + c q^p + o(q^p) as q -> 0+, for sigma(0) = 0.

    From the closed form in q where there is one (p = 2), else from sigma's Taylor expansion at
    0: smooth there (sigma = a1 x + a2 x^2 + a3 x^3 + ...): c1 = a1^2, c = 3 (a2^2 + 2 a1 a3), p = 2,
    as E[z^4] = 3; a kink at 0 (one-sided a1+-, a2+-, like elu): c1 = (a1+^2 + a1-^2)/2,
    c = 2 sqrt(2/pi) (a1+ a2+ - a1- a2-), p = 3/2, as E[z^3; z > 0] = sqrt(2/pi). None when
    sigma(0) != 0 or no expansion is known.

    >>> _small_q_moment(activation("erf"))
    (4/pi, -8/pi, 2)
    >>> _small_q_moment(activation("elu"))
    (1, -sqrt(2)/sqrt(pi), 3/2)
    """
    from ncsym.symbolic.activations import x

    two = sympy.Integer(2)
    form = _closed_moment(act, derivative=False)
    if form is not None:
        try:
            series = sympy.series(form, _Q, 0, 3).removeO()
            c0, c1, c2 = (tidy(series.coeff(_Q, k)) for k in range(3))
            if exact_sign(c0) == 0 and sympy.simplify(series - c1 * _Q - c2 * _Q**2) == 0:
                return c1, c2, two
        except Exception:  # sympy's series gives up on some forms
            pass
    inside = lambda p: (p.lo == -sympy.oo or exact_sign(p.lo) == -1) and (p.hi == sympy.oo or exact_sign(p.hi) == 1)  # noqa: E731
    for piece in act.pieces:
        if inside(piece):
            a = [tidy(sympy.diff(piece.expr, x, k).subs(x, 0) / sympy.factorial(k)) for k in range(4)]
            if exact_sign(a[0]) != 0:
                return None
            return tidy(a[1] ** 2), tidy(3 * (a[2] ** 2 + 2 * a[1] * a[3])), two
    left = [p for p in act.pieces if p.hi == 0]
    right = [p for p in act.pieces if p.lo == 0]
    if len(left) != 1 or len(right) != 1 or act.deltas:
        return None
    sides = []
    for piece in (right[0], left[0]):
        a = [tidy(sympy.diff(piece.expr, x, k).subs(x, 0) / sympy.factorial(k)) for k in range(3)]
        if exact_sign(a[0]) != 0:
            return None
        sides.append(a)
    (_, p1, p2), (_, m1, m2) = sides
    return (tidy((p1**2 + m1**2) / 2), tidy(2 * sympy.sqrt(2 / sympy.pi) * (p1 * p2 - m1 * m2)),
            sympy.Rational(3, 2))


def _derivative_at_zero(act: Activation, dps: int) -> Result:
    """lim_{q -> 0+} E[sigma'(sqrt(q) z)^2] (the q* = 0 case): from the closed form in q, else
    sigma'(0)^2 when sigma is smooth at 0."""
    from ncsym.symbolic.activations import x

    form = _closed_moment(act, derivative=True)
    if form is not None:
        try:
            limit = sympy.limit(form, _Q, 0, "+")
        except Exception:  # sympy's limit gives up on some forms
            limit = None
        if limit is not None and limit.is_number and limit.is_finite:
            return Result.from_exact(limit, label="lim E[sigma'^2]", method="q -> 0 limit of the closed form", dps=dps)
    derivative = act.derivative()
    for piece in derivative.pieces:
        if (piece.lo == -sympy.oo or exact_sign(piece.lo) == -1) and (piece.hi == sympy.oo or exact_sign(piece.hi) == 1):
            return Result.from_exact(piece.expr.subs(x, 0) ** 2, label="sigma'(0)^2", method="sigma smooth at 0",
                                     dps=dps)
    expansion = _small_q_moment(act)
    if expansion is not None:
        return Result.from_exact(expansion[0], label="lim E[sigma'^2]",
                                 method="(sigma'(0+)^2 + sigma'(0-)^2)/2 (q -> 0 with a kink at 0)", dps=dps)
    raise ConvergenceError(f"{act.name} has a breakpoint at 0; chi_1 at q* = 0 depends on how q -> 0")


#: How far below q0 the search for a positive fixed variance goes (q0 2^-100 ~ 1e-30 q0) before
