"""The NNPK of a network with k logits is k times the NNGP kernel of its readout (Amid et al. 2022)."""

from __future__ import annotations


import numpy as np

from ncsym import zoo
from ncsym.models.prior_kernel import nnpk

NAME = "nnpk_limit"
TITLE = "The neural-network prior kernel and its wide limit"
STATEMENT = ("K(x, x') = E <f(x), f(x')> over random initializations of a network with k logits. Given the last "
             "hidden layer the k logits are i.i.d., so K = k E[sigma_w2 a(x).a(x')/n_L + sigma_b2]; with one "
             "hidden layer this equals k K_NNGP exactly at every width. ncsym's limit is checked against "
             "k times the NNGP kernel assembled by hand from the arc-cosine kernel, and sampled ReLU "
             "networks (1 and 3 logits, both estimators) against it within 5 standard errors.")
STATEMENT_LATEX = (r"\[ K(x,x') = \sum_{j\le k} \mathbb{E}[f_j(x) f_j(x')] = k\, K_{\mathrm{NNGP}}(x,x'), \quad "
                   r"K_{\mathrm{NNGP}} = \sigma_w^2 \sqrt{q_x q_{x'}}\; k_{\mathrm{relu}}(\rho) \ \text{(one hidden layer)}. \]")

X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.5, 0.5]])
SIGMA_W2 = 2.0


def _nngp_by_hand(data: np.ndarray, w: float) -> np.ndarray:
    K1 = w * data @ data.T / data.shape[1]
    d = np.sqrt(np.diag(K1))
    rho = np.clip(K1 / np.outer(d, d), -1, 1)
    arccos = (np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho) / (2 * np.pi)
    return w * np.outer(d, d) * arccos


def run(ctx) -> None:
    networks = 400 if ctx.quick else 4000
    reference = _nngp_by_hand(X, SIGMA_W2)
    for logits in (1, 3):
        for estimator in ("conditional", "logits"):
            est = nnpk(zoo.relu, X, networks, width=32, depth=1, logits=logits, sigma_w2=SIGMA_W2,
                       estimator=estimator, seed=11 + logits)
            if estimator == "conditional":
                gap = float(np.abs(est.limit - logits * reference).max())
                ctx.numeric(f"{logits} logit(s): ncsym's limit = {logits} x NNGP (arc-cosine by hand, float64)",
                            gap, 0, 1e-13 * logits * float(np.abs(reference).max()))
            z = np.abs(est.estimate.value - est.limit) / est.estimate.std_error
            worst = np.unravel_index(int(np.argmax(z)), z.shape)
            ctx.sampler(f"{logits} logit(s), {estimator} estimator, width 32, {networks} networks: worst entry "
                        f"{tuple(int(i) for i in worst)} of the sampled NNPK", est.estimate.value[worst],
                        est.limit[worst], est.estimate.std_error[worst])
