"""Coercion at the boundary: every spelling of the same activation or number gives the same answer.

Public functions turn a zoo name, an expression string, a sympy expression or an Activation
into one Activation, and "2", 2, 2.0 and Integer(2) into one exact number, before any work;
the answers below must therefore be identical (not merely close) across spellings.
"""

from __future__ import annotations

import pytest
import sympy

import ncsym
from ncsym import x

RELU_SPELLINGS = ("relu", "max(x, 0)", sympy.Max(x, 0), ncsym.relu, ncsym.Activation(sympy.Max(x, 0)))
TWO_SPELLINGS = (2, "2", 2.0, sympy.Integer(2), "4/2")

DERIVED = {
    "gaussian_mean": lambda a: ncsym.gaussian_mean(a).exact,
    "gaussian_moment": lambda a: ncsym.gaussian_moment(a, 2).exact,
    "hermite_coefficients": lambda a: tuple(c.exact for c in ncsym.hermite_coefficients(a, 4)),
    "dual_kernel": lambda a: ncsym.dual_kernel(a).closed_form,
    "correlation_map": lambda a: ncsym.correlation_map(a).closed_form,
    "variance_map": lambda a: ncsym.variance_map(a, 2, 0).chi_1.exact,
    "independence": lambda a: (ncsym.independence(a).holds, ncsym.gaussian_mean(a).exact),
}


@pytest.mark.parametrize("name", DERIVED)
def test_every_spelling_of_an_activation_gives_the_same_exact_answer(name):
    answers = [DERIVED[name](spelling) for spelling in RELU_SPELLINGS]
    assert all(sympy.simplify(a - answers[0]) == 0 if isinstance(a, sympy.Expr) else a == answers[0]
               for a in answers), answers
    assert answers[0] is not None


def test_every_spelling_of_a_number_gives_the_same_exact_hyperparameter():
    fixed = [ncsym.variance_map("relu", w, 0) for w in TWO_SPELLINGS]
    assert {str(vm.chi_1.exact) for vm in fixed} == {"1"}
    assert all(vm.chi_1.is_exact for vm in fixed)


def test_a_float_reads_as_the_decimal_it_prints():
    """0.1 is the exact 1/10 at the boundary, so results built on it stay exact."""
    kernel = ncsym.dual_kernel("relu").evaluate(0.1)
    reference = ncsym.dual_kernel("relu").evaluate(sympy.Rational(1, 10))
    assert kernel.is_exact and sympy.simplify(kernel.exact - reference.exact) == 0
