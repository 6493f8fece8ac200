"""The registry of closed-form dual kernels (private helper of :mod:`ncsym.kernels`).

Every activation whose kernel k(c; q1, q2) = E[sigma(u) sigma(v)], (u, v) ~ N(0, [[q1, c],
[c, q2]]), is known in closed form lives here, in ONE table, :data:`REGISTRY`. An entry
recognizes an activation structurally, from its pieces (so ``Max(x, 0)``, ``zoo.relu`` and
``Heaviside(x) * x`` all reach the arc-cosine entry), and supplies

- ``symbolic(params, c, q1, q2)``: the exact kernel as a sympy expression;
- ``numeric(params, rho, q1, q2)``: a float64 evaluator at correlation rho, vectorized over
  broadcast arrays, written to avoid cancellation near rho = +-1.

Each entry covers a linear family of "atoms" plus constants, so scaled, shifted and
input-scaled variants are recognized too:

- ``piecewise_linear``: a relu(x) + b relu(-x) + r H(x) + l H(-x) + d delta(x) (relu, leaky
  relu, abs, identity, shaped relu, step, sign, their shifts, and the delta terms of their
  derivatives); cross terms of the arc-cosine kernels of degree 0 and 1;
- ``erf``: const + sum_j A_j erf(b_j x) (erf, the normal CDF Phi);
- ``gelu``: const + A x + sum_j B_j x Phi(beta_j x) (gelu, x erf(b x));
- ``exponential``: sum_j C_j exp(lambda_j x) with complex lambda_j (exp, sin, cos, sinh,
  cosh, and their affine-input versions sin(a x + b), ...);
- ``polynomial``: any polynomial, through k(c) = sum_n c^n/n! E[p^(n)(u)] E[p^(n)(v)].

Derivations (all verified in tests/test_kernels.py against exact Hermite coefficients):

- arc-cosine pieces, unit variances, theta = arccos(rho): E[relu(u) relu(v)] = G(pi - theta)/(2 pi)
  and E[relu(u) relu(-v)] = G(theta)/(2 pi) with G(t) = sin t - t cos t (Cho & Saul 2009);
  E[H(u) H(v)] = (pi - theta)/(2 pi); E[relu(u) H(v)] = (1 + rho)/(2 sqrt(2 pi)) by Stein's
  identity; E[delta(u) delta(v)] is the density at 0, 1/(2 pi sqrt(q1 q2 - c^2));
  E[relu(u) delta(v)] = sqrt(q1/q2) sqrt(1 - rho^2)/(2 pi); E[H(u) delta(v)] = 1/(2 sqrt(2 pi q2)).
- erf: E[erf(a u) erf(b v)] = (2/pi) arcsin(2 a b c / sqrt((1 + 2 a^2 q1)(1 + 2 b^2 q2))).
- gelu, f_j(x) = x Phi(beta_j x): Stein's identity on u, then Gaussian tilting of the phi factors,
  E[f_i(u) f_j(v)] = c (1/4 + arcsin(b_i b_j c / sqrt(A_i B_j))/(2 pi))
                    + b_i b_j (q1 q2 - c^2 + c^2/A_i + c^2/B_j) / (2 pi sqrt(A_i B_j - b_i^2 b_j^2 c^2)),
  A_i = 1 + b_i^2 q1, B_j = 1 + b_j^2 q2; E[u f_j(v)] = c/2; E[f_j(v)] = b_j q2/sqrt(2 pi B_j).
- exponential: E[exp(l u + m v)] = exp(l^2 q1/2 + m^2 q2/2 + l m c).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy

from ncsym.symbolic.activations import Activation, x

__all__ = ["ClosedFormEntry", "KernelForm", "REGISTRY", "find_closed_form", "c_sym", "q1_sym", "q2_sym"]

#: Symbols of the covariance-form kernel k(c; q1, q2).
c_sym = sympy.Symbol("c", real=True)
q1_sym = sympy.Symbol("q1", positive=True)
q2_sym = sympy.Symbol("q2", positive=True)

_pi = sympy.pi
_TWO_PI = 2.0 * math.pi
_SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class ClosedFormEntry:
    """One closed-form family: how to recognize it and its kernel, exact and in float64."""

    name: str
    summary: str
    recognize: Callable[[Activation], Any]  # params (hashable) or None
    symbolic: Callable[[Any, sympy.Expr, sympy.Expr, sympy.Expr], sympy.Expr]
    numeric: Callable[[Any, np.ndarray, Any, Any], np.ndarray]  # (params, rho, q1, q2)
    #: params -> True when the kernel is infinite at rho = +-1 (Dirac deltas on both sides).
    singular_at_unit: Callable[[Any], bool] = lambda params: False


@dataclass(frozen=True)
class KernelForm:
    """A matched registry entry with the activation's parameters.

    >>> from ncsym import zoo
    >>> form = find_closed_form(zoo.relu)
    >>> form.entry.name
    'piecewise_linear'
    >>> form.symbolic(c_sym, 1, 1)
    c/4 + (c*asin(c) + sqrt(1 - c**2))/(2*pi)
    """

    entry: ClosedFormEntry
    params: Any

    def symbolic(self, c: Any, q1: Any, q2: Any) -> sympy.Expr:
        """The exact kernel at covariance c, variances q1, q2."""
        return self.entry.symbolic(self.params, sympy.sympify(c), sympy.sympify(q1), sympy.sympify(q2))

    def numeric(self, rho: Any, q1: Any, q2: Any) -> np.ndarray:
        """float64 kernel values at correlation rho (not covariance: 1 - rho must stay exact
        near rho = 1), broadcast over rho, q1, q2."""
        rho, q1, q2 = (np.asarray(v, dtype=float) for v in (rho, q1, q2))
        shape = np.broadcast_shapes(rho.shape, q1.shape, q2.shape)
        if q1.ndim == 0 and q2.ndim == 0:
            rho, q1, q2 = np.broadcast_to(rho, shape).reshape(-1), float(q1), float(q2)
        else:
            rho, q1, q2 = (np.ascontiguousarray(np.broadcast_to(v, shape)).reshape(-1) for v in (rho, q1, q2))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            values = self.entry.numeric(self._float_params, rho, q1, q2)
        return np.broadcast_to(np.asarray(values, dtype=float), rho.shape).reshape(shape)

    @property
    def singular_at_unit(self) -> bool:
        """True when the kernel is infinite at correlation +-1."""
        return bool(self.entry.singular_at_unit(self.params))

    @property
    def _float_params(self) -> Any:
        cached = self.__dict__.get("_floats")
        if cached is None:
            cached = _to_floats(self.params)
            object.__setattr__(self, "_floats", cached)
        return cached


def _to_floats(params: Any) -> Any:
    if isinstance(params, tuple):
        return tuple(_to_floats(p) for p in params)
    value = sympy.sympify(params)
    if value.free_symbols:
        from ncsym.core.errors import DomainError

        names = ", ".join(sorted(str(s) for s in value.free_symbols))
        raise DomainError(f"kernel parameter {value} is symbolic ({names}); substitute values first")
    number = complex(sympy.N(value, 20))
    return number.real if number.imag == 0 else number


# -- helpers ------------------------------------------------------------------------------

def _single_piece(act: Activation) -> sympy.Expr | None:
    if act.deltas or len(act.pieces) != 1:
        return None
    return act.pieces[0].expr


def _terms(expr: sympy.Expr) -> list[tuple[sympy.Expr, sympy.Expr]]:
    """(x-free coefficient, x-dependent factor) for each additive term of expand(expr)."""
    out = []
    for term in sympy.Add.make_args(sympy.expand(expr)):
        coeff, dep = term.as_independent(x, as_Add=False)
        out.append((coeff, dep))
    return out


def _linear_slope(arg: sympy.Expr) -> sympy.Expr | None:
    """b when arg == b*x with b free of x, else None."""
    slope = sympy.simplify(arg / x)
    return slope if not slope.has(x) and slope != 0 else None


def _real(value: sympy.Expr) -> bool:
    return value.is_real is not False and not value.has(sympy.I)


# -- piecewise linear with one breakpoint at 0 (the arc-cosine family) --------------------

def _recognize_piecewise_linear(act: Activation) -> Any:
    pieces = act.pieces
    if len(pieces) == 1:
        left = right = pieces[0].expr
    elif len(pieces) == 2 and pieces[0].hi == 0:
        left, right = pieces[0].expr, pieces[1].expr
    else:
        return None
    coefficients = []
    for expr in (right, left):
        if not expr.is_polynomial(x):
            return None
        poly = sympy.Poly(expr, x)
        if poly.degree() > 1:
            return None
        slope, value = poly.coeff_monomial(x), poly.coeff_monomial(1)
        if not (_real(slope) and _real(value)):
            return None
        coefficients += [sympy.nsimplify(slope) if slope.is_Float else slope, value]
    delta = sympy.Integer(0)
    for d in act.deltas:
        if d.point != 0 or d.order != 0:
            return None
        delta += d.coeff
    R, r, L, l = coefficients
    if (R, r, L, l, delta) == (0, 0, 0, 0, 0):
        return None
    return (R, r, L, l, delta)


def _odd_even_weights(params: Any) -> tuple:
    """(alpha, beta, gamma, e, d): sigma = alpha x + beta |x| + gamma sign(x) + e + d delta(x)."""
    R, r, L, l, d = params
    return (R + L) / 2, (R - L) / 2, (r - l) / 2, (r + l) / 2, d


def _piecewise_linear_symbolic(params: Any, c: Any, q1: Any, q2: Any) -> sympy.Expr:
    # Odd atoms (x, sign x) and even atoms (|x|, 1, delta) are orthogonal under (u, v) -> (-u, -v).
    alpha, beta, gamma, e, d = _odd_even_weights(params)
    s = sympy.sqrt(q1 * q2)
    rho = c / s
    root = sympy.sqrt(1 - rho**2)
    arcsin = sympy.asin(rho)
    total = alpha**2 * c + gamma**2 * 2 / _pi * arcsin
    total += alpha * gamma * c * sympy.sqrt(2 / _pi) * (1 / sympy.sqrt(q1) + 1 / sympy.sqrt(q2))
    total += beta**2 * s * 2 / _pi * (root + rho * arcsin) + e**2
    total += beta * e * sympy.sqrt(2 / _pi) * (sympy.sqrt(q1) + sympy.sqrt(q2))
    if d != 0:
        total += d**2 / (2 * _pi * s * root)
        total += d * e * (1 / sympy.sqrt(q1) + 1 / sympy.sqrt(q2)) / sympy.sqrt(2 * _pi)
        total += d * beta * (sympy.sqrt(q1 / q2) + sympy.sqrt(q2 / q1)) * root / _pi
    return total


def _g_small(t: np.ndarray) -> np.ndarray:
    """G(t) = sin t - t cos t for 0 <= t <= 0.3 by its Taylor series (the direct form cancels)."""
    t2 = t * t
    # sum_{k>=1} (-1)^(k+1) 2k t^(2k+1)/(2k+1)!, Horner in t^2; 8 terms reach 1e-25 at t = 0.3
    acc = np.zeros_like(t)
    for k in range(8, 0, -1):
        acc = acc * t2 + (-1) ** (k + 1) * 2 * k / math.factorial(2 * k + 1)
    return acc * t * t2


def _angles(rho: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arccos(rho), arccos(-rho), sqrt(1 - rho^2)), each accurate to a few ulps on [-1, 1].

    1 -+ rho are exact near +-1 (Sterbenz), and arccos(rho) = 2 atan2(sqrt(1 - rho), sqrt(1 + rho))
    keeps relative accuracy at both ends (numpy's arccos is also several times slower).
    """
    root_minus, root_plus = np.sqrt(1.0 - rho), np.sqrt(1.0 + rho)
    theta = 2.0 * np.arctan2(root_minus, root_plus)
    theta_c = 2.0 * np.arctan2(root_plus, root_minus)
    return theta, theta_c, root_minus * root_plus


