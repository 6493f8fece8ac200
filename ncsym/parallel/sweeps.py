"""Sweeps split into independent tasks, run in-process or on a Dask cluster, same numbers either way.

Every sweep cuts its work into tasks whose results do not depend on how the work is cut:

- :func:`sweep_phase_diagram`: tiles of the (sigma_w2, sigma_b2) grid, each point solved on
  its own (the search in :func:`ncsym.phase_diagram` is elementwise);
- :func:`sweep_network_statistics`: the sampler's seeded blocks of networks (one
  ``SeedSequence`` stream per block), each summarized on a worker and folded on the caller
  in block order, which is exactly what :func:`ncsym.sampler.network_statistics` does;
- :func:`sweep_kernel`: tiles of the NNGP/NTK matrix, each the cross block of
  :func:`ncsym.nngp_kernel` (or ``ntk_kernel``) on the two row blocks stacked (an entry
  depends only on its two inputs); a tile costs four times its share, the price of reusing
  the serial code. Bit for bit :func:`ncsym.nngp_kernel` for activations with a closed-form
  kernel, for any workers and tiles; for kernels by Mehler series (tanh, ...) bit for bit for
  any workers at a given ``tile``, and within about 1e-14 relative across tile sizes (the
  series' coefficients are tabulated per tile), the one exception to "whatever the chunking";
- :func:`sweep_critical_line`: :func:`ncsym.critical_line`, its bias variances split into tasks;
- :func:`sweep_map`: any function over a list of arguments (cross-checks over seeds, ...).

``client`` is a ``dask.distributed.Client``; ``workers=N`` without a client starts a local
cluster of N single-threaded worker processes for the call; neither runs in this process.

>>> from ncsym import zoo
>>> q, chi = sweep_phase_diagram(zoo.relu, [1.0, 2.5], [0.5], tile=1)
>>> q.tolist(), chi.tolist()
([[1.0], [inf]], [[0.5], [nan]])
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ncsym.core.errors import DomainError, NonFiniteWarning
from ncsym.depth import network_kernels, nngp_kernel, ntk_kernel, phase_diagram
from ncsym.sampler import MLPSpec, PreactivationStatistics, as_inputs, default_block_size, network_statistics
from ncsym.sampler.networks import root_seed

__all__ = ["sweep_map", "sweep_phase_diagram", "sweep_critical_line", "sweep_network_statistics", "sweep_kernel",
           "tile_plan"]


# -- running tasks ---------------------------------------------------------------------------

@contextlib.contextmanager
def _executor(client: Any, workers: int | None) -> Iterator[Any]:
    """The client to submit to: the given one, a local cluster of ``workers`` processes, or None."""
    if client is not None:
        yield client
        return
    if workers is None:
        yield None
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise DomainError(f"workers must be a positive integer, got {workers!r}")
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError('a local Dask cluster needs the dask extra: pip install "ncsym[dask]"') from None
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as local:
        yield local


def _ordered_results(function: Callable, tasks: Sequence[tuple], client: Any, workers: int | None,
                     progress: bool | None, label: str) -> Iterator[Any]:
    """Results of ``function(*task)`` for each task, yielded in task order (computed anywhere)."""
    bar = _bar(len(tasks), progress, label)
    try:
        with _executor(client, workers) as executor:
            if executor is None:
                for task in tasks:
                    yield function(*task)
                    bar.update(1) if bar else None
                return
            futures = [executor.submit(function, *task, pure=False) for task in tasks]
            for index, future in enumerate(futures):
                yield future.result()
                futures[index] = None  # let the cluster release it
                future.release()
                bar.update(1) if bar else None
    finally:
        if bar:
            bar.close()


def _bar(total: int, progress: bool | None, label: str) -> Any:
    """A tqdm bar (the ``progress`` extra) when asked for, or by default on a terminal."""
    if progress is False or (progress is None and not sys.stderr.isatty()) or total < 2:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit=" tasks", desc=label, leave=False)


def sweep_map(function: Callable, arguments: Sequence[Any], *, client: Any = None, workers: int | None = None,
              progress: bool | None = None) -> list:
    """``[function(a) for a in arguments]``, each call a task (``a`` a tuple is unpacked).

    For sweeps with no structure to exploit: critical lines over a list of activations,
    cross-checks over seeds. ``function`` must be importable on the workers (a module-level
    function of ncsym or of an installed package).

    >>> import ncsym
    >>> [c.exact for c in sweep_map(ncsym.gaussian_mean, ["relu", "abs"])]
    [sqrt(2)/(2*sqrt(pi)), sqrt(2)/sqrt(pi)]
    """
    tasks = [a if isinstance(a, tuple) else (a,) for a in arguments]
    return list(_ordered_results(function, tasks, client, workers, progress, getattr(function, "__name__", "")))


# -- activations travel as recipes ----------------------------------------------------------

_REBUILT: dict[tuple, Any] = {}


def _portable(act: Any) -> tuple:
    """What a worker needs to rebuild an activation: an Activation that has been used carries
    cached callables that do not pickle, and a fresh copy per task would redo their work."""
    from ncsym.symbolic.activations import activation

    act = activation(act)
    return (act.expr, act.name, getattr(act, "_latex", None))


def _rebuilt(recipe: tuple) -> Any:
    """The activation of a recipe, one object per process (so its caches serve every task)."""
    from ncsym.symbolic.activations import Activation

    if recipe not in _REBUILT:
        expr, name, latex = recipe
        _REBUILT[recipe] = Activation(expr, name=name, latex=latex)
    return _REBUILT[recipe]


# -- phase diagrams --------------------------------------------------------------------------

def tile_plan(n: int, tile: int) -> list[slice]:
    """Consecutive slices of ``range(n)`` of length ``tile`` (the last may be shorter).

    >>> tile_plan(5, 2)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or tile < 1:
        raise DomainError(f"tile must be a positive integer, got {tile!r}")
    return [slice(lo, min(lo + int(tile), n)) for lo in range(0, n, int(tile))]


