"""Shaped networks and the Neural Covariance SDE (Li, Nica & Roy 2022), derived and simulated.

A shaped network of width n and depth d = T n has preactivations h^{l+1} = sqrt(c/n) W^l
sigma_n(h^l) with an activation that tends to the identity as n grows. Write
V_l = (c/n) sigma_n(H_l) sigma_n(H_l)^T for the 2x2 empirical kernel of two inputs (the
conditional covariance of the next layer's preactivations, with V_0 the input kernel). Given
V_l, the rows of the next layer are i.i.d. N(0, V_l), so V_{l+1} is an average of n i.i.d.
matrices: its conditional mean is c times the dual kernel of V_l and its conditional
covariance is 1/n times a fourth-moment matrix. With t = l/n, both are expanded here in
epsilon = 1/sqrt(n) by exact symbolic computation:

- drift b^{ab}(V) = the epsilon^2 coefficient of c E[sigma(u_a) sigma(u_b)] (the epsilon^1
  coefficient must vanish, which is what "shaped at the right rate" means);
- covariation d<V^{ab}, V^{cd}> = the epsilon^0 coefficient of n Cov(V^{ab}_{l+1}, V^{cd}_{l+1})
  (Wishart: V^{ac} V^{bd} + V^{ad} V^{bc});
- the correlation rho = V^{12}/sqrt(V^{11} V^{22}) and the log-norms by Ito's formula (the
  second-order term is the correction from normalizing the covariance into a correlation).

Two exact routes: shaped ReLU (s_+ max(x,0) + s_- min(x,0), s = 1 + c/sqrt(n)) through exact
orthant moments in polar coordinates, and smooth shaping s phi(x/s), s = a sqrt(n), through a
Taylor series of the activation and Gaussian polynomial moments.

Which norm: V^{aa}_l = (c/n) |sigma(h^a_l)|^2, the conditional variance of layer l+1 (V_0 is the
input kernel, i.e. the covariance of the first layer's preactivations). For the shaped ReLU
with c = 1/E[sigma(z)^2] = 2/(s_+^2 + s_-^2), log V_d is exactly a sum of d i.i.d. terms, so
log V_T is Gaussian in the limit with mean log V_0 - T and variance 2T; the preactivation norm
|h_d|^2/n differs from V_{d-1} by one chi-square factor (O(1/n) in mean and variance). With any
other weight variance (e.g. c = 2) the norm drifts by O(sqrt(n) T) unless c_+ + c_- = 0.

Main entry points: :func:`shaped_relu_sde`, :func:`smooth_sde`, :func:`derive_sde` (symbolic,
with ``.claims`` comparing MATH.md's formulas and ``.latex()``), :func:`norm_stability`,
:func:`simulate_sde` (Fisher-z coordinates, see there), :func:`sample_shaped_relu_networks`
(exact Gram-space sampling of finite networks) and :func:`crosscheck_shaped_relu` (the report).

Known finite-width biases of the limiting SDE, both derived here: the exact width-n correlation
map of the shaped ReLU is rho + f_n nu(rho)/n with f_n = 2/(s_+^2 + s_-^2) = 1 - (c_+ + c_-)/sqrt(n)
+ O(1/n) (an O(1/sqrt n) drift bias, :func:`finite_width_sde`), and the per-layer variance of
log V is (2 + 3 (s_+^2 - s_-^2)^2/(s_+^2 + s_-^2)^2)/n, an O((c_+ - c_-)^2/n) relative excess
(:func:`finite_width_log_norm_law`); the O(1/sqrt n) correction of the covariation vanishes.

>>> sde = shaped_relu_sde()
>>> sde.correlation_drift
rho*(rho - 1)*(rho + 1)/2 - (c_+ - c_-)**2*(rho*acos(rho) - sqrt(1 - rho**2))/(2*pi)
>>> sde.correlation_diffusion
1 - rho**2
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np
import sympy

from ncsym.models import sde_derivation as _d
from ncsym.models.sde_derivation import COVARIANCE, EPS, RHO, V11, V12, V22
from ncsym.symbolic.activations import Activation, activation, exact_number, x
from ncsym.core.timebound import time_limit
from ncsym.core.errors import ConvergenceError, DomainError, check_integer

__all__ = [
    "Claim", "NeuralCovarianceSDE", "derive_sde", "shaped_relu_sde", "smooth_shaped", "smooth_sde",
    "NormStability", "norm_stability", "simulate_norm_explosion", "SDEPaths", "simulate_sde",
    "finite_width_sde", "NetworkSample", "sample_shaped_relu_networks", "sample_smooth_shaped_networks",
    "Comparison", "ks_two_sample",
    "finite_width_log_norm_law", "DEFAULT_CONFIGS", "SDECrossCheckRow", "SDECrossCheck", "crosscheck_row", "crosscheck_shaped_relu",
]

#: The width symbol n shaped activations are written in (the same symbol as the zoo's default).
WIDTH = sympy.Symbol("n", positive=True)
#: Symbolic shaping constants of the shaped ReLU, s_+- = 1 + c_+-/sqrt(n).
C_PLUS, C_MINUS = sympy.symbols("c_+ c_-", real=True)
#: phi''(0) and phi'''(0) of a generic smooth shaping.
PHI2, PHI3 = sympy.symbols("phi''(0) phi'''(0)", real=True)
_WEIGHT_VARIANCES = ("normalized", "unit")
#: Time bound (seconds) on the series expansion of a user activation in 1/sqrt(n).
SERIES_SECONDS = 20.0


@dataclass(frozen=True)
class Claim:
    """A formula stated elsewhere (MATH.md) set against the one derived here."""

    name: str
    claimed: sympy.Expr
    derived: sympy.Expr
    holds: bool

    def __repr__(self) -> str:
        return f"Claim({self.name}: {'holds' if self.holds else 'FAILS'})"


@dataclass(frozen=True)
class NeuralCovarianceSDE:
    """The derived SDE of the 2x2 kernel of a shaped network, with its derivation.

    Covariance: dV^{ab} = b^{ab}(V) dt + dM^{ab}, d<M^{ab}, M^{cd}> = covariation dt, with
    entries ordered (V^{11}, V^{12}, V^{22}). Correlation: d rho = correlation_drift dt +
    correlation_diffusion dB, where correlation_drift = correlation_mean_part (first-order
    Ito term: the mean map) + correlation_ito_part (second-order term: normalization).
    ``correlation_drift`` depends on V^{11}, V^{22} unless the correlation is autonomous.
    """

    activation: Activation
    family: str
    weight_variance: str
    c_series: tuple[sympy.Expr, ...]
    mean_map_series: tuple[tuple[sympy.Expr, ...], ...]
    drift: tuple[sympy.Expr, sympy.Expr, sympy.Expr]
    covariation: sympy.Matrix
    covariation_correction: sympy.Matrix
    correlation_mean_part: sympy.Expr
    correlation_ito_part: sympy.Expr
    correlation_drift: sympy.Expr
    correlation_diffusion: sympy.Expr
    log_norm_drift: sympy.Expr
    log_norm_variance: sympy.Expr
    claims: tuple[Claim, ...] = ()
    steps: tuple[tuple[str, str], ...] = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def parameters(self) -> frozenset:
        """Free symbols other than the state (rho, V): shaping constants, a, phi derivatives."""
        exprs = [*self.drift, self.correlation_drift, self.log_norm_drift]
        state = {RHO, V11, V12, V22}
        return frozenset(set().union(*(sympy.sympify(e).free_symbols for e in exprs)) - state)

    @property
    def correlation_is_autonomous(self) -> bool:
        """True when d rho involves rho only (shaped ReLU: positively homogeneous activation)."""
        return not (self.correlation_drift.free_symbols & {V11, V22})

    @property
    def nu(self) -> sympy.Expr:
        """The mean-map part of the correlation drift (the shaped ReLU's nu(rho))."""
        return self.correlation_mean_part

    def subs(self, values: Mapping[Any, Any]) -> "NeuralCovarianceSDE":
        """The same SDE with numbers (exact) for its parameters (keys: symbols or their names).

        >>> shaped_relu_sde().subs({"c_+": 0, "c_-": -1}).parameters
        frozenset()
        """
        by_name = {str(s): s for s in self.parameters}
        mapping = {}
        for key, value in values.items():
            symbol = by_name.get(key) if isinstance(key, str) else key
            if symbol is None:
                raise DomainError(f"unknown parameter {key!r}; this SDE has {sorted(by_name)}")
            mapping[symbol] = exact_number(value)

        def s(e):
            return _d.canonical(sympy.sympify(e).subs(mapping))

        return replace(
            self,
            drift=tuple(s(e) for e in self.drift),
            covariation=self.covariation.subs(mapping),
            correlation_mean_part=s(self.correlation_mean_part),
            correlation_ito_part=s(self.correlation_ito_part),
            correlation_drift=s(self.correlation_drift),
            correlation_diffusion=s(self.correlation_diffusion),
            log_norm_drift=s(self.log_norm_drift),
            extra=_substitute_extra(self.extra, mapping),
        )

    def latex(self) -> str:
        """The derivation as a LaTeX ``align*`` block, ending with the SDEs."""
        lines = [rf"&\text{{{text}}}\\ &\quad {formula}" for text, formula in self.steps]
        return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"

    def _repr_latex_(self) -> str:
        return self.latex()

    def __repr__(self) -> str:
        return (f"NeuralCovarianceSDE({self.activation.name}; d rho = [{self.correlation_drift}] dt "
                f"+ ({self.correlation_diffusion}) dB)")


def _substitute_extra(extra: dict, mapping: dict) -> dict:
    out = dict(extra)
    if "moments" in out:
        out["moments"] = {k: sympy.sympify(v).subs(mapping) for k, v in out["moments"].items()}
    if "second_moment" in out:
        out["second_moment"] = sympy.sympify(out["second_moment"]).subs(mapping)
    return out


# ---------------------------------------------------------------------------------- derivation


def _width_to_epsilon(act: Activation, width: sympy.Symbol) -> sympy.Expr:
    # An activation free of n is allowed: the identity (a linear network) is trivially shaped,
    # anything else fails the shaping check with a message saying so.
    return act.expr.subs(width, 1 / EPS**2)


def _weight_variance(second_moment: sympy.Expr, convention: str) -> sympy.Expr:
    if convention not in _WEIGHT_VARIANCES:
        raise DomainError(f"weight_variance must be one of {_WEIGHT_VARIANCES}, got {convention!r}")
    return 1 / second_moment if convention == "normalized" else sympy.Integer(1)


def _check_shaped(series: Sequence[Sequence[sympy.Expr]], act: Activation) -> None:
    for (a, b), coeffs in zip(_d.PAIRS, series):
        if not _d.is_zero(coeffs[0] - _d.entry(a, b)):
            raise DomainError(f"{act.name}: the infinite-width kernel map is not the identity "
                              f"(order-0 term of V^{a + 1}{b + 1} is {coeffs[0]}); the activation is not shaped")
        if not _d.is_zero(coeffs[1]):
            raise DomainError(f"{act.name}: the kernel map moves by O(1/sqrt(n)) per layer (term {coeffs[1]} in "
                              f"V^{a + 1}{b + 1}), so depth ~ width has no SDE limit: shape at rate 1/sqrt(n) "
                              "with a normalized weight variance")


def _homogeneous_route(act: Activation, slopes, convention: str):
    """Exact orthant moments of s_+ max(x,0) + s_- min(x,0), expanded in epsilon."""
    s_plus, s_minus = slopes
    m = {(i, j): _d.homogeneous_moment(s_plus, s_minus, i, j)
         for (i, j) in ((1, 1), (2, 0), (0, 2), (4, 0), (3, 1), (2, 2), (1, 3), (0, 4))}
    second = sympy.factor(m[(2, 0)])
    c = _weight_variance(second, convention)
    # Positive homogeneity: E[phi(u)^i phi(v)^j] = V11^(i/2) V22^(j/2) m_ij(rho).
    scale = {(i, j): V11 ** sympy.Rational(i, 2) * V22 ** sympy.Rational(j, 2) for (i, j) in m}
    mean = [c * second * V11, c * m[(1, 1)] * sympy.sqrt(V11 * V22), c * second * V22]
    mean_series = tuple(tuple(_in_covariance(e) for e in _d.taylor_coefficients(expr, 2)) for expr in mean)
    # n Cov(V^{ab}_{l+1}, V^{cd}_{l+1}) = c^2 (E[phi_a phi_b phi_c phi_d] - E[phi_a phi_b] E[phi_c phi_d])
    powers = {0: (2, 0), 1: (1, 1), 2: (0, 2)}
    cov = [[None] * 3 for _ in range(3)]
    for i in range(3):
        for j in range(i, 3):
            pi, pj = powers[i], powers[j]
            joint = (pi[0] + pj[0], pi[1] + pj[1])
            value = c**2 * (m[joint] * scale[joint] - m[pi] * scale[pi] * m[pj] * scale[pj])
            cov[i][j] = cov[j][i] = tuple(_in_covariance(e) for e in _d.taylor_coefficients(value, 1))
    return c, mean_series, cov, {"moments": m, "second_moment": second}


def _in_covariance(expr: sympy.Expr) -> sympy.Expr:
    """Write rho as V12/sqrt(V11 V22) (no simplification needed: the symbols are positive)."""
    root = sympy.sqrt(V11 * V22 - V12**2) / sympy.sqrt(V11 * V22)
    expr = sympy.sympify(expr).subs(sympy.sqrt(1 - RHO**2), root)
    return sympy.expand(expr.subs(RHO, V12 / sympy.sqrt(V11 * V22)))


def _polynomial_route(act: Activation, convention: str):
    """Taylor series of sigma in epsilon (each coefficient a polynomial in x) and Isserlis."""
    expr = act.expr
    try:
        with time_limit(SERIES_SECONDS):
            coeffs = _d.series_coefficients(expr, 2)
    except TimeoutError as exc:
        raise ConvergenceError(f"{act.name}: the series in 1/sqrt(n) took over {SERIES_SECONDS} s") from exc
    except Exception as exc:  # sympy raises several types when no series exists
        raise DomainError(f"{act.name}: no series in 1/sqrt(n) around the identity ({exc})") from exc
    for k, q in enumerate(coeffs):
        if not q.is_polynomial(x):
            raise DomainError(f"{act.name}: the order-{k} term {q} of the expansion in 1/sqrt(n) is not a "
                              "polynomial in x; smooth shaping needs sigma_n(x) = x + O(1/sqrt(n)) uniformly on compacts")
    if not _d.is_zero(coeffs[0] - x):
        raise DomainError(f"{act.name} does not tend to the identity as n grows (limit {coeffs[0]})")
    u, v = sympy.symbols("u v", real=True)
    truncated = sum(coeff * EPS**k for k, coeff in enumerate(coeffs))
    su, sv = truncated.subs(x, u), truncated.subs(x, v)

    def expect(e):
        trunc = sympy.expand(e)
        trunc = sum(trunc.coeff(EPS, k) * EPS**k for k in range(3))
        return _d.polynomial_expectation(trunc, u, v)

    second = sympy.expand(expect(su * su).subs({V11: 1, V12: 1, V22: 1}))
    c = _weight_variance(second, convention)
    mean = [c * expect(su * su), c * expect(su * sv), c * expect(sv * sv)]
    mean_series = tuple(tuple(_d.taylor_coefficients(e, 2)) for e in mean)
    sides = {0: su * su, 1: su * sv, 2: sv * sv}
    cov = [[None] * 3 for _ in range(3)]
    for i in range(3):
        for j in range(i, 3):
            value = c**2 * (expect(sides[i] * sides[j]) - expect(sides[i]) * expect(sides[j]))
            cov[i][j] = cov[j][i] = tuple(_d.taylor_coefficients(value, 1))
    return c, mean_series, cov, {"series": tuple(coeffs), "second_moment": second}


def derive_sde(act: Any, *, width: sympy.Symbol = WIDTH, weight_variance: str = "normalized") -> NeuralCovarianceSDE:
    """Derive the Neural Covariance SDE of a shaped activation sigma_n (n = ``width`` symbolic).

    ``weight_variance="normalized"`` uses c = 1/E[sigma_n(z)^2] (MATH.md's convention),
    ``"unit"`` uses c = 1. Positively homogeneous piecewise-linear activations take the exact
    orthant-moment route; others need a series in 1/sqrt(n) whose terms are polynomials in x.

    >>> from ncsym import zoo
    >>> derive_sde(zoo.shaped_relu(0, -1)).correlation_mean_part
    -(rho*acos(rho) - sqrt(1 - rho**2))/(2*pi)
    """
    return _derive_cached(activation(act), width, weight_variance)


@lru_cache(maxsize=64)
def _derive_cached(act: Activation, width: sympy.Symbol, weight_variance: str) -> NeuralCovarianceSDE:
    eps_act = Activation(_width_to_epsilon(act, width), name=act.name)
    slopes = _d.homogeneous_slopes(eps_act)
    if slopes is not None:
        family = "shaped-relu"
        c, mean_series, cov, details = _homogeneous_route(eps_act, slopes, weight_variance)
    else:
        family = "smooth"
        c, mean_series, cov, details = _polynomial_route(eps_act, weight_variance)
    _check_shaped(mean_series, act)
    drift = tuple(sympy.factor(row[2]) for row in mean_series)
    covariation = sympy.Matrix(3, 3, lambda i, j: sympy.factor(cov[i][j][0]))
    correction = sympy.Matrix(3, 3, lambda i, j: cov[i][j][1])
    c_series = tuple(_d.taylor_coefficients(c, 2))

    # Ito: correlation and log-norm.
    rho_of_v = V12 / sympy.sqrt(V11 * V22)
    gradient = [sympy.diff(rho_of_v, v) for v in COVARIANCE]
    mean_part = _d.at_correlation(sum(g * b for g, b in zip(gradient, drift)))
    full_drift, quadratic = _d.ito(rho_of_v, drift, covariation)
    full_drift, quadratic = _d.at_correlation(full_drift), _d.at_correlation(quadratic)
    ito_part = _d.canonical(full_drift - mean_part)
    diffusion = _sqrt_of_square(quadratic)
    log_drift, log_variance = _d.ito(sympy.log(V11), drift, covariation)
    correlation_drift = _tidy(mean_part) + _tidy(ito_part)

    steps = _steps(act, family, weight_variance, c, mean_series, covariation, mean_part, ito_part,
                   correlation_drift, diffusion, log_drift, log_variance, details)
    sde = NeuralCovarianceSDE(
        activation=act, family=family, weight_variance=weight_variance, c_series=c_series,
        mean_map_series=mean_series, drift=drift, covariation=covariation, covariation_correction=correction,
        correlation_mean_part=_tidy(mean_part), correlation_ito_part=ito_part,
        correlation_drift=correlation_drift, correlation_diffusion=diffusion,
        log_norm_drift=log_drift, log_norm_variance=log_variance, steps=steps, extra=details)
    return sde


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    return _d.deatomize(sympy.factor(sympy.cancel(sympy.expand(_d.atomize(expr)))))


def _sqrt_of_square(q: sympy.Expr) -> sympy.Expr:
    # The correlation's quadratic variation is (1 - rho^2)^2 for the Wishart covariation;
    # taking the root by hand keeps |rho| < 1 implicit instead of an Abs.
    if _d.is_zero(q - (1 - RHO**2) ** 2):
        return 1 - RHO**2
    return sympy.sqrt(q)


def _steps(act, family, convention, c, mean_series, covariation, mean_part, ito_part, drift, diffusion,
           log_drift, log_variance, details):
    L = sympy.latex
    eps = r"\varepsilon = n^{-1/2}"
    steps = [("Activation", rf"\sigma_n(x) = {act.latex()}, \quad {eps}, \quad t = \ell / n")]
    if family == "shaped-relu":
        m = details["moments"]
        kernel = L(m[(1, 1)].subs(EPS, sympy.Symbol("varepsilon")))
        steps.append(("Exact dual kernel (orthant moments, unit variances)",
                      rf"\mathbb{{E}}[\sigma(u)\sigma(v)] = {kernel}"))
    else:
        series = details["series"]
        expansion = " + ".join(rf"\varepsilon^{{{k}}} \left({L(q)}\right)" for k, q in enumerate(series) if q != 0)
        steps.append(("Series of the activation", rf"\sigma_n(x) = {expansion} + O(\varepsilon^3)"))
    weight = r"c = 1/\mathbb{E}[\sigma_n(z)^2]" if convention == "normalized" else "c = 1"
    steps.append(("Weight variance", rf"{weight} = {L(sympy.series(c, EPS, 0, 3).removeO())} + O(\varepsilon^3)"))
    names = ["V^{11}", "V^{12}", "V^{22}"]
    for name, row in zip(names, mean_series):
        steps.append((f"Mean map of {name.replace('^', '').replace('{', '').replace('}', '')} (orders 0, 1, 2 in epsilon)",
                      rf"\mathbb{{E}}[{name}_{{\ell+1}} \mid V_\ell] = {L(row[0])} + {L(row[1])}\,\varepsilon + "
                      rf"\left({L(row[2])}\right)\varepsilon^2 + O(\varepsilon^3)"))
    steps.append(("Conditional covariance at order 1/n (entries V11, V12, V22)",
                  rf"n\,\mathrm{{Cov}}(V_{{\ell+1}} \mid V_\ell) \to {L(covariation)}"))
    steps.append(("Correlation: first-order (mean map) part of the drift", rf"\nu = {L(mean_part)}"))
    steps.append(("Correlation: second-order Ito term from normalizing V into rho", L(ito_part)))
    steps.append(("Correlation SDE", rf"d\rho = \left[{L(drift)}\right] dt + \left({L(diffusion)}\right) dB_t"))
    steps.append(("Log-norm SDE", rf"d \log V^{{11}} = \left({L(log_drift)}\right) dt + \sqrt{{{L(log_variance)}}}\, dW_t"))
    return tuple(steps)


# ----------------------------------------------------------------------------- named families


def shaped_relu_sde(c_plus: Any = C_PLUS, c_minus: Any = C_MINUS, *,
                    weight_variance: str = "normalized") -> NeuralCovarianceSDE:
    """The SDE of the shaped ReLU s_+ max(x,0) + s_- min(x,0), s = 1 + c/sqrt(n), checked against MATH.md.

    The claims of MATH.md section 6 (nu, the Ito term, the diffusion, the log-normal norm) are
    compared symbolically with the derived formulas in ``.claims``.

    >>> sde = shaped_relu_sde(0, -1)
    >>> [c.holds for c in sde.claims]
    [True, True, True, True, True]
    """
    from ncsym.symbolic import zoo
    act = zoo.shaped_relu(c_plus, c_minus, WIDTH)
    sde = derive_sde(act, weight_variance=weight_variance)
    cp, cm = exact_number(c_plus), exact_number(c_minus)
    nu_claim = (cp - cm) ** 2 / (2 * sympy.pi) * (sympy.sqrt(1 - RHO**2) - RHO * sympy.acos(RHO))
    claims = (
        _claim("nu(rho)", nu_claim, sde.correlation_mean_part),
        _claim("Ito term -rho(1-rho^2)/2", -RHO * (1 - RHO**2) / 2, sde.correlation_ito_part),
        _claim("diffusion 1-rho^2", 1 - RHO**2, sde.correlation_diffusion),
        _claim("log-norm drift -1", sympy.Integer(-1), sde.log_norm_drift),
        _claim("log-norm variance 2", sympy.Integer(2), sde.log_norm_variance),
    )
    return replace(sde, claims=claims)


def _claim(name: str, claimed: sympy.Expr, derived: sympy.Expr) -> Claim:
    return Claim(name, sympy.sympify(claimed), derived, _d.is_zero(sympy.sympify(claimed) - derived))


def _phi_derivatives(phi: Activation) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr, sympy.Expr]:
    """phi(0), phi'(0), phi''(0), phi'''(0) of the piece containing 0 (must be smooth there)."""
    if any(p == 0 for p in phi.breakpoints) or phi.deltas:
        raise DomainError(f"{phi.name} has a kink or jump at 0; smooth shaping needs phi smooth at 0")
    piece = next(p for p in phi.pieces
                 if (p.lo == -sympy.oo or p.lo < 0) and (p.hi == sympy.oo or p.hi > 0))
    values = []
    for k in range(4):
        derivative = sympy.diff(piece.expr, x, k)
        value = derivative.subs(x, 0)
        if value.has(sympy.nan, sympy.zoo) or value.is_finite is False:
            value = sympy.limit(derivative, x, 0)
        values.append(sympy.simplify(value))
    return tuple(values)


