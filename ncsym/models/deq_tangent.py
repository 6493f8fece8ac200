"""The neural tangent kernel of a deep equilibrium layer (after Feng & Kolter, on the NTK of equilibrium models).

For the equilibrium g* = W phi(g*) + U x (NTK parametrization: W = sigma_w omega / sqrt(n),
U = sigma_u u / sqrt(n_in), omega and u standard Gaussian), the gradient of g* with respect to
(omega, u) follows from the implicit function theorem: with A = (I - W D)^-1, D = diag phi'(g*),

    d g*_i / d omega_jk = A_ij sigma_w phi(g*_k) / sqrt(n),    d g*_i / d u_jk = A_ij sigma_u x_k / sqrt(n_in),

so the empirical NTK of a unit, averaged over units, is
``(1/n) tr(A(x) A(x')^T) (sigma_w2 phi(g*(x)).phi(g*(x'))/n + sigma_u2 x.x'/n_in)``. As n grows the
second factor tends to sigma_w2 V_phi(K*) + sigma_u2 K0 = K* and the first to
1 / (1 - sigma_w2 Vdot(K*)), Vdot(K)_ab = E[phi'(u_a) phi'(u_b)] (the resolvent of the
linearized iteration), hence the DEQ NTK

    Theta*_ab = K*_ab / (1 - sigma_w2 Vdot(K*)_ab),

the fixed point of the finite-depth recursion Theta_{l+1} = K_{l+1} + sigma_w2 Vdot(K_l) o Theta_l.
It is finite under the contraction condition (sigma_w2 Vdot_ab <= sigma_w2 Lip(phi)^2 < 1). The
readout is not included (add the NNGP of the output layer for a trained readout).
:func:`deq_ntk` computes Theta*; :func:`deq_empirical_ntk` samples the finite-width one above.

>>> import numpy as np
>>> t = deq_ntk("identity", np.array([[1.0, 0.0], [0.6, 0.8]]), sigma_w2=0.5, sigma_u2=1)
>>> t.kernel.round(12).tolist()   # linear: Theta* = sigma_u2 K0 / (1 - sigma_w2)^2
[[2.0, 1.2], [1.2, 2.0]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ncsym.core.errors import DomainError, NcsymError, check_integer
from ncsym.models.deq import DEQKernel, _exact_positive, _inputs, deq_kernel
from ncsym.symbolic.activations import activation

__all__ = ["DEQNTK", "deq_ntk", "deq_empirical_ntk"]


@dataclass(frozen=True)
class DEQNTK:
    """``kernel``: Theta* (float64, [P, P]); ``nngp``: the DEQ kernel K* it is built on;
    ``derivative``: Vdot(K*); ``error``: a bound on the entries propagated from K*'s error
    (first order, with Vdot's sensitivity bounded by Lip(phi)^2 / (1 - rate^2))."""

    kernel: np.ndarray
    nngp: DEQKernel
    derivative: np.ndarray
    error: float | None


def deq_ntk(act: Any, X: Any, *, sigma_w2: Any, sigma_u2: Any, **options: Any) -> DEQNTK:
    """The infinite-width NTK of the DEQ equilibrium with respect to its weights W and U.

    ``options`` go to :func:`ncsym.models.deq.deq_kernel`. Raises :class:`DomainError` for
    activations whose derivative kernel is not a function (jumps: sign, step).

    >>> X = np.array([[1.0, 0.0], [0.6, 0.8]])
    >>> t = deq_ntk("relu", X, sigma_w2=0.5, sigma_u2=1)
    >>> bool(np.all(t.kernel > t.nngp.preactivation))   # the gradient adds the resolvent factor
    True
    """
    from ncsym.kernels.dual import kernel_matrix

    act = activation(act)
    if act.derivative().deltas:
        raise DomainError(f"{act.name} jumps, so phi' has a Dirac delta and the DEQ NTK is not defined")
    nngp = deq_kernel(act, X, sigma_w2=sigma_w2, sigma_u2=sigma_u2, **options)
    try:
        derivative = kernel_matrix(act, nngp.preactivation, derivative=True)
    except NcsymError as error:
        raise DomainError(f"the derivative kernel of {act.name} is not available: {error}") from None
    gain = nngp.sigma_w2 * derivative
    if not np.all(gain < 1):
        raise DomainError(f"sigma_w2 Vdot(K*) reaches {gain.max():.6g} >= 1: the linearized iteration does not "
                          "contract and the DEQ NTK is infinite")
    kernel = nngp.preactivation / (1 - gain)
    error = None
    if nngp.error is not None and nngp.contraction.lipschitz is not None:
        lip2 = (float(nngp.contraction.lipschitz.value) + float(nngp.contraction.lipschitz.error)) ** 2
        sensitivity = 1 / (1 - gain) + np.abs(kernel) * nngp.sigma_w2 * lip2 / (1 - gain)
        error = float(np.max(sensitivity) * nngp.error) + 1e-13 * float(np.abs(kernel).max())
    return DEQNTK(kernel, nngp, derivative, error)


def deq_empirical_ntk(act: Any, X: Any, width: int, n_networks: int, *, sigma_w2: float, sigma_u2: float,
                      seed: int = 0, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard error) over networks of the finite-width DEQ NTK (module docstring formula).

    >>> X = np.array([[1.0, 0.0], [0.6, 0.8]])
    >>> mean, se = deq_empirical_ntk("tanh", X, 32, 8, sigma_w2=0.36, sigma_u2=1, seed=0)
    >>> mean.shape, bool(np.all(se > 0))
    ((2, 2), True)
    """
    from ncsym.models.deq_sampling import deq_fixed_points

    act = activation(act)
    width = check_integer(width, "width", minimum=2)
    n_networks = check_integer(n_networks, "n_networks", minimum=2)
    data = _inputs(X)
    sigma_w2 = float(_exact_positive(sigma_w2, "sigma_w2", allow_zero=True))
    sigma_u2 = float(_exact_positive(sigma_u2, "sigma_u2"))
    P, n_in = data.shape
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), width, 7])))
    W = rng.standard_normal((n_networks, width, width)) * math.sqrt(sigma_w2 / width)
    U = rng.standard_normal((n_networks, width, n_in)) * math.sqrt(sigma_u2 / n_in)
    out = deq_fixed_points(W, U, data, act.numpy(), tol=tol)
    if not out["converged"].all():
        raise DomainError(f"{int((~out['converged']).sum())} of {n_networks} sampled DEQs did not converge")
    slope = act.derivative().numpy()
    samples = np.empty((n_networks, P, P))
    eye = np.eye(width)
    for b in range(n_networks):
        g, f = out["g"][b], out["f"][b]                        # [width, P]
        resolvents = [np.linalg.inv(eye - W[b] * slope(g[:, a])[None, :]) for a in range(P)]
        features = sigma_w2 * f.T @ f / width + sigma_u2 * data @ data.T / n_in
        for a in range(P):
            for c in range(a, P):
                trace = float(np.sum(resolvents[a] * resolvents[c])) / width
                samples[b, a, c] = samples[b, c, a] = trace * features[a, c]
    return samples.mean(axis=0), samples.std(axis=0, ddof=1) / math.sqrt(n_networks)
