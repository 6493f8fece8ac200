"""Kernel ridge regression with the NNGP and NTK of deep relu, erf and tanh networks on digits.

scikit-learn's bundled 8x8 digits (no download). Each input is scaled to norm sqrt(d), so all
inputs share one variance per layer; one recursion per activation gives every depth at once
(``network_kernels(..., layers="all")``). Targets are one-hot minus 1/10; the prediction is
the argmax of K(test, train) (K(train, train) + ridge I)^-1 Y. Prints the test error per depth
and saves test error against depth as a plot.

Run: ``python examples/digits_regression.py [--depth 20] [--train 1000] [--test 500] [--out digits.png]``.
"""

from __future__ import annotations

import argparse

import numpy as np

from ncsym.depth.network import network_kernels

SETTINGS = {"relu": (2.0, 0.0), "erf": (1.5, 0.05), "tanh": (1.5, 0.05)}  # (sigma_w2, sigma_b2)


def load(train: int, test: int, seed: int = 0):
    from sklearn.datasets import load_digits

    data = load_digits()
    X = data.data.astype(float)
    X -= X.mean(axis=0)
    X *= np.sqrt(X.shape[1]) / np.linalg.norm(X, axis=1, keepdims=True)
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order], data.target[order]
    return X[:train], y[:train], X[train:train + test], y[train:train + test]


def ridge_error(K: np.ndarray, n_train: int, y_train: np.ndarray, y_test: np.ndarray, ridge: float) -> float:
    Ktt = K[:n_train, :n_train]
    Y = np.eye(10)[y_train] - 0.1
    scale = np.trace(Ktt) / n_train
    alpha = np.linalg.solve(Ktt + ridge * scale * np.eye(n_train), Y)
    predicted = np.argmax(K[n_train:, :n_train] @ alpha, axis=1)
    return float(np.mean(predicted != y_test))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=20, help="largest depth (weight layers)")
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--ridge", type=float, default=1e-3, help="ridge, relative to the mean diagonal")
    parser.add_argument("--out", default="digits_regression.png")
    args = parser.parse_args()
    X_train, y_train, X_test, y_test = load(args.train, args.test)
    X = np.concatenate([X_train, X_test])
    errors = {}
    for name, (w, b) in SETTINGS.items():
        out = network_kernels(X, name, args.depth, sigma_w2=w, sigma_b2=b)
        errors[f"{name} NNGP"] = [ridge_error(K, len(X_train), y_train, y_test, args.ridge) for K in out.nngp_layers]
        errors[f"{name} NTK"] = [ridge_error(T, len(X_train), y_train, y_test, args.ridge) for T in out.ntk_layers]
    depths = list(range(1, args.depth + 1))
    print("depth " + " ".join(f"{k:>10s}" for k in errors))
    for i, depth in enumerate(depths):
        print(f"{depth:5d} " + " ".join(f"{v[i]:10.3f}" for v in errors.values()))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in errors.items():
        ax.plot(depths, values, marker="o", markersize=3, linestyle="-" if "NNGP" in label else "--", label=label)
    ax.set_xlabel("depth (weight layers)")
    ax.set_ylabel("test error")
    ax.set_title(f"kernel ridge regression on digits ({len(X_train)} train, {len(X_test)} test)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
