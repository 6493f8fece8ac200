"""The K* = 0 universality class at criticality: V^(l) / (l K^(l)^2) -> 2/3 (tanh at sigma_w^2 = 1)."""

from __future__ import annotations

import mpmath
import numpy as np
import sympy

from ncsym import activation, finite_width

from ._common import taylor_coefficients

NAME = "vertex_k_star_zero"
TITLE = "Finite width: the critical tanh vertex, V/(l K^2) -> 2/3"
STATEMENT = ("For an activation with sigma(0) = 0, sigma'(0) = 1 and sigma'''(0) = 6 s_3 != 0 (tanh: s_3 = -1/3) at "
             "sigma_w^2 = 1, sigma_b^2 = 0, the kernel flows to K* = 0. For small K, <sigma^2>_K = K + a K^2 + O(K^3) "
             "with a = 6 s_3, <sigma^4> - <sigma^2>^2 = 2 K^2 + O(K^3) and chi_par = 1 + 2 a K + O(K^2), so K^(l) = "
             "-1/(a l) + ... and the vertex recursion V' = 2 K^2 + chi_par^2 V has V^(l) = 2/(3 a^2 l) + ..., whence "
             "V^(l)/(l K^(l)^2) -> 2/3 whatever a (Roberts, Yaida & Hanin 2022, sec. 5.3). The expansions are derived "
             "with sympy from the activation's Taylor series; the limit is checked on the engine's recursion and on "
             "an independent float recursion to depth 10^4.")
STATEMENT_LATEX = r"\[ \lim_{l\to\infty} \frac{V^{(l)}}{l\,(K^{(l)})^2} = \frac{2}{3} \quad (K^\star = 0\ \text{class, tanh}). \]"


def run(ctx) -> None:
    x, K, a, c, t = sympy.symbols("x K a c t")
    tanh = activation("tanh")
    s = taylor_coefficients(tanh.expr, tanh.expr.free_symbols.pop(), 5)
    ctx.require("exact", "tanh: sigma(0) = 0, sigma'(0) = 1, s_3 = -1/3", s[0] == 0 and s[1] == 1 and s[3] == sympy.Rational(-1, 3),
                f"Taylor coefficients {s}")
    # Gaussian moments of the truncated series (E[z^(2k)] = (2k-1)!! K^k) to O(K^3).
    s3 = sympy.Symbol("s3")
    poly = x + s3 * x**3
    moment = lambda p: sum(coeff * sympy.factorial2(k - 1) * K ** (k // 2)
                           for (k,), coeff in sympy.Poly(sympy.expand(p), x).terms() if k % 2 == 0)
    m2 = sympy.series(moment(poly**2), K, 0, 3).removeO()
    m4 = sympy.series(moment(poly**4), K, 0, 3).removeO()
    ctx.exact_equal("<sigma^2>_K = K + 6 s_3 K^2 + O(K^3)", m2, K + 6 * s3 * K**2)
    ctx.exact_equal("<sigma^4> - <sigma^2>^2 = 2 K^2 + O(K^3)", sympy.series(m4 - m2**2, K, 0, 3).removeO(), 2 * K**2)
    # Leading-order flow with a = 6 s_3: K = -1/(a l), V = c/l; match the 1/l^2 terms of the recursions.
    chi = sympy.diff(K + a * K**2, K)
    Kl, Vl = -1 / (a * t), c / t  # t = l
    K_step = sympy.series((Kl + a * Kl**2) - Kl.subs(t, t + 1), t, sympy.oo, 3)
    ctx.exact("K' = K + a K^2 is solved by K = -1/(a l) to O(1/l^2)", sympy.limit(K_step.removeO() * t**2, t, sympy.oo))
    V_step = (2 * Kl**2 + chi.subs(K, Kl) ** 2 * Vl) - Vl.subs(t, t + 1)
    leading = sympy.limit(sympy.simplify(V_step * t**2), t, sympy.oo)
    c_value = sympy.solve(leading, c)[0]
    ctx.exact_equal("V' = 2 K^2 + chi_par^2 V at O(1/l^2) fixes c = 2/(3 a^2)", c_value, sympy.Rational(2, 3) / a**2)
    limit = sympy.simplify((c_value / t) / (t * Kl**2))
    ctx.exact_equal("V/(l K^2) -> c a^2 = 2/3, independent of a", limit, sympy.Rational(2, 3))
    # The engine's recursion and an independent float recursion (Gauss-Hermite, 120 nodes).
    depth = 12 if ctx.quick else 120
    fw = finite_width("tanh", depth, sigma_w2=1, dps=15)  # compared with float64 below: 15 digits suffice
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)
    weights = weights / weights.sum()
    k, v, ratios = 1.0, 0.0, {}
    for layer in range(1, 10001):
        ratios[layer] = v / (layer * k * k)
        u = np.tanh(np.sqrt(k) * nodes)
        m2f, m4f = np.sum(weights * u**2), np.sum(weights * u**4)
        slope = np.sum(weights * u**2 * (nodes**2 - 1)) / (2 * k)
        k, v = m2f, m4f - m2f**2 + slope**2 * v
    engine = fw.vertex(depth).value / (depth * fw.kernel(depth).value ** 2)
    ctx.numeric(f"engine recursion at l = {depth} agrees with the float recursion", engine, mpmath.mpf(ratios[depth]),
                mpmath.mpf(1e-9))
    ctx.require("numeric", "float recursion: |V/(l K^2) - 2/3| falls below 5e-4 by l = 10^4, shrinking each decade",
                abs(ratios[10000] - 2 / 3) < 5e-4 and abs(ratios[10000] - 2 / 3) < abs(ratios[1000] - 2 / 3) < abs(ratios[100] - 2 / 3),
                f"l = 100: {ratios[100]:.6f}, 1000: {ratios[1000]:.6f}, 10^4: {ratios[10000]:.6f}")
