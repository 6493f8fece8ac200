"""Dask sweeps benchmark: the serial ncsym call against the same sweep on a local cluster.

For three sweeps (Monte Carlo statistics of many networks, an NNGP matrix by tiles, a phase
diagram by tiles) it times, in one run, the serial function a user would call
(``network_statistics``, ``nngp_kernel``, ``phase_diagram``) and ``ncsym.parallel``'s sweep on a
local cluster of ``--workers`` single-threaded processes, checks the numbers are identical,
and prints the ratio. Then, for larger clusters, how the work splits: the tasks, the largest
share one worker gets, and the speed-up bound that share and the caller's serial part (the
in-order fold, measured) allow.

Run: ``python benchmarks/dask_sweeps.py [--workers 2] [--scale 1.0]``. Times are wall-clock
seconds of one call each after a warm-up (worker start-up is excluded); another load on the
machine only slows calls down.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

import ncsym
from ncsym.parallel import sweep_kernel, sweep_network_statistics, sweep_phase_diagram
from ncsym.sampler import MLPSpec, network_statistics


def timed(function) -> tuple[float, object]:
    tick = time.perf_counter()
    out = function()
    return time.perf_counter() - tick, out


def same(a, b) -> bool:
    if isinstance(a, dict):
        return all(np.array_equal(a[k].kernel.value, b[k].kernel.value) for k in a)
    if isinstance(a, tuple):
        return all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))
    return bool(np.array_equal(a, b))


def split_table(tasks: int, serial: float, fold: float) -> str:
    """Speed-up bounds for N workers: the busiest worker's share of the tasks, plus the serial fold."""
    lines = ["    workers  tasks/worker (max)  speed-up bound"]
    for n in (1, 2, 4, 8, 16, 64):
        share = math.ceil(tasks / n)
        parallel_part = (serial - fold) * share / tasks
        lines.append(f"    {n:7d}  {share:18d}  {serial / (parallel_part + fold):14.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the problem sizes")
    args = parser.parse_args()
    from dask.distributed import Client, LocalCluster

    print(f"cores: {os.cpu_count()}, workers: {args.workers}, scale: {args.scale}")
    networks = int(40_000 * args.scale)
    spec = MLPSpec(input_dim=4, widths=256, depth=6, activation=np.tanh, sigma_w2=1.6, sigma_b2=0.05)
    X = np.random.default_rng(0).normal(size=(8, 4))
    K_inputs = np.random.default_rng(1).normal(size=(int(600 * math.sqrt(args.scale)), 5))
    w, b = np.linspace(0.2, 4.0, int(120 * math.sqrt(args.scale))), np.linspace(0.0, 1.0, int(120 * math.sqrt(args.scale)))
    block = 1024
    cases = [
        ("Monte Carlo statistics", f"{networks} tanh networks, width 256, depth 6, 8 inputs",
         lambda: network_statistics(spec, X, networks, seed=1, block_size=block),
         lambda c: sweep_network_statistics(spec, X, networks, seed=1, block_size=block, blocks_per_task=1, client=c),
         -(-networks // block)),
        ("NNGP matrix", f"{len(K_inputs)} inputs, gelu, depth 8",
         lambda: ncsym.nngp_kernel(K_inputs, "gelu", 8, sigma_w2=1.5, sigma_b2=0.1),
         lambda c: sweep_kernel(K_inputs, "gelu", 8, sigma_w2=1.5, sigma_b2=0.1, tile=100, client=c),
         None),
        ("phase diagram", f"{len(w)} x {len(b)} grid, erf",
         lambda: ncsym.phase_diagram("erf", w, b),
         lambda c: sweep_phase_diagram("erf", w, b, tile=30, client=c),
         None),
    ]
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        for name, what, serial, parallel, tasks in cases:
            parallel(client)  # warm-up: workers import ncsym and derive the closed forms once
            t_serial, a = timed(serial)
            t_parallel, b_ = timed(lambda: parallel(client))
            print(f"\n{name} ({what}):")
            print(f"  serial {t_serial:8.2f} s   dask x{args.workers} {t_parallel:8.2f} s   "
                  f"ratio {t_serial / t_parallel:5.2f}   identical: {same(a, b_)}")
            if name == "Monte Carlo statistics":
                one = network_statistics(spec, X, block, seed=1, block_size=block)
                other = network_statistics(spec, X, block, seed=2, block_size=block)
                t_merge, _ = timed(lambda: [one[layer].merge(other[layer]) for _ in range(20) for layer in one])
                fold = t_merge / 20 * tasks
                print(f"  how it splits ({tasks} tasks of {block} networks; the in-order fold on the caller, "
                      f"{fold * 1e3:.1f} ms, is the serial part):")
                print(split_table(tasks, t_serial, fold))
    print("\n(an NNGP tile computes its two row blocks stacked, four times its share of the matrix; over the "
          "upper triangle that is about twice the serial work, so that sweep gains from three workers on)")


if __name__ == "__main__":
    main()
