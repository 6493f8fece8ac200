"""The edge of chaos: the weight variance at which chi_1 = 1, for any activation and bias.

At a bias variance sigma_b2 the critical point (sigma_w2, q*) solves

    chi_1 = sigma_w2 E[sigma'(sqrt(q*) z)^2] = 1,   q* = sigma_w2 E[sigma(sqrt(q*) z)^2] + sigma_b2

(Poole et al. 2016; Schoenholz et al. 2017, eqs. 3 and 5). Eliminating sigma_w2 = (q - sigma_b2)/E[sigma^2]
leaves one equation in q, g(q) = (q - sigma_b2) E[sigma'(sqrt(q) z)^2] - E[sigma(sqrt(q) z)^2] = 0 on
q > sigma_b2: its roots are found by a float scan, refined by secant steps and certified by the signs
of g (with their error bounds) on both sides. At sigma_b2 = 0 an activation with sigma(0) = 0 that is
smooth at 0 has the boundary point q* = 0, sigma_w2 = 1/sigma'(0)^2 exactly (when q = 0 attracts
there, as for tanh and erf). Activations with no critical point at a bias, or several, say so.

>>> cp = critical_point("erf", 0)
>>> cp.status, cp.sigma_w2.exact, cp.q_star.exact
('critical', pi/4, 0)
>>> round(float(critical_point("tanh", 0.05).sigma_w2), 6)
1.760955
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import mpmath
import numpy as np
import sympy

from ncsym.core.numbers import combine, exact_sign, sign_of
from ncsym.core.errors import ConvergenceError, DomainError, NcsymError
from ncsym.core.results import GUARD_DIGITS, Result, working_dps
from ncsym.core.timebound import budgeted
from ncsym.depth.expectations import _at_variance, _closed_moment, _float_moment, _gaussian, _small_q_moment
from ncsym.depth.inputs import _Q, _exact_parameter, _show
from ncsym.symbolic.activations import Activation, activation

__all__ = ["CriticalPoint", "CriticalLine", "critical_point", "critical_line", "critical_conditions_latex"]

#: The float scan of g(q) covers q - sigma_b2 in max(sigma_b2, 1) [1e-6, 1e3], this many points
#: (beyond, the float moments of narrow derivatives such as tanh' at q ~ 1e5 are not trustworthy).
_SCAN_RANGE = (1e-6, 1e3)
_SCAN_POINTS = 181


class _NoSignChange(ConvergenceError):
    """A float bracket of the scan that the high-precision g does not confirm."""


@dataclass(frozen=True)
class CriticalPoint:
    """The critical point(s) of one activation at one bias variance.

    ``status`` is "critical" (one point: ``sigma_w2`` and ``q_star``), "several" (``points`` holds
    them all, ``sigma_w2``/``q_star`` the first) or "none" (``reason`` says why; ``sigma_w2`` and
    ``q_star`` are None). ``q_star`` is None also where every variance is fixed (ReLU, no bias).
    """

    activation: str
    sigma_b2: Result
    status: str
    sigma_w2: Result | None
    q_star: Result | None
    reason: str
    points: tuple = ()

    @property
    def exists(self) -> bool:
        """True when at least one critical point was found."""
        return self.status != "none"

    def latex(self) -> str:
        """The two conditions solved, and the solution when there is one."""
        text = critical_conditions_latex()
        if self.sigma_w2 is not None:
            text += rf", \quad \sigma_w^2 = {self.sigma_w2.latex()}"
            if self.q_star is not None:
                text += rf", \; q^* = {self.q_star.latex()}"
        return text

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


@dataclass(frozen=True)
class CriticalLine:
    """Critical points along a list of bias variances; ``sigma_w2`` and ``q_star`` as float arrays
    (NaN where there is none, the first where there are several)."""

    activation: str
    points: tuple

    @property
    def sigma_b2(self) -> np.ndarray:
        return np.array([float(p.sigma_b2) for p in self.points])

    @property
    def sigma_w2(self) -> np.ndarray:
        return np.array([float(p.sigma_w2) if p.sigma_w2 is not None else np.nan for p in self.points])

    @property
    def q_star(self) -> np.ndarray:
        return np.array([float(p.q_star) if p.q_star is not None else np.nan for p in self.points])


def critical_conditions_latex() -> str:
    r"""LaTeX of the critical-point conditions.

    >>> critical_conditions_latex().startswith(r"\chi_1 = \sigma_w^2")
    True
    """
    return (r"\chi_1 = \sigma_w^2\,\mathbb{E}_{z}\!\left[\sigma'\!\left(\sqrt{q^*}\,z\right)^2\right] = 1, \quad "
            r"q^* = \sigma_w^2\,\mathbb{E}_{z}\!\left[\sigma\!\left(\sqrt{q^*}\,z\right)^2\right] + \sigma_b^2")


@budgeted
def critical_point(act: Any, sigma_b2: Any, *, dps: int | None = None) -> CriticalPoint:
    """The weight variance sigma_w2 with chi_1 = 1 at bias variance ``sigma_b2``, with its q*.

    >>> cp = critical_point("relu", 1)
    >>> cp.status, cp.reason
    ('none', 'chi_1 = (q* - sigma_b2)/q* < 1 at every fixed variance: relu is never critical with a bias')
    >>> critical_point("tanh", 0).sigma_w2.exact
    1
    """
    act = activation(act)
    bias = _exact_parameter(sigma_b2, "sigma_b2", positive=False)
    dps = working_dps(dps)
    name = act.name
    if act.derivative().deltas:
        return _none(name, bias, f"{name} jumps: sigma' has a Dirac delta, so chi_1 is infinite (always chaotic)")
    special = _special_cases(act, bias, dps)
    if special is not None:
        return special
    points = []
    if sign_of(bias) == 0:
        boundary = _boundary_point(act, dps)
        if boundary is not None:
            points.append(boundary)
    for lo, hi in _scan(act, float(bias)):
        try:
            points.append(_refine(act, bias, lo, hi, dps))
        except _NoSignChange:
            continue  # a float artefact of the scan: the high-precision g has one sign there
    if not points:
        return _none(name, bias, f"g(q) = (q - sigma_b2) E[sigma'^2] - E[sigma^2] keeps one sign on the scanned "
                                 f"q - sigma_b2 in [1e-6, 1e3] max(sigma_b2, 1): no critical point of {name}")
    first = points[0]
    status = "critical" if len(points) == 1 else "several"
    reason = first[2] if len(points) == 1 else f"{len(points)} roots of g(q) = (q - sigma_b2) E[sigma'^2] - E[sigma^2]"
    return CriticalPoint(name, bias, status, first[0], first[1], reason, tuple((p[0], p[1]) for p in points))


@budgeted
def critical_line(act: Any, sigma_b2_values: Sequence[Any], *, dps: int | None = None) -> CriticalLine:
    """:func:`critical_point` at each bias variance.

    >>> line = critical_line("erf", [0, 0.05])
    >>> line.sigma_w2.round(6).tolist()
    [0.785398, 1.375839]
    """
    act = activation(act)
    values = list(sigma_b2_values)
    if not values:
        raise DomainError("critical_line needs at least one sigma_b2 value")
    return CriticalLine(act.name, tuple(critical_point(act, b, dps=dps) for b in values))


def _none(name: str, bias: Result, reason: str) -> CriticalPoint:
    return CriticalPoint(name, bias, "none", None, None, reason)


def _special_cases(act: Activation, bias: Result, dps: int) -> CriticalPoint | None:
    """Activations whose E[sigma^2] is linear in q (positively homogeneous of degree 1, like ReLU)."""
    form = _closed_moment(act, derivative=False)
    if form is None or not form.is_polynomial(_Q) or sympy.Poly(form, _Q).degree() != 1:
        return None
    slope, offset = sympy.Poly(form, _Q).all_coeffs()
    derivative = _closed_moment(act, derivative=True)
    if offset != 0 or derivative is None or derivative.free_symbols:
        return None
    # E[sigma^2] = slope q and E[sigma'^2] = derivative (constant): chi_1 = sigma_w2 derivative, and
    # q* = sigma_b2/(1 - sigma_w2 slope) needs sigma_w2 slope < 1.
    name = act.name
    critical = 1 / derivative
    if exact_sign(slope - derivative) == 0:
        if sign_of(bias) == 0:
            w = Result.from_exact(critical, label="sigma_w2", method="chi_1 = sigma_w2 E[sigma'^2] = 1", dps=dps)
            return CriticalPoint(name, bias, "critical", w, None,
                                 f"V(q) = q at sigma_w2 = {critical}: every variance is fixed")
        return _none(name, bias, f"chi_1 = (q* - sigma_b2)/q* < 1 at every fixed variance: {name} is never "
                                 "critical with a bias")
    return None


def _boundary_point(act: Activation, dps: int) -> tuple[Result, Result, str] | None:
    """q* = 0, sigma_w2 = 1/sigma'(0)^2 when sigma(0) = 0, sigma is smooth at 0 and q = 0 attracts there."""
    expansion = _small_q_moment(act)
    if expansion is None or exact_sign(expansion[0]) != 1:
        return None
    c1, c2, power = expansion
    if exact_sign(c2) != -1:
        return None
    w = Result.from_exact(1 / c1, label="sigma_w2", method="1/lim E[sigma'^2] (q* = 0)", dps=dps)
    q = Result.from_exact(sympy.Integer(0), label="q*", method=f"V(q) - q = -c q^{power} + o(q^{power}) at chi_1 = 1",
                          dps=dps)
    return w, q, (f"boundary: q* = 0, sigma_w2 = 1/lim E[sigma'^2] = {1 / c1}; "
                  f"V(q) - q = {sympy.simplify(c2 / c1)} q^{power} + o(q^{power})")


