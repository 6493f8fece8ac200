"""The 1/n expansion of one input's preactivations through a deep network of width n.

Network: z^(1) = b^(1) + W^(1) x with |x|^2/n_0 = q0, z^(l+1) = b^(l+1) + W^(l+1) sigma(z^(l)),
W ~ N(0, sigma_w2/fan_in), b ~ N(0, sigma_b2), every hidden width n. Given layer l, the n
preactivations of layer l+1 are i.i.d. N(0, G^(l+1)) with

    G^(l+1) = sigma_b2 + (sigma_w2/n) sum_j sigma(z_j^(l))^2,

so E[z^2] = E[G] and E[z^4] - 3 E[z^2]^2 = 3 Var[G] exactly. Write E[G^(l)] = K^(l) + K1^(l)/n,
Var[G^(l)] = V^(l)/n (+ O(1/n^2)); with g(K) = E[sigma(u)^2], u ~ N(0, K), the law of total
covariance (neurons j != k of layer l are independent given G^(l)) gives, to O(1/n)
(Yaida 2020, sec. 2; Roberts, Yaida & Hanin 2022, eqs. 4.90, 5.?? in their notation):

    K^(l+1)  = sigma_b2 + sigma_w2 g(K^(l)),                       K^(1) = sigma_b2 + sigma_w2 q0
    V^(l+1)  = sigma_w2^2 [<sigma^4> - <sigma^2>^2] + chi_par^2 V^(l),           V^(1) = 0
    K1^(l+1) = chi_par K1^(l) + (sigma_w2 / 2) g''(K^(l)) V^(l),                  K1^(1) = 0
    chi_par  = sigma_w2 g'(K^(l)) = sigma_w2 <sigma'^2 + sigma sigma''>,

the brackets at u ~ N(0, K^(l)). The K-derivatives of g come from the heat-equation identity
of :mod:`ncsym.width_corrections.terms`, so kinks and jumps need no special care.

Where the expansion stops: the next order is about r/2 of the first, r = V/(n K^2) (the
effective depth-to-width ratio; ReLU's exact finite-width E[z^4]/(3 E[z^2]^2) = (1 + 5/n)^(l-1)
against the linear 1 + 5(l-1)/n shows it). :data:`TRUST_THRESHOLD` = 0.2 keeps that below 10%.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy

from ncsym.core.errors import DomainError, check_integer
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.core.numbers import check_real
from ncsym.core.results import Result, working_dps
from ncsym.symbolic.activations import Activation, activation, exact_number
from ncsym.width_corrections.terms import K, GaussianTerm, Num

__all__ = ["FiniteWidth", "finite_width", "TRUST_THRESHOLD", "hyperparameter"]

#: Largest effective depth-to-width ratio r = V/(n K^2) at which the 1/n result is trusted.
TRUST_THRESHOLD = 0.2


def hyperparameter(value: Any, name: str, *, positive: bool) -> sympy.Expr:
    """A hyperparameter as an exact sympy number (floats read as their decimal: 0.1 is 1/10).

    >>> hyperparameter(0.5, "sigma_w2", positive=True)
    1/2
    """
    check_real(value, name)
    if isinstance(value, mpmath.mpf):
        value = sympy.Float(value, mpmath.mp.dps)
    expr = exact_number(value)
    if isinstance(expr, sympy.Float):
        expr = sympy.Rational(str(expr))
    if expr.is_negative or (positive and expr.is_zero) or not expr.is_real:
        need = "positive" if positive else "non-negative"
        raise DomainError(f"{name} must be {need}, got {value!r}")
    return expr


@dataclass(frozen=True)
class Layer:
    """The numbers of one layer: kernel, vertex, kernel correction, and the map's slope there."""

    K: Num
    V: Num
    K1: Num
    chi: Num  # chi_par at K^(l): d K^(l+1) / d K^(l)
    g2: Num  # g''(K^(l))
    spread: Num  # sigma_w2^2 Var[sigma(u)^2] at K^(l)


