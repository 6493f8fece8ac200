"""A LaTeX table of the activation zoo: mean, second moment, first Taylor coefficients of the dual
kernel (a_n^2), and the zero-mean independence verdict.

Exact entries are closed forms; the others carry their error bounds.

    python examples/zoo_table.py                         # print the tabular
    python examples/zoo_table.py zoo.tex --document      # a compilable LaTeX document
    python examples/zoo_table.py --acts relu tanh "max(x, 0) - 1/sqrt(2*pi)" --terms 4
"""

from __future__ import annotations

import argparse
import sys

from ncsym import activation, independence

#: The default rows: zoo members by name (each one row, in this order).
DEFAULT_ACTIVATIONS = ("relu", "abs", "step", "sign", "identity", "hard_tanh", "erf", "gelu", "tanh", "sigmoid",
                       "sin", "cos", "exp")


def table(acts, terms: int = 3, dps: int = 20) -> str:
    """The tabular, from :func:`ncsym.outputs.report.zoo_table_latex` when that is available."""
    try:
        from ncsym.outputs.report import zoo_table_latex
    except ImportError:
        zoo_table_latex = None
    if zoo_table_latex is not None:
        return zoo_table_latex(acts, terms=terms, dps=dps)
    return _own_table(acts, terms, dps)


def _own_table(acts, terms: int, dps: int) -> str:
    from ncsym import dual_kernel, gaussian_mean, gaussian_moment

    header = [r"$\sigma$", r"$\mathbb{E}[\sigma(z)]$", r"$\mathbb{E}[\sigma(z)^2]$",
              *[rf"$a_{{{n}}}^2$" for n in range(terms)], "independence"]
    lines = [r"\begin{tabular}{" + "l" * len(header) + "}", r"\hline", " & ".join(header) + r" \\", r"\hline"]
    for spec in acts:
        act = activation(spec)
        cert = independence(act, dps=dps)
        cells = [f"${act.latex()}$", f"${gaussian_mean(act, dps=dps).latex()}$",
                 f"${gaussian_moment(act, 2, dps=dps).latex()}$",
                 *[f"${b.latex()}$" for b in dual_kernel(act, dps=dps).taylor_coefficients(terms - 1)],
                 r"$\rho_\ell \to 0$" if cert.holds else ("undecided" if cert.holds is None else "no")]
        lines.append(" & ".join(cells) + r" \\")
    return "\n".join(lines + [r"\hline", r"\end{tabular}"])


def document(tabular: str) -> str:
    return "\n".join([r"\documentclass{article}", r"\usepackage{amsmath,amssymb}",
                      r"\usepackage[landscape,margin=1.5cm]{geometry}", r"\begin{document}", r"\small",
                      tabular, r"\end{document}", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", help="file to write (default: print)")
    parser.add_argument("--acts", nargs="+", default=list(DEFAULT_ACTIVATIONS),
                        help="zoo names or expressions in x, one row each")
    parser.add_argument("--terms", type=int, default=3, help="Taylor coefficients a_0^2 .. a_{terms-1}^2")
    parser.add_argument("--dps", type=int, default=20, help="digits of the numeric entries")
    parser.add_argument("--document", action="store_true", help="wrap the tabular in a LaTeX document")
    args = parser.parse_args(argv)
    text = table(args.acts, args.terms, args.dps)
    if args.document:
        text = document(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
        print(f"wrote {args.output} ({len(args.acts)} activations)")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
