"""The ncsym command, run in-process through ncsym.outputs.cli.main and once as the installed script.

Values printed by the command are checked against independent routes: closed forms typed in
with math/mpmath here (relu's moments, the arc-cosine kernel), direct mpmath quadrature for
tanh, and the Gaussian identity E[relu]^2 = k(0).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy

from ncsym.outputs.cli import main

REPO = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def assert_one_line_error(err: str):
    assert err.strip(), "an error must be reported"
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


# -- derive ---------------------------------------------------------------------------------

def test_derive_relu_json_matches_closed_forms(capsys):
    data = run_json(capsys, "derive", "relu", "--terms", "4", "--dps", "30")
    (relu,) = data["activations"]
    with mpmath.workdps(30):
        mean = mpmath.mpf(relu["mean"]["value"])
        assert abs(mean - 1 / mpmath.sqrt(2 * mpmath.pi)) < mpmath.mpf(10) ** -28
    assert abs(float(relu["mean"]["value"]) - 1 / math.sqrt(2 * math.pi)) < 1e-15
    assert relu["mean"]["exact"] is not None and relu["mean"]["error"] in ("0.0", "0")
    assert relu["second_moment"]["exact"] == "1/2"
    # a_1 = E[z relu(z)] = 1/2, a_2 = E[relu(z)(z^2 - 1)]/sqrt(2) = 1/(2 sqrt(pi)), a_3 = 0
    hermite = relu["hermite"]
    assert len(hermite) == 5
    assert hermite[1]["exact"] == "1/2" and hermite[3]["exact"] == "0"
    assert abs(float(hermite[2]["value"]) - 1 / (2 * math.sqrt(math.pi))) < 1e-15
    assert "asin" in relu["kernel"]["closed_form"]
    assert relu["independence"]["holds"] is False
    assert abs(float(relu["correlation_map"]["C(0)"]["value"]) - 1 / math.pi) < 1e-15  # E[relu]^2/E[relu^2]


def test_derive_tanh_numeric_values_carry_error_bounds(capsys):
    data = run_json(capsys, "derive", "tanh", "--terms", "3", "--dps", "20")
    (tanh,) = data["activations"]
    with mpmath.workdps(30):
        reference = mpmath.quad(lambda z: mpmath.tanh(z) ** 2 * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
        second = tanh["second_moment"]
        assert second["exact"] is None
        assert abs(mpmath.mpf(second["value"]) - reference) <= mpmath.mpf(second["error"]) + mpmath.mpf(10) ** -19
    assert tanh["mean"]["exact"] == "0"  # odd symmetry, an exact argument
    assert tanh["kernel"]["closed_form"] is None
    assert tanh["kernel"]["series_tail_bound"] is not None
    assert tanh["independence"]["holds"] is True


def test_derive_text_lists_every_part(capsys):
    code, out, err = run(capsys, "derive", "relu(x) - 1/sqrt(2*pi)", "--terms", "2")
    assert code == 0, err
    for part in ("E[sigma(z)]     = 0", "a_2 = 1/(2*sqrt(pi))", "k(rho) =", "independence: YES", "fixed points"):
        assert part in out


def test_exact_never_prints_a_float_and_fails_without_closed_form(capsys):
    code, out, err = run(capsys, "derive", "relu", "--exact", "--terms", "2")
    assert code == 0, err
    assert "0.39894" not in out and "sqrt(2)/(2*sqrt(pi))" in out
    code, out, err = run(capsys, "kernel", "tanh", "--rho", "0.5", "--exact")
    assert code == 3
    assert_one_line_error(err)
    assert "closed form" in err


def test_exact_json_has_no_decimal_values(capsys):
    data = run_json(capsys, "derive", "gelu", "--exact", "--terms", "2")
    (gelu,) = data["activations"]
    # E[gelu] = E[z Phi(z)] = E[phi(z)] = 1/(2 sqrt(pi)) (Stein), typed in independently
    assert sympy.simplify(sympy.sympify(gelu["mean"]["exact"]) - 1 / (2 * sympy.sqrt(sympy.pi))) == 0
    assert gelu["mean"]["value"] is None
    interior = gelu["correlation_map"]["fixed_points"][0]["value"]
    assert interior["exact"] is None and interior["value"] is None  # no closed form, and no float instead


def test_global_options_before_the_subcommand(capsys):
    code, out, err = run(capsys, "--json", "--dps", "25", "kernel", "relu", "--rho", "1")
    assert code == 0, err
    value = json.loads(out)["values"][0]
    assert value["exact"] == "1/2"  # k(1) = E[relu^2]


# -- kernel ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dps", [15, 30, 60])
def test_kernel_relu_against_arccos_formula(capsys, dps):
    data = run_json(capsys, "kernel", "relu", "--rho", "0.3", "-1/3", "--dps", str(dps))
    with mpmath.workdps(dps + 10):
        for entry, rho in zip(data["values"], (mpmath.mpf(3) / 10, -mpmath.mpf(1) / 3)):
            theta = mpmath.acos(rho)
            expected = (mpmath.sin(theta) + (mpmath.pi - theta) * mpmath.cos(theta)) / (2 * mpmath.pi)
            assert abs(mpmath.mpf(entry["value"]) - expected) < mpmath.mpf(10) ** (-dps + 1)


def test_kernel_numeric_tanh_against_quadrature(capsys):
    data = run_json(capsys, "kernel", "tanh", "--rho", "0.5", "--dps", "15")
    (entry,) = data["values"]
    # Independent route: tensor Gauss-Hermite quadrature of E[tanh(u) tanh(rho u + s w)].
    rho, s = 0.5, math.sqrt(0.75)
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    weights = weights / math.sqrt(2 * math.pi)
    u, w = np.meshgrid(nodes, nodes, indexing="ij")
    reference = float(np.einsum("i,j,ij->", weights, weights, np.tanh(u) * np.tanh(rho * u + s * w)))
    assert abs(float(entry["value"]) - reference) <= float(entry["error"]) + 1e-12
    assert entry["exact"] is None and float(entry["error"]) > 0


def test_kernel_variances(capsys):
    # k(rho) for q1 = 2, q2 = 8 scales by sqrt(q1 q2) = 4 (relu is positively homogeneous).
    data = run_json(capsys, "kernel", "relu", "--rho", "1", "--q1", "2", "--q2", "8")
    assert data["values"][0]["exact"] == "2"


# -- check ----------------------------------------------------------------------------------

def test_check_json_rows(capsys):
    code, out, err = run(capsys, "check", "tanh", "--depth", "2", "--width", "16", "--networks", "40",
                         "--rho0", "0.5", "--seed", "3", "--json")
    assert code in (0, 1), err
    data = json.loads(out)
    (check,) = data["checks"]
    assert check["width"] == 16 and check["depth"] == 2 and check["networks"] == 40
    layer1 = [r for r in check["rows"] if r["layer"] == 1 and r["quantity"] == "correlation"][0]
    assert layer1["theory"] == pytest.approx(0.5)  # layer 1 is compared with rho_0 itself
    assert data["passed"] == all(r["agrees"] for r in check["rows"])
    assert (code == 0) == data["passed"]


def test_check_text_table(capsys):
    code, out, err = run(capsys, "check", "relu", "--depth", "2", "--width", "16", "--networks", "30", "--rho0", "0.9")
    assert code in (0, 1)
    assert "crosscheck relu" in out and "z_corr" in out


# -- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, code", [
    (["derive", "foo(x"], 2),
    (["derive", "exp(x**2)"], 2),
    (["kernel", "relu", "--rho", "2"], 2),
    (["kernel", "relu", "--rho", "abc"], 2),
    (["kernel", "relu", "--rho", "0.5", "--q1", "-1"], 2),
    (["check", "relu", "--width", "0"], 2),
    (["check", "relu", "--networks", "1", "--depth", "1", "--width", "4"], 2),
    (["derive", "relu", "--terms", "-1"], 2),
    (["derive", "relu", "--dps", "0"], 2),
    (["frobnicate"], 2),
    (["derive"], 2),
    ([], 2),
    (["kernel", "relu"], 2),
    (["derive", "relu", "--bogus"], 2),
    (["--exact", "--numeric", "derive", "relu"], 2),
])
def test_errors_are_one_line_with_exit_code(capsys, argv, code):
    got, out, err = run(capsys, *argv)
    assert got == code, err
    assert_one_line_error(err)


def test_report_to_unwritable_path(capsys, tmp_path):
    got, out, err = run(capsys, "report", "relu", "-o", str(tmp_path / "missing" / "r.tex"))
    assert got == 2
    assert_one_line_error(err)


# -- report, prove, demo --------------------------------------------------------------------

def test_report_writes_document(capsys, tmp_path):
    target = tmp_path / "r.tex"
    code, out, err = run(capsys, "report", "relu", "--terms", "2", "-o", str(target))
    assert code == 0, err
    text = target.read_text()
    assert text.startswith(r"\documentclass") and r"\end{document}" in text
    assert r"\frac{\sqrt{2}}{2 \sqrt{\pi}}" in text  # E[relu] = 1/sqrt(2 pi), derived


def test_demo_small(capsys):
    code, out, err = run(capsys, "demo", "--depth", "2", "--width", "16", "--networks", "40", "--terms", "2",
                         "--rho0", "0.5", "--json")
    assert code in (0, 1), err
    data = json.loads(out)
    zero, nonzero = data["activations"]
    assert zero["mean"]["exact"] == "0" and zero["independence"]["holds"] is True
    assert nonzero["independence"]["holds"] is False
    assert abs(float(nonzero["mean"]["value"]) - 1 / math.sqrt(2 * math.pi)) < 1e-14
    assert len(data["checks"]) == 2


def test_prove_runs_the_proofs_runner(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    if not (REPO / "proofs" / "gelu_mean.py").is_file():
        code, out, err = run(capsys, "prove", "no_such_claim")
        assert code != 0
        assert_one_line_error(err)
        return
    code, out, err = run(capsys, "prove", "gelu_mean", "--quick", "--dps", "20", "--json")
    assert "Traceback" not in err
    data = json.loads(out)
    assert data["proofs"][0]["name"] == "gelu_mean"
    assert (code == 0) == data["passed"] == all(c["passed"] for c in data["proofs"][0]["checks"])
    code, out, err = run(capsys, "prove", "gelu_mean", "--quick")
    assert "gelu_mean" in out and code in (0, 1)


@pytest.mark.skipif(shutil.which("ncsym") is None, reason="the ncsym console script is not installed")
def test_installed_script_derive_json():
    completed = subprocess.run(["ncsym", "derive", "relu", "--json", "--terms", "1"], capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout)
    assert abs(float(data["activations"][0]["mean"]["value"]) - 1 / math.sqrt(2 * math.pi)) < 1e-15
    bad = subprocess.run(["ncsym", "kernel", "relu", "--rho", "1.5"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert_one_line_error(bad.stderr)


def test_module_entry_point():
    completed = subprocess.run([sys.executable, "-m", "ncsym.outputs.cli", "kernel", "relu", "--rho", "0", "--exact"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "k[relu](0) = 1/(2*pi)"  # E[relu]^2, the independence of k(0)
