"""The no-coincidence experiment end to end: one configuration, sweeps, Hamming correlations, tables.

:func:`coincidence_experiment` samples networks, counts all-negative inputs and sets the
estimators against the independence baseline and the GP theory; :func:`coincidence_sweep` runs a
grid; :func:`hamming_correlations` compares output correlations with the correlation map.

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
from functools import cached_property
from typing import Any, Iterable, Sequence

import numpy as np

from ncsym.core.errors import NcsymError, check_integer
from ncsym.core.results import Result
from ncsym.sampler import Estimate, iter_preactivations
from ncsym.models.coincidence import CoincidenceSpec, _activate, _resolve_method, _sample_counts, coincidence_spec
from ncsym.models.coincidence_statistics import _fmt, IndependenceBaseline, Interval, _iterated, _z, clopper_pearson, dispersion_interval, gp_dispersion, independence_baseline

__all__ = ["CoincidenceResult", "coincidence_experiment", "CoincidenceSweep", "coincidence_sweep", "HammingCorrelations", "hamming_correlations"]


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
