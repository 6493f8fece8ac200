"""A batched, jitter-free factor of positive semi-definite matrices (numpy only)."""

from __future__ import annotations

import numpy as np

from ..errors import DomainError

__all__ = ["psd_factor"]


def psd_factor(gram: np.ndarray, rtol: float | None = None) -> np.ndarray:
    """``F`` with ``F @ F^T = gram`` for a stack of PSD matrices ``[..., P, P]`` (float64).

    Diagonally pivoted Cholesky, one pivot per step chosen per matrix: it stops on a
    matrix once the largest remaining Schur diagonal is below ``rtol * max(diag)``, so
    rank-deficient Grams (identical inputs, zero activations) factor exactly, with no
    jitter and no NaN (a non-finite input matrix gives a NaN factor, never a silent 0); the neglected remainder is at most that tolerance entrywise (a PSD
    Schur complement's entries are bounded by its diagonal). ``F`` is a column-permuted
    triangular factor, which serves for sampling: ``F @ z`` with ``z ~ N(0, I)`` is
    ``N(0, gram)``. Each matrix is processed elementwise, independently of the others in
    the stack, so results do not depend on how the stack is batched.

    >>> F = psd_factor(np.array([[1.0, 1.0], [1.0, 1.0]]))
    >>> np.allclose(F @ F.T, [[1, 1], [1, 1]]), bool(np.isfinite(F).all())
    (True, True)
    """
    g = np.array(gram, dtype=np.float64)
    if g.ndim < 2 or g.shape[-1] != g.shape[-2]:
        raise DomainError(f"gram must be a stack of square matrices, got shape {g.shape}")
    size = g.shape[-1]
    if rtol is None:
        rtol = 16 * size * np.finfo(np.float64).eps
    stack = g.shape[:-2]
    schur = g.reshape(-1, size, size)
    count = schur.shape[0]
    rows = np.arange(count)
    factor = np.zeros_like(schur)
    diag = np.einsum("nii->ni", schur).copy()
    threshold = rtol * np.max(np.abs(diag), axis=1)
    used = np.zeros((count, size), dtype=bool)
    for step in range(size):
        candidates = np.where(used, -np.inf, diag)
        pivot = np.argmax(candidates, axis=1)
        pivot_value = candidates[rows, pivot]
        active = pivot_value > threshold
        with np.errstate(divide="ignore", invalid="ignore"):
            column = schur[rows, :, pivot] / np.sqrt(np.where(active, pivot_value, 1.0))[:, None]
        column[~active] = 0.0
        column[used] = 0.0
        column[rows, pivot] = np.where(active, np.sqrt(np.where(active, pivot_value, 0.0)), 0.0)
        factor[:, :, step] = column
        schur = schur - column[:, :, None] * column[:, None, :]
        used[rows, pivot] = True
        diag = np.einsum("nii->ni", schur).copy()
    # A non-finite Gram must not turn into a zero factor: keep its NaN visible.
    factor[~np.isfinite(g.reshape(-1, size, size)).all(axis=(1, 2))] = np.nan
    return factor.reshape(stack + (size, size))
