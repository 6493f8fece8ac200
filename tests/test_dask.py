"""Dask sweeps return the serial numbers bit for bit, on a local cluster of two worker processes,
whatever the chunking; the serial references are ncsym's own functions."""

from __future__ import annotations

import numpy as np
import pytest

import ncsym
from ncsym.core.errors import DomainError
from ncsym.parallel import (
    sweep_critical_line, sweep_kernel, sweep_map, sweep_network_statistics, sweep_phase_diagram, tile_plan,
)
from ncsym.sampler import MLPSpec, network_statistics

X = np.random.default_rng(11).normal(size=(9, 3))
SPEC = MLPSpec(input_dim=3, widths=24, depth=3, activation=np.tanh, sigma_w2=1.6, sigma_b2=0.1)


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        yield c


def _same_statistics(a, b):
    assert sorted(a) == sorted(b)
    for layer in a:
        for name in ("kernel", "correlation", "mean"):
            x, y = getattr(a[layer], name), getattr(b[layer], name)
            assert np.array_equal(x.value, y.value) and np.array_equal(x.std_error, y.std_error), (layer, name)
        assert a[layer].count == b[layer].count


def test_serial_sweeps_match_the_library():
    """In-process (the fast variant): any tiling or grouping gives the library's numbers."""
    w, b = np.linspace(0.5, 3.0, 7), np.linspace(0.0, 0.4, 5)
    q, chi = ncsym.phase_diagram("erf", w, b)
    for tile in (1, 3, 10):
        q2, chi2 = sweep_phase_diagram("erf", w, b, tile=tile)
        assert np.array_equal(q, q2) and np.array_equal(chi, chi2, equal_nan=True)
    serial = network_statistics(SPEC, X[:4], 500, seed=3, block_size=64)
    for per_task in (1, 3):
        _same_statistics(sweep_network_statistics(SPEC, X[:4], 500, seed=3, block_size=64,
                                                  blocks_per_task=per_task), serial)
    full = ncsym.nngp_kernel(X, "relu", 3, sigma_w2=2.0, sigma_b2=0.1)
    assert np.array_equal(sweep_kernel(X, "relu", 3, sigma_w2=2.0, sigma_b2=0.1, tile=9), full)
    for tile in (1, 2, 4):
        assert np.array_equal(sweep_kernel(X, "relu", 3, sigma_w2=2.0, sigma_b2=0.1, tile=tile), full)
    # a Mehler-series kernel: equal to rounding across tilings (its coefficients are tabulated per tile)
    series = ncsym.nngp_kernel(X, "tanh", 2, sigma_w2=1.5)
    assert np.allclose(sweep_kernel(X, "tanh", 2, sigma_w2=1.5, tile=4), series, rtol=1e-13, atol=0)


@pytest.mark.slow
def test_two_worker_processes_give_the_serial_numbers(client):
    assert len(client.scheduler_info()["workers"]) == 2
    w, b = np.linspace(0.5, 3.0, 6), np.linspace(0.0, 0.4, 4)
    q, chi = ncsym.phase_diagram("relu(x) - 1/sqrt(2*pi)", w, b)
    q2, chi2 = sweep_phase_diagram("relu(x) - 1/sqrt(2*pi)", w, b, tile=2, client=client)
    assert np.array_equal(q, q2) and np.array_equal(chi, chi2, equal_nan=True)

    serial = network_statistics(SPEC, X[:4], 700, seed=5, block_size=64, start=10)
    parallel = sweep_network_statistics(SPEC, X[:4], 700, seed=5, block_size=64, start=10, blocks_per_task=2,
                                        client=client)
    _same_statistics(parallel, serial)

    for kind, reference in (("nngp", ncsym.nngp_kernel), ("ntk", ncsym.ntk_kernel)):
        full = reference(X, "erf", 3, sigma_w2=1.5, sigma_b2=0.2)
        tiled = sweep_kernel(X, "erf", 3, sigma_w2=1.5, sigma_b2=0.2, kind=kind, tile=4, client=client)
        assert np.array_equal(tiled, full), kind
        whole = sweep_kernel(X, "erf", 3, sigma_w2=1.5, sigma_b2=0.2, kind=kind, tile=len(X), client=client)
        assert np.array_equal(whole, full), kind

    line = ncsym.critical_line("erf", [0, 0.05, 0.2])
    swept = sweep_critical_line("erf", [0, 0.05, 0.2], chunk=1, client=client)
    assert np.array_equal(swept.sigma_w2, line.sigma_w2) and np.array_equal(swept.q_star, line.q_star)
    assert [p.sigma_w2 for p in swept.points] == [p.sigma_w2 for p in line.points]

    means = sweep_map(ncsym.gaussian_mean, ["relu", "gelu", ("relu", 4)], client=client)
    assert [m.exact for m in means] == [ncsym.gaussian_mean("relu").exact, ncsym.gaussian_mean("gelu").exact,
                                        ncsym.gaussian_mean("relu", 4).exact]


def test_statistics_agree_with_theory():
    """The folded statistics are statistics of the right networks: depth-1 kernel is exactly linear."""
    spec = MLPSpec(input_dim=3, widths=64, depth=1, activation=np.tanh, sigma_w2=1.5)
    stats = sweep_network_statistics(spec, X[:3], 2000, seed=0, block_size=128)[1]
    theory = 1.5 * X[:3] @ X[:3].T / 3
    assert np.all(np.abs(stats.kernel.value - theory) <= 5 * stats.kernel.std_error + 1e-12)


@pytest.mark.slow
def test_local_cluster_on_request_and_larger_runs():
    pytest.importorskip("dask.distributed")
    spec = MLPSpec(input_dim=3, widths=128, depth=4, activation=np.tanh, sigma_w2=1.6)
    serial = network_statistics(spec, X[:6], 20_000, seed=9)
    _same_statistics(sweep_network_statistics(spec, X[:6], 20_000, seed=9, blocks_per_task=1, workers=2), serial)
    w, b = np.linspace(0.2, 4.0, 40), np.linspace(0.0, 1.0, 30)
    q, chi = ncsym.phase_diagram("gelu", w, b)
    q2, chi2 = sweep_phase_diagram("gelu", w, b, tile=7, workers=2)
    assert np.array_equal(q, q2) and np.array_equal(chi, chi2, equal_nan=True)


def test_bad_input():
    with pytest.raises(DomainError):
        tile_plan(5, 0)
    with pytest.raises(DomainError):
        sweep_kernel(X, "relu", 2, kind="gp")
    with pytest.raises(DomainError):
        sweep_phase_diagram("relu", [1.0], [0.0], workers=0)
