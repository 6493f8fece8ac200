"""The DEQ kernel to any precision for activations without a closed-form dual kernel.

The fixed point K* = sigma_w2 V_phi(K*) + sigma_u2 K0 splits: its diagonal solves the scalar
equation q_a = sigma_w2 E[phi(sqrt(q_a) z)^2] + sigma_u2 K0_aa, the variance map's fixed point
with bias sigma_u2 K0_aa (:func:`ncsym.depth.variance_map`, certified by sign changes); with
the diagonal fixed, each off-diagonal entry solves c = sigma_w2 k_{q_a, q_b}(c / sqrt(q_a q_b))
+ sigma_u2 K0_ab, a scalar contraction with the same rate sigma_w Lip(phi), solved by the
secant method on the dual kernel's numeric evaluation (:meth:`ncsym.kernels.DualKernel.evaluate`:
the Mehler series with a rigorous tail bound, or quadrature). The error bound adds the final
residual and the evaluation errors, divided by 1 - rate, and the diagonal's error carried
through with the same factor: an estimate (the sensitivity to q is not bounded separately).

>>> import numpy as np
>>> from ncsym.models.deq import deq_kernel
>>> k = deq_kernel("tanh", np.array([[1.0, 0.0]]), sigma_w2=0.36, sigma_u2=1, dps=20)
>>> bool(k.mp_error < 1e-20), bool(abs(float(k.mp_preactivation[0, 0]) - k.preactivation[0, 0]) < 1e-10)
(True, True)
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import sympy

from ncsym.core.errors import ConvergenceError, DomainError
from ncsym.core.results import GUARD_DIGITS
from ncsym.symbolic.activations import Activation

__all__ = ["numeric_fixed_point"]

#: secant steps allowed per off-diagonal entry (the contraction converges superlinearly)
_SECANT_STEPS = 60


def _rational(value: Any) -> sympy.Rational:
    """An mpf (or float) as the exact binary rational it holds."""
    man, exp = mpmath.mpf(value).man_exp
    return sympy.Integer(man) * sympy.Integer(2) ** exp


def numeric_fixed_point(act: Activation, data: np.ndarray, w: sympy.Expr, u: sympy.Expr, check: Any,
                        dps: int, max_iter: int = _SECANT_STEPS) -> tuple[Any, Any, str]:
    """(K* as an mpmath matrix, an entrywise error bound, the method) at ``dps`` digits.

    Needs a certified contraction (``check.holds``). Raises :class:`ConvergenceError` when a
    secant solve does not settle.

    >>> from ncsym.models.deq import contraction_check
    >>> from ncsym import zoo
    >>> K, err, _ = numeric_fixed_point(zoo.tanh, np.array([[1.0]]), sympy.Rational(9, 25), sympy.Integer(1),
    ...                                 contraction_check("tanh", 0.36), 20)
    >>> mpmath.nstr(K[0, 0], 15), err < 1e-20
    ('1.15118930663177', True)
    """
    from ncsym.depth.variance import variance_map
    from ncsym.kernels.dual import dual_kernel

    if not check.holds:
        raise DomainError("the high-precision DEQ kernel needs a certified contraction for its error bound")
    work = dps + GUARD_DIGITS
    P, d = data.shape
    rows = [[sympy.Rational(float(v)) for v in row] for row in data]  # float inputs are exact binary numbers
    K0 = [[sum(rows[a][k] * rows[b][k] for k in range(d)) / d for b in range(P)] for a in range(P)]
    diagonal = [variance_map(act, w, u * K0[a][a], dps=work).q_star for a in range(P)]
    rate = mpmath.mpf(check.rate)
    with mpmath.workdps(work + 10):
        K = mpmath.matrix(P, P)
        diagonal_error = max(mpmath.mpf(q.error) for q in diagonal)
        error = diagonal_error
        for a in range(P):
            K[a, a] = mpmath.mpf(diagonal[a].value)
        w_mp, u_mp = (mpmath.mpf(sympy.Rational(v).p) / sympy.Rational(v).q for v in (w, u))
        target = mpmath.mpf(10) ** (-(dps + 2)) * max(K[a, a] for a in range(P))
        for a in range(P):
            for b in range(a + 1, P):
                kernel = dual_kernel(act, q1=_rational(K[a, a]), q2=_rational(K[b, b]))
                scale = mpmath.sqrt(K[a, a] * K[b, b])
                c0_ab = mpmath.mpf(K0[a][b].p) / K0[a][b].q
                worst = [mpmath.mpf(0)]

                def residual(c):
                    rho = max(min(c / scale, mpmath.mpf(1)), mpmath.mpf(-1))
                    value = kernel.evaluate(rho, dps=work)
                    worst[0] = max(worst[0], w_mp * mpmath.mpf(value.error))
                    return w_mp * mpmath.mpf(value.value) + u_mp * c0_ab - c

                x0 = u_mp * c0_ab
                x1 = x0 + residual(x0)
                f0, f1 = residual(x0), residual(x1)
                for _ in range(int(max_iter)):
                    if abs(f1) <= target or f1 == f0:
                        break
                    x0, x1, f0 = x1, x1 - f1 * (x1 - x0) / (f1 - f0), f1
                    f1 = residual(x1)
                else:
                    raise ConvergenceError(f"the DEQ kernel entry ({a}, {b}) of {act.name} did not settle at "
                                           f"{dps} digits in {max_iter} secant steps")
                K[a, b] = K[b, a] = x1
                # |c - c*| <= |T(c) - c| / (1 - rate); evaluation and diagonal errors enter the same way
                error = max(error, (abs(f1) + worst[0] + 2 * diagonal_error) / (1 - rate))
    method = ("diagonal: variance-map fixed points (certified); off-diagonal: secant on the numeric dual "
              "kernel, error = (residual + evaluation error + diagonal error) / (1 - rate), an estimate")
    return K, error, method
