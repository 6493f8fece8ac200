"""Dual kernels side by side with the baselines an analyst would otherwise use.

Run: python benchmarks/kernels.py [--sympy-seconds 60]

1. The first 100 exact ReLU Hermite coefficients (ncsym.hermite_series.coefficients) against a naive
   sympy.integrate loop, time-bounded (the loop stops when its budget is spent).
2. The tanh kernel at rho = 0.5 to 30 digits (Mehler series with a rigorous tail) against
   nested mpmath quadrature at 30 digits.
3. float64 accuracy and time against tensor Gauss-Hermite quadrature of degree 25 and 100
   (the method neural-tangents uses for activations without a closed form), on tanh and relu.
4. Vectorized evaluation throughput (points per second) for closed forms and the Mehler path.
"""

from __future__ import annotations

import argparse
import time

import mpmath
import numpy as np
import sympy

from ncsym import zoo
from ncsym.hermite_series.coefficients import hermite_coefficients
from ncsym.kernels.dual import dual_kernel

TANH_AT_HALF = "0.18632441320344808610678"


def naive_relu_coefficients(budget: float) -> tuple[int, float]:
    """a_n = int relu(z) He_n(z) phi(z) dz / sqrt(n!) by sympy.integrate, until the budget ends."""
    z = sympy.Symbol("z", real=True)
    phi = sympy.exp(-z**2 / 2) / sympy.sqrt(2 * sympy.pi)
    start, done = time.perf_counter(), 0
    for n in range(100):
        if time.perf_counter() - start > budget:
            break
        sympy.integrate(z * sympy.hermite_prob(n, z) * phi, (z, 0, sympy.oo)) / sympy.sqrt(sympy.factorial(n))
        done = n + 1
    return done, time.perf_counter() - start


def gauss_hermite_kernel(f, rho: np.ndarray, degree: int) -> np.ndarray:
    """Tensor Gauss-Hermite quadrature of E[f(u) f(v)], as neural-tangents does it."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(degree)
    weights = weights / np.sqrt(2 * np.pi)
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    w = np.outer(weights, weights)
    out = np.empty_like(rho)
    fu = f(z1)
    for i, r in enumerate(rho):
        v = r * z1 + np.sqrt(1 - r * r) * z2
        out[i] = np.sum(w * fu * f(v))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sympy-seconds", type=float, default=60.0, help="time budget of the naive sympy loop")
    args = parser.parse_args()

    print("1. first 100 exact ReLU Hermite coefficients")
    t = time.perf_counter()
    exact = hermite_coefficients(zoo.relu, 99, method="exact")
    ours = time.perf_counter() - t
    done, naive = naive_relu_coefficients(args.sympy_seconds)
    print(f"   ncsym.hermite_series.coefficients: 100 coefficients in {ours:.3f} s ({ours / 100 * 1e3:.2f} ms each)")
    print(f"   sympy.integrate loop: {done} coefficients in {naive:.1f} s "
          f"({naive / max(done, 1) * 1e3:.0f} ms each){'' if done == 100 else ' (budget spent)'}")
    if done:
        print(f"   per-coefficient ratio: {naive / max(done, 1) / (ours / 100):.0f}x; a_98 exact = {exact[98].exact}")

    print("\n2. tanh kernel at rho = 0.5, 30 digits")
    k = dual_kernel(zoo.tanh)
    t = time.perf_counter()
    result = k.evaluate(sympy.Rational(1, 2), dps=30)
    ours = time.perf_counter() - t
    with mpmath.workdps(34):  # 30 digits plus guard; mpmath's nested tanh-sinh takes minutes here
        t = time.perf_counter()
        r = mpmath.mpf(1) / 2
        s = mpmath.sqrt(1 - r * r)
        inner = lambda u: mpmath.quad(lambda w: mpmath.npdf(w) * mpmath.tanh(r * u + s * w), [-mpmath.inf, 0, mpmath.inf])  # noqa: E731
        reference = mpmath.quad(lambda u: mpmath.npdf(u) * mpmath.tanh(u) * inner(u), [-mpmath.inf, 0, mpmath.inf])
        quad_time = time.perf_counter() - t
        literature = mpmath.mpf(TANH_AT_HALF)
        print(f"   ncsym (Mehler, rigorous tail): {mpmath.nstr(result.value, 30)} +- {mpmath.nstr(result.error, 2)} "
              f"in {ours:.2f} s ({result.method})")
        print(f"   mpmath 2-D quadrature:         {mpmath.nstr(reference, 30)} in {quad_time:.1f} s")
        print(f"   |difference| = {mpmath.nstr(abs(result.value - reference), 3)}; against the 23-digit "
              f"reference value: {mpmath.nstr(abs(result.value - literature), 3)}; time ratio {quad_time / ours:.1f}x")

    print("\n3. float64 accuracy and time against tensor Gauss-Hermite (neural-tangents' method)")
    rho = np.linspace(-0.99, 0.99, 200)
    for act in (zoo.tanh, zoo.relu):
        kernel = dual_kernel(act)
        kernel(rho)  # build once
        t = time.perf_counter()
        ours_values = kernel(rho)
        ours = time.perf_counter() - t
        with mpmath.workdps(30):
            truth = np.array([float(kernel.evaluate(sympy.Rational(repr(float(v))), dps=20).value) for v in rho[::20]])
        ours_error = np.max(np.abs(ours_values[::20] - truth))
        print(f"   {act.name}: ncsym max error {ours_error:.1e}, {ours * 1e3:.2f} ms for 200 points")
        f = act.numpy()
        for degree in (25, 100):
            t = time.perf_counter()
            gh = gauss_hermite_kernel(f, rho, degree)
            gh_time = time.perf_counter() - t
            gh_error = np.max(np.abs(gh[::20] - truth))
            print(f"      Gauss-Hermite degree {degree:3d}: max error {gh_error:.1e}, {gh_time * 1e3:.1f} ms "
                  f"({gh_time / ours:.0f}x slower, {gh_error / max(ours_error, 1e-17):.1e}x larger error)")

    print("\n4. vectorized throughput (uniform rho in [-1, 1], 10^7 points, best of 3)")
    points = np.random.default_rng(0).uniform(-1, 1, 10**7)
    for act in (zoo.relu, zoo.abs, zoo.step, zoo.erf, zoo.gelu, zoo.sin, zoo.tanh, zoo.sigmoid, zoo.elu()):
        kernel = dual_kernel(act)
        kernel(points[:100])
        best = min(_timed(kernel, points) for _ in range(3))
        route = "closed form" if kernel.closed_form is not None else "numeric"
        print(f"   {act.name:10s} {route:12s} {points.size / best:.2e} points/s")


def _timed(kernel, points) -> float:
    t = time.perf_counter()
    kernel(points)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