def smooth_shaped(phi: Any, a: Any = 1, n: Any = WIDTH) -> Activation:
    """sigma_s(x) = s phi(x/s), s = a sqrt(n), for phi smooth at 0 with phi(0) = 0, phi'(0) = 1.

    ``n`` may stay symbolic (the default ncsym.models.sde.WIDTH). Raises DomainError when phi(0) != 0
    or phi'(0) != 1 (checked symbolically).

    >>> smooth_shaped("tanh", 2, 100).expr
    20*tanh(x/20)
    >>> smooth_shaped("exp")
    Traceback (most recent call last):
    ...
    ncsym.core.errors.DomainError: smooth shaping needs phi(0) = 0, but phi(0) = 1 for exp
    """
    phi = activation(phi)
    a, n = exact_number(a), exact_number(n)
    if a.is_number and not a > 0:
        raise DomainError(f"smooth shaping needs a > 0, got {a}")
    if n.is_number and not n > 0:
        raise DomainError(f"smooth shaping needs a positive width n, got {n}")
    value, slope, _, _ = _phi_derivatives(phi)
    if not _d.is_zero(value):
        raise DomainError(f"smooth shaping needs phi(0) = 0, but phi(0) = {value} for {phi.name}")
    if not _d.is_zero(slope - 1):
        raise DomainError(f"smooth shaping needs phi'(0) = 1, but phi'(0) = {slope} for {phi.name}")
    s = a * sympy.sqrt(n)
    return Activation(s * phi.expr.subs(x, x / s), name=f"shaped[{phi.name}](a={a}, n={n})")


