"""The Activation type and the zoo: structure, derivatives, callables, transformations."""

import math

import mpmath
import numpy as np
import pytest
import sympy

import ncsym
from ncsym import zoo
from ncsym.symbolic.activations import Activation, Delta, activation, exact_number, x
from ncsym.core.errors import ActivationParseError, DomainError

ALL_ZOO = [zoo.by_name(name) for name in sorted(zoo.NAMES)]


@pytest.mark.parametrize("act", ALL_ZOO, ids=lambda a: a.name)
def test_zoo_members_are_plain_activations_reachable_by_name(act):
    assert isinstance(act, Activation)
    assert activation(act.name.split("(")[0]) == zoo.by_name(act.name.split("(")[0])
    base = act.name.split("(")[0]
    assert getattr(ncsym, base) is not None


@pytest.mark.parametrize("act", [a for a in ALL_ZOO if not a.parameters], ids=lambda a: a.name)
def test_numpy_and_mpmath_callables_agree_with_the_expression(act):
    # Independent route: sympy's own evalf of the defining expression at each point.
    points = [-2.5, -1.0, -0.3, 0.4, 1.0, 3.0]
    values = act.numpy()(np.array(points))
    with mpmath.workdps(30):
        for p, v in zip(points, values):
            exact = sympy.N(act.expr.subs(x, sympy.Rational(str(p))), 30)
            assert v == pytest.approx(float(exact), rel=1e-13, abs=1e-14)
            value = act.mpmath()(mpmath.mpf(sympy.Rational(str(p)).p) / sympy.Rational(str(p)).q)
            assert abs(value - mpmath.mpf(str(exact))) <= mpmath.mpf(10) ** -27 * max(1, abs(value))


@pytest.mark.parametrize("act, points", [
    (zoo.relu, (0,)), (zoo.abs, (0,)), (zoo.step, (0,)), (zoo.sign, (0,)), (zoo.hard_tanh, (-1, 1)),
    (zoo.elu(), (0,)), (zoo.selu, (0,)), (zoo.leaky_relu(0.2), (0,)), (zoo.tanh, ()), (zoo.gelu, ()),
    (activation("max(x - 1, 0) + max(x + 1, 0)"), (-1, 1)),
])
def test_breakpoints(act, points):
    assert act.breakpoints == tuple(sympy.Integer(p) for p in points)


def test_jumps_of_the_function_and_its_derivatives():
    assert zoo.step.jump(0) == 1
    assert zoo.sign.jump(0) == 2
    assert zoo.relu.jump(0) == 0 and zoo.relu.jump(0, 1) == 1
    assert zoo.abs.jump(0, 1) == 2
    assert zoo.elu().jump(0, 1) == 0 and zoo.elu().jump(0, 2) == -1
    assert zoo.hard_tanh.jump(-1, 1) == 1 and zoo.hard_tanh.jump(1, 1) == -1


def test_distributional_derivatives_put_deltas_at_jumps():
    assert zoo.step.derivative().deltas == (Delta(sympy.Integer(0), 0, sympy.Integer(1)),)
    assert zoo.sign.derivative().deltas == (Delta(sympy.Integer(0), 0, sympy.Integer(2)),)
    assert zoo.relu.derivative(2).deltas == (Delta(sympy.Integer(0), 0, sympy.Integer(1)),)
    assert zoo.relu.derivative(3).deltas == (Delta(sympy.Integer(0), 1, sympy.Integer(1)),)
    # hard_tanh'' = delta(x + 1) - delta(x - 1)
    second = zoo.hard_tanh.derivative(2)
    assert {(d.point, d.order, d.coeff) for d in second.deltas} == {(-1, 0, 1), (1, 0, -1)}
    # A smooth activation has no deltas and its derivative is sympy's.
    assert sympy.simplify(zoo.tanh.derivative().expr - sympy.diff(sympy.tanh(x), x)) == 0


def test_delta_with_a_variable_coefficient_is_reduced():
    # x^2 delta'(x - 1) = delta'(x - 1) - 2 delta(x - 1)  (as distributions)
    act = Activation(x**2 * sympy.DiracDelta(x - 1, 1))
    assert {(d.point, d.order, d.coeff) for d in act.deltas} == {(1, 1, 1), (1, 0, -2)}


