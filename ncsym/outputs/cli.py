"""The ``ncsym`` command: derive, evaluate and cross-check activations from the shell.

Subcommands (``ncsym SUBCOMMAND --help`` for each):

- ``derive ACT...``: mean, second moment, Hermite coefficients, dual kernel, independence verdict;
- ``kernel ACT --rho R...``: dual-kernel values with error bounds;
- ``check ACT... --depth D --width N --networks M``: theory against sampled networks;
- ``report ACT... -o FILE.tex``: a LaTeX document of the derivations;
- ``prove``: run the executable derivations in ``proofs/``;
- ``demo``: derive and cross-check a zero-mean and a non-zero-mean activation;
- ``zoo``: the built-in activations, by name, with their definitions.

Global options (before or after the subcommand): ``--dps N``, ``--exact`` / ``--numeric``,
``--json``. Exit codes: 0 success; 1 a cross-check or proof failed, or a computation did not
converge; 2 bad input or usage; 3 ``--exact`` asked for a closed form that does not exist.

>>> main(["kernel", "relu", "--rho", "0", "--exact"])
k[relu](0) = 1/(2*pi)
0
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import mpmath
import sympy

from ncsym.core.errors import (
    ActivationParseError, DomainError, NcsymError, NoClosedFormError, NotSquareIntegrableError,
)
from ncsym.core.results import Result, working_dps

__all__ = ["main", "build_parser"]

#: Exit codes.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_CLOSED_FORM = 0, 1, 2, 3

#: Errors caused by what the user typed (exit code 2).
_INPUT_ERRORS = (ActivationParseError, DomainError, NotSquareIntegrableError)

#: Activations of ``ncsym demo``: one zero-mean, one not.
DEMO_ZERO_MEAN = "relu(x) - 1/sqrt(2*pi)"
DEMO_NONZERO_MEAN = "relu"


class UsageError(Exception):
    """A command-line usage error (reported on one line, exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and an exception instead of an exit."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


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
    parser = _Parser(prog="ncsym", parents=[_global_options(True)],
                     description="Exact and certified computations for wide random neural networks.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
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

def _correct_digits(result: Result, dps: int) -> int:
    """Significant digits of the value that its error bound vouches for (at most dps)."""
    if result.error == 0:
        return dps
    if result.value == 0:
        return 1
    digits = int(mpmath.floor(mpmath.log10(abs(result.value)) - mpmath.log10(result.error)))
    return max(1, min(dps, digits))


def _show(result: Result, dps: int, method: str, *, required: bool = True) -> str:
    """One Result as text: the closed form (and its value unless --exact), or value +- error.

    Under --exact a numeric result is an error when ``required`` (it was asked for), else it
    is shown as having no closed form, never as a number.
    """
    if result.exact is None and method == "exact" and not required:
        return "(no closed form)"
    if result.exact is not None:
        if method == "exact" or result.exact.is_Integer or result.exact.is_Rational or result.exact.is_infinite:
            return str(result.exact)
        return f"{result.exact} = {mpmath.nstr(result.value, dps)}"
    if method == "exact":
        raise NoClosedFormError(f"{result.label or 'a requested quantity'} has no closed form "
                                f"(obtained by {result.method}); drop --exact for a value with an error bound")
    return f"{mpmath.nstr(result.value, _correct_digits(result, dps))} +- {mpmath.nstr(result.error, 2)}"


def _json_result(result: Result, dps: int, method: str, *, required: bool = True) -> dict:
    """One Result as JSON: exact expression and LaTeX as strings, value and error as strings.

    Under --exact a numeric result raises when ``required``, else its value is left out (null).
    """
    if method == "exact" and result.exact is None:
        if required:
            _show(result, dps, method)  # raises NoClosedFormError
        return {"label": result.label, "exact": None, "latex": None, "value": None, "error": None,
                "method": result.method}
    if method == "exact":  # closed forms only: no decimal value next to them
        return {"label": result.label, "exact": str(result.exact), "latex": result.latex(), "value": None,
                "error": None, "method": result.method}
    return {
        "label": result.label,
        "exact": None if result.exact is None else str(result.exact),
        "latex": result.latex(),
        "value": mpmath.nstr(result.value, dps),
        "error": mpmath.nstr(result.error, 3),
        "method": result.method,
    }


def _parse_number(text: str, what: str) -> sympy.Expr:
    """A command-line number read exactly: '0.5' -> 1/2, '1/3', 'sqrt(2)/2' (by the whitelisted parser)."""
    from ncsym.symbolic.parse import parse_expression

    try:
        value = parse_expression(text, allow_variable=False)
    except ActivationParseError as exc:
        reason = str(exc).splitlines()[0]
        raise DomainError(f"{what} must be a real number, got {text[:60]!r}: {reason}") from None
    if not (value.is_number and value.is_real and value.is_finite):
        raise DomainError(f"{what} must be a finite real number, got {text!r}")
    return value


def _positive_count(value: int, what: str) -> int:
    if value < 1:
        raise DomainError(f"{what} must be a positive integer, got {value}")
    return value


# -- derive ----------------------------------------------------------------------------------

def derive(spec: Any, *, terms: int = 6, dps: int | None = None, method: str = "auto") -> dict:
    """The derivations of one activation as a dict of Results and facts (used by derive/demo).

    >>> d = derive("relu", terms=2)
    >>> d["mean"].exact, d["second_moment"].exact, [a.exact for a in d["hermite"]]
    (sqrt(2)/(2*sqrt(pi)), 1/2, [sqrt(2)/(2*sqrt(pi)), 1/2, 1/(2*sqrt(pi))])
    """
    from ncsym.symbolic.activations import activation
    from ncsym.gaussian.moments import gaussian_mean, gaussian_moment
    from ncsym.hermite_series.coefficients import hermite_coefficients, parseval_tail
    from ncsym.kernels.dual import dual_kernel
    from ncsym.depth.independence_theorem import independence

    act = activation(spec)
    dps = working_dps(dps)
    terms = _nonnegative(terms, "--terms")
    certificate = independence(act, dps=dps)
    mean = gaussian_mean(act, method=method, dps=dps)
    if mean.exact is None and certificate.mean.exact is not None and method != "numeric":
        mean = certificate.mean  # zero by symmetry: an exact proof beats a numeric zero
    second = gaussian_moment(act, 2, method=method, dps=dps)
    hermite = hermite_coefficients(act, terms, method=method, dps=dps)
    kernel = dual_kernel(act, dps=dps)
    closed = None if method == "numeric" else kernel.closed_form
    if closed is None and method == "exact":
        raise NoClosedFormError(f"the dual kernel of {act.name} has no closed form; drop --exact for its series")
    tail = None if closed is not None else parseval_tail(act, terms, dps=dps)
    cmap = certificate.correlation_map
    return {
        "activation": act, "mean": mean, "second_moment": second, "hermite": hermite,
        "kernel": kernel, "kernel_closed_form": closed, "kernel_tail": tail,
        "certificate": certificate,
        "C0": cmap.value_at_zero, "C1_slope": cmap.slope_at_one, "fixed_points": cmap.fixed_points(dps),
    }


def _nonnegative(value: int, what: str) -> int:
    if value < 0:
        raise DomainError(f"{what} must be a non-negative integer, got {value}")
    return value


def _derive_text(d: dict, dps: int, method: str) -> str:
    act = d["activation"]
    cert = d["certificate"]
    show = lambda r: _show(r, dps, method)  # noqa: E731
    fact = lambda r: _show(r, dps, method, required=False)  # noqa: E731
    lines = [f"== {act.name}: sigma(x) = {act.expr}",
             f"E[sigma(z)]     = {show(d['mean'])}   [{d['mean'].method}]",
             f"E[sigma(z)^2]   = {show(d['second_moment'])}   [{d['second_moment'].method}]",
             "Hermite coefficients a_n = E[sigma(z) He_n(z)]/sqrt(n!):"]
    lines += [f"  a_{n} = {show(a)}" for n, a in enumerate(d["hermite"])]
    if d["kernel_closed_form"] is not None:
        lines.append(f"dual kernel     k(rho) = {d['kernel_closed_form']}")
    else:
        n = len(d["hermite"]) - 1
        lines.append(f"dual kernel     k(rho) = sum_n a_n^2 rho^n (Mehler); truncated after n = {n}, "
                     f"|error| <= {show(d['kernel_tail'])} for |rho| <= 1")
    lines.append(f"C(0)  = {fact(d['C0'])},  C'(1) = {fact(d['C1_slope'])}")
    points = ", ".join(f"{fact(fp.value)} ({fp.stability})" for fp in d["fixed_points"])
    lines.append(f"fixed points of C: {points}")
    verdict = {True: "YES, correlations vanish with depth", False: "NO", None: "UNDECIDED"}[cert.holds]
    lines.append(f"independence: {verdict} ({cert.behaviour}; {cert.reason})")
    lines.append(f"  E[sigma] = 0: {cert.mean_is_zero} ({cert.mean_argument}); "
                 f"nonlinear: {cert.nonlinear} ({cert.nonlinear_argument})")
    if cert.holds:
        lines.append(f"  asymptotic rate C'(0) = {fact(cert.rate)}")
    elif cert.limit is not None:
        lines.append(f"  rho_l -> {fact(cert.limit)}")
    return "\n".join(lines)


def _derive_json(d: dict, dps: int, method: str) -> dict:
    act, cert = d["activation"], d["certificate"]
    js = lambda r: None if r is None else _json_result(r, dps, method)  # noqa: E731
    fact = lambda r: None if r is None else _json_result(r, dps, method, required=False)  # noqa: E731
    return {
        "activation": act.name, "expression": str(act.expr), "latex": act.latex(),
        "mean": js(d["mean"]), "second_moment": js(d["second_moment"]),
        "hermite": [js(a) for a in d["hermite"]],
        "kernel": {"closed_form": None if d["kernel_closed_form"] is None else str(d["kernel_closed_form"]),
                   "latex": d["kernel"].latex(), "series_tail_bound": js(d["kernel_tail"])},
        "correlation_map": {"C(0)": fact(d["C0"]), "C'(1)": fact(d["C1_slope"]),
                            "fixed_points": [{"value": fact(fp.value), "slope": fact(fp.slope),
                                              "stability": fp.stability} for fp in d["fixed_points"]]},
        "independence": {"holds": cert.holds, "behaviour": cert.behaviour, "reason": cert.reason,
                         "mean_is_zero": cert.mean_is_zero, "nonlinear": cert.nonlinear,
                         "rate": fact(cert.rate), "limit": fact(cert.limit)},
    }


def _cmd_derive(args, out) -> int:
    derived = [derive(a, terms=args.terms, dps=args.dps, method=args.method) for a in args.acts]
    if args.json:
        _dump({"command": "derive", "dps": args.dps, "method": args.method,
               "activations": [_derive_json(d, args.dps, args.method) for d in derived]}, out)
    else:
        print("\n\n".join(_derive_text(d, args.dps, args.method) for d in derived), file=out)
    return EXIT_OK


# -- kernel ----------------------------------------------------------------------------------

def _cmd_kernel(args, out) -> int:
    from ncsym.kernels.dual import dual_kernel

    q1 = _parse_number(args.q1, "--q1")
    q2 = None if args.q2 is None else _parse_number(args.q2, "--q2")
    kernel = dual_kernel(args.act, q1=q1, q2=q2, dps=args.dps)
    rhos = [_parse_number(r, "--rho") for r in args.rho]
    for r in rhos:
        if not -1 <= r <= 1:
            raise DomainError(f"correlation rho must lie in [-1, 1], got {r}")
    if args.method == "exact" and kernel.closed_form is None:
        raise NoClosedFormError(f"the dual kernel of {kernel.activation.name} has no closed form; drop --exact")
    if args.method == "numeric":
        rhos = [sympy.Float(r, args.dps + 10) for r in rhos]  # skips the closed form's exact evaluation
    results = [kernel.evaluate(r, dps=args.dps) for r in rhos]
    if args.json:
        _dump({"command": "kernel", "activation": kernel.activation.name, "dps": args.dps,
               "q1": str(kernel.q1), "q2": str(kernel.q2),
               "closed_form": None if kernel.closed_form is None else str(kernel.closed_form),
               "values": [dict(rho=text, **_json_result(r, args.dps, args.method))
                          for text, r in zip(args.rho, results)]}, out)
    else:
        for text, r in zip(args.rho, results):
            suffix = "" if args.method == "exact" else f"   [{r.method}]"
            print(f"k[{kernel.activation.name}]({text}) = {_show(r, args.dps, args.method)}{suffix}", file=out)
    return EXIT_OK


# -- check -----------------------------------------------------------------------------------

def _run_checks(acts: Sequence[Any], args) -> list:
    from ncsym.checks.layerwise import crosscheck

    for value, what in ((args.depth, "--depth"), (args.width, "--width"), (args.networks, "--networks")):
        _positive_count(value, what)
    return [crosscheck(a, depth=args.depth, width=args.width, networks=args.networks, rho0=args.rho0,
                       seed=args.seed) for a in acts]


def _check_json(check) -> dict:
    return {
        "activation": check.activation.name, "passed": check.passed, "verdict": check.verdict,
        "width": check.width, "depth": check.depth, "networks": check.networks,
        "sigma_w2": check.sigma_w2, "sigma_b2": check.sigma_b2, "seed": check.seed,
        "rows": [{"layer": r.layer, "quantity": r.quantity, "rho0": r.rho0, "theory": r.theory, "bias": r.bias,
                  "estimate": r.estimate, "std_error": r.std_error, "tolerance": r.tolerance,
                  "z": r.z_corrected, "agrees": r.agrees} for r in check.rows],
    }


def _cmd_check(args, out) -> int:
    checks = _run_checks(args.acts, args)
    if args.json:
        _dump({"command": "check", "passed": all(c.passed for c in checks),
               "checks": [_check_json(c) for c in checks]}, out)
    else:
        print("\n\n".join(c.table() for c in checks), file=out)
    return EXIT_OK if all(c.passed for c in checks) else EXIT_FAILED


# -- report ----------------------------------------------------------------------------------

def _cmd_report(args, out) -> int:
    from ncsym.outputs.report import derivation_report

    options = None
    if args.crosscheck:
        for value, what in ((args.depth, "--depth"), (args.width, "--width"), (args.networks, "--networks")):
            _positive_count(value, what)
        options = dict(depth=args.depth, width=args.width, networks=args.networks, rho0=args.rho0, seed=args.seed)
    text = derivation_report(args.acts, dps=args.dps, terms=_nonnegative(args.terms, "--terms"),
                             include_crosscheck=args.crosscheck, crosscheck_options=options,
                             exact_only=args.method == "exact")
    if args.output == "-":
        out.write(text)
    else:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise DomainError(f"cannot write {args.output}: {error.strerror or error}") from None
        if args.json:
            _dump({"command": "report", "output": args.output, "activations": list(args.acts)}, out)
        else:
            print(f"wrote {args.output} ({len(args.acts)} activation{'s' * (len(args.acts) != 1)})", file=out)
    return EXIT_OK


# -- prove -----------------------------------------------------------------------------------

def _proofs_root() -> Path | None:
    """The directory holding the ``proofs`` package: the current one, or the source checkout."""
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent.parent):
        if (root / "proofs" / "__init__.py").is_file():
            return root
    return None


def _proofs_package() -> Any:
    """The proofs: ``ncsym.proofs`` as installed with the package, else ``proofs/`` of a checkout."""
    try:
        return importlib.import_module("ncsym.proofs")
    except ImportError:
        pass
    root = _proofs_root()
    if root is None:
        raise UsageError("ncsym prove: error: no proofs package found (neither ncsym.proofs nor a proofs/ "
                         "directory); reinstall ncsym or run it from the ncsym repository root")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("proofs")


def _cmd_prove(args, out) -> int:
    proofs = _proofs_package()
    passed = [a for a in args.proof_args if a != "--"]
    if "--json" in passed:  # a global option written after the proof names
        passed = [a for a in passed if a != "--json"]
        args.json = True
    if args.dps_given and "--dps" not in passed:
        passed += ["--dps", str(args.dps)]
    if args.json and callable(getattr(proofs, "run_all", None)):
        return _prove_json(proofs, passed, out)
    runner = getattr(proofs, "main", None)
    if callable(runner):
        with contextlib.redirect_stdout(out):
            code = runner(passed)
        return int(code or 0)
    # No in-process entry point: run the package as a script with the same arguments.
    completed = subprocess.run([sys.executable, "-m", proofs.__name__, *passed], capture_output=True, text=True)
    out.write(completed.stdout)
    sys.stderr.write(completed.stderr)
    return completed.returncode


def _prove_json(proofs: Any, passed: list[str], out) -> int:
    parser = _Parser(prog="ncsym prove", add_help=False)
    parser.add_argument("names", nargs="*")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dps", type=int, default=30)
    options, unknown = parser.parse_known_args(passed)
    if unknown:
        raise UsageError(f"ncsym prove: error: options not available with --json: {' '.join(unknown)}")
    outcomes = proofs.run_all(options.names or None, dps=options.dps, quick=options.quick)
    _dump({"command": "prove", "passed": all(o.passed for o in outcomes),
           "proofs": [{"name": o.name, "title": o.title, "passed": o.passed, "seconds": o.seconds, "error": o.error,
                       "checks": [{"kind": c.kind, "description": c.description, "passed": c.passed,
                                   "detail": c.detail} for c in o.checks]} for o in outcomes]}, out)
    return EXIT_OK if all(o.passed for o in outcomes) else EXIT_FAILED


# -- demo ------------------------------------------------------------------------------------

def _cmd_demo(args, out) -> int:
    acts = [args.zero_mean, args.nonzero_mean]
    derived = [derive(a, terms=args.terms, dps=args.dps, method=args.method) for a in acts]
    checks = _run_checks(acts, args)
    if args.json:
        _dump({"command": "demo", "activations": [_derive_json(d, args.dps, args.method) for d in derived],
               "checks": [_check_json(c) for c in checks], "passed": all(c.passed for c in checks)}, out)
        return EXIT_OK if all(c.passed for c in checks) else EXIT_FAILED
    print("ncsym demo: the zero-mean independence theorem, derived and checked against sampled networks.\n"
          "A zero-mean nonlinear activation decorrelates inputs with depth (rho_l -> 0); one with\n"
          "E[sigma] != 0 does not (C(0) > 0). Theory is compared layer by layer with finite networks.\n", file=out)
    for d, check in zip(derived, checks):
        print(_derive_text(d, args.dps, args.method), file=out)
        print("", file=out)
        print(check.table(), file=out)
        print("", file=out)
    verdicts = [f"{d['activation'].name}: {'decorrelates' if d['certificate'].holds else d['certificate'].behaviour}"
                for d in derived]
    print("summary: " + "; ".join(verdicts) + "; cross-checks "
          + ("all consistent" if all(c.passed for c in checks) else "FAILED"), file=out)
    return EXIT_OK if all(c.passed for c in checks) else EXIT_FAILED


# -- zoo -------------------------------------------------------------------------------------

def _cmd_zoo(args, out) -> int:
    from ncsym.symbolic import zoo

    rows = []
    for name in zoo.names():
        act = zoo.by_name(name)  # a family with its default parameters
        rows.append({"name": name, "family": zoo.is_family(name), "example": act.name, "expression": str(act.expr)})
    if args.json:
        _dump({"command": "zoo", "activations": rows}, out)
        return EXIT_OK
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        shown = f"{r['example']}: {r['expression']}" if r["family"] else r["expression"]
        print(f"{r['name']:<{width}}  {'family' if r['family'] else '      '}  {shown}", file=out)
    return EXIT_OK


# -- entry point -----------------------------------------------------------------------------

# -- finite-width ----------------------------------------------------------------------------

def _cmd_finite_width(args, out) -> int:
    from ncsym.width_corrections import finite_width, ntk_fluctuations

    depth = _positive_count(args.depth, "--depth")
    width = None if args.width is None else _positive_count(args.width, "--width")
    params = {"sigma_w2": _parse_number(args.sigma_w2, "--sigma-w2"), "sigma_b2": _parse_number(args.sigma_b2, "--sigma-b2"),
              "q0": _parse_number(args.q0, "--q0")}
    theory = finite_width(args.act.strip(), depth, dps=args.dps, **params)
    ntk = ntk_fluctuations(theory.activation, depth, dps=args.dps, **params) if args.ntk else None
    rows = []
    for l in range(1, depth + 1):
        row = {"layer": l, "K": theory.kernel(l), "V": theory.vertex(l), "K1": theory.kernel_correction(l)}
        if ntk is not None:
            row.update(Theta=ntk.mean(l), A=ntk.variance(l))
        rows.append(row)
    if args.json:
        layers = []
        for row in rows:
            entry = {k: (v if k == "layer" else _json_result(v, args.dps, args.method)) for k, v in row.items()}
            if width is not None:
                entry.update(effective_ratio=theory.effective_ratio(row["layer"], width),
                             trustworthy=theory.trustworthy(row["layer"], width))
            layers.append(entry)
        _dump({"command": "finite-width", "activation": theory.activation.name, "depth": depth, "width": width,
               **{k: str(v) for k, v in params.items()}, "layers": layers,
               "latex": theory.latex() if args.latex else None}, out)
        return EXIT_OK
    print(f"== {theory.activation.name}: sigma_w^2 = {params['sigma_w2']}, sigma_b^2 = {params['sigma_b2']}, "
          f"q0 = {params['q0']}; E[z^2] = K + K1/n, E[z^4] - 3 E[z^2]^2 = 3 V/n"
          + ("; Var[Theta] = A/n" if ntk is not None else ""), file=out)
    for row in rows:
        l = row.pop("layer")
        text = "  ".join(f"{k} = {_show(v, args.dps, args.method)}" for k, v in row.items())
        if width is not None:
            text += f"  | {theory.verdict(l, width)}"
        print(f"layer {l}: {text}", file=out)
    if args.latex:
        print(theory.latex(), file=out)
        if ntk is not None:
            print(ntk.latex(), file=out)
    return EXIT_OK


def _cmd_critical(args, out) -> int:
    from ncsym.depth.critical import critical_conditions_latex, critical_point

    points = [critical_point(args.act, _parse_number(b, "--sigma-b2"), dps=args.dps) for b in args.sigma_b2]
    if args.json:
        _dump({"command": "critical", "activation": points[0].activation,
               "conditions": critical_conditions_latex(),
               "points": [{"sigma_b2": str(p.sigma_b2.exact), "status": p.status, "reason": p.reason,
                           "sigma_w2": None if p.sigma_w2 is None else _json_result(p.sigma_w2, args.dps, args.method),
                           "q_star": None if p.q_star is None else _json_result(p.q_star, args.dps, args.method)}
                          for p in points]}, out)
        return EXIT_OK
    print(f"== {points[0].activation}: chi_1 = sigma_w^2 E[sigma'(sqrt(q*) z)^2] = 1 with "
          "q* = sigma_w^2 E[sigma(sqrt(q*) z)^2] + sigma_b^2", file=out)
    for p in points:
        if p.sigma_w2 is None:
            print(f"sigma_b^2 = {p.sigma_b2.exact}: no critical point ({p.reason})", file=out)
            continue
        q = "every q is fixed" if p.q_star is None else _show(p.q_star, args.dps, args.method)
        extra = f"  [{len(p.points)} critical points]" if p.status == "several" else ""
        print(f"sigma_b^2 = {p.sigma_b2.exact}: sigma_w^2 = {_show(p.sigma_w2, args.dps, args.method)}, "
              f"q* = {q}{extra}", file=out)
    if args.latex:
        for p in points:
            print(p.latex(), file=out)
    return EXIT_OK


def _parse_grid(text: str, what: str) -> list[float]:
    """'lo:hi:n' -> n evenly spaced floats (numbers through the whitelisted parser)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise DomainError(f"{what} must look like LO:HI:N (e.g. 0.5:4:8), got {text[:60]!r}")
    lo, hi = (float(_parse_number(v, what)) for v in parts[:2])
    try:
        count = int(parts[2])
    except ValueError:
        raise DomainError(f"{what}: N must be an integer, got {parts[2][:20]!r}") from None
    if not 2 <= count <= 200 or not lo < hi:
        raise DomainError(f"{what} needs LO < HI and 2 <= N <= 200, got {text[:60]!r}")
    return [lo + (hi - lo) * i / (count - 1) for i in range(count)]


def _cmd_phase(args, out) -> int:
    from ncsym.depth.phases import phase_data

    w, b = _parse_grid(args.sigma_w2, "--sigma-w2"), _parse_grid(args.sigma_b2, "--sigma-b2")
    data = phase_data(args.act, w, b)
    if args.csv:
        import csv

        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(data.rows()[0]))
            writer.writeheader()
            writer.writerows(data.rows())
    if args.plot:
        from ncsym.outputs.plots import plot_phase_diagram

        plot_phase_diagram(data, args.plot)
    line = [{"sigma_b2": float(v), "sigma_w2": float(c)} for v, c in zip(data.critical_sigma_b2, data.critical_sigma_w2)]
    if args.json:
        finite = lambda v: v if not isinstance(v, float) or v == v and abs(v) != float("inf") else None  # noqa: E731
        rows = [{k: finite(v) for k, v in row.items()} for row in data.rows()]
        _dump({"command": "phase", "activation": data.activation, "rows": rows,
               "critical_line": [{k: finite(v) for k, v in row.items()} for row in line]}, out)
        return EXIT_OK
    marks = {"ordered": "o", "critical": "|", "chaotic": "#", "diverges": "."}
    print(f"== {data.activation}: o ordered (chi_1 < 1), # chaotic (chi_1 > 1), | critical, . variance diverges",
          file=out)
    for j in reversed(range(len(b))):
        print(f"sigma_b^2 = {b[j]:8.4f}  " + "".join(marks[p] for p in data.phase[:, j]), file=out)
    print(" " * 22 + f"sigma_w^2 from {w[0]:g} to {w[-1]:g}", file=out)
    for row in line:
        value = "none" if row["sigma_w2"] != row["sigma_w2"] else f"{row['sigma_w2']:.6f}"
        print(f"critical sigma_w^2 at sigma_b^2 = {row['sigma_b2']:.4f}: {value}", file=out)
    return EXIT_OK


_COMMANDS = {"derive": _cmd_derive, "kernel": _cmd_kernel, "check": _cmd_check, "report": _cmd_report,
             "prove": _cmd_prove, "demo": _cmd_demo, "zoo": _cmd_zoo, "finite-width": _cmd_finite_width,
             "critical": _cmd_critical, "phase": _cmd_phase}


def _dump(data: Any, out) -> None:
    json.dump(data, out, indent=2)
    out.write("\n")


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