def smooth_sde(phi: Any = None, a: Any = 1, *, weight_variance: str = "normalized") -> NeuralCovarianceSDE:
    """The SDE of the smooth shaping s phi(x/s), s = a sqrt(n), checked against MATH.md's b^{ab}.

    ``phi=None`` derives the generic formula in the symbols PHI2 = phi''(0), PHI3 = phi'''(0)
    (phi replaced by its cubic Taylor polynomial, which is all the drift depends on).

    >>> sde = smooth_sde("tanh")
    >>> sde.drift[1]
    -V^{12}*(V^{11} + V^{22} - 2)
    >>> [c.holds for c in smooth_sde().claims]
    [True, True]
    """
    if phi is None:
        phi = Activation(x + PHI2 * x**2 / 2 + PHI3 * x**3 / 6, name="phi")
    phi = activation(phi)
    a = exact_number(a)
    _, _, p2, p3 = _phi_derivatives(phi)
    try:
        sde = derive_sde(smooth_shaped(phi, a, WIDTH), weight_variance=weight_variance)
    except ConvergenceError:
        # Fallback: the drift and covariation depend on phi only through its cubic Taylor
        # polynomial at 0 (higher terms enter at O(n^-3/2)), whose coefficients are cheap.
        cubic = Activation(x + p2 * x**2 / 2 + p3 * x**3 / 6, name=f"taylor3[{phi.name}]")
        sde = derive_sde(smooth_shaped(cubic, a, WIDTH), weight_variance=weight_variance)
    beta = sympy.Rational(3, 4) * p2**2 + p3
    kappa = 1 if weight_variance == "normalized" else 0
    claimed = [
        (p2**2 / 4 * (V11 * V22 + 2 * V12**2) + p3 / 2 * V12 * (V11 + V22) - kappa * beta * V12) / a**2,
        sympy.Matrix(3, 3, lambda i, j: _d.wishart_covariation(i, j)),
    ]
    claims = (
        _claim("b^{12} (MATH.md section 6)", claimed[0], sde.drift[1]),
        Claim("Wishart covariation", claimed[1], sde.covariation,
              all(_d.is_zero(e) for e in claimed[1] - sde.covariation)),
    )
    extra = dict(sde.extra, phi=phi, phi2=p2, phi3=p3, beta=sympy.simplify(beta), a=a)
    return replace(sde, claims=claims, extra=extra)


