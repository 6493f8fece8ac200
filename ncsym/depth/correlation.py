"""The correlation map C(rho), its fixed points and their stability.

A wide fully connected network with weight variance ``sigma_w2 / fan_in`` and bias variance
``sigma_b2`` propagates the variance of its preactivations by the *variance map*
``V(q) = sigma_w2 E[sigma(sqrt(q) z)^2] + sigma_b2`` and the correlation of two inputs by the
*correlation map*

    C(rho) = (sigma_w2 k_q(rho) + sigma_b2) / V(q),   k_q(rho) = E[sigma(sqrt(q) u) sigma(sqrt(q) v)],

with (u, v) standard Gaussians of correlation rho. With the natural hyperparameters (no bias,
``sigma_w2 = 1 / E[sigma^2]``, q = 1) this is ``C(rho) = k(rho) / k(1)``. C is a power series
with non-negative coefficients, C(1) = 1, so on [0, 1] it is increasing and convex; its fixed
points on [-1, 1] are therefore fully classified (see :meth:`CorrelationMap.fixed_points`):
1 always; one more in [0, 1) exactly when C'(1) > 1; -1 exactly when sigma is odd and there
is no bias; no others unless C is the identity.

>>> from ncsym import zoo
>>> C = correlation_map(zoo.relu)
>>> C.closed_form
(rho*asin(rho) + pi*rho/2 + sqrt(1 - rho**2))/pi
>>> round(C(0.0), 12), C.value_at_zero.exact
(0.318309886184, 1/pi)
>>> [fp.value.exact for fp in C.fixed_points()]
[1]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy

from ncsym.core.numbers import combine, infinite_result, sign_of, tidy
from ncsym.core.errors import ConvergenceError, DomainError, NoClosedFormError, check_integer
from ncsym.core.results import GUARD_DIGITS, Result, working_dps
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.core.timebound import budgeted
from ncsym.depth.expectations import (
    _Q_STEP, _derivative_moment, _dual_kernel, _first_hermite, _is_odd, _is_zero_function, _kernel_closed_form,
    _kernel_q_slope, _moment,
)
from ncsym.depth.inputs import RHO, _exact_parameter, _exact_rho, _float_bisect, _mpf_of, _numeric_rho, _relabel, _show
from ncsym.kernels.dual import check_rho_array
from ncsym.symbolic.activations import Activation, activation

__all__ = ["CorrelationMap", "FixedPoint", "correlation_map"]

@dataclass(frozen=True)
class FixedPoint:
    """A fixed point rho* = C(rho*) with the slope C'(rho*) and its stability.

    ``stability`` is "stable" (|C'| < 1), "unstable" (|C'| > 1), "marginal" (|C'| = 1),
    "neutral" (C is the identity) or "undecided" (the slope cannot be separated from 1).
    """

    value: Result
    slope: Result
    stability: str

    def __float__(self) -> float:
        return float(self.value)


def _stability(slope: Result) -> str:
    if slope.is_exact and slope.exact is sympy.oo:
        return "unstable"
    magnitude = Result(abs(slope.exact) if slope.is_exact else None, abs(slope.value), slope.error,
                       slope.method, slope.label, slope.dps, {})
    sign = sign_of(magnitude, 1)
    return {None: "undecided", -1: "stable", 0: "marginal", 1: "unstable"}[sign]


class CorrelationMap:
    """C(rho) = (sigma_w2 k_q(rho) + sigma_b2) / V(q) for one activation and hyperparameters.

    Build it with :func:`correlation_map`. Call it on a float or array (float64), an mpmath
    number (mpf at the current precision) or a sympy expression (the exact closed form);
    :meth:`evaluate` gives a :class:`Result` with an error bound.

    >>> from ncsym import zoo
    >>> C = correlation_map(zoo.erf)
    >>> C(RHO)
    asin(2*rho/3)/asin(2/3)
    >>> sympy.simplify(C.slope_at_one.exact - 2 / (sympy.sqrt(5) * sympy.asin(sympy.Rational(2, 3))))
    0
    """

    def __init__(self, act: Activation, sigma_w2: Result, sigma_b2: Result, q: Result, *,
                 natural: bool, dps: int | None = None, second_moment: Result | None = None):
        self.activation = act
        self.sigma_w2 = sigma_w2
        self.sigma_b2 = sigma_b2
        self.q = q
        self.natural = natural
        self.dps = working_dps(dps)
        self._second_moment = second_moment

    def __repr__(self) -> str:
        if self.natural:
            return f"CorrelationMap({self.activation.name}, natural hyperparameters)"
        return (f"CorrelationMap({self.activation.name}, sigma_w2={_show(self.sigma_w2)}, "
                f"sigma_b2={_show(self.sigma_b2)}, q={_show(self.q)})")

    # -- ingredients -----------------------------------------------------------------------
    @cached_property
    def second_moment(self) -> Result:
        """E[sigma(sqrt(q) z)^2] = k_q(1)."""
        if self._second_moment is not None:
            return self._second_moment
        return _moment(self.activation, self.q, self.dps, label="E[sigma^2]")

    @cached_property
    def mean(self) -> Result:
        """E[sigma(sqrt(q) z)] (exactly 0 for an odd sigma, by symmetry)."""
        if self.is_odd:
            return Result.from_exact(sympy.Integer(0), label="E[sigma]", method="odd symmetry", dps=self.dps)
        return _moment(self.activation, self.q, self.dps, power=1, label="E[sigma]")

    @cached_property
    def is_odd(self) -> bool | None:
        """Whether sigma(-x) = -sigma(x): True/False when proved, None when undecided."""
        return _is_odd(self.activation)

    @cached_property
    def output_variance(self) -> Result:
        """V(q) = sigma_w2 E[sigma(sqrt(q) z)^2] + sigma_b2 (exactly 1 with natural hyperparameters)."""
        if self.natural:
            return Result.from_exact(sympy.Integer(1), label="V(q)", method="natural hyperparameters",
                                     dps=self.dps)
        return combine(lambda w, m, b: w * m + b, self.sigma_w2, self.second_moment, self.sigma_b2,
                       label="V(q)", method="variance map", dps=self.dps)

    @cached_property
    def kernel(self) -> Any:
        """The dual kernel k_q of the activation at variance q (a ncsym.kernels.DualKernel)."""
        return _dual_kernel(self.activation, self.q, self.dps)

    @cached_property
    def derivative_kernel(self) -> Any:
        """The dual kernel of sigma' at variance q: E[sigma'(sqrt(q) u) sigma'(sqrt(q) v)]."""
        return self.kernel.derivative()

    @cached_property
    def _float_coefficients(self) -> tuple[float, float, float]:
        """(a, b, s): C(rho) = a k(rho) + b and C'(rho) = s k'(rho), in float64."""
        if self.natural:
            m2 = float(self.second_moment)
            return 1.0 / m2, 0.0, 1.0 / m2
        w, b, v, q = (float(r) for r in (self.sigma_w2, self.sigma_b2, self.output_variance, self.q))
        return w / v, b / v, w * q / v

    @cached_property
    def is_affine(self) -> bool:
        """True when sigma is affine (sigma'' = 0), so C is an affine function of rho."""
        second = self.activation.derivative(2)
        return not second.deltas and all(_is_zero_function(p.expr) for p in second.pieces)

    @cached_property
    def is_identity(self) -> bool:
        """True when C(rho) = rho for every rho (a linear activation through 0, no bias)."""
        return self.is_affine and sign_of(self.value_at_zero) == 0

    # -- evaluation ------------------------------------------------------------------------
    @cached_property
    def closed_form(self) -> sympy.Expr | None:
        """C as an exact sympy expression in :data:`RHO`, or None when no closed form is known."""
        if not all(r.is_exact for r in (self.sigma_w2, self.sigma_b2, self.q, self.output_variance)):
            return None
        kernel_form = _kernel_closed_form(self.kernel)
        if kernel_form is None:
            return None
        if self.natural:
            expr = kernel_form / self.second_moment.exact if self.second_moment.is_exact else None
            if expr is None:
                return None
        else:
            expr = (self.sigma_w2.exact * kernel_form + self.sigma_b2.exact) / self.output_variance.exact
        return tidy(expr)

    def __call__(self, rho: Any) -> Any:
        """C(rho): sympy in gives the exact expression, mpf in gives mpf, else float64."""
        if isinstance(rho, sympy.Basic):
            if rho.free_symbols:
                form = self.closed_form
                if form is None:
                    raise NoClosedFormError(f"no closed form is known for the correlation map of {self.activation.name}")
                return form.subs(RHO, rho)
            return self.evaluate(rho).exact if self.closed_form is not None else self.evaluate(rho).value
        if isinstance(rho, mpmath.mpf):
            return self.evaluate(rho, dps=mpmath.mp.dps).value
        values = check_rho_array(rho)
        a, b, _ = self._float_coefficients
        out = a * np.asarray(self.kernel(values), dtype=float) + b
        return float(out) if np.ndim(out) == 0 else out

    def evaluate(self, rho: Any, dps: int | None = None) -> Result:
        """C(rho) as a Result: exact when rho, the hyperparameters and the kernel are exact.

        >>> from ncsym import zoo
        >>> correlation_map(zoo.relu).evaluate(0).exact
        1/pi
        """
        dps = working_dps(dps or self.dps)
        value = _exact_rho(rho)
        form = self.closed_form
        if form is not None and not isinstance(value, sympy.Float):
            return Result.from_exact(form.subs(RHO, value), label="C(rho)", method="closed form", dps=dps)
        if form is not None:
            return self._closed_numeric(0, value, dps, "C(rho)")
        kernel_value = _relabel(self.kernel.evaluate(_numeric_rho(value, dps), dps=dps + 2), "k(rho)")
        return self._from_kernel(self._with_q_bound(kernel_value, 0, value, dps), dps, "C(rho)")

    @cached_property
    def _q_slopes(self) -> tuple[Any, Any]:
        """Bounds on |d k_q(rho)/dq| and |d k'_q(rho)/dq| uniform in rho (None where none is known)."""
        return (_kernel_q_slope(self.activation, self.q, self.dps),
                _kernel_q_slope(self.activation.derivative(), self.q, self.dps))

    @cached_property
    def _shifted_kernels(self) -> tuple[Any, ...]:
        """The dual kernels at q (1 -+ 1e-6), for a difference estimate of d k_q/dq."""
        with mpmath.workdps(self.dps + GUARD_DIGITS):
            h = max(self.q.value * _Q_STEP, 10 * self.q.error)
            return tuple(_dual_kernel(self.activation, Result.from_numeric(t, 0, method="q shifted", dps=self.dps),
                                      self.dps) for t in (self.q.value - h, self.q.value + h)) + (h,)

    def _with_q_bound(self, kernel_value: Result, which: int, rho: Any, dps: int) -> Result:
        """k_q(rho) (which = 0) or k'_q(rho) (1) at a numeric q: the bound widened by |dk/dq| q.error."""
        if self.q.is_exact:
            return kernel_value
        slope = self._q_slopes[which]
        if slope is None:
            *kernels, h = self._shifted_kernels
            slope = mpmath.mpf(0)
            for kernel in kernels:
                kernel = kernel.derivative() if which else kernel
                shifted = kernel.evaluate(_numeric_rho(rho, dps), dps=dps + 2)
                with mpmath.workdps(dps + GUARD_DIGITS):
                    slope = max(slope, (abs(shifted.value - kernel_value.value) + shifted.error
                                        + kernel_value.error) / h)
        with mpmath.workdps(dps + GUARD_DIGITS):
            error = kernel_value.error + 2 * slope * self.q.error
        return Result.from_numeric(kernel_value.value, error, label=kernel_value.label,
                                   method=f"{kernel_value.method}; q's bound propagated", dps=dps)

    @cached_property
    def _mp_closed_forms(self) -> tuple[Any, Any]:
        form = self.closed_form
        return (sympy.lambdify(RHO, form, modules="mpmath"),
                sympy.lambdify(RHO, sympy.diff(form, RHO), modules="mpmath"))

    def _closed_numeric(self, which: int, value: sympy.Expr, dps: int, label: str) -> Result:
        """C (which = 0) or C' (which = 1) from the closed form at a numeric rho, in mpmath.

        Near rho = +-1 the closed forms cancel (sqrt(1 - rho^2), arccos): the working precision
        grows with -log10(1 - |rho|) to absorb it; the bound is that of the kernels' closed forms.
        """
        function = self._mp_closed_forms[which]
        with mpmath.workdps(dps + GUARD_DIGITS):
            point = _mpf_of(value)
            gap = 1 - abs(point)
        extra = 0 if gap == 0 else min(4 * dps, max(0, int(2 * -mpmath.log10(gap)) + 1))
        with mpmath.workdps(dps + 2 * GUARD_DIGITS + extra):
            result = function(_mpf_of(value))
            if isinstance(result, mpmath.mpc):
                result = result.real
        if not mpmath.isfinite(result):
            raise ConvergenceError(f"{label} of {self.activation.name} is not finite at rho = {value}")
        with mpmath.workdps(dps + GUARD_DIGITS):
            error = (abs(result) + mpmath.mpf(10) ** -dps) * mpmath.mpf(10) ** (-(dps + GUARD_DIGITS // 2))
        return Result.from_numeric(result, error, label=label, method="closed form, mpmath", dps=dps)

    def _from_kernel(self, kernel_value: Result, dps: int, label: str) -> Result:
        if self.natural:
            return combine(lambda k, m: k / m, kernel_value, self.second_moment, label=label,
                           method=f"k(rho)/k(1); {kernel_value.method}", dps=dps)
        return combine(lambda k, w, b, v: (w * k + b) / v, kernel_value, self.sigma_w2, self.sigma_b2,
                       self.output_variance, label=label, method=f"correlation map; {kernel_value.method}", dps=dps)

    def slope(self, rho: Any) -> Any:
        """C'(rho) through the derivative kernel (float, array, mpf or sympy, like calling C)."""
        if isinstance(rho, sympy.Basic):
            if rho.free_symbols:
                form = self.closed_form
                if form is None:
                    raise NoClosedFormError(f"no closed form is known for the correlation map of {self.activation.name}")
                return tidy(sympy.diff(form, RHO)).subs(RHO, rho)
            return self.slope_evaluate(rho).exact if self.closed_form is not None else self.slope_evaluate(rho).value
        if isinstance(rho, mpmath.mpf):
            return self.slope_evaluate(rho, dps=mpmath.mp.dps).value
        values = check_rho_array(rho)
        _, _, s = self._float_coefficients
        out = s * np.asarray(self.derivative_kernel(values), dtype=float)
        return float(out) if np.ndim(out) == 0 else out

    def slope_evaluate(self, rho: Any, dps: int | None = None) -> Result:
        """C'(rho) as a Result (exact where the map has a closed form).

        >>> from ncsym import zoo
        >>> correlation_map(zoo.relu).slope_evaluate(0).exact
        1/2
        """
        dps = working_dps(dps or self.dps)
        value = _exact_rho(rho)
        form = self.closed_form
        if form is not None and not isinstance(value, sympy.Float):
            derivative = sympy.diff(form, RHO)
            exact = tidy(derivative.subs(RHO, value))
            if exact.has(sympy.nan, sympy.zoo) or exact.is_finite is False:
                exact = sympy.limit(derivative, RHO, value, "-" if value > 0 else "+")
            if exact is sympy.oo:
                return infinite_result("C'(rho)", dps, "closed form")
            return Result.from_exact(exact, label="C'(rho)", method="closed form", dps=dps)
        if form is not None and abs(value) < 1:
            return self._closed_numeric(1, value, dps, "C'(rho)")
        kernel_value = _relabel(self.derivative_kernel.evaluate(_numeric_rho(value, dps), dps=dps + 2), "k'(rho)")
        kernel_value = self._with_q_bound(kernel_value, 1, value, dps)
        if self.natural:
            return combine(lambda k, m: k / m, kernel_value, self.second_moment, label="C'(rho)",
                           method=f"derivative kernel; {kernel_value.method}", dps=dps)
        return combine(lambda k, w, q, v: w * q * k / v, kernel_value, self.sigma_w2, self.q,
                       self.output_variance, label="C'(rho)", method=f"derivative kernel; {kernel_value.method}",
                       dps=dps)

    # -- the three numbers that decide the dynamics ----------------------------------------
    @cached_property
    def value_at_zero(self) -> Result:
        """C(0) = (sigma_w2 E[sigma]^2 + sigma_b2)/V(q) (natural: E[sigma]^2/E[sigma^2])."""
        if sign_of(self.mean) == 0 and sign_of(self.sigma_b2) == 0:
            return Result.from_exact(sympy.Integer(0), label="C(0)", method="E[sigma] = 0 and no bias", dps=self.dps)
        if self.natural:
            return combine(lambda m, s: m * m / s, self.mean, self.second_moment, label="C(0)",
                           method="E[sigma]^2/E[sigma^2]", dps=self.dps)
        return combine(lambda m, w, b, v: (w * m * m + b) / v, self.mean, self.sigma_w2, self.sigma_b2,
                       self.output_variance, label="C(0)", method="(sigma_w2 E[sigma]^2 + sigma_b2)/V(q)",
                       dps=self.dps)

    @cached_property
    def first_hermite(self) -> Result:
        """a_1(q) = E[z sigma(sqrt(q) z)]."""
        return _first_hermite(self.activation, self.q, self.dps)

    @cached_property
    def slope_at_zero(self) -> Result:
        """C'(0) = sigma_w2 a_1(q)^2 / V(q) (natural: b_1 = a_1^2/E[sigma^2])."""
        if self.natural:
            return combine(lambda a, s: a * a / s, self.first_hermite, self.second_moment, label="C'(0)",
                           method="a_1^2/E[sigma^2]", dps=self.dps)
        return combine(lambda a, w, v: w * a * a / v, self.first_hermite, self.sigma_w2, self.output_variance,
                       label="C'(0)", method="sigma_w2 a_1^2/V(q)", dps=self.dps)

    @cached_property
    def derivative_second_moment(self) -> Result:
        """E[sigma'(sqrt(q) z)^2] (+infinity when sigma jumps)."""
        return _derivative_moment(self.activation, self.q, self.dps)

    @cached_property
    def slope_at_one(self) -> Result:
        """C'(1) = sigma_w2 q E[sigma'(sqrt(q) z)^2]/V(q) (natural: E[sigma'^2]/E[sigma^2]); this is chi_1 at q*."""
        d2 = self.derivative_second_moment
        if d2.is_exact and d2.exact is sympy.oo:
            return infinite_result("C'(1)", self.dps, "sigma jumps, so E[sigma'^2] is infinite")
        if self.natural:
            return combine(lambda d, s: d / s, d2, self.second_moment, label="C'(1)",
                           method="E[sigma'^2]/E[sigma^2]", dps=self.dps)
        return combine(lambda d, w, q, v: w * q * d / v, d2, self.sigma_w2, self.q, self.output_variance,
                       label="C'(1)", method="sigma_w2 q E[sigma'^2]/V(q)", dps=self.dps)

    # -- dynamics ----------------------------------------------------------------------------
    @budgeted
    def iterate(self, rho0: Any, depth: int, *, exact: bool = False, dps: int | None = None) -> Any:
        """rho_0, rho_1 = C(rho_0), ..., rho_depth.

        Floats by default (an array of shape (depth + 1,) + shape(rho0)); with ``dps`` a tuple
        of Results whose error bounds carry the propagated evaluation errors; with
        ``exact=True`` a tuple of exact Results (needs a closed form).

        >>> from ncsym import zoo
        >>> C = correlation_map(zoo.relu)
        >>> C.iterate(0, 2, exact=True)[1].exact
        1/pi
        >>> C.iterate(0.0, 3).round(6).tolist()
        [0.0, 0.31831, 0.493731, 0.604826]
        """
        depth = check_limit(check_integer(depth, "depth", 0), "depth", MAX_DEPTH)
        if exact:
            return self._iterate_exact(rho0, depth, working_dps(dps or self.dps))
        if dps is not None:
            return self._iterate_mp(rho0, depth, working_dps(dps))
        values = check_rho_array(rho0)
        out = np.empty((depth + 1,) + values.shape)
        out[0] = values
        for layer in range(depth):
            # Rounding can push C(rho) a hair outside [-1, 1]; the map itself never leaves it.
            out[layer + 1] = np.clip(self(out[layer]), -1.0, 1.0)
        return out

    def _iterate_exact(self, rho0: Any, depth: int, dps: int) -> tuple[Result, ...]:
        form = self.closed_form
        if form is None:
            raise NoClosedFormError(f"exact iterates need a closed form; {self.activation.name} has none here")
        current = _exact_rho(rho0)
        out = [Result.from_exact(current, label="rho_0", method="given", dps=dps)]
        for layer in range(1, depth + 1):
            current = form.subs(RHO, current)
            current = tidy(current) if sympy.count_ops(current) < 40 else current
            out.append(Result.from_exact(current, label=f"rho_{layer}", method="closed form, composed", dps=dps))
        return tuple(out)

    def _iterate_mp(self, rho0: Any, depth: int, dps: int) -> tuple[Result, ...]:
        current = _exact_rho(rho0)
        first = Result.from_exact(current, label="rho_0", method="given", dps=dps)
        out = [first]
        value, error = first.value, mpmath.mpf(0)
        with mpmath.workdps(dps + GUARD_DIGITS):
            for layer in range(1, depth + 1):
                step = self.evaluate(sympy.Float(value, dps + GUARD_DIGITS), dps + 2)
                # |C(x) - C(y)| <= max |C'| |x - y| and |C'(t)| <= C'(|t|), increasing on [0, 1].
                reach = min(1.0, float(abs(value) + error))
                lipschitz = float(self.slope(reach)) * (1 + 1e-9) if error > 0 else 0.0
                error = step.error + mpmath.mpf(lipschitz) * error
                value = max(mpmath.mpf(-1), min(mpmath.mpf(1), step.value))
                out.append(Result.from_numeric(value, error, label=f"rho_{layer}",
                                               method="iterated C with propagated error bound", dps=dps))
        return tuple(out)

    def fixed_points(self, dps: int | None = None) -> tuple[FixedPoint, ...]:
        """All fixed points of C on [-1, 1], increasing, with slopes and stability.

        C has non-negative Taylor coefficients and C(1) = 1, so C - id is convex on [0, 1] and
        |C(rho)| <= C(|rho|). Hence the fixed points are: 1; one point rho* in [0, 1) exactly
        when C'(1) > 1 (0 when C(0) = 0, else found by a bracketed Newton iteration to ``dps``
        digits); -1 exactly when C(-1) = -1 (odd sigma, no bias). When C is the identity every
        point is fixed (:attr:`is_identity`); the two endpoints are returned then.

        >>> from ncsym import zoo
        >>> [fp.stability for fp in correlation_map(zoo.tanh).fixed_points()]
        ['unstable', 'stable', 'unstable']
        """
        dps = working_dps(dps or self.dps)
        if self.is_identity:
            one = Result.from_exact(sympy.Integer(1), label="C'", method="C is the identity", dps=dps)
            return (FixedPoint(Result.from_exact(-1, label="rho*", method="C is the identity", dps=dps), one, "neutral"),
                    FixedPoint(Result.from_exact(1, label="rho*", method="C is the identity", dps=dps), one, "neutral"))
        points = []
        if self._minus_one_is_fixed():
            slope = self.slope_at_one  # sigma odd: sigma' even, so C'(-1) = C'(1)
            points.append(FixedPoint(Result.from_exact(-1, label="rho*", method="sigma odd, no bias", dps=dps),
                                     slope, _stability(slope)))
        interior = self.interior_fixed_point(dps)
        if interior is not None:
            points.append(interior)
        one = Result.from_exact(sympy.Integer(1), label="rho*", method="C(1) = 1", dps=dps)
        points.append(FixedPoint(one, self.slope_at_one, _stability(self.slope_at_one)))
        return tuple(points)

    def _minus_one_is_fixed(self) -> bool:
        if sign_of(self.sigma_b2) != 0:
            return False
        odd = self.is_odd
        if odd is not None:
            return odd
        raise ConvergenceError(f"cannot decide whether {self.activation.name} is odd, so whether C(-1) = -1")

    def interior_fixed_point(self, dps: int | None = None) -> FixedPoint | None:
        """The fixed point in [0, 1) (stable), or None when C'(1) <= 1 and 1 is the only one."""
        dps = working_dps(dps or self.dps)
        cached = self._interior_cache.get(dps)
        if cached is not None or dps in self._interior_cache:
            return cached
        point = self._find_interior(dps)
        self._interior_cache[dps] = point
        return point

    @cached_property
    def _interior_cache(self) -> dict:
        return {}

    def _find_interior(self, dps: int) -> FixedPoint | None:
        if self.is_identity:
            return None
        above = sign_of(self.slope_at_one, 1)
        if above is None:
            raise ConvergenceError(
                f"C'(1) = {self.slope_at_one} cannot be separated from 1, so whether a fixed point lies in "
                "[0, 1) is undecided; raise dps")
        if above <= 0:
            return None
        if sign_of(self.value_at_zero) == 0:
            zero = Result.from_exact(sympy.Integer(0), label="rho*", method="C(0) = 0", dps=dps)
            return FixedPoint(zero, self.slope_at_zero, _stability(self.slope_at_zero))
        value, error = self._solve_interior(dps)
        root = Result.from_numeric(value, error, label="rho*",
                                   method="bracketed Newton on C(rho) - rho, signs certified at both ends",
                                   dps=dps)
        lo, hi = value - error, value + error
        slopes = [self.slope_evaluate(sympy.Float(t, dps + GUARD_DIGITS), dps) for t in (lo, hi)]
        with mpmath.workdps(dps + GUARD_DIGITS):
            # C' is increasing on [0, 1], so [C'(lo), C'(hi)] encloses C'(rho*).
            low = slopes[0].value - slopes[0].error
            high = slopes[1].value + slopes[1].error
            slope = Result.from_numeric((low + high) / 2, (high - low) / 2, label="C'(rho*)",
                                        method="C' increasing on [0, 1]: enclosure over the root's interval",
                                        dps=dps)
        return FixedPoint(root, slope, _stability(slope))

    def _solve_interior(self, dps: int) -> tuple[Any, Any]:
        gap = lambda t: self.evaluate(sympy.Float(t, dps + GUARD_DIGITS), dps + 5)  # noqa: E731
        # Float bracket first: g(0) = C(0) > 0, g(1 - delta) < 0 for small delta.
        delta = 0.5
        while delta > 1e-15 and float(self(1.0 - delta)) - (1.0 - delta) >= 0:
            delta /= 2
        lo, hi = 0.0, 1.0 - delta
        if float(self(hi)) - hi >= 0:
            raise ConvergenceError(f"no sign change of C(rho) - rho found below 1 for {self.activation.name}")
        guess = _float_bisect(lambda t: float(self(t)) - t, lo, hi)
        with mpmath.workdps(dps + GUARD_DIGITS):
            r = mpmath.mpf(guess)
            tolerance = mpmath.mpf(10) ** (-(dps + 2))
            for _ in range(80):
                value = gap(r)
                slope = self.slope_evaluate(sympy.Float(r, dps + GUARD_DIGITS), dps + 5)
                step = (value.value - r) / (slope.value - 1)
                r -= step
                if abs(step) < tolerance:
                    break
            else:
                raise ConvergenceError("Newton iteration for the interior fixed point did not converge")
            # Certify: g > 0 just below, g < 0 just above, with evaluation errors included.
            radius = max(tolerance, mpmath.mpf(10) ** (-(dps + 1)) * abs(r))
            for _ in range(40):
                below, above = gap(r - radius), gap(r + radius)
                if below.value - (r - radius) > below.error and above.value - (r + radius) < -above.error:
                    return r, radius
                radius *= 4
        raise ConvergenceError("could not certify the interior fixed point to the requested digits")

    @cached_property
    def attractor(self) -> Result:
        """Where rho_l goes from every rho_0 in (-1, 1): the stable fixed point in [0, 1].

        Raises DomainError for the identity map (correlations stay where they are).
        """
        if self.is_identity:
            raise DomainError("C is the identity: every correlation is fixed")
        interior = self.interior_fixed_point()
        if interior is not None:
            return interior.value
        return Result.from_exact(sympy.Integer(1), label="rho*", method="C'(1) <= 1: 1 is the only fixed point in [0, 1]",
                                 dps=self.dps)

    def latex(self) -> str:
        """LaTeX of the map: its closed form where known, else its definition."""
        form = self.closed_form
        if form is not None:
            return rf"C(\rho) = {sympy.latex(form)}"
        if self.natural:
            return r"C(\rho) = \frac{\mathbb{E}[\sigma(u)\sigma(v)]}{\mathbb{E}[\sigma(z)^2]}"
        return r"C(\rho) = \frac{\sigma_w^2 \mathbb{E}[\sigma(\sqrt{q}u)\sigma(\sqrt{q}v)] + \sigma_b^2}{q^*}"

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


@budgeted
def correlation_map(act: Any, *, sigma_w2: Any = None, sigma_b2: Any = 0, q: Any = None,
                    dps: int | None = None) -> CorrelationMap:
    """The correlation map of ``act`` (an Activation, zoo name or expression string).

    With no hyperparameters: the natural ones (no bias, sigma_w2 = 1/E[sigma^2], q = 1), so
    C(rho) = k(rho)/k(1). With ``sigma_w2`` / ``sigma_b2``: the map at the fixed variance q* of
    the variance map (or at the given ``q``).

    >>> from ncsym import zoo
    >>> correlation_map(zoo.relu, sigma_w2=2).value_at_zero.exact
    1/pi
    >>> C = correlation_map("tanh", sigma_w2=1.5, sigma_b2=0.05)
    >>> round(float(C.q), 10)
    0.4180372005
    """
    act = activation(act)
    dps = working_dps(dps)
    bias = _exact_parameter(sigma_b2, "sigma_b2", positive=False)
    if sigma_w2 is None:
        if sign_of(bias) != 0:
            raise DomainError("with a bias (sigma_b2 > 0) give sigma_w2 too; the natural hyperparameters have no bias")
        if q is not None:
            raise DomainError("q is fixed to 1 by the natural hyperparameters; give sigma_w2 to choose q")
        return _natural_map(act, dps)
    weight = _exact_parameter(sigma_w2, "sigma_w2", positive=True)
    if q is not None:
        variance = _exact_parameter(q, "q", positive=True)
    else:
        # q* to GUARD_DIGITS more digits than asked: every value of the map carries q*'s bound
        # (propagated through d/dq), which then stays far below the requested digits.
        from ncsym.depth.variance import VarianceMap

        vmap = VarianceMap(act, weight, bias, dps=dps + GUARD_DIGITS)
        variance = vmap.q_star
        if vmap.status not in ("finite", "every q is fixed"):
            raise ConvergenceError(
                f"the variance map of {act.name} with sigma_w2 = {_show(weight)}, sigma_b2 = {_show(bias)} "
                f"{vmap.status_text}; pass q= to fix the variance")
    return CorrelationMap(act, weight, bias, variance, natural=False, dps=dps)


@lru_cache(maxsize=64)
def _natural_map(act: Activation, dps: int) -> CorrelationMap:
    """The natural-hyperparameter map, cached: its kernel evaluators are costly to build."""
    one = Result.from_exact(sympy.Integer(1), label="q", method="natural hyperparameters", dps=dps)
    second = _moment(act, one, dps, label="E[sigma^2]")
    if sign_of(second) == 0:
        raise DomainError(f"{act.name} vanishes almost everywhere: E[sigma^2] = 0")
    weight = combine(lambda s: 1 / s, second, label="sigma_w2", method="1/E[sigma^2]", dps=dps)
    bias = Result.from_exact(sympy.Integer(0), label="sigma_b2", method="natural hyperparameters", dps=dps)
    return CorrelationMap(act, weight, bias, one, natural=True, dps=dps, second_moment=second)


