"""Depth: variance and correlation maps, fixed points, NNGP/NTK recursions, the zero-mean theorem.

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

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Sequence

import mpmath
import numpy as np
import sympy

from ncsym.core.numbers import check_real, combine, exact_sign, infinite_result, sign_of, tidy
from ncsym.symbolic.activations import Activation, activation, exact_number
from ncsym.core.errors import ConvergenceError, DomainError, NoClosedFormError, NotSquareIntegrableError, check_integer
from ncsym.kernels.dual import check_rho_array
from ncsym.core.results import GUARD_DIGITS, Result, working_dps

__all__ = [
    "CorrelationMap", "FixedPoint", "VarianceMap", "NetworkKernels", "IndependenceCertificate",
    "correlation_map", "variance_map", "phase_diagram", "network_kernels", "nngp_kernel",
    "ntk_kernel", "independence", "figure1_data",
]

#: The symbol closed-form correlation maps are written in.
RHO = sympy.Symbol("rho", real=True)
#: A positive symbol for variances in closed forms of E[sigma(sqrt(q) z)^2].
_Q = sympy.Symbol("q", positive=True)

# -- input checks ----------------------------------------------------------------------------


def _exact_parameter(value: Any, name: str, *, positive: bool) -> Result:
    """A hyperparameter as an exact Result (0.1 is read as 1/10) after domain checks."""
    if isinstance(value, Result):
        parameter = value
    else:
        check_real(value, name)
        if isinstance(value, mpmath.mpf):
            value = sympy.Float(value, mpmath.mp.dps)
        parameter = Result.from_exact(exact_number(value), label=name, method="given")
    sign = sign_of(parameter)
    if sign is None:
        raise DomainError(f"cannot decide the sign of {name} = {parameter}")
    if sign < 0 or (positive and sign == 0):
        need = "positive" if positive else "non-negative"
        raise DomainError(f"{name} must be {need}, got {parameter.exact if parameter.is_exact else parameter.value}")
    return parameter


def _exact_rho(rho: Any) -> sympy.Expr:
    """rho as an exact sympy number in [-1, 1] (floats read exactly: 0.3 is 3/10)."""
    check_real(rho, "rho")
    if isinstance(rho, mpmath.mpf):
        value = sympy.Float(rho, mpmath.mp.dps)
    else:
        value = exact_number(rho)
    sign_hi, sign_lo = exact_sign(value - 1), exact_sign(value + 1)
    if sign_hi is None or sign_lo is None or sign_hi > 0 or sign_lo < 0:
        raise DomainError(f"rho must lie in [-1, 1], got {value}")
    return value


def _numeric_rho(value: Any, dps: int) -> sympy.Expr:
    """rho for DualKernel.evaluate as an exact sympy number (Float or rational), never an mpf.

    DualKernel.evaluate reads an mpf through its mantissa and exponent, which drops the sign
    of a negative mpf; sympy numbers take its exact route instead.
    """
    if isinstance(value, sympy.Basic):
        return value
    return sympy.Float(mpmath.mpf(value), dps + GUARD_DIGITS)


def _binary_rational(value: Any) -> sympy.Rational:
    """The exact rational value of an mpf (sign, mantissa and exponent kept).

    >>> _binary_rational(mpmath.mpf(-0.75))
    -3/4
    """
    sign, mantissa, exponent, _ = mpmath.mpf(value)._mpf_
    return (-1) ** sign * sympy.Integer(mantissa) * sympy.Integer(2) ** exponent


def _mpf_of(value: Any) -> Any:
    if isinstance(value, sympy.Basic):
        return mpmath.mpf(sympy.Float(value, mpmath.mp.dps + GUARD_DIGITS))
    return mpmath.mpf(value)


# -- access to the layers below (gaussian expectations, Hermite coefficients, dual kernels) -----


def _q_argument(q: Result) -> Any:
    """A variance in the form the layers below accept: exact when exact, else a sympy Float."""
    if q.is_exact:
        return q.exact
    return sympy.Float(q.value, q.dps + GUARD_DIGITS)


def _moment(act: Activation, q: Result, dps: int, *, power: int = 2, label: str) -> Result:
    """E[sigma(sqrt(q) z)^power] (power 1 or 2)."""
    from ncsym.gaussian import moments as gaussian
    if power == 1:
        value = gaussian.gaussian_mean(act, q=_q_argument(q), dps=dps)
    else:
        value = gaussian.gaussian_moment(act, power, q=_q_argument(q), dps=dps)
    return _relabel(value, label)


def _first_hermite(act: Activation, q: Result, dps: int) -> Result:
    """a_1(q) = E[z sigma(sqrt(q) z)]."""
    from ncsym.gaussian import moments as gaussian
    return _relabel(gaussian.expectation(act, q=_q_argument(q), z_power=1, dps=dps), "a_1")


def _derivative_moment(act: Activation, q: Result, dps: int) -> Result:
    """E[sigma'(sqrt(q) z)^2]; +infinity when sigma jumps (sigma' has a Dirac delta)."""
    derivative = act.derivative()
    if derivative.deltas:
        return infinite_result("E[sigma'^2]", dps, "sigma jumps: sigma' contains a Dirac delta")
    return _moment(derivative, q, dps, label="E[sigma'^2]")


def _relabel(result: Result, label: str) -> Result:
    return Result(result.exact, result.value, result.error, result.method, label, result.dps, result.details)


def _dual_kernel(act: Activation, q: Result, dps: int) -> Any:
    from ncsym.kernels import dual as kernels
    if q.is_exact and q.exact == 1:
        return kernels.dual_kernel(act, dps=dps)
    qa = _q_argument(q)
    return kernels.dual_kernel(act, q1=qa, q2=qa, dps=dps)


# -- the correlation map -----------------------------------------------------------------------


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
        return self._from_kernel(kernel_value, dps, "C(rho)")

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
        depth = check_integer(depth, "depth", 0)
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


def _show(result: Result) -> str:
    return str(result.exact) if result.is_exact else mpmath.nstr(result.value, 12)


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


def _float_bisect(f: Any, lo: float, hi: float) -> float:
    """A root of f in [lo, hi] with f(lo) > 0 > f(hi), to float precision."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


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
        # q* to GUARD_DIGITS more digits than asked: the map's error bounds treat q* as exact, and
        # its residual uncertainty (relative 10^-(dps + GUARD_DIGITS)) then stays far below them.
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


