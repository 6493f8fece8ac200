"""The no-coincidence independence condition derived from the Hermite expansion (Dunbar & Aaronson 2025)."""

from __future__ import annotations

import sympy

from ncsym import correlation_map, exact_expectation, hermite_coefficients, zoo
import ncsym

NAME = "independence_general"
TITLE = "Why zero mean and nonlinearity: the general derivation"
STATEMENT = ("Hypotheses (Dunbar & Aaronson 2025): natural hyperparameters (no bias, weight variance "
             "1/E[sigma^2], so every preactivation has variance 1), sigma square integrable with normalized "
             "Hermite coefficients a_k (sigma = sum a_k He_k / sqrt(k!)). Then C(rho) = sum a_k^2 rho^k / sum a_k^2 "
             "for any coefficient sequence, so C(0) = a_0^2/E[sigma^2] = E[sigma]^2/E[sigma^2] and C'(0) = "
             "a_1^2/E[sigma^2], with 1 - C'(0) = (a_0^2 + sum_{k>=2} a_k^2)/E[sigma^2] > 0 unless sigma is linear. "
             "If a_0 = 0 and sigma is nonlinear, |C(rho)| <= |rho| - |rho|(1 - |rho|) R(1)/E[sigma^2] < |rho| with "
             "R(1) = sum_{k>=2} a_k^2 > 0, so C^L(rho_0) -> 0 for every |rho_0| < 1 (outputs become independent). "
             "If a_0 != 0, C(0) > 0 and 0 is not a fixed point; if sigma is linear, C(rho) = rho. Hence: "
             "decorrelation iff E[sigma] = 0 and sigma nonlinear. Derived symbolically over a generic sequence; "
             "checked on instances against closed-form correlation maps.")
STATEMENT_LATEX = (r"\[ C(\rho) = \frac{\sum_k a_k^2 \rho^k}{\sum_k a_k^2},\quad C(0) = \frac{a_0^2}{\mathbb{E}\sigma^2},"
                   r"\quad C'(0) = \frac{a_1^2}{\mathbb{E}\sigma^2} < 1 \iff \sigma \text{ nonlinear},\quad "
                   r"a_0 = 0:\ |\rho| - |C(\rho)| \ge \frac{|\rho|(1-|\rho|)\sum_{k\ge2} a_k^2}{\mathbb{E}\sigma^2}. \]")


def run(ctx) -> None:
    r = sympy.Symbol("rho", real=True)
    t = sympy.Symbol("t", nonnegative=True)                 # t = |rho| <= 1
    a0, a1 = sympy.symbols("a_0 a_1", real=True)
    R = sympy.Function("R")                               # R(rho) = sum_{k>=2} a_k^2 rho^(k-2), generic
    S = a0**2 + a1**2 + R(1)                               # E[sigma^2] = sum_k a_k^2 (Parseval)
    C = (a0**2 + a1**2 * r + r**2 * R(r)) / S              # the natural correlation map, any sequence
    ctx.exact_equal("C(1) = 1 (natural hyperparameters: unit variance is kept)", C.subs(r, 1), 1)
    ctx.exact_equal("C(0) = a_0^2 / E[sigma^2] for every coefficient sequence", C.subs(r, 0), a0**2 / S)
    slope = sympy.diff(C, r).subs(r, 0).doit()
    ctx.exact_equal("C'(0) = a_1^2 / E[sigma^2] for every coefficient sequence", slope, a1**2 / S)
    ctx.exact_equal("1 - C'(0) = (a_0^2 + sum_{k>=2} a_k^2) / E[sigma^2]: zero only for linear sigma",
                    1 - slope, (a0**2 + R(1)) / S)
    # a_0 = 0: the contraction towards 0. With nonnegative coefficients R(t) <= R(1) on [0, 1] and
    # |C(rho)| <= C(|rho|), so |rho| - |C(rho)| >= t (R(1) - t R(t)) / S >= t (1 - t) R(1) / S.
    C0 = C.subs(a0, 0)
    gap = sympy.simplify(t - C0.subs(r, t))
    ctx.exact_equal("a_0 = 0: |rho| - C(|rho|) = |rho| (R(1) - |rho| R(|rho|)) / E[sigma^2]", gap,
                    t * (R(1) - t * R(t)) / S.subs(a0, 0))
    lower = t * (1 - t) * R(1) / S.subs(a0, 0)
    ctx.exact_equal("... which is >= |rho| (1 - |rho|) R(1) / E[sigma^2] once R(|rho|) <= R(1) (the difference "
                    "is |rho|^2 (R(1) - R(|rho|)) / E[sigma^2] >= 0)",
                    gap - lower, t**2 * (R(1) - R(t)) / S.subs(a0, 0))
    # a linear sigma (a_0 = 0, all a_k = 0 for k >= 2): C is the identity, no decorrelation
    linear = C.subs(a0, 0).replace(R, lambda arg: 0)
    ctx.exact_equal("linear sigma: C(rho) = rho", linear, r)
    # instances: the generic formulas against ncsym's closed-form correlation maps (a separate route:
    # Stein-recurrence Hermite coefficients and exact Gaussian moments against the kernel registry)
    instances = [zoo.relu, ncsym.centered(zoo.relu), zoo.erf, zoo.sin, zoo.identity]
    if not ctx.quick:
        instances += [zoo.gelu, zoo.cos, zoo.exp]
    for act in instances:
        cmap = correlation_map(act)
        form = cmap.closed_form
        if form is None:
            continue
        symbol = next(iter(form.free_symbols))
        second = exact_expectation(act * act)
        a = [c.exact for c in hermite_coefficients(act, 1)]
        ctx.exact(f"{act.name}: closed-form C(0) = a_0^2 / E[sigma^2]", form.subs(symbol, 0) - a[0] ** 2 / second)
        ctx.exact(f"{act.name}: closed-form C'(0) = a_1^2 / E[sigma^2]",
                  sympy.diff(form, symbol).subs(symbol, 0) - a[1] ** 2 / second)