@dataclass(frozen=True)
class FiniteWidth:
    """K^(l), V^(l), K1^(l) for l = 1..depth of one input; see :func:`finite_width`."""

    activation: Activation
    depth: int
    sigma_w2: sympy.Expr
    sigma_b2: sympy.Expr
    q0: sympy.Expr
    dps: int
    layers: tuple[Layer, ...] = field(repr=False)

    def _layer(self, l: int) -> Layer:
        l = check_integer(l, "layer", 1, self.depth)
        return self.layers[l - 1]

    def kernel(self, l: int) -> Result:
        """K^(l), the infinite-width variance of a preactivation of layer l."""
        return self._layer(l).K.result(f"K^({l})", "variance recursion")

    def vertex(self, l: int) -> Result:
        """V^(l): E[z^4] - 3 E[z^2]^2 = 3 V^(l)/n + O(1/n^2); V^(1) = 0."""
        return self._layer(l).V.result(f"V^({l})", "four-point vertex recursion")

    def kernel_correction(self, l: int) -> Result:
        """K1^(l): E[z^2] = K^(l) + K1^(l)/n + O(1/n^2)."""
        return self._layer(l).K1.result(f"K1^({l})", "1/n kernel correction recursion")

    def chi_parallel(self, l: int) -> Result:
        """chi_par at layer l: sigma_w2 d/dK E[sigma(u)^2], the slope of the variance map."""
        return self._layer(l).chi.result(f"chi_par^({l})", "sigma_w2 g'(K)")

    def normalized_vertex(self, l: int) -> Result:
        """V^(l) / K^(l)^2 (for ReLU exactly 5 (l - 1))."""
        layer = self._layer(l)
        return (layer.V / (layer.K * layer.K)).result(f"V^({l})/K^2", "vertex over kernel squared")

    def effective_ratio(self, l: int, width: int) -> float:
        """r = V^(l) / (n K^(l)^2): E[z^4]/(3 E[z^2]^2) = 1 + r + O(1/n^2)."""
        width = check_integer(width, "width", 1)
        layer = self._layer(l)
        return float(layer.V.value / (width * layer.K.value ** 2))

    def trustworthy(self, l: int, width: int, threshold: float = TRUST_THRESHOLD) -> bool:
        """True when r = V/(n K^2) <= threshold (the O(1/n^2) remainder is then ~r/2 of the 1/n term)."""
        return self.effective_ratio(l, width) <= threshold

    def verdict(self, l: int, width: int, threshold: float = TRUST_THRESHOLD) -> str:
        """One line on whether the 1/n expansion applies at layer l and this width."""
        r = self.effective_ratio(l, width)
        if r <= threshold:
            return f"1/n theory applies: V/(n K^2) = {r:.3g} <= {threshold:g}"
        return (f"1/n theory NOT to be trusted: V/(n K^2) = {r:.3g} > {threshold:g} "
                "(higher orders in depth/width matter)")

    def mean_square(self, l: int, width: int) -> float:
        """Predicted E[z^2] = K + K1/n at this width (float)."""
        layer = self._layer(l)
        return float(layer.K.value + layer.K1.value / check_integer(width, "width", 1))

    def fourth_cumulant(self, l: int, width: int) -> float:
        """Predicted E[z^4] - 3 E[z^2]^2 = 3 V/n at this width (float)."""
        return float(3 * self._layer(l).V.value / check_integer(width, "width", 1))

    def depth_law(self) -> sympy.Expr | None:
        """V^(l)/K^(l)^2 in closed form in the symbol ``l``, for a positively homogeneous
        activation without bias (<sigma^2>_K = A_2 K, <sigma^4>_K = A_4 K^2 from the engine):
        (A_4/A_2^2 - 1)(l - 1), whatever sigma_w2. None otherwise.

        >>> finite_width("relu", 2, sigma_w2=3).depth_law()
        5*l - 5
        """
        if self.sigma_b2 != 0:
            return None
        act = self.activation
        m2, m4 = GaussianTerm((act, act)).closed, GaussianTerm((act,) * 4).closed
        if m2 is None or m4 is None:
            return None
        A2, A4 = sympy.simplify(m2 / K), sympy.simplify(m4 / K**2)
        if A2.has(K) or A4.has(K) or A2 == 0:
            return None
        return sympy.expand((A4 / A2**2 - 1) * (sympy.Symbol("l", positive=True, integer=True) - 1))

    def table(self, width: int | None = None) -> str:
        """A plain-text table over layers (with r and the verdict at ``width`` if given)."""
        head = f"{'layer':>5} {'K':>14} {'V':>14} {'K1':>14} {'V/K^2':>12} {'chi_par':>10}"
        if width is not None:
            head += f" {'r(n=' + str(width) + ')':>12}  trusted"
        lines = [f"finite width {self.activation.name}: sigma_w^2 = {self.sigma_w2}, sigma_b^2 = {self.sigma_b2}, "
                 f"q0 = {self.q0}", head, "-" * len(head)]
        for l, layer in enumerate(self.layers, start=1):
            row = (f"{l:>5} {mpmath.nstr(layer.K.value, 8):>14} {mpmath.nstr(layer.V.value, 8):>14} "
                   f"{mpmath.nstr(layer.K1.value, 8):>14} {mpmath.nstr(layer.V.value / layer.K.value**2, 6):>12} "
                   f"{mpmath.nstr(layer.chi.value, 6):>10}")
            if width is not None:
                row += f" {self.effective_ratio(l, width):>12.4g}  {'yes' if self.trustworthy(l, width) else 'NO'}"
            lines.append(row)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def latex(self) -> str:
        """The recursions, and the closed forms of the last layer where they are exact."""
        name = self.activation.latex()
        lines = [
            r"\begin{align*}",
            rf"K^{{(l+1)}} &= \sigma_b^2 + \sigma_w^2 \langle \sigma^2 \rangle_{{K^{{(l)}}}}, "
            rf"\quad K^{{(1)}} = \sigma_b^2 + \sigma_w^2 q_0, \quad \sigma(x) = {name},\\",
            r"V^{(l+1)} &= \sigma_w^4 \left[\langle \sigma^4 \rangle_{K^{(l)}} - \langle \sigma^2 \rangle_{K^{(l)}}^2"
            r"\right] + \left(\chi_\parallel^{(l)}\right)^2 V^{(l)}, \quad V^{(1)} = 0,\\",
            r"K^{(1),(l+1)} &= \chi_\parallel^{(l)} K^{(1),(l)} + \frac{\sigma_w^2}{2} "
            r"\frac{d^2 \langle \sigma^2 \rangle_K}{dK^2}\Big|_{K^{(l)}} V^{(l)}, \quad K^{(1),(1)} = 0,\\",
            r"\chi_\parallel^{(l)} &= \sigma_w^2 \frac{d \langle \sigma^2 \rangle_K}{dK}\Big|_{K^{(l)}}"
            r" = \sigma_w^2 \langle \sigma'^2 + \sigma \sigma'' \rangle_{K^{(l)}},\\",
            r"\mathbb{E}[z^2] &= K^{(l)} + \frac{K^{(1),(l)}}{n} + O(n^{-2}), \quad "
            r"\mathbb{E}[z^4] - 3\,\mathbb{E}[z^2]^2 = \frac{3 V^{(l)}}{n} + O(n^{-2}).",
        ]
        law = self.depth_law()
        if law is not None:
            lines[-1] += r"\\"
            lines.append(rf"\frac{{V^{{(l)}}}}{{(K^{{(l)}})^2}} &= {sympy.latex(law)} \quad "
                         r"\text{(positively homogeneous, } \sigma_b^2 = 0\text{)}")
        last = self.layers[-1]
        if last.V.exact is not None:
            lines[-1] += r"\\"
            lines.append(rf"V^{{({self.depth})}} &= {sympy.latex(last.V.exact)}, \quad "
                         rf"K^{{({self.depth})}} = {sympy.latex(last.K.exact)}.")
        lines.append(r"\end{align*}")
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        return self.latex()


