"""The neural tangent kernel of one input at finite width: its mean and its O(1/n) variance.

Normalization (the NTK parametrization, the same as ``ncsym.ntk_kernel`` and the sampler's
``empirical_ntk`` with its default rates): W^(l) = sqrt(sigma_w2 / fan_in) omega, b^(l) =
sqrt(sigma_b2) beta, omega and beta standard normal, and

    Theta_ij = sum over all omega, beta of  dz_i/dtheta dz_j/dtheta

(the learning-rate tensor of Roberts, Yaida & Hanin 2022, sec. 7.?, with lambda_b = sigma_b2 and
lambda_W = sigma_w2 on gradients in the weights W themselves divided by fan_in). Then exactly

    Theta^(l+1)_ij = delta_ij G^(l+1) + sum_{k,m} W_ik W_jm sigma'(z_k) sigma'(z_m) Theta^(l)_km,

with G^(l+1) = sigma_b2 + (sigma_w2/n) sum_k sigma(z_k)^2, and Theta^(1)_ij = delta_ij K^(1).

Derivation (one input; given layer l the row W_i is fresh). Write T^(l+1) = E[Theta_ii | layer l]
= sigma_b2 + (sigma_w2/n) sum_k [sigma_k^2 + sigma'_k^2 Theta_kk] and, to O(1/n),
n Var[G] = V, n Cov[G, T] = D, n Var[T] = A_T, n E[Theta_km^2] = B (k != m). The quadratic form in
the fresh row has conditional variance 2 (sigma_w2/n)^2 tr(M^2), M_km = sigma'_k sigma'_m Theta_km,
which gives B; the law of total covariance over the units of layer l (independent given layer
l - 1) gives the rest. With brackets at u ~ N(0, K^(l)), ' = d/dK, Theta = Theta^(l):

    Theta^(l+1) = K^(l+1) + chi_perp Theta,          chi_perp = sigma_w2 <sigma'^2>
    V'   = sigma_w2^2 Var[sigma^2] + chi_par^2 V,      chi_par = sigma_w2 <sigma^2>'
    D'   = sigma_w2^2 Cov[sigma^2, sigma^2 + Theta sigma'^2] + chi_par (alpha V + chi_perp D)
    A_T' = sigma_w2^2 Var[sigma^2 + Theta sigma'^2] + alpha^2 V + 2 alpha chi_perp D + chi_perp^2 A_T
    B'   = sigma_w2^2 <sigma'^4> Theta^2 + chi_perp^2 B,   alpha = sigma_w2 (<sigma^2>' + Theta <sigma'^2>')

all zero at layer 1, and Var[Theta^(l)_ii] = (A_T + 2 B) / n + O(1/n^2) =: A^(l) / n. (In the
notation of Roberts, Yaida & Hanin, chapter 8, A_T and B are their A and B, D their D.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy

from ncsym.core.errors import DomainError, check_integer
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.core.results import Result, working_dps
from ncsym.symbolic.activations import Activation, activation
from ncsym.width_corrections.single_input import hyperparameter
from ncsym.width_corrections.terms import GaussianTerm, Num

__all__ = ["NTKFluctuations", "ntk_fluctuations"]


@dataclass(frozen=True)
class NTKFluctuations:
    """Mean NTK and its 1/n variance coefficient for layers 1..depth; see :func:`ntk_fluctuations`."""

    activation: Activation
    depth: int
    sigma_w2: sympy.Expr
    sigma_b2: sympy.Expr
    q0: sympy.Expr
    dps: int
    rows: tuple[dict, ...] = field(repr=False)

    def _row(self, l: int) -> dict:
        return self.rows[check_integer(l, "layer", 1, self.depth) - 1]

    def mean(self, l: int) -> Result:
        """Theta^(l), the infinite-width NTK of one unit on the input."""
        return self._row(l)["theta"].result(f"Theta^({l})", "NTK recursion")

    def variance(self, l: int) -> Result:
        """A^(l): Var[Theta^(l)_ii] = A^(l)/n + O(1/n^2) (= A_T + 2 B)."""
        row = self._row(l)
        return (row["A"] + 2 * row["B"]).result(f"A^({l})", "NTK variance recursion")

    def components(self, l: int) -> dict[str, Result]:
        """The coupled coefficients at layer l: K, V, D, A_T, B (see the module docstring)."""
        row = self._row(l)
        return {name: row[key].result(f"{name}^({l})", "NTK variance recursion")
                for name, key in (("K", "K"), ("V", "V"), ("D", "D"), ("A_T", "A"), ("B", "B"))}

    def relative_variance(self, l: int, width: int) -> float:
        """Var[Theta_ii] / Theta^2 at this width, to O(1/n)."""
        row = self._row(l)
        return float((row["A"].value + 2 * row["B"].value) / (check_integer(width, "width", 1) * row["theta"].value ** 2))

    def table(self) -> str:
        """A plain-text table over layers."""
        head = f"{'layer':>5} {'Theta':>14} {'A = nVar':>14} {'A/Theta^2':>12} {'D':>12} {'B':>12}"
        lines = [f"NTK fluctuations {self.activation.name}: sigma_w^2 = {self.sigma_w2}, sigma_b^2 = {self.sigma_b2}",
                 head, "-" * len(head)]
        for l, row in enumerate(self.rows, start=1):
            total = row["A"].value + 2 * row["B"].value
            lines.append(f"{l:>5} {mpmath.nstr(row['theta'].value, 8):>14} {mpmath.nstr(total, 8):>14} "
                         f"{mpmath.nstr(total / row['theta'].value ** 2, 6):>12} {mpmath.nstr(row['D'].value, 6):>12} "
                         f"{mpmath.nstr(row['B'].value, 6):>12}")
        return "\n".join(lines)

    def latex(self) -> str:
        """The recursions as LaTeX."""
        return "\n".join([
            r"\begin{align*}",
            r"\Theta^{(l+1)} &= K^{(l+1)} + \chi_\perp \Theta^{(l)}, \quad \chi_\perp = \sigma_w^2 \langle \sigma'^2 \rangle,"
            r" \quad \alpha = \sigma_w^2 \left(\partial_K \langle \sigma^2 \rangle + \Theta^{(l)} \partial_K \langle \sigma'^2 \rangle\right),\\",
            r"D^{(l+1)} &= \sigma_w^4 \,\mathrm{Cov}[\sigma^2, \sigma^2 + \Theta^{(l)} \sigma'^2] + \chi_\parallel"
            r" (\alpha V^{(l)} + \chi_\perp D^{(l)}),\\",
            r"A_T^{(l+1)} &= \sigma_w^4 \,\mathrm{Var}[\sigma^2 + \Theta^{(l)} \sigma'^2] + \alpha^2 V^{(l)} + 2 \alpha \chi_\perp D^{(l)}"
            r" + \chi_\perp^2 A_T^{(l)},\\",
            r"B^{(l+1)} &= \sigma_w^4 \langle \sigma'^4 \rangle \left(\Theta^{(l)}\right)^2 + \chi_\perp^2 B^{(l)}, \quad"
            r" \mathrm{Var}\left[\Theta^{(l)}_{ii}\right] = \frac{A_T^{(l)} + 2 B^{(l)}}{n} + O(n^{-2}).",
            r"\end{align*}",
        ])

    def _repr_latex_(self) -> str:
        return self.latex()


def ntk_fluctuations(act: Any, depth: int, *, sigma_w2: Any, sigma_b2: Any = 0, q0: Any = 1,
                     dps: int | None = None) -> NTKFluctuations:
    """Mean NTK Theta^(l) and A^(l) with Var[Theta^(l)_ii] = A^(l)/n + O(1/n^2), one input.

    >>> nf = ntk_fluctuations("identity", 3, sigma_w2=1)   # linear network, K = 1
    >>> [nf.mean(l).exact for l in (1, 2, 3)], [nf.variance(l).exact for l in (1, 2, 3)]
    ([1, 2, 3], [0, 4, 20])
    """
    act = activation(act)
    depth = check_limit(check_integer(depth, "depth", 1), "depth", MAX_DEPTH)
    w = hyperparameter(sigma_w2, "sigma_w2", positive=True)
    b = hyperparameter(sigma_b2, "sigma_b2", positive=False)
    q = hyperparameter(q0, "q0", positive=True)
    dps = working_dps(dps)
    slope = act.derivative()
    if slope.deltas:
        raise DomainError(f"{act.name} jumps: sigma' has a Dirac delta, so the NTK is infinite")
    rows = _recursion(act, slope, depth, w, b, q, dps)
    return NTKFluctuations(act, depth, w, b, q, dps, tuple(rows))


def _recursion(act: Activation, slope: Activation, depth: int, w, b, q, dps: int) -> list[dict]:
    s, d = act, slope
    f0, f1, f2 = (GaussianTerm((s, s), k) for k in range(3))
    g0, g1, g2 = (GaussianTerm((d, d), k) for k in range(3))
    s4, s4_slope = GaussianTerm((s,) * 4), GaussianTerm((s,) * 4, 1)
    mix, mix_slope = GaussianTerm((s, s, d, d)), GaussianTerm((s, s, d, d), 1)
    d4, d4_slope = GaussianTerm((d,) * 4), GaussianTerm((d,) * 4, 1)
    W, B = Num.exact_of(w, dps), Num.exact_of(b, dps)
    zero = Num.exact_of(0, dps)
    k = B + W * Num.exact_of(q, dps)
    theta, V, D, A, Bv = k, zero, zero, zero, zero
    rows = []
    for l in range(1, depth + 1):
        rows.append({"K": k, "theta": theta, "V": V, "D": D, "A": A, "B": Bv})
        if l == depth:
            break
        f, fp = f0.at(k, dps, error_of=f1), f1.at(k, dps, error_of=f2)
        g, gp = g0.at(k, dps, error_of=g1), g1.at(k, dps, error_of=g2)
        m4, m22, m04 = s4.at(k, dps, error_of=s4_slope), mix.at(k, dps, error_of=mix_slope), d4.at(k, dps, error_of=d4_slope)
        chi_par, chi_perp, alpha = W * fp, W * g, W * (fp + theta * gp)
        w2 = W * W
        mean_phi = f + theta * g
        new_k = B + W * f
        V, D, A, Bv = (
            w2 * (m4 - f * f) + chi_par * chi_par * V,
            w2 * (m4 + theta * m22 - f * mean_phi) + chi_par * (alpha * V + chi_perp * D),
            w2 * (m4 + 2 * theta * m22 + theta * theta * m04 - mean_phi * mean_phi)
            + alpha * alpha * V + 2 * alpha * chi_perp * D + chi_perp * chi_perp * A,
            w2 * m04 * theta * theta + chi_perp * chi_perp * Bv,
        )
        theta = new_k + chi_perp * theta
        k = new_k
    return rows
