"""Finite shaped networks, sampled exactly in Gram space (Li, Nica & Roy 2022, Section 3).

Given the layer-l kernel V_l, the next layer's rows are i.i.d. N(0, V_l), so a depth-d network
of width n on two inputs is simulated by d draws of an n x 2 Gaussian matrix: no weight matrix
is formed. :func:`sample_shaped_relu_networks` and :func:`sample_smooth_shaped_networks` return
rho_T and log V^{aa}_T of the output kernel.

>>> s = sample_shaped_relu_networks(0, -1, 16, 8, 0.3, 50, seed=0)
>>> s.rho.shape
(50,)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ncsym.symbolic.activations import exact_number
from ncsym.core.errors import check_integer
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.core.numbers import real_float
from ncsym.models.sde import smooth_shaped
from ncsym.models.sde_simulation import _initial

__all__ = ["NetworkSample", "sample_shaped_relu_networks", "sample_smooth_shaped_networks"]


@dataclass(frozen=True)
class NetworkSample:
    """rho_T and log V^{aa}_T of sampled shaped-ReLU networks, V_d = (c/n) sigma(H_d) sigma(H_d)^T."""

    n: int
    depth: int
    c_plus: float
    c_minus: float
    rho0: float
    rho: np.ndarray
    log_norms: np.ndarray

    @property
    def T(self) -> float:
        """Depth over width."""
        return self.depth / self.n


def shaping(c_plus: Any, c_minus: Any) -> tuple[float, float]:
    """The shaping constants (c_+, c_-) as floats, or a DomainError (text, NaN, infinities).

    >>> shaping(0, -0.5)
    (0.0, -0.5)
    """
    return real_float(c_plus, "c_plus"), real_float(c_minus, "c_minus")


def sample_shaped_relu_networks(c_plus: float, c_minus: float, n: int, depth: int, rho0: float,
                                n_networks: int, *, seed: Any = None, v0: Sequence[float] | None = None,
                                progress: bool | None = None) -> NetworkSample:
    """Sample finite shaped-ReLU networks exactly in Gram space and return their V_d.

    Width n, depth d, s_+- = 1 + c_+-/sqrt(n), weight variance c = 2/(s_+^2 + s_-^2), no bias;
    the two inputs are scaled so that the input kernel (layer-1 covariance) is V_0 =
    [[v0_1, r], [r, v0_2]], r = rho0 sqrt(v0_1 v0_2). V_l = (c/n) sigma(H_l) sigma(H_l)^T is the
    conditional covariance of layer l+1, so V_d has taken d Markov steps from V_0 (t = d/n).

    >>> s = sample_shaped_relu_networks(0, -1, 16, 8, 0.3, 64, seed=0)
    >>> s.rho.shape, s.log_norms.shape, s.T
    ((64,), (64, 2), 0.5)
    """
    n, depth = check_integer(n, "n"), check_limit(check_integer(depth, "depth"), "depth", MAX_DEPTH)
    n_networks = check_integer(n_networks, "n_networks")
    rho0, ly1, ly2 = _initial(rho0, v0)
    c_plus, c_minus = shaping(c_plus, c_minus)
    s_plus, s_minus = 1 + c_plus / math.sqrt(n), 1 + c_minus / math.sqrt(n)
    c = 2.0 / (s_plus**2 + s_minus**2)

    def shaped(h: np.ndarray) -> np.ndarray:
        return np.where(h > 0, s_plus * h, s_minus * h)

    rho, logs = _sample_output_kernels(shaped, c, n, depth, rho0, ly1, ly2, n_networks, seed, progress)
    return NetworkSample(n, depth, float(c_plus), float(c_minus), rho0, rho, logs)


def _sample_output_kernels(function, c: float, n: int, depth: int, rho0: float, ly1: float, ly2: float,
                           n_networks: int, seed: Any, progress: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """(rho, log V^aa, log V^bb) of V_d = (c/n) sigma(H_d) sigma(H_d)^T over sampled networks.

    The two inputs are scaled so that the input kernel is V_0 with log-norms (ly1, ly2)
    and correlation rho0: (c/2) X X^T = V_0.
    """
    from ncsym.sampler import MLPSpec, iter_preactivations

    v_1, v_2 = math.exp(ly1), math.exp(ly2)
    cov = np.array([[v_1, rho0 * math.sqrt(v_1 * v_2)], [rho0 * math.sqrt(v_1 * v_2), v_2]])
    X = np.linalg.cholesky(cov) * math.sqrt(2.0 / c)
    spec = MLPSpec(input_dim=2, widths=n, depth=depth, activation=function, sigma_w2=c)
    rho = np.empty(n_networks)
    logs = np.empty((n_networks, 2))
    for first, out, _ in iter_preactivations(spec, X, n_networks, method="gram", layers=[depth], seed=seed,
                                             progress=progress):
        a = function(out[depth])
        V = np.matmul(a, np.swapaxes(a, 1, 2)) * (c / n)
        part = slice(first, first + V.shape[0])
        rho[part] = V[:, 0, 1] / np.sqrt(V[:, 0, 0] * V[:, 1, 1])
        logs[part] = np.log(np.stack([V[:, 0, 0], V[:, 1, 1]], axis=1))
    return rho, logs


def sample_smooth_shaped_networks(phi: Any, a: float, n: int, depth: int, rho0: float, n_networks: int, *,
                                  seed: Any = None, v0: Sequence[float] | None = None,
                                  progress: bool | None = None) -> NetworkSample:
    """Sample finite networks with sigma(x) = s phi(x/s), s = a sqrt(n), c = 1/E[sigma(z)^2].

    Same conventions as :func:`sample_shaped_relu_networks` (V_d = (c/n) sigma(H_d) sigma(H_d)^T,
    input kernel V_0). c is computed by 200-node Gauss-Hermite quadrature (phi smooth; for an
    entire or strip-analytic phi the quadrature error is far below the Monte Carlo error);
    ``c_plus``/``c_minus`` of the returned sample are NaN.

    >>> s = sample_smooth_shaped_networks("tanh", 1.0, 16, 8, 0.3, 32, seed=0)
    >>> s.rho.shape, s.T
    ((32,), 0.5)
    """
    shaped = smooth_shaped(phi, exact_number(a), check_integer(n, "n"))
    depth = check_limit(check_integer(depth, "depth"), "depth", MAX_DEPTH)
    n_networks = check_integer(n_networks, "n_networks")
    rho0, ly1, ly2 = _initial(rho0, v0)
    function = shaped.numpy()
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    c = 1.0 / float(np.sum(weights * function(nodes) ** 2) / math.sqrt(2 * math.pi))
    rho, logs = _sample_output_kernels(function, c, n, depth, rho0, ly1, ly2, n_networks, seed, progress)
    return NetworkSample(n, depth, math.nan, math.nan, rho0, rho, logs)
