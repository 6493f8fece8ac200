"""Dual kernels k(rho) = E[sigma(u) sigma(v)] of correlated Gaussians, exact and to any precision.

For variances q1, q2 and covariance c (correlation rho = c / sqrt(q1 q2)),

    k(rho) = E[sigma(u) sigma(v)] = sum_n a_n(q1) a_n(q2) rho^n          (Mehler)

with a_n(q) the normalized Hermite coefficients of x -> sigma(sqrt(q) x). Three routes, tried
in this order:

1. a closed form from the registry in :mod:`ncsym.kernels.closed_form` (arc-cosine family,
   step, sign, erf, gelu, exp / sin / cos sums, polynomials), exact in sympy and with a
   cancellation-free float64 evaluator;
2. the Mehler series, whose truncation error after N terms is at most
   |rho|^(N+1) sqrt(T_N(q1) T_N(q2)) with T_N the exact Parseval tail E[sigma^2] - sum a_n^2
   (Cauchy-Schwarz), a rigorous bound;
3. two-dimensional quadrature (Gauss-Legendre panels split at the kinks, in float64; mpmath's
   adaptive quadrature with its error estimate at higher precision).

Float64 accuracy: closed forms are accurate to a few ulps of the scale
sqrt(k_11 k_22) = sqrt(E sigma(u)^2 E sigma(v)^2) (which bounds |k|) and keep relative accuracy
near rho = +-1. Without a closed form, smooth activations use the Mehler series with float64
Hermite coefficients, truncated where the Parseval tail (summed in float64 from a table twice
as long: an estimate, not a certified bound) is below 1e-16 of that scale, then economized to
Chebyshev form (about 1e-16 of the scale in tests against scipy and mpmath); kinked ones use a
Chebyshev interpolant in arccos(rho) of 2-D quadrature (about 1e-14 of the scale). Certified
bounds come from :meth:`DualKernel.evaluate`, whose Mehler tails are exact Parseval tails.

>>> from ncsym import zoo
>>> k = dual_kernel(zoo.relu)
>>> k.closed_form
rho/4 + (rho*asin(rho) + sqrt(1 - rho**2))/(2*pi)
>>> k(0.5)
0.3044988905221...
>>> k(sympy.Integer(1)), k(sympy.Integer(0))
(1/2, 1/(2*pi))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import mpmath
import numpy as np
import sympy

from ncsym.kernels.closed_form import KernelForm, c_sym, find_closed_form
from ncsym.symbolic.activations import Activation, activation, exact_number
from ncsym.core.errors import DomainError, NoClosedFormError
from ncsym.core.results import GUARD_DIGITS, Result, to_mpf, working_dps
from ncsym.core.timebound import budgeted

__all__ = ["DualKernel", "dual_kernel", "kernel_matrix", "rho"]

#: The real symbol closed forms are written in.
rho = sympy.Symbol("rho", real=True)



# -- input checks ----------------------------------------------------------------------------

def _check_variance(q: Any, name: str) -> sympy.Expr:
    if isinstance(q, (mpmath.mpf,)):
        q = sympy.Float(q)
    value = exact_number(q)
    if value.is_number:
        if value.has(sympy.nan) or not value.is_finite:
            raise DomainError(f"{name} must be a finite positive variance, got {q!r}")
        if not value.is_positive:
            raise DomainError(f"{name} must be a positive variance, got {q!r}")
    elif value.is_positive is False:
        raise DomainError(f"{name} must be a positive variance, got {q!r}")
    return value


def check_rho_array(values: Any) -> np.ndarray:
    """Correlations as a float64 array, or a DomainError (complex, NaN, |rho| > 1)."""
    values = np.asarray(values)
    if values.dtype.kind == "c":
        raise DomainError("correlation rho must be real")
    if values.dtype.kind in "USO" and any(isinstance(v, (str, bytes)) for v in values.flat):
        raise DomainError("correlation rho must be a number, got text (read it with ncsym.parse_expression)")
    values = np.asarray(values, dtype=float)
    if np.isnan(values).any():
        raise DomainError("correlation rho is NaN")
    if (np.abs(values) > 1.0).any():
        worst = values.flat[int(np.argmax(np.abs(values)))]
        raise DomainError(f"correlation rho must lie in [-1, 1], got {worst!r}")
    return values


def _check_rho_exact(value: sympy.Expr) -> sympy.Expr:
    if value.is_number:
        if value.has(sympy.nan, sympy.zoo) or not value.is_finite:
            raise DomainError(f"correlation rho must be a finite real number, got {value}")
        if value.is_real is False:
            raise DomainError(f"correlation rho must be real, got {value}")
        if sympy.Abs(value) > 1:
            raise DomainError(f"correlation rho must lie in [-1, 1], got {value}")
    return value


def _check_rho_mp(value: Any) -> Any:
    if isinstance(value, mpmath.mpc):
        if value.imag != 0:
            raise DomainError(f"correlation rho must be real, got {value}")
        value = value.real
    if mpmath.isnan(value) or abs(value) > 1:
        raise DomainError(f"correlation rho must lie in [-1, 1], got {value}")
    return value


# -- the kernel object ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DualKernel:
    """The dual kernel k(rho) = E[sigma(u) sigma(v)], Var u = q1, Var v = q2, Corr(u, v) = rho.

    Call it on a float (float out), a numpy array (float64 array out, vectorized), an mpmath
    number (mpf at the current precision) or a sympy expression (the exact closed form, or
    :class:`~ncsym.core.errors.NoClosedFormError`). :meth:`evaluate` returns a
    :class:`~ncsym.core.results.Result` with an error bound. Build one with :func:`dual_kernel`.

    >>> from ncsym import zoo
    >>> k = dual_kernel(zoo.erf)
    >>> k.closed_form
    2*asin(2*rho/3)/pi
    >>> float(k.evaluate(1).value) == float(2 / mpmath.pi * mpmath.asin(mpmath.mpf(2) / 3))
    True
    >>> dual_kernel(zoo.relu).derivative().closed_form
    asin(rho)/(2*pi) + 1/4
    """

    activation: Activation
    q1: sympy.Expr = sympy.Integer(1)
    q2: sympy.Expr = sympy.Integer(1)
    dps: int | None = None

    # -- structure ------------------------------------------------------------------------
    @cached_property
    def form(self) -> KernelForm | None:
        """The matched closed-form registry entry, or None."""
        return find_closed_form(self.activation)

    @cached_property
    def closed_form(self) -> sympy.Expr | None:
        """k as an exact sympy expression in the real symbol ``rho``, or None."""
        if self.form is None:
            return None
        scale = sympy.sqrt(self.q1 * self.q2)
        return self.form.symbolic(c_sym, self.q1, self.q2).subs(c_sym, rho * scale)

    @property
    def variances(self) -> tuple[sympy.Expr, sympy.Expr]:
        """(q1, q2)."""
        return self.q1, self.q2

    @cached_property
    def _float_variances(self) -> tuple[float, float]:
        if self.q1.free_symbols or self.q2.free_symbols:
            raise DomainError(f"the variances ({self.q1}, {self.q2}) are symbolic; give numbers for numeric evaluation")
        return float(self.q1), float(self.q2)

    # -- evaluation -----------------------------------------------------------------------
    def __call__(self, value: Any) -> Any:
        """k(value): float -> float, ndarray -> ndarray, mpf -> mpf, sympy -> sympy."""
        if isinstance(value, sympy.Basic):
            return self._exact_value(_check_rho_exact(value))
        if isinstance(value, (mpmath.mpf, mpmath.mpc)):
            value = _check_rho_mp(value)
            dps = int(mpmath.mp.dps)
            return +self._mp_value(value, dps)[0]
        if isinstance(value, bool):
            raise DomainError(f"correlation rho must be a number, got {value!r}")
        array = np.asarray(value)
        if array.dtype == object or array.dtype.kind not in "iufc":
            raise DomainError(f"correlation rho must be numeric, got {type(value).__name__}")
        result = self._float_values(check_rho_array(array))
        return float(result) if np.ndim(value) == 0 else result

    def covariance(self, c: Any) -> Any:
        """k at covariance c (rho = c / sqrt(q1 q2)); same input and output types as calling.

        >>> from ncsym import zoo
        >>> dual_kernel(zoo.exp, q1=2, q2=8).covariance(sympy.Integer(3))
        exp(8)
        """
        c = exact_number(c) if isinstance(c, str) else c  # text: read exactly by the parser
        if isinstance(c, sympy.Basic):
            scale = sympy.sqrt(self.q1 * self.q2)
            return self(sympy.sympify(c) / scale)
        if isinstance(c, (mpmath.mpf, mpmath.mpc)):
            q1, q2 = self._float_variances
            with mpmath.workdps(mpmath.mp.dps + GUARD_DIGITS):
                scale = mpmath.sqrt(to_mpf(self.q1 * self.q2, mpmath.mp.dps + GUARD_DIGITS))
                ratio = mpmath.mpf(c) / scale
            if abs(ratio) > 1 and abs(ratio) - 1 < mpmath.mpf(10) ** (-mpmath.mp.dps):
                ratio = mpmath.sign(ratio)
            return self(ratio)
        q1, q2 = self._float_variances
        array = np.asarray(c, dtype=float)
        ratio = array / math.sqrt(q1 * q2)
        if np.isnan(ratio).any():
            raise DomainError("covariance c is NaN")
        # a covariance equal to sqrt(q1 q2) up to rounding is a correlation of exactly +-1
        ratio = np.where(np.abs(ratio) > 1.0, np.where(np.abs(ratio) <= 1.0 + 4e-16, np.sign(ratio), ratio), ratio)
        return self(float(ratio) if np.ndim(c) == 0 else ratio)

    def evaluate(self, value: Any, *, dps: int | None = None) -> Result:
        """k(rho) as a Result: exact for a closed form at exact rho, else with an error bound.

        Floats are read exactly (0.5 is 1/2). Without a closed form, the Mehler series is summed
        until its rigorous tail bound is below the target, else 2-D quadrature is used.

        >>> from ncsym import zoo
        >>> dual_kernel(zoo.sign).evaluate(0.5).exact
        1/3
        >>> r = dual_kernel(zoo.tanh).evaluate(0.5, dps=20)
        >>> mpmath.nstr(r.value, 20), r.error < 1e-20
        ('0.18632441320344808611', True)
        """
        dps = working_dps(dps if dps is not None else self.dps)
        label = f"k[{self.activation.name}]({value})"
        if isinstance(value, (mpmath.mpf, mpmath.mpc)):
            value = _check_rho_mp(value)
            if self.form is not None:
                exact_rho = _mpf_to_rational(value)
            else:
                return self._numeric_result(value, dps, label)
        else:
            exact_rho = _check_rho_exact(exact_number(value))
        if self.form is not None:
            if self.form.singular_at_unit and sympy.Abs(exact_rho) == 1:
                raise DomainError(f"the kernel of {self.activation.name} is infinite at rho = {exact_rho}")
            expr = self._exact_value(exact_rho)
            if expr.free_symbols:
                raise DomainError(f"{label} depends on symbols {sorted(map(str, expr.free_symbols))}")
            return Result.from_exact(expr, label=label, method=f"closed form ({self.form.entry.name})", dps=dps)
        if not exact_rho.is_number:
            raise NoClosedFormError(f"{self.activation.name} has no closed-form kernel to evaluate at {exact_rho}")
        with mpmath.workdps(dps + GUARD_DIGITS):
            point = to_mpf(exact_rho, dps + GUARD_DIGITS)
        return self._numeric_result(point, dps, label)

    # -- exact -------------------------------------------------------------------------------
    def _exact_value(self, value: sympy.Expr) -> sympy.Expr:
        if self.closed_form is None:
            raise NoClosedFormError(
                f"no closed-form dual kernel is known for {self.activation.name}; "
                "use .evaluate() or call with a float or mpmath number"
            )
        if self.form.singular_at_unit and value.is_number and sympy.Abs(value) == 1:
            raise DomainError(f"the kernel of {self.activation.name} is infinite at rho = {value}")
        return self.closed_form.subs(rho, value)

    # -- float64 -------------------------------------------------------------------------
    def _float_values(self, values: np.ndarray) -> np.ndarray:
        q1, q2 = self._float_variances
        if self.form is not None:
            return self.form.numeric(values, q1, q2)
        return self._float_evaluator(values)

    @cached_property
    def _float_evaluator(self) -> Callable[[np.ndarray], np.ndarray]:
        from ncsym.kernels.numeric import float_kernel_evaluator

        q1, q2 = self._float_variances
        return float_kernel_evaluator(self.activation, q1, q2)

    # -- arbitrary precision -----------------------------------------------------------------
    def _mp_value(self, value: Any, dps: int) -> tuple[Any, Any, str]:
        """(value, error bound, method) at ``dps`` digits."""
        if self.form is not None:
            if self.form.singular_at_unit and abs(value) == 1:
                raise DomainError(f"the kernel of {self.activation.name} is infinite at rho = {value}")
            evaluator = self._mp_closed_form
            # near rho = +-1 the closed forms cancel (e.g. relu at -1 is O((1+rho)^(3/2))):
            # carry enough extra digits to absorb it
            gap = 1 - abs(value)
            extra = 0 if gap == 0 else max(0, int(2 * -mpmath.log10(gap)) + 1)
            with mpmath.workdps(dps + GUARD_DIGITS + extra):
                result = evaluator(mpmath.mpf(value))
                if isinstance(result, mpmath.mpc):
                    result = result.real
            with mpmath.workdps(dps + GUARD_DIGITS):
                error = abs(result) * mpmath.mpf(10) ** (-(dps + GUARD_DIGITS // 2))
            return result, error, f"closed form ({self.form.entry.name})"
        from ncsym.kernels.numeric import mp_kernel_value

        q1, q2 = self._float_variances
        return mp_kernel_value(self.activation, self.q1, self.q2, value, dps)

    @cached_property
    def _mp_closed_form(self) -> Callable[[Any], Any]:
        if self.closed_form.free_symbols - {rho}:
            raise DomainError(f"the kernel of {self.activation.name} has symbolic parameters; substitute values first")
        return sympy.lambdify(rho, self.closed_form, modules="mpmath")

    def _numeric_result(self, value: Any, dps: int, label: str) -> Result:
        result, error, method = self._mp_value(value, dps)
        return Result.from_numeric(result, error, label=label, method=method, dps=dps,
                                   certified=method.startswith("certified"))

    # -- series and derived kernels -------------------------------------------------------------
    def taylor_coefficients(self, n_max: int, *, dps: int | None = None) -> tuple[Result, ...]:
        """a_n(q1) a_n(q2) for n = 0..n_max: the Taylor coefficients of k in rho (Mehler).

        Exact where the Hermite coefficients are (see :func:`ncsym.hermite_series.coefficients.hermite_coefficients`).

        >>> from ncsym import zoo
        >>> [r.exact for r in dual_kernel(zoo.relu).taylor_coefficients(3)]
        [1/(2*pi), 1/4, 1/(4*pi), 0]
        """
        from ncsym.hermite_series.coefficients import hermite_coefficients

        if isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or n_max < 0:
            raise DomainError(f"n_max must be a non-negative integer, got {n_max!r}")
        dps = working_dps(dps if dps is not None else self.dps)
        first = hermite_coefficients(self.activation, int(n_max), q=self.q1, dps=dps)
        second = first if self.q2 == self.q1 else hermite_coefficients(self.activation, int(n_max), q=self.q2, dps=dps)
        name = self.activation.name
        return tuple(_product(a, b, f"a_{n}(q1) a_{n}(q2) [{name}]", dps) for n, (a, b) in enumerate(zip(first, second)))

    def derivative(self) -> "DualKernel":
        """The kernel of sigma': E[sigma'(u) sigma'(v)] = dk/dc (Price's theorem).

        In terms of the correlation, dk/drho = sqrt(q1 q2) E[sigma'(u) sigma'(v)]; at unit
        variances it is k'(rho). This is the kernel the NTK recursion needs.

        >>> from ncsym import zoo
        >>> dual_kernel(zoo.sin).derivative().closed_form
        exp(-1)*cosh(rho)
        """
        return DualKernel(self.activation.derivative(), self.q1, self.q2, self.dps)

    def latex(self) -> str:
        """LaTeX of k(rho): the closed form, or the Mehler series it is computed from.

        >>> from ncsym import zoo
        >>> dual_kernel(zoo.sign).latex()
        'k(\\\\rho) = \\\\frac{2 \\\\operatorname{asin}{\\\\left(\\\\rho \\\\right)}}{\\\\pi}'
        """
        if self.closed_form is not None:
            return r"k(\rho) = " + sympy.latex(self.closed_form)
        return (r"k(\rho) = \sum_{n \ge 0} a_n(q_1)\, a_n(q_2)\, \rho^n, \quad "
                rf"\sigma(x) = {self.activation.latex()}")

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def __repr__(self) -> str:
        variances = "" if self.q1 == self.q2 == 1 else f", q1={self.q1}, q2={self.q2}"
        return f"DualKernel({self.activation.name}{variances})"


@budgeted
def dual_kernel(act: Any, *, q1: Any = 1, q2: Any = None, dps: int | None = None) -> DualKernel:
    """The dual kernel of ``act`` for variances q1 and q2 (default q2 = q1).

    ``act`` is anything :func:`ncsym.activation` accepts; ``dps`` is the default precision of
    :meth:`DualKernel.evaluate`.

    >>> k = dual_kernel("relu", q1=2, q2=8)
    >>> k(1.0)
    2.0
    >>> dual_kernel("step").closed_form
    asin(rho)/(2*pi) + 1/4
    """
    act = activation(act)
    first = _check_variance(q1, "q1")
    second = first if q2 is None else _check_variance(q2, "q2")
    if dps is not None:
        dps = working_dps(dps)
    return DualKernel(act, first, second, dps)


# -- kernel matrices ---------------------------------------------------------------------------

def kernel_matrix(act: Any, cov: np.ndarray, *, derivative: bool = False) -> np.ndarray:
    """V(K)_ij = E[sigma(u_i) sigma(u_j)] for u ~ N(0, K), as a float64 matrix.

    With ``derivative=True``, E[sigma'(u_i) sigma'(u_j)] (the NTK's Sigma-dot). Unequal
    variances are allowed. Closed forms where the registry has one, else the Mehler series
    with per-variance Hermite coefficients (smooth activations), else 2-D quadrature; about
    1e-13 of sqrt(V_ii V_jj) or better.

    >>> K = np.array([[1.0, 0.5], [0.5, 2.0]])
    >>> V = kernel_matrix("relu", K)
    >>> bool(np.isclose(V[0, 0], 0.5) and np.isclose(V[1, 1], 1.0))
    True
    """
    act = activation(act)
    if derivative:
        act = act.derivative()
    K = np.asarray(cov)
    if K.dtype == object or K.dtype.kind not in "iuf":
        raise DomainError("the covariance matrix must be a real numeric array")
    K = np.asarray(K, dtype=float)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise DomainError(f"the covariance matrix must be square, got shape {K.shape}")
    if not np.isfinite(K).all():
        raise DomainError("the covariance matrix contains NaN or infinite entries")
    diag = np.diag(K).copy()
    if (diag <= 0).any():
        raise DomainError(f"the covariance matrix needs positive variances on its diagonal, got {diag.min()!r}")
    if not np.allclose(K, K.T, rtol=1e-12, atol=0.0):
        raise DomainError("the covariance matrix must be symmetric")
    K = (K + K.T) / 2
    scale = np.sqrt(np.outer(diag, diag))
    correlation = K / scale
    if (np.abs(correlation) > 1.0 + 1e-12).any():
        raise DomainError("the covariance matrix is not positive semidefinite: |K_ij| > sqrt(K_ii K_jj)")
    correlation = np.clip(correlation, -1.0, 1.0)
    np.fill_diagonal(correlation, 1.0)
    correlation = (correlation + correlation.T) / 2
    form = find_closed_form(act)
    if form is not None:
        if form.singular_at_unit:
            raise DomainError(
                f"E[sigma(u)^2] is infinite for {act.name} (it has Dirac deltas), so V(K) has no diagonal"
            )
        q1 = np.broadcast_to(diag[:, None], K.shape)
        q2 = np.broadcast_to(diag[None, :], K.shape)
        V = form.numeric(correlation, q1, q2)
        return (V + V.T) / 2
    from ncsym.kernels.numeric import numeric_kernel_matrix

    return numeric_kernel_matrix(act, correlation, diag)


# -- helpers -------------------------------------------------------------------------------------

def _mpf_to_rational(value: Any) -> sympy.Rational:
    # man_exp drops the sign (mpf(-0.5).man_exp == (1, -1)); _mpf_ keeps it.
    sign, mantissa, exponent, _ = mpmath.mpf(value)._mpf_
    return (-1) ** sign * sympy.Integer(mantissa) * sympy.Integer(2) ** exponent


def _product(a: Result, b: Result, label: str, dps: int) -> Result:
    if a.exact is not None and b.exact is not None:
        return Result.from_exact(sympy.expand(a.exact * b.exact) if a is not b else a.exact**2,
                                 label=label, method=a.method, dps=dps)
    with mpmath.workdps(dps + GUARD_DIGITS):
        value = a.value * b.value
        error = abs(a.value) * b.error + abs(b.value) * a.error + a.error * b.error
        error += abs(value) * mpmath.mpf(2) ** (-mpmath.mp.prec + 1)
    return Result.from_numeric(value, error, label=label, method=f"product of Hermite coefficients ({a.method})", dps=dps)
