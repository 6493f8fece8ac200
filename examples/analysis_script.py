"""ncsym inside an analysis script: where does the zero-mean verdict change along a family?

Family: relu shifted by a constant, sigma_c(x) = max(x, 0) + c. The script

1. derives E[sigma_c(z)] as a closed form in the symbol c and solves it for the shift c* that
   makes the activation zero-mean (exactly -1/sqrt(2 pi));
2. scans c over a grid: for each value the independence certificate (verdict, where correlations
   go, the limit rho*), the decorrelation rate C'(0) = a_1^2 / E[sigma^2] and, when the verdict
   holds, the depth needed to bring rho_0 = 0.9 below 1e-3;
3. prints a small table and optionally writes it as CSV.

The verdict holds only at c = c* (the mean must vanish exactly); on either side correlations
settle at an interior fixed point rho* > 0 that shrinks to 0 as c -> c*.

    python examples/analysis_script.py                    # print the table
    python examples/analysis_script.py scan.csv --points 9
"""

from __future__ import annotations

import argparse
import csv
import sys

import sympy

from ncsym import exact_expectation, independence
from ncsym.symbolic.activations import Activation, x

c = sympy.Symbol("c", real=True)


def family(shift: sympy.Expr) -> Activation:
    """relu shifted by ``shift`` (exact)."""
    return Activation(sympy.Max(x, 0) + shift, name=f"relu + ({shift})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", help="CSV file to write (default: print only)")
    parser.add_argument("--points", type=int, default=7, help="grid points for c in [-0.8, 0.2], plus c*")
    parser.add_argument("--dps", type=int, default=20)
    args = parser.parse_args(argv)

    mean = exact_expectation(family(c))
    roots = sympy.solve(mean, c)
    if len(roots) != 1:
        print(f"expected one zero-mean shift, found {roots}")
        return 1
    c_star = roots[0]
    print(f"E[max(z, 0) + c] = {mean};  zero-mean shift c* = {c_star} = {float(c_star):.12f}")

    grid = [sympy.Rational(-8, 10) + sympy.Rational(k, args.points - 1) for k in range(args.points)]
    shifts = sorted(set(grid) | {c_star}, key=float)
    rows = []
    for shift in shifts:
        cert = independence(family(shift), dps=args.dps)
        depth = cert.depth_to_reach(0.9, 1e-3) if cert.holds else None
        rows.append({
            "c": float(shift),
            "exact c": str(shift),
            "mean": float(mean.subs(c, shift)),
            "verdict": cert.holds,
            "behaviour": cert.behaviour,
            "limit": None if cert.limit is None else float(cert.limit.value),
            "rate": float(cert.rate.value),
            "depth to 1e-3 from 0.9": depth,
        })

    head = f"{'c':>10} {'E[sigma]':>10} {'verdict':>8} {'behaviour':>22} {'rho*':>9} {'C_prime_0':>10} {'depth':>6}"
    print(head)
    print("-" * len(head))
    for r in rows:
        limit = "-" if r["limit"] is None else f"{r['limit']:.5f}"
        depth = "-" if r["depth to 1e-3 from 0.9"] is None else str(r["depth to 1e-3 from 0.9"])
        print(f"{r['c']:>10.5f} {r['mean']:>10.5f} {str(r['verdict']):>8} {r['behaviour']:>22} {limit:>9} "
              f"{r['rate']:>10.5f} {depth:>6}")
    changes = [(a["c"], b["c"]) for a, b in zip(rows, rows[1:]) if a["verdict"] != b["verdict"]]
    print("verdict changes between c = " + "; ".join(f"{lo:.5f} and {hi:.5f}" for lo, hi in changes))

    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
