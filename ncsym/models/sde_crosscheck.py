"""Shaped networks against the Neural Covariance SDE: statistics, KS tests and the report.

:func:`crosscheck_row` compares one configuration (width, depth, shaping, rho_0) of sampled
networks with the limiting SDE and the finite-width one; :func:`crosscheck_shaped_relu` collects
the rows into a table (text and LaTeX).

>>> d, p = ks_two_sample([0.0, 1.0, 2.0], [0.5, 1.5, 2.5])
>>> round(d, 6)
0.333333
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ncsym.core.errors import DomainError, check_integer
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.core.numbers import real_float
from ncsym.models.sde import C_MINUS, C_PLUS, NeuralCovarianceSDE, shaped_relu_sde
from ncsym.models.sde_simulation import _initial, finite_width_sde, simulate_sde
from ncsym.models.sde_networks import sample_shaped_relu_networks, shaping

__all__ = ["Comparison", "ks_two_sample", "finite_width_log_norm_law", "DEFAULT_CONFIGS", "SDECrossCheckRow", "SDECrossCheck", "crosscheck_row", "crosscheck_shaped_relu"]


# ----------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Comparison:
    """One statistic of two samples (or a sample against theory): values, standard errors, z."""

    name: str
    network: float
    network_se: float
    reference: float
    reference_se: float

    @property
    def z(self) -> float:
        """(network - reference) / combined standard error."""
        se = math.hypot(self.network_se, self.reference_se)
        return (self.network - self.reference) / se if se > 0 else (0.0 if self.network == self.reference else math.inf)


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def _variance_se(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    centred = values - values.mean()
    var = float(centred.var(ddof=1))
    m4 = float(np.mean(centred**4))
    return var, math.sqrt(max(m4 - var**2, 0.0) / values.size)


def _sd_se(values: np.ndarray) -> tuple[float, float]:
    var, se = _variance_se(values)
    sd = math.sqrt(var)
    return sd, se / (2 * sd) if sd > 0 else 0.0


def _sample(values: Any, name: str) -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise DomainError(f"sample {name} must be an array of numbers, got the text {values[:40]!r}")
    try:
        data = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise DomainError(f"sample {name} must be an array of real numbers") from None
    if data.ndim != 1 or data.size == 0 or not np.isfinite(data).all():
        raise DomainError(f"sample {name} must be a non-empty 1-D array of finite numbers, got shape {data.shape}")
    return data


def ks_two_sample(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic D and its asymptotic p-value.

    p uses the Kolmogorov distribution with the Stephens correction
    lambda = (sqrt(m) + 0.12 + 0.11/sqrt(m)) D, m = n_a n_b / (n_a + n_b).

    >>> rng = np.random.default_rng(0)
    >>> d, p = ks_two_sample(rng.normal(size=2000), rng.normal(size=3000))
    >>> p > 0.01
    True
    """
    a, b = np.sort(_sample(a, "a")), np.sort(_sample(b, "b"))
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    m = math.sqrt(a.size * b.size / (a.size + b.size))
    lam = (m + 0.12 + 0.11 / m) * d
    if lam < 0.2:
        return d, 1.0
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, float(min(max(p, 0.0), 1.0))


# ------------------------------------------------------------------------------- cross-check

#: (n, depth, c_+, c_-, rho_0): four shapings and widths, each at T = d/n in {0.5, 1, 2}.
DEFAULT_CONFIGS = tuple((n, int(T * n), cp, cm, r0)
                        for n, cp, cm, r0 in ((256, 0, -1, 0.3), (64, 0, -1, 0.3), (128, 1, -1, 0.0),
                                              (128, 0.5, -0.5, -0.5))
                        for T in (0.5, 1, 2))


@dataclass(frozen=True)
class SDECrossCheckRow:
    """One configuration: network statistics against the SDE (limit and finite-width drift)."""

    n: int
    depth: int
    c_plus: float
    c_minus: float
    rho0: float
    n_networks: int
    n_paths: int
    n_steps: int
    finite_width_factor: float
    comparisons: tuple[Comparison, ...]
    ks: tuple[tuple[str, float, float], ...]

    @property
    def T(self) -> float:
        """Depth over width."""
        return self.depth / self.n