def _scan(act: Activation, b: float) -> list[tuple[float, float]]:
    """Float brackets [lo, hi] of q where g(q) = (q - b) E[sigma'^2] - E[sigma^2] changes sign."""
    g = _float_gap(act, b, _scan_grid(b))
    q = _scan_grid(b)
    brackets = []
    for i in range(len(q) - 1):
        if np.isfinite(g[i]) and np.isfinite(g[i + 1]) and g[i] * g[i + 1] < 0:
            brackets.append((float(q[i]), float(q[i + 1])))
    return brackets


def _scan_grid(b: float) -> np.ndarray:
    return b + max(b, 1.0) * np.geomspace(_SCAN_RANGE[0], _SCAN_RANGE[1], _SCAN_POINTS)


def _float_gap(act: Activation, b: float, q: np.ndarray) -> np.ndarray:
    """g(q) in float64 (the depth maps' float moments); NaN where they fail (extreme q)."""
    d, m = _float_moment(act, derivative=True), _float_moment(act)
    with np.errstate(all="ignore"):
        try:
            return (q - b) * d(q) - m(q)
        except NcsymError:
            out = np.full(q.shape, np.nan)
            for i, t in enumerate(q):
                try:
                    out[i] = (t - b) * float(d(np.array([t]))[0]) - float(m(np.array([t]))[0])
                except NcsymError:
                    pass
            return out


