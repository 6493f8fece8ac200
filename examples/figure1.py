"""Figure 1 of Dunbar & Aaronson (2025): correlation maps with cobwebs.

The correlation map C(rho) of relu, tanh(4x) and relu - 1/sqrt(2 pi) (natural hyperparameters)
against the diagonal, with cobweb iterates from a few starting correlations: relu's iterates
climb to 1 (nonzero mean), while the zero-mean tanh(4x) (odd; C hugs the diagonal, so the decay is
slow) and relu - 1/sqrt(2 pi) fall to 0, as the zero-mean independence theorem says.

    python examples/figure1.py                 # writes figure1.png in the current directory
    python examples/figure1.py out.png --depth 12 --grid 401
"""

from __future__ import annotations

import argparse
import sys

from ncsym.depth.figure1 import figure1_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="figure1.png", help="PNG file to write")
    parser.add_argument("--depth", type=int, default=10, help="cobweb steps")
    parser.add_argument("--grid", type=int, default=401, help="points on [-1, 1]")
    parser.add_argument("--starts", type=float, nargs="+", default=[-0.8, 0.1, 0.6], help="starting correlations")
    args = parser.parse_args(argv)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("figure1: matplotlib is not installed (pip install 'ncsym[plot]'); nothing drawn.")
        return 0

    data = figure1_data(grid_points=args.grid, starts=args.starts, depth=args.depth)
    rho = data["rho"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, label in zip(axes, data["names"]):
        ax.plot(rho, rho, color="0.6", lw=1, ls="--", label=r"$\rho$")
        ax.plot(rho, data["curves"][label], color="k", lw=2, label=r"$C(\rho)$")
        for i, path in enumerate(data["cobweb"][label]):
            ax.plot(path[:, 0], path[:, 1], color=colors[i % len(colors)], lw=1,
                    label=rf"$\rho_0 = {data['starts'][i]:g}$")
            ax.plot(path[0, 0], path[0, 1], "o", color=colors[i % len(colors)], ms=4)
        fixed = data["fixed_points"][label]
        ax.plot(fixed, fixed, "s", color="k", ms=5, mfc="white", label="fixed points")
        ax.set_title(label)
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_aspect("equal")
        ax.set_xticks([-1, -0.5, 0, 0.5, 1])
        ax.set_yticks([-1, -0.5, 0, 0.5, 1])
        ax.set_xlabel(r"$\rho$")
        ax.grid(alpha=0.3)
        print(f"{label:>22}: fixed points {', '.join(f'{p:.6f}' for p in fixed)}; "
              f"rho_{args.depth} from {', '.join(f'{s:g}' for s in data['starts'])}: "
              f"{', '.join(f'{r:.4f}' for r in data['iterates'][label][:, -1])}")
    axes[0].set_ylabel(r"$C(\rho)$")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Correlation maps with natural hyperparameters (Dunbar & Aaronson 2025, Figure 1)")
    fig.tight_layout()
    fig.savefig(args.output, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
