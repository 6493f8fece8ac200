"""The variance map V(q), its fixed point q*, chi_1, chi_c, the depth scale and the phase diagram.

>>> from ncsym import zoo
>>> variance_map(zoo.relu, 2, 0).status
'every q is fixed'
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any, Sequence

import mpmath
import numpy as np
import sympy

from ncsym.core.numbers import combine, exact_sign, infinite_result, sign_of, tidy
from ncsym.core.errors import ConvergenceError, DomainError
from ncsym.core.results import GUARD_DIGITS, Result, working_dps
from ncsym.core.numbers import real_float
from ncsym.core.timebound import budgeted
from ncsym.depth.correlation import CorrelationMap
from ncsym.depth.expectations import (
    _closed_moment, _derivative_at_zero, _derivative_moment, _float_moment, _moment, _moment_slope, _small_q_moment,
)
from ncsym.depth.inputs import _Q, _exact_parameter, _float_bisect, _relabel, _show
from ncsym.symbolic.activations import activation

__all__ = ["VarianceMap", "phase_diagram", "variance_map"]

class VarianceMap:
    """q -> V(q) = sigma_w2 E[sigma(sqrt(q) z)^2] + sigma_b2, its fixed point q* and chi_1.

    ``q_star`` is the fixed point reached by iterating V from ``q0`` (default 1): the nearest
    root of V(q) = q in the direction V moves q0. ``status`` says "finite", "diverges" (V(q) > q
    for all q above q0: the variance grows without bound), "collapses" (q* = 0) or "every q is
    fixed" (V is the identity, e.g. ReLU with sigma_w2 = 2 and no bias; q* = q0 then).

    >>> from ncsym import zoo
    >>> V = variance_map(zoo.relu, 1, 1)
    >>> V.q_star.exact, V.chi_1.exact
    (2, 1/2)
    >>> variance_map(zoo.relu, 3, 1).status
    'diverges'
    """

    def __init__(self, act: Any, sigma_w2: Any, sigma_b2: Any, *, q0: Any = 1, dps: int | None = None):
        self.activation = activation(act)
        self.sigma_w2 = _exact_parameter(sigma_w2, "sigma_w2", positive=True)
        self.sigma_b2 = _exact_parameter(sigma_b2, "sigma_b2", positive=False)
        self.q0 = _exact_parameter(q0, "q0", positive=True)
        self.dps = working_dps(dps)

    def __repr__(self) -> str:
        return f"VarianceMap({self.activation.name}, sigma_w2={_show(self.sigma_w2)}, sigma_b2={_show(self.sigma_b2)})"

    @cached_property
    def _closed_moment(self) -> sympy.Expr | None:
        """E[sigma(sqrt(q) z)^2] as a closed form in the symbol q, when there is one."""
        return _closed_moment(self.activation, derivative=False)

    @cached_property
    def closed_form(self) -> sympy.Expr | None:
        """V as an exact expression in the symbol ``q`` (None without a closed form)."""
        if self._closed_moment is None or not (self.sigma_w2.is_exact and self.sigma_b2.is_exact):
            return None
        return self.sigma_w2.exact * self._closed_moment + self.sigma_b2.exact

    def __call__(self, q: Any) -> Any:
        """V(q) on floats/arrays (float64), mpf (mpf) or sympy numbers (exact)."""
        if isinstance(q, sympy.Basic):
            return self.evaluate(q).exact if self.evaluate(q).is_exact else self.evaluate(q).value
        if isinstance(q, mpmath.mpf):
            return self.evaluate(q, dps=mpmath.mp.dps).value
        values = np.asarray(q, dtype=float)
        if np.isnan(values).any() or (values < 0).any():
            raise DomainError("q must be a non-negative number")
        out = float(self.sigma_w2) * _float_moment(self.activation)(values) + float(self.sigma_b2)
        return float(out) if np.ndim(out) == 0 else out

    def evaluate(self, q: Any, dps: int | None = None) -> Result:
        """V(q) as a Result."""
        dps = working_dps(dps or self.dps)
        variance = _exact_parameter(q, "q", positive=True)
        moment = _moment(self.activation, variance, dps, label="E[sigma^2]")
        return combine(lambda w, m, b: w * m + b, self.sigma_w2, moment, self.sigma_b2,
                       label="V(q)", method="variance map", dps=dps)

    @cached_property
    def _solution(self) -> tuple[str, Result | None]:
        return _solve_variance(self)

    @property
    def status(self) -> str:
        """"finite", "diverges", "collapses" or "every q is fixed"."""
        return self._solution[0]

    @property
    def status_text(self) -> str:
        """The status in words."""
        return {
            "finite": "has a finite positive fixed point",
            "diverges": "has no fixed point above q0: the variance grows without bound",
            "collapses": "has no positive fixed point below q0: the variance shrinks to 0",
            "every q is fixed": "is the identity: every variance is fixed, q* = q0",
        }[self.status]

    @property
    def q_star(self) -> Result | None:
        """The fixed variance q* (None when the variance diverges; exact 0 when it collapses)."""
        return self._solution[1]

    def _require_q_star(self) -> Result:
        if self.q_star is None:
            raise ConvergenceError(f"{self!r} {self.status_text}")
        return self.q_star

    @cached_property
    def chi_1(self) -> Result:
        """chi_1 = sigma_w2 E[sigma'(sqrt(q*) z)^2] (order < 1 < chaos)."""
        q_star = self._require_q_star()
        if sign_of(q_star) == 0:
            return combine(lambda w, d: w * d, self.sigma_w2, _derivative_at_zero(self.activation, self.dps),
                           label="chi_1", method="sigma_w2 sigma'(0)^2 (q* = 0)", dps=self.dps)
        d2 = _derivative_moment(self.activation, q_star, self.dps)
        if d2.is_exact and d2.exact is sympy.oo:
            return infinite_result("chi_1", self.dps, "sigma jumps, so E[sigma'^2] is infinite")
        return combine(lambda w, d: w * d, self.sigma_w2, d2, label="chi_1",
                       method="sigma_w2 E[sigma'(sqrt(q*) z)^2]", dps=self.dps)

    @cached_property
    def chi_q(self) -> Result:
        """chi_q = V'(q*) = sigma_w2 (E[sigma'^2] + E[sigma sigma'']) at q*, the slope of the variance map
        (Schoenholz et al. 2017, eq. 4); at q* = 0 it equals chi_1."""
        q_star = self._require_q_star()
        if sign_of(q_star) == 0:
            return _relabel(self.chi_1, "chi_q")
        slope = _moment_slope(self.activation, q_star, self.dps)
        return combine(lambda w, s: w * s, self.sigma_w2, slope, label="chi_q",
                       method="sigma_w2 d/dq E[sigma(sqrt(q) z)^2] at q*", dps=self.dps)

    @cached_property
    def xi_q(self) -> Result:
        """xi_q = -1/ln(chi_q): the depth over which the variance approaches q* (Schoenholz et al. 2017)."""
        return _depth_scale(self.chi_q, "xi_q", self.dps)

    @property
    def xi_c(self) -> Result:
        """xi_c = -1/ln(chi_c), the same as :attr:`depth_scale`."""
        return self.depth_scale

    @cached_property
    def correlation_map(self) -> CorrelationMap:
        """The correlation map at q*."""
        q_star = self._require_q_star()
        if sign_of(q_star) == 0:
            raise ConvergenceError("q* = 0: the correlation map at zero variance is degenerate")
        return CorrelationMap(self.activation, self.sigma_w2, self.sigma_b2, q_star, natural=False, dps=self.dps)

    @cached_property
    def chi_c(self) -> Result:
        """chi_c = C'(rho*) at the stable fixed point rho* of the correlation map (chi_1 when rho* = 1)."""
        C = self.correlation_map
        interior = C.interior_fixed_point()
        return interior.slope if interior is not None else C.slope_at_one

    @cached_property
    def depth_scale(self) -> Result:
        """xi_c = -1/ln(chi_c): the depth over which correlations approach their fixed point.

        At the critical line chi_c = 1 and xi_c is infinite; near it xi_c ~ 1/|1 - chi_c|.
        """
        return _depth_scale(self.chi_c, "xi_c", self.dps)


def _depth_scale(chi: Result, label: str, dps: int) -> Result:
    """-1/ln(chi) for 0 < chi < 1 (infinite at chi = 1), enclosed through its monotonicity."""
    sign = sign_of(chi, 1)
    name = label.replace("xi", "chi")
    if sign == 0:
        return infinite_result(label, dps, f"{name} = 1: critical, no finite depth scale")
    if sign is None or sign > 0:
        raise ConvergenceError(f"{name} = {chi} is not below 1; {label} = -1/ln {name} is not defined")
    if chi.is_exact:
        return Result.from_exact(-1 / sympy.log(chi.exact), label=label, method=f"-1/ln {name}", dps=dps)
    with mpmath.workdps(dps + GUARD_DIGITS):
        lo, hi = chi.value - chi.error, chi.value + chi.error
        ends = [-1 / mpmath.log(t) for t in (lo, hi) if t > 0]
        if len(ends) < 2:
            raise ConvergenceError(f"{name} is too close to 0 to bound {label}")
        return Result.from_numeric((ends[0] + ends[1]) / 2, abs(ends[1] - ends[0]) / 2, label=label,
                                   method=f"-1/ln {name}, monotone enclosure", dps=dps)


@budgeted
def variance_map(act: Any, sigma_w2: Any, sigma_b2: Any, *, q0: Any = 1, dps: int | None = None) -> VarianceMap:
    """The variance map of ``act`` with weight variance ``sigma_w2`` and bias variance ``sigma_b2``.

    >>> from ncsym import zoo
    >>> V = variance_map(zoo.erf, sympy.Rational(1, 2), 0)
    >>> V.status, V.q_star.exact
    ('collapses', 0)
    """
    return VarianceMap(act, sigma_w2, sigma_b2, q0=q0, dps=dps)


#: How far below q0 the search for a positive fixed variance goes (q0 2^-100 ~ 1e-30 q0) before
#: reporting that the variance collapses to 0 (possible only when sigma(0) = 0 and sigma_b2 = 0).
_COLLAPSE_HALVINGS = 100
#: The same when the expansion of V(q) - q at q = 0 shows that q = 0 attracts; below that the
#: expansion decides. float64 still sees the sign of V(q) - q ~ -(1 - sigma_w2 c1) q at q0 2^-30
#: below the critical sigma_w2, and that of V(q) - q ~ c2 q^2 at q0 2^-14 ~ 6e-5 q0 at it (closed
#: forms such as (1 - exp(-2q))/2 for sin lose ~1e-16 absolutely to cancellation).
_ATTRACTING_HALVINGS = {"below": 30, "critical": 14}


def _zero_attracts(act: Any, sigma_w2: Any, sigma_b2: Any) -> tuple[int | None, str]:
    """The sign of V(q) - q as q -> 0+ when V(0) = 0 (sigma(0) = 0, no bias), with the reason.

    V(q) - q = (sigma_w2 c1 - 1) q + sigma_w2 c2 q^p + o(q^p) (see ``_small_q_moment``): -1 when
    q = 0 attracts (below critical, or at it with c2 < 0, as for tanh and erf), +1 when it repels,
    None when there is no such expansion or a bias. ``sigma_w2`` is a sympy number or a float
    (a float within 8 ulps of the critical value counts as critical: a float grid cannot hold an
    irrational critical sigma_w2 such as pi/4).
    """
    if isinstance(sigma_b2, Result):
        if not sigma_b2.is_exact or exact_sign(sigma_b2.exact) != 0:
            return None, ""
    elif sigma_b2 != 0:
        return None, ""
    expansion = _small_q_moment(act)
    if expansion is None:
        return None, ""
    c1, c2, power = expansion
    if isinstance(sigma_w2, Result):
        if not sigma_w2.is_exact:
            return None, ""
        lead = exact_sign(sigma_w2.exact * c1 - 1)
    else:
        value = float(sigma_w2) * float(c1) - 1
        lead = 0 if abs(value) <= 8 * np.finfo(float).eps else (1 if value > 0 else -1)
    if lead is None:
        return None, ""
    if lead != 0:
        return lead, f"V(q) - q = (sigma_w2 {c1} - 1) q + O(q^2), {'< 0' if lead < 0 else '> 0'} as q -> 0"
    second = exact_sign(c2)
    if not second:
        return None, ""
    return second, f"critical: V(q) - q = sigma_w2 ({c2}) q^{power} + o(q^{power}) as q -> 0"


def _solve_variance(vmap: VarianceMap) -> tuple[str, Result | None]:
    """Locate the fixed point of V reached from q0; exact when V - q is a polynomial of degree <= 2."""
    dps = vmap.dps
    form = vmap.closed_form
    q0 = vmap.q0
    if form is not None:
        gap = sympy.expand(form - _Q)
        if gap == 0:
            return "every q is fixed", q0
    fmoment = _float_moment(vmap.activation)
    w, b = float(vmap.sigma_w2), float(vmap.sigma_b2)
    f = lambda t: w * float(fmoment(t)) + b - t  # noqa: E731
    start = float(q0)
    f0 = f(start)
    if f0 == 0:
        lo = hi = start
    elif f0 > 0:
        lo, hi = start, start
        for _ in range(200):
            hi = hi * 2
            if hi > 1e150 or not math.isfinite(f(hi)):
                return "diverges", None
            if f(hi) <= 0:
                break
            lo = hi
        else:
            return "diverges", None
    else:
        near_zero, why = _zero_attracts(vmap.activation, vmap.sigma_w2, vmap.sigma_b2)
        halvings = _COLLAPSE_HALVINGS if near_zero != -1 else \
            _ATTRACTING_HALVINGS["critical" if why.startswith("critical") else "below"]
        lo, hi = start, start
        for _ in range(halvings + 1):
            lo = lo / 2
            if lo < start * 2.0**-halvings:
                if near_zero == 1:
                    raise ConvergenceError(f"{vmap!r}: q = 0 repels ({why}), yet no positive fixed variance "
                                           f"was found above q0 2^-{halvings}")
                method = f"V(q) < q for q = q0 2^-k, k = 0..{halvings}" + (f"; {why}" if why else "")
                return "collapses", Result.from_exact(sympy.Integer(0), label="q*", method=method, dps=dps)
            if f(lo) >= 0:
                break
            hi = lo
    guess = lo if lo == hi else _float_bisect(f, lo, hi)
    if form is not None and gap.is_polynomial(_Q) and sympy.Poly(gap, _Q).degree() <= 2:
        for root in sympy.solve(gap, _Q):
            if root.is_real and root.is_positive and abs(float(root) - guess) <= 1e-8 * max(1.0, guess):
                return "finite", Result.from_exact(tidy(root), label="q*", method="V(q) = q solved exactly", dps=dps)
    return "finite", _refine_variance(vmap, guess, dps)


def _refine_variance(vmap: VarianceMap, guess: float, dps: int) -> Result:
    """Secant iteration on V(q) - q at dps digits, then certified signs on both sides."""
    form = vmap.closed_form

    closed = sympy.lambdify(_Q, form, modules="mpmath") if form is not None else None

    def gap(t: Any) -> tuple[Any, Any]:
        if closed is not None:
            with mpmath.workdps(dps + 2 * GUARD_DIGITS):
                value = closed(mpmath.mpf(t))
                value = value.real if isinstance(value, mpmath.mpc) else value
            return value - t, (abs(value) + 1) * mpmath.mpf(10) ** (-(dps + GUARD_DIGITS))
        out = vmap.evaluate(sympy.Float(t, dps + GUARD_DIGITS), dps + 5)
        return out.value - t, out.error

    with mpmath.workdps(dps + GUARD_DIGITS):
        a, b = mpmath.mpf(guess), mpmath.mpf(guess) * (1 + mpmath.mpf(10) ** -8)
        fa, fb = gap(a)[0], gap(b)[0]
        tolerance = mpmath.mpf(10) ** (-(dps + 2)) * abs(a)
        for _ in range(100):
            if fb == fa:
                break
            c = b - fb * (b - a) / (fb - fa)
            a, fa = b, fb
            b, fb = c, gap(c)[0]
            if abs(b - a) < tolerance:
                break
        radius = max(tolerance, mpmath.mpf(10) ** (-(dps + 1)) * abs(b))
        for _ in range(40):
            (below, e_below), (above, e_above) = gap(b - radius), gap(b + radius)
            if below > e_below and above < -e_above:
                return Result.from_numeric(b, radius, label="q*", method="secant on V(q) - q, signs certified",
                                           dps=dps)
            radius *= 4
    raise ConvergenceError(f"could not certify the fixed variance of {vmap!r} to {dps} digits")


@budgeted
def phase_diagram(act: Any, sigma_w2_grid: Sequence[float], sigma_b2_grid: Sequence[float], *,
                  q0: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """q* and chi_1 on a (sigma_w2, sigma_b2) grid, float64, shape (len(w grid), len(b grid)).

    chi_1 < 1 is the ordered phase, chi_1 > 1 the chaotic one. Where the variance diverges,
    q* = inf and chi_1 = nan; where it collapses, q* = 0 and chi_1 = sigma_w2 sigma'(0)^2.

    >>> from ncsym import zoo
    >>> q, chi = phase_diagram(zoo.relu, [1.0, 2.5], [0.5])
    >>> q.tolist(), chi.tolist()
    ([[1.0], [inf]], [[0.5], [nan]])
    """
    act = activation(act)
    w = np.asarray(sigma_w2_grid, dtype=float)
    b = np.asarray(sigma_b2_grid, dtype=float)
    if w.ndim != 1 or b.ndim != 1 or np.isnan(w).any() or np.isnan(b).any() or (w <= 0).any() or (b < 0).any():
        raise DomainError("phase_diagram needs 1-D grids with sigma_w2 > 0 and sigma_b2 >= 0, no NaN")
    q0 = real_float(q0, "q0")
    if not (math.isfinite(q0) and q0 > 0):
        raise DomainError(f"q0 must be positive, got {q0!r}")
    W, B = np.meshgrid(w, b, indexing="ij")
    W, B = W.ravel(), B.ravel()
    moment = _float_moment(act)
    f = lambda t: W * moment(t) + B - t  # noqa: E731
    attracting = np.zeros(W.size, dtype=bool)
    critical = np.zeros(W.size, dtype=bool)
    expansion = _small_q_moment(act)
    if expansion is not None and (B == 0).any():
        signs = {value: _zero_attracts(act, value, 0)[0] for value in np.unique(W[B == 0])}
        attracting = (B == 0) & np.array([signs.get(value) == -1 if b0 == 0 else False for value, b0 in zip(W, B)])
        c1 = float(expansion[0])
        critical = attracting & (np.abs(W * c1 - 1) <= 8 * np.finfo(float).eps)
    floor = np.where(critical, q0 * 2.0**-_ATTRACTING_HALVINGS["critical"],
                     np.where(attracting, q0 * 2.0**-_ATTRACTING_HALVINGS["below"], q0 * 2.0**-_COLLAPSE_HALVINGS))
    q_star = _vector_fixed_point(f, W.size, q0, floor)
    chi = np.full(W.size, np.nan)
    finite = np.isfinite(q_star) & (q_star > 0)
    if finite.any():
        chi[finite] = W[finite] * _float_moment(act, derivative=True)(q_star[finite]) if not act.derivative().deltas else np.inf
    collapsed = q_star == 0
    if collapsed.any():
        chi[collapsed] = W[collapsed] * float(_derivative_at_zero(act, 15))
    # on the critical line at sigma_b2 = 0 chi_1 is exactly 1; the float grid holds sigma_w2 to an ulp
    chi[critical & collapsed] = 1.0
    shape = (w.size, b.size)
    return q_star.reshape(shape), chi.reshape(shape)


def _vector_fixed_point(f: Any, size: int, q0: float, floor: Any) -> np.ndarray:
    """Vectorized version of the bracket-and-bisect search of :func:`_solve_variance`; the downward
    search stops at ``floor`` (per point, as there) and reports q* = 0."""
    start = np.full(size, q0)
    f0 = f(start)
    lo, hi = start.copy(), start.copy()
    result = np.full(size, np.nan)
    result[f0 == 0] = q0
    up, down = f0 > 0, f0 < 0
    active = up.copy()
    for _ in range(500):
        if not active.any():
            break
        hi = np.where(active, hi * 2, hi)
        value = f(hi)
        done = active & (value <= 0)
        blown = active & ((hi > 1e150) | ~np.isfinite(value))
        lo = np.where(active & ~done, hi, lo)
        result[blown & ~done] = np.inf
        active &= ~done & ~blown
    result[active] = np.inf
    active = down.copy()
    for _ in range(_COLLAPSE_HALVINGS + 1):
        if not active.any():
            break
        lo = np.where(active, lo / 2, lo)
        value = f(lo)
        done = active & (value >= 0)
        gone = active & (lo < floor)
        hi = np.where(active & ~done, lo, hi)
        result[gone & ~done] = 0.0
        active &= ~done & ~gone
    pending = np.isnan(result)
    for _ in range(200):
        if not pending.any():
            break
        mid = 0.5 * (lo + hi)
        value = f(mid)
        positive = value > 0
        lo = np.where(pending & positive, mid, lo)
        hi = np.where(pending & ~positive, mid, hi)
        pending &= (hi - lo) > 4e-16 * np.maximum(hi, 1e-300)
    remaining = np.isnan(result)
    result[remaining] = 0.5 * (lo + hi)[remaining]
    return result