def test_distributions_have_no_pointwise_values():
    with pytest.raises(DomainError):
        zoo.step.derivative().numpy()


def test_symbolic_parameters_must_be_substituted_before_evaluating():
    act = zoo.shaped_relu(1, -1)
    assert act.parameters == {sympy.Symbol("n", positive=True)}
    with pytest.raises(DomainError, match="subs"):
        act.numpy()
    numeric = act.subs(sympy.Symbol("n", positive=True), 16)
    assert numeric.numpy()(np.array([-1.0, 2.0])).tolist() == [-0.75, 2.5]


def test_transformations():
    assert zoo.relu.shifted(-1).expr == sympy.Max(0, x) - 1
    assert zoo.relu.scaled(3).expr == 3 * sympy.Max(0, x)
    assert zoo.tanh.affine_input(4).expr == sympy.tanh(4 * x)
    assert zoo.tanh.affine_input(2, 1).expr == sympy.tanh(2 * x + 1)
    assert (zoo.relu - zoo.relu.scaled(sympy.Rational(1, 2))).numpy()(np.array([2.0]))[0] == 1.0
    assert (2 * zoo.tanh).expr == 2 * sympy.tanh(x)


def test_centered_and_normalized_are_exact_where_the_moments_are():
    centered = ncsym.centered(zoo.relu)
    assert sympy.simplify(centered.expr - (sympy.Max(0, x) - 1 / sympy.sqrt(2 * sympy.pi))) == 0
    assert ncsym.gaussian_mean(centered).exact == 0
    normalized = ncsym.normalized(zoo.gelu)
    assert sympy.simplify(ncsym.gaussian_moment(normalized, 2).exact - 1) == 0


def test_centered_without_a_closed_form_uses_a_precise_value():
    act = zoo.sigmoid.affine_input(2, 1)  # no closed form, non-zero mean
    centered = ncsym.centered(act, dps=30)
    assert abs(ncsym.gaussian_mean(centered, dps=30).value) < mpmath.mpf(10) ** -25


def test_exact_number_reads_floats_exactly():
    assert exact_number(0.1) == sympy.Rational(1, 10)
    assert exact_number(2.5e-3) == sympy.Rational(1, 400)
    for bad in (float("nan"), float("inf"), True, "x + 1", object()):
        with pytest.raises((DomainError, ActivationParseError)):
            exact_number(bad)


def test_activation_factory():
    assert activation("relu") is zoo.relu
    assert activation(sympy.Max(sympy.Symbol("t"), 0)).expr == sympy.Max(x, 0)
    assert activation(zoo.tanh) is zoo.tanh
    with pytest.raises(ActivationParseError):
        activation([1, 2])
    with pytest.raises(ActivationParseError):
        activation("no_such_function(x)")


def test_selu_constants_are_the_published_ones():
    # Klambauer et al. (2017): alpha ~ 1.6732632423543772, lambda ~ 1.0507009873554805.
    assert float(zoo.SELU_ALPHA) == pytest.approx(1.6732632423543772, rel=1e-15)
    assert float(zoo.SELU_LAMBDA) == pytest.approx(1.0507009873554805, rel=1e-15)


def test_hermite_zoo_members_are_orthonormal():
    # E[h_j h_k] = delta_jk, checked with the exact engine on polynomials.
    for j in range(4):
        for k in range(4):
            value = ncsym.expectation(zoo.hermite(j), zoo.hermite(k)).exact
            assert sympy.simplify(value - (1 if j == k else 0)) == 0


def test_latex():
    assert zoo.relu.latex() == sympy.latex(sympy.Max(0, x))
    assert zoo.gelu.latex() == r"x \, \Phi(x)"
    assert zoo.relu._repr_latex_().startswith("$")


def test_bad_parameters():
    for bad in (-1, 1.5):
        with pytest.raises(DomainError):
            zoo.monomial(bad)
    with pytest.raises(DomainError):
        zoo.shaped_relu(0, -1, 0)
    with pytest.raises(DomainError):
        zoo.relu.derivative(-1)
    assert math.isfinite(zoo.relu(1.0))
