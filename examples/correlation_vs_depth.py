"""Correlation against depth: the correlation map's prediction against sampled networks.

For a zero-mean activation (relu - 1/sqrt(2 pi)) and a non-zero-mean one (relu), sample networks
of finite width with natural hyperparameters, measure the correlation of two inputs at each layer
(mean over networks with its standard error), and plot it with error bars against the iterated
correlation map rho_l = C^(l-1)(rho_0), and beside it (dashed) the finite-width prediction,
rho_l plus the O(1/width) bias of the sampled correlation: at moderate width the zero-mean points
sit visibly above the infinite-width curve, on the dashed one. The zero-mean network
decorrelates; relu's correlations climb towards 1. Each comparison's verdict (within 5 SE plus
the predicted O(1/width) bias) is printed.

    python examples/correlation_vs_depth.py                       # writes correlation_vs_depth.png
    python examples/correlation_vs_depth.py out.png --depth 12 --width 256 --networks 2000
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import ncsym
from ncsym import crosscheck, zoo

ACTIVATIONS = {"relu - 1/sqrt(2 pi) (mean 0)": ncsym.centered(zoo.relu), "relu (mean > 0)": zoo.relu}


def finite_width_shift(check, r0: float) -> np.ndarray:
    """The predicted O(1/width) bias of the sampled correlation at each layer (the cross-check's)."""
    return np.array([r.bias for r in check.rows if r.quantity == "correlation" and r.rho0 == r0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="correlation_vs_depth.png", help="PNG file to write")
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--networks", type=int, default=500)
    parser.add_argument("--rho0", type=float, nargs="+", default=[0.3, 0.8])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    checks = {}
    for label, act in ACTIVATIONS.items():
        check = crosscheck(act, depth=args.depth, width=args.width, networks=args.networks, rho0=args.rho0,
                           seed=args.seed)
        checks[label] = check
        print(f"{label}: {check.verdict}")
        for r0 in args.rho0:
            theory, estimate, se = check.correlations(r0)
            finite = theory + finite_width_shift(check, r0)
            cells = "  ".join(f"{t:.3f}/{f:.3f}/{e:.3f}" for t, f, e in zip(theory, finite, estimate))
            print(f"  rho0 = {r0:g}, width oo/width {args.width}/sampled by layer: {cells}")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("correlation_vs_depth: matplotlib is not installed (pip install 'ncsym[plot]'); table only.")
        return 0

    fig, axes = plt.subplots(1, len(checks), figsize=(11, 4.2), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, check) in zip(axes, checks.items()):
        for i, r0 in enumerate(args.rho0):
            theory, estimate, se = check.correlations(r0)
            layers = np.arange(1, theory.size + 1)
            ax.plot(layers, theory, "-", color=colors[i], lw=1.5, label=rf"width $\infty$, $\rho_0 = {r0:g}$")
            ax.plot(layers, theory + finite_width_shift(check, r0), "--", color=colors[i], lw=1.2,
                    label=rf"width {check.width}: $\infty$ + $O(1/n)$ bias")
            ax.errorbar(layers, estimate, yerr=2 * se, fmt="o", ms=4, color=colors[i], capsize=2,
                        label=f"width {check.width}, {check.networks} networks (2 SE)")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_title(label)
        ax.set_xlabel("layer")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("correlation of two inputs")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
