"""The no-coincidence experiment's statistics: intervals, the independence baseline, GP theory.

:func:`dispersion_interval` and :func:`clopper_pearson` put intervals on the sampled index of
dispersion and on Pr[P]; :func:`independence_baseline` is what independent outputs predict
(Binomial(4^n, 2^-n), exactly); :func:`gp_dispersion` is the infinite-width index of dispersion
through the iterated correlation map (Dunbar & Aaronson 2025 setting).

>>> float(independence_baseline(2).mean.value)
4.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import mpmath
import numpy as np
import sympy

from ncsym.core.errors import DomainError, check_integer
from ncsym.core.results import GUARD_DIGITS, Result, working_dps
from ncsym.models.coincidence import MAX_N

__all__ = ["Interval", "IndependenceBaseline", "independence_baseline", "gp_dispersion", "dispersion_interval", "clopper_pearson"]


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.2e}"


@dataclass(frozen=True)
class Interval:
    """An estimate with a confidence interval: ``value``, ``low``, ``high``, ``std_error``, ``method``.

    >>> Interval(1.0, 0.9, 1.1, 0.05, "delta method").contains(1.05)
    True
    """

    value: float
    low: float
    high: float
    std_error: float
    method: str
    confidence: float = 0.95

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def __str__(self) -> str:
        return f"{_fmt(self.value)} [{_fmt(self.low)}, {_fmt(self.high)}]"


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise DomainError(f"confidence must lie in (0, 1), got {confidence!r}")
    return float(mpmath.sqrt(2) * mpmath.erfinv(confidence))


def dispersion_interval(counts: Sequence[float], *, confidence: float = 0.95, method: str = "delta",
                        n_bootstrap: int = 2000, seed: Any = 0) -> Interval:
    """Index of dispersion ``s^2 / mean`` of i.i.d. counts with a confidence interval.

    ``method="delta"``: value +- z SE with SE = sd(IF)/sqrt(M), IF the influence function
    ``((N - m)^2 - s^2)/m - s^2 (N - m)/m^2`` of s^2/m (first-order, good when M is large
    against the kurtosis of N). ``method="bootstrap"``: percentile interval of
    ``n_bootstrap`` resamples drawn from ``numpy.random.default_rng(seed)``; SE is their sd.

    >>> rng = np.random.default_rng(0)
    >>> d = dispersion_interval(rng.poisson(5.0, 4000))
    >>> d.contains(1.0), round(d.std_error, 3)
    (True, 0.022)
    """
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim != 1 or x.size < 3:
        raise DomainError(f"need a 1-d array of at least 3 counts, got shape {x.shape}")
    mean, var = x.mean(), x.var(ddof=1)
    if mean <= 0:
        raise DomainError("the index of dispersion needs a positive mean count")
    value = var / mean
    z = _z(confidence)
    if method == "delta":
        centred = x - mean
        influence = (centred**2 - var) / mean - var * centred / mean**2
        se = float(influence.std(ddof=1) / math.sqrt(x.size))
        return Interval(float(value), float(value - z * se), float(value + z * se), se,
                        "delta method (influence function)", confidence)
    if method == "bootstrap":
        n_bootstrap = check_integer(n_bootstrap, "n_bootstrap", 10)
        rng = np.random.default_rng(seed)
        stats = np.empty(n_bootstrap)
        for b in range(n_bootstrap):
            sample = x[rng.integers(0, x.size, x.size)]
            m = sample.mean()
            stats[b] = sample.var(ddof=1) / m if m > 0 else np.nan
        stats = stats[np.isfinite(stats)]
        alpha = (1 - confidence) / 2
        low, high = np.quantile(stats, [alpha, 1 - alpha])
        return Interval(float(value), float(low), float(high), float(stats.std(ddof=1)),
                        f"percentile bootstrap ({n_bootstrap} resamples, seed {seed})", confidence)
    raise DomainError(f"method must be 'delta' or 'bootstrap', got {method!r}")


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """Exact (Clopper-Pearson) binomial interval for a probability.

    >>> iv = clopper_pearson(0, 100)
    >>> iv.value, round(iv.high, 6)
    (0.0, 0.036217)
    """
    trials = check_integer(trials, "trials", 1)
    successes = check_integer(successes, "successes", 0, trials)
    alpha = (1 - confidence) / 2
    _z(confidence)

    try:
        from scipy.special import betaincinv
    except ImportError:
        betaincinv = None

    def quantile(a: float, b: float, p: float) -> float:
        if betaincinv is not None:
            return float(betaincinv(a, b, p))
        # inverse of the regularized incomplete beta by bisection (monotone in x)
        lo, hi = mpmath.mpf(0), mpmath.mpf(1)
        with mpmath.workdps(20):
            for _ in range(60):
                mid = (lo + hi) / 2
                if mpmath.betainc(a, b, 0, mid, regularized=True) < p:
                    lo = mid
                else:
                    hi = mid
        return float((lo + hi) / 2)

    low = 0.0 if successes == 0 else quantile(successes, trials - successes + 1, alpha)
    high = 1.0 if successes == trials else quantile(successes + 1, trials - successes, 1 - alpha)
    p = successes / trials
    return Interval(p, low, high, math.sqrt(p * (1 - p) / trials), "Clopper-Pearson", confidence)


@dataclass(frozen=True)
class IndependenceBaseline:
    """What independence of all outputs predicts for N at a given n (exact Results).

    Binomial: each of the 4^n inputs independently all-negative with probability 2^-n;
    Poisson: its limit with mean 2^n.

    >>> b = independence_baseline(3)
    >>> b.mean.exact, b.poisson_prob_P.exact, b.binomial_dispersion.exact
    (8, exp(-8), 7/8)
    """

    n: int
    mean: Result
    poisson_prob_P: Result
    binomial_prob_P: Result
    poisson_dispersion: Result
    binomial_dispersion: Result

    def poisson_pmf(self, k: Any) -> np.ndarray:
        """Poisson(2^n) probabilities of the counts ``k`` (float64)."""
        k = np.asarray(k, dtype=np.float64)
        lam = 2.0**self.n
        return np.exp(k * math.log(lam) - lam - _lgamma(k + 1))

    def binomial_pmf(self, k: Any) -> np.ndarray:
        """Binomial(4^n, 2^-n) probabilities of the counts ``k`` (float64)."""
        gammaln = _lgamma
        k = np.asarray(k, dtype=np.float64)
        trials, p = 4.0**self.n, 0.5**self.n
        inside = (k >= 0) & (k <= trials)
        kk = np.clip(k, 0, trials)
        log = (gammaln(trials + 1) - gammaln(kk + 1) - gammaln(trials - kk + 1)
               + kk * math.log(p) + (trials - kk) * math.log1p(-p))
        return np.where(inside, np.exp(log), 0.0)


def independence_baseline(n: int, dps: int | None = None) -> IndependenceBaseline:
    """The independence predictions for n: mean 2^n, Pr[P] = exp(-2^n) or (1 - 2^-n)^(4^n),
    dispersion 1 (Poisson) or 1 - 2^-n (binomial). All exact.

    >>> float(independence_baseline(2).binomial_prob_P.value)
    0.010022595757...
    """
    n = check_integer(n, "n", 1, MAX_N)
    dps = working_dps(dps)
    two_n = sympy.Integer(2) ** n
    exact = lambda expr, label: Result.from_exact(expr, label=label, method="independence baseline", dps=dps)
    # (1 - 2^-n)^(4^n) kept as exp(4^n log(.)) so sympy does not expand a 4^n-th power.
    binomial = sympy.exp(two_n**2 * sympy.log(1 - 1 / two_n))
    return IndependenceBaseline(
        n, exact(two_n, "E[N]"), exact(sympy.exp(-two_n), "Pr[P] (Poisson)"),
        exact(binomial, "Pr[P] (binomial)"), exact(sympy.Integer(1), "Var N / E N (Poisson)"),
        exact(1 - 1 / two_n, "Var N / E N (binomial)"))


_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])


def _iterated(act: Any, n: int, depth: int, dps: int | None) -> tuple[Result, ...]:
    """r_h = C^depth(rho_0) at rho_0 = 1 - h/n, h = 0..2n, as Results.

    With ``dps``: :meth:`CorrelationMap.iterate` at that precision, whose error bounds are
    propagated rigorously (seconds per step without a closed form). Without: one vectorized
    float64 iteration; its error is an estimate, not a bound: ``_FLOAT_STEP_ERROR`` per
    evaluation of C, carried through the layers with the slope C'(|r|) (the method says so).
    """
    from ncsym.symbolic.activations import activation

    cmap = _correlation_map(activation(act), dps)
    if dps is not None:
        return tuple(cmap.iterate(sympy.Rational(n - h, n), depth, dps=dps)[-1] for h in range(2 * n + 1))
    rho0 = 1 - np.arange(2 * n + 1) / n
    path = cmap.iterate(rho0, depth)
    error = np.zeros_like(rho0)
    for layer in range(1, depth + 1):
        slope = np.asarray(cmap.slope(np.minimum(np.abs(path[layer - 1]) + error, 1.0)), dtype=float)
        error = _FLOAT_STEP_ERROR + slope * error
    final = path[-1].copy()
    # rho_0 = 1 is a fixed point, C(1) = 1 exactly; rounding there would be amplified by the
    # infinite slope of arcsin at 1.
    final[0], error[0] = 1.0, 0.0
    return tuple(Result.from_numeric(v, e, label=f"rho_{depth}", method="float64 iteration of C; error estimated",
                                     dps=15) for v, e in zip(final, error))


@lru_cache(maxsize=32)
def _correlation_map(act: Any, dps: int | None) -> Any:
    """One correlation map per activation, reused across depths and n (its setup can take seconds)."""
    from ncsym.depth.correlation import correlation_map

    return correlation_map(act) if dps is None else correlation_map(act, dps=dps)


#: Error allowed per float64 evaluation of the correlation map (estimate, see _iterated).
_FLOAT_STEP_ERROR = 1e-13


def gp_dispersion(act: Any, n: int, depth: int, *, dps: int | None = None) -> Result:
    """Var N / E N at infinite width: 2^-n sum_h binom(2n, h) (4^n p(r_h)^n - 1), r_h = C^depth(1 - h/n).

    p(r) = 1/4 + arcsin(r)/(2 pi) is increasing, so the error of each iterate r_h gives an
    enclosure of its term. ``dps=None``: float64 iterates with an estimated error; ``dps``:
    rigorous iterates at that precision (fast with a closed-form correlation map).

    >>> d = gp_dispersion("relu", 2, 1)
    >>> round(float(d), 6), d.error < 1e-9
    (2.583861, True)
    """
    n = check_integer(n, "n", 1, MAX_N)
    depth = check_integer(depth, "depth", 1)
    iterates = _iterated(act, n, depth, dps)
    dps = working_dps(dps) if dps is not None else 15
    with mpmath.workdps(dps + GUARD_DIGITS):
        four_n = mpmath.mpf(4) ** n

        def term(r: Any) -> Any:
            r = max(mpmath.mpf(-1), min(mpmath.mpf(1), r))
            return four_n * (mpmath.mpf(1) / 4 + mpmath.asin(r) / (2 * mpmath.pi)) ** n - 1

        total = low = high = mpmath.mpf(0)
        for h, r in enumerate(iterates):
            weight = mpmath.binomial(2 * n, h)
            total += weight * term(r.value)
            low += weight * term(r.value - r.error)
            high += weight * term(r.value + r.error)
        scale = mpmath.mpf(2) ** -n
        value = total * scale
        error = max(high * scale - value, value - low * scale) + mpmath.mpf(10) ** (-dps) * abs(value)
    return Result.from_numeric(value, error, label="Var N / E N (infinite width)",
                               method=f"orthant formula over C^depth ({iterates[-1].method})", dps=dps,
                               details={"n": n, "depth": depth})


# -- the experiment ---------------------------------------------------------------------------
