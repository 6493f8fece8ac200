"""Global state and time: mpmath's precision is the caller's (restored, also on error, and per
thread), time bounds hold in worker threads, and the time budget stops a long public call."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import mpmath
import pytest
import sympy

import ncsym
from ncsym.core.errors import NcsymError, TimeBudgetError
from ncsym.core.timebound import budgeted, run_time_bounded, time_budget, time_limit

x = ncsym.x


# -- precision is restored ------------------------------------------------------------------------

CALLS = {
    "gaussian_mean": lambda: ncsym.gaussian_mean("tanh", dps=40),
    "hermite_coefficients": lambda: ncsym.hermite_coefficients("tanh", 3, dps=30),
    "dual_kernel": lambda: ncsym.dual_kernel("erf", dps=30)(sympy.Rational(1, 3)),
    "correlation_map": lambda: ncsym.correlation_map("tanh", sigma_w2=2, dps=25).fixed_points(),
    "variance_map": lambda: ncsym.variance_map("erf", sympy.Rational(4, 5), 0, dps=30).q_star,
    "error: bad dps": lambda: ncsym.gaussian_mean("tanh", dps=0),
    "error: bad q": lambda: ncsym.gaussian_mean("relu", q=-1, dps=40),
    "error: parse": lambda: ncsym.hermite_coefficients("relu(", 3, dps=40),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_precision_is_restored_after_success_and_error(name: str) -> None:
    with mpmath.workdps(23):
        try:
            CALLS[name]()
        except NcsymError:
            pass
        assert mpmath.mp.dps == 23 and mpmath.mp.prec == mpmath.libmp.dps_to_prec(23)
        assert mpmath.iv.dps == 15 or mpmath.iv.prec == 53


# -- precision per thread ---------------------------------------------------------------------------

def _digits(task: tuple[int, int]) -> str:
    """A numeric Gaussian expectation (tanh, by quadrature) at ``dps`` digits, as a string."""
    dps, k = task
    mean = ncsym.expectation("tanh", "sigmoid", shift=sympy.Rational(1, k), method="numeric", dps=dps)
    return mpmath.nstr(mean.value, dps)


def _clear_caches() -> None:
    from ncsym.gaussian import moments

    for cached in vars(moments).values():
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def test_threads_at_different_precisions_do_not_leak_into_each_other() -> None:
    tasks = [(dps, k) for k in (3, 4, 5) for dps in (15, 50)]
    serial = {task: _digits(task) for task in tasks}
    assert all(len(serial[(50, k)]) > 45 for k in (3, 4, 5))
    _clear_caches()  # the threads compute afresh, at the same time
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = dict(zip(tasks, pool.map(_digits, tasks, timeout=120)))
    assert threaded == serial, {t: (serial[t], threaded[t]) for t in tasks if serial[t] != threaded[t]}
    assert mpmath.mp.dps == 15


def test_a_worker_thread_precision_is_its_own() -> None:
    seen: dict[str, int] = {}
    started, release = threading.Event(), threading.Event()

    def worker() -> None:
        mpmath.mp.dps = 60
        started.set()
        release.wait(10)
        seen["worker"] = mpmath.mp.dps
        seen["digits"] = len(mpmath.nstr(mpmath.mpf(1) / 3, 60))

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(10)
    assert mpmath.mp.dps == 15  # the main thread never saw the worker's 60 digits
    with mpmath.workdps(20):
        release.set()
        thread.join(10)
        assert mpmath.mp.dps == 20
    assert seen == {"worker": 60, "digits": 62}
    assert mpmath.mp.dps == 15


# -- time bounds hold in worker threads ------------------------------------------------------------

def _hang() -> None:
    """Symbolic work that does not finish in any reasonable time."""
    t = sympy.Symbol("t")
    while True:
        sympy.expand((t + 1) ** 30)
        sympy.simplify(sympy.sin(t) ** 2 + sympy.cos(t) ** 2 - 1 + sympy.exp(t))


def _run_in_thread(function) -> tuple[object, float]:
    box: dict[str, object] = {}

    def target() -> None:
        start = time.perf_counter()
        try:
            function()
            box["outcome"] = "finished"
        except BaseException as exc:  # judged below
            box["outcome"] = exc
        box["seconds"] = time.perf_counter() - start

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the bound did not hold: the thread still runs"
    return box["outcome"], box["seconds"]


def test_time_limit_stops_a_hung_computation_in_a_worker_thread() -> None:
    def bounded() -> None:
        with time_limit(0.5):
            _hang()

    outcome, seconds = _run_in_thread(bounded)
    assert isinstance(outcome, TimeoutError) and not isinstance(outcome, TimeBudgetError)
    assert seconds < 5


def test_time_limit_is_not_swallowed_by_except_exception() -> None:
    def swallowing() -> None:
        with time_limit(0.5):
            for _ in range(10**9):
                try:
                    _hang()
                except Exception:  # library code that catches everything must not eat the bound
                    pass

    outcome, seconds = _run_in_thread(swallowing)
    assert isinstance(outcome, TimeoutError) and seconds < 5


def test_nested_limits_the_outer_one_still_holds() -> None:
    def nested() -> None:
        with time_limit(0.6):
            try:
                with time_limit(0.3):
                    _hang()
            except TimeoutError:
                pass
            _hang()  # the outer bound must still stop this

    outcome, seconds = _run_in_thread(nested)
    assert isinstance(outcome, TimeoutError) and seconds < 5


def test_run_time_bounded_from_a_worker_thread() -> None:
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", run_time_bounded(_hang, (), 0.5)))
    thread.start()
    thread.join(30)
    assert box["r"] == ("timeout", 0.5)


def test_the_time_budget_stops_a_public_call_with_a_message_saying_what_was_tried() -> None:
    ncsym.hermite_coefficients.__wrapped__  # the public function is budgeted
    with time_budget(0.5):
        start = time.perf_counter()
        with pytest.raises(TimeBudgetError, match=r"hermite_coefficients\(relu, 4000\).*0.5 s"):
            ncsym.hermite_coefficients(ncsym.relu, 4000)
        assert time.perf_counter() - start < 5
    assert ncsym.get_time_budget() == 60.0


def test_the_time_budget_in_a_worker_thread_and_settable_globally() -> None:
    previous = ncsym.set_time_budget(0.4)
    try:
        outcome, seconds = _run_in_thread(lambda: ncsym.hermite_coefficients(ncsym.relu, 4000))
    finally:
        ncsym.set_time_budget(previous)
    assert isinstance(outcome, TimeBudgetError) and seconds < 5
    with pytest.raises(ncsym.DomainError):
        ncsym.set_time_budget(-1)


def test_only_the_outermost_budgeted_call_keeps_time() -> None:
    @budgeted
    def inner() -> str:
        time.sleep(0.3)
        return "inner"

    @budgeted
    def outer() -> str:
        return inner() + inner()

    with time_budget(0.5):
        with pytest.raises(TimeBudgetError, match=r"^outer\(\)"):
            outer()
    with time_budget(None):
        assert outer() == "innerinner"


# -- refusals at once, and messages without sympy internals ----------------------------------------

@pytest.mark.parametrize("call, pattern", [
    (lambda: ncsym.hermite_coefficients("relu", 10**7), "MAX_HERMITE_ORDER"),
    (lambda: ncsym.gaussian_moment("relu", 10**6), "MAX_MOMENT_ORDER"),
    (lambda: ncsym.gaussian_mean("relu", dps=10**6), "MAX_DPS"),
    (lambda: ncsym.correlation_map("relu").iterate(0.5, 10**9), "MAX_DEPTH"),
    (lambda: ncsym.activation(sympy.floor(x)), "floor is not supported"),
    (lambda: ncsym.activation(sympy.gamma(x)), "gamma is not supported"),
    (lambda: ncsym.activation(sympy.nan), "finite everywhere"),
    (lambda: ncsym.activation(sympy.zoo * x), "finite everywhere"),
    (lambda: ncsym.activation(sympy.oo), "finite everywhere"),
    (lambda: ncsym.Activation([1, 2]), "expected a number"),
])
def test_refused_at_once_with_a_readable_message(call, pattern: str) -> None:
    start = time.perf_counter()
    with pytest.raises(NcsymError, match=pattern) as info:
        call()
    assert time.perf_counter() - start < 3
    message = str(info.value)
    for internal in ("zoo", "nan", "Piecewise((", "ExprCondPair", "Traceback"):
        assert internal not in message, message


# -- python -m proofs with only the core dependencies ------------------------------------------------

_BLOCK_OPTIONAL = """
import builtins, sys
_real = builtins.__import__
def _blocked(name, *args, **kwargs):
    if name.split(".")[0] in ("scipy", "flint", "matplotlib", "tqdm", "dask", "sklearn", "jax", "torch"):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return _real(name, *args, **kwargs)
