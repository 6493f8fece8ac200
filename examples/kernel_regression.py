"""Kernel ridge regression with network kernels: the wide-network limits against finite-sample estimates.

A noisy 1-D regression problem is generated here (no downloads). Each input x becomes the
2-D vector (x / 2, 1), so the kernels see an offset. Four kernels on train + test points:

- NNGP: the limit of the prior kernel of a depth-2 ReLU network's logit (ncsym.nnpk_limit);
- NNPK: the same kernel estimated from random networks of width 64 (ncsym.models.prior_kernel, real weights);
- DEQ: the DEQ kernel K* of a ReLU equilibrium layer, sigma_w2 = 0.5 (ncsym.deq_kernel);
- DEQ sampled: the covariance of g = W f + U x over finite DEQs of width 32 (ncsym.deq_statistics).

For each, the posterior mean K_*(K + lambda I)^-1 y with lambda = noise variance x (mean
prior variance / signal variance); the test mean squared error is printed with the
relative Frobenius distance between each estimate and its limit.

    python examples/kernel_regression.py
"""

from __future__ import annotations

import time

import numpy as np

import ncsym
from ncsym.sampler import MLPSpec

NOISE = 0.1
N_TRAIN, N_TEST = 40, 80


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = lambda x: np.sin(2 * x) + 0.3 * x  # noqa: E731 - a one-line target
    x_train = rng.uniform(-3, 3, N_TRAIN)
    x_test = np.linspace(-3, 3, N_TEST)
    return x_train, truth(x_train) + NOISE * rng.standard_normal(N_TRAIN), x_test, truth(x_test)


def features(x: np.ndarray) -> np.ndarray:
    return np.stack([x / 2, np.ones_like(x)], axis=1)


def ridge_test_error(K: np.ndarray, y_train: np.ndarray, y_test: np.ndarray) -> float:
    """Test MSE of the kernel ridge (GP posterior mean) predictor; K is over train + test points."""
    train, test = slice(0, N_TRAIN), slice(N_TRAIN, None)
    scale = np.mean(np.diag(K)[train]) / np.var(y_train)
    alpha = np.linalg.solve(K[train, train] + NOISE**2 * scale * np.eye(N_TRAIN), y_train)
    return float(np.mean((K[test, train] @ alpha - y_test) ** 2))


def relative_distance(estimate: np.ndarray, limit: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - limit) / np.linalg.norm(limit))


def main() -> None:
    x_train, y_train, x_test, y_test = make_data()
    Z = features(np.concatenate([x_train, x_test]))
    rows = []

    start = time.perf_counter()
    spec = MLPSpec(2, 64, activation=ncsym.zoo.relu, depth=2, sigma_w2=2.0, readout=1)
    limit = ncsym.nnpk_limit(spec, Z)
    rows.append(("NNGP limit (relu, depth 2)", ridge_test_error(limit, y_train, y_test), None, time.perf_counter() - start))

    start = time.perf_counter()
    sampled = ncsym.nnpk(spec, Z, 400, method="weights", estimator="conditional", seed=0, limit=False)
    rows.append(("NNPK estimate, width 64, 400 nets", ridge_test_error(sampled.estimate.value, y_train, y_test),
                 relative_distance(sampled.estimate.value, limit), time.perf_counter() - start))

    start = time.perf_counter()
    deq = ncsym.deq_kernel(ncsym.zoo.relu, Z, sigma_w2=0.5, sigma_u2=1.0)
    rows.append(("DEQ kernel (relu, sigma_w2 = 0.5)", ridge_test_error(deq.preactivation, y_train, y_test), None,
                 time.perf_counter() - start))

    start = time.perf_counter()
    deq_sampled = ncsym.deq_statistics(ncsym.zoo.relu, Z, 32, 200, sigma_w2=0.5, sigma_u2=1.0, seed=0)
    estimate = deq_sampled.preactivation_kernel.value
    rows.append(("DEQ estimate, width 32, 200 nets", ridge_test_error(estimate, y_train, y_test),
                 relative_distance(estimate, deq.preactivation), time.perf_counter() - start))

    baseline = float(np.mean((y_test - y_train.mean()) ** 2))
    print(f"noisy 1-D regression: {N_TRAIN} training points, noise sd {NOISE}; predicting the mean: MSE {baseline:.4f}")
    print(f"{'kernel':<38} {'test MSE':>9} {'rel. dist. to limit':>20} {'seconds':>8}")
    for name, mse, distance, seconds in rows:
        shown = "-" if distance is None else f"{distance:.3e}"
        print(f"{name:<38} {mse:>9.5f} {shown:>20} {seconds:>8.2f}")


if __name__ == "__main__":
    main()
