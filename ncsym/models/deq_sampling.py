"""Finite-width deep equilibrium networks, sampled with real shared weights (Gao et al. 2023).

:func:`deq_fixed_points` solves ``f = phi(W f + U x)`` for a stack of networks at once;
:func:`deq_statistics` streams the empirical kernels of many networks into estimates with
standard errors; :func:`deq_crosscheck` sets them against :func:`ncsym.models.deq.deq_kernel`
at several widths; :func:`paper_experiment` is the paper's setting.

>>> X = paper_inputs(3, 4, seed=0)
>>> X.shape
(3, 4)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ncsym.symbolic.activations import Activation, activation
from ncsym.core.errors import ConvergenceError, DomainError, check_integer
from ncsym.core.numbers import real_float
from ncsym.sampler import Estimate, StreamingMoments, block_generator, root_seed
from ncsym.models.deq import DEQKernel, DEQNonConvergenceWarning, DEQ_STREAM, _exact_positive, _inputs, deq_kernel

__all__ = ["DEQStatistics", "DEQCrossCheck", "deq_fixed_points", "deq_statistics", "deq_crosscheck", "paper_inputs", "paper_experiment", "relative_frobenius_error"]


# -- the finite-width sampler (numpy only) -------------------------------------------------------------

def deq_fixed_points(W: np.ndarray, U: np.ndarray, X: np.ndarray, function: Callable[[np.ndarray], np.ndarray], *,
                     tol: float = 1e-10, max_iter: int = 1000) -> dict[str, np.ndarray]:
    """Solve ``f = phi(W f + U x)`` for a stack of networks by iteration from f = 0.

    ``W`` is ``[N, n, n]``, ``U`` ``[N, n, n_in]``, ``X`` ``[P, n_in]``; ``function`` is a numpy
    callable. A network stops when ``max |f_t - f_{t-1}| <= tol * max(1, max |f_t|)``; its
    values are those of its own stopping step, so they do not depend on what else is in the
    batch. Returns ``g`` (``W f + U x``, ``[N, n, P]``), ``f`` (``phi(g)``), ``iterations``,
    ``converged`` (False for networks that overflowed or hit ``max_iter``; their g, f are NaN).

    >>> W = np.zeros((1, 3, 3)); U = np.ones((1, 3, 2))
    >>> out = deq_fixed_points(W, U, np.array([[1.0, 1.0]]), np.tanh)
    >>> out["g"][0, :, 0].tolist(), out["iterations"].tolist(), out["converged"].tolist()
    ([2.0, 2.0, 2.0], [2], [True])
    """
    W = np.asarray(W)
    U = np.asarray(U)
    X = np.asarray(X, dtype=W.dtype)
    N, n = W.shape[0], W.shape[1]
    if W.shape != (N, n, n) or U.shape[:2] != (N, n) or X.ndim != 2 or U.shape[2] != X.shape[1]:
        raise DomainError(f"shapes do not fit: W {W.shape}, U {U.shape}, X {X.shape}")
    P = X.shape[0]
    drive = np.matmul(U, X.T)  # [N, n, P]
    g_out = np.full((N, n, P), np.nan, dtype=W.dtype)
    f_out = np.full((N, n, P), np.nan, dtype=W.dtype)
    iterations = np.full(N, int(max_iter), dtype=np.int64)
    converged = np.zeros(N, dtype=bool)
    ids = np.arange(N)
    Ww, Dw = W, drive
    f = np.zeros((N, n, P), dtype=W.dtype)
    finished = np.zeros(N, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, int(max_iter) + 1):
            g = np.matmul(Ww, f) + Dw
            new = np.asarray(function(g), dtype=W.dtype)
            change = np.abs(new - f).reshape(len(ids), -1).max(axis=1)
            scale = np.maximum(1.0, np.abs(new).reshape(len(ids), -1).max(axis=1))
            finite = np.isfinite(change) & np.isfinite(scale)
            done = finite & (change <= tol * scale) & ~finished
            broken = ~finite & ~finished
            for mask, ok in ((done, True), (broken, False)):
                if mask.any():
                    target = ids[mask]
                    if ok:
                        g_out[target], f_out[target] = g[mask], new[mask]
                        converged[target] = True
                    iterations[target] = step
                    finished |= mask
            f = new
            if finished.all():
                break
            if finished.sum() * 4 >= len(ids):  # shrink the working set now and then, not every step
                keep = ~finished
                ids, Ww, Dw, f, finished = ids[keep], Ww[keep], Dw[keep], f[keep], finished[keep]
    return {"g": g_out, "f": f_out, "iterations": iterations, "converged": converged}


def _draw_deq(seed: Any, block: int, block_size: int, width: int, n_in: int, w: float, u: float,
              dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    rng = block_generator(seed, DEQ_STREAM, block, width, n_in)
    W = rng.standard_normal((block_size, width, width), dtype=dtype)
    U = rng.standard_normal((block_size, width, n_in), dtype=dtype)
    W *= dtype.type(math.sqrt(w / width))
    U *= dtype.type(math.sqrt(u / n_in))
    return W, U


@dataclass(frozen=True)
class DEQStatistics:
    """Kernels of sampled finite-width DEQs, averaged over the networks that converged.

    ``preactivation_kernel`` estimates E[g g^T / n] (compare with K*), ``output_kernel``
    E[f f^T / n] (compare with V_phi(K*)); standard errors are over networks. ``failed``
    lists the indices (in the seeded sequence) of networks that did not converge; they are
    excluded. ``iterations`` holds each network's iteration count.
    """

    width: int
    n_networks: int
    preactivation_kernel: Estimate
    output_kernel: Estimate
    preactivation_covariance: np.ndarray | None
    failed: np.ndarray
    iterations: np.ndarray
    seed_entropy: Any

    @property
    def n_failed(self) -> int:
        return int(self.failed.size)


def _deq_block_size(width: int, n_in: int) -> int:
    size = 4096
    while size > 1 and size * (width * width + width * n_in) > 2**20:
        size //= 2
    return size


def deq_statistics(act: Any, X: Any, width: int, n_networks: int, *, sigma_w2: float, sigma_u2: float,
                   seed: Any = 0, tol: float = 1e-10, max_iter: int = 1000, chunk_size: int | None = None,
                   dtype: Any = np.float64) -> DEQStatistics:
    """Sample ``n_networks`` DEQs of width ``width`` with real shared weights, and their kernels.

    Network k draws (W, U) from the stream of its block (:func:`ncsym.sampler.block_generator`
    with purpose 2 and key (width, n_in)), so the results do not depend on ``chunk_size``.
    Networks that do not converge are excluded and reported with a
    :class:`DEQNonConvergenceWarning` naming how many and which.

    >>> X = np.array([[1.0, 0.0], [0.6, 0.8]])
    >>> s = deq_statistics("tanh", X, 16, 64, sigma_w2=0.36, sigma_u2=1, seed=1)
    >>> s.preactivation_kernel.value.shape, s.n_failed
    ((2, 2), 0)
    """
    act_obj = activation(act) if not callable(act) or isinstance(act, Activation) else None
    function = act_obj.numpy() if act_obj is not None else act
    data = _inputs(X)
    for value, name in ((width, "width"), (n_networks, "n_networks")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise DomainError(f"{name} must be a positive integer, got {value!r}")
    w = float(_exact_positive(sigma_w2, "sigma_w2", allow_zero=True))
    u = float(_exact_positive(sigma_u2, "sigma_u2"))
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise DomainError(f"dtype must be float64 or float32, got {dtype}")
    width, n_networks = int(width), int(n_networks)
    P, n_in = data.shape
    root = root_seed(seed)
    block_size = _deq_block_size(width, n_in)
    if chunk_size is None:
        chunk_size = max(1, 2**22 // (width * width + 4 * width * P))
    chunk_blocks = max(1, -(-int(chunk_size) // block_size))
    n_blocks = -(-n_networks // block_size)
    pre = StreamingMoments((P, P), covariance=P <= 16)
    out = StreamingMoments((P, P))
    failed, iterations = [], np.zeros(n_networks, dtype=np.int64)
    Xd = data.astype(dtype)
    for first_block in range(0, n_blocks, chunk_blocks):
        blocks = range(first_block, min(first_block + chunk_blocks, n_blocks))
        drawn = [_draw_deq(root, b, block_size, width, n_in, w, u, dtype) for b in blocks]
        W = np.concatenate([d[0] for d in drawn])
        U = np.concatenate([d[1] for d in drawn])
        lo = blocks.start * block_size
        keep = slice(0, min(len(W), n_networks - lo))
        result = deq_fixed_points(W[keep], U[keep], Xd, function, tol=tol, max_iter=max_iter)
        ok = result["converged"]
        iterations[lo:lo + ok.size] = result["iterations"]
        failed.extend((lo + np.flatnonzero(~ok)).tolist())
        # fold block by block so the rounding of the merge does not depend on chunk_size
        for start in range(0, ok.size, block_size):
            part = slice(start, start + block_size)
            good = ok[part]
            if not good.any():
                continue
            g = result["g"][part][good].astype(np.float64)
            f = result["f"][part][good].astype(np.float64)
            pre.update(np.matmul(g.transpose(0, 2, 1), g) / width)
            out.update(np.matmul(f.transpose(0, 2, 1), f) / width)
    failed_array = np.array(failed, dtype=np.int64)
    if failed_array.size:
        shown = failed_array[:20].tolist()
        warnings.warn(f"{failed_array.size} of {n_networks} DEQ networks (width {width}) did not converge within "
                      f"{max_iter} iterations or overflowed and were excluded; indices {shown}"
                      f"{' ...' if failed_array.size > 20 else ''}", DEQNonConvergenceWarning, stacklevel=2)
    if pre.count < 2:
        raise ConvergenceError(f"only {pre.count} of {n_networks} DEQ networks converged; no statistics")
    return DEQStatistics(width, n_networks, pre.estimate(), out.estimate(),
                         pre.covariance / pre.count if P <= 16 else None, failed_array, iterations, root.entropy)


# -- theory against the sampler ---------------------------------------------------------------------------

def relative_frobenius_error(estimate: Estimate, theory: np.ndarray,
                             covariance: np.ndarray | None = None) -> dict[str, float]:
    """||mean - theory||_F / ||theory||_F with its Monte Carlo standard error and noise floor.

    ``noise_floor`` = sqrt(sum SE_ab^2) / ||theory||_F is the error expected from sampling
    alone; ``debiased`` = sqrt(max(0, ||D||^2 - sum SE^2)) / ||theory|| estimates the error of the
    mean itself (the finite-width bias). ``std_error`` is the delta-method error of ``value``
    (full covariance of the entries when given, else independent entries).

    >>> e = Estimate(np.eye(2) * 1.1, np.full((2, 2), 0.01), 100)
    >>> round(relative_frobenius_error(e, np.eye(2))["value"], 6)
    0.1
    """
    theory = np.asarray(theory, dtype=float)
    diff = estimate.value - theory
    norm = float(np.linalg.norm(theory))
    distance = float(np.linalg.norm(diff))
    noise2 = float(np.sum(estimate.std_error**2))
    gradient = (diff / distance).ravel() if distance > 0 else np.zeros(diff.size)
    if covariance is not None:
        std = math.sqrt(max(float(gradient @ covariance @ gradient), 0.0))
    else:
        std = math.sqrt(float(np.sum((gradient * estimate.std_error.ravel()) ** 2)))
    return {"value": distance / norm, "std_error": std / norm, "noise_floor": math.sqrt(noise2) / norm,
            "debiased": math.sqrt(max(distance**2 - noise2, 0.0)) / norm}


@dataclass(frozen=True)
class DEQCrossCheck:
    """The DEQ kernel against sampled networks at several widths.

    ``rows`` holds per width: relative Frobenius error of the preactivation kernel (with
    ``std_error``, ``noise_floor``, ``debiased``), the same for the output kernel, and the
    number of failed networks. ``slope`` is the least-squares slope of log(debiased error)
    against log(width) (about -1 when the finite-width bias dominates the noise).
    """

    theory: DEQKernel
    statistics: tuple[DEQStatistics, ...]
    rows: tuple[dict, ...]
    slope: float

    def table(self) -> str:
        """A plain-text table of the rows."""
        lines = [f"{'width':>6} {'networks':>9} {'rel.err K*':>11} {'+-SE':>9} {'noise':>9} {'debiased':>9} "
                 f"{'rel.err V':>10} {'failed':>6}"]
        for r in self.rows:
            lines.append(f"{r['width']:>6} {r['networks']:>9} {r['preactivation']['value']:>11.3e} "
                         f"{r['preactivation']['std_error']:>9.2e} {r['preactivation']['noise_floor']:>9.2e} "
                         f"{r['preactivation']['debiased']:>9.2e} {r['output']['value']:>10.3e} {r['failed']:>6}")
        lines.append(f"log-log slope of the debiased error against width: {self.slope:.2f}")
        return "\n".join(lines)


def deq_crosscheck(act: Any, X: Any, widths: Sequence[int], n_networks: int | Sequence[int], *, sigma_w2: float,
                   sigma_u2: float, seed: Any = 0, tol: float = 1e-10, max_iter: int = 1000) -> DEQCrossCheck:
    """Compare :func:`deq_kernel` with :func:`deq_statistics` over ``widths``.

    >>> X = paper_inputs(3, seed=0)
    >>> c = deq_crosscheck("tanh", X, [8, 32], 200, sigma_w2=0.36, sigma_u2=1, seed=0)
    >>> [r["width"] for r in c.rows]
    [8, 32]
    """
    theory = deq_kernel(act, X, sigma_w2=sigma_w2, sigma_u2=sigma_u2)
    counts = [n_networks] * len(widths) if isinstance(n_networks, (int, np.integer)) else list(n_networks)
    if len(counts) != len(widths) or not widths:
        raise DomainError("give one network count, or one per width, and at least one width")
    stats, rows = [], []
    for width, count in zip(widths, counts):
        s = deq_statistics(act, theory.inputs, width, count, sigma_w2=sigma_w2, sigma_u2=sigma_u2, seed=seed,
                           tol=tol, max_iter=max_iter)
        stats.append(s)
        rows.append({"width": int(width), "networks": int(count) - s.n_failed, "failed": s.n_failed,
                     "preactivation": relative_frobenius_error(s.preactivation_kernel, theory.preactivation,
                                                               s.preactivation_covariance),
                     "output": relative_frobenius_error(s.output_kernel, theory.output)})
    logs = [(math.log(r["width"]), math.log(r["preactivation"]["debiased"]))
            for r in rows if r["preactivation"]["debiased"] > 0]
    slope = float(np.polyfit(*zip(*logs), 1)[0]) if len(logs) >= 2 else math.nan
    return DEQCrossCheck(theory, tuple(stats), tuple(rows), slope)


def paper_inputs(n_inputs: int = 8, n_in: int = 10, seed: Any = 0) -> np.ndarray:
    """Gaussian inputs rescaled to norm sqrt(n_in) (so K0 has unit diagonal), reproducible.

    >>> X = paper_inputs(4)
    >>> X.shape, np.allclose(np.diag(X @ X.T) / 10, 1)
    ((4, 10), True)
    """
    rng = block_generator(seed, DEQ_STREAM + 1, 0, n_inputs, n_in)
    X = rng.standard_normal((n_inputs, n_in))
    return X / np.linalg.norm(X, axis=1, keepdims=True) * math.sqrt(n_in)


def paper_experiment(width: int = 1000, n_networks: int = 10000, *, n_inputs: int = 8, n_in: int = 10,
                     sigma_w: float = 0.6, sigma_u: float = 1.0, seed: Any = 0, act: Any = "tanh") -> dict:
    """The experiment of Gao et al. (2023): tanh, n_in = 10, sigma_w = 0.6, sigma_u = 1.

    The defaults (10,000 networks of width 1000) take minutes; returns the theory, the
    statistics and the relative errors (Frobenius and the relative mean squared error
    ||D||_F^2 / ||K||_F^2 that the paper reports, about 5.5e-5 there).

    >>> out = paper_experiment(width=16, n_networks=20, n_inputs=3)
    >>> sorted(out)
    ['relative_error', 'relative_mse', 'statistics', 'theory']
    """
    # checked before the kernel's fixed point, which takes seconds
    width, n_networks = check_integer(width, "width"), check_integer(n_networks, "n_networks")
    n_inputs, n_in = check_integer(n_inputs, "n_inputs"), check_integer(n_in, "n_in")
    sigma_w, sigma_u = real_float(sigma_w, "sigma_w"), real_float(sigma_u, "sigma_u")
    X = paper_inputs(n_inputs, n_in, seed)
    theory = deq_kernel(act, X, sigma_w2=sigma_w**2, sigma_u2=sigma_u**2)
    stats = deq_statistics(act, X, width, n_networks, sigma_w2=sigma_w**2, sigma_u2=sigma_u**2, seed=seed)
    error = relative_frobenius_error(stats.preactivation_kernel, theory.preactivation, stats.preactivation_covariance)
    return {"theory": theory, "statistics": stats, "relative_error": error, "relative_mse": error["value"] ** 2}