# ------------------------------------------------------------------------------ norm stability


@dataclass(frozen=True)
class NormStability:
    """Finite-time blow-up of the norm V = V^{11} under smooth shaping, with its proof data.

    Derived from the SDE dV = b(V) dt + sqrt(2) V dW with b(V) = A2 V^2 + A1 V read off the
    derived drift b^{11}. The reciprocal Z = 1/V solves the linear SDE
    dZ = ((2 - A1) Z - A2) dt - sqrt(2) Z dW, so Z_t = E_t (1/V_0 - A2 I_t) with
    E_t = exp((1 - A1) t - sqrt(2) W_t) and I_t = int_0^t E_s^{-1} ds, and V explodes exactly
    when A2 I_t reaches 1/V_0. Hence: no explosion if A2 <= 0; if A2 > 0, explosion before any
    t > 0 with positive probability, and (Dufresne: I_oo = 1/Gamma(1 - A1) in law)
    P(explosion ever | V_0) = P(Gamma(1 - A1) < A2 V_0), a regularized lower incomplete gamma.
    A2 = beta / a^2 with beta = 3/4 phi''(0)^2 + phi'''(0) (``beta`` is read off the drift).
    """

    phi: Activation
    a: sympy.Expr
    weight_variance: str
    beta: sympy.Expr
    beta_claim_holds: bool
    quadratic: sympy.Expr  # A2
    linear: sympy.Expr  # A1
    norm_drift: sympy.Expr
    reciprocal_drift: sympy.Expr
    reciprocal_diffusion: sympy.Expr
    blows_up: Any  # bool, or a sympy relation when beta's sign is symbolic
    explosion_probability: sympy.Expr  # in the symbol V_0
    deterministic_blowup_time: sympy.Expr
    steps: tuple[tuple[str, str], ...]

    #: The initial norm symbol of ``explosion_probability``.
    V0: ClassVar[sympy.Symbol] = sympy.Symbol("V_0", positive=True)

    def probability(self, v0: Any) -> sympy.Expr:
        """P(the norm explodes in finite time | V_0 = v0), exact.

        >>> norm_stability("sinh(x)").probability(1)
        1 - exp(-1)
        """
        return sympy.simplify(self.explosion_probability.subs(self.V0, exact_number(v0)))

    def latex(self) -> str:
        """The proof as a LaTeX ``align*`` block."""
        lines = [rf"&\text{{{text}}}\\ &\quad {formula}" for text, formula in self.steps]
        return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"

    def _repr_latex_(self) -> str:
        return self.latex()


def norm_stability(phi: Any = None, a: Any = 1, *, weight_variance: str = "unit") -> NormStability:
    """Whether norms of the smooth-shaped network's SDE blow up in finite time (iff beta > 0).

    ``weight_variance="unit"`` (c = 1) or ``"normalized"`` (c = 1/E[sigma(z)^2]); the
    criterion is the same, the explosion probability differs. ``phi=None``: generic phi.

    >>> st = norm_stability("tanh")
    >>> st.beta, st.blows_up
    (-2, False)
    >>> norm_stability().beta
    (4*phi'''(0) + 3*phi''(0)**2)/4
    """
    sde = smooth_sde(phi, a, weight_variance=weight_variance)
    phi_act, a = sde.extra["phi"], sde.extra["a"]
    V, Z = V11, sympy.Symbol("Z", positive=True)
    b = sympy.expand(sde.drift[0])
    poly = sympy.Poly(b, V)
    if poly.degree() > 2 or poly.coeff_monomial(1) != 0:
        raise DomainError(f"unexpected norm drift {b}: not of the form A2 V^2 + A1 V")
    A2, A1 = sympy.factor(poly.coeff_monomial(V**2)), sympy.factor(poly.coeff_monomial(V))
    beta = sympy.factor(sympy.expand(A2 * a**2))
    beta_claim = sympy.Rational(3, 4) * sde.extra["phi2"] ** 2 + sde.extra["phi3"]
    diffusion2 = sde.covariation[0, 0]
    if not _d.is_zero(diffusion2 - 2 * V**2):
        raise DomainError(f"unexpected norm diffusion {diffusion2}")
    z_drift, z_var = _d.ito(1 / V, [b, 0, 0], sympy.diag(diffusion2, 0, 0))
    z_drift = sympy.expand(sympy.simplify(z_drift.subs(V, 1 / Z)))
    z_poly = sympy.Poly(z_drift, Z)
    if z_poly.degree() > 1 or not _d.is_zero(z_var.subs(V, 1 / Z) - 2 * Z**2):
        raise DomainError(f"the reciprocal norm is not a linear SDE: drift {z_drift}, variance {z_var}")
    nu_index = sympy.factor(1 - A1)  # Dufresne index of I_oo = 1/Gamma(nu)
    V0 = NormStability.V0
    sign = sympy.sign(beta)
    blows_up = bool(beta > 0) if sign.is_number else sympy.Gt(beta, 0)
    probability = sympy.Piecewise((sympy.lowergamma(nu_index, A2 * V0) / sympy.gamma(nu_index), A2 > 0),
                                  (0, True)) if not sign.is_number else (
        sympy.simplify(sympy.lowergamma(nu_index, A2 * V0) / sympy.gamma(nu_index)) if beta > 0 else sympy.Integer(0))
    # Without noise: v' = A2 v^2 + A1 v blows up at t* = log(1 + A1/(A2 v0 ... )) (A2 > 0).
    if A1 == 0:
        t_star = 1 / (A2 * V0)
    else:
        t_star = sympy.log(A2 * V0 / (A2 * V0 + A1)) / (-A1)
    L = sympy.latex
    steps = (
        ("Drift of the norm V = V11 (from the derived drift)", rf"dV = \left({L(b)}\right) dt + \sqrt{{2}}\, V\, dW"),
        ("Coefficients", rf"A_2 = {L(A2)}, \quad A_1 = {L(A1)}, \quad \beta = a^2 A_2 = {L(beta)}"),
        ("Reciprocal Z = 1/V (Ito): a linear SDE",
         rf"dZ = \left({L(z_drift)}\right) dt - \sqrt{{2}}\, Z\, dW"),
        ("Solution", r"Z_t = \mathcal{E}_t \left(1/V_0 - A_2 \int_0^t \mathcal{E}_s^{-1} ds\right), \quad "
                     rf"\mathcal{{E}}_t = e^{{({L(nu_index)}) t - \sqrt{{2}} W_t}}"),
        ("Criterion", r"V \text{ explodes} \iff A_2 \int_0^t \mathcal{E}_s^{-1} ds = 1/V_0 \text{ for some } t;"
                      r"\text{ impossible if } \beta \le 0, \text{ positive probability for every } t > 0 "
                      r"\text{ if } \beta > 0"),
        ("Dufresne", rf"\int_0^\infty \mathcal{{E}}_s^{{-1}} ds \overset{{d}}{{=}} 1/\Gamma_{{{L(nu_index)}}},"
                     rf"\quad P(\tau < \infty) = P(\Gamma_{{{L(nu_index)}}} < A_2 V_0) = {L(probability)}"),
        ("Noise-free comparison", rf"v' = A_2 v^2 + A_1 v \text{{ blows up at }} t^* = {L(t_star)}"
                                  r"\text{ (only when } A_2 V_0 + A_1 > 0)"),
    )
    return NormStability(phi_act, a, weight_variance, beta, _d.is_zero(beta - beta_claim), A2, A1, b,
                         z_drift, -sympy.sqrt(2) * Z, blows_up, probability, t_star, steps)


