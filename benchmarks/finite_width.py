"""Finite-width benchmark, one run: ncsym.finite_width against a plain mpmath.quad recursion.

The four-point vertex V^(l) to depth 100 (one input, sigma_b^2 = 0):

- tanh at sigma_w^2 = 1 (criticality) at 30 digits: ncsym's recursion (the expectation
  engine's quadrature, split at breakpoints, with error estimates carried layer to layer)
  against the recursion written by hand with ``mpmath.quad`` for <sigma^2>, <sigma^4> and
  d<sigma^2>/dK = <sigma^2 (z^2 - 1)>/(2K) at every layer, at 30 digits;
- ReLU at sigma_w^2 = 2: ncsym's exact recursion (V^(l) = 5 (l - 1) K^2, rationals) against
  the same hand-written mpmath.quad recursion at 30 digits (split at 0), and how many digits
  that one gets right.

Prints both times, their ratio (hand-written time / ncsym's time), and the agreement.
Run: ``python benchmarks/finite_width.py [--depth N]``.
"""

from __future__ import annotations

import argparse
import time

import mpmath

from ncsym import finite_width
from ncsym.gaussian import moments as gaussian_module

DPS = 30


def by_hand(f, depth: int, w, split: bool) -> list:
    """V^(1..depth) with K^(1) = w (q0 = 1): the recursion with mpmath.quad at every layer."""
    with mpmath.workdps(DPS + 10):
        points = [-mpmath.inf, 0, mpmath.inf] if split else [-mpmath.inf, mpmath.inf]
        gauss = lambda g: mpmath.quad(lambda z: g(z) * mpmath.npdf(z), points)  # noqa: E731
        K, V, out = mpmath.mpf(w), mpmath.mpf(0), []
        for _ in range(depth):
            out.append(V)
            s = mpmath.sqrt(K)
            m2 = gauss(lambda z: f(s * z) ** 2)
            m4 = gauss(lambda z: f(s * z) ** 4)
            slope = gauss(lambda z: f(s * z) ** 2 * (z * z - 1)) / (2 * K)
            K, V = w * m2, w * w * (m4 - m2 * m2) + (w * slope) ** 2 * V
        return out


def timed(function):
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=100)
    depth = parser.parse_args().depth
    print(f"vertex V^(l) for l = 1..{depth}, one input, {DPS} digits")
    print(f"{'case':<22} {'ncsym s':>9} {'mpmath.quad s':>14} {'ratio':>7}  agreement at l = {depth}")
    cases = [("tanh, sigma_w^2 = 1", "tanh", 1, mpmath.tanh, False),
             ("relu, sigma_w^2 = 2", "relu", 2, lambda v: max(v, 0), True)]
    for label, name, w, f, split in cases:
        gaussian_module._expectation_cached.cache_clear()
        t_ncsym, fw = timed(lambda: finite_width(name, depth, sigma_w2=w, dps=DPS))
        t_hand, hand = timed(lambda: by_hand(f, depth, w, split))
        ours = fw.vertex(depth)
        with mpmath.workdps(DPS + 10):
            diff = abs(ours.value - hand[-1])
            if ours.is_exact:
                digits = "exact" if diff == 0 else f"{float(-mpmath.log10(diff / abs(ours.value))):.0f} digits by hand"
                note = f"ncsym exact {ours.exact}; {digits}"
            else:
                note = f"|difference| {mpmath.nstr(diff, 3)}, ncsym's estimated error {mpmath.nstr(ours.error, 3)}"
        print(f"{label:<22} {t_ncsym:>9.2f} {t_hand:>14.2f} {t_hand / t_ncsym:>7.2f}  {note}")


if __name__ == "__main__":
    main()
