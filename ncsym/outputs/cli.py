"""The ``ncsym`` command: derive, evaluate and cross-check activations from the shell.

Subcommands (``ncsym SUBCOMMAND --help`` for each):

- ``derive ACT...``: mean, second moment, Hermite coefficients, dual kernel, independence verdict;
- ``kernel ACT --rho R...``: dual-kernel values with error bounds;
- ``check ACT... --depth D --width N --networks M``: theory against sampled networks;
- ``report ACT... -o FILE.tex``: a LaTeX document of the derivations;
- ``prove``: run the executable derivations in ``proofs/``;
- ``demo``: derive and cross-check a zero-mean and a non-zero-mean activation;
- ``zoo``: the built-in activations, by name, with their definitions;
- ``finite-width ACT --sigma-w2 W``: the 1/width corrections (kernel shift, vertex, NTK variance);
- ``critical ACT --sigma-b2 B...``: critical points (chi_1 = 1) and their q*;
- ``phase ACT --sigma-w2 GRID --sigma-b2 GRID``: the order/chaos phase diagram.

This module parses the command line and reports errors; the subcommands live in
:mod:`ncsym.outputs.cli_commands`, their shared formatting in :mod:`ncsym.outputs.cli_common`.

Global options (before or after the subcommand): ``--dps N``, ``--exact`` / ``--numeric``,
``--json``. Exit codes: 0 success; 1 a cross-check or proof failed, or a computation did not
converge; 2 bad input or usage; 3 ``--exact`` asked for a closed form that does not exist.

>>> main(["kernel", "relu", "--rho", "0", "--exact"])
k[relu](0) = 1/(2*pi)
0
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

import mpmath

from ncsym.core.errors import ActivationParseError, DomainError, NcsymError, NoClosedFormError, NotSquareIntegrableError
from ncsym.core.results import working_dps
from ncsym.outputs.cli_commands import (
    DEMO_NONZERO_MEAN, DEMO_ZERO_MEAN, cmd_check, cmd_critical, cmd_demo, cmd_derive, cmd_finite_width, cmd_kernel,
    cmd_phase, cmd_prove, cmd_report, cmd_zoo,
)
from ncsym.outputs.cli_common import EXIT_FAILED, EXIT_NO_CLOSED_FORM, EXIT_OK, EXIT_USAGE, Parser, UsageError

__all__ = ["main", "build_parser"]

#: Exit codes.


#: Errors caused by what the user typed (exit code 2).
_INPUT_ERRORS = (ActivationParseError, DomainError, NotSquareIntegrableError)

#: Activations of ``ncsym demo``: one zero-mean, one not.




# -- options ---------------------------------------------------------------------------------


def _global_options(defaults: bool) -> argparse.ArgumentParser:
    """The options every subcommand takes; only the top-level copy sets defaults, so that a
    subcommand's copy does not overwrite what was given before the subcommand."""
    unset = None if defaults else argparse.SUPPRESS
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--dps", type=int, default=unset, metavar="N",
                        help="decimal digits of precision (default: 15)")
    how = parent.add_mutually_exclusive_group()
    how.add_argument("--exact", dest="method", action="store_const", const="exact", default=unset,
                     help="closed forms only; fail (exit 3) where none exists")
    how.add_argument("--numeric", dest="method", action="store_const", const="numeric", default=unset,
                     help="moments and Hermite coefficients by quadrature, with error bounds")
    parent.add_argument("--json", action="store_true", default=False if defaults else argparse.SUPPRESS,
                        help="machine-readable output")
    parent.add_argument("--time-budget", type=float, default=unset, metavar="SECONDS",
                        help="stop the command after this many seconds (default: ncsym.get_time_budget(), 60)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ncsym`` command."""
    parser = Parser(prog="ncsym", parents=[_global_options(True)],
                     description="Exact and certified computations for wide random neural networks.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    common = [_global_options(False)]
    act_help = "activation: a zoo name (relu, tanh, gelu, ...) or an expression in x"

    p = commands.add_parser("derive", parents=common, help="derive moments, Hermite coefficients, kernel, verdict")
    p.add_argument("acts", nargs="+", metavar="ACT", help=act_help)
    p.add_argument("--terms", type=int, default=6, metavar="N", help="Hermite coefficients a_0..a_N (default 6)")

    p = commands.add_parser("kernel", parents=common, help="dual kernel values with error bounds")
    p.add_argument("act", metavar="ACT", help=act_help)
    p.add_argument("--rho", nargs="+", required=True, metavar="R", help="correlations in [-1, 1] (0.5, 1/3, ...)")
    p.add_argument("--q1", default="1", help="variance of the first input (default 1)")
    p.add_argument("--q2", default=None, help="variance of the second input (default q1)")

    p = commands.add_parser("check", parents=common, help="cross-check theory against sampled networks")
    p.add_argument("acts", nargs="+", metavar="ACT", help=act_help)
    _sampling_options(p, depth=6, width=128, networks=400)

    p = commands.add_parser("report", parents=common, help="write a LaTeX document of the derivations")
    p.add_argument("acts", nargs="+", metavar="ACT", help=act_help)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the .tex file to write ('-': stdout)")
    p.add_argument("--terms", type=int, default=6, metavar="N", help="Hermite coefficients a_0..a_N (default 6)")
    p.add_argument("--crosscheck", action="store_true", help="include a cross-check table per activation")
    _sampling_options(p, depth=4, width=64, networks=200)

    p = commands.add_parser("prove", parents=common, help="run the executable derivations in proofs/")
    p.add_argument("proof_args", nargs=argparse.REMAINDER, help="arguments passed on to the proofs runner")

    p = commands.add_parser("demo", parents=common,
                            help="derive and cross-check a zero-mean and a non-zero-mean activation")
    p.add_argument("--zero-mean", default=DEMO_ZERO_MEAN, metavar="ACT",
                   help=f"the zero-mean activation (default {DEMO_ZERO_MEAN!r})")
    p.add_argument("--nonzero-mean", default=DEMO_NONZERO_MEAN, metavar="ACT",
                   help=f"the non-zero-mean activation (default {DEMO_NONZERO_MEAN!r})")
    p.add_argument("--terms", type=int, default=4, metavar="N", help="Hermite coefficients a_0..a_N (default 4)")
    _sampling_options(p, depth=6, width=128, networks=300)

    commands.add_parser("zoo", parents=common, help="list the built-in activations with their definitions")

    p = commands.add_parser("finite-width", parents=common,
                            help="1/width corrections: kernel, four-point vertex, kernel shift, NTK variance, verdict")
    p.add_argument("act", metavar="ACT", help=act_help)
    p.add_argument("--sigma-w2", required=True, metavar="W", help="weight variance sigma_w^2 (2, 1/2, ...)")
    p.add_argument("--sigma-b2", default="0", metavar="B", help="bias variance sigma_b^2 (default 0)")
    p.add_argument("--q0", default="1", help="input |x|^2 / n_0 (default 1)")
    p.add_argument("--depth", type=int, default=10, help="layers (default 10)")
    p.add_argument("--width", type=int, default=None, help="report V/(n K^2) and the 1/n verdict at this width")
    p.add_argument("--ntk", action="store_true", help="also the NTK mean and its O(1/n) variance")
    p.add_argument("--latex", action="store_true", help="print the recursions as LaTeX")

    p = commands.add_parser("critical", parents=common, help="the edge of chaos: sigma_w^2 with chi_1 = 1, and q*")
    p.add_argument("act", metavar="ACT", help=act_help)
    p.add_argument("--sigma-b2", nargs="+", default=["0"], metavar="B", help="bias variances (default 0)")
    p.add_argument("--latex", action="store_true", help="print the conditions solved as LaTeX")

    p = commands.add_parser("phase", parents=common,
                            help="order-to-chaos phase diagram on a grid, with the critical line and xi_c")
    p.add_argument("act", metavar="ACT", help=act_help)
    p.add_argument("--sigma-w2", default="0.5:4:8", metavar="LO:HI:N", help="weight grid (default 0.5:4:8)")
    p.add_argument("--sigma-b2", default="0:0.3:4", metavar="LO:HI:N", help="bias grid (default 0:0.3:4)")
    p.add_argument("--csv", default=None, metavar="FILE", help="write every grid point to a CSV file")
    p.add_argument("--plot", default=None, metavar="FILE", help="draw the diagram to an image (matplotlib)")
    return parser


def _sampling_options(p: argparse.ArgumentParser, *, depth: int, width: int, networks: int) -> None:
    p.add_argument("--depth", type=int, default=depth, help=f"layers (default {depth})")
    p.add_argument("--width", type=int, default=width, help=f"hidden width (default {width})")
    p.add_argument("--networks", type=int, default=networks, help=f"sampled networks (default {networks})")
    p.add_argument("--rho0", type=float, nargs="+", default=[0.2, 0.5, 0.9], metavar="R",
                   help="starting correlations (default 0.2 0.5 0.9)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


# -- formatting ------------------------------------------------------------------------------


_COMMANDS = {"derive": cmd_derive, "kernel": cmd_kernel, "check": cmd_check, "report": cmd_report,
             "prove": cmd_prove, "demo": cmd_demo, "zoo": cmd_zoo, "finite-width": cmd_finite_width,
             "critical": cmd_critical, "phase": cmd_phase}


def _protect_negative_values(argv: list[str]) -> list[str]:
    """Mark values that start with '-' ('-1/3', '-x', '-relu(x)') as values, not options.

    argparse treats a token with a space as a value, so a leading space does it; the values
    are stripped again after parsing. The proofs runner gets its arguments untouched.
    """
    if "prove" in argv:
        return argv
    return [f" {a}" if a.startswith("-") and not a.startswith("--") and len(a) > 1
            and a not in ("-o", "-h") else a for a in argv]


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ncsym`` command; returns the exit code (the console script exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = sys.stdout
    try:
        args, extra = build_parser().parse_known_args(_protect_negative_values(argv))
        if extra and args.command == "prove":
            args.proof_args = list(args.proof_args) + extra  # options meant for the proofs runner
        elif extra:
            raise UsageError(f"ncsym: error: unrecognized arguments: {' '.join(extra)} (see ncsym --help)")
        if args.command is None:
            raise UsageError("ncsym: error: a command is required: " + ", ".join(_COMMANDS) + " (see ncsym --help)")
        args.method = getattr(args, "method", None) or "auto"
        for name in ("acts", "rho"):
            if hasattr(args, name):
                setattr(args, name, [v.strip() for v in getattr(args, name)])
        for name in ("act", "zero_mean", "nonzero_mean", "q1", "q2"):
            if isinstance(getattr(args, name, None), str):
                setattr(args, name, getattr(args, name).strip())
        args.dps_given = getattr(args, "dps", None) is not None
        args.dps = working_dps(getattr(args, "dps", None))
        args.json = bool(getattr(args, "json", False))
        from ncsym.core.timebound import budget_block, get_time_budget, time_budget

        budget = getattr(args, "time_budget", None)
        # the whole command is one budgeted unit: its public calls do not each get a fresh budget
        with mpmath.workdps(args.dps), time_budget(get_time_budget() if budget is None else budget), \
                budget_block(f"ncsym {args.command} (--time-budget SECONDS allows more)"):
            return _COMMANDS[args.command](args, out)
    except UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except NoClosedFormError as error:
        print(f"ncsym: no closed form: {_one_line(error)}", file=sys.stderr)
        return EXIT_NO_CLOSED_FORM
    except _INPUT_ERRORS as error:
        print(f"ncsym: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except NcsymError as error:
        print(f"ncsym: {type(error).__name__}: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("ncsym: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except SystemExit as done:  # --help and --version
        return int(done.code or 0)
    except Exception as error:  # noqa: BLE001 - a command-line tool reports, it does not dump a traceback
        if os.environ.get("NCSYM_TRACEBACK"):
            raise
        print(f"ncsym: internal error ({type(error).__name__}): {_one_line(error)} "
              "(set NCSYM_TRACEBACK=1 for details)", file=sys.stderr)
        return EXIT_FAILED


def _console() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