# -- the variance map --------------------------------------------------------------------------


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
        """xi_c = -1/ln(chi_c): the depth over which correlations approach their fixed point."""
        chi = self.chi_c
        sign = sign_of(chi, 1)
        if sign == 0:
            return infinite_result("xi_c", self.dps, "chi_c = 1: critical, no finite depth scale")
        if sign is None or sign > 0:
            raise ConvergenceError(f"chi_c = {chi} is not below 1; xi_c = -1/ln chi_c is not defined")
        if chi.is_exact:
            return Result.from_exact(-1 / sympy.log(chi.exact), label="xi_c", method="-1/ln chi_c", dps=self.dps)
        with mpmath.workdps(self.dps + GUARD_DIGITS):
            lo, hi = chi.value - chi.error, chi.value + chi.error
            ends = [-1 / mpmath.log(t) for t in (lo, hi) if t > 0]
            if len(ends) < 2:
                raise ConvergenceError("chi_c is too close to 0 to bound xi_c")
            return Result.from_numeric((ends[0] + ends[1]) / 2, abs(ends[1] - ends[0]) / 2, label="xi_c",
                                       method="-1/ln chi_c, monotone enclosure", dps=self.dps)


def variance_map(act: Any, sigma_w2: Any, sigma_b2: Any, *, q0: Any = 1, dps: int | None = None) -> VarianceMap:
    """The variance map of ``act`` with weight variance ``sigma_w2`` and bias variance ``sigma_b2``.

    >>> from ncsym import zoo
    >>> V = variance_map(zoo.erf, sympy.Rational(1, 2), 0)
    >>> V.status, V.q_star.exact
    ('collapses', 0)
    """
    return VarianceMap(act, sigma_w2, sigma_b2, q0=q0, dps=dps)


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
        from ncsym.kernels import dual as kernels
        def moment(q: Any) -> np.ndarray:
            q = np.asarray(q, dtype=float)
            flat = q.ravel()
            out = np.empty_like(flat)
            block = 64
            for start in range(0, flat.size, block):
                part = flat[start:start + block]
                matrix = kernels.kernel_matrix(act, np.diag(part), derivative=derivative)
                out[start:start + block] = np.diag(matrix)
            return out.reshape(q.shape)
    _FLOAT_MOMENTS[key] = moment
    return moment


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
    raise ConvergenceError(f"{act.name} has a breakpoint at 0; chi_1 at q* = 0 depends on how q -> 0")