@dataclass(frozen=True)
class SDECrossCheck:
    """Finite shaped networks against the Neural Covariance SDE: a table of z-scores and KS tests."""

    rows: tuple[SDECrossCheckRow, ...]
    z_threshold: float
    p_threshold: float

    def disagreements(self) -> list[str]:
        """Every statistic beyond z_threshold standard errors, and every KS test below p_threshold."""
        out = []
        for row in self.rows:
            tag = f"n={row.n} d={row.depth} c=({row.c_plus:g},{row.c_minus:g}) rho0={row.rho0:g}"
            for c in row.comparisons:
                if abs(c.z) > self.z_threshold:
                    out.append(f"{tag}: {c.name} network {c.network:.4f}±{c.network_se:.4f} vs "
                               f"{c.reference:.4f}±{c.reference_se:.4f} (z = {c.z:+.1f})")
            for name, d, p in row.ks:
                if p < self.p_threshold:
                    out.append(f"{tag}: KS {name} D = {d:.3f}, p = {p:.2g}")
        return out

    def table(self) -> str:
        """Plain-text table: one line per configuration and statistic."""
        head = (f"{'n':>4} {'d':>4} {'T':>4} {'c+':>5} {'c-':>5} {'rho0':>5}  {'statistic':<28}"
                f"{'network':>17} {'reference':>17} {'z':>6}")
        lines = [head, "-" * len(head)]
        for row in self.rows:
            prefix = f"{row.n:>4} {row.depth:>4} {row.T:>4g} {row.c_plus:>5g} {row.c_minus:>5g} {row.rho0:>5g}  "
            for c in row.comparisons:
                lines.append(prefix + f"{c.name:<28}{c.network:>9.4f}±{c.network_se:<7.4f}"
                             f"{c.reference:>9.4f}±{c.reference_se:<7.4f}{c.z:>+6.1f}")
                prefix = " " * len(prefix)
            for name, d, p in row.ks:
                lines.append(prefix + f"{'KS ' + name:<28}{'D = %.3f' % d:>17} {'p = %.2g' % p:>17}")
        lines.append(f"(networks per row: {self.rows[0].n_networks}, SDE paths: {self.rows[0].n_paths}; "
                     f"flagged: |z| > {self.z_threshold:g} or KS p < {self.p_threshold:g})")
        flagged = self.disagreements()
        lines.extend(["disagreements:"] + ["  " + f for f in flagged] if flagged else ["no disagreement beyond the thresholds"])
        return "\n".join(lines)

    def latex(self) -> str:
        """A LaTeX ``tabular`` of the same numbers."""
        out = [r"\begin{tabular}{rrrrrrlrrr}", r"\hline",
               r"$n$ & $d$ & $T$ & $c_+$ & $c_-$ & $\rho_0$ & statistic & network & reference & $z$ \\", r"\hline"]
        for row in self.rows:
            first = f"{row.n} & {row.depth} & {row.T:g} & {row.c_plus:g} & {row.c_minus:g} & {row.rho0:g}"
            blank = " & " * 5
            for i, c in enumerate(row.comparisons):
                out.append(f"{first if i == 0 else blank} & {_latex_text(c.name)} & ${c.network:.4f} \\pm {c.network_se:.4f}$ & "
                           f"${c.reference:.4f} \\pm {c.reference_se:.4f}$ & ${c.z:+.1f}$ \\\\")
            for name, d, p in row.ks:
                out.append(f"{blank} & KS {_latex_text(name)} & $D = {d:.3f}$ & $p = {p:.2g}$ & \\\\")
            out.append(r"\hline")
        out.append(r"\end{tabular}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()


def _latex_text(text: str) -> str:
    for plain, math_mode in (("rho_T", r"$\rho_T$"), ("log V_T", r"$\log V_T$"), ("-T", "$-T$"), ("2T", "$2T$"),
                             ("finite-n", "finite-$n$")):
        text = text.replace(plain, math_mode)
    return text



_GENERIC_RELU: list[NeuralCovarianceSDE] = []


def _relu_sde(c_plus: Any, c_minus: Any) -> NeuralCovarianceSDE:
    # One symbolic derivation, then exact substitution: far cheaper than re-deriving per shaping.
    if not _GENERIC_RELU:
        _GENERIC_RELU.append(shaped_relu_sde())
    return _GENERIC_RELU[0].subs({C_PLUS: c_plus, C_MINUS: c_minus})


def finite_width_log_norm_law(c_plus: float, c_minus: float, n: int, depth: int,
                              log_v0: float = 0.0) -> tuple[float, float, float]:
    """Mean and variance of log V^{11}_d of a width-n shaped-ReLU network, and an error bound.

    log V_d = log V_0 + sum of d i.i.d. log X_l, X = mean of n i.i.d. Y = c w g^2 (w = s_+^2 or
    s_-^2 with the sign of g). With mu_k the central moments of Y (exact, from
    E[Y^k] = c^k (s_+^2k + s_-^2k)/2 (2k-1)!!), the per-layer cumulants are
    E log X = -mu2/(2n) + (mu3/3 - 3 mu2^2/4)/n^2 and Var log X = mu2/n + (5 mu2^2/2 - mu3)/n^2,
    up to O(n^-3); the bound returned is d times 5 mu2^3 / n^3 (for chi-square, c_+ = c_-, the
    true remainders are 0 and 4/(3 n^3), i.e. mu2^3/6 / n^3).
    The SDE limit is mu2 = 2, i.e. mean -T, variance 2T; mu2 - 2 = 3 (s_+^2 - s_-^2)^2/(s_+^2 + s_-^2)^2
    = O((c_+ - c_-)^2/n) is the leading finite-width correction of the norm.

    >>> mean, var, err = finite_width_log_norm_law(0, 0, 10**6, 10**6)
    >>> round(mean, 5), round(var, 5)
    (-1.0, 2.0)
    """
    n, depth = check_integer(n, "n"), check_integer(depth, "depth")
    c_plus, c_minus = shaping(c_plus, c_minus)
    log_v0 = real_float(log_v0, "log_v0")
    a, b = (1 + c_plus / math.sqrt(n)) ** 2, (1 + c_minus / math.sqrt(n)) ** 2
    c = 2.0 / (a + b)
    raw = [1.0] + [c**k * (a**k + b**k) / 2 * math.prod(range(1, 2 * k, 2)) for k in (1, 2, 3)]
    mu2 = raw[2] - 1.0
    mu3 = raw[3] - 3 * raw[2] + 2.0
    mean = depth * (-mu2 / (2 * n) + (mu3 / 3 - 3 * mu2**2 / 4) / n**2) + log_v0
    var = depth * (mu2 / n + (2.5 * mu2**2 - mu3) / n**2)
    return mean, var, depth * 5 * mu2**3 / n**3


def crosscheck_row(n: int, depth: int, c_plus: float, c_minus: float, rho0: float, *, n_networks: int = 2000,
                   n_paths: int = 20000, steps_per_unit: int = 256, seed: Any = None,
                   progress: bool | None = None) -> SDECrossCheckRow:
    """Finite shaped-ReLU networks against the SDE at one (n, d, c_+, c_-, rho_0), T = d/n.

    Compared: mean and standard deviation of rho_T against the limiting SDE and against the
    SDE with the exact finite-width drift (:func:`finite_width_sde`); mean and variance of
    log V^{11}_T against the exact log-normal law (mean -T, variance 2T from V_0 = 1) and
    against the SDE; two-sample KS tests of rho_T and log V^{11}_T against the SDE paths.
    """
    from ncsym.sampler import root_seed

    # every argument is checked before the symbolic derivation and the sampling start
    depth, n = check_limit(check_integer(depth, "depth"), "depth", MAX_DEPTH), check_integer(n, "n")
    c_plus, c_minus = shaping(c_plus, c_minus)
    rho0 = _initial(rho0, None)[0]
    n_networks, n_paths = check_integer(n_networks, "n_networks"), check_integer(n_paths, "n_paths")
    root = root_seed(seed)
    net_seed, sde_seed, fw_seed = root.spawn(3)
    T = depth / n
    n_steps = max(1, int(round(T * check_integer(steps_per_unit, "steps_per_unit"))))
    limit = _relu_sde(c_plus, c_minus)
    finite = finite_width_sde(limit, n)
    net = sample_shaped_relu_networks(c_plus, c_minus, n, depth, rho0, n_networks, seed=net_seed, progress=progress)
    sde_paths = simulate_sde(limit, rho0, T, n_steps=n_steps, n_paths=n_paths, seed=sde_seed)
    fw_paths = simulate_sde(finite, rho0, T, n_steps=n_steps, n_paths=n_paths, seed=fw_seed)
    rho_sde, rho_fw = sde_paths.rho[:, -1], fw_paths.rho[:, -1]
    log_net, log_sde = net.log_norms[:, 0], sde_paths.log_norms[:, -1, 0]
    law = finite_width_log_norm_law(c_plus, c_minus, n, depth)
    comparisons = (
        Comparison("mean rho_T vs SDE", *_mean_se(net.rho), *_mean_se(rho_sde)),
        Comparison("sd rho_T vs SDE", *_sd_se(net.rho), *_sd_se(rho_sde)),
        Comparison("mean rho_T vs finite-n SDE", *_mean_se(net.rho), *_mean_se(rho_fw)),
        Comparison("sd rho_T vs finite-n SDE", *_sd_se(net.rho), *_sd_se(rho_fw)),
        Comparison("mean log V_T vs -T", *_mean_se(log_net), -T, 0.0),
        Comparison("var log V_T vs 2T", *_variance_se(log_net), 2 * T, 0.0),
        Comparison("mean log V_T vs SDE", *_mean_se(log_net), *_mean_se(log_sde)),
        Comparison("mean log V_T vs finite-n law", *_mean_se(log_net), law[0], law[2]),
        Comparison("var log V_T vs finite-n law", *_variance_se(log_net), law[1], law[2]),
    )
    ks = (("rho_T vs SDE", *ks_two_sample(net.rho, rho_sde)),
          ("rho_T vs finite-n SDE", *ks_two_sample(net.rho, rho_fw)),
          ("log V_T vs SDE", *ks_two_sample(log_net, log_sde)))
    return SDECrossCheckRow(n, depth, float(c_plus), float(c_minus), float(rho0), n_networks, n_paths, n_steps,
                         float(finite.extra["finite_width_factor"]), comparisons, ks)


def crosscheck_shaped_relu(configs: Sequence[tuple] = DEFAULT_CONFIGS, *, n_networks: int = 2000,
                           n_paths: int = 20000, steps_per_unit: int = 256, seed: Any = 0,
                           z_threshold: float = 4.0, p_threshold: float = 1e-3,
                           progress: bool | None = None) -> SDECrossCheck:
    """Cross-check the shaped-ReLU SDE against sampled finite networks over ``configs``.

    Each config is (n, depth, c_+, c_-, rho_0). Returns an :class:`SDECrossCheck` whose
    ``.table()`` / ``.latex()`` list every comparison with standard errors and z-scores, and
    whose ``.disagreements()`` lists those beyond ``z_threshold`` (or KS p < ``p_threshold``).

    >>> report = crosscheck_shaped_relu([(16, 16, 0, -1, 0.3)], n_networks=200, n_paths=2000, seed=1)
    >>> len(report.rows[0].comparisons), report.rows[0].T
    (9, 1.0)
    """
    from ncsym.sampler import root_seed

    seeds = root_seed(seed).spawn(len(configs))
    rows = tuple(crosscheck_row(*config, n_networks=n_networks, n_paths=n_paths, steps_per_unit=steps_per_unit,
                                seed=s, progress=progress) for config, s in zip(configs, seeds))
    return SDECrossCheck(rows, float(z_threshold), float(p_threshold))
