"""Depth and width limits commute for a DEQ and not for an MLP (Gao, Huo, Liu & Gao 2023).

Samples a tanh DEQ (one shared W, the paper's sigma_w2 = 0.36, input injection) and a relu MLP
(independent weights, sigma_w2 = 2) at several widths n and depths L and plots the mean relative distance
D(n, L) = E ||K_hat - K_L|| / ||K_L|| of each network's empirical kernel to the infinite-width
one, with 2-SE error bars. The DEQ's curves flatten in L at a level that falls like 1/sqrt(n)
(both orders of the limits give K*); the MLP's climb to 1 as L/n grows (depth first, its
kernel collapses to 0). A second panel sets the MLP's E log(K_hat_11 / q_1) against the exact
(L - 1) m_n + psi(n/2) + log(2/n).

    python examples/deq_limits.py                     # writes deq_limits.png
    python examples/deq_limits.py out.png --widths 16 64 --depths 1 4 16 64 --networks 100
"""

from __future__ import annotations

import argparse
import sys

import mpmath
import numpy as np

from ncsym.models.deq_limits import depth_width_grid, relu_log_ratio_mean

X = np.array([[1.0, 0.0], [0.6, 0.8]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="deq_limits.png", help="PNG file to write")
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64, 128, 256])
    parser.add_argument("--networks", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    deq = depth_width_grid("deq", "tanh", X, args.widths, args.depths, args.networks, sigma_w2=0.36, seed=args.seed)
    mlp = depth_width_grid("mlp", "relu", X, args.widths, args.depths, args.networks, sigma_w2=2,
                           seed=args.seed + 1)
    theory = {}
    for i, n in enumerate(args.widths):
        m = float(relu_log_ratio_mean(n))
        shift = float(mpmath.digamma(n / 2) + mpmath.log(2 / n))
        theory[n] = np.array([(L - 1) * m + shift for L in args.depths])
        print(f"width {n}: D_DEQ by depth " + " ".join(f"{d:.3f}" for d in deq.distance[i]))
        print(f"width {n}: D_MLP by depth " + " ".join(f"{d:.3f}" for d in mlp.distance[i]))
        z = np.abs(mlp.log_diagonal[i] - theory[n]) / np.maximum(mlp.log_diagonal_se[i], 1e-300)
        print(f"width {n}: MLP E log K_hat_11 vs exact drift, max |z| = {z[1:].max():.2f}")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("deq_limits: matplotlib is not installed (pip install 'ncsym[plot]'); table only.")
        return 0

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    depths = np.array(args.depths)
    for i, n in enumerate(args.widths):
        axes[0].errorbar(depths, deq.distance[i], yerr=2 * deq.distance_se[i], fmt="o-", ms=3, color=colors[i],
                         capsize=2, label=f"DEQ, n = {n}")
        axes[0].errorbar(depths, mlp.distance[i], yerr=2 * mlp.distance_se[i], fmt="s--", ms=3, color=colors[i],
                         capsize=2, label=f"MLP, n = {n}")
        axes[1].errorbar(depths, mlp.log_diagonal[i], yerr=2 * mlp.log_diagonal_se[i], fmt="s", ms=3,
                         color=colors[i], capsize=2, label=f"sampled, n = {n}")
        axes[1].plot(depths, theory[n], "-", color=colors[i], lw=1, label=f"exact drift, n = {n}")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("depth L")
    axes[0].set_ylabel(r"$E\,\|\hat K - K_L\| / \|K_L\|$")
    axes[0].set_title("distance to the infinite-width kernel (2 SE)")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("depth L")
    axes[1].set_ylabel(r"$E \log(\hat K_{11} / q_1)$")
    axes[1].set_title("relu MLP: the norm collapses at fixed width")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
