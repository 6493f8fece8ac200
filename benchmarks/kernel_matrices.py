"""Kernel-matrix benchmark, one run: ncsym's NNGP/NTK recursion against what a user would write.

1. relu and erf, depth 10, NNGP + NTK: ncsym.network_kernels (layers="last") against a
   hand-written numpy recursion of the same closed forms; time ratio and max difference.
2. tanh, depth 10, NNGP with a bias: ncsym against a tensor Gauss-Hermite rule of degree 25 and
   100 (the rule neural-tangents uses for activations without a closed form); the error of one
   layer's Gauss-Hermite kernel against ncsym's high-precision values (dps = 20) on a few entries.
3. ncsym's own mp path (network_kernels with dps) on a few inputs, for scale.
4. ``import ncsym`` against ``import sympy`` in fresh subprocesses (best of several).

Run: ``python benchmarks/kernel_matrices.py [--quick]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

from ncsym.depth.network import network_kernels
from ncsym.kernels.dual import dual_kernel


def best(function, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        function()
        times.append(time.perf_counter() - tick)
    return min(times)


def hand_relu(X, w, b, depth):
    K = w * X @ X.T / X.shape[1] + b
    T = K.copy()
    for _ in range(depth - 1):
        d = np.sqrt(np.diag(K))
        s = np.outer(d, d)
        c = np.clip(K / s, -1, 1)
        th = np.arccos(c)
        V = s * (np.sin(th) + (np.pi - th) * c) / (2 * np.pi)
        K, T = w * V + b, w * V + b + w * (np.pi - th) / (2 * np.pi) * T
    return K, T


def hand_erf(X, w, b, depth):
    K = w * X @ X.T / X.shape[1] + b
    T = K.copy()
    for _ in range(depth - 1):
        d = 1 + 2 * np.diag(K)
        s = np.sqrt(np.outer(d, d))
        V = 2 / np.pi * np.arcsin(2 * K / s)
        Vd = 4 / np.pi / np.sqrt(s * s - 4 * K * K)
        K, T = w * V + b, w * V + b + w * Vd * T
    return K, T


def gauss_hermite_layer(K, degree, chunk=20000):
    """E[tanh(u_i) tanh(u_j)] by the tensor Gauss-Hermite rule of the given degree."""
    x, wts = np.polynomial.hermite_e.hermegauss(degree)
    wts = wts / wts.sum()
    d = np.diag(K)
    iu = np.triu_indices(len(d))
    qi, qj, c = d[iu[0]], d[iu[1]], K[iu]
    rho = np.clip(c / np.sqrt(qi * qj), -1, 1)
    out = np.empty_like(c)
    for s in range(0, c.size, chunk):
        p = slice(s, s + chunk)
        u = np.sqrt(qi[p])[:, None, None] * x[None, :, None]
        v = np.sqrt(qj[p])[:, None, None] * (rho[p][:, None, None] * x[None, :, None]
                                             + np.sqrt(1 - rho[p] ** 2)[:, None, None] * x[None, None, :])
        out[p] = np.einsum("pab,a,b->p", np.tanh(u) * np.tanh(v), wts, wts)
    V = np.empty_like(K)
    V[iu] = out
    V[(iu[1], iu[0])] = out
    return V


def gauss_hermite_nngp(X, w, b, depth, degree):
    K = w * X @ X.T / X.shape[1] + b
    for _ in range(depth - 1):
        K = w * gauss_hermite_layer(K, degree) + b
    return K


def closed_forms(sizes, depth):
    print(f"1. closed forms, depth {depth}, NNGP + NTK (ncsym / hand-written numpy)")
    for name, hand, w in (("relu", hand_relu, 2.0), ("erf", hand_erf, 1.5)):
        for N in sizes:
            X = np.random.default_rng(0).standard_normal((N, 20))
            ours = network_kernels(X, name, depth, sigma_w2=w, sigma_b2=0.05, layers="last")
            K, T = hand(X, w, 0.05, depth)
            t_ours = best(lambda: network_kernels(X, name, depth, sigma_w2=w, sigma_b2=0.05, layers="last"))
            t_hand = best(lambda: hand(X, w, 0.05, depth))
            diff = max(np.abs(ours.nngp - K).max() / np.abs(K).max(), np.abs(ours.ntk - T).max() / np.abs(T).max())
            print(f"   {name:5s} N={N:5d}: ncsym {t_ours:7.3f} s, numpy {t_hand:7.3f} s, ratio {t_ours / t_hand:5.2f}, "
                  f"max rel. difference {diff:.1e}")


def tanh_section(N, depth):
    w, b = 1.5, 0.05
    print(f"2. tanh, depth {depth}, sigma_w2 = {w}, sigma_b2 = {b}, NNGP, N = {N}")
    X = np.random.default_rng(0).standard_normal((N, 20))
    tick = time.perf_counter()
    ours = network_kernels(X, "tanh", depth, sigma_w2=w, sigma_b2=b, layers="last", ntk=False).nngp
    t_ours = time.perf_counter() - tick
    print(f"   ncsym: {t_ours:.2f} s ({N * N * (depth - 1) / t_ours:.3g} entries x layers / s)")
    for degree in (25, 100):
        tick = time.perf_counter()
        gh = gauss_hermite_nngp(X, w, b, depth, degree)
        t_gh = time.perf_counter() - tick
        print(f"   Gauss-Hermite degree {degree:3d}: {t_gh:.2f} s (ratio ncsym / GH {t_ours / t_gh:.2f}), "
              f"max |difference| to ncsym {np.abs(gh - ours).max():.1e}")
    # one layer on a few entries against the high-precision kernel
    K1 = w * X[:4] @ X[:4].T / X.shape[1] + b
    d = np.diag(K1)
    for degree in (25, 100):
        V = gauss_hermite_layer(K1, degree)
        errors = []
        for i, j in ((0, 1), (0, 2), (1, 3), (2, 2)):
            rho = min(1.0, K1[i, j] / np.sqrt(d[i] * d[j]))
            exact = float(dual_kernel("tanh", q1=float(d[i]), q2=float(d[j])).evaluate(rho, dps=20).value)
            errors.append(abs(V[i, j] - exact))
        print(f"   Gauss-Hermite degree {degree:3d}: one-layer error against ncsym's dps=20 values {max(errors):.1e}")
    from ncsym.kernels.vectorized import pair_kernels

    errors = []
    for i, j in ((0, 1), (0, 2), (1, 3), (2, 2)):
        rho = min(1.0, K1[i, j] / np.sqrt(d[i] * d[j]))
        exact = float(dual_kernel("tanh", q1=float(d[i]), q2=float(d[j])).evaluate(rho, dps=20).value)
        errors.append(abs(float(pair_kernels("tanh", d[i], d[j], rho).value) - exact))
    print(f"   ncsym float64: one-layer error against the same values {max(errors):.1e}")


def mp_section():
    X = np.array([[1.0, 0.5], [-0.2, 1.1], [0.7, -0.9]])
    tick = time.perf_counter()
    exact = network_kernels(X, "tanh", 3, sigma_w2=1.5, sigma_b2=0.05, dps=20)
    t_mp = time.perf_counter() - tick
    tick = time.perf_counter()
    ours = network_kernels(X, "tanh", 3, sigma_w2=1.5, sigma_b2=0.05)
    t_f = time.perf_counter() - tick
    diff = np.abs(ours.nngp - np.array(exact.nngp.tolist(), dtype=float)).max()
    print(f"3. mp path, tanh, 3 inputs, depth 3: {t_mp:.2f} s at dps=20 against {t_f:.3f} s in float64; "
          f"max |difference| {diff:.1e}")


def import_section(repeats: int = 5):
    def fresh(statement):
        code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
        return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                        check=True).stdout) for _ in range(repeats))
    ours, sympy_time = fresh("import ncsym"), fresh("import sympy")
    print(f"4. import ncsym {ours:.3f} s, import sympy {sympy_time:.3f} s, ratio {ours / sympy_time:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N (a smoke run)")
    args = parser.parse_args()
    sizes = [200] if args.quick else [500, 2000, 5000]
    closed_forms(sizes, 10)
    tanh_section(100 if args.quick else 500, 10)
    mp_section()
    import_section(3 if args.quick else 5)


if __name__ == "__main__":
    main()
