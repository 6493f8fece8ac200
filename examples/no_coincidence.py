"""The no-coincidence experiment: zero-mean activations make random networks look random.

For a random network C: {0,1}^{2n} -> R^n with natural hyperparameters, count N(C), the inputs
whose n outputs are all negative, over all 4^n inputs, for many sampled networks; compare the
law of N with the independence baseline (Poisson with mean 2^n), the index of dispersion
Var N / E N with its confidence interval, and the output correlation across inputs against
Hamming distance with the iterated correlation map. tanh and relu - 1/sqrt(2 pi) (mean 0)
against relu and gelu (mean > 0).

    python examples/no_coincidence.py                     # small defaults, a few seconds
    python examples/no_coincidence.py out.png --n 4 --depth 6 --networks 2000

Prints a text table and a LaTeX tabular; saves a figure when matplotlib is installed (to the
path given, or to a temporary directory).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from ncsym.models import CoincidenceSweep, coincidence_experiment, gp_dispersion, hamming_correlations

ACTIVATIONS = {
    "tanh": "tanh",
    "relu - 1/sqrt(2 pi)": "max(x, 0) - 1/sqrt(2*pi)",
    "relu": "relu",
    "gelu": "gelu",
}


def main(argv: list[str] | None = None) -> str | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", help="PNG path (default: a temporary directory)")
    parser.add_argument("--n", type=int, default=3, help="outputs n; inputs are {0,1}^(2n) (default 3)")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--networks", type=int, default=400, help="sampled networks per activation")
    parser.add_argument("--max-depth", type=int, default=20, help="depth range of the theory curves")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    runs, correlations = {}, {}
    for label, spec in ACTIVATIONS.items():
        runs[label] = coincidence_experiment(spec, args.n, args.width, args.depth, args.networks, seed=args.seed)
        correlations[label] = hamming_correlations(spec, args.n, args.width, args.depth, 4 * args.networks,
                                                   seed=args.seed)
    sweep = CoincidenceSweep(tuple(runs.values()))
    print(sweep.table())
    print()
    print(sweep.latex())
    for label, hc in correlations.items():
        print()
        print(f"[{label}]")
        print(hc.table())

    depths = np.arange(1, args.max_depth + 1)
    theory = {label: [float(gp_dispersion(spec, args.n, int(d)).value) for d in depths]
              for label, spec in ACTIVATIONS.items()}
    print()
    print(f"infinite-width Var N / E N at n = {args.n}, depth 1..{args.max_depth}:")
    for label, values in theory.items():
        print(f"  {label:>20}: " + " ".join(f"{v:.3g}" for v in values))

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure")
        return None

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    colors = dict(zip(ACTIVATIONS, ["C0", "C2", "C3", "C1"]))
    ax = axes[0]
    k_max = int(max(r.counts.max() for r in runs.values()))
    for label, res in runs.items():
        k, observed, poisson, _ = res.distribution(k_max)
        tail = observed[::-1].cumsum()[::-1]  # Pr[N >= k]
        shown = tail > 0
        ax.step(k[shown], tail[shown], where="post", color=colors[label],
                label=f"{label} (D = {res.dispersion.value:.3g})")
    poisson_tail = poisson[::-1].cumsum()[::-1]
    ax.plot(k, poisson_tail, "k--", label=f"Poisson(2^{args.n})")
    ax.set_yscale("log")
    ax.set_ylim(0.5 / args.networks, 1.5)
    ax.set_xlabel("k")
    ax.set_ylabel("Pr[N >= k] over networks")
    ax.set_title(f"law of N: n={args.n}, width {args.width}, depth {args.depth}")
    ax.legend(fontsize=8)

    ax = axes[1]
    for label, hc in correlations.items():
        ax.errorbar(hc.hamming, hc.sampled.value, yerr=2 * hc.sampled.std_error, fmt="o", ms=4,
                    color=colors[label], label=f"{label} (sampled, 2 SE)")
        ax.plot(hc.hamming, hc.theory_values, "-", color=colors[label], alpha=0.6)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("Hamming distance h")
    ax.set_ylabel("output correlation")
    ax.set_title(r"sampled vs $C^{L}(1 - h/n)$ (lines)")
    ax.legend(fontsize=8)

    ax = axes[2]
    for label, values in theory.items():
        ax.plot(depths, values, color=colors[label], label=label)
        d = runs[label].dispersion
        ax.errorbar([args.depth], [d.value], yerr=[[d.value - d.low], [d.high - d.value]], fmt="o",
                    color=colors[label])
    ax.axhline(1, color="k", ls="--", lw=0.8, label="Poisson")
    ax.set_yscale("log")
    ax.set_xlabel("depth")
    ax.set_ylabel("Var N / E N")
    ax.set_title("Var N / E N: width oo (lines), sampled (95% CI)")
    ax.legend(fontsize=8)
    fig.tight_layout()

    output = args.output or os.path.join(tempfile.mkdtemp(prefix="ncsym_"), "no_coincidence.png")
    fig.savefig(output, dpi=120)
    print(f"figure saved to {output}")
    return output


if __name__ == "__main__":
    main()
