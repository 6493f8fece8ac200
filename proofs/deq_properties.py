"""The DEQ kernel's definiteness (with its hypotheses), its digits without a closed form, and its NTK."""

from __future__ import annotations

import mpmath
import numpy as np
import sympy

from ncsym import zoo
from ncsym.models import deq_empirical_ntk, deq_kernel, deq_ntk

NAME = "deq_properties"
TITLE = "The DEQ kernel: when it is definite, to any precision, and its NTK"
STATEMENT = ("K* = sigma_w2 V_phi(K*) + sigma_u2 K0 is strictly positive definite for pairwise non-parallel inputs and "
             "a non-polynomial phi (Gao, Huo, Liu & Gao 2023), not for every set of distinct inputs: an odd phi maps "
             "{x, -x} to u_2 = -u_1 (the antisymmetric pair is invariant under T, since k(-rho) = -k(rho)), so "
             "e_1 + e_2 is a null vector; a positively homogeneous phi maps {x, t x}, t > 0, to u_2 = t u_1. "
             "Without a closed-form dual kernel (tanh) the diagonal of K* solves the scalar variance-map equation, "
             "checked at the working precision by independent quadrature. The DEQ NTK is "
             "Theta* = K* / (1 - sigma_w2 Vdot(K*)), checked against sampled networks' implicit-function Jacobians.")
STATEMENT_LATEX = (r"\[ K^* \succ 0 \ \text{if } x_a \not\parallel x_b\ (a\ne b),\ \phi \text{ non-polynomial};\quad "
                   r"\phi \text{ odd}: K^*_{\{x,-x\}} = q\begin{pmatrix}1&-1\\-1&1\end{pmatrix};\quad "
                   r"\Theta^* = \frac{K^*}{1 - \sigma_w^2 \dot V_\phi(K^*)}. \]")


def run(ctx) -> None:
    # an odd phi keeps the antisymmetric pair: T maps [[q, -q], [-q, q]] to the same form, exactly
    q, w, u, k0 = sympy.symbols("q w u k_0", positive=True)
    V = sympy.Function("V")                                  # V(q) = E[phi(sqrt(q) z)^2]
    T = sympy.Matrix([[w * V(q) + u * k0, -w * V(q) - u * k0], [-w * V(q) - u * k0, w * V(q) + u * k0]])
    ctx.exact("odd phi on {x, -x}: (1, 1) T(K) (1, 1)^T = 0 whenever K is antisymmetric (E[phi(u) phi(-u)] = -V)",
              (sympy.Matrix([[1, 1]]) * T * sympy.Matrix([1, 1]))[0])
    v = np.array([1.0, 0.3, -0.5])
    for act, X, expected in ((zoo.tanh, [v, -v], False), (zoo.erf, [v, -v], False), (zoo.relu, [v, 2 * v], False),
                             (zoo.relu, [v, -v], True), (zoo.tanh, [v, 2 * v], True),
                             (zoo.tanh, [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], True)):
        k = deq_kernel(act, np.array(X), sigma_w2=0.36, sigma_u2=1)
        d = k.definiteness
        eig = float(np.linalg.eigvalsh(k.preactivation)[0])
        ok = d.holds is expected and (eig > 10 * d.bound if expected else abs(eig) <= 3 * k.error + 1e-14)
        ctx.require("numeric", f"{act.name} on {np.array(X).round(2).tolist()}: "
                    f"{'definite' if expected else 'singular'}, as decided", ok,
                    f"lambda_min = {eig:.3e}, bound {d.bound:.1e}")
    # tanh at the working precision: q = 0.36 E[tanh(sqrt(q) z)^2] + 1/2, by 1-D quadrature
    k = deq_kernel(zoo.tanh, np.array([[1.0, 0.0]]), sigma_w2=0.36, sigma_u2=1, dps=ctx.dps)
    with mpmath.workdps(ctx.dps + 10):
        qs = k.mp_preactivation[0, 0]
        root = mpmath.sqrt(qs)
        mean = mpmath.quad(lambda z: mpmath.tanh(root * z) ** 2 * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
        residual = mpmath.mpf(9) / 25 * mean + mpmath.mpf(1) / 2 - qs
    ctx.numeric(f"tanh DEQ kernel at {ctx.dps} digits (no closed form): the fixed-point residual by quadrature",
                residual, 0, 2 * k.mp_error + mpmath.mpf(10) ** (-ctx.dps))
    # the NTK against sampled implicit Jacobians (O(1/n) allowance)
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    width, networks = (48, 30) if ctx.quick else (128, 200)
    theory = deq_ntk(zoo.tanh, X, sigma_w2=0.36, sigma_u2=1).kernel
    mean_ntk, se = deq_empirical_ntk(zoo.tanh, X, width, networks, sigma_w2=0.36, sigma_u2=1, seed=9)
    for a, b in ((0, 0), (0, 1)):
        ctx.sampler(f"tanh DEQ NTK Theta*_{a}{b} against width-{width} implicit Jacobians (allowance 4/n)",
                    mean_ntk[a, b], theory[a, b], se[a, b], allowance=4 * abs(theory[a, b]) / width)
