"""examples/: each script runs with small arguments and writes what it promises."""

from __future__ import annotations

import csv
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

from ncsym import activation, exact_expectation, independence

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _assert_png(path: Path, min_width: int) -> np.ndarray:
    image = pytest.importorskip("matplotlib.image").imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[1] >= min_width
    # a real plot: many distinct shades, not a blank canvas
    assert float(image[..., :3].var()) > 1e-3
    assert len(np.unique(image[..., :3].reshape(-1, 3), axis=0)) > 50
    return image


def test_figure1(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "fig1.png"
    proc = run_example("figure1.py", str(out), "--depth", "6", "--grid", "101")
    _assert_png(out, 800)
    lines = {line.split(":")[0].strip(): line for line in proc.stdout.splitlines() if "fixed points" in line}
    # relu: 1 is the only fixed point; the zero-mean maps have 0 as one (and tanh(4x), odd, also -1)
    assert re.search(r"fixed points 1\.000000;", lines["relu"])
    assert "0.000000" in lines["relu - 1/sqrt(2 pi)"] and "-1.000000" in lines["tanh(4x)"]


def test_figure1_without_matplotlib(tmp_path):
    blocker = tmp_path / "matplotlib"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib hidden for this test')\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    out = tmp_path / "never.png"
    proc = run_example("figure1.py", str(out), env=env)
    assert "matplotlib is not installed" in proc.stdout
    assert not out.exists()


def test_correlation_vs_depth(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "depth.png"
    proc = run_example("correlation_vs_depth.py", str(out), "--depth", "4", "--width", "64", "--networks", "150",
                       "--rho0", "0.5")
    _assert_png(out, 600)
    verdicts = [line for line in proc.stdout.splitlines() if "comparisons" in line]
    assert len(verdicts) == 2 and all("consistent" in v for v in verdicts), proc.stdout


def _rows(tabular: str) -> list[list[str]]:
    body = tabular.split(r"\hline")[2]  # header, then the rows between the second and third \hline
    return [[cell.strip() for cell in line.rstrip("\\ ").split(" & ")] for line in body.strip().splitlines()]


def test_zoo_table(tmp_path):
    acts = ["relu", "sign", "step", "tanh", "max(x, 0) - 1/sqrt(2*pi)"]
    out = tmp_path / "zoo.tex"
    run_example("zoo_table.py", str(out), "--acts", *acts, "--terms", "3", "--document")
    text = out.read_text()
    rows = _rows(text)
    assert len(rows) == len(acts)
    for spec, row in zip(acts, rows):
        act = activation(spec)
        assert len(row) == 3 + 3 + 1
        assert row[0] == f"${act.latex()}$"
        holds = independence(act).holds
        assert (row[-1] == r"$\rho_\ell \to 0$") == bool(holds), (spec, row[-1])
    # the exact mean of relu, against the closed form from the Gaussian engine
    assert rows[0][1] == f"${sympy.latex(exact_expectation(activation('relu')))}$"
    assert rows[0][3] == r"$\frac{1}{2 \pi}$"  # a_0^2 = E[relu]^2
    if shutil.which("pdflatex"):
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout[-3000:]


def test_analysis_script(tmp_path):
    out = tmp_path / "scan.csv"
    proc = run_example("analysis_script.py", str(out), "--points", "3", "--dps", "15")
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4  # the grid plus the exact zero-mean shift
    c_star = -1 / math.sqrt(2 * math.pi)
    holds = [row for row in rows if row["verdict"] == "True"]
    assert len(holds) == 1 and abs(float(holds[0]["c"]) - c_star) < 1e-12
    assert sympy.simplify(sympy.sympify(holds[0]["exact c"]) + 1 / sympy.sqrt(2 * sympy.pi)) == 0
    assert abs(float(holds[0]["mean"])) < 1e-15 and int(holds[0]["depth to 1e-3 from 0.9"]) > 0
    for row in rows:
        if row["verdict"] != "True":
            assert abs(float(row["mean"]) - (float(row["c"]) - c_star)) < 1e-12
            assert float(row["limit"]) > 0
    assert "verdict changes between" in proc.stdout


def test_finite_width_vertex(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "vertex.png"
    proc = run_example("finite_width_vertex.py", str(out), "--depth", "4", "--widths", "16", "32",
                       "--networks", "400")
    _assert_png(out, 900)
    # relu's theory column is V/K^2 = 5 (l - 1), derived by the theory and stated by Hanin & Nica
    relu = proc.stdout.split("tanh:")[0]
    theory = [float(line.split(":")[1].split()[0]) for line in relu.splitlines() if line.strip().startswith("layer")]
    assert theory == [0.0, 5.0, 10.0, 15.0]
    # where the theory trusts itself, the sampled points sit within 5 SE of it
    for line in (l for l in proc.stdout.splitlines() if "largest |z|" in l):
        assert all(float(cell.split(":")[1]) < 5 for cell in line.split("trusted:")[1].split(",")), line


def test_deq_limits_example(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "deq_limits.png"
    proc = run_example("deq_limits.py", str(out), "--widths", "16", "32", "--depths", "1", "8",
                       "--networks", "40")
    _assert_png(out, 800)
    assert "D_DEQ by depth" in proc.stdout and "D_MLP by depth" in proc.stdout


@pytest.mark.slow
def test_sde_distributions_example(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sde.png"
    proc = run_example("sde_distributions.py", str(out), "--width", "16", "--networks", "300", "--paths", "1000")
    _assert_png(out, 800)
    assert proc.stdout.count("KS ") == 3


def test_coincidence_finite_width(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "dispersion.png"
    proc = run_example("coincidence_finite_width.py", str(out), "--n", "2", "--widths", "16", "64", "--depths", "1",
                       "3", "--networks", "300")
    _assert_png(out, 500)
    rows = [line.split() for line in proc.stdout.splitlines() if re.match(r"\s+\d+\s+\d+\s+300\s", line)]
    assert len(rows) == 4 and all(r[10] == "yes" for r in rows), proc.stdout
    # the sampled points sit far from the infinite-width value and near the 1/width prediction
    z_infinite, z_finite = [abs(float(r[7])) for r in rows], [abs(float(r[9])) for r in rows]
    assert min(z_infinite) > 5 and max(z_finite) < min(z_infinite)


@pytest.mark.slow
def test_nnpk_digits_example(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    out = tmp_path / "nnpk.png"
    proc = run_example("nnpk_digits.py", str(out), "--train", "150", "--test", "150", "--networks", "2", "4",
                       "--widths", "16", "--repeats", "2")
    _assert_png(out, 800)
    accuracies = {line.split(":")[0]: float(line.rsplit("accuracy", 1)[1].split()[0])
                  for line in proc.stdout.splitlines() if "accuracy" in line and "not available" not in line}
    # the infinite-width NNPK beats chance by far and the linear baseline on digits
    assert accuracies["NNPK limit (infinite width)"] > 0.8
    assert accuracies["NNPK limit (infinite width)"] >= accuracies["linear kernel"]


def test_phase_diagram(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "phase.png"
    proc = run_example("phase_diagram.py", str(out), "--points", "6", "--line", "2")
    _assert_png(out, 800)
    # tanh at sigma_b2 = 0: the boundary critical point sigma_w2 = 1, q* = 0 (tanh'(0) = 1)
    assert "sigma_b2 = 0.0000: sigma_w2 = 1.0000000000 (± 0.0e+00), q* = 0.0000000000" in proc.stdout
    # at sigma_b2 = 0.3 the critical sigma_w2 lies between the grid's ordered and chaotic columns
    line = [row for row in proc.stdout.splitlines() if "sigma_b2 = 0.3000" in row][0]
    assert 2.4 < float(line.split("sigma_w2 = ")[1].split()[0]) < 2.6
    assert "ordered" in proc.stdout and "chaotic" in proc.stdout


def test_digits_regression(tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "digits.png"
    proc = run_example("digits_regression.py", "--depth", "3", "--train", "100", "--test", "50", "--out", str(out))
    rows = [line.split() for line in proc.stdout.splitlines() if line[:5].strip().isdigit()]
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    errors = np.array([[float(v) for v in r[1:]] for r in rows])
    assert errors.shape == (3, 6) and (errors >= 0).all() and (errors < 0.5).all()  # chance is 0.9
    if "no plot" not in proc.stdout:  # matplotlib installed: the figure must be there
        _assert_png(out, 300)
