"""Many Hermite coefficients at once by quadrature (private helpers of :mod:`ncsym.hermite_series.coefficients`).

a_n = int sigma(sqrt(q) z) h_n(z) phi(z) dz for all n <= N from one set of nodes: the weighted
values g_n(z_i) = w_i phi(z_i) sigma(sqrt(q) z_i) h_n(z_i) obey the normalized Hermite
recurrence g_{n+1} = (z g_n - sqrt(n) g_{n-1}) / sqrt(n + 1), run in fixed-point integer
arithmetic (exact integer products, one rounding per step), so N coefficients cost one pass.

Nodes: Gauss-Legendre panels on [-L, L], split at the activation's breakpoints, panel width
set by the distance from the real axis to the nearest complex singularity (tanh has poles at
+-i pi/2), node count by the digits wanted. The error bound of each coefficient is the gap
between two rules of different orders (the finer one is returned) plus a Cauchy-Schwarz bound
on the truncated tails; the loop refines until the bound meets the requested digits.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable

import mpmath
import numpy as np
import sympy
from mpmath.libmp import to_fixed

from ncsym.symbolic.activations import Activation, x
from ncsym.core.errors import ConvergenceError, DomainError
from ncsym.core.results import GUARD_DIGITS

#: Used when no complex singularity of the activation is recognized.
DEFAULT_STRIP = 0.5
#: Panel width when the activation is entire (the Hermite oscillation sets the scale).
ENTIRE_STRIP = 1.5


# -- nodes -----------------------------------------------------------------------------

@lru_cache(maxsize=64)
def gauss_legendre(m: int, dps: int) -> tuple[tuple, tuple]:
    """Nodes and weights of the m-point Gauss-Legendre rule on [-1, 1] to ``dps`` digits."""
    guesses, _ = np.polynomial.legendre.leggauss(m)
    nodes, weights = [], []
    with mpmath.workdps(dps + 10):
        for guess in guesses:
            t = mpmath.mpf(guess)
            for _ in range(100):
                p0, p1 = mpmath.mpf(1), t
                for k in range(2, m + 1):
                    p0, p1 = p1, ((2 * k - 1) * t * p1 - (k - 1) * p0) / k
                derivative = m * (t * p1 - p0) / (t * t - 1)
                step = p1 / derivative
                t -= step
                if abs(step) < mpmath.mpf(10) ** (-(dps + 8)):
                    break
            p0, p1 = mpmath.mpf(1), t
            for k in range(2, m + 1):
                p0, p1 = p1, ((2 * k - 1) * t * p1 - (k - 1) * p0) / k
            derivative = m * (t * p1 - p0) / (t * t - 1)
            nodes.append(t)
            weights.append(2 / ((1 - t * t) * derivative**2))
    return tuple(nodes), tuple(weights)


# -- the activation's analytic strip -----------------------------------------------------

def strip_half_width(act: Activation) -> float:
    """Distance (in x) from the real axis to the nearest complex singularity, conservatively.

    >>> from ncsym import zoo
    >>> round(strip_half_width(zoo.tanh), 4)    # poles at +-i pi/2
    1.5708
    """
    widths = [_piece_strip(p.expr) for p in act.pieces]
    return min(widths)


def _piece_strip(expr: sympy.Expr) -> float:
    widths = [math.inf]
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (sympy.tanh, sympy.sech, sympy.coth, sympy.csch)):
            widths.append(_level_set_distance(node.args[0], sympy.I * sympy.pi / 2, sympy.I * sympy.pi))
        elif isinstance(node, (sympy.tan, sympy.sec, sympy.cot, sympy.csc)):
            widths.append(DEFAULT_STRIP)
        elif isinstance(node, sympy.log):
            widths.append(_zero_distance(node.args[0]))
        elif isinstance(node, sympy.Pow) and node.exp.is_negative:
            widths.append(_zero_distance(node.base))
        elif isinstance(node, sympy.Pow) and not node.exp.is_Integer and node.base.has(x):
            widths.append(_zero_distance(node.base))
    return min(widths)


def _level_set_distance(u: sympy.Expr, offset: sympy.Expr, period: sympy.Expr) -> float:
    """min |Im x| over solutions of u(x) = offset + k * period (u polynomial in x)."""
    if not u.has(x):
        return math.inf
    if not u.is_polynomial(x):
        return DEFAULT_STRIP
    poly = sympy.Poly(u, x)
    if poly.degree() == 1:
        slope = abs(float(poly.all_coeffs()[0]))
        return float(abs(complex(offset))) / slope
    best = math.inf
    for k in range(0, 3):
        roots = np.roots([complex(c) for c in (poly - (offset + k * period)).all_coeffs()])
        best = min([best] + [abs(r.imag) for r in roots])
    return best if best > 0 else DEFAULT_STRIP


def _zero_distance(base: sympy.Expr) -> float:
    """Distance of the zeros of 1 + c exp(a x) (the sigmoid / softplus shape) from the real axis."""
    if not base.has(x):
        return math.inf
    if base.is_polynomial(x):
        roots = np.roots([complex(c) for c in sympy.Poly(base, x).all_coeffs()])
        imag = [abs(r.imag) for r in roots]
        return max(min(imag), 1e-3) if imag else math.inf
    constant, rest = base.as_coeff_Add()
    if isinstance(rest, sympy.Mul):
        factor, rest = rest.as_coeff_Mul()
    if isinstance(rest, sympy.exp):
        argument = sympy.expand(rest.args[0])
        if argument.is_polynomial(x) and sympy.degree(argument, x) == 1:
            slope = abs(float(sympy.Poly(argument, x).all_coeffs()[0]))
            # 1 + c e^{a x} = 0 needs a Im x = pi (mod 2 pi) when c > 0, else Im x = 0.
            return math.pi / slope if constant != 0 else math.inf
    return DEFAULT_STRIP


# -- parity ----------------------------------------------------------------------------------

def _mp_piece_functions(act: Activation) -> list[tuple[float, float, Callable]]:
    return [(p.lo, p.hi, sympy.lambdify(x, p.expr, modules="mpmath")) for p in act.pieces]


def _intervals(act: Activation, sqrt_q: mpmath.mpf, length: mpmath.mpf, half: bool) -> list[tuple]:
    """Integration intervals in z with the piece function active on each."""
    out = []
    lower = mpmath.mpf(0) if half else -length
    for lo, hi, f in _mp_piece_functions(act):
        a = lower if lo == -sympy.oo else max(lower, mpmath.mpf(sympy.N(lo, mpmath.mp.dps)) / sqrt_q)
        b = length if hi == sympy.oo else min(length, mpmath.mpf(sympy.N(hi, mpmath.mp.dps)) / sqrt_q)
        if b > a:
            out.append((a, b, f))
    return out


def _nodes(intervals: list[tuple], width: float, m: int, sqrt_q: mpmath.mpf, digits: int,
           square: bool = False) -> tuple[list, list]:
    """Nodes z_i and weights w_i phi(z_i) sigma(sqrt(q) z_i) (sigma^2 when ``square``)."""
    gl_nodes, gl_weights = gauss_legendre(m, digits)
    zs, gs = [], []
    inv_sqrt_2pi = 1 / mpmath.sqrt(2 * mpmath.pi)
    for a, b, f in intervals:
        panels = max(1, int(mpmath.ceil((b - a) / width)))
        h = (b - a) / panels
        for k in range(panels):
            centre, half = a + (k + mpmath.mpf(0.5)) * h, h / 2
            for t, w in zip(gl_nodes, gl_weights):
                z = centre + half * t
                value = f(sqrt_q * z)
                if isinstance(value, mpmath.mpc):
                    value = value.real
                if square:
                    value = value * value
                zs.append(z)
                gs.append(half * w * inv_sqrt_2pi * mpmath.exp(-z * z / 2) * value)
    return zs, gs


def _hermite_sums(zs: list, gs: list, n_max: int, bits: int) -> tuple[list, list]:
    """sum_i g_n(z_i) and sum_i |g_n(z_i)| for n = 0..n_max.

    Each node carries its own binary exponent (g_n(z_i) = G_{n,i} 2^{e_i}, G in fixed point
    with ``bits`` bits): h_n grows like z^n / sqrt(n!) where phi is tiny, and one absolute
    fixed-point scale would turn the rounding of phi(z_i) into large errors at high n.
    """
    xs, cur, shifts = [], [], []
    for z, g in zip(zs, gs):
        if g == 0:
            continue
        mantissa, exponent = mpmath.frexp(g)
        xs.append(to_fixed(z._mpf_, bits))
        cur.append(to_fixed(mantissa._mpf_, bits))
        shifts.append(int(exponent))
    prev = [0] * len(cur)
    with mpmath.workprec(bits + 20):
        root = [to_fixed(mpmath.sqrt(n)._mpf_, bits) for n in range(n_max + 1)]
        inverse_root = [to_fixed((1 / mpmath.sqrt(n + 1))._mpf_, bits) for n in range(n_max + 1)]

    def total(values: list, absolute: bool) -> int:
        out = 0
        for v, e in zip(values, shifts):
            if absolute and v < 0:
                v = -v
            out += v << e if e >= 0 else v >> -e
        return out

    sums, abs_sums = [total(cur, False)], [total(cur, True)]
    for n in range(n_max):
        r, c = root[n], inverse_root[n]
        nxt = [(((z * g) >> bits) - ((r * p) >> bits)) * c >> bits for z, g, p in zip(xs, cur, prev)]
        prev, cur = cur, nxt
        sums.append(total(cur, False))
        abs_sums.append(total(cur, True))
    return ([mpmath.ldexp(mpmath.mpf(s), -bits) for s in sums],
            [mpmath.ldexp(mpmath.mpf(s), -bits) for s in abs_sums])


def _growth(act: Activation, sqrt_q: mpmath.mpf, length: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(A, B) with |sigma(sqrt(q) z)| <= A + B |z| on sampled points out to 4 L (a tail model)."""
    f = act.mpmath()
    points = [length * k / 8 for k in range(1, 33)]
    values = [max(abs(f(sqrt_q * p)), abs(f(-sqrt_q * p))) for p in points]
    slope = max(v / p for v, p in zip(values[-8:], points[-8:]))
    intercept = max(max(v - slope * p for v, p in zip(values, points)), abs(f(mpmath.mpf(0))), mpmath.mpf(0))
    return intercept + 1, slope


