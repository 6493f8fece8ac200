"""Shaped networks against the Neural Covariance SDE: the distributions (Li, Nica & Roy 2022).

Samples shaped-ReLU networks (s_+- = 1 + c_+-/sqrt(n), weights normalized) of width n and depth
d = T n from two inputs at correlation rho_0, simulates the limiting SDE and the SDE with the
exact width-n drift, and plots the histograms of the output correlation rho_T and of the log
norm log V_T (against the exact log-normal law N(-T, 2T)), with a QQ plot of rho_T against
the SDE. Two-sample KS statistics and p-values are printed.

    python examples/sde_distributions.py                  # writes sde_distributions.png
    python examples/sde_distributions.py out.png --width 32 --T 1 --networks 500 --paths 4000
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from ncsym.models import ks_two_sample, sample_shaped_relu_networks, shaped_relu_sde, simulate_sde, finite_width_sde


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="sde_distributions.png", help="PNG file to write")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--T", type=float, default=1.0, help="depth / width")
    parser.add_argument("--c-plus", type=float, default=0.0)
    parser.add_argument("--c-minus", type=float, default=-1.0)
    parser.add_argument("--rho0", type=float, default=0.3)
    parser.add_argument("--networks", type=int, default=4000)
    parser.add_argument("--paths", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    n, depth = args.width, max(1, int(round(args.T * args.width)))
    T = depth / n
    sde = shaped_relu_sde(args.c_plus, args.c_minus)
    net = sample_shaped_relu_networks(args.c_plus, args.c_minus, n, depth, args.rho0, args.networks, seed=args.seed)
    steps = max(16, int(256 * T))
    limit = simulate_sde(sde, args.rho0, T, n_steps=steps, n_paths=args.paths, seed=args.seed + 1)
    finite = simulate_sde(finite_width_sde(sde, n), args.rho0, T, n_steps=steps, n_paths=args.paths,
                          seed=args.seed + 2)
    rho_net, rho_sde, rho_fw = net.rho, limit.rho[:, -1], finite.rho[:, -1]
    log_net = net.log_norms[:, 0]
    gauss = np.random.default_rng(args.seed + 3).normal(-T, math.sqrt(2 * T), args.paths)
    for label, a, b in (("rho_T vs SDE", rho_net, rho_sde), ("rho_T vs finite-n SDE", rho_net, rho_fw),
                        ("log V_T vs N(-T, 2T)", log_net, gauss)):
        d, p = ks_two_sample(a, b)
        print(f"KS {label}: D = {d:.4f}, p = {p:.3g}  (n = {n}, d = {depth}, {a.size} networks)")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("sde_distributions: matplotlib is not installed (pip install 'ncsym[plot]'); table only.")
        return 0

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    bins = np.linspace(min(rho_net.min(), rho_sde.min()), 1, 50)
    axes[0].hist(rho_net, bins=bins, density=True, alpha=0.5, label=f"networks, n = {n}, d = {depth}")
    axes[0].hist(rho_sde, bins=bins, density=True, histtype="step", lw=1.5, label="limiting SDE")
    axes[0].hist(rho_fw, bins=bins, density=True, histtype="step", lw=1.5, ls="--", label="SDE, width-n drift")
    axes[0].set_xlabel(r"$\rho_T$")
    axes[0].set_title(rf"output correlation, $T = {T:g}$, $\rho_0 = {args.rho0:g}$")
    axes[0].legend(fontsize=8)
    grid = np.linspace(log_net.min(), log_net.max(), 200)
    axes[1].hist(log_net, bins=50, density=True, alpha=0.5, label="networks")
    axes[1].plot(grid, np.exp(-(grid + T) ** 2 / (4 * T)) / math.sqrt(4 * math.pi * T), "k-", lw=1.5,
                 label=r"$N(-T, 2T)$")
    axes[1].set_xlabel(r"$\log V_T$")
    axes[1].set_title("log norm")
    axes[1].legend(fontsize=8)
    q = np.linspace(0.005, 0.995, 199)
    axes[2].plot(np.quantile(rho_sde, q), np.quantile(rho_net, q), "o", ms=3, label="limiting SDE")
    axes[2].plot(np.quantile(rho_fw, q), np.quantile(rho_net, q), "s", ms=3, mfc="none", label="width-n drift")
    lo, hi = float(np.quantile(rho_sde, 0.005)), 1.0
    axes[2].plot([lo, hi], [lo, hi], "k-", lw=0.8)
    axes[2].set_xlabel("SDE quantile")
    axes[2].set_ylabel("network quantile")
    axes[2].set_title(r"QQ plot of $\rho_T$")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
