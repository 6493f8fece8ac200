"""The 1/width theory against sampled networks at several widths: do the corrections scale as predicted?

At each width n the sampler measures, at one layer l, with standard errors over networks:

- ``fourth_cumulant``: E[z^4] - 3 E[z^2]^2 of one preactivation, predicted 3 V^(l) / n;
- ``kernel_shift``: E[z^2] - K^(l), predicted K^{(1),(l)} / n;
- ``kernel_variance``: Var[K_aa] of the empirical kernel K_ab = (1/n) sum_i z_i(a) z_i(b),
  predicted (V^(l) + 2 K^2) / n (the vertex plus the Wishart spread of n i.i.d. rows given
  the layer below), and ``kernel_variance_ab`` for two inputs, (V_(ab)(ab) + K_aa K_bb + K_ab^2) / n;
- ``ntk_variance``: Var[Theta_ii] of one unit's empirical NTK, predicted A^(l) / n.

Each quantity is fitted as ``y(n) - y(oo) = s / n + r / n^2`` (three or more widths; ``s / n``
alone with ``quadratic=False``) by weighted least squares, and the fitted slope is compared with
the predicted one (Roberts, Yaida & Hanin 2022, chapters 4, 5 and 8). Tolerances:
``z_threshold`` SE, plus for each width's value the unmodelled O(1/n^2) remainder, taken as
``|s| / n * max(l / n, r_eff)`` with ``r_eff = V / (n K^2)`` the theory's effective depth-to-width
ratio (its next order is about r_eff / 2 of the first; each order also carries one more factor
depth/width, the rule of :func:`ncsym.crosscheck`), and for a slope fitted without the 1/n^2
term that remainder's weighted effect on the fit. Widths where the theory itself says 1/n
perturbation theory is not to be trusted are marked and still compared. ``passed`` is the
slope test; ``values_passed`` the per-width test, whose remainder is an estimate the theory
cannot bound (at the narrow end it can be several times too small, e.g. relu(x) - 1/2).

Estimators (delta method on per-network averages; networks are independent, units are not):
the cumulant is ``mean(m4) - 3 (mean(m2)^2 - var(m2)/N)`` with ``m_k`` a network's mean of
z_i^k over units; a variance is the unbiased sample variance over networks, and Var[Theta_ii]
is ``mean(t2) - mean(t1)^2 + var(t1)/N`` with ``t_k`` a network's mean of Theta_ii^k.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ncsym.core.errors import DomainError, check_integer
from ncsym.core.numbers import real_float
from ncsym.sampler import MLPSpec, StreamingMoments, iter_ntk, iter_preactivations, root_seed

__all__ = ["QUANTITIES", "WidthEstimate", "SlopeFit", "WidthScalingRow", "WidthScaling", "measure_layers",
           "measure_ntk_variance", "measure_width", "fit_inverse_width", "finite_width_crosscheck"]

QUANTITIES = ("fourth_cumulant", "kernel_shift", "kernel_variance", "kernel_variance_ab", "ntk_variance")


@dataclass(frozen=True)
class WidthEstimate:
    """One measured quantity at one width: ``value`` ± ``std_error`` from ``networks`` networks.

    >>> WidthEstimate("fourth_cumulant", 64, 0.5, 0.1, 1000).value
    0.5
    """

    quantity: str
    width: int
    value: float
    std_error: float
    networks: int


def _delta(cov: np.ndarray, count: int, grad: np.ndarray) -> float:
    """Delta-method SE of a smooth function of means, from the covariance of the features."""
    return math.sqrt(max(float(grad @ cov @ grad), 0.0) / count)


def measure_layers(spec: MLPSpec, inputs: Any, networks: int, *, layers: Sequence[int], seed: Any = 0,
                   kernels: dict | None = None, method: str = "gram") -> dict[int, dict[str, WidthEstimate]]:
    """The preactivation quantities at several layers of the same sampled networks.

    Returns ``{layer: {quantity: WidthEstimate}}`` with ``fourth_cumulant``, ``kernel_variance``,
    ``kernel_shift`` (when ``kernels`` maps the layer to its K^(l)) and, for two inputs,
    ``kernel_variance_ab``. Layers of one network are not independent; each layer's errors are.

    >>> spec = MLPSpec(1, 16, activation=np.tanh, depth=3, sigma_w2=1.0)
    >>> est = measure_layers(spec, [[1.0]], 2000, layers=[1, 3], seed=0)
    >>> sorted(est), abs(est[1]["fourth_cumulant"].value) < 5 * est[1]["fourth_cumulant"].std_error
    ([1, 3], True)
    """
    networks = check_integer(networks, "networks", 3)
    X = np.atleast_2d(np.asarray(inputs, dtype=np.float64))
    if X.shape[0] not in (1, 2):
        raise DomainError(f"the width measurements take one or two inputs, got {X.shape[0]}")
    two = X.shape[0] == 2
    wanted = spec.resolve_layers(list(layers))
    # per-network features: K_aa (= m2), m4, K_aa^2 [, K_ab, K_ab^2]
    accs = {l: StreamingMoments((5 if two else 3,), covariance=True) for l in wanted}
    for _, out, _ in iter_preactivations(spec, X, networks, method=method, layers=wanted, seed=seed):
        for l, h in out.items():
            h = np.asarray(h, dtype=np.float64)
            m2 = np.mean(h[:, 0] ** 2, axis=1)
            features = [m2, np.mean(h[:, 0] ** 4, axis=1), m2 * m2]
            if two:
                kab = np.mean(h[:, 0] * h[:, 1], axis=1)
                features += [kab, kab * kab]
            accs[l].update(np.stack(features, axis=1))
    return {l: _layer_estimates(accs[l], spec.layer_width(l), None if kernels is None else kernels.get(l), two)
            for l in wanted}


def _layer_estimates(acc: StreamingMoments, width: int, kernel: float | None, two: bool) -> dict[str, WidthEstimate]:
    mu, cov, N = acc.mean, acc.covariance, acc.count
    out: dict[str, WidthEstimate] = {}
    var_m2 = cov[0, 0]
    # E[mean(m2)^2] = mu2^2 + Var(m2)/N: subtract it so the cumulant is unbiased to O(1/N^2)
    cumulant = mu[1] - 3 * (mu[0] ** 2 - var_m2 / N)
    grad = np.zeros(mu.size)
    grad[0], grad[1] = -6 * mu[0], 1.0
    out["fourth_cumulant"] = WidthEstimate("fourth_cumulant", width, float(cumulant), _delta(cov, N, grad), N)
    if kernel is not None:
        out["kernel_shift"] = WidthEstimate("kernel_shift", width, float(mu[0] - float(kernel)),
                                            math.sqrt(var_m2 / N), N)

    def variance(first: int, square: int, name: str) -> None:
        value = (mu[square] - mu[first] ** 2) * N / (N - 1)
        g = np.zeros(mu.size)
        g[first], g[square] = -2 * mu[first], 1.0
        out[name] = WidthEstimate(name, width, float(value), _delta(cov, N, g), N)

    variance(0, 2, "kernel_variance")
    if two:
        variance(3, 4, "kernel_variance_ab")
    return out


def measure_ntk_variance(spec: MLPSpec, inputs: Any, networks: int, *, layer: int, seed: Any = 0,
                         units: int | None = 64, derivative: Any = None) -> WidthEstimate:
    """Var[Theta_ii] of one unit's empirical NTK at ``layer`` on one input, over networks with real
    weights (the first ``units`` units of each network enter its averages t1, t2).

    >>> spec = MLPSpec(1, 16, activation=np.tanh, depth=1)
    >>> measure_ntk_variance(spec, [[1.0]], 10, layer=1, derivative=np.cos).value   # layer 1 is fixed
    0.0
    """
    networks = check_integer(networks, "networks", 3)
    X = np.atleast_2d(np.asarray(inputs, dtype=np.float64))[:1]
    width = spec.layer_width(layer)
    units = None if units is None else min(check_integer(units, "units", 1), width)
    moments = StreamingMoments((2,), covariance=True)
    for _, theta in iter_ntk(spec, X, networks, seed=seed, layer=layer, units=units, derivative=derivative):
        t = theta[:, :, 0, 0]
        moments.update(np.stack([t.mean(axis=1), (t * t).mean(axis=1)], axis=1))
    m, c, M = moments.mean, moments.covariance, moments.count
    value = m[1] - m[0] ** 2 + c[0, 0] / M
    if abs(value) < 1e-12 * m[1]:
        value = 0.0  # a deterministic NTK (layer 1): rounding only
    return WidthEstimate("ntk_variance", width, float(value), _delta(c, M, np.array([-2 * m[0], 1.0])), M)


def measure_width(spec: MLPSpec, inputs: Any, networks: int, *, layer: int, seed: Any = 0,
                  kernel: float | None = None, ntk: bool = False, ntk_networks: int | None = None,
                  ntk_units: int | None = 64, derivative: Any = None, method: str = "gram",
                  ) -> dict[str, WidthEstimate]:
    """Sample ``networks`` networks of ``spec`` and estimate the finite-width quantities at ``layer``.

    ``inputs``: one input, or two (the second adds ``kernel_variance_ab``); the first is the
    one whose preactivation is measured. ``kernel``: the infinite-width K^(l), subtracted in
    ``kernel_shift`` (omitted when None). ``ntk=True`` adds ``ntk_variance`` from
    ``ntk_networks`` networks with real weights (:func:`measure_ntk_variance`).

    >>> spec = MLPSpec(1, 32, activation=np.tanh, depth=2, sigma_w2=1.0)
    >>> est = measure_width(spec, [[1.0]], 4000, layer=2, seed=0)
    >>> sorted(est), est["fourth_cumulant"].networks
    (['fourth_cumulant', 'kernel_variance'], 4000)
    """
    out = measure_layers(spec, inputs, networks, layers=[layer], seed=seed, method=method,
                         kernels=None if kernel is None else {layer: kernel})[layer]
    if ntk:
        count = networks if ntk_networks is None else ntk_networks
        out["ntk_variance"] = measure_ntk_variance(spec, inputs, count, layer=layer, seed=seed, units=ntk_units,
                                                   derivative=derivative)
    return out


@dataclass(frozen=True)
class SlopeFit:
    """Weighted least squares of ``y - y_oo`` on ``1/n`` (and ``1/n^2`` when ``quadratic``).

    ``slope`` ± ``slope_error`` is the 1/n coefficient; ``curvature`` the 1/n^2 one (0 when
    not fitted); ``chi2``/``dof`` the residual chi-square of the fit.

    >>> n = np.array([16.0, 32.0, 64.0])
    >>> fit = fit_inverse_width(n, 3 / n - 8 / n**2, np.full(3, 1e-3), quadratic=True)
    >>> round(fit.slope, 9), round(fit.curvature, 9), fit.dof
    (3.0, -8.0, 1)
    """

    slope: float
    slope_error: float
    curvature: float
    curvature_error: float
    chi2: float
    dof: int
    quadratic: bool


def fit_inverse_width(widths: Sequence[int], values: Sequence[float], errors: Sequence[float], *,
                      infinite_width: float = 0.0, quadratic: bool = False) -> SlopeFit:
    """Fit ``values - infinite_width = s/n (+ r/n^2)`` with weights ``1/errors^2``.

    >>> n = np.array([32, 64, 128])
    >>> fit = fit_inverse_width(n, 2.0 / n, np.full(3, 1e-3))
    >>> round(fit.slope, 10), fit.dof
    (2.0, 2)
    """
    n = np.asarray(widths, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64) - float(infinite_width)
    s = np.asarray(errors, dtype=np.float64)
    if not (n.shape == y.shape == s.shape) or n.ndim != 1:
        raise DomainError("widths, values and errors must be 1-d arrays of one length")
    columns = 2 if quadratic else 1
    if n.size < columns + 1:
        raise DomainError(f"a {'quadratic' if quadratic else 'linear'} fit needs at least {columns + 1} widths")
    if not (np.all(s > 0) and np.all(np.isfinite(s)) and np.all(n > 0)):
        raise DomainError("standard errors must be positive and finite, widths positive")
    design = np.stack([1 / n, 1 / n**2][:columns], axis=1)
    w = 1 / s**2
    normal = design.T @ (design * w[:, None])
    cov = np.linalg.inv(normal)
    beta = cov @ (design.T @ (w * y))
    chi2 = float(np.sum(w * (y - design @ beta) ** 2))
    r, r_err = (float(beta[1]), float(math.sqrt(cov[1, 1]))) if quadratic else (0.0, 0.0)
    return SlopeFit(float(beta[0]), float(math.sqrt(cov[0, 0])), r, r_err, chi2, int(n.size - columns), quadratic)


@dataclass(frozen=True)
class WidthScalingRow:
    """One quantity at one width against the prediction ``infinite_width + slope / width``.

    >>> round(WidthScalingRow("kernel_shift", 64, 0.01, 0.012, 0.001, 0.0).z, 6)
    2.0
    """

    quantity: str
    width: int
    predicted: float
    estimate: float
    std_error: float
    remainder: float
    trusted: bool | None = None

    @property
    def z(self) -> float:
        """(estimate - predicted) / SE."""
        return (self.estimate - self.predicted) / self.std_error if self.std_error > 0 else math.nan


@dataclass(frozen=True)
class WidthScaling:
    """The outcome of :func:`finite_width_crosscheck`: per-width rows and per-quantity slope fits.

    ``passed`` asks every fitted slope and every per-width value to lie within tolerance;
    ``untrusted`` lists the widths where the theory itself distrusts its 1/n expansion.
    See :func:`finite_width_crosscheck` for an example.
    """

    label: str
    layer: int
    widths: tuple[int, ...]
    rows: tuple[WidthScalingRow, ...]
    predicted_slopes: dict
    infinite_width: dict
    fits: dict
    slope_remainders: dict
    z_threshold: float
    settings: dict = field(default_factory=dict, compare=False, repr=False)

    def slope_z(self, quantity: str) -> float:
        """(fitted slope - predicted slope) / SE of the fit."""
        fit = self.fits[quantity]
        return (fit.slope - self.predicted_slopes[quantity]) / fit.slope_error

    def slope_agrees(self, quantity: str) -> bool:
        fit = self.fits[quantity]
        gap = abs(fit.slope - self.predicted_slopes[quantity])
        return bool(gap <= self.z_threshold * fit.slope_error + self.slope_remainders[quantity])

    def row_agrees(self, row: WidthScalingRow) -> bool:
        return bool(abs(row.estimate - row.predicted) <= self.z_threshold * row.std_error + row.remainder)

    @property
    def passed(self) -> bool:
        """Every fitted 1/n slope within tolerance of the predicted one: the test of the theory.

        With the s/n + r/n^2 fit the unmodelled remainder is fitted, not guessed; the per-width
        values (:attr:`values_passed`) also lean on the estimated remainder, which the theory
        cannot bound (see :attr:`outliers`)."""
        return all(self.slope_agrees(q) for q in self.fits)

    @property
    def values_passed(self) -> bool:
        """Every per-width value within ``z_threshold`` SE + the estimated O(1/n^2) remainder."""
        return all(self.row_agrees(r) for r in self.rows)

    @property
    def outliers(self) -> tuple[WidthScalingRow, ...]:
        """Per-width values outside tolerance: where O(1/n^2) exceeds its estimate (or the slope is off)."""
        return tuple(r for r in self.rows if not self.row_agrees(r))

    @property
    def untrusted(self) -> tuple[int, ...]:
        """Widths where the theory says 1/n perturbation theory is not to be trusted at this layer."""
        return tuple(sorted({r.width for r in self.rows if r.trusted is False}))

    def table(self) -> str:
        """Plain text: one block per quantity, the slope fit, then the rows per width."""
        lines = [f"width scaling {self.label}: layer {self.layer}, widths {', '.join(map(str, self.widths))}"]
        for q, fit in self.fits.items():
            shape = f"s/n + r/n^2, r = {fit.curvature:.3g} ± {fit.curvature_error:.2g}" if fit.quadratic else "s/n"
            lines.append(f"{q}: slope {fit.slope:.5g} ± {fit.slope_error:.2g} (fit {shape}, "
                         f"chi2 {fit.chi2:.2f}/{fit.dof}), "
                         f"predicted {self.predicted_slopes[q]:.5g}, z {self.slope_z(q):+.2f}  "
                         f"{'ok' if self.slope_agrees(q) else 'NO'}")
            lines.append(f"  {'width':>6} {'predicted':>11} {'estimate':>11} {'SE':>9} {'z':>7} {'n*(y-y_oo)':>11}  ok")
            for r in (r for r in self.rows if r.quantity == q):
                scaled = r.width * (r.estimate - self.infinite_width[q])
                trust = "" if r.trusted is not False else "  (1/n untrusted)"
                lines.append(f"  {r.width:>6} {r.predicted:>11.5g} {r.estimate:>11.5g} {r.std_error:>9.2e} "
                             f"{r.z:>7.2f} {scaled:>11.4g}  {'yes' if self.row_agrees(r) else 'NO'}{trust}")
        slopes = (f"consistent: every fitted 1/n slope within {self.z_threshold:g} SE of the theory" if self.passed
                  else "INCONSISTENT: a fitted 1/n slope is outside tolerance")
        if self.values_passed:
            values = f"every value within {self.z_threshold:g} SE + estimated O(1/n^2) remainder"
        else:
            where = sorted({(r.quantity, r.width) for r in self.outliers})
            values = ("values outside SE + estimated remainder (O(1/n^2) larger than estimated): "
                      + ", ".join(f"{q} at {n}" for q, n in where))
        lines.append(f"{slopes}; {values}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def latex(self) -> str:
        """A LaTeX ``tabular``: per quantity the predicted and fitted 1/n slopes and the z-score."""
        lines = [r"\begin{tabular}{lrrrr}", r"\hline",
                 r"quantity & predicted slope & fitted slope & SE & $z$ \\", r"\hline"]
        for q, fit in self.fits.items():
            name = q.replace("_", r"\_")
            lines.append(f"{name} & {self.predicted_slopes[q]:.5g} & {fit.slope:.5g} & {fit.slope_error:.2g} & "
                         f"{self.slope_z(q):.2f} \\\\")
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        return self.latex()


def _tolerance_rows(quantity, widths, estimates, slope, infinite, relative, trusted) -> list[WidthScalingRow]:
    rows = []
    for n in widths:
        e = estimates[n][quantity]
        rows.append(WidthScalingRow(quantity, n, infinite + slope / n, e.value, e.std_error,
                                    abs(slope) / n * relative[n], trusted.get(n)))
    return rows


def _slope_remainder(slope: float, relative: dict, widths: Sequence[int], errors: Sequence[float]) -> float:
    """Effect on a fitted s/n slope of an unmodelled remainder |s|/n * relative(n): sum w x^2 rel / sum w x^2."""
    x = 1 / np.asarray(widths, dtype=np.float64)
    w = 1 / np.asarray(errors, dtype=np.float64) ** 2
    rel = np.array([relative[n] for n in widths])
    return float(abs(slope) * np.sum(w * x**2 * rel) / np.sum(w * x**2))


def finite_width_crosscheck(act: Any, *, depth: int = 3, layer: int | None = None,
                            widths: Sequence[int] = (32, 64, 128, 256),
                  networks: int = 4000, sigma_w2: Any = 1, sigma_b2: Any = 0, q0: Any = 1, rho0: float | None = 0.5,
                  ntk: bool = True, ntk_networks: int | None = None, ntk_units: int | None = 64,
                  quantities: Sequence[str] | None = None, quadratic: bool | None = None, seed: Any = 0,
                  z_threshold: float = 5.0) -> WidthScaling:
    """Sample networks of ``act`` at several widths and test the predicted 1/n corrections.

    Inputs have |x|^2 / n_0 = q0 (a second input at correlation ``rho0`` adds
    ``kernel_variance_ab``; None leaves it out); predictions come from
    :func:`ncsym.width_corrections.finite_width` (and ``finite_width_kernels``,
    ``ntk_fluctuations`` for the two-input and NTK quantities). Networks at each width come
    from an independent stream of ``seed``; ``networks`` per width (``ntk_networks`` for the
    NTK, default the same), preactivations sampled in Gram space, the NTK with real weights.

    >>> check = finite_width_crosscheck("relu", depth=3, widths=(16, 32, 64), networks=3000, sigma_w2=2,
    ...                                 rho0=None, ntk=False)
    >>> check.passed, check.predicted_slopes["fourth_cumulant"]   # 3 V^(3) = 3 * 10 K^2, K = 2
    (True, 120.0)
    """
    from ncsym.symbolic.activations import activation
    import ncsym.width_corrections as theory  # the theory layer, before checks in the flow

    act = activation(act)
    depth = check_integer(depth, "depth", 1)
    layer = depth if layer is None else check_integer(layer, "layer", 1, depth)
    widths = tuple(sorted(check_integer(n, "width", 1) for n in widths))
    if len(set(widths)) < 2:
        raise DomainError("width_scaling needs at least two distinct widths (three or more to test the fit)")
    quadratic = len(widths) >= 3 if quadratic is None else bool(quadratic)
    if not (isinstance(z_threshold, (int, float)) and z_threshold > 0):
        raise DomainError(f"z_threshold must be positive, got {z_threshold!r}")
    wanted = tuple(QUANTITIES if quantities is None else quantities)
    unknown = set(wanted) - set(QUANTITIES)
    if unknown:
        raise DomainError(f"unknown quantities {sorted(unknown)}; choose from {QUANTITIES}")
    # the multi-input and NTK predictions need their theory entry points
    available = {"kernel_variance_ab": rho0 is not None and hasattr(theory, "finite_width_kernels"),
                 "ntk_variance": ntk and hasattr(theory, "ntk_fluctuations")}
    if quantities is not None and not all(available.get(q, True) for q in wanted):
        missing = [q for q in wanted if not available.get(q, True)]
        raise DomainError(f"no prediction available for {missing} (rho0=None or ntk=False leaves them out)")
    wanted = tuple(q for q in wanted if available.get(q, True))

    if rho0 is not None:
        rho0 = real_float(rho0, "rho0")
        if not -1 <= rho0 <= 1:
            raise DomainError(f"rho0 must lie in [-1, 1], got {rho0}")
    # finite_width checks the hyperparameters (text, NaN, infinities) before they become floats
    fw = theory.finite_width(act, depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2, q0=q0)
    w2, b2, q = float(fw.sigma_w2), float(fw.sigma_b2), float(fw.q0)
    K, V, K1 = float(fw.kernel(layer)), float(fw.vertex(layer)), float(fw.kernel_correction(layer))
    slopes = {"fourth_cumulant": 3 * V, "kernel_shift": K1, "kernel_variance": V + 2 * K * K}
    infinite = {"fourth_cumulant": 0.0, "kernel_shift": 0.0, "kernel_variance": 0.0,
                "kernel_variance_ab": 0.0, "ntk_variance": 0.0}
    scale = math.sqrt(2 * q)
    X = scale * np.array([[1.0, 0.0]] if rho0 is None else [[1.0, 0.0], [rho0, math.sqrt(max(0.0, 1 - rho0**2))]])
    if "kernel_variance_ab" in wanted:
        slopes["kernel_variance_ab"] = _kernel_ab_slope(theory, act, X, depth, layer, w2, b2)
    if "ntk_variance" in wanted:
        slopes["ntk_variance"] = _ntk_slope(theory, act, depth, layer, sigma_w2, sigma_b2, q0)
    estimates, trusted = {}, {}
    streams = root_seed(seed).spawn(len(widths))  # independent networks at each width
    for k, n in enumerate(widths):
        spec = MLPSpec(input_dim=2, widths=n, depth=layer, activation=act, sigma_w2=w2, sigma_b2=b2)
        estimates[n] = measure_width(spec, X, networks, layer=layer, seed=streams[k],
                                     kernel=K, ntk="ntk_variance" in wanted, ntk_networks=ntk_networks,
                                     ntk_units=ntk_units)
        trusted[n] = bool(fw.trustworthy(layer, n))
    relative = {n: max(layer / n, fw.effective_ratio(layer, n)) for n in widths}
    rows, fits, remainders = [], {}, {}
    for quantity in wanted:
        values = [estimates[n][quantity] for n in widths]
        errors = [e.std_error for e in values]
        fits[quantity] = fit_inverse_width(widths, [e.value for e in values], errors,
                                           infinite_width=infinite[quantity], quadratic=quadratic)
        remainders[quantity] = 0.0 if quadratic else _slope_remainder(slopes[quantity], relative, widths, errors)
        rows += _tolerance_rows(quantity, widths, estimates, slopes[quantity], infinite[quantity], relative, trusted)
    return WidthScaling(act.name, layer, widths, tuple(rows), {q: slopes[q] for q in wanted},
                        {q: infinite[q] for q in wanted}, fits, remainders, float(z_threshold),
                        {"depth": depth, "networks": networks, "sigma_w2": w2, "sigma_b2": b2, "q0": q,
                         "rho0": rho0, "seed": seed})


def _kernel_ab_slope(theory, act, X, depth, layer, w2, b2) -> float:
    """n Var[hat K_ab] = V_(ab)(ab) + K_aa K_bb + K_ab^2 for the two inputs (the vertex plus the Wishart spread)."""
    kernels = theory.finite_width_kernels(act, X, layer, sigma_w2=w2, sigma_b2=b2)
    return float(kernels.kernel_covariance(layer, 1)[0, 1, 0, 1])


def _ntk_slope(theory, act, depth, layer, sigma_w2, sigma_b2, q0) -> float:
    """A^(l), Var[Theta_ii] = A^(l)/n, in the NTK parametrization the sampler uses by default."""
    fluctuations = theory.ntk_fluctuations(act, depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2, q0=q0)
    return float(fluctuations.variance(layer).value)
