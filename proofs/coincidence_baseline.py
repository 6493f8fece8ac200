"""The no-coincidence experiment's independence baseline: E[N] = 2^n exactly, Poisson/binomial dispersion."""

from __future__ import annotations

import mpmath
import sympy

from ncsym import zoo
from ncsym.models import coincidence_experiment, gp_dispersion, independence_baseline

NAME = "coincidence_baseline"
TITLE = "The no-coincidence baseline"
STATEMENT = ("N(C) counts the 4^n Boolean inputs on which all n outputs of a random network are negative. "
             "Given the hidden layers the n readout units are i.i.d. symmetric Gaussians, so every input is "
             "all-negative with probability exactly 2^-n and E[N] = 2^n for every activation and width. If the "
             "4^n events were independent, N ~ Binomial(4^n, 2^-n) with dispersion Var N/E N = 1 - 2^-n, "
             "-> Poisson(2^n) with dispersion 1 and Pr[N = 0] = exp(-2^n). Proved exactly; sampled "
             "networks at small n give E[N] = 2^n within 5 SE and the infinite-width dispersion.")
STATEMENT_LATEX = (r"\[ \mathbb{E}[N] = 4^n\, 2^{-n} = 2^n, \qquad \frac{\mathrm{Var}\,N}{\mathbb{E}N}"
                   r"\Big|_{\mathrm{Bin}(4^n, 2^{-n})} = 1 - 2^{-n}, \qquad \Pr[N=0] \to e^{-2^n}. \]")


def run(ctx) -> None:
    n_sym = sympy.Symbol("n", positive=True, integer=True)
    p = 2**-n_sym
    trials = 4**n_sym
    ctx.exact("binomial mean 4^n 2^-n = 2^n", sympy.powsimp(sympy.expand_power_base(trials * p - 2**n_sym),
                                                             force=True).rewrite(sympy.exp))
    ctx.exact("binomial dispersion 4^n p (1 - p) / (4^n p) = 1 - 2^-n", trials * p * (1 - p) / (trials * p) - (1 - p))
    for n in range(1, 7 if not ctx.quick else 5):
        base = independence_baseline(n)
        ctx.exact_equal(f"n = {n}: ncsym's E[N] = 2^{n}", base.mean.exact, 2**n)
        ctx.exact_equal(f"n = {n}: binomial dispersion = 1 - 2^-{n}", base.binomial_dispersion.exact,
                        1 - sympy.Rational(1, 2**n))
        ctx.exact_equal(f"n = {n}: Poisson Pr[N = 0] = exp(-2^{n})", base.poisson_prob_P.exact, sympy.exp(-2**n))
        ctx.exact(f"n = {n}: binomial Pr[N = 0] = (1 - 2^-{n})^(4^{n})",
                  sympy.expand_log(sympy.log(base.binomial_prob_P.exact), force=True)
                  - 4**n * sympy.log(1 - sympy.Rational(1, 2**n)))

    # sampled networks at n = 2 (16 inputs): E[N] = 4 for any activation; the dispersion against the
    # infinite-width orthant formula, allowing the O(1/width) finite-width term (estimated from a narrower run)
    n, depth = 2, 1
    networks = 400 if ctx.quick else 4000
    for act in (zoo.relu, zoo.tanh):
        wide = coincidence_experiment(act, n, 256, depth, networks, seed=5, theory=False)
        mean = wide.mean
        ctx.sampler(f"{act.name}, n = {n}, width 256: sampled E[N] = 2^{n}", float(mean.value), 2**n,
                    float(mean.std_error))
    theory = gp_dispersion(zoo.relu, n, depth, dps=ctx.dps)
    narrow = coincidence_experiment(zoo.relu, n, 64, depth, networks, seed=6, theory=False)
    wide = coincidence_experiment(zoo.relu, n, 256, depth, networks, seed=6, theory=False)
    d_narrow, d_wide = narrow.dispersion_given_hidden, wide.dispersion_given_hidden
    allowance = (abs(d_narrow.value - float(theory.value)) + 5 * d_narrow.std_error) * 64 / 256
    ctx.sampler(f"relu, n = {n}, depth {depth}, width 256: dispersion given the hidden layer vs the "
                f"infinite-width value {mpmath.nstr(theory.value, 8)} (allowance: width-64 gap scaled by 1/width)",
                d_wide.value, float(theory.value), d_wide.std_error, allowance=allowance)
    ctx.require("sampler", f"relu is overdispersed: dispersion {d_wide.value:.3f} exceeds the independent "
                f"1 - 2^-{n} by more than 5 SE", d_wide.value - 5 * d_wide.std_error > 1 - 2**-n)
