"""The drift of the shaped-ReLU Neural Covariance SDE (Li, Nica & Roy 2022)."""

from __future__ import annotations

import sympy

from ncsym.models.sde import C_MINUS, C_PLUS, RHO, WIDTH, shaped_relu_sde

NAME = "sde_drift"
TITLE = "The shaped-ReLU correlation SDE: drift and diffusion"
STATEMENT = ("For the shaped ReLU s_+ max(x,0) + s_- min(x,0), s = 1 + c/sqrt(n), with c = 1/E[sigma^2], the "
             "correlation follows d rho = [nu(rho) - rho (1 - rho^2)/2] dt + (1 - rho^2) dB with "
             "nu(rho) = (c_+ - c_-)^2/(2 pi) (sqrt(1 - rho^2) - rho arccos rho), and log V drifts at -1 with "
             "variance 2. Each formula stated in advance (after Li, Nica & Roy 2022) is compared symbolically with ncsym's derivation "
             "(ncsym.models.sde claims). Independently, the exact width-n correlation map, assembled by hand from "
             "the arc-cosine kernel (sigma = s_+ relu(x) - s_- relu(-x)), satisfies "
             "C_n(rho) - rho = f_n nu(rho)/n with f_n = 2/(s_+^2 + s_-^2) -> 1, so n (C_n - rho) -> nu exactly.")
STATEMENT_LATEX = (r"\[ d\rho_t = \Big[\nu(\rho_t) - \tfrac{1}{2}\rho_t(1-\rho_t^2)\Big]dt + (1-\rho_t^2)\,dB_t, \quad "
                   r"\nu(\rho) = \frac{(c_+ - c_-)^2}{2\pi}\Big(\sqrt{1-\rho^2} - \rho\arccos\rho\Big), \quad "
                   r"C_n(\rho) - \rho = \frac{2}{s_+^2 + s_-^2}\,\frac{\nu(\rho)}{n}. \]")


def run(ctx) -> None:
    sde = shaped_relu_sde()
    for claim in sde.claims:
        ctx.require("exact", f"stated {claim.name} = ncsym's derivation (symbolic c_+, c_-)", claim.holds,
                    f"claimed {claim.claimed}; derived {claim.derived}",
                    formula=f"{sympy.latex(claim.claimed)} = {sympy.latex(claim.derived)}")

    rho, n, cp, cm = RHO, WIDTH, C_PLUS, C_MINUS
    a, b = sympy.symbols("s_+ s_-", positive=True)
    k = lambda r: (sympy.sqrt(1 - r**2) + (sympy.pi - sympy.acos(r)) * r) / (2 * sympy.pi)  # arc-cosine
    g = (sympy.sqrt(1 - rho**2) - rho * sympy.acos(rho)) / (2 * sympy.pi)
    # sigma = s_+ relu(x) - s_- relu(-x) and E[relu(u) relu(-v)] = k(-rho)
    kernel = (a**2 + b**2) * k(rho) - 2 * a * b * k(-rho)
    ctx.exact("E[sigma(u) sigma(v)] at rho = 1 is E[sigma^2] = (s_+^2 + s_-^2)/2", kernel.subs(rho, 1) - (a**2 + b**2) / 2)
    ctx.exact("exact width-n map: (s_+^2 + s_-^2) (C_n(rho) - rho) = 2 (s_+ - s_-)^2 (sqrt(1-rho^2) - rho arccos rho)/(2 pi)",
              sympy.expand(2 * kernel - (a**2 + b**2) * rho - 2 * (a - b) ** 2 * g))
    s_plus, s_minus = 1 + cp / sympy.sqrt(n), 1 + cm / sympy.sqrt(n)
    ctx.exact("(s_+ - s_-)^2 = (c_+ - c_-)^2/n", sympy.expand((s_plus - s_minus) ** 2 - (cp - cm) ** 2 / n))
    nu = (cp - cm) ** 2 * g
    f_n = 2 / (s_plus**2 + s_minus**2)
    ctx.require("exact", "f_n -> 1 as n -> infinity, so n (C_n - rho) -> nu(rho)",
                sympy.limit(f_n, n, sympy.oo) == 1)
    ctx.exact("nu(rho) = ncsym's mean part of the correlation drift", nu - sde.correlation_mean_part,
              formula=rf"\nu(\rho) = {sympy.latex(nu)}")
    ctx.exact("drift = mean part + Ito part -rho (1 - rho^2)/2",
              sde.correlation_drift - nu + rho * (1 - rho**2) / 2)
    ctx.exact("the drift vanishes at rho = 1 (identical inputs stay identical)", sde.correlation_drift.subs(rho, 1))
    # with c_+ = c_- the shaped ReLU is linear and only the Ito term is left
    ctx.exact("c_+ = c_-: no mean part (a linear network)", sde.correlation_mean_part.subs(cm, cp))