def _phase_tile(recipe: tuple, w: np.ndarray, b: np.ndarray, q0: float) -> tuple[np.ndarray, np.ndarray]:
    return phase_diagram(_rebuilt(recipe), w, b, q0=q0)


def sweep_phase_diagram(act: Any, sigma_w2_grid: Sequence[float], sigma_b2_grid: Sequence[float], *,
                        q0: float = 1.0, tile: int = 32, client: Any = None, workers: int | None = None,
                        progress: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ncsym.phase_diagram` (q* and chi_1 on the grid) computed tile by tile.

    ``tile`` points per side of a task; the numbers are those of the serial call, bit for bit.
    """
    recipe = _portable(act)
    w = np.asarray(sigma_w2_grid, dtype=float)
    b = np.asarray(sigma_b2_grid, dtype=float)
    if w.ndim != 1 or b.ndim != 1:
        raise DomainError("sweep_phase_diagram needs 1-D grids")
    tiles = [(i, j) for i in tile_plan(w.size, tile) for j in tile_plan(b.size, tile)]
    q = np.empty((w.size, b.size))
    chi = np.empty((w.size, b.size))
    results = _ordered_results(_phase_tile, [(recipe, w[i], b[j], q0) for i, j in tiles], client, workers, progress,
                               "phase diagram")
    for (i, j), (q_tile, chi_tile) in zip(tiles, results):
        q[i, j], chi[i, j] = q_tile, chi_tile
    return q, chi


# -- critical lines --------------------------------------------------------------------------

def _critical_chunk(recipe: tuple, values: Sequence[Any], dps: int | None) -> tuple:
    from ncsym.depth.critical import critical_line

    return critical_line(_rebuilt(recipe), values, dps=dps).points


def sweep_critical_line(act: Any, sigma_b2_values: Sequence[Any], *, dps: int | None = None, chunk: int = 4,
                        client: Any = None, workers: int | None = None, progress: bool | None = None) -> Any:
    """:func:`ncsym.critical_line` with its bias variances split into tasks of ``chunk`` values.

    Each critical point is solved on its own, so the line is the serial one point for point.

    >>> line = sweep_critical_line("erf", [0, 0.05], chunk=1)
    >>> line.sigma_w2.round(6).tolist()
    [0.785398, 1.375839]
    """
    from ncsym.depth.critical import CriticalLine

    recipe = _portable(act)
    values = list(sigma_b2_values)
    if not values:
        raise DomainError("sweep_critical_line needs at least one sigma_b2 value")
    tasks = [(recipe, values[s], dps) for s in tile_plan(len(values), chunk)]
    points = [p for part in _ordered_results(_critical_chunk, tasks, client, workers, progress, "critical line")
              for p in part]
    return CriticalLine(recipe[1], tuple(points))


# -- Monte Carlo over many networks ----------------------------------------------------------

def _statistics_blocks(spec: MLPSpec, X: np.ndarray, segments: Sequence[tuple[int, int]], options: dict
                       ) -> list[dict[int, PreactivationStatistics]]:
    """Statistics of each segment (one seeded block, or the part of it in range) on its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the caller warns once, with the totals
        return [network_statistics(spec, X, hi - lo, start=lo, chunk_size=options["block_size"], progress=False,
                                   **options) for lo, hi in segments]


def sweep_network_statistics(spec: MLPSpec, inputs: Any, n_networks: int, *, seed: Any = None,
                             method: str = "gram", layers: Any = None, start: int = 0, max_order: int = 4,
                             block_size: int | None = None, blocks_per_task: int = 8, nonfinite: str = "raise",
                             client: Any = None, workers: int | None = None, progress: bool | None = None,
                             ) -> dict[int, PreactivationStatistics]:
    """:func:`ncsym.sampler.network_statistics` with its seeded blocks spread over workers.

    Each task summarizes ``blocks_per_task`` consecutive blocks, one summary per block; the
    summaries are folded here in block order, as the serial run folds them, so the result is
    the serial one bit for bit, for any number of workers and any ``blocks_per_task``. A
    ``seed`` of None draws fresh entropy once, here, for every worker.

    >>> import numpy as np
    >>> spec = MLPSpec(2, 16, activation=np.tanh, depth=2)
    >>> a = sweep_network_statistics(spec, np.eye(2), 300, seed=4, block_size=64, blocks_per_task=2)
    >>> b = network_statistics(spec, np.eye(2), 300, seed=4, block_size=64)
    >>> bool((a[2].kernel.value == b[2].kernel.value).all())
    True
    """
    X = as_inputs(spec, inputs)
    root = root_seed(seed)
    size = default_block_size(spec, method, X.shape[0]) if block_size is None else int(block_size)
    if size < 1 or n_networks < 1 or start < 0 or blocks_per_task < 1:
        raise DomainError("need block_size, n_networks and blocks_per_task >= 1 and start >= 0")
    stop = start + int(n_networks)
    segments = [(max(start, k * size), min(stop, (k + 1) * size)) for k in range(start // size, -(-stop // size))]
    groups = [segments[i:i + blocks_per_task] for i in range(0, len(segments), blocks_per_task)]
    options = dict(method=method, layers=layers, seed=root, max_order=max_order, block_size=size, nonfinite=nonfinite)
    total: dict[int, PreactivationStatistics] | None = None
    for summaries in _ordered_results(_statistics_blocks, [(spec, X, g, options) for g in groups], client, workers,
                                      progress, "networks"):
        for summary in summaries:
            if total is None:
                total = {layer: PreactivationStatistics(X.shape[0], max_order) for layer in summary}
            for layer, stats in summary.items():
                total[layer].merge(stats)
    assert total is not None
    _warn_like_the_sampler(total, method)
    return total


def _warn_like_the_sampler(total: dict[int, PreactivationStatistics], method: str) -> None:
    undefined = sum(stats.n_undefined_correlation for stats in total.values())
    if undefined:
        warnings.warn(f"{undefined} (network, layer) pairs have a zero preactivation norm on some input, so no "
                      "correlation; they are left out of `correlation` only", RuntimeWarning, stacklevel=3)
    excluded = {layer: stats.n_excluded for layer, stats in total.items() if stats.n_excluded}
    if excluded:
        warnings.warn(f"{method}-space statistics: networks with inf or NaN preactivations were excluded "
                      f"(per layer: {excluded})", NonFiniteWarning, stacklevel=3)


# -- kernel matrices -------------------------------------------------------------------------

def _kernel_tile(X: np.ndarray, rows: slice, cols: slice, recipe: tuple, depth: int, sigma_w2: Any, sigma_b2: Any,
                 kind: str) -> np.ndarray:
    act = _rebuilt(recipe)
    serial = nngp_kernel if kind == "nngp" else ntk_kernel
    if rows == cols:
        block = serial(X[rows], act, depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
        return block, None
    matrix = serial(np.vstack([X[rows], X[cols]]), act, depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    n = rows.stop - rows.start
    # both cross blocks: the serial matrix need not be symmetric to the last bit
    return matrix[:n, n:], matrix[n:, :n]


def sweep_kernel(X: Any, act: Any, depth: int, *, sigma_w2: Any = 1, sigma_b2: Any = 0, kind: str = "nngp",
                 tile: int = 256, client: Any = None, workers: int | None = None,
                 progress: bool | None = None) -> np.ndarray:
    """The NNGP (``kind="nngp"``) or NTK (``"ntk"``) matrix of :func:`ncsym.network_kernels`, tile by tile.

    Tiles ``X[I] x X[J]`` with I <= J are tasks (each gives both cross blocks). The
    result does not depend on the workers; ``tile >= len(X)`` is the serial call itself.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(5, 3))
    >>> bool(np.allclose(sweep_kernel(X, "relu", 3, tile=2), network_kernels(X, "relu", 3).nngp, rtol=1e-14))
    True
    """
    if kind not in ("nngp", "ntk"):
        raise DomainError(f"kind must be 'nngp' or 'ntk', got {kind!r}")
    data = np.asarray(X, dtype=float)
    if data.ndim != 2 or data.shape[0] == 0:
        raise DomainError(f"X must be a non-empty 2-D array (inputs as rows), got shape {data.shape}")
    recipe = _portable(act)
    plan = tile_plan(data.shape[0], tile)
    pairs = [(a, b) for i, a in enumerate(plan) for b in plan[i:]]
    tasks = [(data, a, b, recipe, depth, sigma_w2, sigma_b2, kind) for a, b in pairs]
    out = np.empty((data.shape[0], data.shape[0]))
    for (a, b), (upper, lower) in zip(pairs, _ordered_results(_kernel_tile, tasks, client, workers, progress, kind)):
        out[a, b] = upper
        if lower is not None:
            out[b, a] = lower
    return out