def simulate_norm_explosion(stability: NormStability, v0: float, T: float, *, n_steps: int, n_paths: int,
                            seed: Any = None) -> tuple[float, float]:
    """Fraction of paths whose norm explodes before T, from the exact solution of Z = 1/V.

    The Brownian path is sampled on n_steps points and I_t = int exp(sqrt(2) W_s - nu s) ds is
    integrated by the trapezoid rule (explosion is A2 I_t >= 1/v0, monotone in t, so only the
    quadrature and the grid limit the accuracy). Returns (fraction, standard error).

    >>> st = norm_stability("sinh(x)")
    >>> p, se = simulate_norm_explosion(st, 1.0, 40.0, n_steps=4000, n_paths=2000, seed=1)
    >>> abs(p - float(st.probability(1))) < 5 * se + 0.01
    True
    """
    _d.require_symbol_free(stability.quadratic, set(), "the norm SDE")
    A2, nu = float(stability.quadratic), float(1 - stability.linear)
    n_steps, n_paths = check_integer(n_steps, "n_steps"), check_integer(n_paths, "n_paths")
    if A2 <= 0:
        return 0.0, 0.0
    h = float(T) / n_steps
    target = 1.0 / (A2 * float(v0))
    exploded = np.zeros(n_paths, dtype=bool)
    for rng, part in _path_streams(seed, n_paths):
        m = part.stop - part.start
        w = np.zeros(m)
        integral = np.zeros(m)
        previous = np.ones(m)
        hit = np.zeros(m, dtype=bool)
        for k in range(1, n_steps + 1):
            w += math.sqrt(h) * rng.standard_normal(m)
            current = np.exp(math.sqrt(2.0) * w - nu * k * h)
            integral += 0.5 * h * (previous + current)
            previous = current
            hit |= integral >= target
        exploded[part] = hit
    p = float(exploded.mean())
    return p, math.sqrt(max(p * (1 - p), 1.0 / n_paths) / n_paths)



_PATH_BLOCK = 4096


def _path_streams(seed: Any, n_paths: int):
    """One numpy Generator per block of 4096 paths (SeedSequence spawn keys), so results
    do not depend on how many paths are run together."""
    from ncsym.sampler import root_seed

    root = root_seed(seed)
    for block, start in enumerate(range(0, n_paths, _PATH_BLOCK)):
        key = tuple(root.spawn_key) + (7, block)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(root.entropy, spawn_key=key)))
        yield rng, slice(start, min(start + _PATH_BLOCK, n_paths))


# ---------------------------------------------------------------------------------- simulation

_Z = sympy.Symbol("z", real=True)
_Y1, _Y2 = sympy.symbols("y1 y2", real=True)
#: |z| beyond which the non-polynomial part of the z-drift is evaluated at the clamp: the
#: rounding of nu(tanh z) cosh(z)^2 grows like 5e-17 e^|z|, while near rho = 1 the true part
#: is below 1e-8 there and near rho = -1 it is so large that the capped step is taken anyway.
_Z_CLAMP = 20.0
#: Largest drift increment one step may take (a truncated Euler step; it only acts where
#: h |drift| > 0.5, i.e. very close to rho = -1 or on the way to a norm explosion).
_MAX_DRIFT_STEP = 0.5


@dataclass(frozen=True)
class SDEPaths:
    """Simulated paths at the requested times.

    ``rho`` is ``[n_paths, len(times)]``; ``log_norms`` is ``[n_paths, len(times), 2]`` (log V^{11},
    log V^{22}) for covariance runs, else None. Exploded paths (a norm above ``explode_at``)
    are NaN from their explosion on; ``explosion_time`` is inf for the others.
    """

    times: np.ndarray
    rho: np.ndarray
    log_norms: np.ndarray | None
    explosion_time: np.ndarray
    scheme: str
    n_steps: int
    seed_entropy: Any
    n_clipped: int = 0

    @property
    def exploded(self) -> np.ndarray:
        """Bool mask of paths that exploded before the last time."""
        return np.isfinite(self.explosion_time)


def _z_drift_expr(mu: sympy.Expr) -> sympy.Expr:
    """Drift of z = artanh(rho) for d rho = mu dt + (1 - rho^2) dB, written to evaluate stably.

    Ito: dz = [mu / (1 - rho^2) + rho] dt + dB. Terms of mu polynomial in rho are divided by
    1 - rho^2 exactly (remainder r0 + r1 rho becomes r0 cosh^2 z + r1 sinh z cosh z); the others
    are rewritten with sqrt(1 - rho^2) = sech z and acos(rho) = 2 atan(e^-z), so that nothing
    cancels catastrophically near rho = +-1. The second element is the non-polynomial part.
    """
    polynomial, other = sympy.Integer(0), sympy.Integer(0)
    for term in sympy.Add.make_args(sympy.expand(mu)):
        if term.is_polynomial(RHO):
            polynomial += term
        else:
            other += term
    q, r = sympy.div(sympy.Poly(polynomial, RHO), sympy.Poly(1 - RHO**2, RHO))
    r0, r1 = r.coeff_monomial(1), r.coeff_monomial(RHO)
    tanh, cosh, sinh = sympy.tanh(_Z), sympy.cosh(_Z), sympy.sinh(_Z)
    smooth = q.as_expr().subs(RHO, tanh) + r0 * cosh**2 + r1 * sinh * cosh + tanh
    rest = other.subs({sympy.acos(RHO): 2 * sympy.atan(sympy.exp(-_Z)), sympy.sqrt(1 - RHO**2): 1 / cosh})
    rest = rest.subs(RHO, tanh) * cosh**2
    if rest.has(RHO):
        raise DomainError(f"cannot rewrite the correlation drift term {other} in z = artanh(rho)")
    return smooth, rest


def _lambdify(expr: sympy.Expr, args: Sequence[sympy.Symbol]) -> Callable:
    f = sympy.lambdify(args, expr, modules="numpy")

    def call(*values):
        out = f(*values)
        return np.broadcast_to(np.asarray(out, dtype=float), np.broadcast(*values).shape)

    return call


@dataclass(frozen=True)
class _NumericModel:
    z_smooth: Callable
    z_rest: Callable
    y_drift: tuple[Callable, Callable]
    autonomous: bool
    rho_drift: Callable


def _numeric_model(sde: NeuralCovarianceSDE) -> _NumericModel:
    _d.require_symbol_free(sde.correlation_drift, {RHO, V11, V22}, "the SDE")
    _d.require_symbol_free(sympy.Add(*sde.drift), {V11, V12, V22}, "the SDE")
    if not _d.is_zero(sde.correlation_diffusion - (1 - RHO**2)):
        raise DomainError(f"the simulator expects the Wishart correlation diffusion 1 - rho^2, got {sde.correlation_diffusion}")
    for i in range(3):
        for j in range(3):
            if not _d.is_zero(sde.covariation[i, j] - _d.wishart_covariation(i, j)):
                raise DomainError("the simulator expects the Wishart covariation")
    smooth, rest = _z_drift_expr(sde.correlation_drift)
    e1, e2 = sympy.exp(_Y1), sympy.exp(_Y2)
    state = {V11: e1, V22: e2}
    y1 = _d.ito(sympy.log(V11), sde.drift, sde.covariation)[0]
    y2 = _d.ito(sympy.log(V22), sde.drift, sde.covariation)[0]
    args = (_Y1, _Y2, _Z)
    return _NumericModel(
        z_smooth=_lambdify(smooth.subs(state), args), z_rest=_lambdify(rest.subs(state), args),
        y_drift=(_lambdify(_d.at_correlation(y1).subs(RHO, sympy.tanh(_Z)).subs(state), args),
                 _lambdify(_d.at_correlation(y2).subs(RHO, sympy.tanh(_Z)).subs(state), args)),
        autonomous=sde.correlation_is_autonomous,
        rho_drift=_lambdify(sde.correlation_drift.subs(state), (_Y1, _Y2, RHO)))


def _cap(increment: np.ndarray) -> np.ndarray:
    capped = increment / np.maximum(1.0, np.abs(increment) / _MAX_DRIFT_STEP)
    # an overflowing drift (cosh^2 z far out, e^y on the way to an explosion) is a full capped step
    return np.where(np.isinf(increment), np.sign(increment) * _MAX_DRIFT_STEP, capped)


