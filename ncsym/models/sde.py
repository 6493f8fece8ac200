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

Main entry points here: :func:`shaped_relu_sde`, :func:`smooth_sde`, :func:`derive_sde` (symbolic,
with ``.claims`` comparing the stated formulas, after Li, Nica & Roy 2022, and ``.latex()``). Beside this module:
``sde_stability`` (:func:`norm_stability`, blow-up of the norm under smooth shaping),
``sde_simulation`` (:func:`simulate_sde` in Fisher-z coordinates, :func:`finite_width_sde`),
``sde_networks`` (exact Gram-space sampling of finite shaped networks) and ``sde_crosscheck``
(networks against the SDE: :func:`ks_two_sample`, :func:`crosscheck_shaped_relu`, the report).

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

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Mapping, Sequence

import sympy

from ncsym.models import sde_derivation as _d
from ncsym.models.sde_derivation import COVARIANCE, EPS, RHO, V11, V12, V22
from ncsym.symbolic.activations import Activation, activation, exact_number, x
from ncsym.core.timebound import time_limit
from ncsym.core.errors import ConvergenceError, DomainError

__all__ = ["Claim", "NeuralCovarianceSDE", "derive_sde", "shaped_relu_sde", "smooth_shaped", "smooth_sde"]


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
    """A formula stated in advance (after Li, Nica & Roy 2022) set against the one derived here."""

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

    ``weight_variance="normalized"`` uses c = 1/E[sigma_n(z)^2] (the convention of Li, Nica & Roy 2022),
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
    """The SDE of the shaped ReLU s_+ max(x,0) + s_- min(x,0), s = 1 + c/sqrt(n), checked against the stated formulas.

    The stated claims (after Li, Nica & Roy 2022: nu, the Ito term, the diffusion, the log-normal norm) are
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
    """The SDE of the smooth shaping s phi(x/s), s = a sqrt(n), checked against the stated drift b^{ab}.

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
        _claim("b^{12} (stated drift)", claimed[0], sde.drift[1]),
        Claim("Wishart covariation", claimed[1], sde.covariation,
              all(_d.is_zero(e) for e in claimed[1] - sde.covariation)),
    )
    extra = dict(sde.extra, phi=phi, phi2=p2, phi3=p3, beta=sympy.simplify(beta), a=a)
    return replace(sde, claims=claims, extra=extra)


# ------------------------------------------------------------------------------ norm stability
