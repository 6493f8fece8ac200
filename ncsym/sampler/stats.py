"""Streaming statistics over independent networks, with standard errors (numpy only).

Every estimate is an average over networks of a per-network quantity, so its standard
error is the sample standard deviation over networks divided by sqrt(networks): neurons
inside one network are not independent at finite width, networks are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ncsym.core.errors import DomainError, NonFiniteError

__all__ = ["Estimate", "StreamingMoments", "PreactivationStatistics", "network_features"]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: ``value`` and its ``std_error`` (same shape), from ``count`` networks.

    >>> e = Estimate(np.array(1.02), np.array(0.01), 100)
    >>> round(float(e.z_score(1.0)), 6)
    2.0
    """

    value: np.ndarray
    std_error: np.ndarray
    count: int

    def z_score(self, reference) -> np.ndarray:
        """``(value - reference) / std_error`` (inf where the error is 0 and they differ)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = self.value - np.asarray(reference, dtype=np.float64)
            z = diff / self.std_error
        return np.where(diff == 0, 0.0, z)

    def __repr__(self) -> str:
        return f"Estimate(value={self.value!r}, std_error={self.std_error!r}, count={self.count})"


class StreamingMoments:
    """Running mean and (co)variance of vectors, merged batch by batch (Chan et al.).

    ``update(batch)`` takes ``[b, *shape]``; accumulators are float64 whatever the input.
    With ``covariance=True`` the full covariance of the flattened vector is kept too
    (size ``prod(shape)**2``), which ratio estimators need for delta-method errors.

    >>> acc = StreamingMoments((2,))
    >>> acc.update(np.array([[1.0, 2.0], [3.0, 6.0]]))
    >>> acc.update(np.array([[5.0, 10.0]]))
    >>> acc.mean.tolist(), acc.variance.tolist()
    ([3.0, 6.0], [4.0, 16.0])
    """

    def __init__(self, shape: tuple[int, ...] = (), covariance: bool = False) -> None:
        self.shape = tuple(shape)
        self.count = 0
        self.mean = np.zeros(self.shape)
        self._m2 = np.zeros(self.shape)
        size = int(np.prod(self.shape, dtype=np.int64))
        self._comoment = np.zeros((size, size)) if covariance else None

    def update(self, batch: np.ndarray) -> None:
        """Fold in a batch ``[b, *shape]`` of independent samples."""
        batch = np.asarray(batch, dtype=np.float64)
        if batch.shape[1:] != self.shape:
            raise DomainError(f"batch of shape {batch.shape} does not match [b, *{self.shape}]")
        if batch.shape[0] == 0:
            return
        other = StreamingMoments(self.shape, covariance=self._comoment is not None)
        other.count = batch.shape[0]
        other.mean = batch.mean(axis=0)
        centred = batch - other.mean
        other._m2 = np.einsum("i...,i...->...", centred, centred)
        if other._comoment is not None:
            flat = centred.reshape(batch.shape[0], -1)
            other._comoment = flat.T @ flat
        self.merge(other)

    def merge(self, other: "StreamingMoments") -> None:
        """Fold in another accumulator (the pairwise update of Chan, Golub & LeVeque)."""
        if other.shape != self.shape:
            raise DomainError(f"cannot merge moments of shape {other.shape} into {self.shape}")
        if other.count == 0:
            return
        if self.count == 0:
            self.count, self.mean, self._m2 = other.count, other.mean.copy(), other._m2.copy()
            if self._comoment is not None:
                self._comoment = other._comoment.copy()
            return
        total = self.count + other.count
        delta = other.mean - self.mean
        weight = self.count * other.count / total
        self._m2 = self._m2 + other._m2 + delta * delta * weight
        if self._comoment is not None:
            flat = delta.reshape(-1)
            self._comoment = self._comoment + other._comoment + np.outer(flat, flat) * weight
        self.mean = self.mean + delta * (other.count / total)
        self.count = total

    @property
    def variance(self) -> np.ndarray:
        """Unbiased sample variance over samples (needs two or more)."""
        if self.count < 2:
            raise DomainError(f"a variance needs at least 2 samples, have {self.count}")
        return self._m2 / (self.count - 1)

    @property
    def covariance(self) -> np.ndarray:
        """Unbiased covariance matrix of the flattened vector (needs ``covariance=True``)."""
        if self._comoment is None:
            raise DomainError("this accumulator was built with covariance=False")
        if self.count < 2:
            raise DomainError(f"a covariance needs at least 2 samples, have {self.count}")
        return self._comoment / (self.count - 1)

    @property
    def std_error(self) -> np.ndarray:
        """Standard error of the mean, sqrt(variance / count)."""
        return np.sqrt(self.variance / self.count)

    def estimate(self) -> Estimate:
        """The mean with its standard error."""
        return Estimate(self.mean.copy(), self.std_error, self.count)


def network_features(preactivations: np.ndarray, max_order: int = 4) -> dict[str, np.ndarray]:
    """Per-network averages over neurons of one layer, computed in float64.

    ``preactivations`` has shape ``[networks, P, width]``. Returns ``moments``
    ``[networks, max_order, P]`` (mean over neurons of h^k, k = 1..max_order), ``kernel``
    ``[networks, P, P]`` (the empirical kernel ``h h^T / width``) and ``correlation``
    ``[networks, P, P]`` (kernel_ab / sqrt(kernel_aa kernel_bb), the correlation across
    neurons of inputs a and b; NaN where a kernel diagonal is 0).

    >>> h = np.array([[[1.0, -1.0], [1.0, 1.0]]])
    >>> f = network_features(h, max_order=2)
    >>> f["kernel"][0].tolist(), float(f["correlation"][0, 0, 1])
    ([[1.0, 0.0], [0.0, 1.0]], 0.0)
    """
    h = np.asarray(preactivations, dtype=np.float64)
    if h.ndim != 3:
        raise DomainError(f"preactivations must have shape [networks, P, width], got {h.shape}")
    width = h.shape[2]
    moments = np.empty((h.shape[0], max_order, h.shape[1]))
    power = np.ones_like(h)
    for k in range(max_order):
        power *= h
        moments[:, k, :] = power.mean(axis=2)
    kernel = np.matmul(h, h.transpose(0, 2, 1)) / width
    diag = np.sqrt(np.einsum("nii->ni", kernel))
    with np.errstate(divide="ignore", invalid="ignore"):
        correlation = kernel / (diag[:, :, None] * diag[:, None, :])
    return {"moments": moments, "kernel": kernel, "correlation": correlation}


class PreactivationStatistics:
    """Streaming statistics of one layer's preactivations over many networks.

    Feed ``update(h)`` with ``h`` of shape ``[networks, P, width]`` (any number of calls,
    memory stays O(P^2)); read estimates (value and standard error over networks):

    - ``mean`` [P]: E[h_i(a)];  ``moment(k)`` [P]: E[h_i(a)^k] (k <= max_order);
    - ``kernel`` [P, P]: E[h_i(a) h_i(b)], the covariance across inputs (preactivations have
      mean 0 by the symmetry of the weights; ``mean`` checks it);
    - ``correlation`` [P, P]: the mean over networks of the per-network correlation across
      neurons, kernel_ab / sqrt(kernel_aa kernel_bb); networks where it is undefined (a zero
      kernel diagonal) are left out of it alone and counted in ``n_undefined_correlation``;
    - ``kernel_correlation`` [P, P]: the ratio of mean kernels, E[K_ab] / sqrt(E[K_aa] E[K_bb]),
      with a delta-method error (kept when P <= 16).

    Both correlations differ from the infinite-width value by O(1/width) bias; the standard
    errors do not include it.

    >>> rng = np.random.default_rng(0)
    >>> stats = PreactivationStatistics(n_inputs=2)
    >>> stats.update(rng.standard_normal((500, 2, 8)))
    >>> stats.count, abs(float(stats.kernel.value[0, 0]) - 1) < 5 * float(stats.kernel.std_error[0, 0])
    (500, True)
    """

    def __init__(self, n_inputs: int, max_order: int = 4) -> None:
        if n_inputs < 1 or max_order < 2:
            raise DomainError(f"need n_inputs >= 1 and max_order >= 2, got {n_inputs}, {max_order}")
        self.n_inputs = n_inputs
        self.max_order = max_order
        self.width: int | None = None
        self.n_excluded = 0
        self.n_undefined_correlation = 0
        self._moments = StreamingMoments((max_order, n_inputs))
        self._kernel = StreamingMoments((n_inputs, n_inputs), covariance=n_inputs <= 16)
        self._correlation = StreamingMoments((n_inputs, n_inputs))

    @property
    def count(self) -> int:
        """Networks folded in so far."""
        return self._moments.count

    def update(self, preactivations: np.ndarray, exclude: np.ndarray | None = None,
               nonfinite: str = "raise") -> None:
        """Fold in ``[networks, P, width]`` preactivations; ``exclude`` masks networks to drop.

        Networks whose preactivations or moments are not finite (h^4 can overflow where h
        does not) raise :class:`NonFiniteError`, or with ``nonfinite="warn"`` are dropped and
        counted in ``n_excluded`` (the caller reports them).
        """
        h = np.asarray(preactivations)
        if h.ndim != 3 or h.shape[1] != self.n_inputs:
            raise DomainError(f"preactivations must have shape [networks, {self.n_inputs}, width], got {h.shape}")
        if nonfinite not in ("raise", "warn"):
            raise DomainError(f"nonfinite must be 'raise' or 'warn', got {nonfinite!r}")
        if self.width is None:
            self.width = h.shape[2]
        keep = np.ones(h.shape[0], dtype=bool) if exclude is None else ~np.asarray(exclude, dtype=bool)
        with np.errstate(over="ignore", invalid="ignore"):
            features = network_features(h, self.max_order)
        finite = np.isfinite(features["moments"]).all(axis=(1, 2)) & np.isfinite(features["kernel"]).all(axis=(1, 2))
        if not finite[keep].all():
            if nonfinite == "raise":
                raise NonFiniteError(f"{int(np.count_nonzero(~finite[keep]))} of {int(keep.sum())} networks have "
                                     f"inf or NaN preactivations or moments up to order {self.max_order}")
            keep &= finite
        self.n_excluded += int(np.count_nonzero(~keep))
        if not keep.all():
            features = {name: value[keep] for name, value in features.items()}
        defined = np.isfinite(features["correlation"]).all(axis=(1, 2))
        self.n_undefined_correlation += int(np.count_nonzero(~defined))
        self._moments.update(features["moments"])
        self._kernel.update(features["kernel"])
        # A network whose layer is identically zero on some input (e.g. all relu units
        # off) has no correlation; it still counts in the moments and kernel.
        self._correlation.update(features["correlation"][defined])

    def merge(self, other: "PreactivationStatistics") -> None:
        """Fold in statistics gathered separately (e.g. another batch of networks)."""
        self._moments.merge(other._moments)
        self._kernel.merge(other._kernel)
        self._correlation.merge(other._correlation)
        self.n_excluded += other.n_excluded
        self.n_undefined_correlation += other.n_undefined_correlation
        self.width = self.width or other.width

    def moment(self, order: int) -> Estimate:
        """E[h_i(a)^order] for each input a, shape [P]."""
        if not 1 <= order <= self.max_order:
            raise DomainError(f"order must lie in 1..{self.max_order}, got {order}")
        est = self._moments.estimate()
        return Estimate(est.value[order - 1], est.std_error[order - 1], est.count)

    @property
    def mean(self) -> Estimate:
        return self.moment(1)

    @property
    def kernel(self) -> Estimate:
        return self._kernel.estimate()

    @property
    def correlation(self) -> Estimate:
        return self._correlation.estimate()

    @property
    def kernel_correlation(self) -> Estimate:
        if self._kernel._comoment is None:
            raise DomainError("kernel_correlation errors are kept only for P <= 16 inputs")
        P = self.n_inputs
        k = self._kernel.mean
        cov = self._kernel.covariance / self.count
        d = np.diag(k)
        value = k / np.sqrt(np.outer(d, d))
        error = np.zeros((P, P))
        idx = np.arange(P * P).reshape(P, P)
        for a in range(P):
            for b in range(P):
                if a == b:
                    continue
                # gradient of K_ab / sqrt(K_aa K_bb) in (K_ab, K_aa, K_bb)
                grad = np.zeros(P * P)
                grad[idx[a, b]] += 1 / math.sqrt(d[a] * d[b])
                grad[idx[a, a]] += -0.5 * value[a, b] / d[a]
                grad[idx[b, b]] += -0.5 * value[a, b] / d[b]
                error[a, b] = math.sqrt(max(grad @ cov @ grad, 0.0))
        return Estimate(value, error, self.count)