def _times(T: float, times: Any, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    T = float(T)
    if not math.isfinite(T) or T <= 0:
        raise DomainError(f"T must be a positive finite time, got {T!r}")
    wanted = np.array([T] if times is None else sorted(float(t) for t in np.atleast_1d(times)))
    if wanted[0] <= 0 or wanted[-1] > T * (1 + 1e-12):
        raise DomainError(f"times must lie in (0, T], got {wanted}")
    steps = np.rint(wanted / T * n_steps).astype(int)
    if (steps < 1).any() or not np.allclose(steps * T / n_steps, wanted, rtol=1e-9, atol=1e-12):
        raise DomainError("each requested time must be a multiple of the step T / n_steps")
    return wanted, steps


def _initial(rho0: Any, v0: Any) -> tuple[float, float, float]:
    rho0 = float(rho0)
    if not -1 < rho0 < 1:
        raise DomainError(f"rho0 must lie in (-1, 1), got {rho0!r}")
    v = (1.0, 1.0) if v0 is None else tuple(float(t) for t in v0)
    if len(v) != 2 or min(v) <= 0 or not all(map(math.isfinite, v)):
        raise DomainError(f"v0 must be two positive variances, got {v0!r}")
    return rho0, math.log(v[0]), math.log(v[1])


def simulate_sde(sde: NeuralCovarianceSDE, rho0: float, T: float, *, n_steps: int, n_paths: int,
                 v0: Sequence[float] | None = None, times: Any = None, seed: Any = None,
                 scheme: str = "fisher", explode_at: float = 1e12) -> SDEPaths:
    """Simulate the 2x2 covariance SDE from V_0 = [[v0_1, r], [r, v0_2]], r = rho0 sqrt(v0_1 v0_2).

    ``scheme="fisher"`` (default) steps the coordinates (log V^{11}, log V^{22}, z = artanh rho)
    with Ito-transformed drifts (derived symbolically) and the exact noise factorization
    dlog V^{aa} = rho dB_3 + dB_1 +- sqrt(1 - rho^2) dB_2, dz = dB_3 (z has additive noise,
    so Euler is Milstein there, and rho = tanh z can never leave (-1, 1)); drift increments
    are capped at 0.5 per step (truncated Euler) to tame the drift's growth near rho = -1 and
    at an explosion. ``scheme="euler"``: plain Euler-Maruyama on rho (correlation only,
    autonomous SDEs), clipped to [-1, 1] with the number of clips reported. Weak order 1 in h.

    >>> sde = shaped_relu_sde(0, -1)
    >>> paths = simulate_sde(sde, 0.3, 1.0, n_steps=200, n_paths=500, seed=0)
    >>> paths.rho.shape, paths.log_norms.shape, bool(np.all(np.abs(paths.rho) < 1))
    ((500, 1), (500, 1, 2), True)
    """
    model = _numeric_model(sde)
    n_steps, n_paths = check_integer(n_steps, "n_steps"), check_integer(n_paths, "n_paths")
    rho0, ly1, ly2 = _initial(rho0, v0)
    wanted, record = _times(T, times, n_steps)
    h = float(T) / n_steps
    sq = math.sqrt(h)
    rho_out = np.full((n_paths, len(wanted)), np.nan)
    logs_out = np.full((n_paths, len(wanted), 2), np.nan) if scheme == "fisher" else None
    explosion = np.full(n_paths, np.inf)
    clipped = 0
    limit = math.log(float(explode_at))
    if scheme == "euler" and not model.autonomous:
        raise DomainError("scheme='euler' simulates the correlation alone, which needs an autonomous rho SDE "
                          "(shaped ReLU); use scheme='fisher'")
    if scheme not in ("fisher", "euler"):
        raise DomainError(f"scheme must be 'fisher' or 'euler', got {scheme!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        for rng, part in _path_streams(seed, n_paths):
            m = part.stop - part.start
            z = np.full(m, math.atanh(rho0))
            rho = np.full(m, rho0)
            y1, y2 = np.full(m, ly1), np.full(m, ly2)
            alive = np.ones(m, dtype=bool)
            t_explode = np.full(m, np.inf)
            slot = 0
            for k in range(1, n_steps + 1):
                noise = rng.standard_normal((3, m)) * sq
                if scheme == "euler":
                    drift = model.rho_drift(y1, y2, rho)
                    rho = rho + drift * h + (1 - rho**2) * noise[2]
                    outside = np.abs(rho) > 1
                    clipped += int(outside.sum())
                    rho = np.clip(rho, -1.0, 1.0)
                else:
                    zc = np.clip(z, -_Z_CLAMP, _Z_CLAMP)
                    fz = model.z_smooth(y1, y2, z) + model.z_rest(y1, y2, zc)
                    f1, f2 = model.y_drift[0](y1, y2, z), model.y_drift[1](y1, y2, z)
                    r = np.tanh(z)
                    sech = 1.0 / np.cosh(np.clip(z, -350, 350))
                    common = r * noise[2] + noise[0]
                    y1 = np.where(alive, y1 + _cap(f1 * h) + common + sech * noise[1], y1)
                    y2 = np.where(alive, y2 + _cap(f2 * h) + common - sech * noise[1], y2)
                    z = np.where(alive, z + _cap(fz * h) + noise[2], z)
                    boom = alive & ~((y1 < limit) & (y2 < limit))
                    t_explode[boom] = k * h
                    alive &= ~boom
                    rho = np.tanh(z)
                while slot < len(record) and record[slot] == k:
                    rho_out[part, slot] = np.where(alive, rho, np.nan)
                    if logs_out is not None:
                        logs_out[part, slot, 0] = np.where(alive, y1, np.nan)
                        logs_out[part, slot, 1] = np.where(alive, y2, np.nan)
                    slot += 1
            explosion[part] = t_explode
    from ncsym.sampler import root_seed

    return SDEPaths(wanted, rho_out, logs_out, explosion, scheme, n_steps, root_seed(seed).entropy, clipped)


# --------------------------------------------------------------- finite shaped networks


def finite_width_sde(sde: NeuralCovarianceSDE, n: int) -> NeuralCovarianceSDE:
    """The shaped-ReLU SDE with the exact width-n per-layer mean drift of the correlation.

    For s_+- max/min shaping the exact correlation map is rho + (1/n) f_n nu(rho) with a
    factor f_n independent of rho (derived here from the exact kernel: f_n = 2/(s_+^2 + s_-^2)
    for c = 1/E[sigma^2]); f_n = 1 + O(1/sqrt(n)) is the leading finite-width bias of the
    limiting SDE. Returns the SDE with nu replaced by f_n nu.

    >>> sde = finite_width_sde(shaped_relu_sde(0, -1), 256)
    >>> sde.extra["finite_width_factor"]
    512/481
    """
    if sde.family != "shaped-relu" or sde.parameters:
        raise DomainError("finite_width_sde needs a shaped-ReLU SDE with numeric shaping constants")
    n = exact_number(check_integer(n, "n"))
    m = sde.extra["moments"]
    c = 1 / sde.extra["second_moment"] if sde.weight_variance == "normalized" else 1
    exact_map = (c * m[(1, 1)]).subs(EPS, 1 / sympy.sqrt(n))
    nu = sde.correlation_mean_part
    if _d.is_zero(nu):
        return replace(sde, extra=dict(sde.extra, finite_width_factor=sympy.Integer(1)))
    factor = _d.canonical(n * (exact_map - RHO) / nu)
    if factor.has(RHO):
        raise DomainError(f"the finite-width drift is not proportional to nu: ratio {factor}")
    factor = sympy.nsimplify(sympy.radsimp(factor))
    drift = (sde.drift[0], sympy.expand(factor * sde.drift[1]), sde.drift[2])
    mean_part = sympy.expand(factor * nu)
    return replace(sde, drift=drift, correlation_mean_part=mean_part,
                   correlation_drift=mean_part + sde.correlation_ito_part,
                   extra=dict(sde.extra, finite_width_factor=factor))


@dataclass(frozen=True)
class NetworkSample:
    """rho_T and log V^{aa}_T of sampled shaped-ReLU networks, V_d = (c/n) sigma(H_d) sigma(H_d)^T."""

    n: int
    depth: int
    c_plus: float
    c_minus: float
    rho0: float
    rho: np.ndarray
    log_norms: np.ndarray

    @property
    def T(self) -> float:
        """Depth over width."""
        return self.depth / self.n


def sample_shaped_relu_networks(c_plus: float, c_minus: float, n: int, depth: int, rho0: float,
                                n_networks: int, *, seed: Any = None, v0: Sequence[float] | None = None,
                                progress: bool | None = None) -> NetworkSample:
    """Sample finite shaped-ReLU networks exactly in Gram space and return their V_d.

    Width n, depth d, s_+- = 1 + c_+-/sqrt(n), weight variance c = 2/(s_+^2 + s_-^2), no bias;
    the two inputs are scaled so that the input kernel (layer-1 covariance) is V_0 =
    [[v0_1, r], [r, v0_2]], r = rho0 sqrt(v0_1 v0_2). V_l = (c/n) sigma(H_l) sigma(H_l)^T is the
    conditional covariance of layer l+1, so V_d has taken d Markov steps from V_0 (t = d/n).

    >>> s = sample_shaped_relu_networks(0, -1, 16, 8, 0.3, 64, seed=0)
    >>> s.rho.shape, s.log_norms.shape, s.T
    ((64,), (64, 2), 0.5)
    """
    n, depth = check_integer(n, "n"), check_integer(depth, "depth")
    n_networks = check_integer(n_networks, "n_networks")
    rho0, ly1, ly2 = _initial(rho0, v0)
    s_plus, s_minus = 1 + float(c_plus) / math.sqrt(n), 1 + float(c_minus) / math.sqrt(n)
    c = 2.0 / (s_plus**2 + s_minus**2)

    def shaped(h: np.ndarray) -> np.ndarray:
        return np.where(h > 0, s_plus * h, s_minus * h)

    rho, logs = _sample_output_kernels(shaped, c, n, depth, rho0, ly1, ly2, n_networks, seed, progress)
    return NetworkSample(n, depth, float(c_plus), float(c_minus), rho0, rho, logs)


def _sample_output_kernels(function, c: float, n: int, depth: int, rho0: float, ly1: float, ly2: float,
                           n_networks: int, seed: Any, progress: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """(rho, log V^aa, log V^bb) of V_d = (c/n) sigma(H_d) sigma(H_d)^T over sampled networks.

    The two inputs are scaled so that the input kernel is V_0 with log-norms (ly1, ly2)
    and correlation rho0: (c/2) X X^T = V_0.
    """
    from ncsym.sampler import MLPSpec, iter_preactivations

    v_1, v_2 = math.exp(ly1), math.exp(ly2)
    cov = np.array([[v_1, rho0 * math.sqrt(v_1 * v_2)], [rho0 * math.sqrt(v_1 * v_2), v_2]])
    X = np.linalg.cholesky(cov) * math.sqrt(2.0 / c)
    spec = MLPSpec(input_dim=2, widths=n, depth=depth, activation=function, sigma_w2=c)
    rho = np.empty(n_networks)
    logs = np.empty((n_networks, 2))
    for first, out, _ in iter_preactivations(spec, X, n_networks, method="gram", layers=[depth], seed=seed,
                                             progress=progress):
        a = function(out[depth])
        V = np.matmul(a, np.swapaxes(a, 1, 2)) * (c / n)
        part = slice(first, first + V.shape[0])
        rho[part] = V[:, 0, 1] / np.sqrt(V[:, 0, 0] * V[:, 1, 1])
        logs[part] = np.log(np.stack([V[:, 0, 0], V[:, 1, 1]], axis=1))
    return rho, logs


def sample_smooth_shaped_networks(phi: Any, a: float, n: int, depth: int, rho0: float, n_networks: int, *,
                                  seed: Any = None, v0: Sequence[float] | None = None,
                                  progress: bool | None = None) -> NetworkSample:
    """Sample finite networks with sigma(x) = s phi(x/s), s = a sqrt(n), c = 1/E[sigma(z)^2].

    Same conventions as :func:`sample_shaped_relu_networks` (V_d = (c/n) sigma(H_d) sigma(H_d)^T,
    input kernel V_0). c is computed by 200-node Gauss-Hermite quadrature (phi smooth; for an
    entire or strip-analytic phi the quadrature error is far below the Monte Carlo error);
    ``c_plus``/``c_minus`` of the returned sample are NaN.

    >>> s = sample_smooth_shaped_networks("tanh", 1.0, 16, 8, 0.3, 32, seed=0)
    >>> s.rho.shape, s.T
    ((32,), 0.5)
    """
    shaped = smooth_shaped(phi, exact_number(a), check_integer(n, "n"))
    depth, n_networks = check_integer(depth, "depth"), check_integer(n_networks, "n_networks")
    rho0, ly1, ly2 = _initial(rho0, v0)
    function = shaped.numpy()
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    c = 1.0 / float(np.sum(weights * function(nodes) ** 2) / math.sqrt(2 * math.pi))
    rho, logs = _sample_output_kernels(function, c, n, depth, rho0, ly1, ly2, n_networks, seed, progress)
    return NetworkSample(n, depth, math.nan, math.nan, rho0, rho, logs)


# ----------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Comparison:
    """One statistic of two samples (or a sample against theory): values, standard errors, z."""

    name: str
    network: float
    network_se: float
    reference: float
    reference_se: float

    @property
    def z(self) -> float:
        """(network - reference) / combined standard error."""
        se = math.hypot(self.network_se, self.reference_se)
        return (self.network - self.reference) / se if se > 0 else (0.0 if self.network == self.reference else math.inf)


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def _variance_se(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    centred = values - values.mean()
    var = float(centred.var(ddof=1))
    m4 = float(np.mean(centred**4))
    return var, math.sqrt(max(m4 - var**2, 0.0) / values.size)


def _sd_se(values: np.ndarray) -> tuple[float, float]:
    var, se = _variance_se(values)
    sd = math.sqrt(var)
    return sd, se / (2 * sd) if sd > 0 else 0.0


def ks_two_sample(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic D and its asymptotic p-value.

    p uses the Kolmogorov distribution with the Stephens correction
    lambda = (sqrt(m) + 0.12 + 0.11/sqrt(m)) D, m = n_a n_b / (n_a + n_b).

    >>> rng = np.random.default_rng(0)
    >>> d, p = ks_two_sample(rng.normal(size=2000), rng.normal(size=3000))
    >>> p > 0.01
    True
    """
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    if a.size == 0 or b.size == 0:
        raise DomainError("ks_two_sample needs two non-empty samples")
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    m = math.sqrt(a.size * b.size / (a.size + b.size))
    lam = (m + 0.12 + 0.11 / m) * d
    if lam < 0.2:
        return d, 1.0
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, float(min(max(p, 0.0), 1.0))


# ------------------------------------------------------------------------------- cross-check

#: (n, depth, c_+, c_-, rho_0): four shapings and widths, each at T = d/n in {0.5, 1, 2}.
DEFAULT_CONFIGS = tuple((n, int(T * n), cp, cm, r0)
                        for n, cp, cm, r0 in ((256, 0, -1, 0.3), (64, 0, -1, 0.3), (128, 1, -1, 0.0),
                                              (128, 0.5, -0.5, -0.5))
                        for T in (0.5, 1, 2))


@dataclass(frozen=True)
class SDECrossCheckRow:
    """One configuration: network statistics against the SDE (limit and finite-width drift)."""

    n: int
    depth: int
    c_plus: float
    c_minus: float
    rho0: float
    n_networks: int
    n_paths: int
    n_steps: int
    finite_width_factor: float
    comparisons: tuple[Comparison, ...]
    ks: tuple[tuple[str, float, float], ...]

    @property
    def T(self) -> float:
        """Depth over width."""
        return self.depth / self.n


@dataclass(frozen=True)
class SDECrossCheck:
    """Finite shaped networks against the Neural Covariance SDE: a table of z-scores and KS tests."""

    rows: tuple[SDECrossCheckRow, ...]
    z_threshold: float
    p_threshold: float

    def disagreements(self) -> list[str]:
        """Every statistic beyond z_threshold standard errors, and every KS test below p_threshold."""
        out = []
        for row in self.rows:
            tag = f"n={row.n} d={row.depth} c=({row.c_plus:g},{row.c_minus:g}) rho0={row.rho0:g}"
            for c in row.comparisons:
                if abs(c.z) > self.z_threshold:
                    out.append(f"{tag}: {c.name} network {c.network:.4f}±{c.network_se:.4f} vs "
                               f"{c.reference:.4f}±{c.reference_se:.4f} (z = {c.z:+.1f})")
            for name, d, p in row.ks:
                if p < self.p_threshold:
                    out.append(f"{tag}: KS {name} D = {d:.3f}, p = {p:.2g}")
        return out

    def table(self) -> str:
        """Plain-text table: one line per configuration and statistic."""
        head = (f"{'n':>4} {'d':>4} {'T':>4} {'c+':>5} {'c-':>5} {'rho0':>5}  {'statistic':<28}"
                f"{'network':>17} {'reference':>17} {'z':>6}")
        lines = [head, "-" * len(head)]
        for row in self.rows:
            prefix = f"{row.n:>4} {row.depth:>4} {row.T:>4g} {row.c_plus:>5g} {row.c_minus:>5g} {row.rho0:>5g}  "
            for c in row.comparisons:
                lines.append(prefix + f"{c.name:<28}{c.network:>9.4f}±{c.network_se:<7.4f}"
                             f"{c.reference:>9.4f}±{c.reference_se:<7.4f}{c.z:>+6.1f}")
                prefix = " " * len(prefix)
            for name, d, p in row.ks:
                lines.append(prefix + f"{'KS ' + name:<28}{'D = %.3f' % d:>17} {'p = %.2g' % p:>17}")
        lines.append(f"(networks per row: {self.rows[0].n_networks}, SDE paths: {self.rows[0].n_paths}; "
                     f"flagged: |z| > {self.z_threshold:g} or KS p < {self.p_threshold:g})")
        flagged = self.disagreements()
        lines.extend(["disagreements:"] + ["  " + f for f in flagged] if flagged else ["no disagreement beyond the thresholds"])
        return "\n".join(lines)

    def latex(self) -> str:
        """A LaTeX ``tabular`` of the same numbers."""
        out = [r"\begin{tabular}{rrrrrrlrrr}", r"\hline",
               r"$n$ & $d$ & $T$ & $c_+$ & $c_-$ & $\rho_0$ & statistic & network & reference & $z$ \\", r"\hline"]
        for row in self.rows:
            first = f"{row.n} & {row.depth} & {row.T:g} & {row.c_plus:g} & {row.c_minus:g} & {row.rho0:g}"
            blank = " & " * 5
            for i, c in enumerate(row.comparisons):
                out.append(f"{first if i == 0 else blank} & {_latex_text(c.name)} & ${c.network:.4f} \\pm {c.network_se:.4f}$ & "
                           f"${c.reference:.4f} \\pm {c.reference_se:.4f}$ & ${c.z:+.1f}$ \\\\")
            for name, d, p in row.ks:
                out.append(f"{blank} & KS {_latex_text(name)} & $D = {d:.3f}$ & $p = {p:.2g}$ & \\\\")
            out.append(r"\hline")
        out.append(r"\end{tabular}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()


def _latex_text(text: str) -> str:
    for plain, math_mode in (("rho_T", r"$\rho_T$"), ("log V_T", r"$\log V_T$"), ("-T", "$-T$"), ("2T", "$2T$"),
                             ("finite-n", "finite-$n$")):
        text = text.replace(plain, math_mode)
    return text



_GENERIC_RELU: list[NeuralCovarianceSDE] = []


def _relu_sde(c_plus: Any, c_minus: Any) -> NeuralCovarianceSDE:
    # One symbolic derivation, then exact substitution: far cheaper than re-deriving per shaping.
    if not _GENERIC_RELU:
        _GENERIC_RELU.append(shaped_relu_sde())
    return _GENERIC_RELU[0].subs({C_PLUS: c_plus, C_MINUS: c_minus})


def finite_width_log_norm_law(c_plus: float, c_minus: float, n: int, depth: int,
                              log_v0: float = 0.0) -> tuple[float, float, float]:
    """Mean and variance of log V^{11}_d of a width-n shaped-ReLU network, and an error bound.

    log V_d = log V_0 + sum of d i.i.d. log X_l, X = mean of n i.i.d. Y = c w g^2 (w = s_+^2 or
    s_-^2 with the sign of g). With mu_k the central moments of Y (exact, from
    E[Y^k] = c^k (s_+^2k + s_-^2k)/2 (2k-1)!!), the per-layer cumulants are
    E log X = -mu2/(2n) + (mu3/3 - 3 mu2^2/4)/n^2 and Var log X = mu2/n + (5 mu2^2/2 - mu3)/n^2,
    up to O(n^-3); the bound returned is d times 5 mu2^3 / n^3 (for chi-square, c_+ = c_-, the
    true remainders are 0 and 4/(3 n^3), i.e. mu2^3/6 / n^3).
    The SDE limit is mu2 = 2, i.e. mean -T, variance 2T; mu2 - 2 = 3 (s_+^2 - s_-^2)^2/(s_+^2 + s_-^2)^2
    = O((c_+ - c_-)^2/n) is the leading finite-width correction of the norm.

    >>> mean, var, err = finite_width_log_norm_law(0, 0, 10**6, 10**6)
    >>> round(mean, 5), round(var, 5)
    (-1.0, 2.0)
    """
    n, depth = check_integer(n, "n"), check_integer(depth, "depth")
    a, b = (1 + c_plus / math.sqrt(n)) ** 2, (1 + c_minus / math.sqrt(n)) ** 2
    c = 2.0 / (a + b)
    raw = [1.0] + [c**k * (a**k + b**k) / 2 * math.prod(range(1, 2 * k, 2)) for k in (1, 2, 3)]
    mu2 = raw[2] - 1.0
    mu3 = raw[3] - 3 * raw[2] + 2.0
    mean = depth * (-mu2 / (2 * n) + (mu3 / 3 - 3 * mu2**2 / 4) / n**2) + log_v0
    var = depth * (mu2 / n + (2.5 * mu2**2 - mu3) / n**2)
    return mean, var, depth * 5 * mu2**3 / n**3


def crosscheck_row(n: int, depth: int, c_plus: float, c_minus: float, rho0: float, *, n_networks: int = 2000,
                   n_paths: int = 20000, steps_per_unit: int = 256, seed: Any = None,
                   progress: bool | None = None) -> SDECrossCheckRow:
    """Finite shaped-ReLU networks against the SDE at one (n, d, c_+, c_-, rho_0), T = d/n.

    Compared: mean and standard deviation of rho_T against the limiting SDE and against the
    SDE with the exact finite-width drift (:func:`finite_width_sde`); mean and variance of
    log V^{11}_T against the exact log-normal law (mean -T, variance 2T from V_0 = 1) and
    against the SDE; two-sample KS tests of rho_T and log V^{11}_T against the SDE paths.
    """
    from ncsym.sampler import root_seed

    root = root_seed(seed)
    net_seed, sde_seed, fw_seed = root.spawn(3)
    T = depth / check_integer(n, "n")
    n_steps = max(1, int(round(T * check_integer(steps_per_unit, "steps_per_unit"))))
    limit = _relu_sde(c_plus, c_minus)
    finite = finite_width_sde(limit, n)
    net = sample_shaped_relu_networks(c_plus, c_minus, n, depth, rho0, n_networks, seed=net_seed, progress=progress)
    sde_paths = simulate_sde(limit, rho0, T, n_steps=n_steps, n_paths=n_paths, seed=sde_seed)
    fw_paths = simulate_sde(finite, rho0, T, n_steps=n_steps, n_paths=n_paths, seed=fw_seed)
    rho_sde, rho_fw = sde_paths.rho[:, -1], fw_paths.rho[:, -1]
    log_net, log_sde = net.log_norms[:, 0], sde_paths.log_norms[:, -1, 0]
    law = finite_width_log_norm_law(c_plus, c_minus, n, depth)
    comparisons = (
        Comparison("mean rho_T vs SDE", *_mean_se(net.rho), *_mean_se(rho_sde)),
        Comparison("sd rho_T vs SDE", *_sd_se(net.rho), *_sd_se(rho_sde)),
        Comparison("mean rho_T vs finite-n SDE", *_mean_se(net.rho), *_mean_se(rho_fw)),
        Comparison("sd rho_T vs finite-n SDE", *_sd_se(net.rho), *_sd_se(rho_fw)),
        Comparison("mean log V_T vs -T", *_mean_se(log_net), -T, 0.0),
        Comparison("var log V_T vs 2T", *_variance_se(log_net), 2 * T, 0.0),
        Comparison("mean log V_T vs SDE", *_mean_se(log_net), *_mean_se(log_sde)),
        Comparison("mean log V_T vs finite-n law", *_mean_se(log_net), law[0], law[2]),
        Comparison("var log V_T vs finite-n law", *_variance_se(log_net), law[1], law[2]),
    )
    ks = (("rho_T vs SDE", *ks_two_sample(net.rho, rho_sde)),
          ("rho_T vs finite-n SDE", *ks_two_sample(net.rho, rho_fw)),
          ("log V_T vs SDE", *ks_two_sample(log_net, log_sde)))
    return SDECrossCheckRow(n, depth, float(c_plus), float(c_minus), float(rho0), n_networks, n_paths, n_steps,
                         float(finite.extra["finite_width_factor"]), comparisons, ks)


def crosscheck_shaped_relu(configs: Sequence[tuple] = DEFAULT_CONFIGS, *, n_networks: int = 2000,
                           n_paths: int = 20000, steps_per_unit: int = 256, seed: Any = 0,
                           z_threshold: float = 4.0, p_threshold: float = 1e-3,
                           progress: bool | None = None) -> SDECrossCheck:
    """Cross-check the shaped-ReLU SDE against sampled finite networks over ``configs``.

    Each config is (n, depth, c_+, c_-, rho_0). Returns an :class:`SDECrossCheck` whose
    ``.table()`` / ``.latex()`` list every comparison with standard errors and z-scores, and
    whose ``.disagreements()`` lists those beyond ``z_threshold`` (or KS p < ``p_threshold``).

    >>> report = crosscheck_shaped_relu([(16, 16, 0, -1, 0.3)], n_networks=200, n_paths=2000, seed=1)
    >>> len(report.rows[0].comparisons), report.rows[0].T
    (9, 1.0)
    """
    from ncsym.sampler import root_seed

    seeds = root_seed(seed).spawn(len(configs))
    rows = tuple(crosscheck_row(*config, n_networks=n_networks, n_paths=n_paths, steps_per_unit=steps_per_unit,
                                seed=s, progress=progress) for config, s in zip(configs, seeds))
    return SDECrossCheck(rows, float(z_threshold), float(p_threshold))
