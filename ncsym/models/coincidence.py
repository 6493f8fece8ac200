"""The no-coincidence experiment: are random networks on Boolean inputs random functions?

A random network ``C: {0,1}^{2n} -> R^n`` (inputs encoded as +-1 vectors of length 2n,
``depth`` hidden layers of ``width`` units, a readout of width n, natural hyperparameters:
no bias, first-layer weights of variance 1/(2n), later weights of variance
``1/(E[sigma(z)^2] width)``, so every preactivation has variance 1) is run on all 4^n inputs;
``N(C)`` counts the inputs whose n outputs are all negative, and the property
``P(C) = [N(C) = 0]`` says every input has a positive output (the neural-network form of the computational
no-coincidence conjecture, Neyman 2025).

If the outputs were independent across inputs and coordinates, N would be Binomial(4^n, 2^-n),
about Poisson with mean 2^n, and Pr[P] about exp(-2^n). What holds exactly, for every
activation and width: E[N] = 2^n (given the hidden layers, the n readout units are i.i.d.
symmetric Gaussians), provided the last hidden layer is nonzero on every input, which fails
with positive probability only when sigma vanishes on a half-line (relu at small width can
switch every unit off on an input, whose outputs are then 0, not negative). The variance is
where activations differ:

    Var N = sum_{x, x'} E[p(rho_C(x, x'))^n] - 4^n,    p(r) = 1/4 + arcsin(r) / (2 pi),

with rho_C the correlation of the last hidden activations of network C on x and x' (the readout
of C is a Gaussian process with that kernel, and p is its orthant probability). Infinite width
gives rho_C = C^depth(rho_0), the correlation map iterated over the hidden layers, with
rho_0 = 1 - 2h/(2n) at Hamming distance h (:func:`gp_dispersion`, derived here for this
experiment). For zero-mean nonlinear activations it goes to 0 with depth, and the index of
dispersion ``Var N / E N`` goes to the independent value ``1 - 2^-n`` (``1 - 2^(1-n)`` for odd
activations, whose outputs on x and -x are exact negatives); with a nonzero mean, C(0) > 0 and
correlations tend to a positive limit (1 for relu, rho* = 0.76 for gelu), so N stays
overdispersed at every depth. At moderate depth even zero-mean networks are overdispersed:
nearby inputs decorrelate only geometrically, at rate C'(1) (when C'(1) > 1; at C'(1) = 1 the
approach is polynomial).

The estimators live in ``coincidence_statistics`` (with the independence baseline and
:func:`gp_dispersion`), the experiment, sweeps and tables in ``coincidence_results``.
Estimators (all over independent networks, reproducible from ``seed``):

- ``dispersion``: ``s^2 / mean`` of the counts, with a delta-method interval (influence
  function ``((N - m)^2 - s^2)/m - s^2 (N - m)/m^2``), or a seeded percentile bootstrap;
- ``dispersion_given_hidden``: the same quantity through the formula above at finite width,
  averaging each network's exact conditional moments (Rao-Blackwell: no readout noise);
- ``prob_P``: the fraction of networks with N = 0, with a Clopper-Pearson interval;
- ``marginal``: the prediction from each network's own marginals q_j (fraction of inputs
  with output j negative) if all events were independent: N ~ Binomial(4^n, prod_j q_j).

>>> boolean_inputs(2).tolist()
[[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import numpy as np
import sympy

from ncsym.core.errors import DomainError, NonFiniteError, check_integer
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.sampler import MLPSpec, NetworkWeights, forward, forward_chunks, iter_preactivations, numpy_activation, sample_weights

__all__ = ["MAX_N", "CoincidenceSpec", "coincidence_spec", "boolean_inputs", "sample_networks", "NegativeCounts", "count_all_negative"]


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
    depth = check_limit(check_integer(depth, "depth", 1), "depth", MAX_DEPTH)
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
    if not isinstance(spec, CoincidenceSpec):
        raise DomainError(f"spec must be a CoincidenceSpec (see coincidence_spec), got {type(spec).__name__} "
                          f"{str(spec)[:40]!r}")
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
