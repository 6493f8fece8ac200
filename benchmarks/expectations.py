"""Gaussian-expectation benchmark, one run: ncsym against naive sympy.integrate and plain mpmath.quad.

For E[relu(z)^2], E[gelu(z)^2], E[erf(z)^2] and E[tanh(z)^2] at 30 digits it times

- ncsym: ``gaussian_moment(act, 2, dps=30)`` with ncsym's result caches cleared before each
  call (closed form where one exists, else quadrature with an error bound); sympy's own
  expression cache stays warm, so the first call's time is printed as well;
- naive sympy: ``sympy.integrate(sigma(z)**2 * exp(-z**2/2)/sqrt(2*pi), (z, -oo, oo))`` in a
  child process killed after the time bound ("no answer within N s" when it is);
- plain mpmath: ``mpmath.quad(lambda z: sigma(z)**2 * npdf(z), [-inf, inf])`` at 30 digits,
  without splitting at breakpoints, and how many of its digits are right;

and prints the ratios (other route's time / ncsym's time). Times are the best of a few runs.

Run: ``python benchmarks/expectations.py [--quick] [--sympy-seconds N]``.
"""

from __future__ import annotations

import argparse
import time

import mpmath
import sympy

from ncsym import zoo
from ncsym.gaussian import moments as gaussian_module
from ncsym.gaussian import exact as _gauss_exact
from ncsym.core.timebound import run_time_bounded
from ncsym.symbolic.activations import x

DPS = 30
CASES = [("relu", zoo.relu), ("gelu", zoo.gelu), ("erf", zoo.erf), ("tanh", zoo.tanh)]


def clear_caches() -> None:
    gaussian_module._expectation_cached.cache_clear()
    gaussian_module._exact_cached.cache_clear()
    _gauss_exact._stein.cache_clear()


def best_time(function, repeats: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - start)
    return best, value


def time_ncsym(act, repeats):
    def run():
        clear_caches()
        return gaussian_module.gaussian_moment(act, 2, dps=DPS)
    return best_time(run, repeats)


def naive_sympy(expr):
    z = sympy.Symbol("z", real=True)
    integrand = expr.subs(x, z) ** 2 * sympy.exp(-z**2 / 2) / sympy.sqrt(2 * sympy.pi)
    result = sympy.integrate(integrand, (z, -sympy.oo, sympy.oo))
    return None if result.has(sympy.Integral) else result


def time_sympy(act, seconds):
    start = time.perf_counter()
    status, value = run_time_bounded(naive_sympy, (act.expr,), seconds)
    elapsed = time.perf_counter() - start
    if status == "timeout":
        return None, f"no answer within {seconds:g} s"
    if status == "error":
        return None, f"failed after {elapsed:.2f} s ({value})"
    if value is None:
        return None, f"returned an unevaluated integral after {elapsed:.2f} s"
    return elapsed, f"{elapsed:.3f} s -> {sympy.sstr(value)[:60]}"


def time_mpmath(act, repeats):
    f = act.mpmath()

    def run():
        with mpmath.workdps(DPS):
            return mpmath.quad(lambda z: f(z) ** 2 * mpmath.npdf(z), [-mpmath.inf, mpmath.inf])
    return best_time(run, repeats)


def correct_digits(value, reference) -> str:
    with mpmath.workdps(DPS + 10):
        error = abs(value - reference.value) + reference.error
        if error == 0:
            return f">= {DPS}"
        return f"{max(0, int(-mpmath.log10(error / max(1, abs(reference.value))))):d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small time bounds and one repeat")
    parser.add_argument("--sympy-seconds", type=float, default=None, help="time bound for sympy.integrate")
    args = parser.parse_args()
    seconds = args.sympy_seconds if args.sympy_seconds is not None else (5.0 if args.quick else 60.0)
    repeats = 1 if args.quick else 3

    print(f"E[sigma(z)^2] at {DPS} digits; sympy.integrate bounded at {seconds:g} s; best of {repeats}")
    header = f"{'sigma':6s} {'ncsym':>10s} {'method':28s} {'mpmath.quad':>12s} {'digits':>6s} {'ratio':>7s}   naive sympy.integrate (ratio)"
    print(header)
    print("-" * len(header))
    for name, act in CASES:
        t_cold, _ = time_ncsym(act, 1)  # first call: includes parsing the activation's pieces
        t_ncsym, result = time_ncsym(act, repeats)
        t_mp, mp_value = time_mpmath(act, repeats)
        t_sym, sym_note = time_sympy(act, seconds)
        if t_sym is not None:
            sym_ratio = f"{t_sym / t_ncsym:.1f}x"
        elif sym_note.startswith("no answer within"):
            sym_ratio = f"> {seconds / t_ncsym:.0f}x"
        else:
            sym_ratio = "no ratio: it gave no answer"
        print(f"{name:6s} {t_ncsym:9.4f}s {result.method[:28]:28s} {t_mp:11.4f}s "
              f"{correct_digits(mp_value, result):>6s} {t_mp / t_ncsym:6.1f}x   {sym_note} ({sym_ratio})")
        shown = result.exact if result.exact is not None else mpmath.nstr(result.value, DPS)
        print(f"{'':6s} ncsym value: {shown}  (error bound {mpmath.nstr(result.error, 3)}); "
              f"first call {t_cold:.4f} s")


if __name__ == "__main__":
    main()