def finite_width(act: Any, depth: int, *, sigma_w2: Any, sigma_b2: Any = 0, q0: Any = 1,
                 dps: int | None = None) -> FiniteWidth:
    """The O(1/n) corrections of one input's preactivations for layers 1..depth.

    Exact where the engine has closed forms (the ReLU family, polynomials, ...), else to
    ``dps`` digits with an estimated error.

    >>> fw = finite_width("relu", 4, sigma_w2=2, q0=0.5)   # K^(l) = 1
    >>> [fw.vertex(l).exact for l in range(1, 5)], fw.kernel_correction(4).exact
    ([0, 5, 10, 15], 0)
    >>> fw.verdict(4, 64)
    '1/n theory NOT to be trusted: V/(n K^2) = 0.234 > 0.2 (higher orders in depth/width matter)'
    """
    act = activation(act)
    depth = check_limit(check_integer(depth, "depth", 1), "depth", MAX_DEPTH)
    w = hyperparameter(sigma_w2, "sigma_w2", positive=True)
    b = hyperparameter(sigma_b2, "sigma_b2", positive=False)
    q = hyperparameter(q0, "q0", positive=True)
    dps = working_dps(dps)
    layers = _recursion(act, depth, w, b, q, dps)
    return FiniteWidth(act, depth, w, b, q, dps, tuple(layers))


def _recursion(act: Activation, depth: int, w: sympy.Expr, b: sympy.Expr, q: sympy.Expr, dps: int) -> list[Layer]:
    two, four = (act, act), (act,) * 4
    g0, g1, g2, g3 = (GaussianTerm(two, k) for k in range(4))
    m4, m4_slope = GaussianTerm(four, 0), GaussianTerm(four, 1)
    W, B = Num.exact_of(w, dps), Num.exact_of(b, dps)
    k = B + W * Num.exact_of(q, dps)
    v = Num.exact_of(0, dps)
    k1 = Num.exact_of(0, dps)
    layers = []
    for l in range(1, depth + 1):
        m2 = g0.at(k, dps, error_of=g1)
        chi = W * g1.at(k, dps, error_of=g2)
        curvature = g2.at(k, dps, error_of=g3)
        spread = W * W * (m4.at(k, dps, error_of=m4_slope) - m2 * m2)
        layers.append(Layer(k, v, k1, chi, curvature, spread))
        if l == depth:
            break
        k, v, k1 = B + W * m2, spread + chi * chi * v, chi * k1 + W * curvature * v / 2
    return layers
