"""Norm stability of smoothly shaped networks (Li, Nica & Roy 2022): when the norm SDE blows up.

:func:`norm_stability` derives the drift of V = V^{11} under smooth shaping and the condition for
finite-time explosion; :func:`simulate_norm_explosion` checks it on simulated paths.

>>> norm_stability("tanh").blows_up
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import sympy

from ncsym.models import sde_derivation as _d
from ncsym.models.sde_derivation import V11
from ncsym.symbolic.activations import Activation, exact_number
from ncsym.core.errors import DomainError, check_integer
from ncsym.models.sde import smooth_sde

__all__ = ["NormStability", "norm_stability", "simulate_norm_explosion"]


@dataclass(frozen=True)
class NormStability:
    """Finite-time blow-up of the norm V = V^{11} under smooth shaping, with its proof data.

    Derived from the SDE dV = b(V) dt + sqrt(2) V dW with b(V) = A2 V^2 + A1 V read off the
    derived drift b^{11}. The reciprocal Z = 1/V solves the linear SDE
    dZ = ((2 - A1) Z - A2) dt - sqrt(2) Z dW, so Z_t = E_t (1/V_0 - A2 I_t) with
    E_t = exp((1 - A1) t - sqrt(2) W_t) and I_t = int_0^t E_s^{-1} ds, and V explodes exactly
    when A2 I_t reaches 1/V_0. Hence: no explosion if A2 <= 0; if A2 > 0, explosion before any
    t > 0 with positive probability, and (Dufresne: I_oo = 1/Gamma(1 - A1) in law)
    P(explosion ever | V_0) = P(Gamma(1 - A1) < A2 V_0), a regularized lower incomplete gamma, when
    A1 < 1 (for A1 >= 1, I_oo = oo almost surely and the explosion is certain).
    A2 = beta / a^2 with beta = 3/4 phi''(0)^2 + phi'''(0) (``beta`` is read off the drift).

    The other half, vanishing: when A2 <= 0, Z_t >= E_t / V_0, so V_t <= V_0 exp(-(1 - A1) t + sqrt(2) W_t)
    and V -> 0 almost surely when A1 < 1 (unit weights give A1 = 0: the norm always vanishes
    unless it explodes; when A2 > 0 and V does not explode, Z_t = E_t (1/V_0 - A2 I_t) -> oo too).
    When A2 < 0 and A1 > 1, Z_t = E_t / V_0 - A2 int_0^t E_t / E_s ds converges in law (E_t -> 0 and
    the integral is a perpetuity): V has a stationary law, neither explodes nor vanishes. A1 = 1:
    log V is recurrent. ``vanishes`` is True / False (a sympy relation when symbolic), and
    ``long_time`` says which regime in words.
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
    vanishes: Any = None  # bool, or a sympy relation: V_t -> 0 almost surely as t -> oo (off explosion)
    long_time: str = ""

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
        (sympy.simplify(sympy.lowergamma(nu_index, A2 * V0) / sympy.gamma(nu_index)) if nu_index > 0
         else sympy.Integer(1)) if beta > 0 else sympy.Integer(0))
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
    vanishes, long_time = _long_time(A2, A1)
    steps = steps + (("Vanishing, when A2 is not positive", r"V_t \le V_0\, e^{-(1 - A_1) t + \sqrt{2} W_t} \to 0 \text{ a.s. iff } "
                                              rf"A_1 = {L(A1)} < 1"),)
    return NormStability(phi_act, a, weight_variance, beta, _d.is_zero(beta - beta_claim), A2, A1, b,
                         z_drift, -sympy.sqrt(2) * Z, blows_up, probability, t_star, steps, vanishes, long_time)


def _long_time(A2: sympy.Expr, A1: sympy.Expr) -> tuple[Any, str]:
    """(whether V -> 0 almost surely off explosion, the regime in words) from A2 and A1."""
    if not (A2.is_number and A1.is_number):
        return sympy.Lt(A1, 1), "V -> 0 a.s. iff A1 < 1 (off explosion); stationary if A2 < 0 < A1 - 1"
    if A1 < 1:
        head = "explodes with positive probability, else" if A2 > 0 else "no explosion;"
        return True, f"{head} V_t -> 0 almost surely (A1 = {A1} < 1)"
    if A2 > 0:
        return False, f"explodes with positive probability (A1 = {A1} >= 1)"
    if A1 == 1:
        return False, "no explosion; log V is recurrent (A1 = 1): no limit"
    if A2 == 0:
        return False, f"no explosion in finite time; V_t -> oo as t -> oo (A2 = 0, A1 = {A1} > 1)"
    return False, f"no explosion and no vanishing: V has a stationary law (A2 = {A2} < 0, A1 = {A1} > 1)"



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
