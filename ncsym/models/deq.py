"""Deep equilibrium models (DEQ) as Gaussian processes (Gao, Huo, Liu & Gao 2023).

A DEQ layer of width n solves ``f = phi(W f + U x)`` with *one* weight matrix W shared by all
iterations, ``W_ij ~ N(0, sigma_w2 / n)``, ``U_ij ~ N(0, sigma_u2 / n_in)``, no bias, by
fixed-point iteration from ``f = 0``. Write ``g = W f + U x`` for the preactivation at the
fixed point. As n -> infinity, g and f are Gaussian processes over inputs with covariances

    K*  = Cov(g_i(x), g_i(x'))  = the fixed point of  K <- T(K) = sigma_w2 V_phi(K) + sigma_u2 K0,
    V_phi(K*) = Cov(f_i(x), f_i(x'))      (the kernel of the equilibrium itself),

with ``K0 = X X^T / n_in`` and ``V_phi(K)_ab = E[phi(u_a) phi(u_b)]``, ``u ~ N(0, K)``
(computed by :func:`ncsym.kernels.kernel_matrix`: closed forms where the dual kernel has one,
the Mehler series or quadrature otherwise). ``sigma_w2 V_phi(K*) = K* - sigma_u2 K0`` is the
covariance of ``W f``, the part of g carried through the shared weights.

Contraction (derived here; it is what :func:`contraction_check` verifies before iterating).
Let phi be L-Lipschitz and measure covariance matrices with the Bures-Wasserstein distance
``d(A, B) = min ||M - N||_HS`` over factorizations ``A = M M^*``, ``B = N N^*`` (this is the
2-Wasserstein distance between N(0, A) and N(0, B), a complete metric on the PSD cone).
Couple ``u ~ N(0, K)`` and ``u' ~ N(0, K')`` optimally, so ``E|u - u'|^2 = d(K, K')^2``. The
maps ``h -> E[phi(u) h]`` and ``h -> E[phi(u') h]`` factor V(K) and V(K'), hence
``d(V(K), V(K'))^2 <= E|phi(u) - phi(u')|^2 <= L^2 d(K, K')^2``. Scaling by sigma_w2 scales d
by sigma_w, and adding the same sigma_u2 K0 to both never increases d (use the factors
``[M, C]`` and ``[N, C]``). So ``d(T(K), T(K')) <= sigma_w L d(K, K')``: when
``sigma_w2 L^2 < 1`` T is a contraction, the fixed point exists, is unique, and the iterates
converge geometrically at rate ``c = sigma_w L``, with the a-posteriori bound
``d(K_{t+1}, K*) <= c / (1 - c) d(K_t, K_{t+1})``. Entrywise,
``|K_ab - K*_ab| <= d (sqrt(K_bb) + sqrt(K*_aa))``. For tanh, relu and identity L = 1 (erf:
2/sqrt(pi)), so ``sigma_w2 < 1`` suffices for them (the paper's sigma_w2 = 0.36 gives c = 0.6).
The condition is sufficient, not necessary (relu's diagonal map contracts for sigma_w2 < 2): when it fails a
:class:`ContractionWarning` is issued (or :class:`DomainError` with ``strict=True``) and the
iteration still runs, raising :class:`ConvergenceError` if it does not settle.

Positive definiteness: K* is strictly positive definite for pairwise non-parallel inputs and a
non-polynomial phi (Gao, Huo, Liu & Gao 2023), but not for every set of distinct inputs: odd phi
on {x, -x} and positively homogeneous phi on {x, 2x} give a singular K* (decided, with the
reason, by ``DEQKernel.definiteness``; see :mod:`ncsym.models.deq_definiteness`). Digits
beyond float64 (``dps=``) go through the closed-form dual kernel where there is one, else the
numeric dual kernels (:mod:`ncsym.models.deq_precision`).

The NTK of a DEQ (the gradient through the implicit fixed point): Gao et al. 2023 treat the
NNGP kernel; the equilibrium NTK (after Feng & Kolter, on the NTK of equilibrium models) is
Theta* = K* / (1 - sigma_w2 Vdot(K*)) entrywise, derived and sampled in
:mod:`ncsym.models.deq_tangent`.

The finite-width sampler lives in ``deq_sampling`` (:func:`deq_fixed_points`,
:func:`deq_statistics`, :func:`deq_crosscheck`): it draws the real shared weights, batched over
networks, and is numpy only in its loop.

>>> from ncsym import zoo
>>> X = np.array([[1.0, 0.0], [0.6, 0.8]])
>>> k = deq_kernel(zoo.identity, X, sigma_w2=0.5, sigma_u2=1)
>>> k.preactivation.round(12).tolist()   # linear: K* = sigma_u2 K0 / (1 - sigma_w2)
[[1.0, 0.6], [0.6, 1.0]]
>>> k.contraction.holds, k.contraction.rate
(True, 0.7071067811865476)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import mpmath
import numpy as np
import sympy

from ncsym.symbolic.activations import Activation, activation, exact_number, x as _x
from ncsym.core.errors import ConvergenceError, DomainError, NcsymError, NoClosedFormError
from ncsym.core.results import GUARD_DIGITS, Result, working_dps

__all__ = ["ContractionWarning", "DEQNonConvergenceWarning", "ContractionCheck", "DEQKernel", "lipschitz_constant", "contraction_check", "deq_kernel"]


#: purpose of the DEQ sampler's random streams in :func:`ncsym.sampler.block_generator`
#: (0 and 1 belong to the MLP samplers)
DEQ_STREAM = 2
#: relative accuracy kernels.kernel_matrix documents for V(K) (used in the error estimate)
_KERNEL_MATRIX_ACCURACY = 1e-13
_GRID_HALF_WIDTH = 50.0
_GRID_POINTS = 20001


class ContractionWarning(NcsymError, RuntimeWarning):
    """The DEQ kernel map could not be certified a contraction; the fixed point may not be unique."""


class DEQNonConvergenceWarning(NcsymError, RuntimeWarning):
    """Some sampled DEQ networks did not reach their fixed point and were excluded."""


# -- the Lipschitz constant and the contraction condition ---------------------------------------

def lipschitz_constant(act: Any) -> Result:
    """sup |phi'| over the real line, the Lipschitz constant of a continuous activation.

    Exact for piecewise-linear activations (and any polynomial piece on a bounded interval);
    otherwise located on a grid over [-50, 50] refined by golden-section search, with the
    refinement gap as its error: an estimate, not a proof (``method`` says so). Raises
    :class:`DomainError` when phi has jumps or an unbounded derivative.

    >>> lipschitz_constant("relu").exact
    1
    >>> round(float(lipschitz_constant("tanh")), 12)
    1.0
    >>> lipschitz_constant("step")
    Traceback (most recent call last):
    ...
    ncsym.core.errors.DomainError: step is not Lipschitz: it jumps at 0
    """
    return _lipschitz_cached(activation(act))


@lru_cache(maxsize=128)
def _lipschitz_cached(act: Activation) -> Result:
    if act.parameters:
        raise DomainError(f"{act.name} has free parameters {sorted(map(str, act.parameters))}; substitute values first")
    if act.deltas:
        raise DomainError(f"{act.name} is a distribution, not a Lipschitz function")
    derivative = act.derivative()
    if derivative.deltas:
        points = ", ".join(str(d.point) for d in derivative.deltas)
        raise DomainError(f"{act.name} is not Lipschitz: it jumps at {points}")
    exact_parts, numeric_parts = [], []
    for piece in derivative.pieces:
        expr = sympy.sympify(piece.expr)
        if expr.is_polynomial(_x):
            exact_parts.append(_polynomial_sup(act, expr, piece.lo, piece.hi))
        else:
            numeric_parts.append(_numeric_sup(act, derivative, piece.lo, piece.hi))
    label = f"Lip[{act.name}]"
    if not numeric_parts:
        return Result.from_exact(sympy.Max(*exact_parts), label=label, method="exact: sup |phi'| of polynomial pieces")
    value = max([v for v, _ in numeric_parts] + [float(e) for e in exact_parts])
    error = max(e for _, e in numeric_parts)
    return Result.from_numeric(value, error, label=label,
                               method="numeric: sup |phi'| on a grid over [-50, 50] refined by golden-section "
                                      "search, growth checked at |x| = 1e3, 1e6 (an estimate, not a proof)")


def _polynomial_sup(act: Activation, expr: sympy.Expr, lo: sympy.Expr, hi: sympy.Expr) -> sympy.Expr:
    poly = sympy.Poly(expr, _x)
    if poly.degree() <= 0:
        return sympy.Abs(expr)
    if lo.is_infinite or hi.is_infinite:
        raise DomainError(f"{act.name} is not Lipschitz: its derivative {expr} is unbounded on ({lo}, {hi})")
    candidates = [lo, hi] + [r for r in sympy.real_roots(poly.diff(_x)) if lo < r < hi]
    return sympy.Max(*[sympy.Abs(expr.subs(_x, c)) for c in candidates])


def _numeric_sup(act: Activation, derivative: Activation, lo: sympy.Expr, hi: sympy.Expr) -> tuple[float, float]:
    function = derivative.numpy()
    a = -_GRID_HALF_WIDTH if lo.is_infinite else float(lo)
    b = _GRID_HALF_WIDTH if hi.is_infinite else float(hi)
    with np.errstate(all="ignore"):
        grid = np.linspace(a, b, _GRID_POINTS)
        grid = grid[(grid > float(lo)) & (grid < float(hi))] if not (lo.is_infinite and hi.is_infinite) else grid
        values = np.abs(np.asarray(function(grid), dtype=float))
        far = [t for t in (1e3, 1e6) if t < float(hi)] + [-t for t in (1e3, 1e6) if -t > float(lo)]
        far_values = np.abs(np.asarray(function(np.array(far, dtype=float)), dtype=float)) if far else np.zeros(0)
    # far out, formulas like e^-x / (1 + e^-x)^2 overflow to inf/inf = NaN: drop those
    far_values = far_values[~np.isnan(far_values)]
    if not np.isfinite(values).all() or not np.isfinite(far_values).all():
        raise DomainError(f"{act.name} is not Lipschitz: phi' is not finite on ({lo}, {hi})")
    best = int(np.argmax(values))
    grid_max = float(values[best])
    if far_values.size and far_values.max() > 2 * max(grid_max, 1e-300):
        raise DomainError(f"{act.name} is not Lipschitz: |phi'| keeps growing for large |x|")
    step = (b - a) / (_GRID_POINTS - 1)
    left, right = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(80):  # golden-section search for the maximum of |phi'| in one grid cell each side
        m1, m2 = right - golden * (right - left), left + golden * (right - left)
        f1, f2 = (abs(float(function(np.array([t]))[0])) for t in (m1, m2))
        if f1 > f2:
            right = m2
        else:
            left = m1
    refined = max(grid_max, abs(float(function(np.array([(left + right) / 2]))[0])))
    if far_values.size:
        refined = max(refined, float(far_values.max()))
    # a smooth maximum between grid points exceeds the grid value by O(step^2 |phi'''|)
    return refined, max(refined - grid_max, 1e-15 * max(refined, 1.0), step * step * refined)


@dataclass(frozen=True)
class ContractionCheck:
    """Whether ``K <- sigma_w2 V_phi(K) + sigma_u2 K0`` is a contraction (Bures metric).

    ``rate = sigma_w (L + error of L)`` bounds the contraction factor; ``holds`` is True when
    ``sigma_w2 L^2 < 1`` (decided exactly when L is exact, else with a margin of L's error
    bound), False when it fails or L is infinite, None when L's estimate is too close to
    decide. ``reason`` says why in words.
    """

    sigma_w2: float
    lipschitz: Result | None
    rate: float
    holds: bool | None
    reason: str


def contraction_check(act: Any, sigma_w2: Any, *, lipschitz: Any = None) -> ContractionCheck:
    """Check ``sigma_w2 * Lip(phi)^2 < 1``, sufficient for the DEQ kernel to exist and be unique.

    ``lipschitz`` overrides the computed constant (a number you know for your activation).

    >>> contraction_check("tanh", 0.36).holds
    True
    >>> c = contraction_check("relu", 1.5)
    >>> c.holds, c.reason
    (False, 'sigma_w2 * L^2 = 3/2 >= 1 (L = 1)')
    """
    act = activation(act)
    w = _exact_positive(sigma_w2, "sigma_w2")
    if lipschitz is not None:
        value = exact_number(lipschitz)
        if not value.is_number or not value.is_real or value < 0:
            raise DomainError(f"lipschitz must be a non-negative number, got {lipschitz!r}")
        constant = Result.from_exact(value, label=f"Lip[{act.name}]", method="given by the caller")
    else:
        try:
            constant = lipschitz_constant(act)
        except DomainError as error:
            return ContractionCheck(float(w), None, math.inf, False, f"no contraction certificate: {error}")
    # an upper bound on the contraction factor: L's error counts against us
    rate = math.sqrt(float(w)) * (float(constant.value) + float(constant.error))
    if constant.is_exact:
        product = sympy.nsimplify(w * constant.exact**2)
        holds = bool(product < 1)
        reason = (f"sigma_w2 * L^2 = {product} {'<' if holds else '>='} 1 (L = {constant.exact})")
        return ContractionCheck(float(w), constant, rate, holds, reason)
    upper = float(w) * (float(constant.value) + float(constant.error)) ** 2
    lower = float(w) * max(float(constant.value) - float(constant.error), 0.0) ** 2
    holds = True if upper < 1 else (False if lower >= 1 else None)
    reason = (f"sigma_w2 * L^2 in [{lower:.6g}, {upper:.6g}] with L from a numeric search "
              f"({'< 1' if holds else '>= 1' if holds is False else 'undecided'})")
    return ContractionCheck(float(w), constant, rate, holds, reason)


def _exact_positive(value: Any, name: str, *, allow_zero: bool = False) -> sympy.Expr:
    try:
        number = exact_number(value)
    except Exception:
        raise DomainError(f"{name} must be a finite real number, got {value!r}") from None
    if not number.is_number or not number.is_real or not number.is_finite:
        raise DomainError(f"{name} must be a finite real number, got {value!r}")
    if number < 0 or (number == 0 and not allow_zero):
        raise DomainError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")
    return number


# -- the infinite-width kernel -----------------------------------------------------------------------

@dataclass(frozen=True)
class DEQKernel:
    """The NNGP kernel of a DEQ on a set of inputs (see the module docstring for the maths).

    - ``preactivation``: K*, the covariance of g = W f + U x at the fixed point (float64);
    - ``output``: V_phi(K*), the covariance of the equilibrium f = phi(g) itself;
    - ``recurrent``: sigma_w2 V_phi(K*) = K* - sigma_u2 K0, the covariance of W f;
    - ``input_kernel``: K0 = X X^T / n_in;
    - ``error``: a bound on every entry of ``preactivation`` from the contraction's
      a-posteriori estimate plus the propagated evaluation error of V (None without a
      contraction certificate); ``residual``: max |T(K) - K| at the last iterate;
    - ``min_eigenvalue`` / ``output_min_eigenvalue``: smallest eigenvalues (float64; 0.0 when
      K* is proved singular); ``definiteness``: whether K* is strictly positive definite and
      why (:func:`ncsym.models.deq_definiteness.definiteness`). Distinct inputs are not enough:
      odd phi on {x, -x} and relu on {x, 2x} give a singular K*; pairwise non-parallel inputs
      and a non-polynomial phi give a definite one (Gao et al. 2023);
    - ``mp_preactivation`` / ``mp_error``: the same fixed point as an mpmath matrix at ``dps``
      digits when requested (any activation with a certified contraction).
    """

    activation: Activation
    inputs: np.ndarray
    sigma_w2: float
    sigma_u2: float
    input_kernel: np.ndarray
    preactivation: np.ndarray
    output: np.ndarray
    iterations: int
    residual: float
    error: float | None
    contraction: ContractionCheck
    method: str
    dps: int | None = None
    mp_preactivation: Any = None
    mp_error: Any = None
    details: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def recurrent(self) -> np.ndarray:
        return self.sigma_w2 * self.output

    @property
    def definiteness(self) -> Any:
        """Whether K* is strictly positive definite, with the reason (a ``Definiteness``)."""
        from ncsym.models.deq_definiteness import definiteness

        return definiteness(self)

    @property
    def min_eigenvalue(self) -> float:
        if self.definiteness.holds is False:
            return 0.0  # proved singular: the float64 eigenvalue is rounding noise
        return float(np.linalg.eigvalsh(self.preactivation)[0])

    @property
    def output_min_eigenvalue(self) -> float:
        return float(np.linalg.eigvalsh(self.output)[0])

    def __repr__(self) -> str:
        return (f"DEQKernel({self.activation.name}, P={self.inputs.shape[0]}, sigma_w2={self.sigma_w2}, "
                f"sigma_u2={self.sigma_u2}, iterations={self.iterations}, residual={self.residual:.2e}, "
                f"error={self.error if self.error is None else f'{self.error:.2e}'})")


def _inputs(X: Any) -> np.ndarray:
    try:
        data = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise DomainError("X must be a real array of inputs as rows") from None
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise DomainError(f"X must be a non-empty 2-D array (inputs as rows), got shape {data.shape}")
    if not np.isfinite(data).all():
        raise DomainError("X contains NaN or infinite entries")
    if (np.abs(data).sum(axis=1) == 0).any():
        raise DomainError("X has a zero input: its DEQ preactivation variance is 0 at f = 0 and V(K) needs K_aa > 0")
    return data


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _bures_upper(a: np.ndarray, b: np.ndarray) -> float:
    """An upper bound on the Bures-Wasserstein distance d(A, B) <= ||A^(1/2) - B^(1/2)||_F.

    Since A - B = A^(1/2) D + D B^(1/2) with D = A^(1/2) - B^(1/2), also
    ||D||_F <= ||A - B||_F / (sqrt(lambda_min A) + sqrt(lambda_min B)), which is far sharper for
    nearly equal definite matrices (the square roots themselves are only accurate to
    sqrt(eps) on rounding-level eigenvalues).
    """
    direct = float(np.linalg.norm(_psd_sqrt(a) - _psd_sqrt(b)))
    floor = math.sqrt(max(float(np.linalg.eigvalsh(a)[0]), 0.0)) + math.sqrt(max(float(np.linalg.eigvalsh(b)[0]), 0.0))
    if floor > 0:
        return min(direct, float(np.linalg.norm(a - b)) / floor)
    return direct


def _entry_bound(distance: float, K: np.ndarray) -> float:
    return distance * (2.0 * math.sqrt(float(np.max(np.diag(K)))) + distance)


def deq_kernel(act: Any, X: Any, *, sigma_w2: Any, sigma_u2: Any, tol: float = 1e-13, max_iter: int = 1000,
               lipschitz: Any = None, strict: bool = False, dps: int | None = None) -> DEQKernel:
    """The DEQ NNGP kernel on the rows of X: the fixed point of K <- sigma_w2 V_phi(K) + sigma_u2 K0.

    Iterates from K = sigma_u2 K0 (the network's iteration from f = 0) until
    max |T(K) - K| <= tol * max K_aa, after checking the contraction condition
    ``sigma_w2 Lip(phi)^2 < 1`` (:func:`contraction_check`; ``strict=True`` raises
    :class:`DomainError` when it fails, else a :class:`ContractionWarning` is issued).
    ``dps`` adds an mpmath fixed point to that many digits: through the closed-form dual kernel
    when there is one, else through the numeric dual kernels (:mod:`ncsym.models.deq_precision`).

    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> k = deq_kernel("relu", X, sigma_w2=0.5, sigma_u2=1)
    >>> float(k.preactivation[0, 0])    # K0 = I/2, so q = 0.5 (q / 2) + 1/2
    0.666666666666...
    >>> k.min_eigenvalue > 0, k.error < 1e-11
    (True, True)
    """
    act = activation(act)
    data = _inputs(X)
    w = _exact_positive(sigma_w2, "sigma_w2", allow_zero=True)
    u = _exact_positive(sigma_u2, "sigma_u2")
    if dps is not None:  # checked before the float fixed point, not after it
        dps = working_dps(dps)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise DomainError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise DomainError(f"tol must be a number in (0, 1), got {tol!r}")
    check = contraction_check(act, w, lipschitz=lipschitz) if w > 0 else ContractionCheck(
        0.0, None, 0.0, True, "sigma_w2 = 0: T is constant")
    if check.holds is not True:
        message = (f"the DEQ kernel map of {act.name} with sigma_w2 = {float(w)} is not certified a contraction "
                   f"({check.reason}); its fixed point may not exist or be unique")
        if strict:
            raise DomainError(message)
        warnings.warn(message, ContractionWarning, stacklevel=2)
    from ncsym.kernels.dual import kernel_matrix

    w_float, u_float = float(w), float(u)
    K0 = data @ data.T / data.shape[1]
    K = u_float * K0
    previous = K
    residual = math.inf
    for iteration in range(1, int(max_iter) + 1):
        previous = K
        K = w_float * kernel_matrix(act, previous) + u_float * K0
        if not np.isfinite(K).all():
            raise ConvergenceError(f"the DEQ kernel iteration of {act.name} overflowed after {iteration} steps")
        residual = float(np.max(np.abs(K - previous)))
        if residual <= tol * float(np.max(np.diag(K))):
            break
    else:
        raise ConvergenceError(f"the DEQ kernel iteration of {act.name} did not settle in {max_iter} steps "
                               f"(last change {residual:.3e}; contraction: {check.reason})")
    output = kernel_matrix(act, K)
    error = None
    if check.holds:
        rate = check.rate
        contraction_part = _entry_bound(rate / (1 - rate) * _bures_upper(previous, K), K)
        # evaluation error of V (relative 1e-13 of sqrt(V_aa V_bb)) pushed through (1 - rate)^-1
        evaluation_part = (w_float * _KERNEL_MATRIX_ACCURACY * float(np.max(np.diag(output))) * K.shape[0]
                           / (1 - rate)) + 8 * np.finfo(float).eps * float(np.max(np.diag(K)))
        error = float(contraction_part + evaluation_part)
    mp_matrix = mp_error = None
    if dps is not None:
        mp_matrix, mp_error = _mp_fixed_point(act, data, w, u, K, check, working_dps(dps), max_iter)
    return DEQKernel(act, data, w_float, u_float, K0, K, output, iteration, residual, error, check,
                     "Picard iteration of sigma_w2 kernel_matrix(K) + sigma_u2 K0", dps, mp_matrix, mp_error)


@lru_cache(maxsize=64)
def _mp_kernel_function(act: Activation) -> Callable:
    from ncsym.kernels.dual import dual_kernel, rho as _rho

    q1, q2 = sympy.symbols("q1 q2", positive=True)
    form = dual_kernel(act, q1=q1, q2=q2).closed_form
    if form is None:
        raise NoClosedFormError(f"{act.name} has no closed-form dual kernel; the DEQ kernel's mpmath route needs one "
                                "(the float64 result carries an error bound instead)")
    return sympy.lambdify((_rho, q1, q2), form, modules="mpmath")


def _mp_fixed_point(act: Activation, data: np.ndarray, w: sympy.Expr, u: sympy.Expr, start: np.ndarray,
                    check: ContractionCheck, dps: int, max_iter: int) -> tuple[Any, Any]:
    if not check.holds:
        raise DomainError("the mpmath DEQ kernel needs a certified contraction for its error bound")
    try:
        kernel = _mp_kernel_function(act)
    except NoClosedFormError:
        from ncsym.models.deq_precision import numeric_fixed_point

        matrix, error, _ = numeric_fixed_point(act, data, w, u, check, dps, max_iter)
        return matrix, error
    work = dps + GUARD_DIGITS
    P, d = data.shape
    with mpmath.workdps(work):
        rows = [[mpmath.mpf(float(v)) for v in row] for row in data]  # float -> mpf is exact
        w_mp, u_mp = (mpmath.mpf(sympy.Rational(v).p) / sympy.Rational(v).q for v in (w, u))
        K0 = mpmath.matrix(P, P)
        for a in range(P):
            for b in range(P):
                K0[a, b] = mpmath.fsum(rows[a][k] * rows[b][k] for k in range(d)) / d
        K = mpmath.matrix(start.tolist())
        rate = mpmath.sqrt(w_mp) * (check.lipschitz.value + check.lipschitz.error)
        target = mpmath.mpf(10) ** (-dps) * max(K[a, a] for a in range(P))
        for _ in range(int(max_iter)):
            new = mpmath.matrix(P, P)
            for a in range(P):
                for b in range(a, P):
                    correlation = K[a, b] / mpmath.sqrt(K[a, a] * K[b, b])
                    correlation = max(min(correlation, mpmath.mpf(1)), mpmath.mpf(-1))
                    value = kernel(correlation, K[a, a], K[b, b])
                    new[a, b] = new[b, a] = w_mp * mpmath.re(value) + u_mp * K0[a, b]
            change = max(abs(new[a, b] - K[a, b]) for a in range(P) for b in range(P))
            previous, K = K, new
            if change > target:  # the Bures bound below costs two matrix square roots: wait for it
                continue
            step = abs(mpmath.re(mpmath.norm(mpmath.sqrtm(previous) - mpmath.sqrtm(K), 2)))
            distance = rate / (1 - rate) * step
            bound = distance * (2 * mpmath.sqrt(max(K[a, a] for a in range(P))) + distance)
            if bound <= target:
                return K, bound
    raise ConvergenceError(f"the mpmath DEQ kernel iteration did not reach {dps} digits in {max_iter} steps")