builtins.__import__ = _blocked
"""

_CLAIMS = """
import proofs
def needs_scipy(ctx):
    from scipy.special import ndtr  # an optional package, missing here
    ctx.require("numeric", "Phi(0) = 1/2", ndtr(0.0) == 0.5)
def broken(ctx):
    import ncsym_no_such_module  # not optional: a genuine failure
def fine(ctx):
    ctx.exact("1 - 1 = 0", 0)
for name, run in (("needs_scipy", needs_scipy), ("broken", broken), ("fine", fine)):
    proofs.register(proofs.Proof(name, name, "a statement", "", run))
"""


def _run_proofs(script: str, args: list[str]) -> "subprocess.CompletedProcess[str]":
    import subprocess
    import sys
    from pathlib import Path

    code = _BLOCK_OPTIONAL + script + f"\nimport proofs\nsys.exit(proofs.main({args!r}))\n"
    root = Path(__file__).resolve().parents[1]
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=600,
                          env={**__import__("os").environ, "PYTHONPATH": str(root)})


def test_proofs_runner_skips_a_claim_whose_optional_package_is_missing() -> None:
    done = _run_proofs(_CLAIMS, ["needs_scipy", "fine"])
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert "needs_scipy           SKIP" in done.stdout or "SKIP" in done.stdout.splitlines()[2], done.stdout
    assert "needs the optional package scipy (pip install 'ncsym[fast]')" in done.stdout
    assert "1 of 2 claims pass; 1 SKIP" in done.stdout
    assert done.returncode == 0


def test_proofs_runner_fails_a_claim_with_a_missing_required_module_without_a_traceback() -> None:
    done = _run_proofs(_CLAIMS, ["broken", "fine"])
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert "ModuleNotFoundError: No module named 'ncsym_no_such_module'" in done.stdout
    assert done.returncode == 1


@pytest.mark.slow
def test_python_m_proofs_runs_with_only_the_core_dependencies() -> None:
    done = _run_proofs("", ["--quick"])
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_cli_command_stops_at_its_time_budget(capsys: pytest.CaptureFixture) -> None:
    from ncsym.outputs.cli import main

    start = time.perf_counter()
    code = main(["derive", "relu", "--terms", "4500", "--time-budget", "0.5"])
    err = capsys.readouterr().err
    assert code == 1 and time.perf_counter() - start < 10
    assert len(err.strip().splitlines()) == 1 and "--time-budget" in err and "0.5 s" in err, err
