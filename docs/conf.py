"""Sphinx configuration of ncsym's documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html``; run its examples:
``sphinx-build -W -b doctest docs docs/_build/doctest`` (needs the ``docs`` extra).
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import ncsym  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def api_page() -> str:
    """docs/api.rst, written from ``ncsym.__all__`` at every build so that it lists the API as it is."""
    import types

    names = [n for n in ncsym.__all__ if not isinstance(getattr(ncsym, n), types.ModuleType)
             and n not in ("x", "rho")]
    lines = ["API reference", "=============", "",
             "Everything in ``ncsym.__all__``, from the docstrings (besides the sympy symbols ``ncsym.x``, the",
             "activations' variable, and ``ncsym.rho``, the kernels' correlation). Subpackages are described",
             "in :doc:`layout`.", "", ".. currentmodule:: ncsym", "",
             ".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
    lines += [f"   {n}" for n in names]
    lines += ["", "Modules", "-------", "", ".. autosummary::", "   :toctree: generated", "",
              "   zoo", "   sampler", "   parallel", "   interop", "   interop.sklearn_kernels", ""]
    return "\n".join(lines)


def _write_api_page() -> None:
    path = os.path.join(HERE, "api.rst")
    text = api_page()
    if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


_write_api_page()

project = "ncsym"
author = "the ncsym developers"
copyright = "2025-2026, the ncsym developers"
release = version = ncsym.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

autosummary_generate = True
autodoc_default_options = {"members": False, "undoc-members": False}
autodoc_typehints = "none"  # signatures carry them; keeps the rendered pages short
autodoc_member_order = "bysource"
default_role = "code"  # `x` is code, as in the docstrings
exclude_patterns = ["_build"]
templates_path = []
html_theme = "alabaster"
html_static_path = []
html_theme_options = {"description": "Exact and certified computations for wide random neural networks",
                      "fixed_sidebar": True}

# The docs' examples run as doctests; the docstrings' own examples run under pytest.
doctest_global_setup = """
import numpy as np
import ncsym
"""
doctest_test_doctest_blocks = ""  # only the pages' ``.. doctest::`` blocks
trim_doctest_flags = True
import doctest as _doctest  # noqa: E402
doctest_default_flags = _doctest.ELLIPSIS | _doctest.NORMALIZE_WHITESPACE | _doctest.DONT_ACCEPT_TRUE_FOR_1


# -- docstrings are written as plain text with math in ASCII (|x|, c_+, sigma'), not as reST --

import re  # noqa: E402

_LITERAL = re.compile(r"(``.*?``)")
_TRAILING_UNDERSCORE = re.compile(r"(?<=[A-Za-z0-9])_(?=[\s,.;:)\]'+\-]|$)")


def _escape_text(text: str) -> str:
    """Characters reST would read as markup in prose: | (substitutions) and a trailing _ (links)."""
    parts = _LITERAL.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside ``literals``
        parts[i] = _TRAILING_UNDERSCORE.sub(r"\\_", parts[i].replace("|", r"\|"))
    for i in range(1, len(parts), 2):  # autosummary's first sentence must not end inside a literal
        parts[i] = parts[i].replace(". ", ".\u200b ")
    return "".join(parts)


def _process_docstring(app, what, name, obj, options, lines):
    in_example = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(">>>"):
            in_example = True
        elif not stripped:
            in_example = False
        if not in_example:
            lines[index] = _escape_text(line)


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring)
