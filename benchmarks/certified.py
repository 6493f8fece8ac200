"""Certified high-precision numbers against the mpmath a user would write, in one run.

Run: python benchmarks/certified.py [--skip-2d]

The unit of cost is one 1-D ``mpmath.quad`` of E[tanh(z)^2] at 30 digits (timed here, warm).
Every ncsym number below is a proved enclosure (``result.certified``), timed twice: the first
call in a fresh Python process (subprocess: imports, caches and any symbolic attempt
included), and a warm call in that process.

1. The tanh dual kernel at rho = 0.5 to 30 and 100 digits, against the nested 2-D mpmath.quad
   a user would write (30 digits; an estimate, not a bound).
2. The first 100 Hermite coefficients of sigmoid and selu at 30 digits (selu also through its
   exact holonomic route, which "auto" prefers).
3. Moments, coefficients and kernels of activations outside the zoo (softsign, mish) at 30 digits.
4. hard_tanh's kernel (exact inner smoothing, one ball integral) inside (-1, 1) and at rho = -1.
5. tanh's variance fixed point q* and chaotic-phase correlation fixed point rho* (Krawczyk), against
   mpmath.findroot on mpmath.quad for q*.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import mpmath

TANH_AT_HALF = "0.18632441320344808610678"

#: name -> Python statement that computes a certified number (``r``) in a fresh process.
CASES = {
    "tanh kernel rho=0.5, 30 digits": "r = ncsym.dual_kernel('tanh').evaluate(0.5, dps=30)",
    "tanh kernel rho=0.5, 100 digits": "r = ncsym.dual_kernel('tanh').evaluate(0.5, dps=100)",
    "E[tanh^2], 30 digits": "r = ncsym.gaussian_moment('tanh', 2, dps=30)",
    "sigmoid a_0..a_99, 30 digits": "r = ncsym.hermite_coefficients('sigmoid', 99, dps=30)[99]",
    "selu a_0..a_99, 30 digits (numeric)": "r = ncsym.hermite_coefficients('selu', 99, method='numeric', dps=30)[99]",
    "softsign E[f^2], 30 digits": "r = ncsym.gaussian_moment('x/(1+abs(x))', 2, dps=30)",
    "softsign a_0..a_99, 30 digits": "r = ncsym.hermite_coefficients('x/(1+abs(x))', 99, dps=30)[99]",
    "softsign kernel rho=0.5, 30 digits": "r = ncsym.dual_kernel('x/(1+abs(x))').evaluate(0.5, dps=30)",
    "mish E[f^2], 30 digits": "r = ncsym.gaussian_moment('x*tanh(log(1+exp(x)))', 2, dps=30)",
    "mish a_0..a_99, 30 digits": "r = ncsym.hermite_coefficients('x*tanh(log(1+exp(x)))', 99, dps=30)[99]",
    "mish kernel rho=0.5, 30 digits": "r = ncsym.dual_kernel('x*tanh(log(1+exp(x)))').evaluate(0.5, dps=30)",
    "hard_tanh kernel rho=0.5, 30 digits": "r = ncsym.dual_kernel('hard_tanh').evaluate(0.5, dps=30)",
    "hard_tanh kernel rho=-1, 30 digits": "r = ncsym.dual_kernel('hard_tanh').evaluate(-1, dps=30)",
    "tanh q* (w=3/2, b=1/10), 30 digits": "r = ncsym.certified_variance_fixed_point('tanh', 1.5, 0.1, dps=30).q_star",
    "tanh rho* (w=4, b=1/10), 30 digits": "r = ncsym.certified_correlation_fixed_point('tanh', 4, 0.1, dps=30)",
}

#: The exact route "auto" takes for selu (timed apart: it is exact, not faster).
EXACT_CASES = {
    "selu a_0..a_99 exact (auto)": "r = ncsym.hermite_coefficients('selu', 99, dps=30)[99]",
}

_CHILD = """
import json, time
t00 = time.perf_counter()
import sympy, numpy, mpmath, flint  # the libraries every ncsym user loads (sympy alone is ~1 s)
t0 = time.perf_counter()
import ncsym
t1 = time.perf_counter()
{statement}
t2 = time.perf_counter()
import ncsym.hermite_series.coefficients as c, ncsym.gaussian.moments as m
c._CACHE.clear(); c._second_moment.cache_clear(); m._expectation_cached.cache_clear()
{statement}
t3 = time.perf_counter()
print(json.dumps({{"libraries": t0 - t00, "import": t1 - t0, "first": t2 - t1, "warm": t3 - t2, "certified": bool(r.certified),
                   "method": r.method, "value": str(r.value)[:24]}}))
