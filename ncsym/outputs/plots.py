"""Figures (matplotlib, the ``plot`` extra): the order-to-chaos phase diagram.

The library layers never import this module; it draws what :func:`ncsym.phase_data` computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ncsym.core.errors import DomainError

__all__ = ["plot_phase_diagram"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise DomainError("plots need matplotlib: pip install 'ncsym[plot]'") from exc
    return plt


def plot_phase_diagram(diagram: Any, path: str | None = None, *, max_depth_scale: float = 100.0) -> Any:
    """Two panels: chi_1 over (sigma_w2, sigma_b2) with the critical line chi_1 = 1, and the depth
    scale xi_c (clipped at ``max_depth_scale``), which diverges on that line. Saves to ``path``
    when given; returns the figure.

    >>> import ncsym
    >>> fig = plot_phase_diagram(ncsym.phase_data("erf", [0.5, 2.0], [0.0, 0.1]))
    >>> len(fig.axes)  # two panels and their colour bars
    4
    """
    plt = _pyplot()
    from matplotlib.colors import LogNorm, TwoSlopeNorm

    w, b = np.asarray(diagram.sigma_w2), np.asarray(diagram.sigma_b2)
    if w.size < 2 or b.size < 2:
        raise DomainError("a phase diagram plot needs at least two grid values on each axis")
    chi = np.where(np.isfinite(diagram.chi_1), diagram.chi_1, np.nan)
    xi = np.clip(np.where(np.isfinite(diagram.xi_c) | (diagram.xi_c == np.inf), diagram.xi_c, np.nan),
                 1e-2, max_depth_scale)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    top = max(float(np.nanmax(chi)) if np.isfinite(chi).any() else 2.0, 1.0 + 1e-6)
    bottom = min(float(np.nanmin(chi)) if np.isfinite(chi).any() else 0.0, 1.0 - 1e-6)
    mesh = axes[0].pcolormesh(w, b, chi.T, shading="nearest", cmap="coolwarm",
                              norm=TwoSlopeNorm(vmin=bottom, vcenter=1.0, vmax=top))
    fig.colorbar(mesh, ax=axes[0], label=r"$\chi_1$")
    axes[0].set_title(f"{diagram.activation}: ordered ($\\chi_1 < 1$) | chaotic ($\\chi_1 > 1$)")
    mesh = axes[1].pcolormesh(w, b, xi.T, shading="nearest", cmap="viridis",
                              norm=LogNorm(vmin=max(1e-2, float(np.nanmin(xi))), vmax=max_depth_scale))
    fig.colorbar(mesh, ax=axes[1], label=r"$\xi_c = -1/\ln \chi_c$")
    axes[1].set_title(r"depth scale $\xi_c$ (diverges at criticality)")
    line = np.isfinite(diagram.critical_sigma_w2)
    for ax in axes:
        ax.plot(diagram.critical_sigma_w2[line], diagram.critical_sigma_b2[line], "k-", lw=2,
                label=r"critical line $\chi_1 = 1$")
        ax.set_xlabel(r"$\sigma_w^2$")
        ax.set_ylabel(r"$\sigma_b^2$")
        ax.set_xlim(w.min(), w.max())
        ax.set_ylim(b.min(), b.max())
    axes[0].legend(loc="upper left", fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
