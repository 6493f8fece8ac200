"""Time bounds on symbolic work that might hang, in any thread, and the time budget of public calls.

Three tools:

- :func:`run_time_bounded` runs a computation in a forked child that is killed when its time is
  up (for calls that may never return, like ``sympy.integrate``);
- :func:`time_limit` interrupts a block in this process after ``seconds`` with TimeoutError
  (cheap, for steps that are usually fast, like a holonomic conversion);
- :func:`budgeted` gives a public function the **time budget**: a call that runs longer stops
  with :class:`~ncsym.core.errors.TimeBudgetError`, which names the call and its arguments.
  The budget is :data:`DEFAULT_TIME_BUDGET` seconds unless changed for the process
  (:func:`set_time_budget`) or for a block in one thread (``with time_budget(seconds):``);
  ``None`` switches it off. Only the outermost budgeted call is timed.

How a block is interrupted: a watchdog thread raises an exception in the thread running the block
when its deadline passes (``PyThreadState_SetAsyncExc``), so the bound holds in the main thread
and in worker threads alike, and leaves SIGALRM to the user. The exception arrives between two
Python bytecodes: one long C-level step (a single huge integer multiplication) finishes first.
Inside the block it is a BaseException, so library code that catches ``Exception`` cannot
swallow it; at the block's boundary it becomes TimeoutError or TimeBudgetError.

>>> run_time_bounded(sum, ([1, 2, 3],), 5.0)
('ok', 6)
>>> import time
>>> with time_limit(0.2):
...     while True:
...         pass
Traceback (most recent call last):
...
TimeoutError: symbolic step exceeded 0.2 s
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import heapq
import itertools
import multiprocessing
import os
import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterator

from ncsym.core.errors import DomainError, TimeBudgetError

__all__ = ["run_time_bounded", "time_limit", "budgeted", "budget_block", "time_budget", "set_time_budget",
           "get_time_budget", "DEFAULT_TIME_BUDGET"]

#: Seconds a public call may run before it stops with TimeBudgetError (None: no budget).
DEFAULT_TIME_BUDGET: float | None = 60.0

_budget: list[float | None] = [DEFAULT_TIME_BUDGET]  # the process-wide setting
_local = threading.local()  # per thread: "budget" (a time_budget override), "stack", "timed"


# -- forked children -------------------------------------------------------------------------------

def _child(connection, func, args) -> None:
    try:
        connection.send(("ok", func(*args)))
    except BaseException as exc:  # report every failure to the parent, never hang it
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()


def run_time_bounded(func: Callable, args: tuple, seconds: float) -> tuple[str, Any]:
    """``("ok", value)``, ``("timeout", seconds)`` or ``("error", message)``.

    Works from any thread (the child is forked from the calling one). Falls back to an in-process
    call bounded by :func:`time_limit` where fork is unavailable.
    """
    if "fork" not in multiprocessing.get_all_start_methods() or sys.platform == "win32":
        try:  # pragma: no cover - platforms without fork
            with time_limit(seconds):
                return "ok", func(*args)
        except TimeoutError:  # pragma: no cover
            return "timeout", seconds
        except Exception as exc:  # pragma: no cover
            return "error", f"{type(exc).__name__}: {exc}"
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, func, args), daemon=True)
    process.start()
    sender.close()
    try:
        if receiver.poll(seconds):
            try:
                return receiver.recv()
            except EOFError:
                return "error", f"the worker exited with code {process.exitcode}"
        return "timeout", seconds
    except Exception:  # pragma: no cover - a broken pipe or an unpicklable value
        return "error", traceback.format_exc(limit=1)
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(1.0)
        if process.is_alive():  # pragma: no cover
            os.kill(process.pid, 9)


# -- the watchdog --------------------------------------------------------------------------------

class _Expired(BaseException):
    """Raised inside a block whose deadline passed (converted at the block's boundary)."""


class _Entry:
    __slots__ = ("deadline", "ident", "active", "fired")

    def __init__(self, deadline: float, ident: int):
        self.deadline, self.ident, self.active, self.fired = deadline, ident, True, False


def _set_async_exc(ident: int, exc: Any) -> None:
    setter = ctypes.pythonapi.PyThreadState_SetAsyncExc
    setter(ctypes.c_ulong(ident), ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(0))


class _Watchdog:
    """One daemon thread that raises _Expired in threads whose earliest deadline has passed."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.heap: list[tuple[float, int, _Entry]] = []
        self.counter = itertools.count()
        self.thread: threading.Thread | None = None

    def arm(self, entry: _Entry) -> None:
        with self.condition:
            heapq.heappush(self.heap, (entry.deadline, next(self.counter), entry))
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="ncsym-timebound", daemon=True)
                self.thread.start()
            self.condition.notify()

    def _run(self) -> None:
        with self.condition:
            while True:
                while self.heap and not self.heap[0][2].active:
                    heapq.heappop(self.heap)
                if not self.heap:
                    self.condition.wait()
                    continue
                wait = self.heap[0][0] - time.monotonic()
                if wait > 0:
                    self.condition.wait(wait)
                    continue
                _, _, entry = heapq.heappop(self.heap)
                if entry.active and not entry.fired:
                    entry.fired = True
                    _set_async_exc(entry.ident, _Expired)


_watchdog = _Watchdog()
if hasattr(os, "register_at_fork"):  # a forked child has no watchdog thread and a fresh lock
    os.register_at_fork(after_in_child=lambda: globals().__setitem__("_watchdog", _Watchdog()))


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[_Entry]:
    """Raise _Expired in the block after ``seconds``; yields the entry (``fired`` tells if it did)."""
    ident = threading.get_ident()
    stack = _local.__dict__.setdefault("stack", [])
    entry = _Entry(time.monotonic() + seconds, ident)
    stack.append(entry)
    _watchdog.arm(entry)
    try:
        yield entry
    finally:
        with _watchdog.condition:
            entry.active = False
            stack.remove(entry)
            if entry.fired:
                _set_async_exc(ident, None)  # an exception not yet delivered is dropped
            # an outer block that fired while this one handled its own expiry fires again (unless
            # its expiry is what passes through here now)
            passing = isinstance(sys.exc_info()[1], _Expired)
            for outer in stack:
                if outer.fired and not passing:
                    outer.fired = False
                    outer.deadline = time.monotonic()
                    heapq.heappush(_watchdog.heap, (outer.deadline, next(_watchdog.counter), outer))
                    _watchdog.condition.notify()


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TimeoutError in the block after ``seconds`` (None: no limit), in any thread."""
    if seconds is None:
        yield
        return
    with _deadline(float(seconds)) as entry:
        try:
            yield
        except _Expired:
            if entry.fired:
                raise TimeoutError(f"symbolic step exceeded {seconds} s") from None
            raise


# -- the time budget of public calls --------------------------------------------------------------

def _check_seconds(seconds: Any) -> float | None:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0 \
            or seconds != seconds or seconds == float("inf"):
        raise DomainError(f"a time budget must be a positive number of seconds or None, got {seconds!r}")
    return float(seconds)


def get_time_budget() -> float | None:
    """The time budget in force in this thread, in seconds (None: unbounded).

    >>> get_time_budget() == DEFAULT_TIME_BUDGET
    True
    """
    return _local.__dict__.get("budget", _budget[0])


def set_time_budget(seconds: float | None) -> float | None:
    """Set the process-wide time budget of public calls; returns the previous one.

    >>> previous = set_time_budget(30)
    >>> get_time_budget()
    30.0
    >>> set_time_budget(previous)
    30.0
    """
    seconds = _check_seconds(seconds)
    previous, _budget[0] = _budget[0], seconds
    return previous


@contextlib.contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """The time budget of the public calls made in this block, in this thread.

    >>> with time_budget(5):
    ...     get_time_budget()
    5.0
    """
    seconds = _check_seconds(seconds)
    missing = object()
    previous = _local.__dict__.get("budget", missing)
    _local.budget = seconds
    try:
        yield
    finally:
        if previous is missing:
            del _local.budget
        else:
            _local.budget = previous


def _describe_call(name: str, args: tuple, kwargs: dict) -> str:
    parts = [repr(a) if not hasattr(a, "name") else str(getattr(a, "name")) for a in args]
    parts += [f"{k}={v!r}" for k, v in kwargs.items()]
    text = ", ".join(p if len(p) <= 60 else p[:57] + "..." for p in parts)
    return f"{name}({text})"


@contextlib.contextmanager
def budget_block(what: str) -> Iterator[None]:
    """Run the block under the time budget; TimeBudgetError names ``what`` (an outer budget wins).

    >>> with time_budget(0.2), budget_block("spinning"):
    ...     while True:
    ...         pass
    Traceback (most recent call last):
    ...
    ncsym.core.errors.TimeBudgetError: spinning did not finish within the time budget of 0.2 s; ...
    """
    seconds = get_time_budget()
    if seconds is None or _local.__dict__.get("timed"):
        yield  # unbounded, or an outer call already keeps the time
        return
    _local.timed = True
    try:
        with _deadline(seconds) as entry:
            try:
                yield
            except _Expired:
                if not entry.fired:
                    raise
                raise TimeBudgetError(
                    f"{what} did not finish within the time budget of {seconds:g} s; allow more with "
                    "ncsym.set_time_budget(seconds) or 'with ncsym.time_budget(seconds):' (None: no budget), "
                    "or ask for less (fewer terms, fewer digits, method='numeric')") from None
    finally:
        _local.timed = False


def budgeted(function: Callable) -> Callable:
    """Decorator: the call stops with TimeBudgetError once it has run for the time budget.

    >>> @budgeted
    ... def spin(n):
    ...     while True:
    ...         pass
    >>> with time_budget(0.2):
    ...     spin(3)
    Traceback (most recent call last):
    ...
    ncsym.core.errors.TimeBudgetError: spin(3) did not finish within the time budget of 0.2 s; ...
    """
    name = function.__name__

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if get_time_budget() is None or _local.__dict__.get("timed"):
            return function(*args, **kwargs)
        with budget_block(_describe_call(name, args, kwargs)):
            return function(*args, **kwargs)

    return wrapper
