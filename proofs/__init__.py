"""Executable derivations: one module per claim, each proved exactly where it can be and checked
to high precision and against sampled networks where it cannot.

Every claim module defines ``NAME``, ``TITLE``, ``STATEMENT`` (plain text), ``STATEMENT_LATEX``
and ``run(ctx: Context) -> None``, which records its checks on ``ctx``:

- ``ctx.exact(description, difference)``: a sympy expression that must simplify to 0
  (or ``ctx.exact_equal(description, left, right)``);
- ``ctx.numeric(description, value, reference, bound)``: |value - reference| <= bound, at
  ``ctx.dps`` digits (the bound is the computed error bound plus the reference's);
- ``ctx.sampler(description, estimate, theory, std_error, allowance=0, z=5)``:
  |estimate - theory| <= z SE + allowance (fixed seeds);
- ``ctx.require(kind, description, ok, detail)``: any other decided statement.

:func:`run_all` runs them (``quick`` keeps the whole set to seconds) and :func:`to_latex`
writes the outcomes as one LaTeX document.

>>> outcomes = run_all(["gelu_mean"], dps=20, quick=True)
>>> [(o.name, o.passed) for o in outcomes]
[('gelu_mean', True)]
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import mpmath
import sympy

__all__ = ["Check", "ProofOutcome", "Context", "Proof", "PROOF_MODULES", "available", "register", "unregister",
           "is_zero", "latex_escape", "run_all", "run_one", "format_table", "to_latex", "main"]

#: The claim modules, in the order they are run and reported.
PROOF_MODULES = ("mehler", "relu_arccos", "kernel_at_zero", "gelu_mean", "independence", "sde_drift",
                 "deq_fixed_point", "nnpk_limit", "coincidence_baseline", "deq_limits", "sde_distribution",
                 "vertex_scale_invariant", "vertex_k_star_zero", "independence_general", "nnpk_digits",
                 "coincidence_finite_width", "deq_properties")

#: Seconds a single symbolic simplification may take before it counts as undecided (a failure).
SIMPLIFY_SECONDS = 20.0


@dataclass(frozen=True)
class Check:
    """One verified statement: ``kind`` is "exact", "numeric" or "sampler"."""

    kind: str
    description: str
    passed: bool
    detail: str = ""
    formula: str = ""  # LaTeX math (no delimiters): the identity or closed form the check is about


@dataclass
class ProofOutcome:
    """The result of running one claim: its statement, its checks, the time taken and any error."""

    name: str
    title: str
    statement: str
    statement_latex: str
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    skipped: str | None = None  # why the claim could not run here (a missing optional package)

    @property
    def passed(self) -> bool:
        """True when the claim ran to the end, recorded at least one check and every check passed."""
        return self.error is None and self.skipped is None and bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def status(self) -> str:
        """"PASS", "FAIL" or "SKIP"."""
        return "SKIP" if self.skipped is not None else "PASS" if self.passed else "FAIL"

    def counts(self) -> dict[str, tuple[int, int]]:
        """{kind: (passed, total)} over the checks."""
        out: dict[str, tuple[int, int]] = {}
        for c in self.checks:
            ok, total = out.get(c.kind, (0, 0))
            out[c.kind] = (ok + c.passed, total + 1)
        return out


class Context:
    """What a claim module records its checks on, with the precision and mode of the run."""

    def __init__(self, dps: int, quick: bool):
        self.dps = int(dps)
        self.quick = bool(quick)
        self.checks: list[Check] = []

    def require(self, kind: str, description: str, ok: Any, detail: str = "", *, formula: str = "") -> bool:
        if kind not in ("exact", "numeric", "sampler"):
            raise ValueError(f"unknown check kind {kind!r}")
        passed = bool(ok)
        self.checks.append(Check(kind, description, passed, detail, formula))
        return passed

    def exact(self, description: str, difference: Any, *, formula: str = "") -> bool:
        """Record that the sympy expression ``difference`` is identically 0."""
        zero = is_zero(difference)
        detail = "simplifies to 0" if zero else f"difference does not simplify to 0: {sympy.sstr(difference)[:200]}"
        return self.require("exact", description, zero, detail, formula=formula)

    def exact_equal(self, description: str, left: Any, right: Any) -> bool:
        """Record left = right exactly; the LaTeX report shows the identity."""
        left, right = sympy.sympify(left), sympy.sympify(right)
        return self.exact(description, left - right, formula=f"{sympy.latex(left)} = {sympy.latex(right)}")

    def numeric(self, description: str, value: Any, reference: Any, bound: Any) -> bool:
        """Record |value - reference| <= bound (mpmath numbers at the run's precision)."""
        with mpmath.workdps(self.dps + 10):
            diff = abs(mpmath.mpf(value) - mpmath.mpf(reference))
            bound = mpmath.mpf(bound)
            ok = diff <= bound
            detail = f"|difference| = {mpmath.nstr(diff, 3)} <= bound {mpmath.nstr(bound, 3)}"
        return self.require("numeric", description, ok, detail if ok else detail.replace("<=", "EXCEEDS"))

    def sampler(self, description: str, estimate: float, theory: float, std_error: float, *,
                allowance: float = 0.0, z: float = 5.0) -> bool:
        """Record |estimate - theory| <= z SE + allowance (a known bias, stated by the caller)."""
        tolerance = z * float(std_error) + float(allowance)
        diff = abs(float(estimate) - float(theory))
        ok = math.isfinite(diff) and diff <= tolerance
        detail = (f"estimate {float(estimate):.6g} vs theory {float(theory):.6g}: "
                  f"|difference| = {diff:.3g}, {z:g} SE + allowance = {tolerance:.3g}")
        return self.require("sampler", description, ok, detail)


def is_zero(expr: Any, seconds: float = SIMPLIFY_SECONDS) -> bool:
    """Whether a sympy expression is identically 0, by cheap rewrites first and simplify last.

    The whole attempt is bounded by ``seconds``; running out of time counts as "not shown to be 0",
    so a hung simplification fails its check instead of hanging the run.

    >>> is_zero(sympy.acos(sympy.Symbol("r")) + sympy.asin(sympy.Symbol("r")) - sympy.pi / 2)
    True
    """
    from ncsym.core.timebound import time_limit

    expr = sympy.sympify(expr)
    if expr == 0:
        return True
    steps = (sympy.expand, sympy.cancel, lambda e: sympy.expand(e.rewrite(sympy.asin)),
             lambda e: sympy.expand(e.rewrite(sympy.exp)), sympy.simplify)
    try:
        with time_limit(seconds):
            for step in steps:
                try:
                    expr = step(expr)
                except (TypeError, ValueError, AttributeError, NotImplementedError):
                    continue  # a rewrite sympy cannot do is skipped; the next step may still decide
                if expr == 0:
                    return True
    except TimeoutError:
        return False
    return False


@dataclass(frozen=True)
class Proof:
    """A claim: a name, a title, the statement (text and LaTeX) and the function that checks it."""

    name: str
    title: str
    statement: str
    statement_latex: str
    run: Callable[[Context], None]


_EXTRA: dict[str, Proof] = {}


def register(proof: Proof) -> None:
    """Add a claim outside ``proofs/`` (run after the built-in ones; used by tests)."""
    _EXTRA[proof.name] = proof


def unregister(name: str) -> None:
    _EXTRA.pop(name, None)


def _load(name: str) -> Proof:
    if name in _EXTRA:
        return _EXTRA[name]
    if name not in PROOF_MODULES:
        raise KeyError(f"unknown proof {name!r}; known: {', '.join(available())}")
    module = importlib.import_module(f"{__name__}.{name}")
    return Proof(module.NAME, module.TITLE, module.STATEMENT, module.STATEMENT_LATEX, module.run)


def available() -> list[str]:
    """Names of every claim, built-in first."""
    return list(PROOF_MODULES) + [n for n in _EXTRA if n not in PROOF_MODULES]


#: Packages outside the core dependencies (sympy, mpmath, numpy) a claim may use: without one of
#: them the claim is skipped, with the reason, instead of failing.
OPTIONAL_PACKAGES = {"scipy": "fast", "flint": "certified", "matplotlib": "plot", "tqdm": "progress",
                     "dask": "sweep", "sklearn": "sklearn", "jax": "jax", "torch": "torch"}


def _missing_optional(exc: BaseException) -> str | None:
    """The reason to skip when ``exc`` is an ImportError of an optional package, else None."""
    if not isinstance(exc, ImportError):
        return None
    top = (getattr(exc, "name", None) or "").split(".")[0]
    if top not in OPTIONAL_PACKAGES:
        return None
    return f"needs the optional package {top} (pip install 'ncsym[{OPTIONAL_PACKAGES[top]}]')"


def _describe_error(exc: BaseException) -> str:
    """One line: the error and where it was raised (no traceback, no sympy dump)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}{where}"


def run_one(name: str, *, dps: int = 30, quick: bool = False) -> ProofOutcome:
    """Run one claim; an exception inside it makes the outcome fail with the error recorded, and a
    missing optional package (see :data:`OPTIONAL_PACKAGES`) makes it SKIP with the reason."""
    start = time.perf_counter()
    try:
        proof = _load(name)
    except KeyError:
        raise
    except Exception as exc:  # the claim module itself does not import: skip or fail, with a reason
        outcome = ProofOutcome(name, name, "", "")
        reason = _missing_optional(exc)
        if reason is not None:
            outcome.skipped = reason
        else:
            outcome.error = _describe_error(exc)
        outcome.seconds = time.perf_counter() - start
        return outcome
    ctx = Context(dps, quick)
    outcome = ProofOutcome(proof.name, proof.title, proof.statement, proof.statement_latex)
    try:
        with mpmath.workdps(dps):
            proof.run(ctx)
    except Exception as exc:  # reported, never swallowed: the claim fails (or skips, see above)
        reason = _missing_optional(exc)
        if reason is not None and not ctx.checks:
            outcome.skipped = reason
        else:
            outcome.error = _describe_error(exc) if reason is None else reason
    outcome.checks = ctx.checks
    outcome.seconds = time.perf_counter() - start
    return outcome


def run_all(names: Sequence[str] | None = None, *, dps: int = 30, quick: bool = False,
            progress: bool = False) -> list[ProofOutcome]:
    """Run the named claims (all when ``names`` is None) at ``dps`` digits; ``quick`` for a fast pass.

    Unknown names raise KeyError before anything runs. ``progress`` writes one line per claim
    to stderr as it finishes (a long run shows where it is).
    """
    if isinstance(dps, bool) or not isinstance(dps, int) or dps < 15:
        raise ValueError(f"dps must be an integer >= 15, got {dps!r}")
    chosen = available() if not names else list(names)
    for name in chosen:
        if name not in PROOF_MODULES and name not in _EXTRA:
            raise KeyError(f"unknown proof {name!r}; known: {', '.join(available())}")
    outcomes = []
    for index, name in enumerate(chosen, 1):
        if progress:
            print(f"[{index}/{len(chosen)}] {name} ...", file=sys.stderr, flush=True)
        outcomes.append(run_one(name, dps=dps, quick=quick))
        if progress:
            o = outcomes[-1]
            print(f"[{index}/{len(chosen)}] {name} {'PASS' if o.passed else 'FAIL'} ({o.seconds:.1f} s)",
                  file=sys.stderr, flush=True)
    return outcomes


def _counts_text(outcome: ProofOutcome) -> str:
    counts = outcome.counts()
    return "  ".join(f"{kind} {ok}/{total}" for kind in ("exact", "numeric", "sampler")
                     for ok, total in [counts.get(kind, (0, 0))] if total)


def format_table(outcomes: Iterable[ProofOutcome], *, verbose: bool = False) -> str:
    """A plain-text pass/fail table, with the failing checks spelled out."""
    outcomes = list(outcomes)
    width = max([len(o.name) for o in outcomes] + [5])
    lines = [f"{'claim':<{width}}  status  {'time':>7}  checks", "-" * (width + 50)]
    for o in outcomes:
        lines.append(f"{o.name:<{width}}  {o.status:<6}  {o.seconds:>6.2f}s  {_counts_text(o)}")
        if o.skipped:
            lines.append(f"{'':<{width}}    skipped: {o.skipped}")
        if o.error:
            lines.append(f"{'':<{width}}    error: {o.error}")
        for c in o.checks:
            if verbose or not c.passed:
                lines.append(f"{'':<{width}}    [{c.kind}] {'ok' if c.passed else 'FAILED'}: {c.description} ({c.detail})")
        if not o.checks and not o.error and not o.skipped:
            lines.append(f"{'':<{width}}    no checks recorded")
    failed = sum(o.status == "FAIL" for o in outcomes)
    skipped = sum(o.status == "SKIP" for o in outcomes)
    lines.append(f"{len(outcomes) - failed - skipped} of {len(outcomes)} claims pass"
                 + (f"; {failed} FAIL" if failed else "") + (f"; {skipped} SKIP" if skipped else ""))
    return "\n".join(lines)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Plain text made safe for LaTeX (non-ASCII characters dropped to keep pdflatex happy)."""
    text = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    return text.encode("ascii", "ignore").decode()


def to_latex(outcomes: Iterable[ProofOutcome]) -> str:
    """The outcomes as one self-contained LaTeX document (article class, amsmath only)."""
    outcomes = list(outcomes)
    passed = sum(o.passed for o in outcomes)
    parts = [
        r"\documentclass{article}",
        r"\usepackage{amsmath,amssymb}",
        r"\usepackage[margin=2.2cm]{geometry}",
        r"\title{ncsym: executable derivations}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        f"{passed} of {len(outcomes)} claims pass.",
        "",
        r"\begin{tabular}{lll}",
        r"\hline claim & status & checks (passed/total) \\ \hline",
    ]
    for o in outcomes:
        status = "pass" if o.passed else "skipped" if o.skipped else r"\textbf{FAIL}"
        parts.append(f"{latex_escape(o.name)} & {status} & {latex_escape(_counts_text(o))} " + r"\\")
    parts += [r"\hline", r"\end{tabular}", ""]
    for o in outcomes:
        parts += [rf"\section{{{latex_escape(o.title)}}}", latex_escape(o.statement), "",
                  o.statement_latex, "",
                  rf"Status: \textbf{{{o.status.lower() if o.skipped else 'pass' if o.passed else 'FAIL'}}} ({o.seconds:.2f} s)."]
        if o.skipped:
            parts.append(rf"Skipped: {latex_escape(o.skipped)}.")
        if o.error:
            parts.append(rf"Error: \texttt{{{latex_escape(o.error)}}}.")
        if o.checks:
            parts.append(r"\begin{itemize}")
            for c in o.checks:
                mark = "ok" if c.passed else r"\textbf{FAILED}"
                parts.append(rf"\item[{mark}] \emph{{{c.kind}}}: {latex_escape(c.description)}"
                             + (rf" \[ {c.formula} \]" if c.formula else "")
                             + (f" --- {latex_escape(c.detail)}" if c.detail else ""))
            parts.append(r"\end{itemize}")
        parts.append("")
    parts.append(r"\end{document}")
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m proofs [--quick] [--dps N] [--latex out.tex] [--verbose] [names...]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m proofs", description="Run ncsym's executable derivations.")
    parser.add_argument("names", nargs="*", help=f"claims to run (default: all of {', '.join(available())})")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a pass in well under a minute")
    parser.add_argument("--dps", type=int, default=30, help="decimal digits of the high-precision checks (>= 15)")
    parser.add_argument("--latex", metavar="FILE", help="also write the outcomes as a LaTeX document")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every check, not only failures")
    parser.add_argument("--no-progress", action="store_true", help="no per-claim progress lines on stderr")
    args = parser.parse_args(argv)
    try:
        outcomes = run_all(args.names or None, dps=args.dps, quick=args.quick, progress=not args.no_progress)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    print(format_table(outcomes, verbose=args.verbose))
    if args.latex:
        with open(args.latex, "w", encoding="utf-8") as handle:
            handle.write(to_latex(outcomes))
        print(f"LaTeX written to {args.latex}")
    return 0 if all(o.status != "FAIL" for o in outcomes) and any(o.passed for o in outcomes) else 1