def _float_critical_points(act: Activation, b: float) -> list[tuple[float, float]]:
    """(sigma_w2, q*) of every critical point at bias b in float64 (for grids and plots)."""
    points = []
    if b == 0:
        boundary = _boundary_point(act, 15)
        if boundary is not None:
            points.append((float(boundary[0]), 0.0))
    gap = lambda t: float(_float_gap(act, b, np.array([t]))[0])  # noqa: E731
    for lo, hi in _scan(act, b):
        sign_lo = gap(lo) > 0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if (gap(mid) > 0) == sign_lo:
                lo = mid
            else:
                hi = mid
        q = 0.5 * (lo + hi)
        m = _float_second_moment(act, q)
        points.append(((q - b) / m, q))
    return points


def _float_second_moment(act: Activation, q: float) -> float:
    return float(_float_moment(act)(np.array([q]))[0])


def _refine(act: Activation, bias: Result, lo: float, hi: float, dps: int) -> tuple[Result, Result, str]:
    """The root of g in [lo, hi] to ``dps`` digits, its sign certified on both sides, and sigma_w2 there."""
    work = dps + GUARD_DIGITS
    derivative = act.derivative()

    def g(t: Any) -> Result:
        qa = sympy.Float(t, work)
        d = _gaussian(derivative, qa, dps + 5, power=2)
        m = _gaussian(act, qa, dps + 5, power=2)
        point = Result.from_exact(qa, label="q", method="point", dps=dps + 5)
        return combine(lambda q, b, d, m: (q - b) * d - m, point, bias, d, m, label="g(q)", method="g", dps=dps + 5)

    with mpmath.workdps(work):
        a, b_ = mpmath.mpf(lo), mpmath.mpf(hi)
        fa, fb = g(a).value, g(b_).value
        if fa * fb > 0:
            raise _NoSignChange(f"the float bracket [{lo}, {hi}] of the critical q* of {act.name} has no sign change")
        # Illinois-style regula falsi: keeps the bracket, converges superlinearly.
        tolerance = mpmath.mpf(10) ** (-(dps + 2)) * abs(b_)
        for _ in range(200):
            c = b_ - fb * (b_ - a) / (fb - fa)
            fc = g(c).value
            if fc * fb < 0:
                a, fa = b_, fb
            else:
                fa = fa / 2
            b_, fb = c, fc
            if abs(b_ - a) < tolerance or fc == 0:
                break
        root = b_
        radius = max(tolerance, mpmath.mpf(10) ** (-(dps + 1)) * abs(root))
        for _ in range(40):
            below, above = g(root - radius), g(root + radius)
            if (below.value - below.error > 0 > above.value + above.error) or \
                    (below.value + below.error < 0 < above.value - above.error):
                break
            radius *= 4
        else:
            raise ConvergenceError(f"could not certify the critical q* of {act.name} to {dps} digits")
    q_star = Result.from_numeric(root, radius, label="q*",
                                 method="regula falsi on (q - sigma_b2) E[sigma'^2] - E[sigma^2], signs certified",
                                 dps=dps)

    def weight(qa: Any) -> Result:
        m = _gaussian(act, qa, dps, power=2)
        point = Result.from_exact(qa, label="q", method="point", dps=dps)
        return combine(lambda q, b, m: (q - b) / m, point, bias, m, label="sigma_w2",
                       method="(q* - sigma_b2)/E[sigma(sqrt(q*) z)^2]", dps=dps)
    w = _at_variance(weight, q_star, dps, "sigma_w2")
    return w, q_star, f"chi_1 = 1 at q* = {_show(q_star)}"
