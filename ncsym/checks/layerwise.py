"""Theory against sampled finite-width networks, on the same configuration.

:func:`crosscheck` iterates the correlation map (the infinite-width theory of
:mod:`ncsym.depth`), samples finite networks with :mod:`ncsym.sampler`, and sets
them side by side layer by layer: estimate, standard error over networks, the predicted
O(1/width) bias, z-scores and a verdict.

The finite-width bias is predicted, not guessed: it is the O(1/n) term of the expansion of
:mod:`ncsym.width_corrections` (the kernel entries as a Markov chain in depth, expanded to
second order), read off for the per-network sample correlation K_ab/sqrt(K_aa K_bb) that
the sampler reports. At layer 1 it reduces to the classical E[r] = rho - rho (1 - rho^2)/(2n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ncsym.symbolic.activations import Activation, activation
from ncsym.core.errors import DomainError, check_integer
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.core.numbers import real_float
from ncsym.depth.correlation import correlation_map
from ncsym.width_corrections.multi_input import finite_width_kernels
from ncsym.width_corrections.single_input import TRUST_THRESHOLD
from ncsym.sampler import MLPSpec, network_statistics

__all__ = ["crosscheck", "CrossCheck", "CrossCheckRow", "finite_width_bias"]



@dataclass(frozen=True)
class CrossCheckRow:
    """One compared quantity at one layer (``quantity`` is "correlation" or "variance")."""

    layer: int
    quantity: str
    rho0: float
    theory: float
    bias: float
    estimate: float
    std_error: float
    tolerance: float

    @property
    def z_theory(self) -> float:
        """(estimate - theory) / SE: how far the sample is from the infinite-width value."""
        return _ratio(self.estimate - self.theory, self.std_error)

    @property
    def z_corrected(self) -> float:
        """(estimate - theory - bias) / SE: the same after the predicted O(1/width) bias."""
        return _ratio(self.estimate - self.theory - self.bias, self.std_error)

    @property
    def agrees(self) -> bool:
        """|estimate - theory - bias| <= tolerance (a NaN bias makes this False)."""
        return bool(abs(self.estimate - self.theory - self.bias) <= self.tolerance)


@dataclass(frozen=True)
class CrossCheck:
    """The outcome of :func:`crosscheck`: rows, settings and a verdict.

    ``tolerance = z_threshold * SE + remainder``, where the remainder allows for the
    unmodelled O(1/width^2) terms: ``|bias| * layer / width`` (each further order of the
    expansion carries one more factor of depth/width).
    """

    activation: Activation
    rows: tuple[CrossCheckRow, ...]
    width: int
    depth: int
    networks: int
    sigma_w2: float
    sigma_b2: float
    z_threshold: float
    seed: Any
    settings: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def passed(self) -> bool:
        """True when every row agrees within its tolerance."""
        return all(row.agrees for row in self.rows)

    @property
    def effective_ratio(self) -> float:
        """V/(n K^2) at the last layer (the 1/n theory's effective depth-to-width ratio)."""
        return float(self.settings.get("effective_ratio", 0.0))

    @property
    def bias_trusted(self) -> bool:
        """True when the O(1/width) bias is within its range (``ncsym.finite_width``'s threshold)."""
        return self.effective_ratio <= TRUST_THRESHOLD

    @property
    def verdict(self) -> str:
        failures = sum(not row.agrees for row in self.rows)
        caveat = "" if self.bias_trusted else (
            f"; the 1/n bias is NOT to be trusted here (V/(n K^2) = {self.effective_ratio:.3g} > {TRUST_THRESHOLD:g})")
        if not failures:
            return f"consistent: all {len(self.rows)} comparisons within {self.z_threshold:g} SE + remainder" + caveat
        return f"INCONSISTENT: {failures} of {len(self.rows)} comparisons outside tolerance" + caveat

    def correlations(self, rho0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(theory, estimate, std_error) of the correlation over layers 1..depth from ``rho0``."""
        rows = [r for r in self.rows if r.quantity == "correlation" and r.rho0 == rho0]
        if not rows:
            raise DomainError(f"no correlation rows start at rho0 = {rho0}")
        return (np.array([r.theory for r in rows]), np.array([r.estimate for r in rows]),
                np.array([r.std_error for r in rows]))

    def table(self) -> str:
        """A plain-text table, one row per comparison."""
        head = (f"{'layer':>5} {'quantity':>11} {'rho0':>6} {'theory':>10} {'bias':>10} "
                f"{'estimate':>10} {'SE':>9} {'z':>7} {'z_corr':>7}  ok")
        lines = [f"crosscheck {self.activation.name}: width {self.width}, depth {self.depth}, "
                 f"{self.networks} networks, sigma_w^2 = {self.sigma_w2:.6g}, sigma_b^2 = {self.sigma_b2:.6g}",
                 head, "-" * len(head)]
        for r in self.rows:
            lines.append(f"{r.layer:>5} {r.quantity:>11} {r.rho0:>6.3g} {r.theory:>10.6f} {r.bias:>10.2e} "
                         f"{r.estimate:>10.6f} {r.std_error:>9.2e} {r.z_theory:>7.2f} {r.z_corrected:>7.2f}  "
                         f"{'yes' if r.agrees else 'NO'}")
        lines.append(self.verdict)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def latex(self) -> str:
        """A LaTeX ``tabular`` of the comparison (needs only the standard LaTeX kernel)."""
        lines = [
            r"\begin{tabular}{rlrrrrrr}",
            r"\hline",
            r"layer & quantity & $\rho_0$ & theory & bias $O(1/n)$ & estimate & SE & $z$ \\",
            r"\hline",
        ]
        for r in self.rows:
            lines.append(f"{r.layer} & {r.quantity} & {r.rho0:.3g} & {r.theory:.6f} & {r.bias:.2e} & "
                         f"{r.estimate:.6f} & {r.std_error:.2e} & {r.z_corrected:.2f} \\\\")
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Jupyter: an HTML table (a LaTeX ``tabular`` is not math, so it has no place in ``_repr_latex_``)."""
        import html

        head = "".join(f"<th>{h}</th>" for h in ("layer", "quantity", "rho0", "theory", "bias O(1/n)", "estimate",
                                                  "SE", "z", "ok"))
        rows = "".join(
            f"<tr><td>{r.layer}</td><td>{r.quantity}</td><td>{r.rho0:.3g}</td><td>{r.theory:.6f}</td>"
            f"<td>{r.bias:.2e}</td><td>{r.estimate:.6f}</td><td>{r.std_error:.2e}</td><td>{r.z_corrected:.2f}</td>"
            f"<td>{'yes' if r.agrees else 'NO'}</td></tr>" for r in self.rows)
        return (f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
                f"<p>{html.escape(self.verdict)}</p>")


def crosscheck(act: Any, *, depth: int = 10, width: int = 256, networks: int = 2000,
               rho0: Sequence[float] | float = (0.2, 0.5, 0.9), sigma_w2: Any = None, sigma_b2: Any = 0,
               seed: Any = 0, method: str = "gram", z_threshold: float = 5.0,
               progress: bool | None = None) -> CrossCheck:
    """Compare the correlation map with sampled networks of finite width.

    Inputs are scaled so that layer 1 already has the stationary variance q* (1 with the
    natural hyperparameters ``sigma_w2 = 1/E[sigma^2]``, no bias), with correlations
    ``rho0`` to a reference input. Layer l is compared with C^(l-1)(rho0).

    >>> check = crosscheck("tanh", depth=3, width=64, networks=400, rho0=[0.5], seed=1)
    >>> check.passed, len(check.rows)   # a correlation and a variance row per layer
    (True, 6)
    """
    act = activation(act)
    depth = check_limit(check_integer(depth, "depth", 1), "depth", MAX_DEPTH)
    width = check_integer(width, "width", 1)
    networks = check_integer(networks, "networks", 2)
    many = isinstance(rho0, (list, tuple, np.ndarray))
    starts = [real_float(r, "rho0") for r in (np.ravel(np.asarray(rho0, dtype=object)) if many else [rho0])]
    for r in starts:
        if not -1.0 <= r <= 1.0:
            raise DomainError(f"starting correlations must lie in [-1, 1], got {r}")
    if not (isinstance(z_threshold, (int, float)) and z_threshold > 0):
        raise DomainError(f"z_threshold must be positive, got {z_threshold!r}")

    cmap = correlation_map(act, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    w2, b2, q = float(cmap.sigma_w2.value), float(cmap.sigma_b2.value), float(cmap.q.value)
    if not q > b2:
        raise DomainError(f"the stationary variance q* = {q} does not exceed sigma_b^2 = {b2}")
    # Reference input e_1 and one input per start at angle arccos(rho0), scaled so that
    # sigma_w2 |x|^2 / d + sigma_b2 = q*.
    scale = math.sqrt(2 * (q - b2) / w2)
    X = scale * np.array([[1.0, 0.0]] + [[r, math.sqrt(max(0.0, 1 - r * r))] for r in starts])
    spec = MLPSpec(input_dim=2, widths=width, depth=depth, activation=act, sigma_w2=w2, sigma_b2=b2)
    stats = network_statistics(spec, X, networks, method=method, seed=seed, progress=progress,
                               layers=list(range(1, depth + 1)), max_order=2)

    theory = cmap.iterate(np.array(starts), depth - 1)  # [depth, len(starts)]
    rows, ratio = [], 0.0
    for k, r0 in enumerate(starts, start=1):
        expansion = _bias_theory(act, q, r0, depth, w2, b2)
        ratio = max(ratio, expansion.effective_ratio(depth, width))
        biases = _biases(expansion, depth, width)
        for layer in range(1, depth + 1):
            corr = stats[layer].correlation
            variance = stats[layer].kernel
            bias_rho, bias_q = biases[layer - 1]
            for quantity, th, bias, est, se in (
                ("correlation", float(theory[layer - 1, k - 1]), bias_rho, corr.value[0, k], corr.std_error[0, k]),
                ("variance", q, bias_q, variance.value[k, k], variance.std_error[k, k]),
            ):
                if quantity == "variance" and k > 1:
                    continue  # one variance row per layer suffices: all inputs share q*
                tolerance = z_threshold * float(se) + abs(bias) * layer / width
                rows.append(CrossCheckRow(layer, quantity, r0, th, float(bias), float(est), float(se), tolerance))
    return CrossCheck(act, tuple(rows), width, depth, networks, w2, b2, float(z_threshold), seed,
                      {"method": method, "rho0": tuple(starts), "q_star": q, "effective_ratio": ratio})


def finite_width_bias(act: Any, *, q: float, rho0: float, depth: int, width: int,
                      sigma_w2: float, sigma_b2: float = 0.0) -> list[tuple[float, float]]:
    """Predicted O(1/width) bias of (sample correlation, sample variance) at layers 1..depth.

    The 1/n expansion itself lives in :func:`ncsym.width_corrections.finite_width_kernels`;
    this reads off E[r_ab] - rho_ab and K1_aa / n for two inputs of variance q at layer 1.
    Returns NaN for the correlation where the kernel map is not smooth (|rho| within 1e-6
    of 1), where the expansion does not apply.

    >>> bias = finite_width_bias("identity", q=1.0, rho0=0.5, depth=1, width=100, sigma_w2=1.0)
    >>> round(bias[0][0], 8), -0.5 * (1 - 0.25) / 200   # the classical E[r] - rho
    (-0.001875, -0.001875)
    """
    width = check_integer(width, "width", 1)
    return _biases(_bias_theory(act, q, rho0, depth, sigma_w2, sigma_b2), depth, width)


def _bias_theory(act: Any, q: float, rho0: float, depth: int, sigma_w2: float, sigma_b2: float):
    q, rho0 = real_float(q, "q"), real_float(rho0, "rho0")
    if not q > 0 or not -1 <= rho0 <= 1:
        raise DomainError(f"need q > 0 and rho0 in [-1, 1], got q = {q}, rho0 = {rho0}")
    first = q * np.array([[1.0, rho0], [rho0, 1.0]])
    return finite_width_kernels(act, first, depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2, input_kind="kernel")


def _biases(theory, depth: int, width: int) -> list[tuple[float, float]]:
    out = []
    for layer in range(1, depth + 1):
        K = theory.kernel(layer)
        rho = K[0, 1] / math.sqrt(K[0, 0] * K[1, 1])
        out.append((float(theory.correlation_mean(layer, width)[0, 1] - rho),
                    float(theory.kernel_correction(layer)[0, 0] / width)))
    return out


def _ratio(num: float, den: float) -> float:
    if den == 0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / den
