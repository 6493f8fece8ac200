"""The installed command: ``python -m ncsym`` is ``ncsym``; a plain ``pip install .`` into a
fresh virtual environment runs every subcommand from an empty directory (proofs included);
the zoo lists its activations."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import ncsym
from ncsym import zoo
from ncsym.outputs.cli import build_parser, main

REPO = Path(__file__).resolve().parent.parent

#: Small arguments for each subcommand, run from an empty directory in the fresh install.
#: A new subcommand needs a line here (the slow test fails until it has one).
SMOKE = {
    "derive": ["derive", "relu", "--terms", "2"],
    "kernel": ["kernel", "relu", "--rho", "0.5"],
    "check": ["check", "tanh", "--depth", "2", "--width", "16", "--networks", "40"],
    "report": ["report", "relu", "--terms", "2", "-o", "out.tex"],
    "prove": ["prove", "--quick", "kernel_at_zero", "gelu_mean"],
    "demo": ["demo", "--depth", "2", "--width", "16", "--networks", "40", "--terms", "2"],
    "zoo": ["zoo"],
    "finite-width": ["finite-width", "relu", "--sigma-w2", "2", "--depth", "3", "--width", "64"],
    "critical": ["critical", "erf", "--sigma-b2", "0.05"],
    "phase": ["phase", "erf", "--sigma-w2", "0.5:3:4", "--sigma-b2", "0:0.3:3"],
}


def _subcommands() -> list[str]:
    actions = [a for a in build_parser()._actions if a.dest == "command"]
    return sorted(actions[0].choices)


def _run(argv: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def test_python_dash_m_is_the_command(tmp_path, capsys):
    """Same output and exit code through ``python -m ncsym`` and through ``main`` (the console script)."""
    for argv, code in ((["kernel", "relu", "--rho", "0", "1/2", "--exact"], 0),
                       (["kernel", "relu", "--rho", "1.5"], 2),
                       (["kernel", "tanh", "--rho", "0.5", "--exact"], 3)):
        done = _run([sys.executable, "-m", "ncsym", *argv], tmp_path)
        assert done.returncode == code, done.stderr
        assert main(list(argv)) == code
        assert capsys.readouterr().out == done.stdout
    done = _run([sys.executable, "-m", "ncsym", "kernel", "relu", "--rho", "0", "--exact"], tmp_path)
    assert done.stdout.strip() == "k[relu](0) = 1/(2*pi)"
    help_text = _run([sys.executable, "-m", "ncsym", "--help"], tmp_path).stdout
    assert all(command in help_text for command in _subcommands())


def test_console_script_matches_python_dash_m(tmp_path):
    script = shutil.which("ncsym")
    if script is None:
        pytest.skip("the ncsym console script is not on PATH")
    argv = ["kernel", "erf", "--rho", "1/3", "--exact"]
    a = _run([script, *argv], tmp_path)
    b = _run([sys.executable, "-m", "ncsym", *argv], tmp_path)
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)


def test_prove_works_outside_the_checkout(tmp_path, capsys):
    """From a directory without proofs/, ``ncsym prove`` finds the shipped (or checkout) proofs."""
    done = _run([sys.executable, "-m", "ncsym", "prove", "--quick", "kernel_at_zero"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kernel_at_zero" in done.stdout and "1 of 1 claims pass" in done.stdout


def test_zoo_names_are_the_zoo():
    names = zoo.names()
    assert names == sorted(names) and len(names) == len(set(names))
    for name in names:  # each one builds, with default parameters for families
        assert isinstance(zoo.by_name(name), ncsym.Activation)
    assert set(zoo.names(families=False)) < set(names)
    assert {"relu", "tanh", "gelu", "erf", "leaky_relu"} <= set(names)
    for name in names:  # every name is also a zoo attribute of the same activation
        member = getattr(zoo, name)
        assert (member() if zoo.is_family(name) else member) == zoo.by_name(name)


def test_zoo_command_lists_every_name(capsys):
    assert main(["zoo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == zoo.names()
    assert main(["zoo", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in data["activations"]] == zoo.names()


def test_every_subcommand_has_a_smoke_run():
    assert sorted(SMOKE) == _subcommands(), "add the new subcommand to SMOKE in tests/test_packaging.py"


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_plain_install_runs_every_subcommand(tmp_path):
    """``pip install .`` (not editable) into a plain venv; every subcommand from an empty directory."""
    assert sorted(SMOKE) == _subcommands()
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    source = tmp_path / "src"  # a copy, so the build leaves no build/ or egg-info in the checkout
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache", "docs"))
    done = _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
                tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    where = _run([str(python), "-c", "import ncsym, ncsym.proofs; print(ncsym.__file__, ncsym.proofs.__file__)"],
                 empty, env)
    assert where.returncode == 0 and str(REPO) not in where.stdout, where.stdout + where.stderr
    for name, argv in SMOKE.items():
        for command in ([str(bindir / "ncsym"), *argv], [str(python), "-m", "ncsym", *argv]):
            done = _run(command, empty, env)
            assert done.returncode == 0, f"{name}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
            assert done.stdout.strip(), name
    assert (empty / "out.tex").read_text().startswith(r"\documentclass")
