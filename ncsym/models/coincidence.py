"""The no-coincidence experiment: are random networks on Boolean inputs random functions?

A random network ``C: {0,1}^{2n} -> R^n`` (inputs encoded as +-1 vectors of length 2n,
``depth`` hidden layers of ``width`` units, a readout of width n, natural hyperparameters:
no bias, first-layer weights of variance 1/(2n), later weights of variance
``1/(E[sigma(z)^2] width)``, so every preactivation has variance 1) is run on all 4^n inputs;
``N(C)`` counts the inputs whose n outputs are all negative, and the property
``P(C) = [N(C) = 0]`` says every input has a positive output (MATH.md section 4).

If the outputs were independent across inputs and coordinates, N would be Binomial(4^n, 2^-n),
about Poisson with mean 2^n, and Pr[P] about exp(-2^n). What holds exactly, for every
activation and width: E[N] = 2^n (given the hidden layers, the n readout units are i.i.d.
symmetric Gaussians). The variance is where activations differ:

    Var N = sum_{x, x'} E[p(rho_C(x, x'))^n] - 4^n,    p(r) = 1/4 + arcsin(r) / (2 pi),

with rho_C the correlation of the last hidden activations of network C on x and x' (the readout
of C is a Gaussian process with that kernel, and p is its orthant probability). Infinite width
gives rho_C = C^depth(rho_0), the correlation map iterated over the hidden layers, with
rho_0 = 1 - 2h/(2n) at Hamming distance h (:func:`gp_dispersion`, derived here for this
experiment). For zero-mean nonlinear activations it goes to 0 with depth, and the index of
dispersion ``Var N / E N`` goes to the independent value ``1 - 2^-n`` (``1 - 2^(1-n)`` for odd
activations, whose outputs on x and -x are exact negatives); with a nonzero mean (relu, gelu)
correlations stay near 1 and N is wildly overdispersed. At moderate depth even zero-mean
networks are overdispersed: nearby inputs decorrelate only geometrically, at rate C'(1).

Estimators (all over independent networks, reproducible from ``seed``):

- ``dispersion``: ``s^2 / mean`` of the counts, with a delta-method interval (influence
  function ``((N - m)^2 - s^2)/m - s^2 (N - m)/m^2``), or a seeded percentile bootstrap;
- ``dispersion_given_hidden``: the same quantity through the formula above at finite width,
  averaging each network's exact conditional moments (Rao-Blackwell: no readout noise);
- ``prob_P``: the fraction of networks with N = 0, with a Clopper-Pearson interval;
- ``marginal``: the prediction from each network's own marginals q_j (fraction of inputs
  with output j negative) if all events were independent: N ~ Binomial(4^n, prod_j q_j).

>>> res = coincidence_experiment(np.tanh, 2, 16, 2, 200, seed=1, second_moment=0.394294490)
>>> res.counts.shape, float(res.baseline.mean.value)
((200,), 4.0)
>>> 0.5 < res.dispersion.value < 3
True
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable, Iterable, Sequence

import mpmath
import numpy as np
import sympy

from ncsym.core.errors import DomainError, NcsymError, NonFiniteError, check_integer
from ncsym.core.results import GUARD_DIGITS, Result, working_dps
from ncsym.sampler import (Estimate, MLPSpec, NetworkWeights, forward, forward_chunks, iter_preactivations,
                      numpy_activation, sample_weights)

__all__ = [
    "MAX_N", "CoincidenceSpec", "coincidence_spec", "boolean_inputs", "sample_networks",
    "NegativeCounts", "count_all_negative", "Interval", "IndependenceBaseline", "independence_baseline",
    "gp_dispersion", "dispersion_interval", "clopper_pearson", "CoincidenceResult", "coincidence_experiment",
    "CoincidenceSweep", "coincidence_sweep", "HammingCorrelations", "hamming_correlations",
]

#: Largest n accepted: 4^12 = 16.7 million inputs per network (minutes per network).
MAX_N = 12
#: Rows of the hidden kernel used per network by ``dispersion_given_hidden`` (all when fewer).
_KERNEL_ROWS = 256
#: Elements of the largest temporary in the enumeration (about 32 MB in float64).
_BLOCK_ELEMENTS = 2**22
_METHODS = ("auto", "weights", "gram")


# -- the network ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CoincidenceSpec:
    """A random network C: {0,1}^{2n} -> R^n with natural hyperparameters.

    ``activation`` is an :class:`ncsym.Activation` (theory available) or a numpy callable;
    ``second_moment`` is E[sigma(z)^2], which fixes ``sigma_w2 = 1/second_moment``.
    ``mlp`` is the sampler's spec (input 2n, ``depth`` hidden layers, readout n); its first
    layer has weight variance 1/(2n) (``sigma_w2_input = 1`` on inputs of squared norm 2n), so
    first preactivations have unit variance, and the later layers 1/(second_moment * fan_in).

    >>> spec = coincidence_spec(np.tanh, 3, 8, 2, second_moment=0.394294490)
    >>> spec.n_inputs, spec.mlp.input_dim, spec.mlp.readout, spec.mlp.n_layers
    (64, 6, 3, 3)
    """

    activation: Any
    n: int
    width: int
    depth: int
    second_moment: float
    name: str
    dtype: Any = np.float64

    @property
    def n_inputs(self) -> int:
        """4^n, the number of Boolean inputs."""
        return 4**self.n

    @property
    def theory_available(self) -> bool:
        """True when the activation is symbolic, so correlation maps can be computed."""
        from ncsym.symbolic.activations import Activation

        return isinstance(self.activation, Activation)

    @cached_property
    def numpy_function(self) -> Callable[[np.ndarray], np.ndarray]:
        return numpy_activation(self.activation)

    @cached_property
    def mlp(self) -> MLPSpec:
        return MLPSpec(input_dim=2 * self.n, widths=self.width, depth=self.depth, activation=self.numpy_function,
                       sigma_w2=1.0 / self.second_moment, sigma_w2_input=1.0, readout=self.n, dtype=self.dtype)

    def label(self) -> str:
        return f"{self.name}, n={self.n}, width={self.width}, depth={self.depth}"


def coincidence_spec(act: Any, n: int, width: int, depth: int, *, second_moment: Any = None,
                     dtype: Any = np.float64) -> CoincidenceSpec:
    """Validate and build a :class:`CoincidenceSpec`.

    ``act``: an Activation, zoo name, expression string or sympy expression (E[sigma^2] is
    then computed by :func:`ncsym.gaussian_moment` unless given), or a numpy callable
    together with ``second_moment``.

    >>> coincidence_spec(np.tanh, 0, 8, 2, second_moment=0.39)
    Traceback (most recent call last):
    ...
    ncsym.core.errors.DomainError: n must be an integer >= 1, got 0
    """
    from ncsym.symbolic.activations import Activation, activation

    n = check_integer(n, "n", 1, MAX_N)
    width = check_integer(width, "width", 1)
    depth = check_integer(depth, "depth", 1)
    symbolic = isinstance(act, (Activation, str, sympy.Basic))
    if symbolic:
        act = activation(act)
        name = act.name
    elif callable(act):
        name = getattr(act, "__name__", repr(act))
    else:
        raise DomainError(f"activation must be an Activation, a name, an expression or a numpy callable, got {act!r}")
    if second_moment is None:
        if not symbolic:
            raise DomainError("a numpy activation needs its second moment E[sigma(z)^2] (second_moment=...)")
        from ncsym.gaussian.moments import gaussian_moment

        second_moment = gaussian_moment(act, 2)
    try:
        m2 = float(second_moment)
    except (TypeError, ValueError):
        raise DomainError(f"second_moment must be a positive number, got {second_moment!r}") from None
    if not math.isfinite(m2) or m2 <= 0:
        raise DomainError(f"second_moment E[sigma^2] must be finite and positive, got {second_moment!r}")
    return CoincidenceSpec(act, n, width, depth, m2, name, np.dtype(dtype))


def boolean_inputs(n_bits: int, start: int = 0, stop: int | None = None, dtype: Any = np.float64) -> np.ndarray:
    """Inputs ``start .. stop - 1`` of {0,1}^n_bits as +-1 rows: bit k of index i is coordinate k.

    Bit b maps to 2b - 1, so index 0 is all -1 and index 2^n_bits - 1 is all +1.

    >>> boolean_inputs(2).tolist()
    [[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]
    """
    n_bits = check_integer(n_bits, "n_bits", 1, 2 * MAX_N)
    stop = 2**n_bits if stop is None else stop
    if not 0 <= start <= stop <= 2**n_bits:
        raise DomainError(f"need 0 <= start <= stop <= 2^{n_bits}, got {start}, {stop}")
    index = np.arange(start, stop, dtype=np.int64)
    bits = (index[:, None] >> np.arange(n_bits, dtype=np.int64)) & 1
    return (2 * bits - 1).astype(dtype)


def sample_networks(spec: CoincidenceSpec, n_networks: int, seed: Any = 0, *, start: int = 0) -> NetworkWeights:
    """The weights of networks ``start ..`` of the seeded sequence, first layer of variance 1/(2n).

    Drawn by :func:`ncsym.sampler.sample_weights`, so independent of how a run is chunked.

    >>> spec = coincidence_spec(np.tanh, 2, 8, 2, second_moment=0.394294490)
    >>> w = sample_networks(spec, 3, seed=0)
    >>> [a.shape for a in w.weights]
    [(3, 8, 4), (3, 8, 8), (3, 2, 8)]
    """
    return sample_weights(spec.mlp, n_networks, seed, start=start)


# -- counting ---------------------------------------------------------------------------------


def _orthant(cosine: np.ndarray) -> np.ndarray:
    """Pr[u < 0, v < 0] for standard Gaussians of correlation ``cosine``."""
    return 0.25 + np.arcsin(np.clip(cosine, -1.0, 1.0)) / (2 * math.pi)


@dataclass(frozen=True)
class NegativeCounts:
    """Per-network tallies over all 4^n inputs.

    ``counts[i]`` = N(C_i), the inputs whose n outputs are all (strictly) negative;
    ``negatives[i, j]`` = inputs whose output j is negative. With ``given_hidden``:
    ``first[i]`` = E[N | hidden layers of C_i] and ``second[i]`` an unbiased estimate (over
    the symmetry of the weight law) of E[N^2 | hidden layers], from the orthant formula.
    """

    counts: np.ndarray
    negatives: np.ndarray
    first: np.ndarray | None = None
    second: np.ndarray | None = None


def _kernel_rows(n_inputs: int) -> np.ndarray:
    """Fixed reference inputs for the hidden-kernel statistic (evenly spread indices)."""
    rows = min(n_inputs, _KERNEL_ROWS)
    return np.unique(np.linspace(0, n_inputs - 1, rows).round().astype(np.int64))


class _HiddenTally:
    """E[N | hidden] and E[N^2 | hidden] from the last hidden activations, block by block.

    Given the hidden activations a(x), the readouts on x are i.i.d. N(0, c |a(x)|^2), so
    Pr[all n negative on x and x'] = p(cos(a(x), a(x')))^n (0 when a(x) = 0: outputs are then
    exactly 0). E[N^2 | hidden] = sum over all pairs; the law of the network is invariant under
    flipping input signs, so 4^n times the average over a fixed set of rows x is unbiased.
    """

    def __init__(self, spec: CoincidenceSpec, row_activations: np.ndarray):
        self.n = spec.n
        self.scale = spec.n_inputs / row_activations.shape[1]
        self.rows, self.row_alive = _unit_rows(row_activations)
        m = row_activations.shape[0]
        self.first = np.zeros(m)
        self.second = np.zeros(m)

    def add(self, activations: np.ndarray) -> None:
        unit, alive = _unit_rows(activations)
        cosine = np.matmul(unit, self.rows.transpose(0, 2, 1))
        pair = _orthant(cosine) ** self.n
        pair *= alive[:, :, None] & self.row_alive[:, None, :]
        self.second += self.scale * pair.sum(axis=(1, 2))
        self.first += np.count_nonzero(alive, axis=1) * 0.5**self.n


def _unit_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    norm = np.sqrt(np.einsum("mpw,mpw->mp", a, a))
    alive = norm > 0
    return a / np.where(alive, norm, 1.0)[:, :, None], alive


def count_all_negative(spec: CoincidenceSpec, weights: NetworkWeights, *, given_hidden: bool = False,
                       input_block: int | None = None) -> NegativeCounts:
    """Enumerate all 4^n inputs through fixed networks and count the all-negative outputs.

    Inputs are generated and run in blocks (``input_block``), so memory stays bounded for
    n up to :data:`MAX_N`. Outputs exactly 0 do not count as negative.

    >>> spec = coincidence_spec(np.tanh, 2, 8, 1, second_moment=0.394294490)
    >>> tally = count_all_negative(spec, sample_networks(spec, 4, seed=3))
    >>> tally.counts.shape, tally.negatives.shape, int(tally.counts.max()) <= 16
    ((4,), (4, 2), True)
    """
    if weights.spec != spec.mlp:
        raise DomainError("weights were not drawn for this spec (use sample_networks(spec, ...))")
    m = weights.n_networks
    readout, hidden = spec.depth + 1, spec.depth
    if input_block is None:
        input_block = max(1, _BLOCK_ELEMENTS // (m * max(spec.width, 2 * spec.n)))
    input_block = check_integer(input_block, "input_block")
    layers = [hidden, readout] if given_hidden else [readout]
    function = spec.numpy_function
    tally = None
    if given_hidden:
        rows = boolean_inputs(2 * spec.n, dtype=spec.dtype)[_kernel_rows(spec.n_inputs)]
        row_h = forward(weights, rows, layers=hidden)[hidden]
        tally = _HiddenTally(spec, _activate(function, row_h))
    counts = np.zeros(m, dtype=np.int64)
    negatives = np.zeros((m, spec.n), dtype=np.int64)
    for first in range(0, spec.n_inputs, input_block):
        X = boolean_inputs(2 * spec.n, first, min(first + input_block, spec.n_inputs), dtype=spec.dtype)
        for _, out, bad in forward_chunks(weights, X, layers=layers):
            if bad.any():
                raise NonFiniteError(f"{int(bad.sum())} of {m} networks produced inf or NaN on Boolean inputs "
                                     f"({spec.label()}); the activation overflows")
            negative = out[readout] < 0
            counts += np.count_nonzero(negative.all(axis=2), axis=1)
            negatives += np.count_nonzero(negative, axis=1)
            if tally is not None:
                tally.add(_activate(function, out[hidden]))
    if tally is None:
        return NegativeCounts(counts, negatives)
    return NegativeCounts(counts, negatives, tally.first, tally.second)


def _activate(function: Callable, h: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(function(h), dtype=np.float64)
    return np.broadcast_to(out, h.shape) if out.shape != h.shape else out


def _resolve_method(spec: CoincidenceSpec, method: str) -> str:
    """'auto': Gram-space when it draws fewer normals and stays cheap, else real weights.

    Both sample the same joint law of all 4^n outputs; the method is part of the
    reproducibility key (with the seed), and the result records it.
    """
    if method not in _METHODS:
        raise DomainError(f"method must be one of {_METHODS}, got {method!r}")
    if method != "auto":
        return method
    p, w = spec.n_inputs, spec.width
    # Per network and layer, in ns: a normal ~25; a float64 flop ~0.05; the vectorized
    # pivoted P x P factor measured ~60 P^3 (P = 16).
    weights_cost = 25 * w * w + 0.1 * p * w * w
    gram_cost = 25 * w * p + 0.1 * p * p * w + 60 * p**3
    return "gram" if p <= 256 and gram_cost < weights_cost else "weights"


def _sample_counts(spec: CoincidenceSpec, n_networks: int, seed: Any, method: str,
                   given_hidden: bool) -> NegativeCounts:
    hidden, readout = spec.depth, spec.depth + 1
    parts: list[NegativeCounts] = []
    if method == "weights":
        per_network = spec.depth * spec.width**2 + 2 * spec.n * spec.width + spec.n * spec.width
        chunk = max(1, min(n_networks, 2**21 // per_network, 2**14 // spec.width))
        for first in range(0, n_networks, chunk):
            weights = sample_networks(spec, min(chunk, n_networks - first), seed, start=first)
            parts.append(count_all_negative(spec, weights, given_hidden=given_hidden))
    else:
        # Gram-space: the same law through P x P factors.
        X = boolean_inputs(2 * spec.n, dtype=np.float64)
        rows = _kernel_rows(spec.n_inputs)
        layers = [hidden, readout] if given_hidden else [readout]
        for _, out, _bad in iter_preactivations(spec.mlp, X, n_networks, method="gram", layers=layers,
                                                seed=seed):
            negative = out[readout] < 0
            first = second = None
            if given_hidden:
                a = _activate(spec.numpy_function, out[hidden])
                tally = _HiddenTally(spec, a[:, rows])
                tally.add(a)
                first, second = tally.first, tally.second
            parts.append(NegativeCounts(np.count_nonzero(negative.all(axis=2), axis=1).astype(np.int64),
                                        np.count_nonzero(negative, axis=1).astype(np.int64), first, second))
    join = (lambda name: None if getattr(parts[0], name) is None
            else np.concatenate([getattr(p, name) for p in parts]))
    return NegativeCounts(join("counts"), join("negatives"), join("first"), join("second"))


# -- statistics -------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class MarginalPrediction:
    """Independence given each network's own marginals: N ~ Binomial(4^n, prod_j q_j)."""

    mean: float
    dispersion: float
    prob_P: float


