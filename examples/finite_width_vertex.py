"""The four-point vertex against depth: the 1/n theory next to sampled networks at two widths.

For one input, E[z^4] - 3 E[z^2]^2 = 3 V^(l) / n + O(1/n^2) for a preactivation z of layer l
(Roberts, Yaida & Hanin 2022, ch. 4-5). This script draws the normalized vertex V^(l) / K^(l)^2
from ``ncsym.finite_width`` against depth for three universality classes,

- relu at sigma_w^2 = 2 (scale invariant: V / K^2 = 5 (l - 1), linear in depth),
- tanh at criticality sigma_w^2 = 1 (the K* = 0 class: V / (l K^2) tends to 2/3),
- the zero-mean shifted relu max(x, 0) - 1/sqrt(2 pi) at its natural sigma_w^2 = 2 pi/(pi - 1),
  whose K = 1 is a marginal fixed point (chi_par = 1),

and sets beside each the sampled n (E z^4 - 3 E[z^2]^2) / (3 K^2) at two widths (mean over
networks, 2 SE bars; open markers where the theory's effective ratio V/(n K^2) exceeds its
trust threshold). For relu the exact finite-width value is known too: given layer l, G^(l+1) =
G^(l) (2/n) sum_j B_j chi^2_j with B_j ~ Bernoulli(1/2), so E[z^4] / (3 E[z^2]^2) = (1 + 5/n)^(l-1)
(Hanin & Nica 2019), drawn dashed: where it leaves the straight line, 1/n theory stops working.

    python examples/finite_width_vertex.py                        # writes finite_width_vertex.png
    python examples/finite_width_vertex.py out.png --depth 20 --widths 32 256 --networks 8000
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import sympy

import ncsym
from ncsym.checks.width_scaling import measure_layers
from ncsym.sampler import MLPSpec

PI = sympy.pi
CASES = {
    "relu, $\\sigma_w^2 = 2$": ("relu", sympy.Integer(2)),
    "tanh, $\\sigma_w^2 = 1$": ("tanh", sympy.Integer(1)),
    "relu $- 1/\\sqrt{2\\pi}$, $\\sigma_w^2 = 2\\pi/(\\pi - 1)$": ("max(x, 0) - 1/sqrt(2*pi)", 2 * PI / (PI - 1)),
}


def vertex_curves(depth: int, widths: list[int], networks: int, seed: int) -> dict:
    """Per case: theory V/K^2 by layer, and sampled values and SEs by width."""
    out = {}
    for k, (label, (expr, w2)) in enumerate(CASES.items()):
        act = ncsym.activation(expr)
        q0 = 1 / w2 if expr != "relu" else sympy.Integer(1)  # K^(1) = 1 (relu: K = 2 throughout)
        fw = ncsym.finite_width(act, depth, sigma_w2=w2, q0=q0)
        layers = list(range(1, depth + 1))
        kernel = np.array([float(fw.kernel(l).value) for l in layers])
        theory = np.array([float(fw.normalized_vertex(l).value) for l in layers])
        sampled = {}
        for j, n in enumerate(widths):
            spec = MLPSpec(input_dim=1, widths=n, depth=depth, activation=act, sigma_w2=float(w2))
            x = [[math.sqrt(float(q0))]]
            est = measure_layers(spec, x, networks, layers=layers, seed=1000 * seed + 10 * k + j)
            value = np.array([n * est[l]["fourth_cumulant"].value for l in layers]) / (3 * kernel**2)
            error = np.array([n * est[l]["fourth_cumulant"].std_error for l in layers]) / (3 * kernel**2)
            trusted = np.array([fw.trustworthy(l, n) for l in layers])
            sampled[n] = (value, error, trusted)
        out[label] = {"expr": expr, "theory": theory, "sampled": sampled, "layers": np.array(layers)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="finite_width_vertex.png", help="PNG file to write")
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--widths", type=int, nargs=2, default=[64, 256])
    parser.add_argument("--networks", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    curves = vertex_curves(args.depth, args.widths, args.networks, args.seed)
    for label, c in curves.items():
        print(f"{c['expr']}: V/K^2 by layer (theory; sampled n*kappa_4/(3K^2) ± SE at widths {args.widths})")
        for i, l in enumerate(c["layers"]):
            cells = "  ".join(f"{c['sampled'][n][0][i]:8.3f} ± {c['sampled'][n][1][i]:.3f}" for n in args.widths)
            print(f"  layer {l:>3}: {c['theory'][i]:8.3f}   {cells}")
        z = [(c["sampled"][n][0] - c["theory"]) / np.where(c["sampled"][n][1] > 0, c["sampled"][n][1], np.inf)
             for n in args.widths]
        print("  largest |z| where 1/n is trusted: "
              + ", ".join(f"width {n}: {np.max(np.abs(zz[c['sampled'][n][2]]), initial=0):.2f}"
                          for n, zz in zip(args.widths, z)))

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("finite_width_vertex: matplotlib is not installed (pip install 'ncsym[plot]'); table only.")
        return 0

    fig, axes = plt.subplots(1, len(curves), figsize=(14, 4.4))
    colors = ["C0", "C3"]
    for ax, (label, c) in zip(axes, curves.items()):
        layers = c["layers"]
        ax.plot(layers, c["theory"], "k-", lw=1.6, label=r"theory $V^{(l)}/K^{(l)2}$")
        for color, (n, (value, error, trusted)) in zip(colors, c["sampled"].items()):
            shift = 0.12 * (1 if color == colors[1] else -1)
            for keep, face, tag in ((trusted, color, ""), (~trusted, "none", ", 1/n untrusted")):
                if keep.any():
                    ax.errorbar(layers[keep] + shift, value[keep], yerr=2 * error[keep], fmt="o", ms=4,
                                color=color, mfc=face, capsize=2, label=f"width {n}{tag}")
            if c["expr"] == "relu":
                exact = n * ((1 + 5 / n) ** (layers - 1) - 1)
                ax.plot(layers, exact, "--", color=color, lw=1, label=rf"exact at $n = {n}$: $n[(1+5/n)^{{l-1}}-1]$")
        if c["expr"] != "relu" and c["expr"] != "tanh":
            ax.set_yscale("symlog", linthresh=10)  # its deep, narrow points run far above the 1/n line
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("layer $l$")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel(r"$n\,(E z^4 - 3 E[z^2]^2) / (3 K^2)$")
    fig.tight_layout()
    fig.savefig(args.output, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
