"""A batched, jitter-free factor of positive semi-definite matrices (numpy only)."""

from __future__ import annotations

import numpy as np

from ncsym.core.errors import DomainError

__all__ = ["psd_factor"]


_PIVOTED_MAX = 16  # vectorized pivoting up to this size; LAPACK above


def psd_factor(gram: np.ndarray, rtol: float | None = None) -> np.ndarray:
    """``F`` with ``F @ F^T = gram`` for a stack of PSD matrices ``[..., P, P]`` (float64).

    For ``P <= 16``: diagonally pivoted Cholesky vectorized over the stack, one pivot per
    step chosen per matrix; it stops on a matrix once the largest remaining Schur diagonal
    is below ``rtol * max(diag)``, so rank-deficient Grams (identical inputs, zero
    activations) factor exactly, with no jitter; the neglected remainder is at most that
    tolerance entrywise (a PSD Schur complement's entries are bounded by its diagonal).
    ``F`` is then a column-permuted triangular factor. For larger ``P``: LAPACK Cholesky,
    and the pivoted factor for each matrix where it fails (semi-definite). Either way ``F @ z`` with ``z ~ N(0, I)`` is ``N(0, gram)``, and
    each matrix's factor does not depend on the rest of the stack (so sampling does not
    depend on batching). A non-finite matrix gives a NaN factor, never a silent 0; a matrix
    with a clearly negative direction (beyond rounding) raises :class:`DomainError`.

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
    stack = g.reshape(-1, size, size)
    finite = np.isfinite(stack).all(axis=(1, 2))
    if not finite.all():
        stack = np.where(finite[:, None, None], stack, np.eye(size))
    scale = np.max(np.abs(np.einsum("nii->ni", stack)), axis=1)
    if size <= _PIVOTED_MAX:
        factor, remainder = _pivoted(stack, rtol * scale)
    else:
        factor, remainder = _lapack(stack, rtol * scale)
    negative = remainder < -np.sqrt(rtol) * scale
    if negative.any():
        raise DomainError(f"{int(negative.sum())} of {stack.shape[0]} matrices are not positive semi-definite")
    # A non-finite Gram must not turn into a zero factor: keep its NaN visible.
    factor[~finite] = np.nan
    return factor.reshape(g.shape)


def _pivoted(schur: np.ndarray, threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    count, size = schur.shape[:2]
    rows = np.arange(count)
    factor = np.zeros_like(schur)
    diag = np.einsum("nii->ni", schur).copy()
    used = np.zeros((count, size), dtype=bool)
    for step in range(size):
        candidates = np.where(used, -np.inf, diag)
        pivot = np.argmax(candidates, axis=1)
        pivot_value = candidates[rows, pivot]
        active = pivot_value > threshold
        root = np.sqrt(np.where(active, pivot_value, 1.0))
        column = np.where(active[:, None], schur[rows, :, pivot] / root[:, None], 0.0)
        column[used] = 0.0
        column[rows, pivot] = np.where(active, root, 0.0)
        factor[:, :, step] = column
        schur = schur - column[:, :, None] * column[:, None, :]
        used[rows, pivot] = True
        diag = np.einsum("nii->ni", schur).copy()
    # the most negative remaining diagonal entry, for the definiteness check
    return factor, diag.min(axis=1)


def _lapack(stack: np.ndarray, threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    remainder = np.zeros(stack.shape[0])
    try:
        return np.linalg.cholesky(stack), remainder
    except np.linalg.LinAlgError:
        pass
    factor = np.empty_like(stack)
    for i, matrix in enumerate(stack):
        try:
            factor[i] = np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            single, rest = _pivoted(matrix[None], threshold[i:i + 1])
            factor[i], remainder[i] = single[0], rest[0]
    return factor, remainder