@dataclass(frozen=True)
class CoincidenceResult:
    """N(C) over ``n_networks`` sampled networks of one spec, with estimates and baselines.

    ``counts`` [M] and ``negatives`` [M, n] per network; see the module docstring for the
    estimators. ``table()`` is a plain-text report, ``latex()`` a LaTeX tabular.
    """

    spec: CoincidenceSpec
    seed: Any
    method: str
    counts: np.ndarray
    negatives: np.ndarray
    first: np.ndarray | None = field(default=None, repr=False)
    second: np.ndarray | None = field(default=None, repr=False)
    theory: Result | None = None
    confidence: float = 0.95

    @property
    def n_networks(self) -> int:
        return int(self.counts.size)

    @cached_property
    def baseline(self) -> IndependenceBaseline:
        return independence_baseline(self.spec.n)

    @cached_property
    def mean(self) -> Estimate:
        """E[N] with its standard error (exactly 2^n in expectation)."""
        c = self.counts.astype(np.float64)
        return Estimate(np.array(c.mean()), np.array(c.std(ddof=1) / math.sqrt(c.size)), c.size)

    @cached_property
    def dispersion(self) -> Interval:
        """Var N / E N with a delta-method interval (:func:`dispersion_interval`)."""
        return dispersion_interval(self.counts, confidence=self.confidence)

    def dispersion_bootstrap(self, n_bootstrap: int = 2000, seed: Any = 0) -> Interval:
        """Var N / E N with a percentile-bootstrap interval."""
        return dispersion_interval(self.counts, confidence=self.confidence, method="bootstrap",
                                   n_bootstrap=n_bootstrap, seed=seed)

    @cached_property
    def dispersion_given_hidden(self) -> Interval | None:
        """Var N / E N from each network's exact conditional moments given its hidden layers."""
        if self.first is None:
            return None
        s1, s2 = self.first, self.second
        m1, m2 = s1.mean(), s2.mean()
        value = m2 / m1 - m1
        influence = (s2 - m2) / m1 - (m2 / m1**2 + 1) * (s1 - m1)
        se = float(influence.std(ddof=1) / math.sqrt(s1.size))
        z = _z(self.confidence)
        return Interval(float(value), float(value - z * se), float(value + z * se), se,
                        "orthant formula given hidden layers, delta method", self.confidence)

    @cached_property
    def prob_P(self) -> Interval:
        """Pr[N = 0] with a Clopper-Pearson interval."""
        return clopper_pearson(int(np.count_nonzero(self.counts == 0)), self.n_networks, self.confidence)

    @cached_property
    def marginal(self) -> MarginalPrediction:
        """Prediction from each network's own marginal probabilities, assumed independent."""
        trials = float(self.spec.n_inputs)
        q = self.negatives / trials
        p = np.prod(q, axis=1)
        mu = trials * p
        var = trials * p * (1 - p)
        mean = float(mu.mean())
        dispersion = float((var.mean() + mu.var()) / mean) if mean > 0 else math.nan
        with np.errstate(divide="ignore"):
            prob = float(np.mean(np.exp(trials * np.log1p(-p))))  # p = 1 gives exp(-inf) = 0
        return MarginalPrediction(mean, dispersion, prob)

    def distribution(self, k_max: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(k, observed fraction, Poisson pmf, binomial pmf)`` for k = 0..k_max (default max N)."""
        k_max = int(self.counts.max()) if k_max is None else check_integer(k_max, "k_max", 0)
        k = np.arange(k_max + 1)
        observed = np.bincount(np.minimum(self.counts, k_max + 1), minlength=k_max + 2)[:k_max + 1] / self.n_networks
        return k, observed, self.baseline.poisson_pmf(k), self.baseline.binomial_pmf(k)

    @cached_property
    def total_variation(self) -> float:
        """Total-variation distance between the empirical law of N and Poisson(2^n).

        Sampling alone gives about sqrt(support / M) even when N is Poisson."""
        k, observed, poisson, _ = self.distribution(max(int(self.counts.max()), int(8 * 2**self.spec.n)))
        return float(0.5 * (np.abs(observed - poisson).sum() + max(0.0, 1 - poisson.sum())))

    def row(self) -> dict[str, Any]:
        """The summary numbers of this run (one table row)."""
        hidden = self.dispersion_given_hidden
        return {
            "activation": self.spec.name, "n": self.spec.n, "width": self.spec.width, "depth": self.spec.depth,
            "networks": self.n_networks, "mean": float(self.mean.value), "mean_se": float(self.mean.std_error),
            "dispersion": self.dispersion, "dispersion_hidden": hidden,
            "dispersion_infinite_width": None if self.theory is None else float(self.theory.value),
            "marginal_dispersion": self.marginal.dispersion, "prob_P": self.prob_P,
            "marginal_prob_P": self.marginal.prob_P,
            "poisson_prob_P": float(self.baseline.poisson_prob_P.value),
        }

    def table(self) -> str:
        return _text_table([self.row()])

    def latex(self) -> str:
        return _latex_table([self.row()], [self.spec])

    def __str__(self) -> str:
        return self.table()


def coincidence_experiment(act: Any, n: int, width: int, depth: int, n_networks: int, *, seed: Any = 0,
                           second_moment: Any = None, method: str = "auto", given_hidden: bool | None = None,
                           theory: bool = True, confidence: float = 0.95, dtype: Any = np.float64,
                           dps: int | None = None) -> CoincidenceResult:
    """Sample ``n_networks`` networks, count N(C) for each over all 4^n inputs, and summarize.

    ``method``: "weights" (real weights, the literal experiment), "gram" (the same law of the
    outputs through Gram-space sampling; fast for 4^n <= 256 inputs) or "auto".
    ``given_hidden`` (default: when 4^n <= 1024) adds ``dispersion_given_hidden``; ``theory``
    adds the infinite-width :func:`gp_dispersion` (symbolic activations only).

    >>> res = coincidence_experiment(np.tanh, 2, 256, 1, 50, seed=0, second_moment=0.394294490)
    >>> res.method, res.theory is None, res.dispersion_given_hidden is not None
    ('gram', True, True)
    """
    spec = coincidence_spec(act, n, width, depth, second_moment=second_moment, dtype=dtype)
    n_networks = check_integer(n_networks, "n_networks", 3)
    _z(confidence)
    method = _resolve_method(spec, method)
    if given_hidden is None:
        given_hidden = spec.n_inputs <= 1024
    tally = _sample_counts(spec, n_networks, seed, method, bool(given_hidden))
    prediction = gp_dispersion(spec.activation, n, depth, dps=dps) if theory and spec.theory_available else None
    return CoincidenceResult(spec, seed, method, tally.counts, tally.negatives, tally.first, tally.second,
                             prediction, confidence)


@dataclass(frozen=True)
class CoincidenceSweep:
    """Several :class:`CoincidenceResult` runs (e.g. activations x depths x widths) as one table."""

    results: tuple[CoincidenceResult, ...]

    def rows(self) -> list[dict[str, Any]]:
        return [r.row() for r in self.results]

    def table(self) -> str:
        return _text_table(self.rows())

    def latex(self) -> str:
        return _latex_table(self.rows(), [r.spec for r in self.results])

    def __str__(self) -> str:
        return self.table()


def coincidence_sweep(activations: Iterable[Any], ns: int | Sequence[int], widths: int | Sequence[int],
                      depths: int | Sequence[int], n_networks: int, *, seed: int = 0,
                      second_moments: dict | None = None, **options: Any) -> CoincidenceSweep:
    """:func:`coincidence_experiment` over a grid: every activation x n x width x depth.

    Every cell uses the same ``seed`` (cells differ in spec, so their networks differ).
    ``second_moments`` maps a numpy callable to its E[sigma^2].

    >>> sweep = coincidence_sweep([np.tanh], 2, 8, [1, 2], 20, second_moments={np.tanh: 0.394294490})
    >>> len(sweep.results), sweep.results[1].spec.depth
    (2, 2)
    """
    as_list = lambda v: [v] if isinstance(v, numbers.Integral) else list(v)
    second_moments = second_moments or {}
    results = []
    for act in activations:
        for n in as_list(ns):
            for width in as_list(widths):
                for depth in as_list(depths):
                    results.append(coincidence_experiment(act, n, width, depth, n_networks, seed=seed,
                                                          second_moment=second_moments.get(act), **options))
    return CoincidenceSweep(tuple(results))


# -- correlations against Hamming distance ----------------------------------------------------


@dataclass(frozen=True)
class HammingCorrelations:
    """Output correlation across inputs at Hamming distance h = 0..2n: sampled against theory.

    ``sampled`` (an Estimate over networks) is E[y(x) y(x')] / sqrt(E[y(x)^2] E[y(x')^2]) for a
    readout unit y, estimated through its conditional expectation given the last hidden layer
    (the hidden kernel), with a delta-method standard error; ``theory`` is C^depth(rho_0)
    as Results (None without a symbolic activation). At finite width the two differ by
    O(depth/width) besides the sampling error (none at depth 1, where layer 1 is exactly
    Gaussian).
    """

    spec: CoincidenceSpec
    n_networks: int
    seed: Any
    hamming: np.ndarray
    rho0: np.ndarray
    sampled: Estimate
    theory: tuple[Result, ...] | None

    @property
    def theory_values(self) -> np.ndarray | None:
        return None if self.theory is None else np.array([float(r.value) for r in self.theory])

    def z_scores(self) -> np.ndarray:
        if self.theory is None:
            raise NcsymError("no theory: the activation is not symbolic")
        return self.sampled.z_score(self.theory_values)

    def rows(self) -> list[tuple]:
        theory = self.theory_values
        return [(int(h), float(r0), float(v), float(se), None if theory is None else float(theory[i]))
                for i, (h, r0, v, se) in enumerate(zip(self.hamming, self.rho0, self.sampled.value,
                                                      self.sampled.std_error))]

    def table(self) -> str:
        head = f"{'h':>3} {'rho_0':>8} {'sampled':>10} {'SE':>9} {'C^L(rho_0)':>11} {'z':>7}"
        lines = [f"output correlation vs Hamming distance: {self.spec.label()}, {self.n_networks} networks", head]
        for h, r0, v, se, t in self.rows():
            z = "" if t is None or se == 0 else f"{(v - t) / se:7.2f}"
            lines.append(f"{h:>3} {r0:>8.4f} {v:>10.5f} {se:>9.2e} {'' if t is None else f'{t:11.5f}':>11} {z:>7}")
        return "\n".join(lines)

    def latex(self) -> str:
        lines = [r"\begin{tabular}{rrrrr}", r"\hline",
                 r"$h$ & $\rho_0$ & sampled & SE & $C^{L}(\rho_0)$ \\", r"\hline"]
        for h, r0, v, se, t in self.rows():
            lines.append(f"{h} & {r0:.4f} & {v:.5f} & {_latex_number(se)} & "
                         f"{'--' if t is None else f'{t:.5f}'} \\\\")
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def hamming_correlations(act: Any, n: int, width: int, depth: int, n_networks: int, *, seed: Any = 0,
                         second_moment: Any = None, dps: int | None = None,
                         dtype: Any = np.float64) -> HammingCorrelations:
    """Sampled output correlation between x0 = (1, ..., 1) and x_h (first h signs flipped).

    By the sign-flip symmetry of the weights the law of a pair depends only on h, so one pair
    per distance suffices. Networks are drawn in Gram space on these 2n + 1 inputs.

    >>> hc = hamming_correlations(np.tanh, 2, 16, 1, 100, second_moment=0.394294490)
    >>> hc.hamming.tolist(), hc.rho0.tolist()
    ([0, 1, 2, 3, 4], [1.0, 0.5, 0.0, -0.5, -1.0])
    """
    spec = coincidence_spec(act, n, width, depth, second_moment=second_moment, dtype=dtype)
    n_networks = check_integer(n_networks, "n_networks", 2)
    hamming = np.arange(2 * n + 1)
    X = np.ones((2 * n + 1, 2 * n))
    for h in hamming:
        X[h, :h] = -1.0
    rho0 = 1 - hamming / n
    pair, self_a, self_b = [], [], []
    for _, out, bad in iter_preactivations(spec.mlp, X, n_networks, method="gram",
                                           layers=depth, seed=seed):
        a = _activate(spec.numpy_function, out[depth])[~bad]
        pair.append(np.einsum("mw,mhw->mh", a[:, 0], a))
        self_a.append(np.einsum("mw,mw->m", a[:, 0], a[:, 0])[:, None] * np.ones(hamming.size))
        self_b.append(np.einsum("mhw,mhw->mh", a, a))
    k_ab, k_aa, k_bb = (np.concatenate(v) for v in (pair, self_a, self_b))
    count = k_ab.shape[0]
    m_ab, m_aa, m_bb = k_ab.mean(0), k_aa.mean(0), k_bb.mean(0)
    value = m_ab / np.sqrt(m_aa * m_bb)
    # delta method for K_ab / sqrt(K_aa K_bb) on per-network means
    influence = ((k_ab - m_ab) / np.sqrt(m_aa * m_bb) - 0.5 * value * ((k_aa - m_aa) / m_aa + (k_bb - m_bb) / m_bb))
    se = influence.std(axis=0, ddof=1) / math.sqrt(count)
    se[0] = 0.0  # h = 0: the same input, correlation exactly 1
    sampled = Estimate(value, se, count)
    theory = _iterated(spec.activation, n, depth, dps) if spec.theory_available else None
    return HammingCorrelations(spec, count, seed, hamming, rho0, sampled, theory)


# -- tables -----------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.2e}"


def _text_table(rows: list[dict[str, Any]]) -> str:
    head = ["activation", "n", "width", "depth", "M", "E[N] +- SE", "D = Var/E [CI]", "D | hidden [CI]",
            "D inf-width", "D marginals", "Pr[P] [CI]", "exp(-2^n)"]
    body = []
    for r in rows:
        hidden = r["dispersion_hidden"]
        body.append([
            r["activation"], str(r["n"]), str(r["width"]), str(r["depth"]), str(r["networks"]),
            f"{_fmt(r['mean'])} +- {_fmt(r['mean_se'])}", str(r["dispersion"]),
            "--" if hidden is None else str(hidden), _fmt(r["dispersion_infinite_width"]),
            _fmt(r["marginal_dispersion"]), str(r["prob_P"]), _fmt(r["poisson_prob_P"]),
        ])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)])


def _latex_number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    if value != 0 and not 1e-3 <= abs(value) < 1e5:
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"${mantissa} \\times 10^{{{int(exponent)}}}$"
    return f"{value:.4g}"


def _latex_interval(iv: Interval | None) -> str:
    if iv is None:
        return "--"
    return f"{_latex_number(iv.value)} [{_latex_number(iv.low)}, {_latex_number(iv.high)}]"


def _latex_name(spec: CoincidenceSpec) -> str:
    if spec.theory_available:
        return f"${spec.activation.latex()}$"
    text = spec.name
    for char, repl in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("&", r"\&"), ("%", r"\%"), ("#", r"\#"),
                       ("$", r"\$"), ("{", r"\{"), ("}", r"\}"), ("^", r"\^{}"), ("~", r"\~{}")):
        text = text.replace(char, repl)
    return rf"\texttt{{{text}}}"


def _latex_table(rows: list[dict[str, Any]], specs: list[CoincidenceSpec]) -> str:
    lines = [r"\begin{tabular}{lrrrrrrrrrr}", r"\hline",
             r"$\sigma$ & $n$ & width & depth & $M$ & $\mathrm{E}[N]$ & $\mathrm{Var}\,N/\mathrm{E}\,N$ "
             r"& given hidden & width $\infty$ & $\Pr[P]$ & $e^{-2^n}$ \\", r"\hline"]
    for r, spec in zip(rows, specs):
        lines.append(" & ".join([
            _latex_name(spec), str(r["n"]), str(r["width"]), str(r["depth"]), str(r["networks"]),
            f"{_latex_number(r['mean'])} $\\pm$ {_latex_number(r['mean_se'])}", _latex_interval(r["dispersion"]),
            _latex_interval(r["dispersion_hidden"]), _latex_number(r["dispersion_infinite_width"]),
            _latex_interval(r["prob_P"]), _latex_number(r["poisson_prob_P"]),
        ]) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)