#: How far below q0 the search for a positive fixed variance goes (q0 2^-100 ~ 1e-30 q0) before
#: reporting that the variance collapses to 0 (possible only when sigma(0) = 0 and sigma_b2 = 0).
_COLLAPSE_HALVINGS = 100


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
        lo, hi = start, start
        for _ in range(_COLLAPSE_HALVINGS + 1):
            lo = lo / 2
            if lo < start * 2.0**-_COLLAPSE_HALVINGS:
                return "collapses", Result.from_exact(
                    sympy.Integer(0), label="q*", method=f"V(q) < q for q = q0 2^-k, k = 0..{_COLLAPSE_HALVINGS}",
                    dps=dps)
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
    if not (math.isfinite(q0) and q0 > 0):
        raise DomainError(f"q0 must be positive, got {q0!r}")
    W, B = np.meshgrid(w, b, indexing="ij")
    W, B = W.ravel(), B.ravel()
    moment = _float_moment(act)
    f = lambda t: W * moment(t) + B - t  # noqa: E731
    q_star = _vector_fixed_point(f, W.size, q0)
    chi = np.full(W.size, np.nan)
    finite = np.isfinite(q_star) & (q_star > 0)
    if finite.any():
        chi[finite] = W[finite] * _float_moment(act, derivative=True)(q_star[finite]) if not act.derivative().deltas else np.inf
    collapsed = q_star == 0
    if collapsed.any():
        chi[collapsed] = W[collapsed] * float(_derivative_at_zero(act, 15))
    shape = (w.size, b.size)
    return q_star.reshape(shape), chi.reshape(shape)


def _vector_fixed_point(f: Any, size: int, q0: float) -> np.ndarray:
    """Vectorized version of the bracket-and-bisect search of :func:`_solve_variance`."""
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
        gone = active & (lo < q0 * 2.0**-_COLLAPSE_HALVINGS)
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


# -- NNGP and NTK of a fully connected network ----------------------------------------------


@dataclass(frozen=True)
class NetworkKernels:
    """NNGP (K) and NTK (Theta) matrices of a fully connected network, layer by layer.

    ``nngp_layers[l - 1]`` is K^l, the covariance of the preactivations of weight layer l
    (K^1 = sigma_w2 X X^T/d + sigma_b2); ``ntk_layers[l - 1]`` is Theta^l. Float64 numpy
    arrays, or mpmath matrices when ``dps`` is set; then ``errors`` holds, per layer, the
    largest change of any entry between two runs at ``dps`` + 10 and ``dps`` + 20 working
    digits (an error estimate, not a proof).
    """

    nngp_layers: tuple
    ntk_layers: tuple
    dps: int | None = None
    errors: tuple | None = None

    @property
    def nngp(self) -> Any:
        """K^L, the NNGP kernel of the output."""
        return self.nngp_layers[-1]

    @property
    def ntk(self) -> Any:
        """Theta^L, the NTK of the output."""
        return self.ntk_layers[-1]


def network_kernels(X: Any, act: Any, depth: int, *, sigma_w2: Any = 1, sigma_b2: Any = 0,
                    dps: int | None = None) -> NetworkKernels:
    """NNGP and NTK of a depth-``depth`` fully connected network on the rows of ``X``.

    K^1 = sigma_w2 X X^T/d + sigma_b2, K^{l+1} = sigma_w2 V(K^l) + sigma_b2,
    Theta^1 = K^1, Theta^{l+1} = K^{l+1} + sigma_w2 Vdot(K^l) * Theta^l (entrywise), with
    V(K)_ij = E[sigma(u_i) sigma(u_j)], Vdot(K)_ij = E[sigma'(u_i) sigma'(u_j)], u ~ N(0, K).
    ``depth`` counts weight layers (depth 1 is the linear readout of the input).

    >>> from ncsym import zoo
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> out = network_kernels(X, zoo.relu, 2, sigma_w2=2)
    >>> out.nngp.round(6).tolist()
    [[1.0, 0.31831], [0.31831, 1.0]]
    """
    act = activation(act)
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise DomainError(f"depth must be a positive integer (weight layers), got {depth!r}")
    weight = _exact_parameter(sigma_w2, "sigma_w2", positive=True)
    bias = _exact_parameter(sigma_b2, "sigma_b2", positive=False)
    data = np.asarray(X, dtype=object if dps is not None else float)
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise DomainError(f"X must be a non-empty 2-D array (inputs as rows), got shape {data.shape}")
    for entry in data.flat:
        check_real(entry, "X entry")
    if dps is None:
        return _network_kernels_float(data, act, int(depth), float(weight), float(bias))
    dps = working_dps(dps)
    first = _network_kernels_mp(data, act, int(depth), weight, bias, dps + GUARD_DIGITS)
    second = _network_kernels_mp(data, act, int(depth), weight, bias, dps + 2 * GUARD_DIGITS)
    with mpmath.workdps(dps + GUARD_DIGITS):
        errors = tuple(
            max(max(abs(x1 - x2) for x1, x2 in zip(k1, k2)), max(abs(t1 - t2) for t1, t2 in zip(h1, h2)))
            for k1, k2, h1, h2 in zip(first[0], second[0], first[1], second[1])
        )
    return NetworkKernels(tuple(first[0]), tuple(first[1]), dps, errors)


