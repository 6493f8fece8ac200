"""The order-to-chaos phase diagram of a deep tanh network, with its critical line and depth scale.

Poole et al. (2016) and Schoenholz et al. (2017, Fig. 1): over (sigma_w^2, sigma_b^2), chi_1 < 1 is
the ordered phase (correlations go to 1), chi_1 > 1 the chaotic one, and the depth scale
xi_c = -1/ln chi_c over which correlations relax diverges on the critical line chi_1 = 1. The
critical line is solved point by point (ncsym.critical_point, with error bounds); the grid is a
float64 survey (ncsym.phase_data).

    python examples/phase_diagram.py                      # writes phase_diagram.png
    python examples/phase_diagram.py out.png --points 12 --act erf
"""

from __future__ import annotations

import argparse

import numpy as np

import ncsym


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="phase_diagram.png", help="PNG file to write")
    parser.add_argument("--act", default="tanh", help="activation (zoo name or expression in x)")
    parser.add_argument("--points", type=int, default=24, help="grid points per axis")
    parser.add_argument("--w-max", type=float, default=4.0, help="largest sigma_w^2")
    parser.add_argument("--b-max", type=float, default=0.3, help="largest sigma_b^2")
    parser.add_argument("--line", type=int, default=4, help="critical points solved with error bounds")
    args = parser.parse_args(argv)

    w = np.linspace(0.5, args.w_max, args.points)
    b = np.linspace(0.0, args.b_max, args.points)
    data = ncsym.phase_data(args.act, w, b, critical_sigma_b2=np.linspace(0.0, args.b_max, 2 * args.points))
    print(f"{data.activation}: ordered {int((data.chi_1 < 1).sum())}, chaotic {int((data.chi_1 > 1).sum())} "
          f"of {data.chi_1.size} grid points")
    print("critical line (certified):  " + ncsym.critical_conditions_latex())
    for value in np.linspace(0.0, args.b_max, args.line):
        point = ncsym.critical_point(args.act, float(value), dps=15)
        if point.exists:
            q = "every q" if point.q_star is None else f"{float(point.q_star):.10f}"
            print(f"  sigma_b2 = {value:.4f}: sigma_w2 = {float(point.sigma_w2):.10f} "
                  f"(± {float(point.sigma_w2.error):.1e}), q* = {q}")
        else:
            print(f"  sigma_b2 = {value:.4f}: none ({point.reason})")
    middle = len(b) // 2
    print(f"depth scale xi_c along sigma_b2 = {b[middle]:.3f}: "
          + ", ".join(f"{x:.1f}" for x in data.xi_c[:, middle][::max(1, len(w) // 8)]))
    try:
        from ncsym.outputs.plots import plot_phase_diagram

        plot_phase_diagram(data, args.output)
    except ncsym.NcsymError as exc:
        print(f"phase_diagram: {exc}; nothing drawn.")
        return 0
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