"""


#: Fresh processes read compiled bytecode, as after ``pip install`` (a tree run with
#: PYTHONDONTWRITEBYTECODE=1 would otherwise recompile every module: about 0.3 s per process).
_PYCACHE = os.path.join(tempfile.gettempdir(), "ncsym-benchmark-pycache")
_ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPYCACHEPREFIX": _PYCACHE}


def fresh(statement: str) -> dict:
    """Time ``statement`` in a new interpreter: first call, then a warm call with caches cleared."""
    out = subprocess.run([sys.executable, "-c", _CHILD.format(statement=statement)], capture_output=True,
                         text=True, timeout=600, env=_ENV)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def unit() -> float:
    """Seconds for mpmath.quad of E[tanh(z)^2] at 30 digits (best of 3, warm)."""
    best = float("inf")
    with mpmath.workdps(30):
        f = lambda z: mpmath.tanh(z) ** 2 * mpmath.exp(-z * z / 2)  # noqa: E731
        mpmath.quad(f, [-mpmath.inf, mpmath.inf])
        for _ in range(3):
            start = time.perf_counter()
            mpmath.quad(f, [-mpmath.inf, mpmath.inf]) / mpmath.sqrt(2 * mpmath.pi)
            best = min(best, time.perf_counter() - start)
    return best


def mpmath_2d_kernel(dps: int) -> tuple[float, str]:
    """The nested 2-D mpmath.quad of E[tanh(u) tanh(v)] at rho = 0.5 a user would write."""
    with mpmath.workdps(dps):
        r = mpmath.mpf(1) / 2
        s = mpmath.sqrt(1 - r * r)
        norm = 1 / (2 * mpmath.pi)
        start = time.perf_counter()
        value = mpmath.quad(lambda a: mpmath.tanh(a) * mpmath.exp(-a * a / 2) * mpmath.quad(
            lambda b: mpmath.tanh(r * a + s * b) * mpmath.exp(-b * b / 2), [-mpmath.inf, mpmath.inf]),
            [-mpmath.inf, mpmath.inf]) * norm
        return time.perf_counter() - start, mpmath.nstr(value, 22)


def mpmath_fixed_point(dps: int) -> tuple[float, str]:
    """tanh's q* = 3/2 E[tanh(sqrt(q) z)^2] + 1/10 by mpmath.findroot on mpmath.quad (an estimate)."""
    with mpmath.workdps(dps):
        start = time.perf_counter()
        V = lambda q: mpmath.mpf(3) / 2 * mpmath.quad(  # noqa: E731
            lambda z: mpmath.tanh(mpmath.sqrt(q) * z) ** 2 * mpmath.exp(-z * z / 2),
            [-mpmath.inf, mpmath.inf]) / mpmath.sqrt(2 * mpmath.pi) + mpmath.mpf(1) / 10
        value = mpmath.findroot(lambda q: V(q) - q, mpmath.mpf(1) / 2)
        return time.perf_counter() - start, mpmath.nstr(value, 22)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-2d", action="store_true", help="skip the slow nested mpmath quadrature")
    args = parser.parse_args()
    fresh("r = ncsym.dual_kernel('tanh').evaluate(0.5, dps=20)")  # compiles the bytecode once
    u = unit()
    print(f"unit: mpmath.quad of E[tanh(z)^2] at 30 digits = {u * 1e3:.1f} ms")
    if not args.skip_2d:
        seconds, value = mpmath_2d_kernel(30)
        print(f"nested 2-D mpmath.quad, tanh kernel at rho = 0.5, 30 digits: {seconds:.2f} s "
              f"= {seconds / u:.0f} units (value {value}, reference {TANH_AT_HALF})")
    seconds, value = mpmath_fixed_point(30)
    print(f"mpmath.findroot on mpmath.quad, tanh q* (w=3/2, b=1/10), 30 digits: {seconds:.2f} s "
          f"= {seconds / u:.0f} units (value {value})")
    print("first: the first call in a fresh process after sympy, numpy, mpmath and flint are imported (their")
    print("import, 'libs', is paid by any sympy user and printed apart); it includes ncsym's own imports")
    print(f"{'case':44s} {'libs (s)':>9s} {'first (s)':>10s} {'units':>8s} {'warm (s)':>9s} {'units':>8s} certified")
    for name, statement in {**CASES, **EXACT_CASES}.items():
        row = fresh(statement)
        if "error" in row:
            print(f"{name:44s} failed: {row['error']}")
            continue
        print(f"{name:44s} {row['libraries']:9.2f} {row['first']:10.3f} {row['first'] / u:8.1f} {row['warm']:9.3f} "
              f"{row['warm'] / u:8.1f} "
              f"{row['certified']}")


if __name__ == "__main__":
    main()