def _tail_bound(act: Activation, sqrt_q: mpmath.mpf, length: mpmath.mpf) -> mpmath.mpf:
    """sqrt(E[sigma(sqrt(q) z)^2; |z| > L]) under |sigma| <= A + B|z|: bounds each |tail of a_n|."""
    a, b = _growth(act, sqrt_q, length)
    upper = mpmath.erfc(length / mpmath.sqrt(2)) / 2
    density = mpmath.npdf(length)
    second = a * a * upper + 2 * a * b * density + b * b * (length * density + upper)
    return mpmath.sqrt(2 * second)


def quadrature_coefficients(act: Activation, n_max: int, q: sympy.Expr, dps: int,
                            max_rounds: int = 6) -> tuple[list, list, dict]:
    """Values and error bounds of a_0..a_n_max to ``dps`` digits (relative), plus details."""
    if act.deltas:
        raise DomainError(f"{act.name} contains Dirac deltas; it has no numeric Hermite quadrature")
    if act.parameters:
        raise DomainError(f"{act.name} has symbolic parameters; substitute values first")
    symmetry = act.parity or None  # -1 odd, +1 even; 0 (neither) and None both mean no symmetry
    strip = strip_half_width(act)
    target_digits = dps + 2
    extra_digits = 15
    width_scale = 1.0
    node_scale = 1.0
    details: dict = {"parity": symmetry, "strip": strip}
    best = None
    for round_ in range(max_rounds):
        digits = target_digits + GUARD_DIGITS + extra_digits
        with mpmath.workdps(digits):
            sqrt_q = mpmath.sqrt(mpmath.mpf(sympy.N(q, digits + 5)))
            strip_z = (strip if math.isfinite(strip) else ENTIRE_STRIP) / float(sqrt_q)
            width = min(strip_z, ENTIRE_STRIP) * width_scale
            length = 2 * mpmath.sqrt(n_max + 1) + mpmath.sqrt(2 * math.log(10) * (digits + 5)) + 2
            length = max(length, 2 * mpmath.sqrt(math.log(10) * (digits + 5)) + 2)
            # Gauss-Legendre on a panel of half-width w/2 inside the Bernstein ellipse reaching
            # 0.8 of the strip gains 2 log10(rho) digits a node; h_n phi grows like e^{y sqrt(n)}.
            ratio = 0.8 * strip_z / (width / 2) if math.isfinite(strip) else 4.0
            rho = ratio + math.sqrt(1 + ratio * ratio)
            height = min(0.8 * strip_z, 2.0)
            growth_digits = height * math.sqrt(n_max + 1) / math.log(10)
            accuracy_digits = target_digits + 6 + (extra_digits - 15)
            m = int(math.ceil(node_scale * (accuracy_digits + growth_digits) / (2 * math.log10(rho)))) + 4
            m = min(max(m, 8), 400)
            m_fine = m + max(4, m // 3)
            intervals = _intervals(act, sqrt_q, length, half=symmetry is not None)
            bits = int(digits * 3.33) + 16
            coarse = _hermite_sums(*_nodes(intervals, width, m, sqrt_q, digits), n_max, bits)[0]
            zs, gs = _nodes(intervals, width, m_fine, sqrt_q, digits)
            fine, magnitude = _hermite_sums(zs, gs, n_max, bits)
            tail = _tail_bound(act, sqrt_q, length)
            rounding = len(zs) * (n_max + 2) * 8 * mpmath.mpf(2) ** (-bits)
            values, errors, ok, lost = [], [], True, 0.0
            scale = max(magnitude[0], mpmath.mpf(10) ** (-dps))
            for n in range(n_max + 1):
                if symmetry is not None and (n % 2 == 0) != (symmetry == 1):
                    values.append(mpmath.mpf(0))
                    errors.append(mpmath.mpf(0))
                    continue
                factor = 2 if symmetry is not None else 1
                value = factor * fine[n]
                error = factor * (abs(fine[n] - coarse[n]) + rounding * (1 + magnitude[n])) + tail
                values.append(value)
                errors.append(error)
                # Relative accuracy 10^-dps; coefficients below 10^-10 of the activation's scale
                # (often exact zeros no symmetry revealed) get absolute 10^-(dps+10) instead.
                floor = scale * mpmath.mpf(10) ** (-10)
                if abs(value) > floor:
                    lost = max(lost, float(mpmath.log10(magnitude[n] / abs(value) + 1)))
                tolerance = max(abs(value), floor) * mpmath.mpf(10) ** (-dps)
                if error > tolerance:
                    ok = False
        details.update(nodes=len(zs), order=m_fine, panel_width=float(width), length=float(length),
                       working_digits=digits, rounds=round_ + 1, converged=ok)
        best = (values, errors)
        if ok:
            return values, errors, details
        # Refine: more digits if cancellation ate the guard, else more nodes and narrower panels.
        if lost + 5 > extra_digits:
            extra_digits = int(lost) + 15
        node_scale *= 1.5
        width_scale *= 0.75
    if best is None:
        raise ConvergenceError(f"Hermite quadrature of {act.name} failed")
    return best[0], best[1], details


def quadrature_second_moment(act: Activation, q: sympy.Expr, dps: int) -> tuple[Any, Any]:
    """E[sigma(sqrt(q) z)^2] by the same panels, with an error estimate."""
    strip = strip_half_width(act)
    digits = dps + GUARD_DIGITS + 10
    with mpmath.workdps(digits):
        sqrt_q = mpmath.sqrt(mpmath.mpf(sympy.N(q, digits + 5)))
        strip_z = (strip if math.isfinite(strip) else ENTIRE_STRIP) / float(sqrt_q)
        width = min(strip_z, ENTIRE_STRIP)
        length = 2 * mpmath.sqrt(math.log(10) * (digits + 5)) + 4
        intervals = _intervals(act, sqrt_q, length, half=False)
        ratio = 0.8 * strip_z / (width / 2) if math.isfinite(strip) else 4.0
        rho = ratio + math.sqrt(1 + ratio * ratio)
        m = min(max(int(math.ceil(digits / (2 * math.log10(rho)))) + 4, 8), 400)
        coarse = mpmath.fsum(_nodes(intervals, width, m, sqrt_q, digits, square=True)[1])
        fine = mpmath.fsum(_nodes(intervals, width, m + max(4, m // 3), sqrt_q, digits, square=True)[1])
        tail = _tail_bound(act, sqrt_q, length) ** 2 * 4
        return +fine, abs(fine - coarse) + tail
