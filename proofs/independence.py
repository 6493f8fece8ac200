"""The zero-mean independence theorem (Dunbar & Aaronson 2025), activation by activation over the zoo."""

from __future__ import annotations

import mpmath
import sympy

import ncsym
from ncsym import NcsymError, NoClosedFormError, crosscheck, exact_expectation, hermite_coefficients, independence, zoo
from ncsym.symbolic.activations import x

from . import is_zero
from ._common import gaussian_quad

NAME = "independence"
TITLE = "The zero-mean independence theorem over the zoo"
STATEMENT = ("With natural hyperparameters (no bias, sigma_w^2 = 1/E[sigma^2]) the correlation of two inputs "
             "goes to 0 with depth for every |rho_0| < 1 exactly when E[sigma(z)] = 0 and sigma is nonlinear "
             "(some a_n != 0 with n >= 2). For each zoo activation, ncsym's verdict is compared with the "
             "verdict read off an independently established mean (exact, or zero by odd symmetry, or a "
             "quadrature enclosure excluding 0) and an independently confirmed nonlinearity witness a_n "
             "(exact and nonzero, confirmed by quadrature); sampled networks show the decorrelation for "
             "zero-mean activations and its absence for relu.")
STATEMENT_LATEX = (r"\[ \rho_\ell = C^{\ell}(\rho_0) \xrightarrow[\ell\to\infty]{} 0 \ \text{for all } |\rho_0|<1 "
                   r"\iff \mathbb{E}[\sigma(z)] = 0 \ \text{and}\ \exists\, n \ge 2:\ a_n \ne 0. \]")

WITNESS_ORDERS = range(2, 7)


def _zoo(quick: bool):
    base = [zoo.relu, ncsym.centered(zoo.relu), zoo.gelu, ncsym.centered(zoo.gelu), zoo.tanh, zoo.erf, zoo.sign, zoo.step,
            zoo.sigmoid, zoo.sin, zoo.cos, zoo.exp, zoo.identity, zoo.hard_tanh, zoo.monomial(2), zoo.monomial(3),
            zoo.hermite(2)]
    if quick:
        return base
    return base + [zoo.abs, zoo.softplus, zoo.selu, zoo.elu(), zoo.leaky_relu(), zoo.silu, zoo.gelu_tanh]


def _is_odd(act) -> bool:
    return is_zero(act.expr.subs(x, -x) + act.expr)


