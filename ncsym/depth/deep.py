"""Correlations through hundreds of layers, in variables that do not cancel, and how they approach
their fixed point.

Near the ordered fixed point rho* = 1 the iterates are tracked as e_l = 1 - rho_l, with

    e_{l+1} = 1 - C(1 - e_l) = integral_0^1 C'(1 - e_l u^2) 2 e_l u du,

an integral of the positive slope C' (Gauss-Legendre in float64; with ``dps``, rho_l is iterated in
mpmath at the precision 1 - rho_l needs, an independent route): no difference of nearly equal numbers, so e_l keeps its relative precision down to 1e-300 where
rho_l itself would have rounded to 1 after ~40 layers. Towards an interior fixed point (the
chaotic phase) rho_l is iterated directly: near rho* = 0 (odd sigma, no bias) C(rho) = c_1 rho + ...
keeps relative precision too.

The approach (Schoenholz et al. 2017, Sec. 3): exponential, |rho_l - rho*| ~ A chi_c^l, away
from criticality; at chi_1 = 1 a power law: 1 - rho_l ~ c/l^2 when C(1 - e) = 1 - e + kappa e^(3/2)
(ReLU: c = 9 pi^2/2), ~ c/l when C(1 - e) = 1 - e + a e^2 (smooth activations: c = 1/a).

>>> deep = deep_correlation("relu", 0.5, 200)
>>> deep.approach.kind, deep.approach.exponent, deep.approach.constant.exact
('power law', 2, 9*pi**2/2)
>>> round(float(deep.gap[-1] * 200**2), 1)  # -> 9 pi^2/2 = 44.41 slowly (log corrections)
38.6
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy

from ncsym.core.errors import DomainError, NoClosedFormError, check_integer
from ncsym.core.numbers import sign_of
from ncsym.core.results import GUARD_DIGITS, Result, working_dps
from ncsym.core.timebound import budgeted
from ncsym.depth.correlation import CorrelationMap, correlation_map
from ncsym.depth.inputs import RHO, _exact_rho

__all__ = ["Approach", "DeepCorrelation", "deep_correlation"]

#: Gauss-Legendre nodes on [0, 1] for the gap integral (C'(1 - e u^2) is smooth in u).
_GL_U, _GL_W = (lambda x, w: ((x + 1) / 2, w / 2))(*np.polynomial.legendre.leggauss(24))


@dataclass(frozen=True)
class Approach:
    """How |rho_l - rho*| goes to 0: ``kind`` "exponential" (rate ``rate`` = chi_c per layer, depth
    scale ``depth_scale`` = -1/ln chi_c) or "power law" (~ ``constant`` / l^``exponent``), or "none"
    (the map is the identity)."""

    kind: str
    rate: Result | None = None
    depth_scale: Result | None = None
    exponent: int | None = None
    constant: Result | None = None
    formula: str = ""


@dataclass(frozen=True)
class DeepCorrelation:
    """rho_0..rho_depth (``rho``), the distance to the attractor computed without cancellation
    (``gap``: 1 - rho_l when the attractor is 1, else rho_l - rho*), and the ``approach``.
    Float64 arrays, or tuples of mpmath numbers with ``dps``."""

    rho: Any
    gap: Any
    attractor: Result
    approach: Approach
    dps: int | None = None


@budgeted
def deep_correlation(act_or_map: Any, rho0: Any, depth: int, *, sigma_w2: Any = None, sigma_b2: Any = 0,
                     dps: int | None = None) -> DeepCorrelation:
    """Iterate the correlation map ``depth`` times from ``rho0`` (natural hyperparameters unless
    ``sigma_w2`` is given; a :class:`CorrelationMap` is used as it is)."""
    C = act_or_map if isinstance(act_or_map, CorrelationMap) else \
        correlation_map(act_or_map, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    depth = check_integer(depth, "depth", 0, 100_000)
    start = _exact_rho(rho0)
    if C.is_identity:
        raise DomainError("C is the identity: correlations stay where they are")
    if abs(start) == 1:
        raise DomainError("rho0 = +-1 is a fixed point; start inside (-1, 1)")
    attractor = C.attractor
    approach = _approach(C, attractor)
    to_one = attractor.is_exact and attractor.exact == 1
    if dps is None:
        return _float_path(C, float(start), depth, to_one, attractor, approach)
    return _mp_path(C, start, depth, to_one, attractor, approach, working_dps(dps))


def _float_path(C: CorrelationMap, start: float, depth: int, to_one: bool, attractor: Result,
                approach: Approach) -> DeepCorrelation:
    rho = np.empty(depth + 1)
    gap = np.empty(depth + 1)
    rho[0] = start
    if to_one:
        # |C(rho)| <= C(|rho|): from a negative start one step lands in [0, 1] (or at |rho_1| <= C(|rho_0|))
        e = 1.0 - start
        gap[0] = e
        for layer in range(1, depth + 1):
            if layer == 1 and start < 0:
                e = 1.0 - float(C(start))
            else:
                t = 1.0 - e * _GL_U**2
                e = float(np.dot(_GL_W, np.asarray(C.slope(t), dtype=float) * 2 * e * _GL_U))
            gap[layer] = e
            rho[layer] = 1.0 - e
    else:
        target = float(attractor)
        gap[0] = start - target
        for layer in range(1, depth + 1):
            rho[layer] = float(C(rho[layer - 1]))
            gap[layer] = rho[layer] - target
    if not (np.isfinite(rho).all() and np.isfinite(gap).all()):
        raise DomainError("non-finite correlations: the float kernel of this map failed")
    return DeepCorrelation(rho, gap, attractor, approach)


def _mp_path(C: CorrelationMap, start: sympy.Expr, depth: int, to_one: bool, attractor: Result,
             approach: Approach, dps: int) -> DeepCorrelation:
    """rho_l in mpmath through the map's closed form, 1 - rho_l kept to ``dps`` digits by working at
    dps + GUARD_DIGITS + (the digits 1 - rho_l has lost to the leading 1s): a route independent of
    the gap integral of the float path."""
    form = C.closed_form
    if form is None:
        raise NoClosedFormError(f"the mpmath path of deep_correlation needs a closed form; {C.activation.name} has "
                                "none here (use the float64 path)")
    value, _ = C._mp_closed_forms
    with mpmath.workdps(dps + GUARD_DIGITS):
        rho, gap = [mpmath.mpf(sympy.Float(start, dps + GUARD_DIGITS))], []
        if to_one:
            current = rho[0]
            gap.append(1 - current)
            for layer in range(1, depth + 1):
                lost = 0 if gap[-1] == 0 else max(0, int(-mpmath.log10(gap[-1])) + 2)
                with mpmath.workdps(dps + GUARD_DIGITS + lost):
                    current = _real(value(current))
                    gap.append(+(1 - current))
                rho.append(+current)
        else:
            target = attractor.value
            gap.append(rho[0] - target)
            for _ in range(depth):
                rho.append(_real(value(rho[-1])))
                gap.append(rho[-1] - target)
    return DeepCorrelation(tuple(rho), tuple(gap), attractor, approach, dps)


def _real(value: Any) -> Any:
    return value.real if isinstance(value, mpmath.mpc) else value


def _approach(C: CorrelationMap, attractor: Result) -> Approach:
    """The asymptotic law of |rho_l - rho*|."""
    interior = None if attractor.is_exact and attractor.exact == 1 else C.interior_fixed_point()
    rate = interior.slope if interior is not None else C.slope_at_one
    if sign_of(rate, 1) != 0:
        from ncsym.depth.variance import _depth_scale

        scale = _depth_scale(rate, "xi_c", C.dps)
        return Approach("exponential", rate=rate, depth_scale=scale,
                        formula=r"|\rho_l - \rho^*| \sim A\,\chi_c^{\,l} = A\,e^{-l/\xi_c}")
    from ncsym.depth.independence_theorem import _inverse_square_constant

    constant = _inverse_square_constant(C, C.dps)
    if constant is not None:
        return Approach("power law", exponent=2, constant=constant, formula=r"1 - \rho_l \sim c / l^2")
    return Approach("power law", exponent=1, constant=_inverse_constant(C),
                    formula=r"1 - \rho_l \sim c / l, \; c = 2 / C''(1)")


def _inverse_constant(C: CorrelationMap) -> Result | None:
    """c = 2/C''(1) in 1 - rho_l ~ c/l at chi_1 = 1 with C smooth at 1 (closed forms only)."""
    form = C.closed_form
    if form is None:
        return None
    second = sympy.simplify(sympy.diff(form, RHO, 2).subs(RHO, 1))
    if not second.is_number or second.is_positive is not True or not second.is_finite:
        return None
    return Result.from_exact(2 / second, label="c", method="2/C''(1)", dps=C.dps)
