"""The order-to-chaos phase diagram as data: q*, chi_1, chi_c, xi_c on a grid, with the critical line.

Ordered phase: chi_1 < 1, correlations go to 1 at the rate chi_c = chi_1; chaotic phase: chi_1 > 1,
they go to an interior rho* < 1 at the rate chi_c = C'(rho*) (Poole et al. 2016; Schoenholz et
al. 2017). xi_c = -1/ln chi_c diverges on the critical line chi_1 = 1. All values are float64
(a survey, not certified numbers: :func:`ncsym.critical_point` and :func:`ncsym.variance_map` give
Results with bounds at single points).

>>> d = phase_data("erf", [0.5, 3.0], [0.0, 0.1], critical_sigma_b2=[0.0, 0.1])
>>> d.phase.tolist()
[['ordered', 'ordered'], ['chaotic', 'chaotic']]
>>> round(float(d.critical_sigma_w2[0]), 6), round(float(d.xi_c[0, 0]), 4)
(0.785398, 2.2144)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import sympy

from ncsym.core.errors import DomainError
from ncsym.core.timebound import budgeted
from ncsym.depth.critical import _float_critical_points
from ncsym.depth.expectations import _dual_kernel
from ncsym.depth.inputs import _exact_parameter
from ncsym.depth.variance import phase_diagram
from ncsym.kernels.closed_form import find_closed_form
from ncsym.symbolic.activations import activation

__all__ = ["PhaseDiagram", "phase_data"]


@dataclass(frozen=True)
class PhaseDiagram:
    """Grids of shape (len(sigma_w2), len(sigma_b2)) and the critical line (NaN where none).

    ``q_star`` is inf where the variance diverges (then the other grids are NaN) and 0 where it
    collapses; ``rho_star`` is the attracting correlation (1 in the ordered phase).
    """

    activation: str
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_star: np.ndarray
    chi_1: np.ndarray
    rho_star: np.ndarray
    chi_c: np.ndarray
    xi_c: np.ndarray
    critical_sigma_b2: np.ndarray
    critical_sigma_w2: np.ndarray

    @property
    def phase(self) -> np.ndarray:
        """"ordered" (chi_1 < 1), "critical" (= 1), "chaotic" (> 1) or "diverges", per grid point."""
        out = np.full(self.chi_1.shape, "diverges", dtype=object)
        out[self.chi_1 < 1] = "ordered"
        out[self.chi_1 == 1] = "critical"
        out[self.chi_1 > 1] = "chaotic"
        return out

    def rows(self) -> list[dict]:
        """One dict per grid point (for CSV)."""
        return [{"sigma_w2": float(w), "sigma_b2": float(b), "q_star": float(self.q_star[i, j]),
                 "chi_1": float(self.chi_1[i, j]), "rho_star": float(self.rho_star[i, j]),
                 "chi_c": float(self.chi_c[i, j]), "xi_c": float(self.xi_c[i, j]), "phase": self.phase[i, j]}
                for i, w in enumerate(self.sigma_w2) for j, b in enumerate(self.sigma_b2)]


@budgeted
def phase_data(act: Any, sigma_w2_grid: Sequence[float], sigma_b2_grid: Sequence[float], *,
               critical_sigma_b2: Sequence[float] | None = None, q0: float = 1.0) -> PhaseDiagram:
    """q*, chi_1, rho*, chi_c and xi_c over the grid, and sigma_w2 on the critical line at
    ``critical_sigma_b2`` (default: the sigma_b2 grid)."""
    act = activation(act)
    q_star, chi_1 = phase_diagram(act, sigma_w2_grid, sigma_b2_grid, q0=q0)
    w = np.asarray(sigma_w2_grid, dtype=float)
    b = np.asarray(sigma_b2_grid, dtype=float)
    rho = np.full(q_star.shape, np.nan)
    chi_c = np.full(q_star.shape, np.nan)
    for i, j in zip(*np.nonzero(np.isfinite(q_star))):
        if chi_1[i, j] <= 1 or q_star[i, j] == 0:
            rho[i, j], chi_c[i, j] = 1.0, chi_1[i, j]
        elif np.isfinite(chi_1[i, j]):
            rho[i, j], chi_c[i, j] = _chaotic_fixed_point(act, w[i], b[j], q_star[i, j])
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = np.where(chi_c == 1, np.inf, -1 / np.log(chi_c))
    line_b = np.asarray(b if critical_sigma_b2 is None else critical_sigma_b2, dtype=float)
    if line_b.ndim != 1 or np.isnan(line_b).any() or (line_b < 0).any():
        raise DomainError("critical_sigma_b2 must be a 1-D list of non-negative numbers")
    line_w = np.array([_first(_float_critical_points(act, float(v))) for v in line_b])
    return PhaseDiagram(act.name, w, b, q_star, chi_1, rho, chi_c, xi, line_b, line_w)


def _first(points: list) -> float:
    return points[0][0] if points else math.nan


def _chaotic_fixed_point(act: Any, w: float, b: float, q: float) -> tuple[float, float]:
    """rho* in [0, 1) with C(rho*) = rho* and chi_c = sigma_w2 E[sigma'(u) sigma'(v)] there, in float64."""
    if find_closed_form(act) is not None:
        kernel = _dual_kernel(act, _exact_parameter(sympy.Float(q, 17), "q", positive=True), 15)
        derivative = kernel.derivative()
    else:
        kernel, derivative = _gauss_hermite_kernel(act, q), _gauss_hermite_kernel(act.derivative(), q)

    # normalized by the same kernel at rho = 1, so that C(1) = 1 holds to rounding
    variance = w * float(kernel(np.array([1.0]))[0]) + b

    def gap(r: float) -> float:
        return float((w * kernel(np.array([r]))[0] + b) / variance - r)
    lo, hi = 0.0, 1.0 - 1e-6
    if b == 0 and kernel(np.array([0.0]))[0] == 0 and gap(1e-9) <= 0:
        return 0.0, w * q * float(derivative(np.array([0.0]))[0]) / variance  # C(0) = 0 attracts (odd, no bias)
    if gap(hi) >= 0:
        return 1.0, w * q * float(derivative(np.array([1.0]))[0]) / variance
    for _ in range(55):
        mid = 0.5 * (lo + hi)
        if gap(mid) > 0:
            lo = mid
        else:
            hi = mid
    r = 0.5 * (lo + hi)
    return r, w * q * float(derivative(np.array([r]))[0]) / variance


#: Gauss-Hermite order per axis for the survey's kernel values (E[f(u) f(v)] to ~1e-11 for
#: tanh at q = 1.5; the float evaluators of ncsym.kernels are more accurate but build a
#: Chebyshev interpolant per variance where the Mehler series is slow, ~1 s each).
_GH_ORDER = 128


def _gauss_hermite_kernel(act: Any, q: float) -> Any:
    """rho -> E[f(sqrt(q) u) f(sqrt(q) v)], corr(u, v) = rho, by tensor Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(_GH_ORDER)
    weights = weights / np.sqrt(2 * np.pi)
    f = act.numpy()
    s = np.sqrt(q)
    left = np.asarray(f(s * nodes), dtype=float) * weights

    def kernel(rho: np.ndarray) -> np.ndarray:
        out = []
        for r in np.atleast_1d(np.asarray(rho, dtype=float)):
            v = r * nodes[:, None] + np.sqrt(max(0.0, 1 - r * r)) * nodes[None, :]
            out.append(float(left @ (np.asarray(f(s * v), dtype=float) @ weights)))
        return np.array(out)
    return kernel