def _mean_zero(ctx, act) -> bool | None:
    """Whether E[sigma] = 0, from an exact mean, odd symmetry or a quadrature enclosure."""
    if _is_odd(act):
        ctx.require("exact", f"{act.name}: odd, so E[sigma] = 0 by symmetry", True, "sigma(-x) + sigma(x) = 0")
        return True
    try:
        mean = exact_expectation(act)
    except NoClosedFormError:
        mean = None
    if mean is not None:
        zero = is_zero(mean)
        if not zero:
            # a nonzero exact constant must also be numerically nonzero at the working precision
            zero_num = abs(sympy.N(mean, ctx.dps)) < sympy.Float(10) ** (-ctx.dps // 2)
            ctx.require("exact", f"{act.name}: E[sigma] = {sympy.sstr(mean)} != 0", not zero_num,
                        formula=rf"\mathbb{{E}}[\sigma(z)] = {sympy.latex(mean)}")
            return False
        ctx.require("exact", f"{act.name}: E[sigma] = 0 exactly", True)
        return True
    value, error = gaussian_quad(act.mpmath(), breakpoints=tuple(float(b) for b in act.breakpoints) or (0,))
    bound = error + mpmath.mpf(10) ** (3 - ctx.dps)
    ctx.require("numeric", f"{act.name}: |E[sigma]| = {mpmath.nstr(abs(value), 8)} exceeds its error bound",
                abs(value) > bound, f"bound {mpmath.nstr(bound, 3)}")
    return False if abs(value) > bound else None


def _nonlinear(ctx, act) -> bool:
    """A witness a_n != 0, n >= 2: ncsym's coefficient (exact where possible) confirmed by quadrature."""
    try:
        coefficients = hermite_coefficients(act, max(WITNESS_ORDERS), dps=ctx.dps)
    except (NcsymError, ValueError):
        # the exact routes cannot do every shifted activation; the numeric route has error bounds
        coefficients = hermite_coefficients(act, max(WITNESS_ORDERS), method="numeric", dps=ctx.dps)
    f = act.mpmath()
    points = tuple(float(b) for b in act.breakpoints) or (0,)
    for n in WITNESS_ORDERS:
        a = coefficients[n]
        if a.exact is not None and is_zero(a.exact):
            continue
        he = sympy.lambdify(x, sympy.hermite_prob(n, x), "mpmath")
        value, error = gaussian_quad(lambda z: f(z) * he(z), breakpoints=points)
        value /= mpmath.sqrt(mpmath.factorial(n))
        bound = a.error + error + mpmath.mpf(10) ** (3 - ctx.dps)
        if abs(a.value) > bound:
            ctx.numeric(f"{act.name}: witness a_{n} = {sympy.sstr(a.exact) if a.exact is not None else mpmath.nstr(a.value, 10)}"
                        " != 0, confirmed by quadrature", a.value, value, bound)
            return True
    ctx.require("exact", f"{act.name}: a_2..a_{max(WITNESS_ORDERS)} all vanish (linear or undecided)", True)
    return False


def run(ctx) -> None:
    for act in _zoo(ctx.quick):
        zero = _mean_zero(ctx, act)
        nonlinear = _nonlinear(ctx, act)
        expected = None if zero is None else (zero and nonlinear)
        cert = independence(act, dps=ctx.dps)
        ctx.require("exact" if cert.mean.exact is not None else "numeric",
                    f"{act.name}: ncsym's verdict {cert.holds} ({cert.behaviour}) = independent verdict {expected}",
                    expected is not None and cert.holds == expected, cert.reason)
        if cert.holds:
            # the theorem's contraction |rho_l| <= gamma^l |rho_0|, gamma = C(0.9)/0.9 < 1, against the iterates
            C = cert.correlation_map
            gamma = float(C(0.9)) / 0.9
            path = C.iterate(0.9, 30)
            ctx.require("numeric", f"{act.name}: gamma = {gamma:.4f} < 1 and |rho_30| = {abs(float(path[-1])):.3g} "
                        f"<= gamma^30 * 0.9 = {gamma**30 * 0.9:.3g}",
                        gamma < 1 and abs(float(path[-1])) <= gamma**30 * 0.9 * (1 + 1e-9))
    _sampled(ctx)


def _sampled(ctx) -> None:
    networks = 300 if ctx.quick else 2000
    depth = 6
    for act, goes_to_zero in ((ncsym.centered(zoo.relu), True), (zoo.tanh, True), (zoo.relu, False)):
        check = crosscheck(act, depth=depth, width=128, networks=networks, rho0=[0.6], seed=7)
        theory, estimate, se = check.correlations(0.6)
        row = [r for r in check.rows if r.quantity == "correlation"][-1]
        ctx.sampler(f"{act.name}: layer-{depth} correlation of width-128 networks from rho0 = 0.6 "
                    "(allowance: predicted O(1/width) bias and remainder)", row.estimate, row.theory, row.std_error,
                    allowance=abs(row.bias) * (1 + row.layer / check.width))
        moved = estimate[-1] < 0.6 - 5 * se[-1] if goes_to_zero else estimate[-1] > 0.6 + 5 * se[-1]
        ctx.require("sampler", f"{act.name}: sampled correlation {'falls' if goes_to_zero else 'rises'} from 0.6 "
                    f"to {estimate[-1]:.3f} by more than 5 SE", moved, f"SE {se[-1]:.2g}")
