"""When the DEQ kernel is strictly positive definite, stated with its hypotheses and decided.

Let K* = sigma_w2 V_phi(K*) + sigma_u2 K0 be the DEQ kernel on inputs x_1..x_P (module
:mod:`ncsym.models.deq`). Both terms are PSD, so for c in R^P

    c^T K* c = 0   iff   X^T c = 0  and  sum_a c_a phi(u_a) = 0 almost surely, u ~ N(0, K*).

What follows from this (each case is decided by :func:`definiteness`):

- Linearly independent inputs: K* >= sigma_u2 K0 > 0 for every phi.
- Pairwise non-parallel inputs (x_a != t x_b for every real t, a != b) and a non-polynomial phi:
  K* > 0 (Gao, Huo, Liu & Gao 2023, the theorem on the smallest eigenvalue; their "pairwise
  distinct" must be read as non-parallel). Each 2x2 minor of K0 is then definite, so no two
  u_a are perfectly correlated, and ridge functions phi(w . y_a) in pairwise non-parallel
  directions are linearly independent for non-polynomial phi.
- Parallel inputs, where "distinct" is not enough:
  * odd phi (tanh, erf, sin) and x_b = -x_a: the unique fixed point has u_b = -u_a, so
    phi(u_b) = -phi(u_a) and c = e_a + e_b is a null vector (the dual kernel is odd,
    k(-1) = -k(1));
  * positively homogeneous phi = s_+ max(x, 0) + s_- min(x, 0) (relu, leaky relu) and
    x_b = t x_a with t > 0: u_b = t u_a, phi(u_b) = t phi(u_a), null vector t e_a - e_b;
    if phi is also odd (s_+ = s_-, linear) any t != 0;
  * any phi and a repeated input (t = 1).
  Parallel inputs are no obstruction otherwise: tanh on {x, 2x} and relu on {x, -x} are
  definite (phi(2u) is not a multiple of phi(u); relu(u) and relu(-u) are independent).

>>> import numpy as np
>>> from ncsym.models.deq import deq_kernel
>>> x = np.array([1.0, 0.3, -0.5])
>>> definiteness(deq_kernel("tanh", np.array([x, -x]), sigma_w2=0.36, sigma_u2=1)).holds
False
>>> definiteness(deq_kernel("tanh", np.array([x, 2 * x]), sigma_w2=0.36, sigma_u2=1)).holds
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ncsym.models.sde_derivation import homogeneous_slopes
from ncsym.symbolic.activations import Activation, x

__all__ = ["Definiteness", "definiteness", "parallel_pairs"]

#: relative tolerance for "x_b is a multiple of x_a" on float inputs (Cauchy-Schwarz equality)
_PARALLEL_RTOL = 1e-12


@dataclass(frozen=True)
class Definiteness:
    """Whether K* is strictly positive definite, and why.

    ``holds``: True (definite: certified by the eigenvalue and its error bound, or by the
    theorem's hypotheses), False (singular, proved from a symmetry of phi and the inputs,
    ``null_vector`` spans the reason), None (undecided: the eigenvalue is within its error and
    no hypothesis settles it). ``min_eigenvalue`` is the float64 value, ``bound`` its error
    (Weyl: P times the entrywise error bound of K*).
    """

    holds: bool | None
    min_eigenvalue: float
    bound: float
    reason: str
    null_vector: np.ndarray | None = None


def parallel_pairs(X: Any) -> list[tuple[int, int, float]]:
    """(a, b, t) for each pair of rows with x_b = t x_a (within rounding), a < b.

    >>> parallel_pairs(np.array([[1.0, 2.0], [0.0, 1.0], [-2.0, -4.0]]))
    [(0, 2, -2.0)]
    """
    data = np.asarray(X, dtype=float)
    norms = np.einsum("ij,ij->i", data, data)
    gram = data @ data.T
    out = []
    for a in range(data.shape[0]):
        for b in range(a + 1, data.shape[0]):
            if abs(gram[a, b] ** 2 - norms[a] * norms[b]) <= _PARALLEL_RTOL * norms[a] * norms[b]:
                out.append((a, b, float(gram[a, b] / norms[a])))
    return out


def _is_polynomial(act: Activation) -> bool:
    return len(act.pieces) == 1 and not act.deltas and act.pieces[0].expr.is_polynomial(x)


def _singular_pair(act: Activation, a: int, b: int, t: float, P: int) -> tuple[np.ndarray, str] | None:
    vector = np.zeros(P)
    if abs(t - 1) <= _PARALLEL_RTOL:
        vector[a], vector[b] = 1.0, -1.0
        return vector, f"inputs {a} and {b} are equal"
    slopes = homogeneous_slopes(act)
    odd = act.parity == -1
    if slopes is not None and (t > 0 or slopes[0] == slopes[1]):
        vector[a], vector[b] = t, -1.0
        return vector, (f"{act.name} is positively homogeneous and x_{b} = {t:.6g} x_{a}, so "
                        f"phi(u_{b}) = {t:.6g} phi(u_{a}) at the fixed point")
    if odd and abs(t + 1) <= _PARALLEL_RTOL:
        vector[a], vector[b] = 1.0, 1.0
        return vector, (f"{act.name} is odd and x_{b} = -x_{a}, so u_{b} = -u_{a} and "
                        f"phi(u_{b}) = -phi(u_{a}) (the dual kernel is odd: k(-1) = -k(1))")
    return None


def definiteness(kernel: Any) -> Definiteness:
    """Decide whether a :class:`~ncsym.models.deq.DEQKernel`'s K* is strictly positive definite.

    Proved singular cases come first (see the module docstring); then the smallest eigenvalue
    against its error bound; then the hypotheses of the theorem (linearly independent inputs,
    or pairwise non-parallel inputs with a non-polynomial phi).

    >>> from ncsym.models.deq import deq_kernel
    >>> X = np.array([[1.0, 0.5], [2.0, 1.0]])
    >>> d = definiteness(deq_kernel("relu", X, sigma_w2=0.5, sigma_u2=1))
    >>> d.holds, d.null_vector.tolist()
    (False, [2.0, -1.0])
    """
    act, data, K = kernel.activation, kernel.inputs, kernel.preactivation
    P = K.shape[0]
    value = float(np.linalg.eigvalsh(K)[0])
    bound = math.inf if kernel.error is None else P * float(kernel.error) + 8 * P * np.finfo(float).eps * float(
        np.max(np.diag(K)))
    pairs = parallel_pairs(data)
    for a, b, t in pairs:
        found = _singular_pair(act, a, b, t, P)
        if found is not None:
            return Definiteness(False, value, bound, f"singular: {found[1]}", found[0])
    if value > bound:
        return Definiteness(True, value, bound, f"definite: lambda_min = {value:.3e} exceeds its error bound "
                                                f"{bound:.1e} (Weyl)")
    if np.linalg.matrix_rank(data) == P:
        return Definiteness(True, value, bound, "definite: the inputs are linearly independent, K* >= sigma_u2 K0 > 0")
    if not pairs and not _is_polynomial(act):
        return Definiteness(True, value, bound, "definite by theorem: pairwise non-parallel inputs and a "
                                                "non-polynomial activation (Gao et al. 2023)")
    return Definiteness(None, value, bound, f"undecided: lambda_min = {value:.3e} is within its error bound "
                                            f"{bound:.1e} and no hypothesis of the theorem holds")