def nngp_kernel(X: Any, act: Any, depth: int, *, sigma_w2: Any = 1, sigma_b2: Any = 0,
                dps: int | None = None) -> Any:
    """K^depth of :func:`network_kernels` (float64 array, or mpmath matrix with ``dps``)."""
    return network_kernels(X, act, depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2, dps=dps).nngp


def ntk_kernel(X: Any, act: Any, depth: int, *, sigma_w2: Any = 1, sigma_b2: Any = 0,
               dps: int | None = None) -> Any:
    """Theta^depth of :func:`network_kernels` (float64 array, or mpmath matrix with ``dps``)."""
    return network_kernels(X, act, depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2, dps=dps).ntk


def _network_kernels_float(X: np.ndarray, act: Activation, depth: int, w: float, b: float) -> NetworkKernels:
    from ncsym.kernels import dual as kernels
    K = w * (X @ X.T) / X.shape[1] + b
    theta = K.copy()
    nngp, ntk = [K], [theta]
    for _ in range(depth - 1):
        V = np.asarray(kernels.kernel_matrix(act, K), dtype=float)
        Vdot = np.asarray(kernels.kernel_matrix(act, K, derivative=True), dtype=float)
        K = w * V + b
        theta = K + w * Vdot * theta
        nngp.append(K)
        ntk.append(theta)
    return NetworkKernels(tuple(nngp), tuple(ntk))


def _network_kernels_mp(X: np.ndarray, act: Activation, depth: int, weight: Result, bias: Result,
                        work: int) -> tuple[list, list]:
    with mpmath.workdps(work):
        w, b = _mpf_of(weight.exact) if weight.is_exact else weight.value, _mpf_of(bias.exact) if bias.is_exact else bias.value
        rows = [[_mpf_of(exact_number(v)) if not isinstance(v, mpmath.mpf) else v for v in row] for row in X]
        P, d = len(rows), len(rows[0])
        K = mpmath.matrix(P, P)
        for i in range(P):
            for j in range(P):
                K[i, j] = w * mpmath.fsum(rows[i][k] * rows[j][k] for k in range(d)) / d + b
        theta = K.copy()
        nngp, ntk = [K.copy()], [theta.copy()]
        for _ in range(depth - 1):
            V, Vdot = _pair_kernels(act, K, work)
            new = mpmath.matrix(P, P)
            new_theta = mpmath.matrix(P, P)
            for i in range(P):
                for j in range(P):
                    new[i, j] = w * V[i, j] + b
                    new_theta[i, j] = new[i, j] + w * Vdot[i, j] * theta[i, j]
            K, theta = new, new_theta
            nngp.append(K.copy())
            ntk.append(theta.copy())
    return nngp, ntk


def _pair_kernels(act: Activation, K: Any, work: int) -> tuple[Any, Any]:
    """V(K) and Vdot(K) entry by entry through the dual kernel at general covariance."""
    from ncsym.kernels import dual as kernels
    P = K.rows
    V, Vdot = mpmath.matrix(P, P), mpmath.matrix(P, P)
    cache: dict = {}
    for i in range(P):
        for j in range(i, P):
            qi, qj, c = K[i, i], K[j, j], K[i, j]
            if qi <= 0 or qj <= 0:
                raise DomainError("an input has zero variance at some layer; V(K) needs positive diagonal entries")
            key = (qi, qj)
            if key not in cache:
                # exact binary rationals: the kernels' closed forms then lose no digits to sympy Floats
                kernel = kernels.dual_kernel(act, q1=_binary_rational(qi), q2=_binary_rational(qj), dps=work)
                cache[key] = (kernel, kernel.derivative())
            kernel, derivative = cache[key]
            rho = mpmath.mpf(1) if i == j else max(mpmath.mpf(-1), min(mpmath.mpf(1), c / mpmath.sqrt(qi * qj)))
            # Calling a DualKernel on an mpf evaluates at the current precision (closed form in
            # mpmath, else its Mehler series / quadrature); the two-run comparison bounds the rest.
            V[i, j] = V[j, i] = kernel(rho)
            Vdot[i, j] = Vdot[j, i] = derivative(rho)
    return V, Vdot


from ncsym.depth.independence_theorem import IndependenceCertificate, independence  # noqa: E402
from ncsym.depth.figure1 import figure1_data  # noqa: E402
