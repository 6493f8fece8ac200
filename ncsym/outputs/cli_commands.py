"""The ``ncsym`` subcommands: each ``cmd_NAME(args, out)`` runs one and returns its exit code."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import sympy

from ncsym.core.errors import DomainError, NoClosedFormError
from ncsym.core.results import working_dps
from ncsym.outputs.cli_common import (
    EXIT_FAILED, EXIT_OK, Parser, UsageError, dump, json_result, nonnegative, parse_grid, parse_number, positive_count,
    show,
)

#: Activations of ``ncsym demo``: one zero-mean, one not.
DEMO_ZERO_MEAN = "relu(x) - 1/sqrt(2*pi)"


DEMO_NONZERO_MEAN = "relu"


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
    terms = nonnegative(terms, "--terms")
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


def _derive_text(d: dict, dps: int, method: str) -> str:
    act = d["activation"]
    cert = d["certificate"]
    text = lambda r: show(r, dps, method)  # noqa: E731
    fact = lambda r: show(r, dps, method, required=False)  # noqa: E731
    lines = [f"== {act.name}: sigma(x) = {act.expr}",
             f"E[sigma(z)]     = {text(d['mean'])}   [{d['mean'].method}]",
             f"E[sigma(z)^2]   = {text(d['second_moment'])}   [{d['second_moment'].method}]",
             "Hermite coefficients a_n = E[sigma(z) He_n(z)]/sqrt(n!):"]
    lines += [f"  a_{n} = {text(a)}" for n, a in enumerate(d["hermite"])]
    if d["kernel_closed_form"] is not None:
        lines.append(f"dual kernel     k(rho) = {d['kernel_closed_form']}")
    else:
        n = len(d["hermite"]) - 1
        lines.append(f"dual kernel     k(rho) = sum_n a_n^2 rho^n (Mehler); truncated after n = {n}, "
                     f"|error| <= {text(d['kernel_tail'])} for |rho| <= 1")
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
    js = lambda r: None if r is None else json_result(r, dps, method)  # noqa: E731
    fact = lambda r: None if r is None else json_result(r, dps, method, required=False)  # noqa: E731
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


def cmd_derive(args, out) -> int:
    derived = [derive(a, terms=args.terms, dps=args.dps, method=args.method) for a in args.acts]
    if args.json:
        dump({"command": "derive", "dps": args.dps, "method": args.method,
               "activations": [_derive_json(d, args.dps, args.method) for d in derived]}, out)
    else:
        print("\n\n".join(_derive_text(d, args.dps, args.method) for d in derived), file=out)
    return EXIT_OK


# -- kernel ----------------------------------------------------------------------------------


def cmd_kernel(args, out) -> int:
    from ncsym.kernels.dual import dual_kernel

    q1 = parse_number(args.q1, "--q1")
    q2 = None if args.q2 is None else parse_number(args.q2, "--q2")
    kernel = dual_kernel(args.act, q1=q1, q2=q2, dps=args.dps)
    rhos = [parse_number(r, "--rho") for r in args.rho]
    for r in rhos:
        if not -1 <= r <= 1:
            raise DomainError(f"correlation rho must lie in [-1, 1], got {r}")
    if args.method == "exact" and kernel.closed_form is None:
        raise NoClosedFormError(f"the dual kernel of {kernel.activation.name} has no closed form; drop --exact")
    if args.method == "numeric":
        rhos = [sympy.Float(r, args.dps + 10) for r in rhos]  # skips the closed form's exact evaluation
    results = [kernel.evaluate(r, dps=args.dps) for r in rhos]
    if args.json:
        dump({"command": "kernel", "activation": kernel.activation.name, "dps": args.dps,
               "q1": str(kernel.q1), "q2": str(kernel.q2),
               "closed_form": None if kernel.closed_form is None else str(kernel.closed_form),
               "values": [dict(rho=text, **json_result(r, args.dps, args.method))
                          for text, r in zip(args.rho, results)]}, out)
    else:
        for text, r in zip(args.rho, results):
            suffix = "" if args.method == "exact" else f"   [{r.method}]"
            print(f"k[{kernel.activation.name}]({text}) = {show(r, args.dps, args.method)}{suffix}", file=out)
    return EXIT_OK


# -- check -----------------------------------------------------------------------------------


def _run_checks(acts: Sequence[Any], args) -> list:
    from ncsym.checks.layerwise import crosscheck

    for value, what in ((args.depth, "--depth"), (args.width, "--width"), (args.networks, "--networks")):
        positive_count(value, what)
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


def cmd_check(args, out) -> int:
    checks = _run_checks(args.acts, args)
    if args.json:
        dump({"command": "check", "passed": all(c.passed for c in checks),
               "checks": [_check_json(c) for c in checks]}, out)
    else:
        print("\n\n".join(c.table() for c in checks), file=out)
    return EXIT_OK if all(c.passed for c in checks) else EXIT_FAILED


# -- report ----------------------------------------------------------------------------------


def cmd_report(args, out) -> int:
    from ncsym.outputs.report import derivation_report

    options = None
    if args.crosscheck:
        for value, what in ((args.depth, "--depth"), (args.width, "--width"), (args.networks, "--networks")):
            positive_count(value, what)
        options = dict(depth=args.depth, width=args.width, networks=args.networks, rho0=args.rho0, seed=args.seed)
    text = derivation_report(args.acts, dps=args.dps, terms=nonnegative(args.terms, "--terms"),
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
            dump({"command": "report", "output": args.output, "activations": list(args.acts)}, out)
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


def cmd_prove(args, out) -> int:
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
    parser = Parser(prog="ncsym prove", add_help=False)
    parser.add_argument("names", nargs="*")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dps", type=int, default=30)
    options, unknown = parser.parse_known_args(passed)
    if unknown:
        raise UsageError(f"ncsym prove: error: options not available with --json: {' '.join(unknown)}")
    outcomes = proofs.run_all(options.names or None, dps=options.dps, quick=options.quick)
    dump({"command": "prove", "passed": all(o.passed for o in outcomes),
           "proofs": [{"name": o.name, "title": o.title, "passed": o.passed, "seconds": o.seconds, "error": o.error,
                       "checks": [{"kind": c.kind, "description": c.description, "passed": c.passed,
                                   "detail": c.detail} for c in o.checks]} for o in outcomes]}, out)
    return EXIT_OK if all(o.passed for o in outcomes) else EXIT_FAILED


# -- demo ------------------------------------------------------------------------------------


def cmd_demo(args, out) -> int:
    acts = [args.zero_mean, args.nonzero_mean]
    derived = [derive(a, terms=args.terms, dps=args.dps, method=args.method) for a in acts]
    checks = _run_checks(acts, args)
    if args.json:
        dump({"command": "demo", "activations": [_derive_json(d, args.dps, args.method) for d in derived],
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


def cmd_zoo(args, out) -> int:
    from ncsym.symbolic import zoo

    rows = []
    for name in zoo.names():
        act = zoo.by_name(name)  # a family with its default parameters
        rows.append({"name": name, "family": zoo.is_family(name), "example": act.name, "expression": str(act.expr)})
    if args.json:
        dump({"command": "zoo", "activations": rows}, out)
        return EXIT_OK
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        shown = f"{r['example']}: {r['expression']}" if r["family"] else r["expression"]
        print(f"{r['name']:<{width}}  {'family' if r['family'] else '      '}  {shown}", file=out)
    return EXIT_OK


# -- entry point -----------------------------------------------------------------------------

# -- finite-width ----------------------------------------------------------------------------


def cmd_finite_width(args, out) -> int:
    from ncsym.width_corrections import finite_width, ntk_fluctuations

    depth = positive_count(args.depth, "--depth")
    width = None if args.width is None else positive_count(args.width, "--width")
    params = {"sigma_w2": parse_number(args.sigma_w2, "--sigma-w2"), "sigma_b2": parse_number(args.sigma_b2, "--sigma-b2"),
              "q0": parse_number(args.q0, "--q0")}
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
            entry = {k: (v if k == "layer" else json_result(v, args.dps, args.method)) for k, v in row.items()}
            if width is not None:
                entry.update(effective_ratio=theory.effective_ratio(row["layer"], width),
                             trustworthy=theory.trustworthy(row["layer"], width))
            layers.append(entry)
        dump({"command": "finite-width", "activation": theory.activation.name, "depth": depth, "width": width,
               **{k: str(v) for k, v in params.items()}, "layers": layers,
               "latex": theory.latex() if args.latex else None}, out)
        return EXIT_OK
    print(f"== {theory.activation.name}: sigma_w^2 = {params['sigma_w2']}, sigma_b^2 = {params['sigma_b2']}, "
          f"q0 = {params['q0']}; E[z^2] = K + K1/n, E[z^4] - 3 E[z^2]^2 = 3 V/n"
          + ("; Var[Theta] = A/n" if ntk is not None else ""), file=out)
    for row in rows:
        l = row.pop("layer")
        text = "  ".join(f"{k} = {show(v, args.dps, args.method)}" for k, v in row.items())
        if width is not None:
            text += f"  | {theory.verdict(l, width)}"
        print(f"layer {l}: {text}", file=out)
    if args.latex:
        print(theory.latex(), file=out)
        if ntk is not None:
            print(ntk.latex(), file=out)
    return EXIT_OK


def cmd_critical(args, out) -> int:
    from ncsym.depth.critical import critical_conditions_latex, critical_point

    points = [critical_point(args.act, parse_number(b, "--sigma-b2"), dps=args.dps) for b in args.sigma_b2]
    if args.json:
        dump({"command": "critical", "activation": points[0].activation,
               "conditions": critical_conditions_latex(),
               "points": [{"sigma_b2": str(p.sigma_b2.exact), "status": p.status, "reason": p.reason,
                           "sigma_w2": None if p.sigma_w2 is None else json_result(p.sigma_w2, args.dps, args.method),
                           "q_star": None if p.q_star is None else json_result(p.q_star, args.dps, args.method)}
                          for p in points]}, out)
        return EXIT_OK
    print(f"== {points[0].activation}: chi_1 = sigma_w^2 E[sigma'(sqrt(q*) z)^2] = 1 with "
          "q* = sigma_w^2 E[sigma(sqrt(q*) z)^2] + sigma_b^2", file=out)
    for p in points:
        if p.sigma_w2 is None:
            print(f"sigma_b^2 = {p.sigma_b2.exact}: no critical point ({p.reason})", file=out)
            continue
        q = "every q is fixed" if p.q_star is None else show(p.q_star, args.dps, args.method)
        extra = f"  [{len(p.points)} critical points]" if p.status == "several" else ""
        print(f"sigma_b^2 = {p.sigma_b2.exact}: sigma_w^2 = {show(p.sigma_w2, args.dps, args.method)}, "
              f"q* = {q}{extra}", file=out)
    if args.latex:
        for p in points:
            print(p.latex(), file=out)
    return EXIT_OK


def cmd_phase(args, out) -> int:
    from ncsym.depth.phases import phase_data

    w, b = parse_grid(args.sigma_w2, "--sigma-w2"), parse_grid(args.sigma_b2, "--sigma-b2")
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
        dump({"command": "phase", "activation": data.activation, "rows": rows,
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
