"""proofs/: the runner end to end (quick mode, as CI runs it), its LaTeX, and that failures fail."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import proofs  # noqa: E402
from latex_checks import check_balanced  # noqa: E402

ROW = re.compile(r"^(\S+)\s+(PASS|FAIL)\s+[\d.]+s\s+(.*)$")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("proofs") / "proofs.tex"
    proc = subprocess.run([sys.executable, "-m", "proofs", "--quick", "--dps", "30", "--latex", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    return proc, out


def test_quick_run_passes_every_claim(quick_run):
    proc, _ = quick_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {m.group(1): (m.group(2), m.group(3)) for m in map(ROW.match, proc.stdout.splitlines()) if m}
    assert set(rows) == set(proofs.PROOF_MODULES)
    for name, (status, counts) in rows.items():
        assert status == "PASS", (name, proc.stdout)
        assert "exact" in counts or "numeric" in counts, (name, counts)
    # every claim asked for in the task carries the kinds of evidence it promises
    assert "sampler" in rows["relu_arccos"][1] and "numeric" in rows["relu_arccos"][1]
    assert "sampler" in rows["independence"][1] and "exact" in rows["independence"][1]
    assert "numeric" in rows["mehler"][1] and "exact" in rows["mehler"][1]
    assert f"{len(proofs.PROOF_MODULES)} of {len(proofs.PROOF_MODULES)} claims pass" in proc.stdout


def _compile(tex: Path) -> None:
    check_balanced(tex.read_text())
    if shutil.which("pdflatex") is None:
        return
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tex.parent,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert tex.with_suffix(".pdf").stat().st_size > 1000


def test_latex_document_compiles(quick_run):
    _, tex = quick_run
    text = tex.read_text()
    for name in proofs.PROOF_MODULES:
        assert proofs.latex_escape(name) in text
    # the derived closed forms appear as formulas, not only as pass marks
    assert r"\frac{1}{2 \sqrt{\pi}}" in text  # E[gelu]
    assert r"\operatorname{asin}" in text  # the arc-cosine / arcsine kernels
    _compile(tex)


def _failing(ctx):
    ctx.require("exact", "a deliberately false statement: 1 = 2", 1 == 2)
    ctx.exact("and a true one", 0)


def _raising(ctx):
    ctx.exact("true before the error", 0)
    raise RuntimeError("broken derivation")


def _silent(ctx):
    pass


@pytest.mark.parametrize("run, reason", [(_failing, "a failed check"), (_raising, "an exception"),
                                         (_silent, "no checks at all")])
def test_a_failing_claim_makes_the_runner_exit_nonzero(run, reason, capsys):
    proof = proofs.Proof("test_failing_claim", "A failing claim", "Fails: " + reason, r"\[ 1 = 2 \]", run)
    proofs.register(proof)
    try:
        outcome, = proofs.run_all(["test_failing_claim"], quick=True)
        assert not outcome.passed
        assert proofs.main(["test_failing_claim"]) == 1
        out = capsys.readouterr().out
        assert "FAIL" in out and "0 of 1 claims pass" in out
        if run is _raising:
            assert "RuntimeError: broken derivation" in outcome.error
        # a passing built-in claim next to it does not hide the failure
        assert proofs.main(["kernel_at_zero", "test_failing_claim", "--quick"]) == 1
    finally:
        proofs.unregister("test_failing_claim")
    assert "test_failing_claim" not in proofs.available()


def test_unknown_claim_is_an_error():
    with pytest.raises(KeyError, match="unknown proof"):
        proofs.run_all(["no_such_claim"])
    assert proofs.main(["no_such_claim"]) == 2
    with pytest.raises(ValueError, match="dps"):
        proofs.run_all(["gelu_mean"], dps=5)


def test_context_tolerances_decide():
    ctx = proofs.Context(30, True)
    # strings, so the 20-digit differences survive (1.0 + 1e-18 is 1.0 in float64)
    assert ctx.numeric("inside", "1", "1.00000000000000000001", "1e-19")
    assert not ctx.numeric("outside", "1", "1.000000000000000001", "1e-19")
    assert ctx.sampler("within 5 SE", 1.04, 1.0, 0.01)
    assert not ctx.sampler("beyond 5 SE", 1.06, 1.0, 0.01)
    assert ctx.sampler("within 5 SE plus a stated bias allowance", 1.06, 1.0, 0.01, allowance=0.02)
    assert not ctx.sampler("NaN never passes", float("nan"), 1.0, 0.01)
    assert ctx.exact("sin^2 + cos^2 = 1", sympy.sin(1) ** 2 + sympy.cos(1) ** 2 - 1)
    assert not ctx.exact("pi != 3", sympy.pi - 3)
    assert [c.passed for c in ctx.checks] == [True, False, True, False, True, False, True, False]


def test_latex_escapes_hostile_text(tmp_path):
    outcome = proofs.ProofOutcome("odd_name", "Title with 100% & $ and _ ^ ~ # {braces} \\ backslash",
                                  "Statement: a_n & b^2", r"\[ a_n^2 \]",
                                  [proofs.Check("exact", "x_1 & y % z", True, "detail {with} $")], 0.1)
    tex = tmp_path / "hostile.tex"
    tex.write_text(proofs.to_latex([outcome]))
    _compile(tex)


@pytest.mark.parametrize("dps", [15, 60])
def test_high_precision_claims_hold_at_other_precisions(dps):
    # the numeric checks scale their bounds with dps: at 60 digits a 30-digit shortcut would fail
    outcomes = proofs.run_all(["relu_arccos", "gelu_mean", "kernel_at_zero", "deq_fixed_point"], dps=dps, quick=True)
    failing = {o.name: [c for c in o.checks if not c.passed] or o.error for o in outcomes if not o.passed}
    assert not failing, failing
    bounds = [c.detail for o in outcomes for c in o.checks if c.kind == "numeric" and "bound" in c.detail]
    assert bounds
