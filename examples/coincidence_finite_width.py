"""Var N / E N of the no-coincidence count against depth: infinite width, O(1/width), sampled networks.

For the random networks C: {0,1}^{2n} -> R^n of the no-coincidence experiment (Dunbar & Aaronson
2025; natural hyperparameters), the index of dispersion of N(C), the number of inputs whose n
outputs are all negative, is predicted at infinite width by the orthant formula over the
iterated correlation map (``ncsym.gp_dispersion``); at moderate width the sampled networks sit
well above it. ``ncsym.finite_width_dispersion`` adds the O(1/width) term from the 1/n theory
of the readout kernel. This script draws, against depth, the infinite-width curve, the
finite-width curves at two widths, and the sampled values (each network's exact conditional
moments given its hidden layers, 2 SE bars), and prints the table with z-scores.

    python examples/coincidence_finite_width.py                  # writes coincidence_finite_width.png
    python examples/coincidence_finite_width.py out.png --act tanh --n 2 --widths 32 128 --depths 1 2 4 8
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ncsym import compare_dispersion, finite_width_dispersions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="coincidence_finite_width.png", help="PNG file to write")
    parser.add_argument("--act", default="tanh", help="a zoo name or expression (default tanh)")
    parser.add_argument("--n", type=int, default=2, help="outputs n; inputs are {0,1}^(2n)")
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2, 4, 6, 8])
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    cmp = compare_dispersion(args.act, args.n, args.widths, args.depths, args.networks, seed=args.seed)
    print(cmp.table())
    print()
    print(cmp.latex())
    curve_depths = list(range(1, max(args.depths) + 1))
    curves = finite_width_dispersions(args.act, args.n, curve_depths)

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("coincidence_finite_width: matplotlib is not installed (pip install 'ncsym[plot]'); table only.")
        return 0

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(curve_depths, [d.infinite_width for d in curves], "k-", lw=1.6, label=r"width $\infty$")
    for color, width in zip(("C0", "C3", "C2", "C1"), args.widths):
        ax.plot(curve_depths, [d.value(width) for d in curves], "--", color=color, lw=1.2,
                label=f"width {width}: $\\infty$ + O(1/width)")
        rows = [r for r in cmp.rows if r["width"] == width]
        depth = np.array([r["depth"] for r in rows])
        value = np.array([r["sampled"] for r in rows])
        error = np.array([r["sampled_se"] for r in rows])
        ax.errorbar(depth, value, yerr=2 * error, fmt="o", ms=4, color=color, capsize=2,
                    label=f"sampled, width {width} ({args.networks} networks, 2 SE)")
    # independent outputs: 1 - 2^-n; an odd activation's outputs on -x are exact negatives: 1 - 2^(1-n)
    independent = 1 - 2.0 ** ((1 if cmp.activation.parity == -1 else 0) - args.n)
    ax.axhline(independent, color="0.6", lw=0.8, ls=":", label="independent outputs (depth $\to \infty$)")
    ax.set_xlabel("depth")
    ax.set_ylabel("Var N / E N")
    ax.set_title(f"{cmp.activation.name}, n = {args.n}: index of dispersion of N")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
