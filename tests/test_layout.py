"""The package's layout rules: the flow runs one way, and the public namespace is declared.

Every import in ncsym (module level or inside a function) is read from the source, so a
new call site that imports upward fails here before it can tangle the layers.
"""

from __future__ import annotations

import ast
import builtins
import pathlib

import pytest

import ncsym

PACKAGE = pathlib.Path(ncsym.__file__).resolve().parent

#: The theory layers in flow order; each may import the ones before it (and itself).
FLOW = ["core", "symbolic", "gaussian", "hermite_series", "kernels", "depth", "width_corrections",
        "checks", "models", "parallel", "interop", "outputs"]
#: The sampler stands apart: numpy and ncsym's errors only.
SAMPLER_ALLOWED = {"ncsym.core.errors"}


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in one file of the package."""
    tree = ast.parse(path.read_text())
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = here[:-1] if path.name != "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ((node.module,) if node.module else ()))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            if name in ("ncsym", *(f"ncsym.{layer}" for layer in FLOW)):
                found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "ncsym" else None


def _package_files():
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def _violation(layer: str, module: str) -> str | None:
    """Why a file of ``layer`` may not import ``module``, or None when it may."""
    target = _layer(module)
    if module == "ncsym" or (target is None and module.startswith("ncsym")):
        return None if layer == "outputs" else "the top-level namespace is for users and outputs/"
    if target is None or target == layer:
        return None
    if layer == "sampler":
        return None if module in SAMPLER_ALLOWED else "the sampler imports numpy and ncsym's errors only"
    if target == "sampler":
        return None if FLOW.index(layer) >= FLOW.index("checks") else "only checks/ and above use the sampler"
    if target not in FLOW:
        return f"unknown layer {target}"
    return None if FLOW.index(target) < FLOW.index(layer) else f"{layer} may not import {target} (upward)"


@pytest.mark.parametrize("path", _package_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_flow(path):
    layer = path.relative_to(PACKAGE).parts[0]
    problems = [f"{line}: {module}: {why}" for line, module in _imports(path)
                if (why := _violation(layer, module))]
    assert not problems, f"{path.relative_to(PACKAGE)}: {problems}"


def test_the_rule_can_fail():
    assert _violation("symbolic", "ncsym.gaussian.moments")
    assert _violation("kernels", "ncsym.depth.propagation")
    assert _violation("sampler", "ncsym.symbolic.activations")
    assert _violation("depth", "ncsym.sampler")
    assert _violation("models", "ncsym.outputs.report")
    assert _violation("depth", "ncsym")
    assert _violation("depth", "ncsym.kernels.dual") is None
    assert _violation("sampler", "ncsym.core.errors") is None
    assert _violation("outputs", "ncsym") is None


def test_sampler_imports_no_sympy_or_mpmath():
    for path in (PACKAGE / "sampler").glob("*.py"):
        for line, module in _imports(path):
            assert not module.startswith(("sympy", "mpmath")), f"sampler/{path.name}:{line} imports {module}"


def test_library_never_imports_outputs():
    for path in _package_files():
        if path.relative_to(PACKAGE).parts[0] == "outputs":
            continue
        for line, module in _imports(path):
            assert _layer(module) != "outputs", f"{path}:{line} imports {module}"


def test_star_import_is_the_declared_api_and_shadows_no_builtin():
    namespace: dict = {}
    exec("from ncsym import *", namespace)  # noqa: S102 - a literal, the point of the test
    names = set(namespace) - {"__builtins__"}
    assert names == set(ncsym.__all__)
    assert not names & set(dir(builtins)), names & set(dir(builtins))
    assert len(ncsym.__all__) == len(set(ncsym.__all__))


def test_no_module_hides_a_function_of_the_same_name():
    """ncsym.hermite is the zoo's function, and every public name is what __all__ says it is."""
    assert ncsym.hermite(2).name
    for name in ncsym.__all__:
        value = getattr(ncsym, name)
        if name in ("zoo", "sampler"):
            continue
        assert not isinstance(value, type(ast)), f"ncsym.{name} is a module"
    for sub in [p for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]:
        module = __import__(f"ncsym.{sub.name}", fromlist=["*"])
        for child in sub.glob("*.py"):
            attr = getattr(module, child.stem, None)
            if attr is not None and child.stem != "__init__":
                assert isinstance(attr, type(ast)), f"ncsym.{sub.name}.{child.stem} is shadowed by {attr!r}"


def test_internal_symbols_are_not_exported():
    for name in ("RHO", "WIDTH", "PHI2", "PHI3", "V11", "V12", "V22", "C_PLUS", "C_MINUS"):
        assert name not in ncsym.__all__
        assert not hasattr(ncsym, name)


def test_one_class_per_idea():
    """No two public classes differ only in case (CrossCheckRow / CrosscheckRow were two)."""
    lowered = {}
    for name in [n for n in ncsym.__all__ if isinstance(getattr(ncsym, n), type)]:
        lowered.setdefault(name.lower(), []).append(name)
    assert all(len(v) == 1 for v in lowered.values()), [v for v in lowered.values() if len(v) > 1]


def test_every_subpackage_says_what_it_owns():
    for sub in [p for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]:
        doc = ast.get_docstring(ast.parse((sub / "__init__.py").read_text()))
        assert doc, f"ncsym/{sub.name} has no docstring"
        if sub.name != "sampler":
            assert "Owns:" in doc and "May import:" in doc, f"ncsym/{sub.name}'s docstring lacks Owns/May import"
