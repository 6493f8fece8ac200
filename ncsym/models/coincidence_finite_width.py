"""The index of dispersion of the no-coincidence count at finite width: the O(1/width) correction.

For the network C: {0,1}^{2n} -> R^n of :mod:`ncsym.models.coincidence` (natural
hyperparameters, hidden width ``width``, ``depth`` hidden layers, readout of width n), given
the hidden layers the n readouts on inputs x, x' are i.i.d. Gaussians with covariance G, the
readout layer's conditional kernel G_ab = (sigma_w^2 / width) sum_j sigma(z_j(a)) sigma(z_j(b)).
So with R(G) = G_ab / sqrt(G_aa G_bb) and p(r) = 1/4 + arcsin(r) / (2 pi),

    Var N / E N = 2^-n sum_h binom(2n, h) (4^n E[f(R(G_h))] - 1),   f(r) = p(r)^n,

G_h the kernel of a pair at Hamming distance h (layer-1 correlation 1 - h/n). At infinite
width G is deterministic, G = K (:func:`ncsym.models.gp_dispersion`). At width n_w the 1/n
theory (:func:`ncsym.width_corrections.finite_width_kernels` at layer depth + 1, the readout)
gives E[G] = K + K1/n_w and Cov[G] = V/n_w, so by a second-order delta method

    E[f(R(G))] = f(R(K)) + (1/n_w) [grad(f o R) . K1 + (1/2) Hess(f o R) : V] + O(1/n_w^2).

Pairs with R = +-1 exactly are not expanded: h = 0 (the same input) always, and h = 2n
(x' = -x) for odd activations, whose outputs on -x are the exact negatives; an even-parity-free
activation's antipodal pair starts parallel, where the kernel map is not smooth, and keeps its
infinite-width term (``not_expanded`` lists it).

The O(1/n_w^2) remainder is estimated, not bounded: |correction| * max(r_eff, depth/width),
r_eff the theory's effective depth-to-width ratio (its next order is about r_eff/2 of the first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from ncsym.core.errors import DomainError, check_integer
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.core.results import Result
from ncsym.models.coincidence_statistics import MAX_N
from ncsym.width_corrections.multi_input import correlation_derivatives, finite_width_kernels

__all__ = ["FiniteWidthDispersion", "finite_width_dispersion", "finite_width_dispersions",
           "DispersionComparison", "compare_dispersion"]

#: Pairs this close to |R| = 1 are not expanded (arcsin is not smooth there).
_PARALLEL = 1e-9


@dataclass(frozen=True)
class FiniteWidthDispersion:
    """Var N / E N = ``infinite_width`` + ``slope`` / width + O(1/width^2), for one (activation, n, depth).

    ``terms`` holds per Hamming distance h: (h, binom weight, R_h, infinite-width term, 1/width
    coefficient of the term); ``ratio`` is the largest effective depth-to-width ratio times
    width (r_eff = ratio / width).

    >>> d = finite_width_dispersion("tanh", 2, 3)
    >>> [t[0] for t in d.terms], d.trustworthy(256)
    ([0, 1, 2, 3, 4], True)
    """

    activation: Any
    n: int
    depth: int
    infinite_width: float
    slope: float
    ratio: float
    terms: tuple[tuple[int, int, float, float, float], ...] = field(repr=False)
    not_expanded: tuple[int, ...] = ()
    threshold: float = 0.2

    def value(self, width: int) -> float:
        """The predicted Var N / E N at this hidden width, to O(1/width)."""
        return self.infinite_width + self.slope / _width(width)

    def effective_ratio(self, width: int) -> float:
        """max over pairs of V_(aa)(aa) / (width K_aa^2) at the readout layer."""
        return self.ratio / _width(width)

    def trustworthy(self, width: int) -> bool:
        """Whether the theory trusts its 1/width expansion at this width (r_eff <= threshold)."""
        return self.effective_ratio(width) <= self.threshold

    def remainder(self, width: int) -> float:
        """Estimated size of the O(1/width^2) remainder (an estimate, not a bound)."""
        n = _width(width)
        return abs(self.slope / n) * max(self.effective_ratio(width), self.depth / n)

    def result(self, width: int) -> Result:
        """The prediction at this width as a :class:`Result` (estimated error)."""
        method = ("1/width expansion of the orthant formula (finite_width_kernels at the readout), "
                  "remainder estimated")
        return Result.from_numeric(self.value(width), self.remainder(width), method=method, dps=15,
                                   label=f"Var N / E N (width {width})",
                                   details={"n": self.n, "depth": self.depth, "width": width,
                                            "infinite_width": self.infinite_width, "slope": self.slope,
                                            "trustworthy": self.trustworthy(width)})

    def latex(self) -> str:
        """The expansion in LaTeX, with its numbers."""
        return (r"\frac{\operatorname{Var} N}{\mathbb{E} N} = " f"{self.infinite_width:.6g}"
                f" {'+' if self.slope >= 0 else '-'} \\frac{{{abs(self.slope):.6g}}}{{n_w}} + O(n_w^{{-2}})")


def _width(width: int) -> float:
    return float(check_integer(width, "width", 1))


def _orthant_power(r: float, n: int) -> tuple[float, float, float]:
    """f(r) = p(r)^n and its first two derivatives, p(r) = 1/4 + arcsin(r)/(2 pi)."""
    p = 0.25 + math.asin(r) / (2 * math.pi)
    s = 1 - r * r
    dp = 1 / (2 * math.pi * math.sqrt(s))
    d2p = r / (2 * math.pi * s**1.5)
    f1 = n * p ** (n - 1) * dp
    f2 = n * (n - 1) * p ** (n - 2) * dp * dp + n * p ** (n - 1) * d2p
    return p**n, f1, f2


@lru_cache(maxsize=64)
def _pair_kernels(act: Any, n: int, h: int, layers: int, sigma_w2: float):
    """The 1/n theory of the pair (x, x') at Hamming distance h, layers 1..layers (cached for sweeps)."""
    rho0 = 1 - h / n
    return finite_width_kernels(act, [[1.0, rho0], [rho0, 1.0]], layers, sigma_w2=sigma_w2, input_kind="kernel")


def _pair_term(kernels, layer: int, n: int) -> tuple[float, float, float, float]:
    """(R, infinite-width term, 1/width coefficient, V_aa/K_aa^2) of one pair at ``layer``."""
    K, K1, V = kernels.kernel(layer), kernels.kernel_correction(layer), kernels.vertex(layer)
    index = [(0, 0), (0, 1), (1, 1)]
    g = np.array([K[a, b] for a, b in index])
    shift = np.array([K1[a, b] for a, b in index])
    cov = np.array([[V[a + b] for b in index] for a in index])
    r, grad, hess = correlation_derivatives(*g)
    four_n = 4.0**n
    ratio = max(V[0, 0, 0, 0] / K[0, 0] ** 2, V[1, 1, 1, 1] / K[1, 1] ** 2)
    if abs(r) > 1 - _PARALLEL or not (np.isfinite(shift).all() and np.isfinite(cov).all()):
        return r, four_n * (0.25 + math.asin(max(-1.0, min(1.0, r))) / (2 * math.pi)) ** n - 1, math.nan, ratio
    f, f1, f2 = _orthant_power(r, n)
    coefficient = f1 * (grad @ shift) + 0.5 * (f2 * (grad @ cov @ grad) + f1 * float(np.sum(hess * cov)))
    return r, four_n * f - 1, four_n * coefficient, ratio


def finite_width_dispersions(act: Any, n: int, depths: Sequence[int]) -> tuple[FiniteWidthDispersion, ...]:
    """:func:`finite_width_dispersion` at several depths from one run of the theory per Hamming distance.

    >>> curve = finite_width_dispersions("tanh", 2, [1, 3])
    >>> [d.depth for d in curve], all(d.slope > 0 for d in curve)
    ([1, 3], True)
    """
    from ncsym.gaussian.moments import gaussian_moment
    from ncsym.symbolic.activations import activation

    act = activation(act)
    n = check_integer(n, "n", 1, MAX_N)
    depths = [check_limit(check_integer(d, "depth", 1), "depth", MAX_DEPTH) for d in depths]
    if not depths:
        raise DomainError("give at least one depth")
    sigma_w2 = float(1 / gaussian_moment(act, 2).value)
    odd = act.parity == -1
    last = max(depths) + 1  # the readout layer
    kernels = {h: _pair_kernels(act, n, h, last, sigma_w2) for h in range(1, 2 * n + 1)
               if not (h == 2 * n and odd)}
    out = []
    for depth in depths:
        terms = [(0, 1, 1.0, 2.0**n - 1, 0.0)]  # the same input: N's diagonal, exact
        skipped, ratio = [], 0.0
        for h in range(1, 2 * n + 1):
            weight = math.comb(2 * n, h)
            if h not in kernels:  # odd activation, x' = -x: outputs are exact negatives
                terms.append((h, weight, -1.0, -1.0, 0.0))
                continue
            r, term, coefficient, pair_ratio = _pair_term(kernels[h], depth + 1, n)
            if not math.isfinite(coefficient):
                skipped.append(h)
                coefficient = 0.0
            else:
                ratio = max(ratio, pair_ratio)
            terms.append((h, weight, r, term, coefficient))
        scale = 2.0**-n
        infinite = scale * sum(w * t for _, w, _, t, _ in terms)
        slope = scale * sum(w * c for _, w, _, _, c in terms)
        out.append(FiniteWidthDispersion(act, n, depth, float(infinite), float(slope), float(ratio), tuple(terms),
                                         tuple(skipped)))
    return tuple(out)


def finite_width_dispersion(act: Any, n: int, depth: int) -> FiniteWidthDispersion:
    """Var N / E N to O(1/width): the infinite-width value and its 1/width coefficient.

    >>> d = finite_width_dispersion("tanh", 2, 3)
    >>> d.value(10**9) - d.infinite_width < 1e-8, d.value(64) > d.infinite_width
    (True, True)
    """
    return finite_width_dispersions(act, n, [depth])[0]


@dataclass(frozen=True)
class DispersionComparison:
    """Sampled Var N / E N against the infinite- and finite-width predictions, per (width, depth).

    ``rows``: dicts with width, depth, networks, the sampled dispersion (given the hidden
    layers, Rao-Blackwellized: the quantity the theory predicts, free of readout noise) and its
    SE, the direct count dispersion with its SE, both predictions, the estimated remainder and
    the z-scores of the sample against each prediction. ``fits``: per depth, with three or
    more widths, the fitted 1/width slope and the predicted one. See :func:`compare_dispersion`.
    """

    activation: Any
    n: int
    rows: tuple[dict, ...]
    z_threshold: float = 5.0
    fits: dict = field(default_factory=dict)  # depth -> (SlopeFit, predicted slope), three or more widths

    def agrees(self, row: dict) -> bool:
        gap = abs(row["sampled"] - row["finite_width"])
        return bool(gap <= self.z_threshold * row["sampled_se"] + row["remainder"])

    def slope_z(self, depth: int) -> float:
        """(fitted - predicted 1/width slope) / SE at this depth (fit s/n + r/n^2 over the widths)."""
        fit, predicted = self.fits[depth]
        return (fit.slope - predicted) / fit.slope_error

    @property
    def passed(self) -> bool:
        """Every trusted row within ``z_threshold`` SE + remainder of the finite-width prediction,
        and every fitted 1/width slope within ``z_threshold`` SE of the predicted one."""
        return (all(self.agrees(r) for r in self.rows if r["trusted"])
                and all(abs(self.slope_z(d)) <= self.z_threshold for d in self.fits))

    def table(self) -> str:
        head = (f"{'width':>6} {'depth':>5} {'networks':>8} {'sampled':>9} {'SE':>8} {'counts':>9} "
                f"{'width oo':>9} {'z_oo':>7} {'1/width':>9} {'z':>7}  ok")
        lines = [f"Var N / E N, {getattr(self.activation, 'name', self.activation)}, n = {self.n}: sampled "
                 "(given hidden layers) against infinite and finite width", head, "-" * len(head)]
        for r in self.rows:
            flag = ("yes" if self.agrees(r) else "NO") + ("" if r["trusted"] else " (1/n untrusted)")
            lines.append(f"{r['width']:>6} {r['depth']:>5} {r['networks']:>8} {r['sampled']:>9.4f} "
                         f"{r['sampled_se']:>8.2e} {r['counts']:>9.4f} {r['infinite_width']:>9.4f} "
                         f"{r['z_infinite']:>7.2f} {r['finite_width']:>9.4f} {r['z_finite']:>7.2f}  {flag}")
        for depth, (fit, predicted) in self.fits.items():
            lines.append(f"depth {depth}: fitted 1/width slope {fit.slope:.4g} ± {fit.slope_error:.2g} "
                         f"(s/n + r/n^2), predicted {predicted:.4g}, z {self.slope_z(depth):+.2f}")
        return "\n".join(lines)

    def latex(self) -> str:
        lines = [r"\begin{tabular}{rrrrrr}", r"\hline",
                 r"width & depth & sampled & SE & width $\infty$ & $O(1/n)$ \\", r"\hline"]
        for r in self.rows:
            lines.append(f"{r['width']} & {r['depth']} & {r['sampled']:.4f} & {r['sampled_se']:.2e} & "
                         f"{r['infinite_width']:.4f} & {r['finite_width']:.4f} \\\\")
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def compare_dispersion(act: Any, n: int, widths: Sequence[int], depths: Sequence[int], networks: int, *,
                       seed: Any = 0, z_threshold: float = 5.0) -> DispersionComparison:
    """Sample the no-coincidence networks at every width x depth and compare Var N / E N with theory.

    Each cell draws its own networks (an independent stream of ``seed``); with three or more
    widths the sampled values at each depth are fitted as infinite_width + s/n + r/n^2 and s is
    compared with the predicted slope.

    >>> cmp = compare_dispersion("tanh", 2, [32], [2], 300, seed=0)
    >>> cmp.passed, cmp.rows[0]["finite_width"] > cmp.rows[0]["infinite_width"]
    (True, True)
    """
    from ncsym.checks.width_scaling import fit_inverse_width
    from ncsym.models.coincidence_results import coincidence_experiment
    from ncsym.symbolic.activations import activation

    act = activation(act)
    theory = {d.depth: d for d in finite_width_dispersions(act, n, depths)}
    rows = []
    for i, width in enumerate(widths):
        for j, depth in enumerate(depths):
            res = coincidence_experiment(act, n, width, depth, networks, seed=_cell_seed(seed, i, j),
                                         given_hidden=True, theory=False)
            hidden, counts = res.dispersion_given_hidden, res.dispersion
            fw = theory[depth]
            rows.append({
                "width": width, "depth": depth, "networks": networks,
                "sampled": hidden.value, "sampled_se": hidden.std_error,
                "counts": counts.value, "counts_se": counts.std_error,
                "infinite_width": fw.infinite_width, "finite_width": fw.value(width),
                "remainder": fw.remainder(width), "trusted": fw.trustworthy(width),
                "z_infinite": (hidden.value - fw.infinite_width) / hidden.std_error,
                "z_finite": (hidden.value - fw.value(width)) / hidden.std_error,
            })
    fits = {}
    if len(set(widths)) >= 3:
        for depth in depths:
            cells = [r for r in rows if r["depth"] == depth]
            fit = fit_inverse_width([r["width"] for r in cells], [r["sampled"] for r in cells],
                                    [r["sampled_se"] for r in cells], infinite_width=theory[depth].infinite_width,
                                    quadratic=True)
            fits[depth] = (fit, theory[depth].slope)
    return DispersionComparison(act, n, tuple(rows), float(z_threshold), fits)


def _cell_seed(seed: Any, i: int, j: int) -> np.random.SeedSequence:
    """An independent stream for cell (i, j) of a comparison grid."""
    from ncsym.sampler import root_seed

    root = root_seed(seed)
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (7, i, j))
