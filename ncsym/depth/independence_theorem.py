"""The zero-mean independence theorem as a certificate object (Dunbar & Aaronson 2025).

Hypotheses as stated: natural hyperparameters (no bias, weight variance 1/E[sigma(z)^2], so
every preactivation keeps variance 1 and the correlation map is C(rho) = k(rho)/k(1)), and sigma
square integrable under N(0, 1). Then rho_l -> 0 for every |rho_0| < 1 exactly when
E[sigma(z)] = 0 and sigma is nonlinear: with normalized Hermite coefficients a_k,
C(0) = a_0^2/E[sigma^2] = E[sigma]^2/E[sigma^2] and C'(0) = a_1^2/E[sigma^2] < 1 unless sigma
is linear (derived for a generic coefficient sequence in the claim proofs/independence_general.py).
:func:`independence` decides both conditions with proofs it can
show: E[sigma] exact (0 by odd symmetry, or a closed form), or numeric with an error bound
that excludes 0; nonlinearity by a nonzero Hermite coefficient a_n with n >= 2. When either
cannot be decided the verdict is None, never a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import mpmath
import numpy as np
import sympy

from ncsym.core.numbers import check_real, combine, sign_of
from ncsym.symbolic.activations import Activation, activation
from ncsym.core.errors import ConvergenceError, DomainError, check_integer
from ncsym.core.results import GUARD_DIGITS, Result, working_dps
from ncsym.core.timebound import budgeted

#: Hermite coefficients searched for a nonlinearity witness a_n != 0, 2 <= n <= this.
_WITNESS_ORDERS = 6


@dataclass(frozen=True)
class IndependenceCertificate:
    """The verdict of the zero-mean theorem for one activation, with the data that prove it.

    ``holds`` is True (correlations vanish with depth), False (they do not) or None (a
    condition could not be decided; ``reason`` says which). ``behaviour`` is "decorrelates",
    "interior fixed point", "to 1", "stays put" or "undecided"; ``limit`` is where rho_l goes
    (0, the interior fixed point to ``dps`` digits, or 1; None when correlations stay put).

    >>> from ncsym import centered, zoo
    >>> cert = independence(centered(zoo.relu))
    >>> cert.holds, cert.mean.exact, cert.nonlinear_witness[0]
    (True, 0, 2)
    >>> independence("relu").behaviour
    'to 1'
    """

    activation: Activation
    holds: bool | None
    mean: Result
    mean_is_zero: bool | None
    mean_argument: str
    second_moment: Result
    nonlinear: bool | None
    nonlinear_witness: tuple[int, Result] | None
    nonlinear_argument: str
    a1: Result
    rate: Result
    slope_at_one: Result
    behaviour: str
    limit: Result | None
    approach: str
    reason: str
    dps: int
    correlation_map: Any = field(compare=False, repr=False)

    @cached_property
    def approach_constant(self) -> Result | None:
        """c in 1 - rho_l ~ c/l^2 when correlations creep to 1 with C'(1) = 1 (exact, from the
        closed form; None otherwise). ReLU: 9 pi^2/2."""
        if self.behaviour != "to 1" or sign_of(self.slope_at_one, 1) != 0:
            return None
        return _inverse_square_constant(self.correlation_map, self.dps)

    def gamma(self, rho0: Any) -> Result:
        """gamma = C(|rho_0|)/|rho_0|, the contraction factor of the bound |rho_l| <= gamma^l |rho_0|.

        >>> from ncsym import centered, zoo
        >>> independence(centered(zoo.relu)).gamma(0.5).exact < 1
        True
        """
        start = _check_start(rho0, allow_zero=False)
        value = self.correlation_map.evaluate(abs(start), self.dps)
        magnitude = Result.from_exact(abs(start), label="|rho_0|", method="given", dps=self.dps)
        return combine(lambda c, r: c / r, value, magnitude, label="gamma", method="C(|rho_0|)/|rho_0|",
                       dps=self.dps)

    def bound(self, rho0: Any, depth: int) -> Result:
        """The guaranteed bound gamma^depth |rho_0| on |rho_depth| (valid when ``holds``)."""
        self._require_holds()
        depth = check_integer(depth, "depth", 0)
        start = _check_start(rho0, allow_zero=True)
        if start == 0:
            return Result.from_exact(sympy.Integer(0), label="bound", method="rho_0 = 0", dps=self.dps)
        gamma = self.gamma(rho0)
        magnitude = Result.from_exact(abs(start), label="|rho_0|", method="given", dps=self.dps)
        return combine(lambda g, r: g**depth * r, gamma, magnitude, label=f"gamma^{depth} |rho_0|",
                       method="|rho_l| <= gamma^l |rho_0|", dps=self.dps)

    def depth_to_reach(self, rho0: Any, eps: Any) -> int:
        """The least depth l with |rho_l| <= eps, by iterating C (float64, checked at dps digits
        when the float iterate lands within rounding of eps).

        >>> from ncsym import centered, zoo
        >>> independence(centered(zoo.relu)).depth_to_reach(0.9, 1e-3)
        30
        """
        start = _check_start(rho0, allow_zero=True)
        check_real(eps, "eps")
        eps_value = float(eps)
        if not 0 < eps_value < 1:
            raise DomainError(f"eps must lie in (0, 1), got {eps!r}")
        if abs(float(start)) <= eps_value:
            return 0
        if self.holds is not True:
            raise ConvergenceError(
                f"correlations under {self.activation.name} do not go to 0 ({self.behaviour}); "
                f"|rho_l| <= {eps_value} is not reached from rho_0 = {start}")
        C = self.correlation_map
        gamma = float(self.gamma(rho0)) * (1 + 1e-12)
        limit = math.ceil(math.log(eps_value / abs(float(start))) / math.log(gamma)) if gamma < 1 else 10**6
        path = C.iterate(float(start), limit)
        below = np.nonzero(np.abs(path) <= eps_value)[0]
        if below.size == 0:
            raise ConvergenceError("the iterates did not reach eps within the depth the theorem's bound guarantees")
        depth = int(below[0])
        margin = 1e-9 * eps_value
        if abs(abs(path[depth]) - eps_value) < margin or abs(abs(path[depth - 1]) - eps_value) < margin:
            exact_path = C.iterate(start, depth, dps=max(self.dps, 20))
            if abs(exact_path[depth].value) + exact_path[depth].error > eps_value:
                return depth + 1
        return depth

    def _require_holds(self) -> None:
        if self.holds is not True:
            raise ConvergenceError(f"the theorem's bound needs a zero-mean nonlinear activation: {self.reason}")

    def latex(self) -> str:
        """A short human-readable proof of the verdict, with the exact quantities."""
        return _latex(self)

    def _repr_markdown_(self) -> str:
        """Jupyter: the proof as Markdown with inline math (a text paragraph is not a LaTeX math repr)."""
        import re

        return re.sub(r"\\textbf\{(.*?)\}", r"**\1**", self.latex())


def _check_start(rho0: Any, *, allow_zero: bool) -> sympy.Expr:
    from ncsym.depth.inputs import _exact_rho

    start = _exact_rho(rho0)
    if abs(start) >= 1:
        raise DomainError(f"the theorem concerns |rho_0| < 1, got {start}")
    if start == 0 and not allow_zero:
        raise DomainError("gamma = C(|rho_0|)/|rho_0| needs rho_0 != 0")
    return start


@budgeted
def independence(act: Any, *, dps: int | None = None) -> IndependenceCertificate:
    """Decide the zero-mean theorem for ``act`` (Activation, zoo name or expression string).

    >>> from ncsym import zoo
    >>> cert = independence(zoo.tanh)
    >>> cert.holds, cert.mean_argument
    (True, 'odd symmetry: sigma(-x) = -sigma(x)')
    >>> round(float(cert.rate), 6)
    0.93047
    >>> independence(zoo.identity).behaviour
    'stays put'
    """
    from ncsym.depth.correlation import correlation_map
    from ncsym.depth.expectations import _is_odd

    act = activation(act)
    dps = working_dps(dps)
    C = correlation_map(act, dps=dps)
    mean, mean_zero, mean_argument = _decide_mean(act, dps, _is_odd(act))
    nonlinear, witness, nonlinear_argument = _decide_nonlinear(act, C, dps)
    second = C.second_moment
    a1 = C.first_hermite
    rate = C.slope_at_zero
    slope_one = C.slope_at_one
    if mean_zero is True and nonlinear is True:
        holds, behaviour = True, "decorrelates"
        limit = Result.from_exact(sympy.Integer(0), label="lim rho_l", method="zero-mean theorem", dps=dps)
        approach = "|rho_l| ~ const * b_1^l (b_1 = C'(0))" if sign_of(rate) != 0 else "faster than geometric (b_1 = 0)"
        reason = "E[sigma] = 0 and sigma is nonlinear"
    elif mean_zero is True and nonlinear is False:
        holds, behaviour, limit = False, "stays put", None
        approach = "C(rho) = rho: every correlation is a fixed point"
        reason = "sigma is linear with zero mean, so C is the identity"
    elif mean_zero is False:
        holds = False
        point = C.interior_fixed_point(dps)
        if point is not None:
            behaviour, limit = "interior fixed point", point.value
            approach = f"geometric at rate C'(rho*) = {mpmath.nstr(point.slope.value, 6)}"
        else:
            behaviour = "to 1"
            limit = Result.from_exact(sympy.Integer(1), label="lim rho_l", method="C'(1) <= 1", dps=dps)
            if sign_of(slope_one, 1) == 0:
                approach = "1 - rho_l ~ c / l^2 (c: approach_constant)"
            else:
                approach = "1 - rho_l ~ const * C'(1)^l"
        reason = "E[sigma] != 0, so C(0) > 0 and correlations go to the smallest positive fixed point"
    else:
        holds, behaviour, limit, approach = None, "undecided", None, "undecided"
        parts = []
        if mean_zero is None:
            parts.append(f"E[sigma] = {mean} cannot be separated from 0")
        if nonlinear is None:
            parts.append("no Hermite coefficient a_n (n >= 2) could be shown nonzero")
        reason = "; ".join(parts)
    return IndependenceCertificate(
        activation=act, holds=holds, mean=mean, mean_is_zero=mean_zero, mean_argument=mean_argument,
        second_moment=second, nonlinear=nonlinear, nonlinear_witness=witness,
        nonlinear_argument=nonlinear_argument, a1=a1, rate=rate, slope_at_one=slope_one,
        behaviour=behaviour, limit=limit, approach=approach,
        reason=reason, dps=dps, correlation_map=C,
    )


def _decide_mean(act: Activation, dps: int, odd: bool | None) -> tuple[Result, bool | None, str]:
    from ncsym.gaussian import moments as gaussian
    if odd:
        zero = Result.from_exact(sympy.Integer(0), label="E[sigma]", method="odd symmetry", dps=dps)
        return zero, True, "odd symmetry: sigma(-x) = -sigma(x)"
    mean = gaussian.gaussian_mean(act, dps=dps)
    sign = sign_of(mean)
    if sign is None and not mean.is_exact:
        # One retry at higher precision before calling it undecided.
        mean = gaussian.gaussian_mean(act, dps=2 * dps + GUARD_DIGITS)
        sign = sign_of(mean)
    if sign is None:
        return mean, None, "undecided: the error bound of E[sigma] contains 0"
    if mean.is_exact:
        return mean, sign == 0, "exact closed form"
    return mean, False, "numeric, with an error bound that excludes 0"


def _decide_nonlinear(act: Activation, C: Any, dps: int) -> tuple[bool | None, tuple[int, Result] | None, str]:
    if C.is_affine:
        return False, None, "sigma'' = 0 (as a distribution): sigma is affine"
    moments = [C.mean, C.first_hermite]
    for n in range(2, _WITNESS_ORDERS + 1):
        moments.append(_z_moment(act, n, dps))
        coefficient = hermite_from_moments(moments, n, dps, act.name)
        sign = sign_of(coefficient)
        if sign is not None and sign != 0:
            kind = "exact" if coefficient.is_exact else "error bound excludes 0"
            return True, (n, coefficient), f"a_{n} != 0 ({kind})"
    return None, None, f"undecided: no a_n (2 <= n <= {_WITNESS_ORDERS}) separated from 0"


def _z_moment(act: Activation, k: int, dps: int) -> Result:
    from ncsym.gaussian import moments as gaussian
    return gaussian.expectation(act, z_power=k, dps=dps)


def hermite_from_moments(moments: list[Result], n: int, dps: int, name: str = "sigma") -> Result:
    """a_n = E[sigma(z) He_n(z)]/sqrt(n!) from the moments m_k = E[z^k sigma(z)], k <= n.

    >>> m = [Result.from_exact(v) for v in (0, 1, 0, 3)]  # sigma(x) = x
    >>> hermite_from_moments(m, 3, 15).exact
    0
    """
    t = sympy.Symbol("t")
    coefficients = sympy.Poly(sympy.hermite_prob(n, t), t).all_coeffs()[::-1]  # He_n = sum c_k t^k
    used = [(int(c), moments[k]) for k, c in enumerate(coefficients) if c != 0]
    norm = Result.from_exact(sympy.sqrt(sympy.factorial(n)), label=f"sqrt({n}!)", dps=dps)

    def value(root, *ms):
        total = 0
        for (c, _), m in zip(used, ms):
            total = total + c * m
        return total / root

    return combine(value, norm, *[m for _, m in used], label=f"a_{n}[{name}]",
                   method="E[sigma He_n]/sqrt(n!) from Gaussian moments", dps=dps)


def _inverse_square_constant(C: Any, dps: int) -> Result | None:
    """c in 1 - rho_l ~ c/l^2 when C(1 - e) = 1 - e + kappa e^(3/2) + ...: c = 4/kappa^2 (closed forms only)."""
    from ncsym.depth.inputs import RHO

    form = C.closed_form
    if form is None:
        return None
    t = sympy.Symbol("t", positive=True)
    try:
        expansion = sympy.series(form.subs(RHO, 1 - t**2) - 1 + t**2, t, 0, 4).removeO()
    except Exception:  # sympy's series gives up on some forms
        return None
    if any(sympy.simplify(expansion.coeff(t, k)) != 0 for k in range(3)):
        return None
    kappa = sympy.simplify(expansion.coeff(t, 3))
    if not kappa.is_number or kappa.is_positive is not True or not kappa.is_finite:
        return None
    return Result.from_exact(sympy.simplify(4 / kappa**2), label="c", method="C(1 - e) = 1 - e + kappa e^(3/2) + ...",
                             dps=dps)


def _latex(cert: IndependenceCertificate) -> str:
    def show(r: Result) -> str:
        return r.latex()

    act = cert.activation
    lines = [
        rf"\textbf{{Activation.}} $\sigma(x) = {act.latex()}$, natural hyperparameters "
        r"($\sigma_b^2 = 0$, $\sigma_w^2 = 1/\mathbb{E}[\sigma(z)^2]$), so "
        r"$C(\rho) = \sum_{n \ge 0} b_n \rho^n$ with $b_n = a_n^2/\mathbb{E}[\sigma^2] \ge 0$ (Mehler).",
        rf"$\mathbb{{E}}[\sigma(z)] = {show(cert.mean)}$ ({cert.mean_argument}); "
        rf"$\mathbb{{E}}[\sigma(z)^2] = {show(cert.second_moment)}$; $a_1 = {show(cert.a1)}$.",
    ]
    if cert.nonlinear_witness is not None:
        n, coefficient = cert.nonlinear_witness
        lines.append(rf"Nonlinear: $a_{{{n}}} = {show(coefficient)} \neq 0$.")
    else:
        lines.append(rf"Nonlinearity: {cert.nonlinear_argument}.")
    if cert.holds is True:
        lines.append(
            r"\textbf{Verdict: correlations vanish with depth.} $b_0 = \mathbb{E}[\sigma]^2/\mathbb{E}[\sigma^2] = 0$ and "
            r"some $b_n > 0$ with $n \ge 2$, so $C(r)/r = \sum_{n\ge1} b_n r^{n-1}$ is increasing and $< 1$ on $(0, 1)$. "
            r"With $|C(\rho)| \le C(|\rho|)$ this gives $|\rho_\ell| \le \gamma^\ell |\rho_0|$, "
            r"$\gamma = C(|\rho_0|)/|\rho_0| < 1$, and the asymptotic rate "
            rf"$b_1 = a_1^2/\mathbb{{E}}[\sigma^2] = {show(cert.rate)}$.")
    elif cert.behaviour == "stays put":
        lines.append(r"\textbf{Verdict: no.} $\sigma$ is linear with zero mean, so $C(\rho) = \rho$: correlations never move.")
    elif cert.holds is False:
        target = "1" if cert.limit is None else show(cert.limit)
        lines.append(
            r"\textbf{Verdict: no.} $\mathbb{E}[\sigma] \neq 0$ gives $C(0) = b_0 > 0$, so $0$ is not a fixed point and "
            rf"correlations converge to the smallest fixed point in $(0, 1]$: $\rho^* = {target}$ "
            rf"($C'(1) = {show(cert.slope_at_one)}$).")
        if cert.approach_constant is not None:
            lines.append(rf"Since $C'(1) = 1$, the approach is algebraic: $1 - \rho_\ell \sim {show(cert.approach_constant)}/\ell^2$.")
    else:
        lines.append(rf"\textbf{{Verdict: undecided.}} {cert.reason}.")
    return "\n\n".join(lines)