def _arc_cosine_pair(rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(G(arccos(-rho)), G(arccos(rho))), G(t) = sin t - t cos t, without cancellation.

    2 pi E[relu(u) relu(v)] = G(arccos(-rho)); 2 pi E[relu(u) relu(-v)] = G(arccos(rho)).
    With sin t = sqrt(1 - rho^2) and cos t = -+rho the direct forms lose at most a few ulps
    except for small t (|rho| near 1), where the series takes over.
    """
    theta, theta_c, root = _angles(rho)
    plus = root + theta_c * rho
    minus = root - theta * rho
    for values, angle in ((plus, theta_c), (minus, theta)):
        small = angle < 0.3
        if small.any():
            values[small] = _g_small(angle[small])
    return plus, minus


def _piecewise_linear_numeric(params: Any, rho: np.ndarray, q1: Any, q2: Any) -> np.ndarray:
    R, r, L, l, d = params
    alpha, beta, gamma, e, _ = _odd_even_weights(params)
    s = np.sqrt(q1 * q2)
    rho = np.clip(rho, -1.0, 1.0)
    root = np.sqrt((1.0 - rho) * (1.0 + rho))  # sqrt(1 - rho^2); 1 -+ rho are exact near +-1
    total = np.zeros_like(rho)
    # Each part is summed in the form whose terms share a sign, so nothing cancels.
    if R != 0 or L != 0:
        if R * L <= 0:  # relu, abs, relu(-x): arc-cosine form, all terms >= 0
            plus, minus = _arc_cosine_pair(rho)
            total += s * ((R * R + L * L) * plus - 2.0 * R * L * minus) / _TWO_PI
        else:  # identity-like: alpha^2 c plus the even part E|u||v| > 0
            total += s * (alpha * alpha * rho + beta * beta * (2.0 / math.pi) * (root + rho * np.arcsin(rho)))
    if r != 0 or l != 0:
        if r * l >= 0:  # step-like: orthant probabilities, all terms >= 0
            theta, theta_c, _ = _angles(rho)
            total += ((r * r + l * l) * theta_c + 2.0 * r * l * theta) / _TWO_PI
        else:  # sign-like
            total += gamma * gamma * (2.0 / math.pi) * np.arcsin(rho) + e * e
    if (R != 0 or L != 0) and (r != 0 or l != 0):
        total += (np.sqrt(q1) + np.sqrt(q2)) * ((R * r - L * l) * (1.0 + rho) + (R * l - L * r) * (1.0 - rho)) / (2.0 * _SQRT_2PI)
    if d != 0:
        total = total + d * d / (_TWO_PI * s * root)
        total += d * e * (1.0 / np.sqrt(q1) + 1.0 / np.sqrt(q2)) / _SQRT_2PI
        total += d * beta * (np.sqrt(q1 / q2) + np.sqrt(q2 / q1)) * root / math.pi
    return total


# -- erf, with odd Gaussian bumps x exp(-e x^2) (the derivative of gelu) ---------------------

def _recognize_erf(act: Activation) -> Any:
    expr = _single_piece(act)
    if expr is None or not expr.has(sympy.erf):
        return None
    const, atoms, bumps = sympy.Integer(0), {}, {}
    for coeff, dep in _terms(expr):
        if not _real(coeff):
            return None
        if dep == 1:
            const += coeff
        elif isinstance(dep, sympy.erf) and (b := _linear_slope(dep.args[0])) is not None and _real(b):
            atoms[b] = atoms.get(b, 0) + coeff
        elif (e := _odd_bump_rate(dep)) is not None:
            bumps[e] = bumps.get(e, 0) + coeff
        else:
            return None
    atoms = tuple((a, b) for b, a in atoms.items() if a != 0)
    bumps = tuple((d, e) for e, d in bumps.items() if d != 0)
    return (const, atoms, bumps) if atoms else None


def _odd_bump_rate(dep: sympy.Expr) -> sympy.Expr | None:
    """e when dep == x * exp(-e x^2) with e > 0, else None."""
    rest = sympy.simplify(dep / x)
    if not isinstance(rest, sympy.exp):
        return None
    e = -sympy.expand(rest.args[0] / x**2)
    return e if not e.has(x) and _real(e) and e.is_positive else None


# For (u, v) ~ N(0, [[q1, c], [c, q2]]) and D = (1 + q1)(1 + q2) - c^2 (Gaussian integrals,
# with E[Phi(u) | v] = Phi(alpha v) and Stein's identity for the first):
#   E[Phi(u) v phi(v)]   = c / (2 pi (1 + q2) sqrt(D)),
#   E[u phi(u) v phi(v)] = c / (2 pi D^(3/2)).
# Scaled arguments reduce to these: erf(b u) = 2 Phi(sqrt2 b u) - 1 and
# v exp(-e v^2) = sqrt(pi / e) v' phi(v') with v' = sqrt(2 e) v.

def _erf_symbolic(params: Any, c: Any, q1: Any, q2: Any) -> sympy.Expr:
    return _erf_kernel(params, c, q1, q2, sympy.sqrt, sympy.asin, _pi)


def _erf_numeric(params: Any, rho: np.ndarray, q1: Any, q2: Any) -> np.ndarray:
    # |asin argument| < 1 strictly for |rho| <= 1, so no clipping is needed.
    c = rho * np.sqrt(q1 * q2)
    return np.broadcast_to(_erf_kernel(params, c, q1, q2, np.sqrt, np.arcsin, math.pi), np.shape(rho))


def _erf_kernel(params: Any, c: Any, q1: Any, q2: Any, sqrt: Callable, asin: Callable, pi: Any) -> Any:
    """One formula for both the exact (sympy) and the float64 (numpy) kernel."""
    const, atoms, bumps = params
    total = const**2 + 0 * c  # 0 * c: an array of the right shape in float mode, 0 in sympy
    for a_i, b_i in atoms:
        for a_j, b_j in atoms:
            total = total + a_i * a_j * 2 / pi * asin(2 * b_i * b_j * c / sqrt((1 + 2 * b_i**2 * q1) * (1 + 2 * b_j**2 * q2)))

    def phi_times_bump(b, e, qa, qb):  # E[Phi(b u) v exp(-e v^2)], var u = qa, var v = qb
        Q1, Q2, C = b**2 * qa, 2 * e * qb, b * sqrt(2 * e) * c
        return sqrt(pi / e) * C / (2 * pi * (1 + Q2) * sqrt((1 + Q1) * (1 + Q2) - C**2))

    for a, b in atoms:
        for d, e in bumps:
            # erf(b u) v e^{-e v^2} and its mirror; the constant -1 of erf meets an odd bump: 0.
            total = total + 2 * a * d * (phi_times_bump(sqrt(2) * b, e, q1, q2) + phi_times_bump(sqrt(2) * b, e, q2, q1))
    for d_i, e_i in bumps:
        for d_j, e_j in bumps:
            Q1, Q2, C = 2 * e_i * q1, 2 * e_j * q2, sqrt(4 * e_i * e_j) * c
            total = total + d_i * d_j * sqrt(pi / e_i) * sqrt(pi / e_j) * C / (2 * pi * sqrt((1 + Q1) * (1 + Q2) - C**2) ** 3)
    return total


# -- gelu: x Phi(beta x) ------------------------------------------------------------------

def _recognize_gelu(act: Activation) -> Any:
    expr = _single_piece(act)
    if expr is None or not expr.has(sympy.erf):
        return None
    const, linear, atoms = sympy.Integer(0), sympy.Integer(0), {}
    for coeff, dep in _terms(expr):
        if not _real(coeff):
            return None
        if dep == 1:
            const += coeff
        elif dep == x:
            linear += coeff
        elif dep.is_Mul and len(dep.args) == 2 and x in dep.args:
            erf_part = dep.args[0] if dep.args[1] == x else dep.args[1]
            if not isinstance(erf_part, sympy.erf) or (b := _linear_slope(erf_part.args[0])) is None or not _real(b):
                return None
            # x erf(b x) = 2 x Phi(sqrt(2) b x) - x
            beta = sympy.sqrt(2) * b
            atoms[beta] = atoms.get(beta, 0) + 2 * coeff
            linear -= coeff
        else:
            return None
    atoms = tuple((w, beta) for beta, w in atoms.items() if w != 0)
    return (const, linear, atoms) if atoms else None


def _gelu_pair_symbolic(bi: Any, bj: Any, c: Any, q1: Any, q2: Any) -> sympy.Expr:
    A, B = 1 + bi**2 * q1, 1 + bj**2 * q2
    orthant = sympy.Rational(1, 4) + sympy.asin(bi * bj * c / sympy.sqrt(A * B)) / (2 * _pi)
    return c * orthant + bi * bj * (q1 * q2 - c**2 + c**2 / A + c**2 / B) / (2 * _pi * sympy.sqrt(A * B - bi**2 * bj**2 * c**2))


def _gelu_mean_symbolic(beta: Any, q: Any) -> sympy.Expr:
    return beta * q / sympy.sqrt(2 * _pi * (1 + beta**2 * q))


def _gelu_symbolic(params: Any, c: Any, q1: Any, q2: Any) -> sympy.Expr:
    const, linear, atoms = params
    total = const**2 + linear**2 * c
    for w_j, b_j in atoms:
        total += const * w_j * (_gelu_mean_symbolic(b_j, q1) + _gelu_mean_symbolic(b_j, q2))
        total += linear * w_j * c  # E[u f_j(v)] + E[f_j(u) v] = c/2 + c/2
        for w_i, b_i in atoms:
            total += w_i * w_j * _gelu_pair_symbolic(b_i, b_j, c, q1, q2)
    return total


def _gelu_numeric(params: Any, rho: np.ndarray, q1: Any, q2: Any) -> np.ndarray:
    const, linear, atoms = params
    root_q = np.sqrt(q1 * q2)
    c = rho * root_q
    c2 = c * c
    gap = (q1 * q2) * ((1.0 - rho) * (1.0 + rho))  # q1 q2 - c^2 without cancellation
    total = const * const + (linear * linear) * c
    for w_j, b_j in atoms:
        mean1 = b_j * q1 / np.sqrt(_TWO_PI * (1.0 + b_j * b_j * q1))
        mean2 = b_j * q2 / np.sqrt(_TWO_PI * (1.0 + b_j * b_j * q2))
        total = total + const * w_j * (mean1 + mean2) + (linear * w_j) * c
        for w_i, b_i in atoms:
            A, B = 1.0 + b_i * b_i * q1, 1.0 + b_j * b_j * q2
            bb = b_i * b_j
            # |bb c| / sqrt(A B) < 1 strictly, so arcsin needs no clipping
            orthant = 0.25 + np.arcsin((bb / np.sqrt(A * B)) * c) / _TWO_PI
            rest = (gap + c2 * (1.0 / A + 1.0 / B)) / np.sqrt(A * B - (bb * bb) * c2)
            total = total + w_i * w_j * (c * orthant + (bb / _TWO_PI) * rest)
    return total


# -- exponential sums: sum_j C_j exp(lambda_j x) ---------------------------------------------

def _recognize_exponential(act: Activation) -> Any:
    expr = _single_piece(act)
    if expr is None or expr.is_polynomial(x):
        return None
    if not expr.has(sympy.exp, sympy.sin, sympy.cos, sympy.sinh, sympy.cosh):
        return None
    rewritten = sympy.expand(expr.rewrite(sympy.exp))
    atoms: dict[sympy.Expr, sympy.Expr] = {}
    for coeff, dep in _terms(rewritten):
        if dep == 1:
            rate = sympy.Integer(0)
        else:
            dep = sympy.powsimp(dep)
            if not isinstance(dep, sympy.exp):
                return None
            argument = sympy.expand(dep.args[0])
            if not argument.is_polynomial(x) or sympy.degree(argument, x) != 1:
                return None
            rate = argument.coeff(x, 1)
            coeff = coeff * sympy.exp(argument.coeff(x, 0))
        atoms[rate] = atoms.get(rate, 0) + coeff
    atoms = tuple((sympy.simplify(w), lam) for lam, w in atoms.items())
    atoms = tuple((w, lam) for w, lam in atoms if w != 0)
    if not atoms or all(lam == 0 for _, lam in atoms):
        return None
    return atoms


def _exponential_symbolic(params: Any, c: Any, q1: Any, q2: Any) -> sympy.Expr:
    total = sympy.Integer(0)
    for w_i, l_i in params:
        for w_j, l_j in params:
            total += w_i * w_j * sympy.exp(l_i**2 * q1 / 2 + l_j**2 * q2 / 2 + l_i * l_j * c_sym)
    total = sympy.expand(total)
    if total.has(sympy.I):
        total = sympy.expand(sympy.expand_complex(total))
    return _fold_hyperbolic(total).subs(c_sym, c)


def _fold_hyperbolic(expr: sympy.Expr) -> sympy.Expr:
    """Group sum_k D_k exp(m_k c) by rate and fold D (e^{mc} +- e^{-mc}) into cosh / sinh."""
    by_rate: dict[sympy.Expr, sympy.Expr] = {}
    for term in sympy.Add.make_args(expr):
        coeff, dep = term.as_independent(c_sym, as_Add=False)
        dep = sympy.powsimp(dep)
        if dep == 1:
            rate = sympy.Integer(0)
        elif isinstance(dep, sympy.exp) and sympy.expand(dep.args[0]).is_polynomial(c_sym) \
                and sympy.degree(dep.args[0], c_sym) == 1 and sympy.expand(dep.args[0]).coeff(c_sym, 0) == 0:
            rate = sympy.expand(dep.args[0]).coeff(c_sym, 1)
        else:
            return expr
        by_rate[rate] = by_rate.get(rate, 0) + coeff
    folded, done = sympy.Integer(0), set()
    for rate, coeff in by_rate.items():
        if rate in done:
            continue
        partner = by_rate.get(-rate)
        if rate != 0 and partner is not None and sympy.simplify(coeff - partner) == 0:
            folded += 2 * coeff * sympy.cosh(abs(rate) * c_sym)
            done |= {rate, -rate}
        elif rate != 0 and partner is not None and sympy.simplify(coeff + partner) == 0:
            sign = 1 if (rate.is_positive or rate.could_extract_minus_sign() is False) else -1
            folded += 2 * sign * coeff * sympy.sinh(sign * rate * c_sym)
            done |= {rate, -rate}
        else:
            folded += coeff * sympy.exp(rate * c_sym)
            done.add(rate)
    return folded


def _exponential_numeric(params: Any, rho: np.ndarray, q1: Any, q2: Any) -> np.ndarray:
    # sum_ij w_i w_j exp(l_i^2 q1/2 + l_j^2 q2/2 + l_i l_j c) = Re sum_B D_B exp(B c), B = l_i l_j
    c = rho * np.sqrt(q1 * q2)
    by_rate: dict[complex, Any] = {}
    for w_i, l_i in params:
        for w_j, l_j in params:
            rate = complex(l_i) * complex(l_j)
            weight = complex(w_i) * complex(w_j) * np.exp(complex(l_i) ** 2 * q1 / 2 + complex(l_j) ** 2 * q2 / 2)
            by_rate[rate] = by_rate.get(rate, 0) + weight
    total = np.zeros_like(rho)
    done = set()
    for rate, weight in by_rate.items():
        if rate in done:
            continue
        if rate.imag == 0 and rate != 0 and -rate in by_rate:
            # D+ e^{bc} + D- e^{-bc} = (D+ + D-) cosh(bc) + (D+ - D-) sinh(bc): exact, and sinh is
            # accurate for small bc where the difference of exponentials is not
            other = by_rate[-rate]
            b = rate.real
            total += np.real(weight + other) * np.cosh(b * c) + np.real(weight - other) * np.sinh(b * c)
            done |= {rate, -rate}
        elif rate.imag == 0:
            total += np.real(weight) * np.exp(rate.real * c)
            done.add(rate)
        else:
            phase = rate.imag * c
            total += np.exp(rate.real * c) * (np.real(weight) * np.cos(phase) - np.imag(weight) * np.sin(phase))
            done.add(rate)
    return total


# -- polynomials ---------------------------------------------------------------------------

def _recognize_polynomial(act: Activation) -> Any:
    expr = _single_piece(act)
    if expr is None or not expr.is_polynomial(x):
        return None
    poly = sympy.Poly(expr, x)
    if poly.degree() < 1 or not all(_real(co) for co in poly.all_coeffs()):
        return None
    return tuple(poly.all_coeffs()[::-1])  # coefficients of x^0, x^1, ...


def _polynomial_moment(coeffs: tuple, n: int, q: Any) -> sympy.Expr:
    """E[p^(n)(sqrt(q) z)] with p = sum_k coeffs[k] x^k."""
    total = sympy.Integer(0)
    for k in range(n, len(coeffs)):
        power = k - n
        if power % 2 == 0 and coeffs[k] != 0:
            falling = sympy.ff(k, n)
            total += coeffs[k] * falling * sympy.factorial2(power - 1) * q ** (power // 2)
    return total


def _polynomial_symbolic(params: Any, c: Any, q1: Any, q2: Any) -> sympy.Expr:
    degree = len(params) - 1
    total = sympy.Integer(0)
    for n in range(degree + 1):
        total += c**n / sympy.factorial(n) * _polynomial_moment(params, n, q1) * _polynomial_moment(params, n, q2)
    return sympy.expand(total)


def _polynomial_numeric(params: Any, rho: np.ndarray, q1: Any, q2: Any) -> np.ndarray:
    degree = len(params) - 1
    c = rho * np.sqrt(q1 * q2)
    total = np.zeros_like(rho)
    term_power = np.ones_like(rho)
    for n in range(degree + 1):
        total = total + term_power / math.factorial(n) * _polynomial_moment_float(params, n, q1) * _polynomial_moment_float(params, n, q2)
        term_power = term_power * c
    return total


def _polynomial_moment_float(coeffs: tuple, n: int, q: Any) -> Any:
    total = 0.0 * q
    for k in range(n, len(coeffs)):
        power = k - n
        if power % 2 == 0 and coeffs[k] != 0:
            falling = math.perm(k, n)
            double_fact = math.prod(range(power - 1, 0, -2)) if power > 0 else 1
            total = total + coeffs[k] * falling * double_fact * q ** (power // 2)
    return total


# -- Gaussian bumps: exp(-b x^2) ---------------------------------------------------------

def _recognize_gaussian_bumps(act: Activation) -> Any:
    """const + sum_j A_j exp(-b_j x^2), b_j > 0: erf' and other Gaussian-shaped activations."""
    expr = _single_piece(act)
    if expr is None or not expr.has(sympy.exp):
        return None
    const, atoms = sympy.Integer(0), {}
    for coeff, dep in _terms(expr):
        if not _real(coeff):
            return None
        if dep == 1:
            const += coeff
            continue
        if not isinstance(dep, sympy.exp):
            return None
        b = -sympy.expand(dep.args[0] / x**2)
        if b.has(x) or not _real(b) or not b.is_positive:
            return None
        atoms[b] = atoms.get(b, 0) + coeff
    atoms = tuple((a, b) for b, a in atoms.items() if a != 0)
    return (const, atoms) if atoms else None


def _gaussian_bumps_symbolic(params: Any, c: Any, q1: Any, q2: Any) -> sympy.Expr:
    # E[e^{-b u^2}] = (1 + 2 b q)^(-1/2); E[e^{-b_i u^2 - b_j v^2}] = det(I + 2 diag(b) K)^(-1/2).
    const, atoms = params
    total = const**2
    for a, b in atoms:
        total += const * a * (1 / sympy.sqrt(1 + 2 * b * q1) + 1 / sympy.sqrt(1 + 2 * b * q2))
    for a_i, b_i in atoms:
        for a_j, b_j in atoms:
            total += a_i * a_j / sympy.sqrt((1 + 2 * b_i * q1) * (1 + 2 * b_j * q2) - 4 * b_i * b_j * c**2)
    return total


def _gaussian_bumps_numeric(params: Any, rho: np.ndarray, q1: Any, q2: Any) -> np.ndarray:
    const, atoms = params
    c2 = rho * rho * q1 * q2
    total = np.full_like(rho, const * const)
    for a, b in atoms:
        total += const * a * (1.0 / np.sqrt(1.0 + 2.0 * b * q1) + 1.0 / np.sqrt(1.0 + 2.0 * b * q2))
    for a_i, b_i in atoms:
        for a_j, b_j in atoms:
            total += a_i * a_j / np.sqrt((1.0 + 2.0 * b_i * q1) * (1.0 + 2.0 * b_j * q2) - 4.0 * b_i * b_j * c2)
    return total


# -- the registry --------------------------------------------------------------------------

REGISTRY: tuple[ClosedFormEntry, ...] = (
    ClosedFormEntry(
        "piecewise_linear",
        "a relu(x) + b relu(-x) + r H(x) + l H(-x) + d delta(x): arc-cosine kernels of degree 0 and 1",
        _recognize_piecewise_linear, _piecewise_linear_symbolic, _piecewise_linear_numeric,
        singular_at_unit=lambda params: params[4] != 0,
    ),
    ClosedFormEntry(
        "erf", "const + sum_j A_j erf(b_j x) + sum_k D_k x exp(-e_k x^2): Williams' arcsine kernel "
        "plus Gaussian integrals (covers gelu')",
        _recognize_erf, _erf_symbolic, _erf_numeric,
    ),
    ClosedFormEntry(
        "gelu", "const + A x + sum_j B_j x Phi(beta_j x): orthant probability plus an algebraic term",
        _recognize_gelu, _gelu_symbolic, _gelu_numeric,
    ),
    ClosedFormEntry(
        "exponential", "sum_j C_j exp(lambda_j x), complex lambda_j: exp, sin, cos, sinh, cosh",
        _recognize_exponential, _exponential_symbolic, _exponential_numeric,
    ),
    ClosedFormEntry(
        "gaussian_bumps", "const + sum_j A_j exp(-b_j x^2), b_j > 0: Gaussian integrals (erf' = 2/sqrt(pi) e^(-x^2))",
        _recognize_gaussian_bumps, _gaussian_bumps_symbolic, _gaussian_bumps_numeric,
    ),
    ClosedFormEntry(
        "polynomial", "polynomials: sum_n c^n/n! E[p^(n)(u)] E[p^(n)(v)]",
        _recognize_polynomial, _polynomial_symbolic, _polynomial_numeric,
    ),
)


def find_closed_form(act: Activation) -> KernelForm | None:
    """The first registry entry that recognizes ``act``, with its parameters, or None.

    >>> from ncsym import zoo
    >>> find_closed_form(zoo.leaky_relu(0.1)).params
    (1, 0, 1/10, 0, 0)
    >>> find_closed_form(zoo.tanh) is None
    True
    """
    for entry in REGISTRY:
        try:
            params = entry.recognize(act)
        except (sympy.PolynomialError, sympy.GeneratorsNeeded, TypeError, ValueError):
            params = None
        if params is not None:
            return KernelForm(entry, params)
    return None
