"""The four-point vertex of scale-invariant networks grows linearly in depth: V/K^2 = 5(l-1) for ReLU."""

from __future__ import annotations

import numpy as np
import sympy

from ncsym import activation, exact_expectation, finite_width, zoo
from ncsym.sampler import MLPSpec, iter_preactivations

NAME = "vertex_scale_invariant"
TITLE = "Finite width: the ReLU vertex grows linearly in depth"
STATEMENT = ("For a positively homogeneous activation (sigma(c x) = c sigma(x), c > 0: ReLU, leaky ReLU) with "
             "sigma_b^2 = 0, the engine's moments are <sigma^2>_K = A_2 K and <sigma^4>_K = A_4 K^2, so the 1/n "
             "recursions K' = sigma_w^2 A_2 K, V' = sigma_w^4 (A_4 - A_2^2) K^2 + (sigma_w^2 A_2)^2 V give, for "
             "r_l = V^(l)/K^(l)^2, r_(l+1) = r_l + A_4/A_2^2 - 1, hence r_l = (A_4/A_2^2 - 1)(l - 1) at every sigma_w^2; "
             "for ReLU A_2 = 1/2, A_4 = 3/2 and V^(l)/K^(l)^2 = 5 (l - 1). At finite width the same conditional "
             "moments give exactly E[z^4]/(3 E[z^2]^2) = (1 + 5/n)^(l-1) for ReLU, whose 1/n coefficient is 5(l - 1) "
             "and whose logarithm is 5(l - 1)/n + O(1/n^2): the exp(5 l/n) growth of Hanin & Nica (2019) at leading "
             "order. Checked against sampled networks.")
STATEMENT_LATEX = (r"\[ \frac{V^{(l)}}{(K^{(l)})^2} = \Big(\frac{A_4}{A_2^2} - 1\Big)(l - 1) \overset{\text{ReLU}}{=} 5(l-1),"
                   r" \qquad \frac{\mathbb{E}[z^4]}{3\,\mathbb{E}[z^2]^2} = \Big(1 + \frac{5}{n}\Big)^{l-1}. \]")

K, n, l = sympy.Symbol("K", positive=True), sympy.Symbol("n", positive=True), sympy.Symbol("l", integer=True, positive=True)


def run(ctx) -> None:
    for act in (zoo.relu, zoo.leaky_relu(sympy.Rational(1, 10))):
        m2, m4 = exact_expectation([act, act], q=K), exact_expectation([act] * 4, q=K)
        A2, A4 = sympy.simplify(m2 / K), sympy.simplify(m4 / K**2)
        ctx.require("exact", f"{act.name}: <sigma^2>_K / K and <sigma^4>_K / K^2 are free of K (homogeneous)",
                    not (A2.has(K) or A4.has(K)), f"A_2 = {A2}, A_4 = {A4}")
        c = sympy.simplify(A4 / A2**2 - 1)
        r = sympy.Function("r")
        solution = sympy.rsolve(r(l + 1) - r(l) - c, r(l), {r(1): 0})
        ctx.exact(f"{act.name}: r_(l+1) = r_l + A_4/A_2^2 - 1, r_1 = 0 solves to ({c})(l - 1)",
                  solution - c * (l - 1), formula=rf"r_l = {sympy.latex(sympy.factor(solution))}")
        for w in (2, sympy.Rational(3, 2)):
            fw = finite_width(act, 8, sigma_w2=w)
            got = [fw.normalized_vertex(k).exact for k in range(1, 9)]
            ctx.require("exact", f"{act.name}, sigma_w^2 = {w}: finite_width gives V/K^2 = ({c})(l-1) for l <= 8",
                        got == [c * (k - 1) for k in range(1, 9)], f"{got}")
    relu = activation("relu")
    ctx.exact_equal("ReLU: A_4/A_2^2 - 1 = 5", sympy.simplify(exact_expectation([relu] * 4, q=K) / K**2
                                                              / (exact_expectation([relu] * 2, q=K) / K) ** 2 - 1), 5)
    # Exact finite width: given G, the n units are i.i.d. N(0, G); E[G'^2 | G] = w^2/n^2 (n m4 + n(n-1) m2^2).
    G = sympy.Symbol("G", positive=True)
    m2, m4 = exact_expectation([relu] * 2, q=G), exact_expectation([relu] * 4, q=G)
    growth = sympy.simplify(4 * (n * m4 + n * (n - 1) * m2**2) / n**2 / (2 * m2) ** 2)  # sigma_w^2 = 2
    ctx.exact_equal("ReLU at finite width: E[G^(l+1)^2] / E[G^(l)^2] = 1 + 5/n (sigma_w^2 = 2)", growth, 1 + 5 / n)
    ratio = (1 + 5 / n) ** (l - 1)
    ctx.exact("the 1/n coefficient of (1 + 5/n)^(l-1) is 5(l-1) = V/K^2",
              sympy.limit(sympy.diff(ratio.subs(n, 1 / sympy.Symbol("e", positive=True)), sympy.Symbol("e", positive=True)),
                          sympy.Symbol("e", positive=True), 0) - 5 * (l - 1))
    # Sampled networks: E[z^4]/(3 E[z^2]^2) against the exact (1 + 5/n)^(l-1).
    depth, width, networks = 5, 32, 12000 if ctx.quick else 40000
    spec = MLPSpec(input_dim=1, widths=width, depth=depth, activation=lambda h: np.maximum(h, 0.0), sigma_w2=2.0)
    m2s, m4s = [], []
    for _, h, _ in iter_preactivations(spec, np.array([[1.0]]), networks, seed=11, layers=[depth]):
        z = h[depth][:, 0, :]
        m2s.append((z**2).mean(1))
        m4s.append((z**4).mean(1))
    m2s, m4s = np.concatenate(m2s), np.concatenate(m4s)
    # K = 2 exactly at every layer and E[z^2] = 2 at every width: compare E[z^4]/12 directly.
    estimate, se = m4s.mean() / 12, m4s.std() / np.sqrt(networks) / 12
    exact_ratio = (1 + 5 / width) ** (depth - 1)
    ctx.sampler(f"ReLU width {width}, depth {depth}: E[z^4]/(3 K^2) = (1 + 5/n)^(l-1) = {exact_ratio:.4f}",
                estimate, exact_ratio, se)
    linear = 1 + 5 * (depth - 1) / width  # r = 0.625, beyond the trust threshold 0.2
    ctx.require("sampler", f"... and resolves its gap to the 1/n truncation 1 + 5(l-1)/n = {linear:.4f} (r = 0.625)",
                abs(estimate - linear) > 3 * se, f"estimate {estimate:.4f} ± {se:.4f}")
