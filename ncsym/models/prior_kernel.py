"""The prior kernel of random networks, NNPK (Amid et al. 2022), and its wide-network limit.

For a network with k logits f_theta(x) in R^k and random initial weights theta,

    K(x, x') = E_theta <f_theta(x), f_theta(x')> = sum_{j <= k} E[f_j(x) f_j(x')].

It is estimated here from sampled networks (:mod:`ncsym.sampler`, any :class:`MLPSpec` with a
readout: plain, residual, unequal widths, either sampler) with standard errors over networks.
The readout weights are independent N(0, sigma_w2 / n_L) and the readout biases N(0, sigma_b2),
so each logit has, given the last hidden activations a = phi(h^L), covariance
``sigma_w2 a a^T / n_L + sigma_b2``, and the logits are i.i.d. given a. Hence

    K = k E[sigma_w2 a(x) . a(x') / n_L + sigma_b2]      (exact at every width),

which gives two unbiased estimators: ``"logits"`` (the definition, from sampled logits) and
``"conditional"`` (the expectation over the readout done exactly; far smaller variance).
As every hidden width grows, K -> k K_NNGP^{L+1}, the NNGP kernel of the readout
preactivations (:func:`ncsym.depth.network.nngp_kernel` with L + 1 weight layers; a residual
recursion for residual specs). With one hidden layer the identity above is exact at any width
(the first hidden layer is exactly Gaussian); with two or more the finite-width correction is
O(1/width).

>>> import numpy as np
>>> from ncsym import zoo
>>> X = np.array([[1.0, 0.0], [0.6, 0.8]])
>>> est = nnpk(zoo.relu, X, 2000, width=64, depth=2, logits=3, sigma_w2=2, seed=0)
>>> est.limit.round(4).tolist()
[[3.0, 2.2003], [2.2003, 3.0]]
>>> bool(np.all(np.abs(est.estimate.z_score(est.limit)) < 5))
True
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ncsym.symbolic.activations import Activation, activation
from ncsym.models.deq_sampling import relative_frobenius_error
from ncsym.core.errors import DomainError
from ncsym.core.limits import MAX_DEPTH, check_limit
from ncsym.sampler import (Estimate, MLPSpec, StreamingMoments, as_inputs, default_block_size, iter_preactivations,
                      numpy_activation)

__all__ = ["NNPK", "NNPKTrend", "nnpk", "nnpk_limit", "nnpk_trend", "ESTIMATORS"]

ESTIMATORS = ("logits", "conditional")


def _symbolic_activation(spec: MLPSpec, act: Any) -> Activation | None:
    if act is not None:
        return activation(act)
    return spec.activation if isinstance(spec.activation, Activation) else None


def _build_spec(model: Any, X: np.ndarray, width: Any, depth: Any, logits: Any, sigma_w2: Any, sigma_b2: Any,
                residual_scale: Any) -> tuple[MLPSpec, Activation | None]:
    if isinstance(model, MLPSpec):
        if model.readout is None:
            raise DomainError("the NNPK needs logits: give the MLPSpec a readout width")
        if width is not None or depth is not None:
            raise DomainError("width and depth come from the MLPSpec; do not pass them too")
        return model, None
    if width is None:
        raise DomainError("give the hidden width(s) (width=...) with an activation, or pass an MLPSpec")
    act = activation(model)
    check_limit(depth, "depth", MAX_DEPTH)  # before the sampler builds a layer list of that length
    spec = MLPSpec(input_dim=X.shape[1], widths=width, depth=depth, activation=act, sigma_w2=sigma_w2,
                   sigma_b2=sigma_b2, readout=logits, residual_scale=residual_scale)
    return spec, act


def nnpk_limit(spec: MLPSpec, X: Any, *, act: Any = None) -> np.ndarray:
    """k K_NNGP^{L+1}: the wide-network limit of the NNPK of ``spec`` (k = spec.readout) on X.

    ``act`` is the symbolic activation when ``spec.activation`` is a plain numpy callable.

    >>> spec = MLPSpec(2, 32, activation=activation("relu"), depth=1, sigma_w2=2, readout=4)
    >>> nnpk_limit(spec, np.eye(2)).round(6).tolist()   # 4 * 2 * relu kernel of K0 = I/2
    [[4.0, 1.27324], [1.27324, 4.0]]
    """
    if not isinstance(spec, MLPSpec) or spec.readout is None:
        raise DomainError("nnpk_limit needs an MLPSpec with a readout width")
    symbolic = _symbolic_activation(spec, act)
    if symbolic is None:
        raise DomainError("the limit needs a symbolic activation: build the spec with an ncsym Activation or pass act=")
    from ncsym.kernels.dual import kernel_matrix      # imported here so the estimator works without the kernel layer
    from ncsym.depth.network import nngp_kernel

    data = np.asarray(as_inputs(spec, X), dtype=float)
    w, b = spec.sigma_w2, spec.sigma_b2
    if spec.residual_scale is None:
        K = nngp_kernel(data, symbolic, spec.depth + 1, sigma_w2=w, sigma_b2=b)
    else:
        # h^{l+1} = h^l + s (W a^l + b): the update is independent of h^l, so covariances add
        s2 = spec.residual_scale ** 2
        K = w * (data @ data.T) / data.shape[1] + b
        for _ in range(spec.depth - 1):
            K = K + s2 * (w * kernel_matrix(symbolic, K) + b)
        K = w * kernel_matrix(symbolic, K) + b
    return spec.readout * np.asarray(K, dtype=float)


@dataclass(frozen=True)
class NNPK:
    """An NNPK estimate: ``estimate`` (value and standard error over networks, [P, P]),
    ``limit`` (k K_NNGP, or None without a symbolic activation), the ``estimator`` used,
    the networks used (``estimate.count``) and ``n_excluded`` (non-finite networks dropped)."""

    spec: MLPSpec
    inputs: np.ndarray
    estimate: Estimate
    limit: np.ndarray | None
    estimator: str
    method: str
    n_excluded: int
    covariance: np.ndarray | None = None

    @property
    def logits(self) -> int:
        return self.spec.readout

    def relative_error(self) -> dict[str, float]:
        """Relative Frobenius distance to the limit, with SE, noise floor and debiased value
        (see :func:`ncsym.models.deq_sampling.relative_frobenius_error`)."""
        if self.limit is None:
            raise DomainError("this estimate has no limit to compare with (no symbolic activation)")
        return relative_frobenius_error(self.estimate, self.limit, self.covariance)


def nnpk(model: Any, X: Any, n_networks: int, *, width: int | Sequence[int] | None = None, depth: int | None = None,
         logits: int = 1, sigma_w2: float = 1.0, sigma_b2: float = 0.0, residual_scale: float | None = None,
         act: Any = None, estimator: str = "logits", method: str = "gram", seed: Any = 0,
         chunk_size: int | None = None, nonfinite: str = "raise", limit: bool = True) -> NNPK:
    """Estimate K(x, x') = E <f(x), f(x')> over ``n_networks`` random initializations.

    ``model`` is an :class:`MLPSpec` with a readout (its width is the number of logits), or an
    activation (anything :func:`ncsym.activation` accepts) with ``width``, ``depth``,
    ``logits`` and the variances. ``estimator``: ``"logits"`` averages <f(x), f(x')> of the
    sampled logits; ``"conditional"`` averages its exact expectation over the readout given
    the last hidden layer, k (sigma_w2 a.a'/n_L + sigma_b2) (same mean, smaller variance).
    ``method`` is the sampler's ("gram" or "weights"); ``nonfinite="warn"`` drops networks
    with inf/NaN. ``limit=True`` adds :func:`nnpk_limit` when the activation is symbolic.

    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> k = nnpk("tanh", X, 500, width=16, depth=2, logits=10, estimator="conditional", seed=3)
    >>> k.estimate.value.shape, k.estimate.count
    ((2, 2), 500)
    """
    if estimator not in ESTIMATORS:
        raise DomainError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    try:
        data = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise DomainError("X must be a real array of inputs as rows") from None
    if data.ndim != 2:
        raise DomainError(f"X must be a 2-D array (inputs as rows), got shape {data.shape}")
    spec, built = _build_spec(model, data, width, depth, logits, sigma_w2, sigma_b2, residual_scale)
    data = as_inputs(spec, data)
    P = data.shape[0]
    k = spec.readout
    layer = spec.n_layers if estimator == "logits" else spec.depth
    function = numpy_activation(spec.activation)
    block = default_block_size(spec, method, P)
    moments = StreamingMoments((P, P), covariance=P <= 16)
    excluded = 0
    for first, chunk, bad in iter_preactivations(spec, data, n_networks, method=method, layers=[layer], seed=seed,
                                                 block_size=block, chunk_size=chunk_size, nonfinite=nonfinite):
        h = np.asarray(chunk[layer], dtype=np.float64)
        if estimator == "logits":
            per_network = np.matmul(h, h.transpose(0, 2, 1))
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                a = np.asarray(function(h), dtype=np.float64)
            per_network = k * (spec.sigma_w2 * np.matmul(a, a.transpose(0, 2, 1)) / h.shape[2] + spec.sigma_b2)
        keep = ~bad & np.isfinite(per_network).all(axis=(1, 2))
        excluded += int(np.count_nonzero(~keep))
        # fold aligned to the seeded blocks so the rounding does not depend on chunk_size
        for lo in range(0, keep.size, block):
            part = slice(lo, lo + block)
            moments.update(per_network[part][keep[part]])
    if moments.count < 2:
        raise DomainError(f"only {moments.count} finite networks; the NNPK needs at least 2")
    symbolic = built if built is not None else _symbolic_activation(spec, act)
    limit_matrix = nnpk_limit(spec, data, act=symbolic) if limit and symbolic is not None else None
    return NNPK(spec, np.asarray(data, dtype=float), moments.estimate(), limit_matrix, estimator, method, excluded,
                moments.covariance / moments.count if P <= 16 else None)


@dataclass(frozen=True)
class NNPKTrend:
    """NNPK estimates at several widths against the limit. ``rows`` per width: ``width``,
    ``relative_error`` (dict as in :meth:`NNPK.relative_error`), ``bias_times_width``
    (the mean over entries of (estimate - limit) * width / max limit diagonal, ~constant when
    the discrepancy is O(1/width)) and ``bias_times_width_se`` (an upper bound on its standard
    error: the root mean square of the entries' errors); ``slope``: log-log slope of the
    debiased error."""

    estimates: tuple[NNPK, ...]
    rows: tuple[dict, ...]
    slope: float

    def table(self) -> str:
        """A plain-text table of the rows."""
        lines = [f"{'width':>6} {'rel.err':>10} {'+-SE':>9} {'noise':>9} {'debiased':>9} {'bias*width':>11}"]
        for r in self.rows:
            e = r["relative_error"]
            lines.append(f"{r['width']:>6} {e['value']:>10.3e} {e['std_error']:>9.2e} {e['noise_floor']:>9.2e} "
                         f"{e['debiased']:>9.2e} {r['bias_times_width']:>11.3f}")
        lines.append(f"log-log slope of the debiased error against width: {self.slope:.2f}")
        return "\n".join(lines)


def nnpk_trend(act: Any, X: Any, widths: Sequence[int], n_networks: int | Sequence[int], *, depth: int = 2,
               logits: int = 1, sigma_w2: float = 1.0, sigma_b2: float = 0.0, estimator: str = "conditional",
               method: str = "gram", seed: Any = 0) -> NNPKTrend:
    """The NNPK discrepancy from its limit over ``widths`` (O(1/width) for depth >= 2).

    >>> t = nnpk_trend("relu", np.eye(2), [4, 16], 400, depth=2, sigma_w2=2)
    >>> [r["width"] for r in t.rows]
    [4, 16]
    """
    counts = [n_networks] * len(widths) if isinstance(n_networks, numbers.Integral) else list(n_networks)
    if len(counts) != len(widths) or not widths:
        raise DomainError("give one network count, or one per width, and at least one width")
    estimates, rows = [], []
    for width, count in zip(widths, counts):
        est = nnpk(act, X, count, width=width, depth=depth, logits=logits, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                   estimator=estimator, method=method, seed=seed)
        scale = float(np.max(np.diag(est.limit)))
        rows.append({"width": int(width), "relative_error": est.relative_error(),
                     "bias_times_width": float(np.mean(est.estimate.value - est.limit)) * width / scale,
                     "bias_times_width_se": float(np.sqrt(np.mean(est.estimate.std_error**2))) * width / scale})
        estimates.append(est)
    logs = [(math.log(r["width"]), math.log(r["relative_error"]["debiased"]))
            for r in rows if r["relative_error"]["debiased"] > 0]
    slope = float(np.polyfit(*zip(*logs), 1)[0]) if len(logs) >= 2 else math.nan
    return NNPKTrend(tuple(estimates), tuple(rows), slope)
